//! [`serve`]: `axum::serve` with the guards a push server facing the internet needs before any
//! handler runs.

use crate::http::axum::Takeover;
use crate::http::stream::Framing;
use crate::SseStream;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify};
use tower::ServiceExt;

/// Default time a connection has to send its first complete request head; also how long
/// hyper waits for each later head (an idle keep-alive connection is closed after it).
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of connections that have not completed a request head yet.
pub const DEFAULT_MAX_PENDING: usize = 1024;

/// Serves `router` on `listener` (HTTP/1.1 and HTTP/2, as `axum::serve` does), with a head
/// timeout and a bound on connections that have not sent a request yet.
///
/// `axum::serve` gives every accepted connection as long as it likes to send its request head:
/// a client that sends nothing, or half a head, holds a socket and a task (and, after its first
/// bytes, hyper's buffers) for as long as it wants, and thousands of them exhaust memory and file
/// descriptors before any `max_connections` check runs (that check needs a request). `serve`
/// closes a connection whose first request head is not complete within the head timeout, and
/// keeps at most `max_pending` connections that have not completed one: when a new one arrives
/// past that, the oldest is closed, so idle sockets cannot keep real clients out.
///
/// hyper parses and answers every request, as under `axum::serve`. When the answer is an SSE
/// stream ([`SseStream`]) to an HTTP/1.1 `GET` that keeps the connection open, `serve` takes the
/// stream out of the response and writes it on the socket itself (the same bytes hyper would
/// write, chunked), and drops hyper's connection with its buffers: an idle stream then costs
/// about 3 KiB instead of hyper's 20 and more (`benches/connections.rs`). HTTP/2, HTTP/1.0,
/// `HEAD`, `Connection: close`, and every other response stay with hyper. After such a stream
/// ends, its connection closes (the browser's `EventSource` opens a new one). Body layers that
/// wrap an SSE response's body are bypassed by the takeover: they see it, but not its bytes.
///
/// Every request carries the peer's
/// [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), so [`Handshake::remote_addr`](
/// crate::Handshake::remote_addr) is set.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let app = Router::new().route("/health", get(|| async { "ok" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// sse_manager::serve(listener, app)
///     .head_timeout(Duration::from_secs(5))
///     .max_pending(4096)
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, router: Router) -> Serve {
    Serve {
        listener,
        router,
        head_timeout: DEFAULT_HEAD_TIMEOUT,
        max_pending: DEFAULT_MAX_PENDING,
        shutdown: None,
    }
}

