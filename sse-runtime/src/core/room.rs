//! The room index of one namespace: which clients are connected, and which rooms each is in.
//!
//! Two maps kept in step under the namespace's one lock (see `namespace::State`): clients → rooms
//! and rooms → clients. A room exists exactly while it has members; the last `leave` (or the
//! last member's disconnect) frees it.
//!
//! A client is pending from `connect` until its stream starts, and live after: a pending client
//! is a member like any other (counted, in its rooms), but broadcasts skip its queue.

use crate::core::queue::{Close, Queue};
use crate::core::server::ConnectionPermit;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A room name. Any string is a valid room: names never reach the wire.
pub(crate) type Room = Arc<str>;

/// Identifies one connection, unique across every instance of a cluster: the process's random
/// node id and a counter. Written `<node>-<n>` in hex (`9f3c27d1a0b4e5f6-1a`).
///
/// ```
/// # use sse_manager::ClientId;
/// # fn check(id: ClientId) {
/// let text = id.to_string();
/// assert_eq!(text.parse::<ClientId>(), Ok(id));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId {
    node: u64,
    n: u64,
}

impl ClientId {
    /// Its two parts, for an adapter's binary encoding.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn parts(self) -> (u64, u64) {
        (self.node, self.n)
    }

    /// The id of these two parts.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn from_parts(node: u64, n: u64) -> Self {
        ClientId { node, n }
    }

    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ClientId {
            node: node_id(),
            n: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// This process's node id: random, drawn once.
fn node_id() -> u64 {
    static NODE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NODE.get_or_init(crate::core::id::random_u64)
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{:x}", self.node, self.n)
    }
}

/// A string that is not a [`ClientId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a client id of the form `<hex node>-<hex n>`")]
pub struct ParseClientIdError(String);

impl serde::Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for ClientId {
    type Err = ParseClientIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseClientIdError(text.to_owned());
        let hex = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then(|| u64::from_str_radix(s, 16).ok())
                .flatten()
        };
        let (node, n) = text.split_once('-').ok_or_else(error)?;
        let id = ClientId {
            node: hex(node).ok_or_else(error)?,
            n: hex(n).ok_or_else(error)?,
        };
        // One id, one spelling.
        if id.to_string() != text {
            return Err(error());
        }
        Ok(id)
    }
}

/// One or several room names: `"a"`, `String`, `["a", "b"]`, `vec![..]`, `&[..]`.
pub trait RoomParam {
    /// The rooms, as the index stores them.
    type Rooms: Iterator<Item = Room>;

    /// Converts into the rooms.
    fn into_rooms(self) -> Self::Rooms;
}

impl RoomParam for &str {
    type Rooms = std::iter::Once<Room>;
    fn into_rooms(self) -> Self::Rooms {
        std::iter::once(Room::from(self))
    }
}

impl RoomParam for &String {
    type Rooms = std::iter::Once<Room>;
    fn into_rooms(self) -> Self::Rooms {
        std::iter::once(Room::from(self.as_str()))
    }
}

impl RoomParam for String {
    type Rooms = std::iter::Once<Room>;
    fn into_rooms(self) -> Self::Rooms {
        std::iter::once(Room::from(self))
    }
}

impl<const N: usize> RoomParam for [&str; N] {
    type Rooms = std::array::IntoIter<Room, N>;
    fn into_rooms(self) -> Self::Rooms {
        self.map(Room::from).into_iter()
    }
}

impl<const N: usize> RoomParam for [String; N] {
    type Rooms = std::iter::Map<std::array::IntoIter<String, N>, fn(String) -> Room>;
    fn into_rooms(self) -> Self::Rooms {
        self.into_iter().map(Room::from as fn(String) -> Room)
    }
}

impl<'a> RoomParam for &'a [&'a str] {
    type Rooms = std::iter::Map<std::slice::Iter<'a, &'a str>, fn(&&str) -> Room>;
    fn into_rooms(self) -> Self::Rooms {
        self.iter().map(|room| Room::from(*room))
    }
}

