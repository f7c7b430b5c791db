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
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
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
    Queued,
    /// Queued after dropping the oldest frame.
    QueuedDroppingOldest,
    /// Refused: the queue is full and the policy disconnects.
    Full,
    /// Refused: the stream is closing.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Write what is queued, then end.
    Drain,
    /// End at the next poll.
    Now,
}

pub(crate) struct Queue {
    capacity: usize,
    drop_oldest: bool,
    state: Mutex<State>,
    /// The response body's waker, woken by every push and by `close`.
    waker: AtomicWaker,
    /// Wakes everyone waiting in `closed()`.
    on_close: Notify,
}

struct State {
    /// Oldest first; ids ascending, since pushes happen under the namespace lock in id order.
    frames: VecDeque<Frame>,
    closing: Option<Close>,
    /// Frames dropped since the body last looked (drop-oldest policy only).
    lagged: u64,
}

/// What the body gets from one pop.
#[derive(Debug)]
pub(crate) enum Popped {
    /// Frames, oldest first, at most `max_bytes` of them (at least one).
    Frames(Vec<Frame>),
    /// The queue dropped this many frames since the last pop.
    Lagged(u64),
}

impl Queue {
    pub(crate) fn new(capacity: usize, drop_oldest: bool) -> Self {
        Queue {
            capacity,
            drop_oldest,
            state: Mutex::new(State {
                frames: VecDeque::new(),
                closing: None,
                lagged: 0,
            }),
            waker: AtomicWaker::new(),
            on_close: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, frame: Frame) -> Pushed {
        let pushed = {
            let mut state = self.state();
            if state.closing.is_some() {
                return Pushed::Closed;
            }
            if state.frames.len() < self.capacity {
                state.frames.push_back(frame);
                Pushed::Queued
            } else if self.drop_oldest {
                state.frames.pop_front();
                state.frames.push_back(frame);
                state.lagged += 1;
                Pushed::QueuedDroppingOldest
            } else {
                Pushed::Full
            }
        };
        if pushed != Pushed::Full {
            self.waker.wake();
        }
        pushed
    }

    pub(crate) fn close(&self, how: Close) {
        {
            let mut state = self.state();
            state.closing = match (state.closing, how) {
                (Some(Close::Now), _) | (_, Close::Now) => Some(Close::Now),
                _ => Some(Close::Drain),
            };
            if state.closing == Some(Close::Now) {
                // Never written now: free them at once, not when the connection finally goes.
                state.frames = VecDeque::new();
            }
        }
        self.waker.wake();
        self.on_close.notify_waiters();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.state().closing.is_some()
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
        let mut state = self.state();
        state.lagged = 0;
        state.frames.drain(..).collect()
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
        let mut state = self.state();
        if state.closing == Some(Close::Now) {
            return Some(Poll::Ready(None));
        }
        if state.lagged > 0 {
            let lagged = std::mem::take(&mut state.lagged);
            return Some(Poll::Ready(Some(Popped::Lagged(lagged))));
        }
        if state.frames.is_empty() {
            return (state.closing == Some(Close::Drain)).then_some(Poll::Ready(None));
        }
        let mut frames = Vec::new();
        let mut bytes = 0;
        while let Some(frame) = state.frames.front() {
            if !frames.is_empty() && bytes + frame.bytes.len() > max_bytes {
                break;
            }
            bytes += frame.bytes.len();
            frames.extend(state.frames.pop_front());
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
