//! A namespace: one path, one event set, its clients and rooms.
//!
//! Get one with [`SseServer::of`](crate::SseServer::of); clones share the same clients and rooms.
//! See [`operator`](crate::BroadcastOperator) for ordering and slow-client behaviour.

use crate::core::catchup::Start;
use crate::core::client::Client;
use crate::core::cluster::Cluster;
use crate::core::config::{Config, SlowClientPolicy};
use crate::core::id::EventId;
use crate::core::middleware::{self, Middleware};
use crate::core::operator::{BroadcastOperator, Emit, EmitError, EmitFuture};
use crate::core::order::{Adapter, AdapterStats, LocalClients, NamespaceAdapter, Since};
use crate::core::queue::{Close, Frame, Pushed, Queue};
use crate::core::room::{ClientId, Index, Member, Room, RoomParam, Selector};
use crate::core::server::{ConnectionPermit, ServerShared};
use crate::{wire, Handshake, Reject, SseEvents};
use bytes::Bytes;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

/// The clients and rooms of one path, typed by its event set `E`.
///
/// ```
/// use sse_manager::{SseEvents, SseServer};
///
/// #[derive(SseEvents)]
/// enum Football {
///     Goal { minute: u32 },
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = SseServer::builder().build()?;
/// let football = server.of::<Football>("/football")?;
/// let sent = football.emit(Football::Goal { minute: 12 }).await?;
/// assert_eq!(sent.delivered, 0); // nobody connected yet
/// # Ok(()) }
/// ```
pub struct Namespace<E> {
    core: Arc<NsCore>,
    _events: PhantomData<fn(E)>,
}

impl<E> Clone for Namespace<E> {
    fn clone(&self) -> Self {
        Namespace {
            core: self.core.clone(),
            _events: PhantomData,
        }
    }
}

/// Counters of one namespace: sizes now, and totals since the server started. Serializes with
/// camelCase field names, for a JSON stats endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NamespaceStats {
    /// Clients connected now.
    pub clients: usize,
    /// Rooms with at least one member now.
    pub rooms: usize,
    /// Events in the history window now.
    pub history: usize,
    /// Events emitted.
    pub emitted: u64,
    /// Frames handed to client queues by emits.
    pub delivered: u64,
    /// Frames replayed from history when a stream started: what a reconnecting client missed, and
    /// what a new client missed between `connect` and `into_stream`.
    pub replayed: u64,
    /// `sse:resync` events sent (id expired, unknown or malformed, or the client lagged).
    pub resyncs: u64,
    /// Clients disconnected because their queue was full.
    pub slow_disconnects: u64,
    /// Frames dropped from full queues under [`SlowClientPolicy::DropOldest`].
    pub lagged: u64,
    /// Where the namespace's events are ordered: in memory, or Redis and its state.
    pub adapter: AdapterStats,
}

impl<E: SseEvents> Namespace<E> {
    pub(crate) fn from_core(core: Arc<NsCore>) -> Self {
        Namespace {
            core,
            _events: PhantomData,
        }
    }

    /// The path, e.g. `/football`.
    pub fn path(&self) -> &str {
        self.core.path()
    }

