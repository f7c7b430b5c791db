//! Questions and commands for every instance of a cluster: member counts and room lists across
//! instances, and making a client join, leave or disconnect wherever it is connected.
//!
//! With the in-memory adapter the cluster is this instance. With Redis, each request goes to
//! every live instance, and waits for their answers up to the adapter's request timeout; a
//! [`ClusterAnswer`] says who answered and who did not, so a partial answer is never mistaken
//! for a complete one.

use crate::core::client::JoinError;
use crate::core::namespace::NsCore;
use crate::core::room::{ClientId, Room, RoomParam};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What one instance is asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Request {
    ClientCount,
    RoomSize(Room),
    Rooms,
    Join(ClientId, Vec<Room>),
    Leave(ClientId, Vec<Room>),
    Disconnect(ClientId),
}

impl Request {
    /// Whether the request is about one client, which only one instance can have.
    pub(crate) fn client(&self) -> Option<ClientId> {
        match self {
            Request::Join(id, _) | Request::Leave(id, _) | Request::Disconnect(id) => Some(*id),
            _ => None,
        }
    }
}

/// What one instance answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reply {
    Count(usize),
    Rooms(Vec<String>),
    /// Whether the instance has the client (and did what was asked).
    Found(bool),
}

/// The replies of the instances that answered (this one first), and the live instances that did
/// not answer in time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answers {
    pub(crate) replies: Vec<(String, Reply)>,
    pub(crate) missing: Vec<String>,
}

impl NsCore {
    /// This instance's reply.
    pub(crate) fn answer(&self, request: &Request) -> Reply {
        match request {
            Request::ClientCount => Reply::Count(self.index().client_count()),
            Request::RoomSize(room) => Reply::Count(self.index().room_size(room)),
            Request::Rooms => Reply::Rooms(self.index().room_names()),
            Request::Join(id, rooms) => Reply::Found(self.index().join(*id, rooms.iter().cloned())),
            Request::Leave(id, rooms) => {
                let mut index = self.index();
                let found = index.contains(*id);
                index.leave(*id, rooms.iter().cloned());
                Reply::Found(found)
            }
            Request::Disconnect(id) => Reply::Found(self.index().remove(*id)),
        }
    }
}

/// The answer of a cluster-wide operation: the value over the instances that answered, which
/// ones did (their instance ids), and which live ones did not in time. Check
/// [`is_complete`](Self::is_complete) before trusting a count as the whole cluster's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ClusterAnswer<T> {
    /// The value over the instances that answered.
    pub value: T,
    /// Instances that answered, this one first.
    pub answered: Vec<String>,
    /// Live instances that did not answer within the request timeout (or every other instance
    /// this one last knew of, when Redis cannot be reached).
    pub missing: Vec<String>,
}

impl<T> ClusterAnswer<T> {
    /// Whether every live instance answered.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Cluster-wide operations on one namespace; from [`Namespace::cluster`](crate::Namespace::cluster).
///
/// ```
/// # use sse_manager::{SseEvents, SseServer};
/// # #[derive(SseEvents)] enum Football { Goal { minute: u32 } }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let server = SseServer::builder().build().unwrap();
/// let football = server.of::<Football>("/football").unwrap();
/// let fans = football.cluster().room_size("match-42").await;
/// if fans.is_complete() {
///     println!("{} fans in the whole cluster", fans.value);
/// } else {
///     println!("at least {} fans; no answer from {:?}", fans.value, fans.missing);
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Cluster {
    core: Arc<NsCore>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.core.path())
            .finish()
    }
}

impl Cluster {
    pub(crate) fn new(core: Arc<NsCore>) -> Self {
        Cluster { core }
    }

    async fn ask(&self, request: Request) -> Answers {
        self.core.adapter().request(request).await
    }

    /// Clients connected to the namespace on every instance.
    pub async fn client_count(&self) -> ClusterAnswer<usize> {
        sum(self.ask(Request::ClientCount).await)
    }

    /// Members of `room` on every instance.
    pub async fn room_size(&self, room: &str) -> ClusterAnswer<usize> {
        sum(self.ask(Request::RoomSize(Room::from(room))).await)
    }

    /// Rooms with at least one member on some instance, sorted.
    pub async fn rooms(&self) -> ClusterAnswer<Vec<String>> {
        let answers = self.ask(Request::Rooms).await;
        let mut rooms = BTreeSet::new();
        for (_, reply) in &answers.replies {
            if let Reply::Rooms(names) = reply {
                rooms.extend(names.iter().cloned());
            }
        }
        finish(rooms.into_iter().collect(), answers)
    }

    /// Makes the client `id` join `rooms`, on whichever instance it is connected to. The value
    /// says whether it was found; `false` with missing instances means "not on those that
    /// answered".
    ///
    /// # Errors
    ///
    /// [`JoinError::RoomNameTooLong`], and then nothing is asked.
    pub async fn join(
        &self,
        id: ClientId,
        rooms: impl RoomParam,
    ) -> Result<ClusterAnswer<bool>, JoinError> {
        let max = self.core.config().max_room_name_len;
        let rooms: Vec<Room> = rooms.into_rooms().collect();
        if let Some(room) = rooms.iter().find(|room| room.len() > max) {
            return Err(JoinError::RoomNameTooLong {
                len: room.len(),
                max,
            });
        }
        Ok(found(self.ask(Request::Join(id, rooms)).await))
    }

    /// Makes the client `id` leave `rooms`, wherever it is connected; the value says whether it
    /// was found.
    pub async fn leave(&self, id: ClientId, rooms: impl RoomParam) -> ClusterAnswer<bool> {
        found(
            self.ask(Request::Leave(id, rooms.into_rooms().collect()))
                .await,
        )
    }

    /// Ends the stream of client `id`, wherever it is connected, as
    /// [`ClientHandle::disconnect`](crate::ClientHandle::disconnect) does; the value says whether
    /// it was found.
    pub async fn disconnect(&self, id: ClientId) -> ClusterAnswer<bool> {
        found(self.ask(Request::Disconnect(id)).await)
    }
}

fn sum(answers: Answers) -> ClusterAnswer<usize> {
    let total = answers
        .replies
        .iter()
        .map(|(_, reply)| match reply {
            Reply::Count(n) => *n,
            _ => 0,
        })
        .sum();
    finish(total, answers)
}

fn found(answers: Answers) -> ClusterAnswer<bool> {
    let any = answers
        .replies
        .iter()
        .any(|(_, reply)| *reply == Reply::Found(true));
    finish(any, answers)
}

fn finish<T>(value: T, answers: Answers) -> ClusterAnswer<T> {
    ClusterAnswer {
        value,
        answered: answers.replies.into_iter().map(|(who, _)| who).collect(),
        missing: answers.missing,
    }
}
