//! [`serve`]: `axum::serve` with the guards a push server facing the internet needs before any
//! handler runs.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
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
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
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
            .header_read_timeout(head_timeout);
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

/// Serves one connection until it closes, the head timeout passes before its first request, it
/// is evicted as the oldest pending one, or the server stops.
async fn connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    router: Router,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    head_timeout: Duration,
    (pending, slot, evicted): (Arc<Pending>, u64, Arc<Notify>),
    mut stop: watch::Receiver<bool>,
) {
    let requested = Arc::new(AtomicBool::new(false));
    let first_request = Arc::new(Notify::new());
    let service = {
        let (requested, first_request) = (requested.clone(), first_request.clone());
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            if !requested.swap(true, Ordering::AcqRel) {
                first_request.notify_one();
            }
            request.extensions_mut().insert(ConnectInfo(remote));
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await;
                Ok::<_, Infallible>(match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                })
            }
        })
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let deadline = tokio::time::sleep(head_timeout);
    tokio::pin!(deadline);
    let mut waiting = true;
    loop {
        tokio::select! {
            _ = &mut connection => break,
            () = first_request.notified(), if waiting => {
                waiting = false;
                pending.release(slot);
            }
            () = &mut deadline, if waiting => {
                tracing::debug!(%remote, "closed: no complete request head in time");
                break;
            }
            () = evicted.notified(), if waiting => {
                tracing::debug!(%remote, "closed: the oldest of too many connections without a request");
                break;
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    connection.as_mut().graceful_shutdown();
                    let _ = (&mut connection).await;
                    break;
                }
            }
        }
    }
    if waiting {
        pending.release(slot);
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
