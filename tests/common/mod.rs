//! Test fixtures: a real server on 127.0.0.1 and SSE clients that read it over HTTP.
#![allow(dead_code, unreachable_pub)]

#[path = "../../examples/sports/events.rs"]
pub mod events;

/// The `RedisServer` fixture, here for the process-wide server of [`builder`].
#[cfg(feature = "redis")]
#[path = "redis.rs"]
pub mod redis_server;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use sse_manager::{
    Client, ClientHandle, Handshake, Namespace, Reject, SseServer, SseServerBuilder, SseStream,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(unused_imports)]
pub(crate) use events::{CricketEvents, FootballEvents, Runs};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A running server with both sports namespaces.
#[derive(Clone)]
pub struct App {
    pub server: SseServer,
    pub football: Namespace<FootballEvents>,
    pub cricket: Namespace<CricketEvents>,
    pub addr: SocketAddr,
    /// Football clients by the `?tag=` they connected with, to join/leave from the test.
    pub tagged: Arc<Mutex<HashMap<String, ClientHandle<FootballEvents>>>>,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Emits a football announcement to `room`.
    pub async fn announce(&self, room: &str, message: &str) -> sse_manager::Emitted {
        self.football
            .to(room)
            .emit(announcement(message))
            .await
            .unwrap()
    }
}

/// `GET /football?room=a&room=b&tag=x` and `GET /cricket/{room}`: connect, join, stream.
pub fn router(app: &App) -> Router {
    Router::new()
        .route("/football", get(football))
        .route("/cricket/{room}", get(cricket))
        .route("/health", get(|| async { "ok" }))
        .layer(app.server.cors_layer())
        .with_state(app.clone())
}

async fn football(State(app): State<App>, hs: Handshake) -> Result<SseStream, Reject> {
    Ok(connect_football(&app, hs).await?.into_stream())
}

/// What `GET /football` does before it streams: connect, join every `?room=`, and keep a handle
/// under `?tag=` for the test.
pub async fn connect_football(app: &App, hs: Handshake) -> Result<Client<FootballEvents>, Reject> {
    let client = app.football.connect(hs.clone()).await?;
    for room in hs.query_all("room") {
        client.join(room)?;
    }
    if let Some(tag) = hs.query("tag") {
        app.tagged
            .lock()
            .unwrap()
            .insert(tag.to_owned(), client.handle());
    }
    Ok(client)
}

async fn cricket(
    State(app): State<App>,
    Path(room): Path<String>,
    hs: Handshake,
) -> Result<SseStream, Reject> {
    assert_eq!(hs.path_param("room"), Some(room.as_str()));
    assert!(hs.remote_addr().is_some_and(|addr| addr.ip().is_loopback()));
    let client = app.cricket.connect(hs).await?;
    client.join(room)?;
    Ok(client.into_stream())
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts panics anywhere in this test binary, server tasks included: axum runs each connection
/// in its own task, so a panic there would not fail a health check by itself.
fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            default(info);
        }));
    });
}

/// Resident memory of this process (server and clients alike), in bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Panics so far in this test binary.
pub fn panics() -> usize {
    PANICS.load(std::sync::atomic::Ordering::SeqCst)
}

/// The server at `health_url` answers 200, and nothing panicked anywhere in this test binary,
/// server tasks included.
pub async fn assert_healthy(health_url: &str) {
    let response = http().get(health_url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {health_url}");
    assert_eq!(panics(), 0, "a panic happened (see the output above)");
}

/// A 512 KiB header is refused with `431` (or the connection is closed while it is still being
/// written), and the server stays healthy.
pub async fn assert_huge_headers_refused(url: &str, health_url: &str) {
    let result = http()
        .get(url)
        .header("x-huge", "a".repeat(512 * 1024))
        .send()
        .await;
    match result {
        Ok(response) => assert_eq!(response.status(), 431),
        Err(err) => assert!(
            err.is_request() || err.is_connect() || err.is_body(),
            "{err}"
        ),
    }
    assert_healthy(health_url).await;
}

/// The adapter the suites run against: `SSE_TEST_ADAPTER=redis` (the `redis` feature on) for
/// Redis, unset for the in-memory one. `./scripts/test` runs the suites both ways.
pub fn redis() -> bool {
    match std::env::var("SSE_TEST_ADAPTER").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "local" | "memory") => false,
        Ok("redis") => true,
        Ok(other) => {
            panic!("SSE_TEST_ADAPTER={other:?}: expected `redis`, `local` (`memory`) or unset")
        }
        Err(e) => panic!("SSE_TEST_ADAPTER: {e}"),
    }
}

/// `SseServer::builder()` with the adapter under test (see [`redis`]): every server a test
/// starts through it is a cluster of its own, on one `redis-server` shared by the test process
/// and started on first use. With the in-memory adapter nothing Redis-related happens.
pub fn builder() -> SseServerBuilder {
    let builder = SseServer::builder();
    if redis() {
        with_redis(builder)
    } else {
        builder
    }
}

