//! Server configuration: a builder with documented defaults, checked once by `build`.

use crate::cors::Cors;
use crate::server::SseServer;
use std::time::Duration;

/// Default interval of idle-stream heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default per-client queue capacity, in frames.
pub const DEFAULT_CLIENT_QUEUE: usize = 256;

/// A configuration that cannot work; returned by [`SseServerBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `heartbeat(Duration::ZERO)`: use `no_heartbeat()` to turn heartbeats off.
    #[error(
        "heartbeat interval must be greater than zero; use `no_heartbeat()` to turn heartbeats off"
    )]
    ZeroHeartbeat,
    /// `client_queue(0)`: every client needs room for at least one frame.
    #[error("client queue capacity must be at least 1")]
    ZeroClientQueue,
    /// `max_connections(0)` would refuse every client.
    #[error("max_connections must be at least 1")]
    ZeroMaxConnections,
    /// Browsers refuse credentials with `Access-Control-Allow-Origin: *`, and allowing every
    /// site to read a logged-in user's stream would be a leak.
    #[error("CORS credentials cannot be allowed for any origin: list the allowed origins with `Cors::origin`")]
    CorsCredentialsWithAnyOrigin,
    /// An allowed origin is not `scheme://host[:port]`.
    #[error("CORS origin {0:?} is not an origin: expected `scheme://host[:port]` with no path")]
    InvalidCorsOrigin(String),
}

/// The checked configuration every namespace of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) retry: Option<Duration>,
    pub(crate) client_queue: usize,
    pub(crate) max_connections: Option<usize>,
    /// Served by the `axum` feature's CORS layer.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) cors: Option<Cors>,
}

/// Builds an [`SseServer`].
///
/// ```
/// use sse_manager::{Cors, SseServer};
/// use std::time::Duration;
///
/// let server = SseServer::builder()
///     .heartbeat(Duration::from_secs(30))
///     .retry(Duration::from_secs(2))
///     .client_queue(512)
///     .max_connections(10_000)
///     .cors(Cors::origin("https://your-frontend.example").credentials(true))
///     .build()
///     .expect("valid configuration");
/// # let _ = server;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SseServerBuilder {
    heartbeat: Option<Duration>,
    retry: Option<Duration>,
    client_queue: usize,
    max_connections: Option<usize>,
    cors: Option<Cors>,
}

impl Default for SseServerBuilder {
    fn default() -> Self {
        SseServerBuilder {
            heartbeat: Some(DEFAULT_HEARTBEAT),
            retry: None,
            client_queue: DEFAULT_CLIENT_QUEUE,
            max_connections: None,
            cors: None,
        }
    }
}

impl SseServerBuilder {
    /// Sends a heartbeat comment (`:\n\n`) on any stream that has written nothing for `interval`,
    /// so proxies do not close quiet streams. Default: [`DEFAULT_HEARTBEAT`] (15 s).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// Turns heartbeats off.
    pub fn no_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// Sends `retry: <ms>` first on every stream: how long the browser waits before
    /// reconnecting. Default: none (browsers use about 3 s).
    pub fn retry(mut self, delay: Duration) -> Self {
        self.retry = Some(delay);
        self
    }

    /// Frames a client may have queued before it counts as too slow and is disconnected (it
    /// reconnects and resumes). Default: [`DEFAULT_CLIENT_QUEUE`] (256).
    pub fn client_queue(mut self, capacity: usize) -> Self {
        self.client_queue = capacity;
        self
    }

    /// Open streams allowed on this server, over all namespaces; one more is refused with `503`
    /// and `Retry-After`. Default: no limit.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Cross-origin access; see [`Cors`]. Default: none (same origin only).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Checks the configuration and builds the server.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero heartbeat, queue or connection limit, an invalid CORS origin,
    /// or CORS credentials with any origin.
    pub fn build(self) -> Result<SseServer, ConfigError> {
        if self.heartbeat == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroHeartbeat);
        }
        if self.client_queue == 0 {
            return Err(ConfigError::ZeroClientQueue);
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::ZeroMaxConnections);
        }
        if let Some(cors) = &self.cors {
            cors.validate()?;
        }
        Ok(SseServer::from_config(Config {
            heartbeat: self.heartbeat,
            retry: self.retry,
            client_queue: self.client_queue,
            max_connections: self.max_connections,
            cors: self.cors,
        }))
    }
}
