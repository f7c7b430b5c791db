//! One connected client: its rooms, direct emits, and the end of its connection.
//!
//! A client is registered in its namespace when `connect` returns, pending until `into_stream`
//! (broadcasts reach it through history, not its queue), and removed from the namespace and every
//! room when its stream is dropped (the HTTP connection closed), when it is disconnected, or when
//! the [`Client`] is dropped without becoming a stream.

use crate::core::catchup::Catchup;
use crate::core::namespace::NsCore;
use crate::core::operator::{Emit, EmitFuture};
use crate::core::queue::Queue;
use crate::core::room::{ClientId, Room, RoomParam, Scope, Selector};
use crate::{Handshake, Reject, SseEvents};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// A room that cannot be joined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The name is longer than the server's
    /// [`max_room_name_len`](crate::SseServerBuilder::max_room_name_len).
    #[error("room name is {len} bytes long, the limit is {max}")]
    RoomNameTooLong {
        /// The name's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// In a handler, `client.join(room)?` answers `400` with the reason.
impl From<JoinError> for Reject {
    fn from(err: JoinError) -> Self {
        Reject::bad_request(err.to_string())
    }
}

/// A client that has passed middleware and is registered in its namespace.
///
/// Join its rooms, then turn it into the response with [`into_stream`](Client::into_stream).
/// Everything else it can do is on [`ClientHandle`], which it dereferences to and which
/// [`handle`](ClientHandle::handle) clones out for later use.
pub struct Client<E> {
    handle: ClientHandle<E>,
    guard: ClientGuard,
}

impl<E: SseEvents> Client<E> {
    pub(crate) fn new(
        ns: Arc<NsCore>,
        id: ClientId,
        handshake: Handshake,
        queue: Arc<Queue>,
    ) -> Self {
        let guard = ClientGuard { ns: ns.clone(), id };
        Client {
            handle: ClientHandle {
                shared: Arc::new(Shared {
                    ns,
                    id,
                    handshake,
                    queue,
                }),
                _events: PhantomData,
            },
            guard,
        }
    }

    /// Makes the client live and hands over what its stream is made of: its queue, its
    /// catch-up, and the guard that removes it when the stream goes; `into_stream` (the HTTP
    /// layer, `http/stream.rs`) builds the response body from them.
    pub(crate) fn go_live(self) -> (Arc<Queue>, Option<Catchup>, ClientGuard) {
        let shared = &self.handle.shared;
        let catchup = shared
            .ns
            .start(
                shared.id,
                &shared.queue,
                shared.handshake.parsed_last_event_id(),
            )
            .map(|start| Catchup::new(shared.ns.clone(), start));
        (shared.queue.clone(), catchup, self.guard)
    }

    pub(crate) fn ns(&self) -> &NsCore {
        &self.handle.shared.ns
    }
}

impl<E> Deref for Client<E> {
    type Target = ClientHandle<E>;

    fn deref(&self) -> &ClientHandle<E> {
        &self.handle
    }
}

impl<E> fmt::Debug for Client<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.handle.shared.id)
            .field("namespace", &self.handle.shared.ns.path())
            .finish_non_exhaustive()
    }
}

/// A cheap, clonable handle to a client, usable after its stream was returned.
///
/// Once the client has disconnected, `join` and `emit` do nothing and `rooms` is empty.
pub struct ClientHandle<E> {
    shared: Arc<Shared>,
    _events: PhantomData<fn(E)>,
}

struct Shared {
    ns: Arc<NsCore>,
    id: ClientId,
    handshake: Handshake,
    queue: Arc<Queue>,
}

impl<E> Clone for ClientHandle<E> {
    fn clone(&self) -> Self {
        ClientHandle {
            shared: self.shared.clone(),
            _events: PhantomData,
        }
    }
}

impl<E: SseEvents> ClientHandle<E> {
    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.shared.id
    }

    /// The handshake the client connected with, including what middleware attached.
    pub fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    /// A clone of a value middleware attached with [`Handshake::insert`].
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.shared.handshake.get()
    }

    /// A handle to keep after the stream was returned.
    pub fn handle(&self) -> ClientHandle<E> {
        self.clone()
    }

    /// Joins one or several rooms. Any string is a room name, up to the server's
    /// [`max_room_name_len`](crate::SseServerBuilder::max_room_name_len). Joining after the
    /// client disconnected does nothing.
    ///
    /// # Errors
    ///
    /// [`JoinError::RoomNameTooLong`], and then no room is joined.
    pub fn join(&self, rooms: impl RoomParam) -> Result<(), JoinError> {
        let max = self.shared.ns.config().max_room_name_len;
        let rooms: Vec<Room> = rooms.into_rooms().collect();
        if let Some(room) = rooms.iter().find(|room| room.len() > max) {
            return Err(JoinError::RoomNameTooLong {
                len: room.len(),
                max,
            });
        }
        self.shared.ns.join(self.shared.id, rooms);
        Ok(())
    }

    /// Leaves one or several rooms; leaving a room it is not in does nothing.
    pub fn leave(&self, rooms: impl RoomParam) {
        self.shared.ns.leave(self.shared.id, rooms.into_rooms());
    }

    /// The rooms the client is in, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.shared.ns.rooms_of(self.shared.id)
    }

    /// Resolves when the client disconnects, for whatever reason (its connection closed, it was
    /// too slow, `disconnect`, shutdown): Socket.io's `disconnect` event. Resolves at once if it
    /// already has.
    ///
    /// ```no_run
    /// # use sse_manager::{ClientHandle, SseEvents};
    /// # async fn track<E: SseEvents>(handle: ClientHandle<E>) {
    /// tokio::spawn(async move {
    ///     handle.closed().await;
    ///     println!("client {} left", handle.id());
    /// });
    /// # }
    /// ```
    pub async fn closed(&self) {
        self.shared.queue.closed().await;
    }

    /// Whether the client is still registered.
    pub fn is_connected(&self) -> bool {
        !self.shared.queue.is_closing() && self.shared.ns.contains(self.shared.id)
    }

    /// Sends an event to this client only.
    pub fn emit(&self, event: E) -> EmitFuture {
        self.shared.ns.emit(
            Selector {
                scope: Scope::Client(self.shared.id),
                except: Vec::new(),
            },
            event,
        )
    }

    /// Ends the client's stream now and removes it from every room. Its `EventSource` will
    /// reconnect unless the page closes it; refuse it in middleware to keep it out.
    pub fn disconnect(&self) {
        self.shared.ns.remove(self.shared.id);
    }
}

impl<E: SseEvents> Emit<E> for &ClientHandle<E> {
    type Output = EmitFuture;

    fn emit_event(self, event: E) -> EmitFuture {
        self.emit(event)
    }
}

impl<E> fmt::Debug for ClientHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandle")
            .field("id", &self.shared.id)
            .field("namespace", &self.shared.ns.path())
            .finish_non_exhaustive()
    }
}

/// Removes the client from its namespace (and so gives back its connection slot) when dropped.
pub(crate) struct ClientGuard {
    pub(crate) ns: Arc<NsCore>,
    id: ClientId,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.ns.remove(self.id);
    }
}
