//! A client's bounded queue of encoded frames: emit pushes without waiting, the client's response
//! body pops.
//!
//! ## Slow clients
//!
//! The queue holds at most `capacity` frames. When a push finds it full, the
//! [`SlowClientPolicy`](crate::SlowClientPolicy) decides: disconnect the client (the default: it
//! reconnects with `Last-Event-ID` and resumes from history), or drop its oldest frame and tell
//! it with a `sse:resync` event that it lagged. Either way memory stays bounded and emit never
//! waits.
//!
//! ## Where the lag notice goes
//!
//! Under drop-oldest, a pop returns the frames dropped since the previous pop together with the
//! frames that follow them, so the body writes the notice immediately before the first frame
//! after the gap, and after every frame it wrote before the gap. See [`Lag`] for why that holds.
//!
//! ## Closing
//!
//! `close(Close::Now)` ends the stream at its next poll, dropping what is queued;
//! `close(Close::Drain)` lets it write what is queued first, then ends it.

use bytes::Bytes;
use crossbeam_queue::SegQueue;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// An encoded event and its id.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) id: u64,
    pub(crate) bytes: Bytes,
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued (under drop-oldest, perhaps after dropping the oldest frame: the next pop says).
    Queued,
    /// Refused: the queue is full and the policy disconnects.
    Full,
    /// Refused: the stream is closing.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Close {
    /// Write what is queued, then end.
    Drain = 1,
    /// End at the next poll.
    Now = 2,
}

const OPEN: u8 = 0;

/// Frames dropped under drop-oldest since the body last popped.
///
/// Guarded by `Queue::lag`, and that lock is what puts the notice at the gap: under drop-oldest,
/// every frame leaves `Queue::frames` inside it, either dropped by a push (which counts it here)
/// or popped by the body or `take_all` (which take this count in the same critical section); only
/// `close(Close::Now)` drains outside it, and after that nothing is written. `frames` is FIFO
/// with ascending ids, so the frames one pop takes come after every frame it reports dropped and
/// before every frame dropped later: "notice, then the popped frames" is exactly the order of
/// the stream with the gap marked. A push that drops also queues its own frame before releasing
/// the lock, so a pop that reports a lag always carries the first frame after the gap.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lag {
    /// How many frames were dropped.
    pub(crate) dropped: u64,
    /// The highest id among them (0 when none was): the notice goes before any frame above it.
    pub(crate) through: u64,
}

/// Lock-free on the emit path under the disconnect policy: a push is a few atomic operations, so
/// delivering to many clients never takes a lock per client. Under drop-oldest, a push that finds
/// the queue full and the body's pop take a small per-queue lock (see [`Lag`]).
///
/// Pushes come from emits, which hold the namespace lock, so there is one pusher at a time; the
/// response body pops concurrently.
pub(crate) struct Queue {
    capacity: usize,
    /// `Some` under drop-oldest only: the frames dropped since the last pop. Its lock orders every
    /// removal from `frames`; see [`Lag`] for the invariant.
    lag: Option<Mutex<Lag>>,
    /// Oldest first; ids ascending, since pushes happen under the namespace lock in id order.
    frames: SegQueue<Frame>,
    /// Frames in `frames`: raised before a push, lowered after a pop, so it never undercounts.
    len: AtomicUsize,
    /// `OPEN`, or the strongest `Close` asked for; only ever rises.
    closing: AtomicU8,
    /// The response body's waker, woken by every push and by `close`.
    waker: AtomicWaker,
    /// Wakes everyone waiting in `closed()`.
    on_close: Notify,
    /// When the oldest queued frame was pushed, in µs after `born`: set by the push that finds
    /// the queue empty. The body reads it to tell a busy process (frames waiting long for the
    /// body to run) from a quiet one.
    since: AtomicU64,
    born: Instant,
}

/// What the body gets from one pop: write a lag notice first if `lag.dropped > 0`, then the
/// frames. Never both empty.
#[derive(Debug)]
pub(crate) struct Popped {
    /// Frames dropped since the previous pop, all older than `frames`.
    pub(crate) lag: Lag,
    /// Oldest first; no more once `max_bytes` is reached.
    pub(crate) frames: Vec<Frame>,
}