/// A server being configured; `.await` it to run. From [`serve`].
#[must_use = "a server does nothing until awaited"]
pub struct Serve {
    listener: TcpListener,
    router: Router,
    head_timeout: Duration,
    max_pending: usize,
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("head_timeout", &self.head_timeout)
            .field("max_pending", &self.max_pending)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// How long a connection has to send a complete request head (default
    /// [`DEFAULT_HEAD_TIMEOUT`]): the first one from when it is accepted, later ones (keep-alive)
    /// from the end of the previous response. A connection that misses it is closed without an
    /// answer. A zero duration is taken as one millisecond.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections kept that have not completed their first request head (default
    /// [`DEFAULT_MAX_PENDING`]); past it, the oldest such connection is closed for each new one.
    /// At least 1.
    pub fn max_pending(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// Stops accepting once `signal` completes, lets each connection finish the request it is
    /// answering, and resolves when every connection has closed, as `axum::serve`'s does. SSE
    /// streams only end when their server shuts down: use
    /// [`SseServer::shutdown_on`](crate::SseServer::shutdown_on) as the signal.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            router,
            head_timeout,
            max_pending,
            shutdown,
        } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(head_timeout)
            // Responses (a publish's answer) in one `send` of one buffer, as the streams do.
            .writev(false);
        let builder = Arc::new(builder);
        let pending = Arc::new(Pending::new(max_pending));
        // `true` once shutdown began; connections watch it.
        let (stopping, stop) = watch::channel(false);
        let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        loop {
            let (stream, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors or a connection reset before accept: wait a
                        // moment instead of spinning, as axum::serve does.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let (slot, evicted) = pending.admit();
            tokio::spawn(connection(
                builder.clone(),
                router.clone(),
                stream,
                remote,
                head_timeout,
                (pending.clone(), slot, evicted),
                stop.clone(),
            ));
        }
        drop(listener);
        // Only the connections' receivers may keep `closed` from resolving.
        drop(stop);
        let _ = stopping.send(true);
        // Every connection holds a receiver: closed once they all ended.
        stopping.closed().await;
        Ok(())
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A stream taken off hyper: its response head, encoded as hyper would, and the stream.
struct Take {
    head: Vec<u8>,
    stream: SseStream,
}

/// Serves one connection until it closes, the head timeout passes before its first request, it
/// is evicted as the oldest pending one, or the server stops. hyper parses and answers every
/// request; when the answer is an SSE stream to an HTTP/1.1 GET that keeps the connection open,
/// the stream is taken out of the response and written here instead, and hyper's connection
/// (with its read and write buffers, 16 KiB and more) is dropped.
async fn connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    router: Router,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    head_timeout: Duration,
    (pending, slot, evicted): (Arc<Pending>, u64, Arc<Notify>),
    mut stop: watch::Receiver<bool>,
) {
    let tcp = Arc::new(stream);
    let requested = Arc::new(AtomicBool::new(false));
    let first_request = Arc::new(Notify::new());
    let (give, taken) = oneshot::channel::<Take>();
    let give = Arc::new(Mutex::new(Some(give)));
    let service = {
        let (requested, first_request) = (requested.clone(), first_request.clone());
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            if !requested.swap(true, Ordering::AcqRel) {
                first_request.notify_one();
            }
            let eligible = request.version() == http::Version::HTTP_11
                && request.method() == http::Method::GET
                && !connection_has(request.headers(), "close")
                && !connection_has(request.headers(), "upgrade");
            request.extensions_mut().insert(ConnectInfo(remote));
            let (router, give) = (router.clone(), give.clone());
            async move {
                let response = match router.oneshot(request.map(Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if !eligible || !plain_stream(&response) {
                    return Ok::<_, Infallible>(response);
                }
                let Some(slot) = response
                    .extensions()
                    .get::<Takeover>()
                    .and_then(|takeover| takeover.0.upgrade())
                else {
                    return Ok(response);
                };
                let Some(give) = give.lock().unwrap_or_else(PoisonError::into_inner).take() else {
                    return Ok(response);
                };
                let Some(stream) = slot.lock().unwrap_or_else(PoisonError::into_inner).take()
                else {
                    return Ok(response);
                };
                let head = encode_head(&response);
                match give.send(Take { head, stream }) {
                    // The connection task drops hyper's connection, and this future with it.
                    Ok(()) => {
                        drop((response, slot));
                        std::future::pending().await
                    }
                    Err(take) => {
                        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(take.stream);
                        Ok(response)
                    }
                }
            }
        })
    };
    let mut connection = Box::pin(
        builder.serve_connection_with_upgrades(TokioIo::new(Shared(tcp.clone())), service),
    );
    let deadline = tokio::time::sleep(head_timeout);
    tokio::pin!(deadline);
    let mut waiting = true;
    let mut taken = Some(taken);
    let take = loop {
        tokio::select! {
            _ = connection.as_mut() => break None,
            take = async {
                match taken.as_mut() {
                    Some(taken) => taken.await,
                    None => std::future::pending().await,
                }
            }, if taken.is_some() => {
                taken = None;
                if let Ok(take) = take {
                    break Some(take);
                }
            }
            () = first_request.notified(), if waiting => {
                waiting = false;
                pending.release(slot);
            }
            () = &mut deadline, if waiting => {
                tracing::debug!(%remote, "closed: no complete request head in time");
                break None;
            }
            () = evicted.notified(), if waiting => {
                tracing::debug!(%remote, "closed: the oldest of too many connections without a request");
                break None;
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.as_mut().await;
                    break None;
                }
            }
        }
    };
    if waiting {
        pending.release(slot);
    }
    // hyper's connection, its buffers and its handle on the socket go now.
    drop(connection);
    if let (Some(take), Ok(tcp)) = (take, Arc::try_unwrap(tcp)) {
        // `stop` stays held: a graceful shutdown waits for this stream to end too (the server's
        // shutdown ends it once it wrote what was queued), so nothing queued is cut off.
        lean(tcp, take).await;
    }
    drop(stop);
}

