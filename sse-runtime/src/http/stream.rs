//! The response body of one client; documented on [`SseStream`].

use crate::core::catchup::Catchup;
use crate::core::client::{Client, ClientGuard};
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
/// Under [`SlowClientPolicy::DropOldest`](crate::SlowClientPolicy::DropOldest), the `sse:resync`
/// notice of frames dropped since the last write starts the chunk that holds the first frame after
/// them: it always sits exactly at the gap it reports.
///
/// ## Heartbeats
///
/// A `:\n\n` comment goes out when the stream has written nothing for the heartbeat interval.
/// The timer restarts after every write, so an idle stream is never silent for longer than the
/// interval (plus scheduling jitter) and a busy one never carries heartbeats.
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
    heartbeat: Option<Heartbeat>,
    /// Removes the client from its namespace when the stream is dropped.
    guard: ClientGuard,
}

struct Heartbeat {
    interval: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl SseStream {
    pub(crate) fn new(
        queue: Arc<Queue>,
        catchup: Option<Catchup>,
        retry: Option<Duration>,
        heartbeat: Option<Duration>,
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
            heartbeat: heartbeat.map(|interval| Heartbeat {
                interval,
                sleep: Box::pin(tokio::time::sleep(interval)),
            }),
            guard,
        }
    }

    fn wrote(&mut self, chunk: Bytes) -> Poll<Option<Result<Bytes, Infallible>>> {
        if let Some(heartbeat) = &mut self.heartbeat {
            let now = Instant::now();
            // An interval too large to add (`Duration::MAX`) means "practically never".
            let deadline = now
                .checked_add(heartbeat.interval)
                .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
            heartbeat.sleep.as_mut().reset(deadline);
        }
        Poll::Ready(Some(Ok(chunk)))
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
        let (retry, heartbeat) = (self.ns().config().retry, self.ns().config().heartbeat);
        let (queue, catchup, guard) = self.go_live();
        SseStream::new(queue, catchup, retry, heartbeat, guard)
    }
}

impl Stream for SseStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The first write goes out at once, so the response headers do; with it the first page
        // of what the client missed, then one page per write until it is caught up.
        let mut parts: Vec<Bytes> = this.first.take().into_iter().collect();
        while let Some(catchup) = &mut this.catchup {
            match catchup.poll_chunk(cx, &mut parts) {
                Poll::Ready(false) => this.catchup = None,
                Poll::Ready(true) if parts.is_empty() => {}
                Poll::Ready(true) => break,
                // Nothing live may go out before the catch-up: write what there is, or wait.
                Poll::Pending if parts.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        if !parts.is_empty() {
            return this.wrote(concat(parts.into_iter()));
        }
        match this.queue.poll_pop(cx, MAX_CHUNK) {
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Popped { lag, frames })) => {
                // The notice and the frames after the gap it reports, in one write.
                let notice = (lag.dropped > 0).then(|| this.guard.ns.lag_notice(lag.dropped));
                let chunk = concat(
                    notice
                        .into_iter()
                        .chain(frames.into_iter().map(|f| f.bytes)),
                );
                return this.wrote(chunk);
            }
            Poll::Pending => {}
        }
        if let Some(heartbeat) = &mut this.heartbeat {
            if heartbeat.sleep.as_mut().poll(cx).is_ready() {
                return this.wrote(wire::HEARTBEAT);
            }
        }
        Poll::Pending
    }
}

/// One chunk from several, without copying when there is only one.
fn concat(mut parts: impl Iterator<Item = Bytes>) -> Bytes {
    let Some(first) = parts.next() else {
        return Bytes::new();
    };
    let Some(second) = parts.next() else {
        return first;
    };
    let mut chunk = BytesMut::with_capacity((first.len() + second.len()) * 2);
    chunk.extend_from_slice(&first);
    chunk.extend_from_slice(&second);
    for part in parts {
        chunk.extend_from_slice(&part);
    }
    chunk.freeze()
}

impl fmt::Debug for SseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("catching_up", &self.catchup.is_some())
            .field("heartbeat", &self.heartbeat.as_ref().map(|h| h.interval))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecodeError, EventId, Handshake, SseEvents, SseServer};
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
