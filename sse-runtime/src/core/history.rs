//! The recent events of one namespace, for `Last-Event-ID` resumption.
//!
//! ## Window
//!
//! At most `max_events` events and `max_bytes` of frames, none older than `max_age`; older ones
//! are evicted as new ones arrive. Each entry keeps the frame (a refcounted `Bytes`, shared with the live queues) and the
//! rooms/except it targeted, so a resuming client gets exactly what it would have received live.
//! Events sent to one client (`client.emit`) are not kept: a reconnecting client has a new id.
//!
//! ## What a resume can say
//!
//! - every event after the given id that the client's rooms select, oldest first;
//! - or that the id cannot be honoured: older than the window ([`Gap::Expired`]), newer than any
//!   event ([`Gap::Unknown`]). History knows offsets within the namespace's epoch; an id of
//!   another epoch (an earlier run, another instance) is refused before it gets here.

use crate::core::queue::Frame;
use crate::core::room::{Room, Selector};
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// How much history a namespace keeps for resumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) max_events: usize,
    pub(crate) max_age: Duration,
    /// Total frame bytes kept; big payloads evict sooner.
    pub(crate) max_bytes: usize,
}

struct Entry {
    id: u64,
    at: Instant,
    selector: Selector,
    frame: Bytes,
}

/// How much one replay read returns: events up to offset `through` (the fence), at most
/// `max_frames` of them and about `max_bytes` (at least one frame), so a client that asked for
/// an old id and never reads holds one page, not the whole window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) through: u64,
    pub(crate) max_frames: usize,
    pub(crate) max_bytes: usize,
}

/// One read of history, oldest first.
#[derive(Debug)]
pub(crate) struct Paged {
    pub(crate) frames: Vec<Frame>,
    /// Whether more events up to the fence follow the last one.
    pub(crate) more: bool,
}

/// Why a resume cannot replay exactly what was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Events after the id were evicted (or history is off).
    Expired,
    /// The id is newer than every event of this namespace.
    Unknown,
}

pub(crate) struct History {
    window: Option<Window>,
    /// Ascending ids.
    entries: VecDeque<Entry>,
    /// Sum of the entries' frame lengths.
    bytes: usize,
    /// The highest id that was evicted, or was never stored because history is off; a resume from
    /// below it has lost events.
    forgotten_through: u64,
}

impl History {
    /// History of an epoch whose offsets start at 1.
    pub(crate) fn new(window: Option<Window>) -> Self {
        History {
            window,
            entries: VecDeque::new(),
            bytes: 0,
            forgotten_through: 0,
        }
    }

    /// Records an event sent to rooms or the whole namespace.
    pub(crate) fn push(&mut self, id: u64, selector: &Selector, frame: &Bytes, now: Instant) {
        let Some(window) = self.window else {
            self.forgotten_through = id;
            return;
        };
        self.entries.push_back(Entry {
            id,
            at: now,
            selector: selector.clone(),
            frame: frame.clone(),
        });
        self.bytes += frame.len();
        while self.entries.len() > window.max_events || self.bytes > window.max_bytes {
            self.evict_front();
        }
        self.evict_expired(now);
    }

    fn evict_expired(&mut self, now: Instant) {
        let Some(window) = self.window else { return };
        while self
            .entries
            .front()
            .is_some_and(|entry| now.duration_since(entry.at) > window.max_age)
        {
            self.evict_front();
        }
    }