    /// Adds a middleware; see [the module docs](crate::middleware). Middleware run in the order
    /// they were added, before the client is registered.
    ///
    /// ```
    /// # use sse_manager::{SseEvents, SseServer, Reject, Handshake};
    /// # #[derive(SseEvents)] enum Football { Goal { minute: u32 } }
    /// # let server = SseServer::builder().build().unwrap();
    /// #[derive(Clone)]
    /// struct UserId(String);
    ///
    /// let football = server.of::<Football>("/football").unwrap();
    /// football.middleware(|hs: Handshake| async move {
    ///     match hs.query("token") {
    ///         Some("letmein") => {
    ///             hs.insert(UserId("fan-1".into()));
    ///             Ok(())
    ///         }
    ///         _ => Err(Reject::unauthorized("a valid ?token= is required")),
    ///     }
    /// });
    /// ```
    pub fn middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Handshake) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), Reject>> + Send + 'static,
    {
        self.core
            .middleware
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(middleware::boxed(middleware));
        self
    }

    /// Runs the middleware, then registers the client (in no room yet).
    ///
    /// Call it from the HTTP handler before answering: a rejection becomes the HTTP answer, and a
    /// client that is registered and has joined its rooms before its headers are sent cannot miss
    /// an event emitted after its `EventSource` fired `open`.
    ///
    /// ## Between connect and into_stream
    ///
    /// The client is a member from here on: it counts in [`client_count`](Self::client_count) and
    /// [`room_size`](Self::room_size), and [`join`](crate::ClientHandle::join) works. But until
    /// [`Client::into_stream`] it is *pending*: events for its rooms or the whole namespace do not
    /// go to its queue (and do not count in [`Emitted::delivered`](crate::Emitted::delivered)), so a handler that awaits in
    /// between (a database call, say) cannot get its client disconnected as slow, however many
    /// events are emitted meanwhile. `into_stream` starts the stream with those events instead, read
    /// from the namespace history for the rooms the client is in then, exactly as a reconnect
    /// with `Last-Event-ID` would: no gap, no duplicate. If the handler waited longer than the
    /// history covers (or history is off and something was emitted), the stream starts with one
    /// [`RESYNC_EVENT`](crate::wire::RESYNC_EVENT) (`"reason":"expired"`) instead of a silent gap.
    ///
    /// Events sent to the client alone ([`ClientHandle::emit`](crate::ClientHandle::emit)) while it
    /// is pending are not in history, so they wait in its queue and count against
    /// [`client_queue`](crate::SseServerBuilder::client_queue) like live frames: more than that
    /// many gets it disconnected as slow, or drops the oldest under
    /// [`SlowClientPolicy::DropOldest`]. They arrive merged with the others in id order.
    ///
    /// # Errors
    ///
    /// The first middleware's [`Reject`]; `503` with `Retry-After` when the server or the
    /// namespace is at its connection limit; `400` for a `Last-Event-ID` over the length limit.
    pub async fn connect(&self, handshake: Handshake) -> Result<Client<E>, Reject> {
        let config = self.core.config();
        if let Some(id) = handshake.raw_last_event_id() {
            if id.len() > config.max_last_event_id_len {
                return Err(Reject::bad_request(format!(
                    "Last-Event-ID is longer than {} bytes",
                    config.max_last_event_id_len
                )));
            }
        }
        let permit = self.core.server.try_acquire()?;
        let chain = self
            .core
            .middleware
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        middleware::run(&chain, &handshake).await?;

        let queue = Arc::new(Queue::new(
            config.client_queue,
            config.slow_clients == SlowClientPolicy::DropOldest,
        ));
        let id = ClientId::next();
        self.core.register(id, queue.clone(), permit)?;
        Ok(Client::new(self.core.clone(), id, handshake, queue))
    }

    /// Selects rooms for an emit; chain `.to(..)` for more and `.except(..)` to skip some.
    pub fn to(&self, rooms: impl RoomParam) -> BroadcastOperator<E> {
        BroadcastOperator::new(self.core.clone()).to(rooms)
    }

    /// Selects the whole namespace except members of these rooms.
    pub fn except(&self, rooms: impl RoomParam) -> BroadcastOperator<E> {
        BroadcastOperator::new(self.core.clone()).except(rooms)
    }

    /// Sends an event to every client of the namespace.
    pub fn emit(&self, event: E) -> EmitFuture {
        self.core.emit(Selector::all(), event)
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.core.index().client_count()
    }

    /// Members of a room now (0 for a room that does not exist).
    pub fn room_size(&self, room: &str) -> usize {
        self.core.index().room_size(room)
    }

    /// Rooms with at least one member, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.core.index().room_names()
    }

    /// Counters since start, and current sizes.
    pub fn stats(&self) -> NamespaceStats {
        self.core.stats()
    }

    /// Counts, room lists, join, leave and disconnect across every instance of the cluster
    /// (with the in-memory adapter, this one). [`client_count`](Self::client_count) and the
    /// others above count this instance only.
    pub fn cluster(&self) -> Cluster {
        Cluster::new(self.core.clone())
    }
}

impl<E: SseEvents> Emit<E> for &Namespace<E> {
    type Output = EmitFuture;

    fn emit_event(self, event: E) -> EmitFuture {
        self.emit(event)
    }
}

impl<E> fmt::Debug for Namespace<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("path", &self.core.path())
            .field("events", &std::any::type_name::<E>())
            .finish()
    }
}

