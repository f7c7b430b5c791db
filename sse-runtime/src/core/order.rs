//! The seam between a namespace and the adapter that orders its events: the traits an adapter
//! implements (`adapter/`), and [`LocalClients`], through which it delivers back. The core talks
//! to an adapter only through these. See `adapter/mod.rs` for the contract.

use crate::core::cluster::{Answers, Reply, Request};
use crate::core::config::{Config, ConfigError};
use crate::core::history::{Gap, Page, Paged};
use crate::core::id::EventId;
use crate::core::namespace::{Delivery, NsCore};
use crate::core::operator::{EmitError, Emitted};
use crate::core::room::{Room, Selector};
use crate::wire;
use bytes::Bytes;
use futures_util::future::{BoxFuture, Either};
use std::collections::HashSet;
use std::future::Ready;
use std::sync::{Arc, Weak};

/// Makes the order of each namespace; one per server.
pub(crate) trait Adapter: Send + Sync + 'static {
    /// Whether a namespace can be bound here and now (e.g. inside a tokio runtime, for an
    /// adapter that runs tasks); the reason when not.
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }

    /// The order of the namespace at `path`, delivering to `local`.
    fn bind(&self, path: &str, local: LocalClients) -> Box<dyn NamespaceAdapter>;
}

/// Makes a server's adapter from its checked configuration; what
/// [`SseServerBuilder::adapter`](crate::SseServerBuilder::adapter) stores until `build`.
///
/// Public only so that the sealed [`IntoAdapter`](crate::adapter::IntoAdapter) can name it; not
/// reachable from outside the crate.
#[derive(Clone)]
#[allow(unreachable_pub)]
pub struct AdapterFactory {
    pub(crate) name: &'static str,
    #[allow(clippy::type_complexity)]
    pub(crate) make: Arc<dyn Fn(&Config) -> Result<Box<dyn Adapter>, ConfigError> + Send + Sync>,
}

impl std::fmt::Debug for AdapterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
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

    /// The offset the namespace starts at: [`LocalClients::deliver`] is called with offsets
    /// above it, and replay reads offsets at or below it that the adapter kept from before.
    fn start_offset(&self) -> u64 {
        0
    }

    /// The adapter's state and counters.
    fn stats(&self) -> AdapterStats;

    /// Asks every instance of the cluster (this one included, through [`LocalClients::answer`]).
    fn request(&self, request: Request) -> AdapterFuture<Answers>;
}

/// The state of a namespace's adapter: part of [`NamespaceStats`](crate::NamespaceStats).
/// Serializes with camelCase field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdapterStats {
    /// `"memory"` or `"redis"`.
    pub kind: &'static str,
    /// Whether the order is shared with the other instances now.
    pub state: AdapterState,
    /// Times the connection to the shared order was rebuilt.
    pub reconnects: u64,
    /// Subscriptions found wedged (connected, but the probe never came back) and rebuilt.
    pub wedges: u64,
    /// Entries the shared log holds that this instance has not delivered yet, as of the last
    /// probe or read.
    pub lag: u64,
    /// Events emitted here during an outage, delivered to this instance's clients, and waiting
    /// to reach the others.
    pub outbox: usize,
    /// Events emitted here during an outage that did not fit the outbox: the other instances'
    /// clients get `sse:resync` (`"reason":"outage"`) for them instead.
    pub lost: u64,
    /// Gaps in the delivered log (a reconnect, a message lost) filled from the shared log.
    pub gaps_filled: u64,
    /// Entries read from the shared log to fill those gaps.
    pub gap_entries: u64,
    /// Times the shared order started a new epoch (Redis restarted empty, or lost writes).
    pub epoch_changes: u64,
}

/// Whether a namespace's order is shared with the other instances; see [`AdapterStats`].
/// Ordered from healthiest to least healthy, so the worst of several is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AdapterState {
    /// In memory, or connected to Redis and delivering from its log.
    #[default]
    Connected,
    /// Not synchronised with Redis yet: emits wait (at most the probe timeout).
    Starting,
    /// The subscription is being rebuilt; emits still reach Redis, local delivery waits for the
    /// gap to be filled (at most the probe timeout).
    Reconnecting,
    /// Redis cannot be reached: emits are delivered to this instance's clients at once and kept
    /// in the outbox for the others.
    Down,
}

impl AdapterState {
    /// Every state, healthiest first.
    pub const ALL: [AdapterState; 4] = [
        AdapterState::Connected,
        AdapterState::Starting,
        AdapterState::Reconnecting,
        AdapterState::Down,
    ];

    /// The name `/stats` (serde) and `/metrics` use: `"connected"`, `"starting"`,
    /// `"reconnecting"`, `"down"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdapterState::Connected => "connected",
            AdapterState::Starting => "starting",
            AdapterState::Reconnecting => "reconnecting",
            AdapterState::Down => "down",
        }
    }
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

    /// This instance's reply to a cluster-wide request.
    pub(crate) fn answer(&self, request: &Request) -> Reply {
        match self.0.upgrade() {
            Some(core) => core.answer(request),
            None if request.client().is_some() => Reply::Found(false),
            None if *request == Request::Rooms => Reply::Rooms(Vec::new()),
            None => Reply::Count(0),
        }
    }

    /// A counted `sse:resync` notice that the adapter delivers as a frame of the order.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn notice(&self, reason: wire::ResyncReason) -> Bytes {
        match self.0.upgrade() {
            Some(core) => core.resync_notice(reason, None),
            None => wire::resync(reason, None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AdapterState;

    #[test]
    fn state_names_are_what_stats_serialize_and_the_order_is_health() {
        for state in AdapterState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert!(AdapterState::ALL.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(AdapterState::ALL.iter().max(), Some(&AdapterState::Down));
    }
}
