//! Server configuration: a builder with documented defaults, checked once by `build`.

use crate::core::cors::Cors;
use crate::core::history::Window;
use crate::core::order::AdapterFactory;
use std::time::Duration;

/// Default interval of idle-stream heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default longest a busy stream holds a write back to gather more events: see
/// [`SseServerBuilder::coalesce`].
pub const DEFAULT_COALESCE: Duration = Duration::from_millis(20);
/// How long a stream's oldest queued event must already have waited for a write to be held
/// back: see [`SseServerBuilder::coalesce`].
pub const BUSY_LATENESS: Duration = Duration::from_micros(300);
/// Default per-client queue capacity, in frames.
pub const DEFAULT_CLIENT_QUEUE: usize = 256;
/// Default history per namespace: this many events...
pub const DEFAULT_HISTORY_EVENTS: usize = 1000;
/// ...none older than this...
pub const DEFAULT_HISTORY_AGE: Duration = Duration::from_secs(300);
/// ...and at most this many bytes of frames.
pub const DEFAULT_HISTORY_BYTES: usize = 16 * 1024 * 1024;
/// Default longest `Last-Event-ID` accepted, in bytes; longer ones are answered `400`.
pub const DEFAULT_MAX_LAST_EVENT_ID_LEN: usize = 64;
/// Default longest room name, in bytes; a longer one is refused by `join`.
pub const DEFAULT_MAX_ROOM_NAME_LEN: usize = 1024;

/// What happens to a client whose queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowClientPolicy {
    /// End its stream (counted in [`NamespaceStats::slow_disconnects`](crate::NamespaceStats)).
    /// Its `EventSource` reconnects with `Last-Event-ID` and resumes from history, so nothing is
    /// lost inside the history window. The default.
    #[default]
    Disconnect,
    /// Drop its oldest queued frame to make room, and send it one `sse:resync` event with
    /// `"reason": "lagged"` and the number `dropped`, immediately before the first frame after the
    /// gap. The stream stays open, with a gap. A full queue then takes a small per-client lock,
    /// shared only with that client's stream, to keep the notice at the gap.
    DropOldest,
}

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
    /// `history(0, ..)` or a zero age: use `no_history()` to turn history off.
    #[error("history needs room for at least one event and a non-zero age; use `no_history()` to turn it off")]
    EmptyHistory,
    /// A zero length limit would refuse every `Last-Event-ID` or every room.
    #[error("length limits must be at least 1")]
    ZeroLengthLimit,
    /// The adapter's own settings cannot work (e.g. a Redis URL that does not parse).
    #[error("adapter: {0}")]
    Adapter(String),
}

/// The checked configuration every namespace of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) coalesce: Option<Duration>,
    pub(crate) retry: Option<Duration>,
    pub(crate) client_queue: usize,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_namespace_connections: Option<usize>,
    pub(crate) history: Option<Window>,
    pub(crate) slow_clients: SlowClientPolicy,
    pub(crate) max_last_event_id_len: usize,
    pub(crate) max_room_name_len: usize,
    /// Served by the `axum` feature's CORS layer.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) cors: Option<Cors>,
}

/// Builds an [`SseServer`](crate::SseServer).
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
    coalesce: Option<Duration>,
    client_queue: usize,
    max_connections: Option<usize>,
    max_namespace_connections: Option<usize>,
    history: Option<Window>,
    slow_clients: SlowClientPolicy,
    max_last_event_id_len: usize,
    max_room_name_len: usize,
    cors: Option<Cors>,
    /// Set by [`adapter`](Self::adapter); `None` orders in memory.
    pub(crate) adapter: Option<AdapterFactory>,
}