/// The untyped part of a namespace, shared by its handles, clients and operators.
///
/// Lock order: the adapter's order, then `delivery`, then `index`, then a client queue's lag
/// lock (drop-oldest only); never the reverse, and none across `.await`.
pub(crate) struct NsCore {
    path: Arc<str>,
    server: Arc<ServerShared>,
    /// Who is connected and in which rooms. Held briefly: to connect, join, leave and count, and
    /// by a delivery to look up the queues its selector picks (cached until the live clients or
    /// their rooms change); the pushes happen after it is released, the wakes after every lock.
    index: Mutex<Index>,
    /// Held for each delivery from the adapter (which hands them over in offset order), and by a
    /// stream going live: so a client goes live between two deliveries, and its fence (the last
    /// offset delivered before) is exact.
    delivery: Mutex<()>,
    /// The offset of the last event delivered to local clients; written under `delivery` once an
    /// event has reached every queue it was for.
    last_delivered: AtomicU64,
    /// Orders the namespace's events and keeps its history.
    adapter: Box<dyn NamespaceAdapter>,
    /// Read (and cloned) once per connect; written when middleware is added.
    middleware: RwLock<Vec<Middleware>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    emitted: AtomicU64,
    delivered: AtomicU64,
    replayed: AtomicU64,
    resyncs: AtomicU64,
    slow_disconnects: AtomicU64,
    lagged: AtomicU64,
}

/// One event handed to the local clients' queues: how many took it, and the wakers of those
/// whose stream was waiting, woken when this is dropped so that waking (a task notification
/// each) happens outside every lock.
#[must_use = "dropping a delivery wakes its clients: drop it once no lock is held"]
pub(crate) struct Delivery {
    count: usize,
    wakers: Vec<std::task::Waker>,
}

impl Delivery {
    /// Nobody to deliver to.
    pub(crate) fn none() -> Self {
        Delivery {
            count: 0,
            wakers: Vec::new(),
        }
    }

    /// How many queues took the event.
    pub(crate) fn count(&self) -> usize {
        self.count
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
    }
}

/// What a client sent as `Last-Event-ID`.
pub(crate) enum LastEventId {
    None,
    Valid(EventId),
    Malformed(String),
}

