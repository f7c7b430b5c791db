//! The in-memory order: one process, a counter and a ring of recent events per namespace.

use crate::core::cluster::{Answers, Request};
use crate::core::history::{Gap, History, Page, Paged, Window};
use crate::core::id::{random_u64, EventId};
use crate::core::operator::{EmitError, Emitted};
use crate::core::order::{
    Adapter, AdapterFuture, AdapterStats, LocalClients, NamespaceAdapter, Since,
};
use crate::core::room::{Room, Scope, Selector};
use crate::wire;
use bytes::Bytes;
use futures_util::future::Either;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// Orders each namespace in this process: ids count up from 1 in an epoch drawn at random when
/// the namespace is created, so ids of an earlier run or another instance are refused, never
/// replayed wrongly.
pub(crate) struct LocalAdapter {
    pub(crate) history: Option<Window>,
}

impl Adapter for LocalAdapter {
    fn bind(&self, _path: &str, local: LocalClients) -> Box<dyn NamespaceAdapter> {
        Box::new(LocalNamespace {
            epoch: random_u64(),
            local,
            order: Mutex::new(Order {
                next: 1,
                history: History::new(self.history),
            }),
        })
    }
}

struct LocalNamespace {
    epoch: u64,
    local: LocalClients,
    order: Mutex<Order>,
}

/// Taken for the whole of a publish: offsets, history order and delivery order agree.
struct Order {
    /// The offset of the next event.
    next: u64,
    history: History,
}

impl LocalNamespace {
    fn order(&self) -> MutexGuard<'_, Order> {
        // Consistent between statements of every critical section.
        self.order.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The page, read at once: the history is right here.
    fn read(
        &self,
        after: Since,
        rooms: &HashSet<Room>,
        lenient: bool,
        page: Page,
    ) -> Result<Paged, Gap> {
        let after = match after {
            // Another run's (or another instance's) ids say nothing about this one's events.
            Since::Id(id) if id.epoch() != self.epoch => return Err(Gap::Unknown),
            Since::Id(id) => id.offset(),
            Since::Offset(offset) => offset,
        };
        let now = Instant::now();
        let mut order = self.order();
        let next = order.next;
        order.history.read(after, next, rooms, now, page, lenient)
    }
}

impl NamespaceAdapter for LocalNamespace {
    fn publish(
        &self,
        selector: Selector,
        body: Bytes,
    ) -> AdapterFuture<Result<Emitted, EmitError>> {
        let mut order = self.order();
        let offset = order.next;
        order.next += 1;
        let id = EventId::new(self.epoch, offset);
        let frame = wire::with_id(id, &body);
        if !matches!(selector.scope, Scope::Client(_)) {
            order
                .history
                .push(offset, &selector, &frame, Instant::now());
        }
        // Under the order lock, so local clients see offsets in order; woken after it.
        let delivery = self.local.deliver(offset, &selector, &frame);
        drop(order);
        let delivered = delivery.count();
        drop(delivery);
        Either::Left(std::future::ready(Ok(Emitted { id, delivered })))
    }

    fn replay(
        &self,
        after: Since,
        rooms: Arc<HashSet<Room>>,
        lenient: bool,
        page: Page,
    ) -> AdapterFuture<Result<Paged, Gap>> {
        Either::Left(std::future::ready(self.read(after, &rooms, lenient, page)))
    }

    fn history_len(&self) -> usize {
        self.order().history.len()
    }

    fn request(&self, request: Request) -> AdapterFuture<Answers> {
        let reply = self.local.answer(&request);
        Either::Left(std::future::ready(Answers {
            replies: vec![("local".to_owned(), reply)],
            missing: Vec::new(),
        }))
    }

    fn stats(&self) -> AdapterStats {
        AdapterStats {
            kind: "memory",
            ..AdapterStats::default()
        }
    }
}