/// Whether `header` lists `token` (`Connection: keep-alive, Upgrade`).
fn connection_has(headers: &http::HeaderMap, token: &str) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|value| {
            value.to_str().map_or(true, |value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
}

/// A `200` without a length or framing of its own: hyper would send it chunked, as `lean` does.
fn plain_stream(response: &axum::response::Response) -> bool {
    let headers = response.headers();
    response.status() == http::StatusCode::OK
        && !headers.contains_key(http::header::CONTENT_LENGTH)
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
        && !headers.contains_key(http::header::CONNECTION)
}

/// The head hyper writes for such a response: status line, the headers in order, chunked
/// framing, and the date unless the response has one.
fn encode_head(response: &axum::response::Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for (name, value) in response.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    if !response.headers().contains_key(http::header::DATE) {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Writes a taken stream: the head, then each chunk of the stream in chunked framing (one
/// `send` each), until the stream ends (then the last chunk, and the connection closes) or the
/// client goes. One hand-written poll loop rather than a `select!` per chunk: no future is made
/// or dropped per write.
async fn lean(mut tcp: tokio::net::TcpStream, take: Take) {
    use tokio::io::{AsyncWrite, AsyncWriteExt};
    let Take { head, mut stream } = take;
    if tcp.write_all(&head).await.is_err() {
        return;
    }
    drop(head);
    // The chunk being written and how much of it went out.
    let mut out: Option<(Bytes, usize)> = None;
    let ended = std::future::poll_fn(|cx| {
        // An SSE client sends nothing after its request: readable means gone (or garbage).
        // Looked at once per wake-up; interest stays registered, so data wakes the task.
        while let Poll::Ready(ready) = tcp.poll_read_ready(cx) {
            if ready.is_err() {
                return Poll::Ready(false);
            }
            let mut probe = [0u8; 16];
            match tcp.try_read(&mut probe) {
                Ok(0) => return Poll::Ready(false),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Poll::Ready(false),
            }
        }
        loop {
            if let Some((chunk, written)) = &mut out {
                match Pin::new(&mut tcp).poll_write(cx, &chunk[*written..]) {
                    Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(false),
                    Poll::Ready(Ok(n)) => {
                        *written += n;
                        if *written == chunk.len() {
                            out = None;
                        }
                        continue;
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            match stream.poll_chunk(cx, Framing::Chunked) {
                Poll::Ready(Some(chunk)) => out = Some((chunk, 0)),
                Poll::Ready(None) => return Poll::Ready(true),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    if ended {
        let _ = tcp.write_all(b"0\r\n\r\n").await;
        let _ = tcp.shutdown().await;
    }
}

/// The socket as hyper's IO, shared with the connection task, which gets it back whole once
/// hyper's connection is dropped.
struct Shared(Arc<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for Shared {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl tokio::io::AsyncWrite for Shared {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}

/// Connections that have not completed a request head, oldest first.
struct Pending {
    max: usize,
    slots: Mutex<(u64, BTreeMap<u64, Arc<Notify>>)>,
}

impl Pending {
    fn new(max: usize) -> Self {
        Pending {
            max,
            slots: Mutex::new((0, BTreeMap::new())),
        }
    }

    /// Registers a new connection; evicts the oldest when over the limit.
    fn admit(&self) -> (u64, Arc<Notify>) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (next, map) = &mut *slots;
        *next += 1;
        let slot = *next;
        let evicted = Arc::new(Notify::new());
        map.insert(slot, evicted.clone());
        while map.len() > self.max {
            if let Some((_, oldest)) = map.pop_first() {
                // Stored if its task is not waiting yet: it sees it at its first poll.
                oldest.notify_one();
            }
        }
        (slot, evicted)
    }

    fn release(&self, slot: u64) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .remove(&slot);
    }
}