impl Queue {
    pub(crate) fn new(capacity: usize, drop_oldest: bool) -> Self {
        Queue {
            capacity,
            lag: drop_oldest.then(|| Mutex::new(Lag::default())),
            frames: SegQueue::new(),
            len: AtomicUsize::new(0),
            closing: AtomicU8::new(OPEN),
            waker: AtomicWaker::new(),
            on_close: Notify::new(),
            since: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// Queues a frame and wakes the response body.
    #[cfg(test)]
    pub(crate) fn push(&self, frame: Frame) -> Pushed {
        let pushed = self.push_quiet(frame, Instant::now());
        if pushed == Pushed::Queued {
            self.wake();
        }
        pushed
    }

    /// Queues a frame without waking the response body: a delivery wakes its clients after it
    /// released its locks (see [`wake`](Self::wake)).
    /// `now` is the time of the push (one clock reading for a whole fan-out).
    pub(crate) fn push_quiet(&self, frame: Frame, now: Instant) -> Pushed {
        if self.is_closing() {
            return Pushed::Closed;
        }
        let before = self.len.fetch_add(1, Ordering::AcqRel);
        if before == 0 {
            let since = now.saturating_duration_since(self.born).as_micros();
            self.since
                .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Release);
        }
        if before >= self.capacity {
            let Some(lag) = &self.lag else {
                self.len.fetch_sub(1, Ordering::AcqRel);
                return Pushed::Full;
            };
            let mut lag = lock(lag);
            // Make room; if the body just took the oldest itself, there is room already.
            if let Some(dropped) = self.pop_one() {
                lag.dropped += 1;
                lag.through = dropped.id;
            }
            // Queued before the lock is released, so the pop that reports this drop carries it.
            self.frames.push(frame);
            drop(lag);
        } else {
            self.frames.push(frame);
        }
        Pushed::Queued
    }

    /// Wakes the response body to write what is queued.
    #[cfg(test)]
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }

    /// The response body's waker, if it is waiting: a delivery takes it after a push and wakes it
    /// once it holds no lock. (A body that registers later looks at the queue again after
    /// registering, so it sees the frame either way.)
    pub(crate) fn take_waker(&self) -> Option<std::task::Waker> {
        self.waker.take()
    }

    fn pop_one(&self) -> Option<Frame> {
        let frame = self.frames.pop()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(frame)
    }

    fn drain(&self) -> Vec<Frame> {
        std::iter::from_fn(|| self.pop_one()).collect()
    }

    pub(crate) fn close(&self, how: Close) {
        self.closing.fetch_max(how as u8, Ordering::AcqRel);
        if how == Close::Now {
            // Never written now: free them at once, not when the connection finally goes.
            drop(self.drain());
        }
        self.waker.wake();
        self.on_close.notify_waiters();
    }