impl<'a> RoomParam for &'a [String] {
    type Rooms = std::iter::Map<std::slice::Iter<'a, String>, fn(&String) -> Room>;
    fn into_rooms(self) -> Self::Rooms {
        self.iter().map(|room| Room::from(room.as_str()))
    }
}

impl<'a> RoomParam for Vec<&'a str> {
    type Rooms = std::iter::Map<std::vec::IntoIter<&'a str>, fn(&str) -> Room>;
    fn into_rooms(self) -> Self::Rooms {
        self.into_iter().map(|room| Room::from(room))
    }
}

impl RoomParam for Vec<String> {
    type Rooms = std::iter::Map<std::vec::IntoIter<String>, fn(String) -> Room>;
    fn into_rooms(self) -> Self::Rooms {
        self.into_iter().map(Room::from as fn(String) -> Room)
    }
}

/// A connected client as the index sees it.
pub(crate) struct Member {
    /// The client's bounded queue; emit pushes without waiting.
    pub(crate) queue: Arc<Queue>,
    /// While pending (from `connect` until `into_stream`): the last id emitted before it
    /// connected. Broadcasts then skip the queue, so a handler that awaits before streaming cannot
    /// get its client disconnected as slow; its stream starts with what it missed since that id,
    /// from history, in the same critical section that clears this. Frames sent to the client
    /// alone still go to the queue: history does not keep them. `None` once live.
    pending: Option<u64>,
    /// The rooms it is in; each is also a key of `Index::rooms` containing this client.
    rooms: HashSet<Room>,
    /// Its share of the connection limits, given back the moment it is removed: a client that
    /// stopped reading may keep its TCP connection open for a long time, but not its slot.
    _permit: Option<ConnectionPermit>,
}

impl Member {
    /// A pending client that connected after event `connected_after`.
    pub(crate) fn new(
        queue: Arc<Queue>,
        permit: Option<ConnectionPermit>,
        connected_after: u64,
    ) -> Self {
        Member {
            queue,
            pending: Some(connected_after),
            rooms: HashSet::new(),
            _permit: permit,
        }
    }

    /// Whether a frame for `scope` goes to this client's queue now.
    fn takes(&self, scope: &Scope) -> bool {
        self.pending.is_none() || matches!(scope, Scope::Client(_))
    }
}

/// Who an emit goes to. Serializable: an adapter sends it to every instance with the event, and
/// keeps it in history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) struct Selector {
    pub(crate) scope: Scope,
    /// Members of these rooms are skipped, whatever `scope` says.
    pub(crate) except: Vec<Room>,
}

impl Selector {
    /// Every client of the namespace.
    pub(crate) fn all() -> Self {
        Selector {
            scope: Scope::Namespace,
            except: Vec::new(),
        }
    }

