//! What a stream writes before its live frames: what its client missed, read from the adapter's
//! history a page at a time as the stream writes, merged by id with the frames sent to the client
//! alone while it was pending, and the `sse:resync` notices where they belong.
//!
//! A page is at most [`PAGE_FRAMES`] frames and about [`PAGE_BYTES`]: a client that sent an old
//! `Last-Event-ID` and never reads holds one page, not the history window.

use crate::core::history::{Gap, Page, Paged};
use crate::core::namespace::NsCore;
use crate::core::order::{AdapterFuture, Since};
use crate::core::queue::{Frame, Lag};
use crate::core::room::Room;
use crate::wire::ResyncReason;
use bytes::Bytes;
use futures_util::ready;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Most frames read from history for one write.
pub(crate) const PAGE_FRAMES: usize = 256;
/// About the most bytes read from history for one write (one frame more at most).
pub(crate) const PAGE_BYTES: usize = 64 * 1024;

pub(crate) struct Catchup {
    ns: Arc<NsCore>,
    /// Where the next page starts; `None` once history is read up to the fence.
    after: Option<Since>,
    /// The last offset delivered before the client went live: later ones reach its queue.
    fence: u64,
    /// Where the client connected: the start when its `Last-Event-ID` cannot be honoured.
    connected_after: u64,
    rooms: Arc<HashSet<Room>>,
    /// The page being read, and where it starts.
    reading: Option<(Since, AdapterFuture<Result<Paged, Gap>>)>,
    /// The `Last-Event-ID` as sent, for a resync notice.
    raw: Option<String>,
    /// Whether a resync notice was written (at most one per stream).
    resynced: bool,
    /// The notice `start` decided on, written first.
    head: Option<Bytes>,
    /// After history lost events the client was owed (the notice said so): read what is left.
    lenient: bool,
    /// Sent to the client alone while it was pending (history does not keep them), oldest first.
    direct: VecDeque<Frame>,
    /// Frames of `direct` dropped from the full queue (drop-oldest): the notice goes right after
    /// the frames up to `lag.through`.
    lag: Lag,
}

/// Where a catch-up starts.
pub(crate) struct Start {
    /// The id the client sent, if it is one of ours; else where it connected.
    pub(crate) after: Since,
    pub(crate) fence: u64,
    pub(crate) connected_after: u64,
    pub(crate) rooms: HashSet<Room>,
    /// The `Last-Event-ID` as sent.
    pub(crate) raw: Option<String>,
    /// A resync notice to write first (the id was not one of ours).
    pub(crate) notice: Option<Bytes>,
    pub(crate) direct: Vec<Frame>,
    pub(crate) lag: Lag,
}

impl Catchup {
    pub(crate) fn new(ns: Arc<NsCore>, start: Start) -> Self {
        Catchup {
            ns,
            after: Some(start.after),
            fence: start.fence,
            connected_after: start.connected_after,
            rooms: Arc::new(start.rooms),
            reading: None,
            raw: start.raw,
            resynced: start.notice.is_some(),
            head: start.notice,
            lenient: false,
            direct: start.direct.into(),
            lag: start.lag,
        }
    }

    /// Appends the next chunk to `out`, oldest first, once its page is read; `Ready(false)` once
    /// everything is written.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>, out: &mut Vec<Bytes>) -> Poll<bool> {
        out.extend(self.head.take());
        let (history, more) = ready!(self.poll_read(cx, out));
        self.ns.count_replayed(history.len());
        // Frames sent to the client alone up to the last history frame of this page (all of them
        // with the last page), merged in by id.
        let (limit, after) = match (more, history.last()) {
            (true, Some(last)) => (last.id, Some(Since::Offset(last.id))),
            _ => (u64::MAX, None),
        };
        self.after = after;
        let mut frames = history;
        while let Some(frame) = self.direct.pop_front() {
            if frame.id > limit {
                self.direct.push_front(frame);
                break;
            }
            frames.push(frame);
        }
        frames.sort_by_key(|frame| frame.id);
        for frame in frames {
            if self.lag.dropped > 0 && frame.id > self.lag.through {
                out.push(self.ns.lag_notice(std::mem::take(&mut self.lag).dropped));
            }
            out.push(frame.bytes);
        }
        if self.after.is_none() && self.lag.dropped > 0 {
            out.push(self.ns.lag_notice(std::mem::take(&mut self.lag).dropped));
        }
        Poll::Ready(self.after.is_some())
    }

    /// One page of history, and whether more follows; a resync notice goes to `out` when the
    /// client is owed what history no longer has (or its id is not this epoch's).
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Vec<Bytes>,
    ) -> Poll<(Vec<Frame>, bool)> {
        let page = Page {
            through: self.fence,
            max_frames: PAGE_FRAMES,
            max_bytes: PAGE_BYTES,
        };
        loop {
            let (after, read) = match &mut self.reading {
                Some(reading) => reading,
                None => {
                    let Some(after) = self.after else {
                        return Poll::Ready((Vec::new(), false));
                    };
                    let read =
                        self.ns
                            .adapter()
                            .replay(after, self.rooms.clone(), self.lenient, page);
                    self.reading.insert((after, read))
                }
            };
            let after = *after;
            let result = ready!(Pin::new(read).poll(cx));
            self.reading = None;
            let gap = match result {
                Ok(paged) => return Poll::Ready((paged.frames, paged.more)),
                Err(gap) => gap,
            };
            let reason = match (after, gap) {
                (Since::Id(_), Gap::Unknown) => ResyncReason::Unknown,
                _ => ResyncReason::Expired,
            };
            if !self.resynced {
                out.push(self.ns.resync_notice(reason, self.raw.as_deref()));
                self.resynced = true;
            }
            // Each failure moves on, so there are at most three reads: the client's id, its
            // connect point, what is left.
            match after {
                // The id cannot be honoured: from where the client connected.
                Since::Id(_) => self.after = Some(Since::Offset(self.connected_after)),
                // Events it was owed are gone: what is left.
                Since::Offset(_) if !self.lenient => self.lenient = true,
                Since::Offset(_) => self.after = None,
            }
        }
    }
}