    /// When the oldest queued frame was pushed (to the µs); `None` when nothing is queued. (A
    /// frame pushed while the body pops may be dated by a frame before it: at worst a write
    /// looks a little later than it is.)
    pub(crate) fn queued_since(&self) -> Option<Instant> {
        (self.len.load(Ordering::Acquire) > 0)
            .then(|| self.born + Duration::from_micros(self.since.load(Ordering::Acquire)))
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire) != OPEN
    }

    /// Resolves once the queue is closing.
    pub(crate) async fn closed(&self) {
        loop {
            // Registered before the check, so a close in between is not missed.
            let notified = self.on_close.notified();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    /// Takes every queued frame and the frames dropped before them, for the merge at stream
    /// start; the same critical section as a pop, so the lag is exactly the frames dropped
    /// before the ones taken.
    pub(crate) fn take_all(&self) -> (Lag, Vec<Frame>) {
        match &self.lag {
            None => (Lag::default(), self.drain()),
            Some(lag) => {
                let mut lag = lock(lag);
                let frames = self.drain();
                (std::mem::take(&mut *lag), frames)
            }
        }
    }

    /// `Ready(None)` when the stream should end.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>, max_bytes: usize) -> Poll<Option<Popped>> {
        if let Some(popped) = self.try_pop(max_bytes) {
            return popped;
        }
        self.waker.register(cx.waker());
        // A push between `try_pop` and `register` woke nobody: look again.
        self.try_pop(max_bytes).unwrap_or(Poll::Pending)
    }

    fn try_pop(&self, max_bytes: usize) -> Option<Poll<Option<Popped>>> {
        let closing = self.closing.load(Ordering::Acquire);
        if closing == Close::Now as u8 {
            return Some(Poll::Ready(None));
        }
        let popped = match &self.lag {
            None => Popped {
                lag: Lag::default(),
                frames: self.pop_chunk(max_bytes),
            },
            Some(lag) => {
                // The count and the frames in one critical section: see `Lag`.
                let mut lag = lock(lag);
                let frames = self.pop_chunk(max_bytes);
                Popped {
                    lag: std::mem::take(&mut *lag),
                    frames,
                }
            }
        };
        if popped.frames.is_empty() && popped.lag.dropped == 0 {
            return (closing == Close::Drain as u8).then_some(Poll::Ready(None));
        }
        Some(Poll::Ready(Some(popped)))
    }

    /// Frames up to `max_bytes`, but at least one if any is queued.
    fn pop_chunk(&self, max_bytes: usize) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut bytes = 0;
        while bytes < max_bytes {
            let Some(frame) = self.pop_one() else { break };
            bytes += frame.bytes.len();
            frames.push(frame);
        }
        frames
    }
}