    /// Whether a client in `rooms` is selected; what history replays by.
    pub(crate) fn matches(&self, rooms: &HashSet<Room>) -> bool {
        let selected = match &self.scope {
            Scope::Namespace => true,
            Scope::Rooms(to) => to.iter().any(|room| rooms.contains(room)),
            Scope::Client(_) => false,
        };
        selected && !self.except.iter().any(|room| rooms.contains(room))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Scope {
    /// Every client of the namespace.
    Namespace,
    /// Members of any of these rooms, each once.
    Rooms(Vec<Room>),
    /// One client.
    Client(ClientId),
}

#[derive(Default)]
pub(crate) struct Index {
    /// Every client from `connect` until it is removed.
    clients: HashMap<ClientId, Member>,
    /// Room → members; never holds an empty set.
    rooms: HashMap<Room, HashSet<ClientId>>,
    /// The queues each recent broadcast selector picked, reused until the set of live clients or
    /// their rooms change (a pending client connecting changes nothing): a delivery holds the
    /// index lock to look one up, and pushes to the queues after releasing it.
    targets: HashMap<Selector, Targets>,
}

/// The queues a selector picks: `(client, queue)`.
pub(crate) type Targets = Arc<[(ClientId, Arc<Queue>)]>;

/// Selectors whose targets are kept at most; beyond, the cache starts over.
const MAX_CACHED_SELECTORS: usize = 256;

impl Index {
    pub(crate) fn insert(&mut self, id: ClientId, member: Member) {
        self.clients.insert(id, member);
    }

    /// Removes a client from the namespace and from every room; frees rooms left empty and ends
    /// the client's stream.
    pub(crate) fn remove(&mut self, id: ClientId) -> bool {
        let Some(member) = self.clients.remove(&id) else {
            return false;
        };
        if member.pending.is_none() {
            // Its queue is closed, so a cached target only costs memory; let it go.
            self.targets.clear();
        }
        for room in &member.rooms {
            self.drop_membership(room, id);
        }
        member.queue.close(Close::Now);
        true
    }

    /// Ends every client's stream after it wrote what is queued, and forgets them all.
    pub(crate) fn drain_all(&mut self) {
        for member in self.clients.values() {
            member.queue.close(Close::Drain);
        }
        self.clients.clear();
        self.rooms.clear();
        self.targets.clear();
    }

    /// Adds a connected client to rooms; `false` if it is no longer connected.
    pub(crate) fn join(&mut self, id: ClientId, rooms: impl Iterator<Item = Room>) -> bool {
        let Some(member) = self.clients.get_mut(&id) else {
            return false;
        };
        let mut changed = false;
        for room in rooms {
            if member.rooms.insert(room.clone()) {
                self.rooms.entry(room).or_default().insert(id);
                changed = true;
            }
        }
        // A pending client is no broadcast's target yet.
        if changed && member.pending.is_none() {
            self.targets.clear();
        }
        true
    }

    pub(crate) fn leave(&mut self, id: ClientId, rooms: impl Iterator<Item = Room>) {
        let Some(member) = self.clients.get_mut(&id) else {
            return;
        };
        let left: Vec<Room> = rooms.filter(|room| member.rooms.remove(room)).collect();
        if !left.is_empty() && member.pending.is_none() {
            self.targets.clear();
        }
        for room in &left {
            self.drop_membership(room, id);
        }
    }

    fn drop_membership(&mut self, room: &str, id: ClientId) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .clients
            .get(&id)
            .map(|m| m.rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort_unstable();
        rooms
    }

    /// Makes a pending client live: from now on broadcasts reach its queue. Returns the last id
    /// before it connected and its rooms; `None` if it is gone (or already live).
    pub(crate) fn start(&mut self, id: ClientId) -> Option<(u64, &HashSet<Room>)> {
        let member = self.clients.get_mut(&id)?;
        let connected_after = member.pending.take()?;
        self.targets.clear();
        Some((connected_after, &member.rooms))
    }

    pub(crate) fn contains(&self, id: ClientId) -> bool {
        self.clients.contains_key(&id)
    }

    pub(crate) fn client_count(&self) -> usize {
        self.clients.len()
    }

    pub(crate) fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub(crate) fn room_size(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, HashSet::len)
    }

    pub(crate) fn room_names(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.rooms.keys().map(|r| r.to_string()).collect();
        rooms.sort_unstable();
        rooms
    }

    /// Calls `f` once for every client the selector picks whose queue takes the frame now (not a
    /// pending client for a broadcast), however many of its rooms a client is in.
    pub(crate) fn for_each(&self, selector: &Selector, mut f: impl FnMut(ClientId, &Member)) {
        let excluded: HashSet<ClientId> = selector
            .except
            .iter()
            .filter_map(|room| self.rooms.get(room))
            .flatten()
            .copied()
            .collect();
        let mut visit = |id: &ClientId| {
            if excluded.is_empty() || !excluded.contains(id) {
                match self.clients.get(id) {
                    Some(member) if member.takes(&selector.scope) => f(*id, member),
                    _ => {}
                }
            }
        };
        match &selector.scope {
            Scope::Namespace => self.clients.keys().for_each(&mut visit),
            Scope::Client(id) => visit(id),
            Scope::Rooms(rooms) if rooms.len() == 1 => {
                if let Some(members) = self.rooms.get(&rooms[0]) {
                    members.iter().for_each(&mut visit);
                }
            }
            Scope::Rooms(rooms) => {
                let mut seen = HashSet::new();
                for members in rooms.iter().filter_map(|room| self.rooms.get(room)) {
                    for id in members {
                        if seen.insert(*id) {
                            visit(id);
                        }
                    }
                }
            }
        }
    }

    /// The queues a frame for `selector` goes to now, each once: shared with earlier calls while
    /// nothing changed (a one-client selector is never cached).
    pub(crate) fn targets(&mut self, selector: &Selector) -> Targets {
        if let Some(targets) = self.targets.get(selector) {
            return targets.clone();
        }
        let mut picked = Vec::new();
        self.for_each(selector, |id, member| {
            picked.push((id, member.queue.clone()))
        });
        let targets: Targets = picked.into();
        if !matches!(selector.scope, Scope::Client(_)) {
            if self.targets.len() >= MAX_CACHED_SELECTORS {
                self.targets.clear();
            }
            self.targets.insert(selector.clone(), targets.clone());
        }
        targets
    }

    /// How many clients the selector picks whose queue takes the frame now.
    pub(crate) fn count(&self, selector: &Selector) -> usize {
        let mut n = 0;
        self.for_each(selector, |_, _| n += 1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Member {
        Member::new(Arc::new(Queue::new(1, false)), None, 0)
    }

    /// Inserts a client whose stream has started.
    fn insert_live(index: &mut Index, id: ClientId) {
        index.insert(id, member());
        assert!(index.start(id).is_some());
    }

    fn picked(index: &Index, selector: &Selector) -> Vec<ClientId> {
        let mut ids = Vec::new();
        index.for_each(selector, |id, _| ids.push(id));
        ids.sort();
        ids
    }

    fn rooms(names: &[&str]) -> Vec<Room> {
        names.iter().map(|n| Room::from(*n)).collect()
    }

    #[test]
    fn union_is_deduplicated_and_except_wins() {
        let mut index = Index::default();
        let (a, b, c) = (ClientId::next(), ClientId::next(), ClientId::next());
        for id in [a, b, c] {
            insert_live(&mut index, id);
        }
        index.join(a, rooms(&["x", "y"]).into_iter());
        index.join(b, rooms(&["y"]).into_iter());
        index.join(c, rooms(&["z"]).into_iter());

        let to = |names: &[&str], except: &[&str]| Selector {
            scope: Scope::Rooms(rooms(names)),
            except: rooms(except),
        };
        assert_eq!(picked(&index, &to(&["x", "y", "x"], &[])), vec![a, b]);
        assert_eq!(picked(&index, &to(&["x", "y"], &["x"])), vec![b]);
        assert_eq!(picked(&index, &to(&["nobody"], &[])), vec![]);
        let all_but_y = Selector {
            scope: Scope::Namespace,
            except: rooms(&["y"]),
        };
        assert_eq!(picked(&index, &all_but_y), vec![c]);
    }

    /// The cached targets of a selector always equal what the index picks now, through every
    /// change; a pending client connecting keeps the cache.
    #[test]
    fn cached_targets_follow_every_change() {
        let mut index = Index::default();
        let to_x = Selector {
            scope: Scope::Rooms(rooms(&["x"])),
            except: rooms(&["muted"]),
        };
        let everyone = Selector::all();
        let targets = |index: &mut Index, selector: &Selector| {
            let mut ids: Vec<ClientId> =
                index.targets(selector).iter().map(|(id, _)| *id).collect();
            ids.sort();
            assert_eq!(ids, picked(index, selector), "cache agrees with the index");
            ids
        };
        let (a, b) = (ClientId::next(), ClientId::next());
        insert_live(&mut index, a);
        index.join(a, rooms(&["x"]).into_iter());
        assert_eq!(targets(&mut index, &to_x), vec![a]);
        let cached = index.targets(&to_x);
        // A pending client, even in the room: not a target, and the cache stays.
        index.insert(b, member());
        index.join(b, rooms(&["x"]).into_iter());
        assert!(Arc::ptr_eq(&cached, &index.targets(&to_x)));
        assert_eq!(targets(&mut index, &everyone), vec![a]);
        // Live now.
        index.start(b);
        assert_eq!(targets(&mut index, &to_x), vec![a, b]);
        index.join(a, rooms(&["muted"]).into_iter());
        assert_eq!(targets(&mut index, &to_x), vec![b]);
        index.leave(a, rooms(&["muted"]).into_iter());
        assert_eq!(targets(&mut index, &to_x), vec![a, b]);
        index.remove(b);
        assert_eq!(targets(&mut index, &to_x), vec![a]);
        assert_eq!(targets(&mut index, &everyone), vec![a]);
        index.drain_all();
        assert_eq!(targets(&mut index, &to_x), vec![]);
    }

    #[test]
    fn client_ids_are_distinct_and_have_one_spelling() {
        let (a, b) = (ClientId::next(), ClientId::next());
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<ClientId>(), Ok(a));
        for bad in ["", "1", "a-", "-1", "A-1", "0a-1", "a-01", "a-1-2", "g-1"] {
            assert!(bad.parse::<ClientId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn selectors_travel_as_json() {
        let id = ClientId::next();
        for selector in [
            Selector {
                scope: Scope::Rooms(rooms(&["a", "b"])),
                except: rooms(&["muted"]),
            },
            Selector {
                scope: Scope::Namespace,
                except: Vec::new(),
            },
            Selector {
                scope: Scope::Client(id),
                except: Vec::new(),
            },
        ] {
            let json = serde_json::to_string(&selector).unwrap();
            assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), selector);
        }
        let json = serde_json::to_string(&Selector {
            scope: Scope::Client(id),
            except: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            json,
            format!(r#"{{"scope":{{"client":"{id}"}},"except":[]}}"#)
        );
    }

    #[test]
    fn a_pending_client_is_a_member_but_takes_only_its_own_frames() {
        let mut index = Index::default();
        let (pending, live) = (ClientId::next(), ClientId::next());
        index.insert(pending, member());
        insert_live(&mut index, live);
        index.join(pending, rooms(&["x"]).into_iter());
        index.join(live, rooms(&["x"]).into_iter());
        assert_eq!((index.client_count(), index.room_size("x")), (2, 2));

        let to_x = Selector {
            scope: Scope::Rooms(rooms(&["x"])),
            except: Vec::new(),
        };
        let everyone = Selector {
            scope: Scope::Namespace,
            except: Vec::new(),
        };
        let just = |id| Selector {
            scope: Scope::Client(id),
            except: Vec::new(),
        };
        assert_eq!(picked(&index, &to_x), vec![live]);
        assert_eq!(picked(&index, &everyone), vec![live]);
        assert_eq!(picked(&index, &just(pending)), vec![pending]);

        let (connected_after, joined) = index.start(pending).unwrap();
        assert_eq!((connected_after, joined.len()), (0, 1));
        assert!(index.start(pending).is_none(), "started once");
        assert_eq!(picked(&index, &to_x), {
            let mut both = vec![pending, live];
            both.sort();
            both
        });
    }

    #[test]
    fn empty_rooms_are_freed() {
        let mut index = Index::default();
        let a = ClientId::next();
        insert_live(&mut index, a);
        index.join(a, rooms(&["x", "y"]).into_iter());
        assert_eq!(index.room_count(), 2);
        index.leave(a, rooms(&["x"]).into_iter());
        assert_eq!(index.room_names(), vec!["y".to_string()]);
        assert!(index.remove(a));
        assert_eq!((index.room_count(), index.client_count()), (0, 0));
        assert!(
            !index.join(a, rooms(&["x"]).into_iter()),
            "a removed client cannot rejoin"
        );
        assert_eq!(index.room_count(), 0);
    }
}