impl NsCore {
    /// The namespace at `path`, ordered by `adapter`, which delivers back to it.
    pub(crate) fn new(path: &str, server: Arc<ServerShared>, adapter: &dyn Adapter) -> Arc<Self> {
        Arc::new_cyclic(|core| {
            let adapter = adapter.bind(path, LocalClients::new(core.clone()));
            NsCore {
                path: Arc::from(path),
                last_delivered: AtomicU64::new(adapter.start_offset()),
                adapter,
                server,
                index: Mutex::new(Index::default()),
                delivery: Mutex::new(()),
                middleware: RwLock::new(Vec::new()),
                counters: Counters::default(),
            }
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn config(&self) -> &Config {
        &self.server.config
    }

    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        // Consistent between statements of every critical section, so a panic elsewhere cannot
        // have left it half-updated.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn delivery(&self) -> MutexGuard<'_, ()> {
        self.delivery.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a client, unless the namespace is at its connection limit.
    ///
    /// During shutdown the client is not registered and its queue is closed, so its stream ends
    /// at once: browsers then retry (reaching another instance, or this one restarted) instead of
    /// giving up on an error status. The flag is read under the index lock, which `shutdown`
    /// takes after setting it, so no client can slip in after its namespace was drained.
    fn register(
        &self,
        id: ClientId,
        queue: Arc<Queue>,
        permit: ConnectionPermit,
    ) -> Result<(), Reject> {
        let mut index = self.index();
        if self.server.is_shutting_down() {
            queue.close(Close::Drain);
            return Ok(());
        }
        if let Some(max) = self.config().max_namespace_connections {
            if index.client_count() >= max {
                return Err(Reject::unavailable(
                    format!(
                        "namespace {} is at its connection limit, retry later",
                        self.path
                    ),
                    5,
                ));
            }
        }
        // Pending until its stream starts: see `Member::pending`. An event being delivered now
        // has not moved `last_delivered` yet, so it is replayed if the client missed it.
        let connected_after = self.last_delivered.load(Ordering::Acquire);
        index.insert(id, Member::new(queue, Some(permit), connected_after));
        Ok(())
    }

    pub(crate) fn join(&self, id: ClientId, rooms: Vec<Room>) {
        self.index().join(id, rooms.into_iter());
    }

    pub(crate) fn leave(&self, id: ClientId, rooms: impl Iterator<Item = Room>) {
        self.index().leave(id, rooms);
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        self.index().rooms_of(id)
    }

    pub(crate) fn contains(&self, id: ClientId) -> bool {
        self.index().contains(id)
    }

    pub(crate) fn remove(&self, id: ClientId) {
        self.index().remove(id);
    }

    /// Ends every stream of the namespace once it has written what is queued.
    pub(crate) fn drain_all(&self) {
        self.index().drain_all();
    }

    pub(crate) fn count(&self, selector: &Selector) -> usize {
        self.index().count(selector)
    }

    /// Makes a pending client live, between two deliveries, and says where its catch-up
    /// starts: what it is owed up to the fence (the last offset delivered before) comes from
    /// history, after the id it sent or else where it connected, merged with the frames sent to
    /// it alone meanwhile (queued, since history does not keep them); everything after the fence
    /// reaches its queue live. So nothing falls between the two and nothing is in both. See
    /// [`Catchup`](crate::core::catchup::Catchup) for the resync notices when that cannot be exact.
    ///
    /// `None` when the client was removed before its stream started: the stream just ends.
    pub(crate) fn start(&self, id: ClientId, queue: &Queue, last: LastEventId) -> Option<Start> {
        let (connected_after, rooms, fence, lag, direct) = {
            let _delivery = self.delivery();
            let started = self
                .index()
                .start(id)
                .map(|(connected_after, rooms)| (connected_after, rooms.clone()));
            let (connected_after, rooms) = started?;
            let fence = self.last_delivered.load(Ordering::Acquire);
            let (lag, direct) = queue.take_all();
            (connected_after, rooms, fence, lag, direct)
        };
        let (after, raw, notice) = match last {
            LastEventId::None => (Since::Offset(connected_after), None, None),
            LastEventId::Valid(id) => (Since::Id(id), Some(id.to_string()), None),
            LastEventId::Malformed(raw) => {
                let notice = self.resync_notice(wire::ResyncReason::Malformed, Some(&raw));
                (Since::Offset(connected_after), Some(raw), Some(notice))
            }
        };
        Some(Start {
            after,
            fence,
            connected_after,
            rooms,
            raw,
            notice,
            direct,
            lag,
        })
    }

    pub(crate) fn adapter(&self) -> &dyn NamespaceAdapter {
        &*self.adapter
    }

    pub(crate) fn count_replayed(&self, frames: usize) {
        self.counters
            .replayed
            .fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// A `sse:resync` notice, counted.
    pub(crate) fn resync_notice(&self, reason: wire::ResyncReason, raw: Option<&str>) -> Bytes {
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        wire::resync(reason, raw, None)
    }

    /// The `sse:resync` notice for `dropped` frames lost under drop-oldest, counted.
    pub(crate) fn lag_notice(&self, dropped: u64) -> Bytes {
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        self.counters.lagged.fetch_add(dropped, Ordering::Relaxed);
        wire::resync(wire::ResyncReason::Lagged, None, Some(dropped))
    }

    /// Encodes the event once, then queues it for every selected client.
    pub(crate) fn emit<E: SseEvents>(self: &Arc<Self>, selector: Selector, event: E) -> EmitFuture {
        let ns = self.clone();
        EmitFuture::new(async move {
            let name = event.name();
            // `SseServer::of` checked every name of `E::NAMES`; any other could inject fields.
            if !E::NAMES.contains(&name) {
                return Err(EmitError::UnknownEventName {
                    name,
                    events: std::any::type_name::<E>(),
                });
            }
            let mut data = Vec::with_capacity(128);
            event.write_data(&mut data).map_err(EmitError::Encode)?;
            let body = wire::event_body(name, &data);
            let emitted = ns.adapter.publish(selector, body).await?;
            ns.counters.emitted.fetch_add(1, Ordering::Relaxed);
            Ok(emitted)
        })
    }

    /// Queues the event at `offset` for every client the selector picks now; called by the
    /// adapter, in offset order. The clients are woken when the returned [`Delivery`] is dropped,
    /// which the adapter does once it holds no lock. The index lock is held only to look the
    /// selector's queues up, so connect, join and leave never wait behind a fan-out's pushes;
    /// the delivery lock, held throughout, keeps a stream from going live in the middle.
    pub(crate) fn deliver(&self, offset: u64, selector: &Selector, frame: &Bytes) -> Delivery {
        let _delivery = self.delivery();
        // The index lock only to look the targets up (built once per change of the clients or
        // their rooms): connect, join and leave never wait for the pushes.
        let targets = self.index().targets(selector);
        let mut delivery = Delivery::none();
        let mut slow = Vec::new();
        let now = tokio::time::Instant::now();
        for (client, queue) in targets.iter() {
            let pushed = queue.push_quiet(
                Frame {
                    id: offset,
                    bytes: frame.clone(),
                },
                now,
            );
            match pushed {
                Pushed::Queued => {
                    delivery.count += 1;
                    delivery.wakers.extend(queue.take_waker());
                }
                Pushed::Full => slow.push(*client),
                Pushed::Closed => {}
            }
        }
        if !slow.is_empty() {
            let mut index = self.index();
            for client in &slow {
                index.remove(*client);
            }
        }
        if !slow.is_empty() {
            self.counters
                .slow_disconnects
                .fetch_add(slow.len() as u64, Ordering::Relaxed);
            tracing::debug!(namespace = %self.path, clients = ?slow, "disconnected clients whose queue was full");
        }
        self.last_delivered.store(offset, Ordering::Release);
        self.counters
            .delivered
            .fetch_add(delivery.count as u64, Ordering::Relaxed);
        delivery
    }

    pub(crate) fn stats(&self) -> NamespaceStats {
        let (clients, rooms) = {
            let index = self.index();
            (index.client_count(), index.room_count())
        };
        let history = self.adapter.history_len();
        let counters = &self.counters;
        NamespaceStats {
            clients,
            rooms,
            history,
            emitted: counters.emitted.load(Ordering::Relaxed),
            delivered: counters.delivered.load(Ordering::Relaxed),
            replayed: counters.replayed.load(Ordering::Relaxed),
            resyncs: counters.resyncs.load(Ordering::Relaxed),
            slow_disconnects: counters.slow_disconnects.load(Ordering::Relaxed),
            lagged: counters.lagged.load(Ordering::Relaxed),
            adapter: self.adapter.stats(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeError, EmitError, Handshake, SseEvents, SseServer, SseStream};
    use futures_util::{FutureExt, StreamExt};

    /// A hand-written set whose `name()` may lie about its `NAMES`.
    enum Liar {
        Listed,
        Unlisted(&'static str),
    }

    impl SseEvents for Liar {
        const NAMES: &'static [&'static str] = &["goal"];
        fn name(&self) -> &'static str {
            match self {
                Liar::Listed => "goal",
                Liar::Unlisted(name) => name,
            }
        }
        fn write_data(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
            out.extend_from_slice(b"null");
            Ok(())
        }
        fn decode(name: &str, _: &str) -> Result<Self, DecodeError> {
            Err(DecodeError::unknown_event(name, Self::NAMES))
        }
    }

    fn ready(stream: &mut SseStream) -> Option<String> {
        let chunk = stream.next().now_or_never()??.ok()?;
        Some(String::from_utf8(chunk.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_name_outside_names_is_refused_and_nothing_is_written() {
        let server = SseServer::builder().no_heartbeat().build().unwrap();
        let ns = server.of::<Liar>("/liar").unwrap();
        let client = ns
            .connect(Handshake::new("/".parse().unwrap(), Default::default()))
            .await
            .unwrap();
        let mut stream = client.into_stream();
        assert_eq!(ready(&mut stream).as_deref(), Some(": ok\n\n"));

        for name in ["goal\nevent: open\ndata: injected", "card", ""] {
            let refused = ns.emit(Liar::Unlisted(name)).await;
            match refused {
                Err(EmitError::UnknownEventName { name: got, events }) => {
                    assert_eq!((got, events), (name, std::any::type_name::<Liar>()));
                }
                other => panic!("expected UnknownEventName, got {other:?}"),
            }
            assert_eq!(ready(&mut stream), None, "nothing written for {name:?}");
        }
        let err = ns.emit(Liar::Unlisted("card")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "event name \"card\" is not one of `{}::NAMES`, so it was not sent: `name()` must return a name listed in `NAMES`",
                std::any::type_name::<Liar>()
            )
        );
        assert_eq!((ns.stats().emitted, ns.stats().history), (0, 0));

        let sent = ns.emit(Liar::Listed).await.unwrap();
        assert_eq!(
            ready(&mut stream),
            Some(format!("id: {}\nevent: goal\ndata: null\n\n", sent.id))
        );
    }
}
