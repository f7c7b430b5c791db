//! The response body of one client; documented on [`SseStream`].

use crate::core::catchup::Catchup;
use crate::core::client::{Client, ClientGuard};
use crate::core::config::BUSY_LATENESS;
use crate::core::event::SseEvents;
use crate::core::queue::{Popped, Queue};
use crate::wire;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Most bytes coalesced into one write.
const MAX_CHUNK: usize = 64 * 1024;

/// The event stream of one client; with the `axum` feature it is a response.
///
/// Implements `Stream<Item = Result<Bytes, Infallible>>` for other servers.
///
/// ## Writes
///
/// The first chunk is written at once (the `retry:` hint, or a `: ok` comment, then what the
/// client missed before its stream started: see
/// [`Client::into_stream`](crate::Client::into_stream)), so the response headers reach the
/// client immediately. After
/// that, each poll takes every frame already queued (up to 64 KiB) and writes them as one chunk.
/// When the process is saturated, a stream that writes often holds its write back for up to the
/// coalescing window, so that one write carries many events: see
/// [`SseServerBuilder::coalesce`](crate::SseServerBuilder::coalesce).
/// Under [`SlowClientPolicy::DropOldest`](crate::SlowClientPolicy::DropOldest), the `sse:resync`
/// notice of frames dropped since the last write starts the chunk that holds the first frame after
/// them: it always sits exactly at the gap it reports.
///
/// ## Heartbeats
///
/// A `:\n\n` comment goes out when the stream has written nothing for the heartbeat interval,
/// counted from its last write, so an idle stream is never silent for longer than the interval
/// (plus scheduling jitter) and a busy one never carries heartbeats. (A write does not move the
/// timer, which would cost a timer-wheel update per write: when the timer fires after a write,
/// it is set again from that write.)
///
/// ## Closing
///
/// The stream ends when the client is disconnected ([`ClientHandle::disconnect`], too slow, or
/// server shutdown, after writing what is queued). Dropping it (the HTTP connection closed)
/// removes the client from its namespace and every room.
///
/// [`ClientHandle::disconnect`]: crate::ClientHandle::disconnect
#[must_use = "a client receives nothing until its stream is returned as the response"]
pub struct SseStream {
    queue: Arc<Queue>,
    /// Written first, alone or with the first page of the catch-up: the `retry:`/comment line.
    first: Option<Bytes>,
    /// Written before the queue, a page at a time: what the client missed.
    /// Boxed: a live stream (most of them, most of the time) keeps only a pointer.
    catchup: Option<Box<Catchup>>,
    /// The heartbeat interval.
    heartbeat: Option<Duration>,
    /// The longest a write is held back to gather more (`SseServerBuilder::coalesce`).
    coalesce: Option<Duration>,
    /// Wakes the stream for a heartbeat or at the end of a deferred write. Moved only when it
    /// fires or a write is deferred, never per write: a heartbeat that comes due checks the last
    /// write and, if there was one since, waits again from there.
    timer: Option<Pin<Box<Sleep>>>,
    last_write: Instant,
    /// How far apart this stream's events come, in µs: a moving average over its writes of
    /// the time since the previous write divided by the events written. Starts at the
    /// coalescing window ("one event per window"), so a few writes must show a busy stream
    /// before any is held back.
    gap_us: u32,
    /// A write is deferred until `timer` fires.
    deferred: bool,
    /// Removes the client from its namespace when the stream is dropped.
    guard: ClientGuard,
}

