//! The seam between a namespace and the adapter that orders its events: the traits an adapter
//! implements (`adapter/`), and [`LocalClients`], through which it delivers back. The core talks
//! to an adapter only through these. See `adapter/mod.rs` for the contract.

use crate::core::history::{Gap, Page, Paged};
use crate::core::id::EventId;
use crate::core::namespace::{Delivery, NsCore};
use crate::core::operator::{EmitError, Emitted};
use crate::core::room::{Room, Selector};
use bytes::Bytes;
use futures_util::future::{BoxFuture, Either};
use std::collections::HashSet;
use std::future::Ready;
use std::sync::{Arc, Weak};

/// Makes the order of each namespace; one per server.
pub(crate) trait Adapter: Send + Sync + 'static {
    /// The order of the namespace at `path`, delivering to `local`.
    fn bind(&self, path: &str, local: LocalClients) -> Box<dyn NamespaceAdapter>;
}

/// The order and history of one namespace.
pub(crate) trait NamespaceAdapter: Send + Sync {
    /// Orders one emit and delivers it (see the module docs); resolves to its id and how many of
    /// this instance's clients took it.
    fn publish(&self, selector: Selector, body: Bytes)
        -> AdapterFuture<Result<Emitted, EmitError>>;

    /// One page of what a client in `rooms` missed after `after`, oldest first, up to the fence
    /// and the limits in `page`. `Err` when that cannot be exact: the id is of another epoch or
    /// newer than any event ([`Gap::Unknown`]), or history no longer reaches back to it
    /// ([`Gap::Expired`]); with `lenient`, an expired start gives what the window still holds.
    fn replay(
        &self,
        after: Since,
        rooms: Arc<HashSet<Room>>,
        lenient: bool,
        page: Page,
    ) -> AdapterFuture<Result<Paged, Gap>>;

    /// Events in the history window now.
    fn history_len(&self) -> usize;
}

/// What an adapter call returns: ready at once for the in-memory order (no allocation), a boxed
/// future for an adapter that waits on the network.
pub(crate) type AdapterFuture<T> = Either<Ready<T>, BoxFuture<'static, T>>;

/// Where a replay starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Since {
    /// After an id a client sent (`Last-Event-ID`), which may be of another epoch.
    Id(EventId),
    /// After an offset of the current epoch: where a client connected.
    Offset(u64),
}

/// This instance's clients of one namespace, as its adapter delivers to them.
#[derive(Clone)]
pub(crate) struct LocalClients(Weak<NsCore>);

impl LocalClients {
    pub(crate) fn new(core: Weak<NsCore>) -> Self {
        LocalClients(core)
    }

    /// Delivers the event at `offset` (its frame carries the `id:` line) to the clients the
    /// selector picks. Call in offset order, one at a time; drop the returned [`Delivery`] (which
    /// wakes the clients) once no lock is held.
    pub(crate) fn deliver(&self, offset: u64, selector: &Selector, frame: &Bytes) -> Delivery {
        match self.0.upgrade() {
            Some(core) => core.deliver(offset, selector, frame),
            // The namespace is gone: nobody to deliver to.
            None => Delivery::none(),
        }
    }
}