impl Default for SseServerBuilder {
    fn default() -> Self {
        SseServerBuilder {
            heartbeat: Some(DEFAULT_HEARTBEAT),
            retry: None,
            coalesce: Some(DEFAULT_COALESCE),
            client_queue: DEFAULT_CLIENT_QUEUE,
            max_connections: None,
            max_namespace_connections: None,
            history: Some(Window {
                max_events: DEFAULT_HISTORY_EVENTS,
                max_age: DEFAULT_HISTORY_AGE,
                max_bytes: DEFAULT_HISTORY_BYTES,
            }),
            slow_clients: SlowClientPolicy::Disconnect,
            max_last_event_id_len: DEFAULT_MAX_LAST_EVENT_ID_LEN,
            max_room_name_len: DEFAULT_MAX_ROOM_NAME_LEN,
            cors: None,
            adapter: None,
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

    /// How long a busy stream may hold a write back to gather more events into it. Default:
    /// [`DEFAULT_COALESCE`] (20 ms).
    ///
    /// A stream writes what is queued as soon as it runs, except when both say the process is
    /// saturated and more events for this stream are on their way: its oldest queued event has
    /// already waited [`BUSY_LATENESS`] (300 µs) for the stream to run, and its events have
    /// lately come at least four to a window (a moving average over its last writes). Then it
    /// waits `window` more and writes everything queued by then in one chunk. A stream with
    /// fewer events than that, or any stream in a process that keeps up, is never held back;
    /// under load, each write of a busy stream carries many events instead of one, which is
    /// what frees the CPU to keep up (a `write` costs about as much as thirty queue pushes).
    /// Closing a held-back stream takes effect when its wait ends.
    pub fn coalesce(mut self, window: Duration) -> Self {
        self.coalesce = Some(window);
        self
    }

    /// Every stream writes what is queued as soon as it runs (see [`coalesce`](Self::coalesce)).
    pub fn no_coalesce(mut self) -> Self {
        self.coalesce = None;
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

    /// Open streams allowed per namespace; one more is refused with `503` and `Retry-After`.
    /// Default: no limit.
    pub fn max_connections_per_namespace(mut self, max: usize) -> Self {
        self.max_namespace_connections = Some(max);
        self
    }

    /// Keeps each namespace's last `max_events` events, none older than `max_age`, so a client
    /// reconnecting with `Last-Event-ID` gets what it missed. Default:
    /// [`DEFAULT_HISTORY_EVENTS`] (1000) and [`DEFAULT_HISTORY_AGE`] (5 min), within
    /// [`DEFAULT_HISTORY_BYTES`] (16 MiB; see [`history_max_bytes`](Self::history_max_bytes)).
    pub fn history(mut self, max_events: usize, max_age: Duration) -> Self {
        let max_bytes = self.history.map_or(DEFAULT_HISTORY_BYTES, |w| w.max_bytes);
        self.history = Some(Window {
            max_events,
            max_age,
            max_bytes,
        });
        self
    }

    /// Caps the history of each namespace at this many bytes of frames, so big payloads cannot
    /// make it large. Default: [`DEFAULT_HISTORY_BYTES`] (16 MiB).
    pub fn history_max_bytes(mut self, max_bytes: usize) -> Self {
        if let Some(window) = &mut self.history {
            window.max_bytes = max_bytes;
        }
        self
    }

    /// Keeps no history: a reconnecting client that missed events gets `sse:resync`.
    pub fn no_history(mut self) -> Self {
        self.history = None;
        self
    }

    /// What happens to a client whose queue is full; see [`SlowClientPolicy`].
    pub fn slow_clients(mut self, policy: SlowClientPolicy) -> Self {
        self.slow_clients = policy;
        self
    }

    /// Longest `Last-Event-ID` accepted, in bytes; a longer one is answered `400`. Default:
    /// [`DEFAULT_MAX_LAST_EVENT_ID_LEN`] (64; ids are numbers).
    pub fn max_last_event_id_len(mut self, max: usize) -> Self {
        self.max_last_event_id_len = max;
        self
    }

    /// Longest room name, in bytes; `join` refuses longer ones. Default:
    /// [`DEFAULT_MAX_ROOM_NAME_LEN`] (1024).
    pub fn max_room_name_len(mut self, max: usize) -> Self {
        self.max_room_name_len = max;
        self
    }

    /// Cross-origin access; see [`Cors`]. Default: none (same origin only). With axum, apply it
    /// by adding [`SseServer::cors_layer`](crate::SseServer::cors_layer) to the router: the configuration alone sets no header.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// The checked configuration; `build` (in `adapter/`, which picks the adapter) calls it.
    pub(crate) fn validate(&self) -> Result<Config, ConfigError> {
        if self.heartbeat == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroHeartbeat);
        }
        if self.client_queue == 0 {
            return Err(ConfigError::ZeroClientQueue);
        }
        if self.max_connections == Some(0) || self.max_namespace_connections == Some(0) {
            return Err(ConfigError::ZeroMaxConnections);
        }
        if self
            .history
            .is_some_and(|w| w.max_events == 0 || w.max_age.is_zero() || w.max_bytes == 0)
        {
            return Err(ConfigError::EmptyHistory);
        }
        if self.max_last_event_id_len == 0 || self.max_room_name_len == 0 {
            return Err(ConfigError::ZeroLengthLimit);
        }
        if let Some(cors) = &self.cors {
            cors.validate()?;
        }
        Ok(Config {
            heartbeat: self.heartbeat,
            retry: self.retry,
            coalesce: self.coalesce.filter(|window| !window.is_zero()),
            client_queue: self.client_queue,
            max_connections: self.max_connections,
            max_namespace_connections: self.max_namespace_connections,
            history: self.history,
            slow_clients: self.slow_clients,
            max_last_event_id_len: self.max_last_event_id_len,
            max_room_name_len: self.max_room_name_len,
            cors: self.cors.clone(),
        })
    }
}