impl SseStream {
    pub(crate) fn new(
        queue: Arc<Queue>,
        catchup: Option<Catchup>,
        retry: Option<Duration>,
        heartbeat: Option<Duration>,
        coalesce: Option<Duration>,
        guard: ClientGuard,
    ) -> Self {
        let first = match retry {
            Some(delay) => wire::retry(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            None => wire::comment("ok"),
        };
        SseStream {
            queue,
            first: Some(first),
            catchup: catchup.map(Box::new),
            heartbeat,
            coalesce,
            timer: None,
            last_write: Instant::now(),
            gap_us: coalesce.map_or(u32::MAX, micros),
            deferred: false,
            guard,
        }
    }

    fn wrote(&mut self, chunk: Bytes) -> Poll<Option<Bytes>> {
        self.wrote_events(chunk, 0)
    }

    /// A write of `events` queued events (0: a heartbeat or catch-up), which also moves the
    /// average gap between this stream's events.
    fn wrote_events(&mut self, chunk: Bytes, events: usize) -> Poll<Option<Bytes>> {
        let now = Instant::now();
        if self.coalesce.is_some() && events > 0 {
            let since = micros(now.saturating_duration_since(self.last_write));
            let sample = since / u32::try_from(events).unwrap_or(u32::MAX);
            self.gap_us = ((u64::from(self.gap_us) * 7 + u64::from(sample)) / 8) as u32;
        }
        self.last_write = now;
        Poll::Ready(Some(chunk))
    }

    /// Sets the timer to `deadline` and polls it.
    fn wait_until(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.poll_timer(cx)
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// Whether the write of what is queued waits (see "Writes" on [`SseStream`]): the oldest
    /// queued frame has waited [`BUSY_LATENESS`] already, so the process is saturated, and this
    /// stream's events come at least four to a window (on average, and it wrote less than a
    /// window ago), so waiting one window lets one write carry several.
    fn defer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deferred {
            if self.poll_timer(cx).is_pending() {
                return true;
            }
            self.deferred = false;
            return false;
        }
        let (Some(window), Some(since)) = (self.coalesce, self.queue.queued_since()) else {
            return false;
        };
        if u64::from(self.gap_us) * 4 > u64::from(micros(window)) {
            return false;
        }
        let now = Instant::now();
        if now.saturating_duration_since(since) < BUSY_LATENESS
            || now.saturating_duration_since(self.last_write) >= window
        {
            return false;
        }
        self.deferred = self.wait_until(now + window, cx).is_pending();
        self.deferred
    }

    /// Ready when the stream has written nothing for the heartbeat interval. The timer is
    /// never moved later while it runs (it may be waiting for a deferred write, or for an
    /// earlier heartbeat deadline): when it fires early, it is set to the deadline then.
    fn poll_heartbeat(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(interval) = self.heartbeat else {
            return Poll::Pending;
        };
        // An interval too large to add (`Duration::MAX`) means "practically never".
        let deadline = self
            .last_write
            .checked_add(interval)
            .unwrap_or(self.last_write + Duration::from_secs(100 * 365 * 86_400));
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if timer.deadline() == deadline {
            return Poll::Ready(());
        }
        self.wait_until(deadline, cx)
    }
}

impl<E: SseEvents> Client<E> {
    /// The client's event stream, to return from the handler as the response.
    ///
    /// Call it after joining the client's rooms: this is when the events it missed in those rooms
    /// are looked up in history. They come first, then live events, with no gap and no duplicate.
    ///
    /// ## Between connect and into_stream
    ///
    /// Until this call the client is pending: broadcasts skip its queue (see
    /// [`Namespace::connect`](crate::Namespace::connect)), so however long the handler awaited,
    /// it is not disconnected as slow. Here, in one critical section with the emits, it becomes
    /// live and its stream starts with:
    ///
    /// - the events for its rooms since `connect`, from history, merged in id order with the
    ///   events sent to it alone meanwhile (those waited in its queue);
    /// - with `Last-Event-ID` (or `?lastEventId=`), everything since that id instead, which also
    ///   covers what it missed before reconnecting;
    /// - one [`RESYNC_EVENT`](crate::wire::RESYNC_EVENT) first when that cannot be exact: an id
    ///   that is expired, unknown or malformed (`lastEventId` is the id sent; the events since
    ///   `connect` still follow), or a wait longer than the history window (`"reason":"expired"`;
    ///   what the window still holds follows).
    pub fn into_stream(self) -> SseStream {
        let config = self.ns().config();
        let (retry, heartbeat, coalesce) = (config.retry, config.heartbeat, config.coalesce);
        let (queue, catchup, guard) = self.go_live();
        SseStream::new(queue, catchup, retry, heartbeat, coalesce, guard)
    }
}

impl Stream for SseStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .poll_chunk(cx, Framing::Plain)
            .map(|chunk| chunk.map(Ok))
    }
}

/// How [`SseStream::poll_chunk`] frames a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The bytes as they are (the HTTP server frames them).
    Plain,
    /// In HTTP/1.1 chunked framing, `<hex length>\r\n<bytes>\r\n`, in one buffer: for a
    /// writer that sends each chunk with one `send`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Chunked,
}

