//! Choosing who receives an event: `to`, `except`, `emit`; documented on [`BroadcastOperator`].

use crate::core::namespace::NsCore;
use crate::core::room::{RoomParam, Scope, Selector};
use crate::SseEvents;
use futures_util::future::BoxFuture;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What an emit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Emitted {
    /// The id the event was sent with (`id:` line): with the Redis adapter the same on every
    /// instance, except during an outage (see the adapter's docs).
    pub id: crate::EventId,
    /// Clients on this server whose queue took the event; with the Redis adapter, too, this
    /// instance's clients only (the others deliver it from the shared log: ask
    /// [`Namespace::cluster`](crate::Namespace::cluster) for counts across instances). A client
    /// between `connect` and
    /// `into_stream` is not counted for an event to rooms or the whole namespace: nothing was
    /// handed to it yet (its stream starts with the event, from history; see
    /// [`Namespace::connect`](crate::Namespace::connect)).
    pub delivered: usize,
}

/// Why an emit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The payload's `Serialize` failed (a map with non-string keys, say).
    #[error("event payload could not be serialized as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    /// The event's [`name`](crate::SseEvents::name) is not one of its set's
    /// [`NAMES`](crate::SseEvents::NAMES), which are the names checked when the namespace was
    /// created. Only a hand-written `impl SseEvents` can get here; nothing was sent.
    #[error(
        "event name {name:?} is not one of `{events}::NAMES`, so it was not sent: `name()` must return a name listed in `NAMES`"
    )]
    UnknownEventName {
        /// What `name()` returned.
        name: &'static str,
        /// The event set.
        events: &'static str,
    },
    /// The namespace's adapter stopped before the event was delivered: the server was dropped
    /// while the emit waited for Redis.
    #[error("the server stopped before the event was delivered")]
    Stopped,
}

/// The result of an emit; it does nothing until awaited.
#[must_use = "an emit does nothing until it is awaited"]
pub struct EmitFuture(BoxFuture<'static, Result<Emitted, EmitError>>);

impl EmitFuture {
    pub(crate) fn new(
        future: impl Future<Output = Result<Emitted, EmitError>> + Send + 'static,
    ) -> Self {
        EmitFuture(Box::pin(future))
    }
}

impl Future for EmitFuture {
    type Output = Result<Emitted, EmitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for EmitFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmitFuture")
    }
}

/// Where the typed `emit_*` methods of `#[derive(SseEvents)]` send their event: implemented
/// for `&Namespace<E>`, `BroadcastOperator<E>` and `&ClientHandle<E>`.
#[doc(hidden)]
pub trait Emit<E> {
    /// The emit's future.
    type Output;

    /// Emits one event.
    fn emit_event(self, event: E) -> Self::Output;
}

/// Rooms selected for one emit; built by [`Namespace::to`](crate::Namespace::to) and
/// [`Namespace::except`](crate::Namespace::except), consumed by [`emit`](Self::emit).
///
/// ```
/// # use sse_manager::{SseEvents, SseServer};
/// # #[derive(SseEvents)] enum Football { Goal { minute: u32 } }
/// # async fn run(server: SseServer) -> Result<(), Box<dyn std::error::Error>> {
/// let football = server.of::<Football>("/football")?;
/// // members of either room, each once, minus members of "muted"
/// football
///     .to("arsenal-vs-chelsea")
///     .to(["highlights", "arsenal-fans"])
///     .except("muted")
///     .emit(Football::Goal { minute: 90 })
///     .await?;
/// # Ok(()) }
/// ```
///
/// ## Ordering
///
/// Every event of a namespace gets the next id, and ids are handed out in the same critical
/// section that queues the frame and records it in history, so every client receives a
/// namespace's events in id order.
///
/// ## Slow clients
///
/// Emitting never waits for a client: each frame is pushed into each target's bounded queue. A
/// client whose queue is full is handled by the server's
/// [`SlowClientPolicy`](crate::SlowClientPolicy): disconnected at once by default (counted in
/// [`NamespaceStats::slow_disconnects`](crate::NamespaceStats::slow_disconnects); its
/// `EventSource` reconnects and resumes from history), or made to drop its oldest frame. Other
/// clients are unaffected.
#[must_use = "nothing is sent until `emit` is called and awaited"]
pub struct BroadcastOperator<E> {
    ns: Arc<NsCore>,
    /// Starts as the whole namespace; `to` narrows it to rooms.
    selector: Selector,
    _events: PhantomData<fn(E)>,
}

impl<E: SseEvents> BroadcastOperator<E> {
    pub(crate) fn new(ns: Arc<NsCore>) -> Self {
        BroadcastOperator {
            ns,
            selector: Selector {
                scope: Scope::Namespace,
                except: Vec::new(),
            },
            _events: PhantomData,
        }
    }

    /// Adds rooms: the event goes to members of any selected room, each client once.
    pub fn to(mut self, rooms: impl RoomParam) -> Self {
        match &mut self.selector.scope {
            Scope::Rooms(selected) => selected.extend(rooms.into_rooms()),
            scope => *scope = Scope::Rooms(rooms.into_rooms().collect()),
        }
        self
    }

    /// Skips members of these rooms, even when they are in a selected room.
    pub fn except(mut self, rooms: impl RoomParam) -> Self {
        self.selector.except.extend(rooms.into_rooms());
        self
    }

    /// Clients on this server whose queue the event would reach now: like
    /// [`Emitted::delivered`], not counting clients whose stream has not started yet.
    pub fn count(&self) -> usize {
        self.ns.count(&self.selector)
    }

    /// Sends the event to the selected clients.
    pub fn emit(self, event: E) -> EmitFuture {
        self.ns.emit(self.selector, event)
    }
}

impl<E: SseEvents> Emit<E> for BroadcastOperator<E> {
    type Output = EmitFuture;

    fn emit_event(self, event: E) -> EmitFuture {
        self.emit(event)
    }
}

impl<E> fmt::Debug for BroadcastOperator<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("namespace", &self.ns.path())
            .field("selector", &self.selector)
            .finish()
    }
}