#[cfg(feature = "redis")]
fn with_redis(builder: SseServerBuilder) -> SseServerBuilder {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    // Unique per server: servers of one test must not share an order by accident (a server of
    // "another run" must not know this one's ids).
    let prefix = format!(
        "t{}-{:08x}",
        SERVERS.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    builder.adapter(
        sse_manager::adapter::RedisAdapter::new(redis_server::shared_url())
            .key_prefix(prefix)
            .probe(Duration::from_millis(200), Duration::from_millis(1000))
            .command_timeout(Duration::from_millis(500)),
    )
}

#[cfg(not(feature = "redis"))]
fn with_redis(_: SseServerBuilder) -> SseServerBuilder {
    panic!(
        "SSE_TEST_ADAPTER=redis needs the `redis` feature: \
         SSE_TEST_ADAPTER=redis cargo test --features redis ..."
    )
}

/// Starts a server on a free loopback port.
pub async fn spawn(builder: SseServerBuilder) -> App {
    let server = builder.build().expect("valid test configuration");
    spawn_with(server, router).await
}

/// The app of `server` and the free loopback port it is to be served on, not served yet.
pub async fn app_on(server: SseServer) -> (App, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = App {
        football: server.of("/football").unwrap(),
        cricket: server.of("/cricket").unwrap(),
        server,
        addr: listener.local_addr().unwrap(),
        tagged: Arc::default(),
    };
    (app, listener)
}

/// Starts `make(app)` on a free loopback port.
pub async fn spawn_with(server: SseServer, make: impl FnOnce(&App) -> Router) -> App {
    let (app, listener) = app_on(server).await;
    if redis() {
        // A server built with `SseServer::builder()` would test the in-memory adapter twice.
        assert_eq!(
            app.football.stats().adapter.kind,
            "redis",
            "SSE_TEST_ADAPTER=redis: build the server with common::builder()"
        );
    }
    serve_on(listener, make(&app));
    app
}

/// Serves `router` on a free loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve_on(listener, router);
    addr
}

fn serve_on(listener: tokio::net::TcpListener, router: Router) {
    count_panics();
    tokio::spawn(async move {
        serving(listener, router, std::future::pending())
            .await
            .unwrap()
    });
}

/// Whether servers run on `sse_manager::serve` (`SSE_TEST_SERVE=sse-manager`) instead of
/// `axum::serve` (unset or `axum`): the suites run on both ways of serving.
pub fn guarded_serve() -> bool {
    match std::env::var("SSE_TEST_SERVE").as_deref() {
        Err(_) | Ok("" | "axum") => false,
        Ok("sse-manager") => true,
        Ok(other) => panic!("SSE_TEST_SERVE={other:?}: expected `axum` or `sse-manager`"),
    }
}

/// Serves `router` on `listener` the way `SSE_TEST_SERVE` says, until `signal` (graceful).
pub fn serving(
    listener: tokio::net::TcpListener,
    router: Router,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> {
    use std::future::IntoFuture;
    if guarded_serve() {
        sse_manager::serve(listener, router)
            .with_graceful_shutdown(signal)
            .into_future()
    } else {
        Box::pin(
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(signal)
            .into_future(),
        )
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// One SSE connection, read as raw bytes.
pub struct RawStream {
    pub response_headers: reqwest::header::HeaderMap,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    pub buffer: Vec<u8>,
}

impl RawStream {
    /// Reads until the buffer holds `n` bytes more than now, or `within` elapses.
    pub async fn read_chunk(&mut self, within: Duration) -> Option<Bytes> {
        match tokio::time::timeout(within, self.body.next()).await {
            Ok(Some(Ok(chunk))) => {
                self.buffer.extend_from_slice(&chunk);
                Some(chunk)
            }
            _ => None,
        }
    }

    /// Whether the server ended the stream within `within`.
    pub async fn ended(&mut self, within: Duration) -> bool {
        loop {
            match tokio::time::timeout(within, self.body.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
                Err(_) => return false,
            }
        }
    }
}

/// Opens a stream and checks it answered `200 text/event-stream`.
pub async fn open_raw(client: &reqwest::Client, url: &str) -> RawStream {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "GET {url}"
    );
    RawStream {
        response_headers: response.headers().clone(),
        body: Box::pin(response.bytes_stream()),
        buffer: Vec::new(),
    }
}

/// One SSE connection, read through an independent WHATWG parser (`eventsource-stream`).
pub struct Events {
    inner: Pin<Box<dyn Stream<Item = Event> + Send>>,
}

impl Events {
    pub async fn next(&mut self) -> Event {
        self.try_next(PATIENCE)
            .await
            .expect("an event within the test's patience")
    }

    pub async fn try_next(&mut self, within: Duration) -> Option<Event> {
        tokio::time::timeout(within, self.inner.next())
            .await
            .ok()
            .flatten()
    }

    /// Events up to and including the first whose data contains `sentinel`.
    pub async fn until(&mut self, sentinel: &str) -> Vec<Event> {
        self.until_within(sentinel, PATIENCE).await
    }

    /// Like `until`, waiting up to `each` for every event (for tests that load the machine).
    pub async fn until_within(&mut self, sentinel: &str, each: Duration) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = self.try_next(each).await.expect("an event in time");
            let done = event.data.contains(sentinel);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}

/// Opens a football stream with a `Last-Event-ID` header: `GET /football?{query}`.
pub async fn resume(http: &reqwest::Client, app: &App, query: &str, last_id: &str) -> Events {
    let response = http
        .get(app.url(&format!("/football?{query}")))
        .header("last-event-id", last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    events_of(response)
}

pub async fn open(client: &reqwest::Client, url: &str) -> Events {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    events_of(response)
}

/// Reads a `200 text/event-stream` response as events.
pub fn events_of(response: reqwest::Response) -> Events {
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Events {
        inner: Box::pin(
            response
                .bytes_stream()
                .eventsource()
                .filter_map(|event| async move { event.ok() }),
        ),
    }
}

pub fn announcement(message: &str) -> FootballEvents {
    FootballEvents::Announcement {
        message: message.to_owned(),
    }
}

/// The messages of football announcements in a list of events.
pub fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            assert_eq!(event.event, "announcement");
            serde_json::from_str::<serde_json::Value>(&event.data).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Polls `condition` until it holds or the test's patience runs out.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