impl SseStream {
    /// The next chunk to write; `None` when the stream ends. Never an empty chunk.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        framing: Framing,
    ) -> Poll<Option<Bytes>> {
        // The first write goes out at once, so the response headers do; with it the first page
        // of what the client missed, then one page per write until it is caught up.
        let mut parts: Vec<Bytes> = self.first.take().into_iter().collect();
        while let Some(catchup) = &mut self.catchup {
            match catchup.poll_chunk(cx, &mut parts) {
                Poll::Ready(false) => self.catchup = None,
                Poll::Ready(true) if parts.is_empty() => {}
                Poll::Ready(true) => break,
                // Nothing live may go out before the catch-up: write what there is, or wait.
                Poll::Pending if parts.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        if !parts.is_empty() {
            let len = parts.iter().map(Bytes::len).sum();
            return self.wrote(concat(len, parts.into_iter(), framing));
        }
        if !self.defer(cx) {
            match self.queue.poll_pop(cx, MAX_CHUNK) {
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Popped { lag, frames })) => {
                    let events = frames.len();
                    // The notice and the frames after the gap it reports, in one write.
                    let notice = (lag.dropped > 0).then(|| self.guard.ns.lag_notice(lag.dropped));
                    let len = notice.as_ref().map_or(0, Bytes::len)
                        + frames.iter().map(|frame| frame.bytes.len()).sum::<usize>();
                    let parts = notice
                        .into_iter()
                        .chain(frames.into_iter().map(|frame| frame.bytes));
                    return self.wrote_events(concat(len, parts, framing), events);
                }
                Poll::Pending => {}
            }
        }
        if self.poll_heartbeat(cx).is_ready() {
            return self.wrote(concat(
                wire::HEARTBEAT.len(),
                std::iter::once(wire::HEARTBEAT),
                framing,
            ));
        }
        Poll::Pending
    }
}

/// Whole microseconds, saturating.
fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// One chunk of `len` bytes from `parts`; plain, without copying when there is only one part.
fn concat(len: usize, mut parts: impl Iterator<Item = Bytes>, framing: Framing) -> Bytes {
    if framing == Framing::Chunked {
        let mut size = [0u8; 18];
        let size = chunk_size(&mut size, len);
        let mut chunk = BytesMut::with_capacity(size.len() + len + 2);
        chunk.extend_from_slice(size);
        for part in parts {
            chunk.extend_from_slice(&part);
        }
        chunk.extend_from_slice(b"\r\n");
        return chunk.freeze();
    }
    let Some(first) = parts.next() else {
        return Bytes::new();
    };
    let Some(second) = parts.next() else {
        return first;
    };
    let mut chunk = BytesMut::with_capacity(len);
    chunk.extend_from_slice(&first);
    chunk.extend_from_slice(&second);
    for part in parts {
        chunk.extend_from_slice(&part);
    }
    chunk.freeze()
}

/// `<hex length>\r\n` (upper case, as hyper writes it) in `buf`, without allocating.
fn chunk_size(buf: &mut [u8; 18], len: usize) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut at = 16;
    let mut rest = len;
    loop {
        at -= 1;
        buf[at] = HEX[rest % 16];
        rest /= 16;
        if rest == 0 {
            break;
        }
    }
    buf[16] = b'\r';
    buf[17] = b'\n';
    &buf[at..]
}

