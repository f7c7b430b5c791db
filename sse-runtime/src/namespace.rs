//! A namespace: one path, one event set, its clients and rooms.
//!
//! Get one with [`SseServer::of`](crate::SseServer::of); clones share the same clients and rooms.
//! See [`operator`](crate::BroadcastOperator) for ordering and slow-client behaviour.

use crate::client::Client;
use crate::config::Config;
use crate::middleware::{self, Middleware};
use crate::operator::{BroadcastOperator, Emit, EmitError, EmitFuture, Emitted};
use crate::room::{ClientId, Index, Member, Room, RoomParam, Scope, Selector};
use crate::server::ServerShared;
use crate::{wire, Handshake, Reject, SseEvents};
use bytes::Bytes;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

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

/// Counters of one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NamespaceStats {
    /// Clients connected now.
    pub clients: usize,
    /// Rooms with at least one member now.
    pub rooms: usize,
    /// Events emitted since start.
    pub emitted: u64,
    /// Frames handed to client queues since start.
    pub delivered: u64,
    /// Clients disconnected because their queue was full.
    pub slow_disconnects: u64,
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
    /// # Errors
    ///
    /// The first middleware's [`Reject`], or `503` when the server is at its connection limit.
    pub async fn connect(&self, handshake: Handshake) -> Result<Client<E>, Reject> {
        let permit = self.core.server.try_acquire()?;
        let chain = self
            .core
            .middleware
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        middleware::run(&chain, &handshake).await?;

        let (queue, receiver) = mpsc::channel(self.core.config().client_queue);
        let closer = CancellationToken::new();
        let id = ClientId::next();
        self.core
            .state()
            .index
            .insert(id, Member::new(queue, closer.clone()));
        Ok(Client::new(
            self.core.clone(),
            id,
            handshake,
            receiver,
            closer,
            permit,
        ))
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
        self.core.emit(
            Selector {
                scope: Scope::Namespace,
                except: Vec::new(),
            },
            event,
        )
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.core.state().index.client_count()
    }

    /// Members of a room now (0 for a room that does not exist).
    pub fn room_size(&self, room: &str) -> usize {
        self.core.state().index.room_size(room)
    }

    /// Rooms with at least one member, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.core.state().index.room_names()
    }

    /// Counters since start, and current sizes.
    pub fn stats(&self) -> NamespaceStats {
        let (clients, rooms) = {
            let state = self.core.state();
            (state.index.client_count(), state.index.room_count())
        };
        let counters = &self.core.counters;
        NamespaceStats {
            clients,
            rooms,
            emitted: counters.emitted.load(Ordering::Relaxed),
            delivered: counters.delivered.load(Ordering::Relaxed),
            slow_disconnects: counters.slow_disconnects.load(Ordering::Relaxed),
        }
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
pub(crate) struct NsCore {
    path: Arc<str>,
    server: Arc<ServerShared>,
    state: Mutex<State>,
    /// Read (and cloned) once per connect; written when middleware is added.
    middleware: RwLock<Vec<Middleware>>,
    counters: Counters,
}

/// Everything an emit must see at one instant, under one lock. Never held across `.await`.
#[derive(Default)]
struct State {
    /// The id of the next event; taken in the same critical section that queues the frame, so
    /// ids and queue order agree for every client.
    next_id: u64,
    index: Index,
}

#[derive(Default)]
struct Counters {
    emitted: AtomicU64,
    delivered: AtomicU64,
    slow_disconnects: AtomicU64,
}

impl NsCore {
    pub(crate) fn new(path: &str, server: Arc<ServerShared>) -> Self {
        NsCore {
            path: Arc::from(path),
            server,
            state: Mutex::new(State {
                next_id: 1,
                index: Index::default(),
            }),
            middleware: RwLock::new(Vec::new()),
            counters: Counters::default(),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn config(&self) -> &Config {
        &self.server.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements of every critical section, so a panic
        // elsewhere cannot have left it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn join(&self, id: ClientId, rooms: impl Iterator<Item = Room>) -> bool {
        self.state().index.join(id, rooms)
    }

    pub(crate) fn leave(&self, id: ClientId, rooms: impl Iterator<Item = Room>) {
        self.state().index.leave(id, rooms);
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        self.state().index.rooms_of(id)
    }

    pub(crate) fn contains(&self, id: ClientId) -> bool {
        self.state().index.contains(id)
    }

    pub(crate) fn remove(&self, id: ClientId) {
        self.state().index.remove(id);
    }

    pub(crate) fn count(&self, selector: &Selector) -> usize {
        self.state().index.count(selector)
    }

    /// Encodes the event once, then queues it for every selected client.
    pub(crate) fn emit<E: SseEvents>(self: &Arc<Self>, selector: Selector, event: E) -> EmitFuture {
        let ns = self.clone();
        EmitFuture::new(async move {
            let mut data = Vec::with_capacity(128);
            event.write_data(&mut data).map_err(EmitError::Encode)?;
            let body = wire::event_body(event.name(), &data);
            Ok(ns.deliver(&selector, &body))
        })
    }

    fn deliver(&self, selector: &Selector, body: &Bytes) -> Emitted {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        let frame = wire::with_id(id, body);
        let mut delivered = 0;
        let mut slow = Vec::new();
        state.index.for_each(selector, |client, member| {
            match member.queue.try_send(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(TrySendError::Full(_)) => slow.push((client, true)),
                Err(TrySendError::Closed(_)) => slow.push((client, false)),
            }
        });
        for (client, full) in slow {
            state.index.remove(client);
            if full {
                self.counters
                    .slow_disconnects
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(namespace = %self.path, %client, "disconnected a client whose queue was full");
            }
        }
        drop(state);
        self.counters.emitted.fetch_add(1, Ordering::Relaxed);
        self.counters
            .delivered
            .fetch_add(delivered as u64, Ordering::Relaxed);
        Emitted { id, delivered }
    }
}
