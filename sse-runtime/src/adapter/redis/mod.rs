//! The Redis adapter: see [`RedisAdapter`].

mod codec;
mod ns;
mod scripts;

use crate::core::config::ConfigError;
use crate::core::order::{Adapter, AdapterFactory, LocalClients, NamespaceAdapter};
use std::sync::Arc;
use std::time::Duration;

/// One order per namespace for every instance of a cluster, sequenced by Redis.
///
/// ```no_run
/// use sse_manager::adapter::RedisAdapter;
/// use sse_manager::SseServer;
///
/// let server = SseServer::builder()
///     .adapter(RedisAdapter::new("redis://127.0.0.1:6379"))
///     .build()
///     .unwrap();
/// # let _ = server;
/// ```
///
/// ## How events are ordered
///
/// An emit is appended to the namespace's Redis Stream by one Lua script (batched with the
/// emits queued meanwhile), which takes the next offset of the namespace's epoch and publishes
/// the entries on the namespace's channel. Every instance, the emitting one included, delivers
/// entries strictly in offset order: a gap (a skipped offset, a resubscription) is filled from
/// the Stream before anything later. So every client on every instance sees one order, and an id
/// (`<epoch>-<offset>`) means the same event everywhere: a client that reconnects to *any*
/// instance with `Last-Event-ID` gets exactly what it missed. `emit().await` resolves once the
/// event came back from Redis and reached this instance's clients ([`Emitted::delivered`](crate::Emitted::delivered) counts
/// this instance's clients only); throughput comes from concurrent emitters, whose emits share
/// one script call.
///
/// Each instance keeps the namespace's recent log in memory (the history window, read from the
/// Stream when it starts), so resumes are answered locally.
///
/// ## When Redis is down
///
/// - A subscription that drops (or is wedged: connected, but the instance's probe never comes
///   back) is rebuilt, and the gap filled from the Stream; meanwhile emits still go to Redis and
///   this instance's clients wait, at most the probe timeout.
/// - When Redis cannot be reached for longer (or a command fails), the instance goes *down*: each
///   emit is delivered to this instance's clients at once, and kept in a bounded outbox. When
///   Redis is back, the outbox is appended to the log in order and reaches the other instances
///   late; this instance never delivers those events twice. Emits that did not fit the outbox
///   are announced instead: one outage marker in the log, which every other instance's clients
///   receive as `sse:resync` (`"reason":"outage"`). Nothing is lost silently.
/// - While an instance has delivered events that are not in the log yet, the ids it writes are
///   its own (`<instance epoch>-<n>`): a client that reconnects to *it* resumes exactly; on
///   another instance that id is unknown and the client gets `sse:resync` (`"reason":"unknown"`),
///   never a wrong replay.
/// - Redis restarted empty (or a failover lost writes): the namespace starts a new epoch, every
///   client gets `sse:resync` (`"reason":"epoch"`), and older ids are refused. An event emitted
///   just before the crash may then be delivered once more, after that notice.
///
/// [`NamespaceStats::adapter`](crate::NamespaceStats::adapter) shows the state (`connected`,
/// `reconnecting`, `down`), reconnects, lag behind the Stream head, outbox size, gaps filled.
///
/// ## Redis keys
///
/// Every key of a namespace carries one hash tag (the path), so a namespace lives in one Redis
/// Cluster slot: `<prefix>:{<path>}:meta` (epoch and head offset), `:log` (the Stream, trimmed to
/// about the history window), `:meta:origin:<instance>` (an idempotency mark per instance),
/// `:members`, and the channels `:ch`, `:req`, `:req:resp:<instance>`.
///
/// ## Configuration
///
/// ```
/// use sse_manager::adapter::RedisAdapter;
/// use std::time::Duration;
///
/// let redis = RedisAdapter::new("redis://127.0.0.1:6379/0")
///     .key_prefix("scores")
///     .probe(Duration::from_secs(1), Duration::from_secs(2))
///     .outbox(5_000, 8 << 20);
/// # let _ = redis;
/// ```
#[derive(Debug, Clone)]
pub struct RedisAdapter {
    settings: Settings,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) batch_max: usize,
    pub(crate) max_pending: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) probe_every: Duration,
    pub(crate) probe_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) outbox_events: usize,
    pub(crate) outbox_bytes: usize,
    pub(crate) stream_len: Option<usize>,
    pub(crate) origin_ttl: Duration,
}