impl fmt::Debug for SseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("catching_up", &self.catchup.is_some())
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeError, EventId, Handshake, SseEvents, SseServer};

    #[test]
    fn chunk_sizes_are_uppercase_hex_as_hyper_writes_them() {
        let mut buf = [0; 18];
        for len in [0, 1, 9, 10, 0x4a, 0xfff, 0x1_0000, usize::MAX] {
            assert_eq!(
                super::chunk_size(&mut buf, len),
                format!("{len:X}\r\n").as_bytes(),
                "{len}"
            );
        }
    }

    #[test]
    fn a_chunked_chunk_is_framed_around_all_its_parts() {
        use super::{concat, Framing};
        use bytes::Bytes;
        let parts = || {
            [
                Bytes::from_static(b"id: 1\n\n"),
                Bytes::from_static(b"0123456789"),
            ]
        };
        assert_eq!(
            concat(18, parts().into_iter(), Framing::Chunked),
            Bytes::from_static(b"12\r\nid: 1\n\n0123456789\r\n")
        );
        assert_eq!(
            concat(18, parts().into_iter(), Framing::Plain),
            Bytes::from_static(b"id: 1\n\n0123456789")
        );
    }
    use futures_util::{FutureExt, StreamExt};
    use std::time::Duration;

    struct Tick;

    impl SseEvents for Tick {
        const NAMES: &'static [&'static str] = &["tick"];
        fn name(&self) -> &'static str {
            "tick"
        }
        fn write_data(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
            out.extend_from_slice(b"null");
            Ok(())
        }
        fn decode(name: &str, _: &str) -> Result<Self, DecodeError> {
            Err(DecodeError::unknown_event(name, Self::NAMES))
        }
    }

    fn handshake() -> Handshake {
        Handshake::new("/".parse().unwrap(), Default::default())
    }

    /// What the stream has ready now, as text; `None` if nothing.
    fn ready(stream: &mut super::SseStream) -> Option<String> {
        let chunk = stream.next().now_or_never()??.ok()?;
        Some(String::from_utf8(chunk.to_vec()).unwrap())
    }

    async fn advance(ms: u64) {
        tokio::time::advance(Duration::from_millis(ms)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_are_scheduled_from_the_last_write() {
        let server = SseServer::builder()
            .heartbeat(Duration::from_secs(15))
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let mut stream = ns.connect(handshake()).await.unwrap().into_stream();
        assert_eq!(ready(&mut stream).as_deref(), Some(": ok\n\n"));
        assert_eq!(ready(&mut stream), None);

        advance(14_999).await;
        assert_eq!(ready(&mut stream), None, "not before the interval");
        advance(1).await;
        assert_eq!(ready(&mut stream).as_deref(), Some(":\n\n"));

        // An event at 20 s moves the next heartbeat to 35 s, not 30 s.
        advance(5_000).await;
        let id = ns.emit(Tick).await.unwrap().id;
        assert_eq!(
            ready(&mut stream),
            Some(format!("id: {id}\nevent: tick\ndata: null\n\n"))
        );
        advance(14_999).await;
        assert_eq!(ready(&mut stream), None, "the event reset the timer");
        advance(1).await;
        assert_eq!(ready(&mut stream).as_deref(), Some(":\n\n"));
        advance(15_000).await;
        assert_eq!(ready(&mut stream).as_deref(), Some(":\n\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn queued_frames_are_coalesced_into_one_write() {
        let server = SseServer::builder().no_heartbeat().build().unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let mut stream = ns.connect(handshake()).await.unwrap().into_stream();
        assert_eq!(ready(&mut stream).as_deref(), Some(": ok\n\n"));
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(ns.emit(Tick).await.unwrap().id);
        }
        assert_eq!(
            ids,
            [ids[0], ids[0].next(), ids[0].next().next()],
            "ids count up by one"
        );
        let frame = |id: EventId| format!("id: {id}\nevent: tick\ndata: null\n\n");
        assert_eq!(
            ready(&mut stream),
            Some(format!(
                "{}{}{}",
                frame(ids[0]),
                frame(ids[1]),
                frame(ids[2])
            ))
        );
        advance(3_600_000).await;
        assert_eq!(ready(&mut stream), None, "no heartbeat when turned off");
    }

    /// A namespace of a server built from `builder` (no heartbeat), one client's handle, and
    /// its stream with the first chunk read.
    async fn started(
        builder: crate::SseServerBuilder,
    ) -> (
        crate::Namespace<Tick>,
        crate::ClientHandle<Tick>,
        super::SseStream,
    ) {
        let server = builder.no_heartbeat().build().unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let client = ns.connect(handshake()).await.unwrap();
        let handle = client.handle();
        let mut stream = client.into_stream();
        assert_eq!(ready(&mut stream).as_deref(), Some(": ok\n\n"));
        (ns, handle, stream)
    }

    /// Twenty events a millisecond apart, each written at once (on time): afterwards the
    /// stream counts as one whose events come often.
    async fn busy(ns: &crate::Namespace<Tick>, stream: &mut super::SseStream) {
        for _ in 0..20 {
            advance(1).await;
            let id = ns.emit(Tick).await.unwrap().id;
            assert_eq!(ready(stream), Some(tick(id)), "on time: written at once");
        }
    }

    /// A stream whose events come several to a window and finds its oldest frame waited
    /// `BUSY_LATENESS` (the process is saturated) holds the write back for the window, then
    /// writes everything queued by then at once; one that keeps up, gets few events, or has
    /// been quiet for a window, writes at once.
    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_that_runs_late_gathers_one_window_of_events_into_one_write() {
        let (ns, _, mut stream) =
            started(SseServer::builder().coalesce(Duration::from_millis(10))).await;

        // Few events (one per 5 ms), late: written at once.
        for _ in 0..20 {
            advance(5).await;
            let id = ns.emit(Tick).await.unwrap().id;
            tokio::time::advance(crate::BUSY_LATENESS).await;
            assert_eq!(
                ready(&mut stream),
                Some(tick(id)),
                "one per 5 ms: not held back"
            );
        }
        busy(&ns, &mut stream).await;

        // Now late by 300 µs: held back for 10 ms.
        let first = ns.emit(Tick).await.unwrap().id;
        tokio::time::advance(crate::BUSY_LATENESS).await;
        assert_eq!(ready(&mut stream), None, "held back");
        let mut ids = vec![first];
        for _ in 0..3 {
            advance(3).await;
            ids.push(ns.emit(Tick).await.unwrap().id);
            assert_eq!(ready(&mut stream), None, "still held back");
        }
        // 10 ms after it was held back (tokio's timers fire on whole milliseconds).
        advance(2).await;
        let all: String = ids.iter().map(|id| tick(*id)).collect();
        assert_eq!(ready(&mut stream), Some(all), "one write");

        // Late, but quiet for a window: written at once.
        advance(10).await;
        let after_quiet = ns.emit(Tick).await.unwrap().id;
        advance(1).await;
        assert_eq!(ready(&mut stream), Some(tick(after_quiet)));
    }

    /// The same busy, late stream: held back with coalescing, written at once without.
    #[tokio::test(start_paused = true)]
    async fn without_coalescing_a_late_stream_writes_at_once() {
        for (builder, held_back) in [
            (SseServer::builder(), true),
            (SseServer::builder().no_coalesce(), false),
        ] {
            let (ns, _, mut stream) = started(builder).await;
            busy(&ns, &mut stream).await;
            let id = ns.emit(Tick).await.unwrap().id;
            advance(1).await;
            let written = ready(&mut stream);
            assert_eq!(written.is_none(), held_back, "{written:?}");
            if !held_back {
                assert_eq!(written, Some(tick(id)));
                for _ in 0..3 {
                    let id = ns.emit(Tick).await.unwrap().id;
                    advance(5).await;
                    assert_eq!(ready(&mut stream), Some(tick(id)));
                }
            }
        }
    }

    /// A disconnect while a write is held back ends the stream when the wait ends, not later;
    /// the frames held back are not written (as for any `disconnect`).
    #[tokio::test(start_paused = true)]
    async fn a_disconnect_during_a_held_back_write_ends_the_stream_when_the_wait_ends() {
        let (ns, handle, mut stream) = started(SseServer::builder()).await;
        busy(&ns, &mut stream).await;
        ns.emit(Tick).await.unwrap();
        advance(1).await;
        assert_eq!(ready(&mut stream), None, "held back");
        handle.disconnect();
        advance(crate::DEFAULT_COALESCE.as_millis() as u64).await;
        assert_eq!(stream.next().now_or_never(), Some(None), "ended");
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_heartbeat_interval_is_never_rather_than_a_panic() {
        let server = SseServer::builder()
            .heartbeat(Duration::MAX)
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let mut stream = ns.connect(handshake()).await.unwrap().into_stream();
        assert_eq!(ready(&mut stream).as_deref(), Some(": ok\n\n"));
        ns.emit(Tick).await.unwrap();
        assert!(ready(&mut stream).is_some());
        advance(86_400_000).await;
        assert_eq!(ready(&mut stream), None);
    }

    fn with_last_event_id(id: EventId) -> Handshake {
        let mut headers = http::HeaderMap::new();
        headers.insert("last-event-id", id.to_string().parse().unwrap());
        Handshake::new("/".parse().unwrap(), headers)
    }

    fn tick(id: EventId) -> String {
        format!("id: {id}\nevent: tick\ndata: null\n\n")
    }

    /// Five events between connect and into_stream, for a queue of two: under either policy they
    /// never touch the queue (so nothing is dropped and nobody is disconnected); the stream
    /// starts with all five from history, then goes live.
    #[tokio::test(start_paused = true)]
    async fn frames_dropped_before_the_stream_started_are_covered_by_the_replay() {
        for policy in [
            crate::SlowClientPolicy::Disconnect,
            crate::SlowClientPolicy::DropOldest,
        ] {
            let server = SseServer::builder()
                .client_queue(2)
                .slow_clients(policy)
                .no_heartbeat()
                .build()
                .unwrap();
            let ns = server.of::<Tick>("/t").unwrap();
            let client = ns.connect(handshake()).await.unwrap();
            client.join("r").unwrap();
            let mut ids = Vec::new();
            for _ in 0..5 {
                let sent = ns.to("r").emit(Tick).await.unwrap();
                assert_eq!(sent.delivered, 0, "nothing handed to a pending client");
                ids.push(sent.id);
            }
            assert!(
                client.is_connected(),
                "{policy:?}: not disconnected as slow"
            );
            assert_eq!((ns.client_count(), ns.room_size("r")), (1, 1));
            assert_eq!(ns.to("r").count(), 0);

            let mut stream = client.into_stream();
            let text = ready(&mut stream).unwrap();
            let replayed: String = ids.iter().map(|id| tick(*id)).collect();
            assert_eq!(text, format!(": ok\n\n{replayed}"), "{policy:?}");
            assert_eq!(ready(&mut stream), None, "{policy:?}: no late lag notice");
            let live = ns.to("r").emit(Tick).await.unwrap();
            assert_eq!(live.delivered, 1);
            assert_eq!(ready(&mut stream), Some(tick(live.id)));
            let stats = ns.stats();
            assert_eq!(
                (
                    stats.replayed,
                    stats.lagged,
                    stats.resyncs,
                    stats.slow_disconnects
                ),
                (5, 0, 0, 0),
                "{policy:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_older_last_event_id_replays_from_there_through_the_wait() {
        let server = SseServer::builder().no_heartbeat().build().unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let seen = ns.emit(Tick).await.unwrap().id;
        let missed_while_away = ns.emit(Tick).await.unwrap().id;
        let client = ns.connect(with_last_event_id(seen)).await.unwrap();
        let missed_while_pending = ns.emit(Tick).await.unwrap().id;
        let mut stream = client.into_stream();
        assert_eq!(
            ready(&mut stream),
            Some(format!(
                ": ok\n\n{}{}",
                tick(missed_while_away),
                tick(missed_while_pending)
            ))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_id_that_cannot_be_honoured_still_gets_what_happened_since_connect() {
        let server = SseServer::builder().no_heartbeat().build().unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let first = ns.emit(Tick).await.unwrap().id;
        // Newer than any event of this run, and an id of another run (or instance).
        let unknown = [
            EventId::new(first.epoch(), u64::MAX),
            EventId::new(first.epoch() ^ 1, first.offset()),
        ];
        for (resyncs, id) in (1..).zip(unknown) {
            let client = ns.connect(with_last_event_id(id)).await.unwrap();
            let since = ns.emit(Tick).await.unwrap().id;
            let mut stream = client.into_stream();
            assert_eq!(
                ready(&mut stream),
                Some(format!(
                    ": ok\n\nevent: sse:resync\ndata: {{\"reason\":\"unknown\",\"lastEventId\":\"{id}\"}}\n\n{}",
                    tick(since)
                ))
            );
            assert_eq!(ns.stats().resyncs, resyncs);
        }
    }

    /// A wait longer than the history window is reported, not a silent gap; what the window still
    /// holds follows.
    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_history_starts_with_one_resync() {
        let server = SseServer::builder()
            .history(2, Duration::from_secs(60))
            .no_heartbeat()
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let client = ns.connect(handshake()).await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(ns.emit(Tick).await.unwrap().id);
        }
        let mut stream = client.into_stream();
        assert_eq!(
            ready(&mut stream),
            Some(format!(
                ": ok\n\nevent: sse:resync\ndata: {{\"reason\":\"expired\",\"lastEventId\":null}}\n\n{}{}",
                tick(ids[3]),
                tick(ids[4])
            ))
        );
        assert_eq!((ns.stats().resyncs, ns.stats().replayed), (1, 2));

        // Without history, only an event emitted during the wait makes a gap.
        let server = SseServer::builder()
            .no_history()
            .no_heartbeat()
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        ns.emit(Tick).await.unwrap();
        let mut quiet = ns.connect(handshake()).await.unwrap().into_stream();
        let busy = ns.connect(handshake()).await.unwrap();
        ns.emit(Tick).await.unwrap();
        let mut busy = busy.into_stream();
        assert!(ready(&mut quiet).is_some_and(|text| !text.contains("sse:resync")));
        assert!(ready(&mut busy).is_some_and(|text| text.contains(r#""reason":"expired""#)));
    }

    /// Frames sent to a pending client alone wait in its queue (history does not keep them) and
    /// are merged with the replay by id; under drop-oldest, those its queue dropped are reported
    /// exactly where they were.
    #[tokio::test(start_paused = true)]
    async fn direct_frames_while_pending_are_merged_in_id_order() {
        let server = SseServer::builder()
            .client_queue(2)
            .slow_clients(crate::SlowClientPolicy::DropOldest)
            .no_heartbeat()
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let client = ns.connect(handshake()).await.unwrap();
        client.join("r").unwrap();
        let room_1 = ns.to("r").emit(Tick).await.unwrap().id;
        let mut direct = Vec::new();
        for _ in 0..3 {
            let sent = client.emit(Tick).await.unwrap();
            assert_eq!(sent.delivered, 1, "the queue took it");
            direct.push(sent.id);
        }
        let room_2 = ns.to("r").emit(Tick).await.unwrap().id;
        let mut stream = client.into_stream();
        // The queue of two dropped the first direct frame.
        let notice = "event: sse:resync\ndata: {\"reason\":\"lagged\",\"lastEventId\":null,\"dropped\":1}\n\n";
        assert_eq!(
            ready(&mut stream),
            Some(format!(
                ": ok\n\n{}{notice}{}{}{}",
                tick(room_1),
                tick(direct[1]),
                tick(direct[2]),
                tick(room_2)
            ))
        );
        let stats = ns.stats();
        assert_eq!((stats.lagged, stats.resyncs, stats.replayed), (1, 1, 2));
    }

    #[tokio::test]
    async fn dropping_the_stream_removes_the_client() {
        let server = SseServer::builder().build().unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let client = ns.connect(handshake()).await.unwrap();
        client.join(["a", "b"]).unwrap();
        assert_eq!((ns.client_count(), ns.rooms().len()), (1, 2));
        drop(client.into_stream());
        assert_eq!((ns.client_count(), ns.rooms().len()), (0, 0));
        assert_eq!(server.connection_count(), 0);
    }

    /// History that loses events a catching-up client is still owed, between two pages, is
    /// reported at that point; what reached the client live follows, with no duplicate.
    #[tokio::test(start_paused = true)]
    async fn history_lost_between_pages_is_one_resync_at_that_point() {
        let server = SseServer::builder()
            .history(300, Duration::from_secs(60))
            .client_queue(1_000)
            .no_heartbeat()
            .build()
            .unwrap();
        let ns = server.of::<Tick>("/t").unwrap();
        let seen = ns.emit(Tick).await.unwrap().id;
        for _ in 0..290 {
            ns.emit(Tick).await.unwrap();
        }
        let mut stream = ns
            .connect(with_last_event_id(seen))
            .await
            .unwrap()
            .into_stream();
        let first = ready(&mut stream).unwrap();
        assert_eq!(
            first.matches("event: tick").count(),
            crate::core::catchup::PAGE_FRAMES
        );
        // 400 more: the window (300) now starts after the events still owed (up to the fence).
        let mut live = Vec::new();
        for _ in 0..400 {
            live.push(ns.emit(Tick).await.unwrap().id);
        }
        let second = ready(&mut stream).unwrap();
        assert_eq!(
            second,
            format!(
                "event: sse:resync\ndata: {{\"reason\":\"expired\",\"lastEventId\":\"{seen}\"}}\n\n"
            )
        );
        let rest: String = std::iter::from_fn(|| ready(&mut stream)).collect();
        let expected: String = live.iter().map(|id| tick(*id)).collect();
        assert_eq!(rest, expected, "then the live frames, each once");
        assert_eq!(ns.stats().resyncs, 1);
    }
}
