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
//! ## Closing
//!
//! `close(Close::Now)` ends the stream at its next poll, dropping what is queued;
//! `close(Close::Drain)` lets it write what is queued first, then ends it.

use bytes::Bytes;
use crossbeam_queue::SegQueue;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::sync::Notify;

/// An encoded event and its id.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) id: u64,
    pub(crate) bytes: Bytes,
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued (under drop-oldest, perhaps after dropping the oldest frame: the lag counter says).
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

/// Lock-free on the emit path: a push is a few atomic operations, so delivering to many clients
/// never takes a lock per client.
///
/// Pushes come from emits, which hold the namespace lock, so there is one pusher at a time; the
/// response body pops concurrently.
pub(crate) struct Queue {
    capacity: usize,
    drop_oldest: bool,
    /// Oldest first; ids ascending, since pushes happen under the namespace lock in id order.
    frames: SegQueue<Frame>,
    /// Frames in `frames`: raised before a push, lowered after a pop, so it never undercounts.
    len: AtomicUsize,
    /// `OPEN`, or the strongest `Close` asked for; only ever rises.
    closing: AtomicU8,
    /// Frames dropped since the body last looked (drop-oldest policy only).
    lagged: AtomicU64,
    /// The response body's waker, woken by every push and by `close`.
    waker: AtomicWaker,
    /// Wakes everyone waiting in `closed()`.
    on_close: Notify,
}

/// What the body gets from one pop.
#[derive(Debug)]
pub(crate) enum Popped {
    /// Frames, oldest first: at least one, and no more once `max_bytes` is reached.
    Frames(Vec<Frame>),
    /// The queue dropped this many frames since the last pop.
    Lagged(u64),
}

impl Queue {
    pub(crate) fn new(capacity: usize, drop_oldest: bool) -> Self {
        Queue {
            capacity,
            drop_oldest,
            frames: SegQueue::new(),
            len: AtomicUsize::new(0),
            closing: AtomicU8::new(OPEN),
            lagged: AtomicU64::new(0),
            waker: AtomicWaker::new(),
            on_close: Notify::new(),
        }
    }

    pub(crate) fn push(&self, frame: Frame) -> Pushed {
        if self.is_closing() {
            return Pushed::Closed;
        }
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            if !self.drop_oldest {
                self.len.fetch_sub(1, Ordering::AcqRel);
                return Pushed::Full;
            }
            // Make room; if the body just took the oldest itself, there is room already.
            if self.pop_one().is_some() {
                self.lagged.fetch_add(1, Ordering::AcqRel);
            }
        }
        self.frames.push(frame);
        self.waker.wake();
        Pushed::Queued
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

    /// Takes every queued frame (for the replay merge at stream start), and forgets frames
    /// dropped before: the replay covers them, or the resync that replaces it says so.
    pub(crate) fn take_all(&self) -> Vec<Frame> {
        self.lagged.store(0, Ordering::Release);
        self.drain()
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
        let lagged = self.lagged.swap(0, Ordering::AcqRel);
        if lagged > 0 {
            return Some(Poll::Ready(Some(Popped::Lagged(lagged))));
        }
        let mut frames = Vec::new();
        let mut bytes = 0;
        while bytes < max_bytes {
            let Some(frame) = self.pop_one() else { break };
            bytes += frame.bytes.len();
            frames.push(frame);
        }
        if frames.is_empty() {
            return (closing == Close::Drain as u8).then_some(Poll::Ready(None));
        }
        Some(Poll::Ready(Some(Popped::Frames(frames))))
    }
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

    fn ids(popped: Poll<Option<Popped>>) -> Vec<u64> {
        match popped {
            Poll::Ready(Some(Popped::Frames(frames))) => frames.iter().map(|f| f.id).collect(),
            other => panic!("expected frames, got {other:?}"),
        }
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
            lossy.push(frame(id));
        }
        assert!(matches!(
            pop(&lossy, usize::MAX),
            Poll::Ready(Some(Popped::Lagged(3)))
        ));
        assert_eq!(ids(pop(&lossy, usize::MAX)), [4, 5]);
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