/// The lag is consistent between statements of every critical section, so a panic elsewhere
/// cannot have left it half-updated.
fn lock(lag: &Mutex<Lag>) -> MutexGuard<'_, Lag> {
    lag.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;

    fn frame(id: u64) -> Frame {
        Frame {
            id,
            bytes: Bytes::from(format!("{id};")),
        }
    }

    fn pop(queue: &Queue, max: usize) -> Poll<Option<Popped>> {
        queue.poll_pop(&mut Context::from_waker(noop_waker_ref()), max)
    }

    /// The lag a pop reported and the ids of its frames.
    fn popped(popped: Poll<Option<Popped>>) -> (u64, Vec<u64>) {
        match popped {
            Poll::Ready(Some(Popped { lag, frames })) => {
                (lag.dropped, frames.iter().map(|f| f.id).collect())
            }
            other => panic!("expected frames, got {other:?}"),
        }
    }

    /// The ids of a pop that reported no lag.
    fn ids(popped: Poll<Option<Popped>>) -> Vec<u64> {
        let (dropped, ids) = self::popped(popped);
        assert_eq!(dropped, 0, "no lag expected before {ids:?}");
        ids
    }

    #[test]
    fn full_queue_refuses_or_drops_oldest() {
        let strict = Queue::new(2, false);
        assert_eq!(strict.push(frame(1)), Pushed::Queued);
        assert_eq!(strict.push(frame(2)), Pushed::Queued);
        assert_eq!(strict.push(frame(3)), Pushed::Full);
        assert_eq!(ids(pop(&strict, usize::MAX)), [1, 2]);

        let lossy = Queue::new(2, true);
        for id in 1..=5 {
            assert_eq!(lossy.push(frame(id)), Pushed::Queued);
        }
        // The notice comes with the frames after the gap, in one pop.
        assert_eq!(popped(pop(&lossy, usize::MAX)), (3, vec![4, 5]));
        assert!(pop(&lossy, usize::MAX).is_pending());
    }

    #[test]
    fn a_lag_is_reported_with_the_first_frame_after_it_even_across_chunks() {
        let queue = Queue::new(3, true);
        for id in 1..=3 {
            queue.push(frame(id));
        }
        assert_eq!(popped(pop(&queue, 1)), (0, vec![1]));
        for id in 4..=6 {
            queue.push(frame(id)); // 4 fits, then 2 and 3 are dropped
        }
        assert_eq!(popped(pop(&queue, 1)), (2, vec![4]));
        assert_eq!(popped(pop(&queue, 100)), (0, vec![5, 6]));

        for id in 7..=10 {
            queue.push(frame(id)); // 7 is dropped
        }
        let (lag, frames) = queue.take_all();
        assert_eq!((lag.dropped, lag.through), (1, 7));
        assert_eq!(frames.iter().map(|f| f.id).collect::<Vec<_>>(), [8, 9, 10]);
        assert!(pop(&queue, 100).is_pending(), "take_all took the lag too");
    }

    /// One thread pushes 100,000 frames into a queue of four while another pops chunks of
    /// varying size: whatever the interleaving, every gap in the ids the body writes is announced
    /// right before it, with its exact size, and nothing else is.
    #[test]
    fn every_gap_is_announced_immediately_before_it_with_its_size() {
        const PUSHES: u64 = 100_000;
        #[derive(Debug)]
        enum Written {
            Notice(u64),
            Frame(u64),
        }
        let queue = Queue::new(4, true);
        let mut written = Vec::new();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for id in 1..=PUSHES {
                    assert_eq!(queue.push(frame(id)), Pushed::Queued);
                }
                queue.close(Close::Drain);
            });
            let mut max_bytes = 1;
            for round in 0u64.. {
                match pop(&queue, max_bytes) {
                    Poll::Ready(None) => break,
                    Poll::Ready(Some(Popped { lag, frames })) => {
                        if lag.dropped > 0 {
                            written.push(Written::Notice(lag.dropped));
                        }
                        written.extend(frames.iter().map(|f| Written::Frame(f.id)));
                    }
                    Poll::Pending => std::hint::spin_loop(),
                }
                // Chunks of one to about seven frames; now and then a pause, so the queue fills.
                max_bytes = max_bytes % 40 + 1;
                if round % 1000 == 999 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
        });

        let (mut next, mut notice, mut delivered, mut announced) = (1, None, 0u64, 0u64);
        for (at, item) in written.iter().enumerate() {
            match *item {
                Written::Notice(dropped) => {
                    assert!(notice.is_none(), "two notices in a row at {at}");
                    notice = Some(dropped);
                    announced += dropped;
                }
                Written::Frame(id) => {
                    assert!(id >= next, "id {id} after {} at {at}", next - 1);
                    assert_eq!(
                        notice.take().unwrap_or(0),
                        id - next,
                        "the notice before id {id} (at {at}) does not match its gap"
                    );
                    next = id + 1;
                    delivered += 1;
                }
            }
        }
        assert!(notice.is_none(), "a notice with no frame after it");
        assert_eq!(next, PUSHES + 1, "the newest frame is never dropped");
        assert_eq!(delivered + announced, PUSHES);
        assert!(
            announced > 0 && delivered > 0,
            "both drops and pops happened"
        );
    }

    #[test]
    fn pops_are_coalesced_up_to_max_bytes_but_never_empty() {
        let queue = Queue::new(10, false);
        for id in 1..=4 {
            queue.push(frame(id));
        }
        assert_eq!(ids(pop(&queue, 4)), [1, 2]);
        assert_eq!(ids(pop(&queue, 1)), [3]);
        assert_eq!(ids(pop(&queue, 100)), [4]);
        assert!(pop(&queue, 100).is_pending());
    }

    #[test]
    fn drain_writes_what_is_queued_and_now_does_not() {
        let queue = Queue::new(10, false);
        queue.push(frame(1));
        queue.close(Close::Drain);
        assert_eq!(queue.push(frame(2)), Pushed::Closed);
        assert_eq!(ids(pop(&queue, 100)), [1]);
        assert!(matches!(pop(&queue, 100), Poll::Ready(None)));

        let queue = Queue::new(10, false);
        queue.push(frame(1));
        queue.close(Close::Now);
        assert!(matches!(pop(&queue, 100), Poll::Ready(None)));
    }
}