    fn evict_front(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes -= entry.frame.len();
            self.forgotten_through = entry.id;
        }
    }

    /// The events after `last_id` that a client in `rooms` would have received, up to `page`;
    /// `next_id` is the id the next event will get.
    pub(crate) fn replay(
        &mut self,
        last_id: u64,
        next_id: u64,
        rooms: &HashSet<Room>,
        now: Instant,
        page: Page,
    ) -> Result<Paged, Gap> {
        if last_id >= next_id {
            return Err(Gap::Unknown);
        }
        self.evict_expired(now);
        // Lost only if an event the client is owed, up to the fence, was forgotten; events after
        // the fence reached it live, forgotten since or not (replay reads lazily, page by page).
        if last_id < self.forgotten_through.min(page.through) {
            return Err(Gap::Expired);
        }
        Ok(self.matching_after(last_id, rooms, page))
    }

    /// [`replay`](Self::replay), or with `lenient`, when events the client was owed were
    /// evicted, [`retained_after`](Self::retained_after): what an adapter's replay answers.
    pub(crate) fn read(
        &mut self,
        last_id: u64,
        next_id: u64,
        rooms: &HashSet<Room>,
        now: Instant,
        page: Page,
        lenient: bool,
    ) -> Result<Paged, Gap> {
        match self.replay(last_id, next_id, rooms, now, page) {
            Err(Gap::Expired) if lenient => Ok(self.retained_after(last_id, rooms, now, page)),
            paged => paged,
        }
    }

    /// What the window still holds after `last_id` for a client in `rooms`, whether or not
    /// events were evicted in between: what follows a `sse:resync`, which reports the gap.
    pub(crate) fn retained_after(
        &mut self,
        last_id: u64,
        rooms: &HashSet<Room>,
        now: Instant,
        page: Page,
    ) -> Paged {
        self.evict_expired(now);
        self.matching_after(last_id, rooms, page)
    }

    fn matching_after(&self, last_id: u64, rooms: &HashSet<Room>, page: Page) -> Paged {
        let start = self.entries.partition_point(|entry| entry.id <= last_id);
        let mut frames = Vec::new();
        let mut bytes = 0;
        let mut matching = self
            .entries
            .range(start..)
            .take_while(|entry| entry.id <= page.through)
            .filter(|entry| entry.selector.matches(rooms));
        for entry in matching.by_ref() {
            frames.push(Frame {
                id: entry.id,
                bytes: entry.frame.clone(),
            });
            bytes += entry.frame.len();
            if frames.len() >= page.max_frames || bytes >= page.max_bytes {
                break;
            }
        }
        let more = matching.next().is_some();
        Paged { frames, more }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::room::Scope;

    fn to(rooms: &[&str]) -> Selector {
        Selector {
            scope: Scope::Rooms(rooms.iter().map(|r| Room::from(*r)).collect()),
            except: Vec::new(),
        }
    }

    fn member_of(rooms: &[&str]) -> HashSet<Room> {
        rooms.iter().map(|r| Room::from(*r)).collect()
    }

    const ALL: Page = Page {
        through: u64::MAX,
        max_frames: usize::MAX,
        max_bytes: usize::MAX,
    };

    fn ids(paged: Result<Paged, Gap>) -> Vec<u64> {
        paged.unwrap().frames.iter().map(|f| f.id).collect()
    }

    #[test]
    fn replays_what_the_rooms_select_after_the_id() {
        let now = Instant::now();
        let mut history = History::new(Some(Window {
            max_events: 10,
            max_age: Duration::from_secs(60),
            max_bytes: usize::MAX,
        }));
        let everyone = Selector {
            scope: Scope::Namespace,
            except: vec![Room::from("muted")],
        };
        history.push(1, &to(&["a"]), &Bytes::new(), now);
        history.push(2, &to(&["b"]), &Bytes::new(), now);
        history.push(3, &everyone, &Bytes::new(), now);
        history.push(4, &to(&["a", "b"]), &Bytes::new(), now);
        assert_eq!(
            ids(history.replay(0, 5, &member_of(&["a"]), now, ALL)),
            [1, 3, 4]
        );
        assert_eq!(
            ids(history.replay(1, 5, &member_of(&["b"]), now, ALL)),
            [2, 3, 4]
        );
        assert_eq!(
            ids(history.replay(3, 5, &member_of(&["a", "muted"]), now, ALL)),
            [4]
        );
        assert_eq!(
            ids(history.replay(2, 5, &member_of(&["muted"]), now, ALL)),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(history.replay(4, 5, &member_of(&["a"]), now, ALL)),
            Vec::<u64>::new()
        );
        assert_eq!(
            history.replay(5, 5, &member_of(&["a"]), now, ALL).err(),
            Some(Gap::Unknown)
        );
    }

    #[test]
    fn evicted_events_make_older_ids_expire() {
        let start = Instant::now();
        let mut history = History::new(Some(Window {
            max_events: 3,
            max_age: Duration::from_secs(60),
            max_bytes: usize::MAX,
        }));
        for id in 1..=5 {
            history.push(id, &to(&["a"]), &Bytes::new(), start);
        }
        assert_eq!(history.len(), 3);
        let rooms = member_of(&["a"]);
        assert_eq!(
            history.replay(1, 6, &rooms, start, ALL).err(),
            Some(Gap::Expired)
        );
        assert_eq!(ids(history.replay(2, 6, &rooms, start, ALL)), [3, 4, 5]);
        let retained: Vec<u64> = history
            .retained_after(1, &rooms, start, ALL)
            .frames
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(retained, [3, 4, 5], "what is left after the gap");

        let later = start + Duration::from_secs(61);
        assert_eq!(
            history.replay(2, 6, &rooms, later, ALL).err(),
            Some(Gap::Expired)
        );
        assert_eq!(
            ids(history.replay(5, 6, &rooms, later, ALL)),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn big_frames_evict_by_bytes() {
        let now = Instant::now();
        let window = Some(Window {
            max_events: 100,
            max_age: Duration::from_secs(60),
            max_bytes: 25,
        });
        let mut history = History::new(window);
        for id in 1..=5 {
            history.push(id, &to(&["a"]), &Bytes::from(vec![b'x'; 10]), now);
        }
        assert_eq!(history.len(), 2, "two 10-byte frames fit in 25 bytes");
        let rooms = member_of(&["a"]);
        assert_eq!(ids(history.replay(3, 6, &rooms, now, ALL)), [4, 5]);
        assert_eq!(
            history.replay(2, 6, &rooms, now, ALL).err(),
            Some(Gap::Expired)
        );
    }

    #[test]
    fn without_history_only_the_latest_id_resumes() {
        let now = Instant::now();
        let mut history = History::new(None);
        history.push(1, &to(&["a"]), &Bytes::new(), now);
        history.push(2, &to(&["a"]), &Bytes::new(), now);
        assert_eq!(
            history.replay(1, 3, &member_of(&["a"]), now, ALL).err(),
            Some(Gap::Expired)
        );
        assert_eq!(
            ids(history.replay(2, 3, &member_of(&["a"]), now, ALL)),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn pages_stop_at_the_fence_and_the_limits_and_say_whether_more_follows() {
        let now = Instant::now();
        let mut history = History::new(Some(Window {
            max_events: 100,
            max_age: Duration::from_secs(60),
            max_bytes: usize::MAX,
        }));
        for id in 1..=10 {
            let room = if id % 2 == 0 { "a" } else { "b" };
            history.push(id, &to(&[room]), &Bytes::from(vec![b'x'; 10]), now);
        }
        let rooms = member_of(&["a"]);
        let page = |through, max_frames, max_bytes| Page {
            through,
            max_frames,
            max_bytes,
        };
        let read = |history: &mut History, after, page| {
            let paged = history.replay(after, 11, &rooms, now, page).unwrap();
            (
                paged.frames.iter().map(|f| f.id).collect::<Vec<_>>(),
                paged.more,
            )
        };
        assert_eq!(
            read(&mut history, 0, page(10, 2, usize::MAX)),
            (vec![2, 4], true)
        );
        assert_eq!(
            read(&mut history, 4, page(10, 2, usize::MAX)),
            (vec![6, 8], true)
        );
        assert_eq!(
            read(&mut history, 8, page(10, 2, usize::MAX)),
            (vec![10], false)
        );
        assert_eq!(
            read(&mut history, 0, page(10, 100, 15)),
            (vec![2, 4], true),
            "about 15 bytes: two 10-byte frames"
        );
        assert_eq!(
            read(&mut history, 0, page(10, 100, 1)),
            (vec![2], true),
            "at least one frame"
        );
        assert_eq!(
            read(&mut history, 0, page(5, 100, usize::MAX)),
            (vec![2, 4], false),
            "nothing after the fence"
        );
    }
}