impl RedisAdapter {
    /// Redis at `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` with TLS if
    /// the `redis` crate was built with it). Checked by `build`; connected lazily, in the
    /// background, when a namespace is created.
    pub fn new(url: impl Into<String>) -> Self {
        RedisAdapter {
            settings: Settings {
                url: url.into(),
                prefix: "sse".to_owned(),
                batch_max: 64,
                max_pending: 4096,
                command_timeout: Duration::from_secs(1),
                probe_every: Duration::from_secs(1),
                probe_timeout: Duration::from_secs(3),
                request_timeout: Duration::from_millis(500),
                outbox_events: 10_000,
                outbox_bytes: 16 << 20,
                stream_len: None,
                origin_ttl: Duration::from_secs(3600),
            },
        }
    }

    /// The first part of every Redis key and channel (default `sse`): servers with different
    /// prefixes on one Redis are separate clusters.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    /// How often each namespace publishes a probe through its own channel (default 1 s), and how
    /// long without its echo counts as a wedged subscription, or without Redis as *down*
    /// (default 3 s). Also the longest local clients wait while the subscription is rebuilt.
    pub fn probe(mut self, every: Duration, timeout: Duration) -> Self {
        self.settings.probe_every = every;
        self.settings.probe_timeout = timeout;
        self
    }

    /// How long one Redis command may take before the connection is replaced (default 1 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// How long a cluster-wide request waits for the other instances (default 500 ms).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// The most events (default 10,000) and bytes (default 16 MiB) an instance keeps during an
    /// outage to pass on when Redis is back; beyond that, the other instances' clients get
    /// `sse:resync` (`"reason":"outage"`).
    pub fn outbox(mut self, max_events: usize, max_bytes: usize) -> Self {
        self.settings.outbox_events = max_events;
        self.settings.outbox_bytes = max_bytes;
        self
    }

    /// About how many entries the Redis Stream of a namespace keeps (default: the history
    /// window's `max_events`, or 1,000 without history). Gaps (an instance's reconnect) are
    /// filled from it; a longer gap gets `sse:resync` (`"reason":"expired"`).
    pub fn stream_len(mut self, entries: usize) -> Self {
        self.settings.stream_len = Some(entries);
        self
    }

    /// The most entries one script call appends (default 64): emits queued while a call runs
    /// share the next one.
    pub fn batch_max(mut self, entries: usize) -> Self {
        self.settings.batch_max = entries;
        self
    }

    /// The most emits of one namespace waiting for Redis at once (default 4,096); more wait for
    /// a place before they are sent.
    pub fn max_pending(mut self, emits: usize) -> Self {
        self.settings.max_pending = emits;
        self
    }
}

impl super::IntoAdapter for RedisAdapter {}

impl super::sealed::Sealed for RedisAdapter {
    fn factory(self) -> AdapterFactory {
        let settings = self.settings;
        AdapterFactory {
            name: "RedisAdapter",
            make: Arc::new(move |config| {
                let client = redis::Client::open(settings.url.as_str()).map_err(|e| {
                    ConfigError::Adapter(format!("invalid Redis URL {:?}: {e}", settings.url))
                })?;
                let positive = [
                    settings.command_timeout,
                    settings.probe_every,
                    settings.probe_timeout,
                    settings.request_timeout,
                ];
                if positive.iter().any(Duration::is_zero)
                    || settings.batch_max == 0
                    || settings.max_pending == 0
                    || settings.stream_len == Some(0)
                {
                    return Err(ConfigError::Adapter(
                        "Redis timeouts, batch size, pending emits and stream length must be greater than zero".to_owned(),
                    ));
                }
                if settings.prefix.is_empty() || settings.prefix.contains(['{', '}']) {
                    return Err(ConfigError::Adapter(format!(
                        "Redis key prefix {:?} must be non-empty, without braces",
                        settings.prefix
                    )));
                }
                Ok(Box::new(RedisOrder {
                    // Per server, not per process: instances may share a process (tests do).
                    instance: crate::core::id::random_u64(),
                    settings: Arc::new(settings.clone()),
                    history: config.history,
                    client,
                }))
            }),
        }
    }
}

/// The adapter of a server: binds each namespace to its keys and starts its tasks.
struct RedisOrder {
    /// This instance's id in the cluster: the origin of its log entries.
    instance: u64,
    settings: Arc<Settings>,
    history: Option<crate::core::history::Window>,
    client: redis::Client,
}

impl Adapter for RedisOrder {
    fn ready(&self) -> Result<(), String> {
        tokio::runtime::Handle::try_current()
            .map(drop)
            .map_err(|_| "the Redis adapter runs a task per namespace: create namespaces (`SseServer::of`) inside a tokio runtime".to_owned())
    }

    fn bind(&self, path: &str, local: LocalClients) -> Box<dyn NamespaceAdapter> {
        ns::bind(
            self.instance,
            self.settings.clone(),
            self.history,
            self.client.clone(),
            path,
            local,
        )
    }
}
