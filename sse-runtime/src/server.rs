//! The server: configuration shared by every namespace, and the namespace registry.

use crate::config::{Config, SseServerBuilder};
use crate::namespace::{Namespace, NamespaceStats, NsCore};
use crate::{Reject, SseEvents};
use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The entry point: build one per process, then get typed namespaces from it with
/// [`of`](SseServer::of). Cheap to clone.
///
/// ## Shutdown
///
/// [`shutdown`](SseServer::shutdown) ends every open stream after it has written what is already
/// queued (so a final event emitted just before reaches its clients), and from then on a new
/// connection gets a stream that ends at once: browsers retry it (reaching another instance, or
/// this one restarted), where an error status would make them give up. With axum, pass
/// [`shutdown_on`](SseServer::shutdown_on) to `with_graceful_shutdown` so the process exits
/// promptly instead of waiting for streams that never end. (A client that stopped reading loses its
/// slot at once, but hyper keeps its connection until it can write to it: bound the wait after
/// the signal with a timeout, as the sports example does.)
///
/// ```no_run
/// # use sse_manager::SseServer;
/// # async fn run(server: SseServer, app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(server.shutdown_on(async {
///         let _ = tokio::signal::ctrl_c().await;
///     }))
///     .await
/// # }
/// ```
///
/// ```
/// use sse_manager::{SseEvents, SseServer};
///
/// #[derive(SseEvents)]
/// enum Football { Goal { minute: u32 } }
/// #[derive(SseEvents)]
/// enum Cricket { Wicket { over: u32 } }
///
/// let server = SseServer::builder().build().unwrap();
/// let football = server.of::<Football>("/football").unwrap();
/// let again = server.of::<Football>("/football").unwrap(); // the same namespace
/// assert!(server.of::<Cricket>("/football").is_err()); // another event set on that path
/// # let _ = (football, again);
/// ```
#[derive(Clone)]
pub struct SseServer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<ServerShared>,
    /// Path → namespace; a path keeps the event type it was first asked for.
    namespaces: Mutex<HashMap<String, Registered>>,
}

struct Registered {
    events: TypeId,
    events_name: &'static str,
    core: Arc<NsCore>,
}

/// What every namespace of a server shares.
pub(crate) struct ServerShared {
    pub(crate) config: Config,
    /// Open streams over all namespaces; each is held by a [`ConnectionPermit`].
    connections: AtomicUsize,
    /// Set once by `shutdown`, never cleared.
    shutting_down: AtomicBool,
}

/// A namespace that cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// The path does not start with `/`, or contains whitespace or control characters.
    #[error(
        "namespace path {0:?} must start with `/` and contain no whitespace or control characters"
    )]
    InvalidPath(String),
    /// The path was already created with another event set.
    #[error("namespace {path:?} already uses events `{existing}`, not `{requested}`")]
    EventTypeMismatch {
        /// The path asked for.
        path: String,
        /// The event set it has.
        existing: &'static str,
        /// The event set asked for.
        requested: &'static str,
    },
}

impl SseServer {
    /// Starts configuring a server.
    pub fn builder() -> SseServerBuilder {
        SseServerBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        SseServer {
            inner: Arc::new(Inner {
                shared: Arc::new(ServerShared {
                    config,
                    connections: AtomicUsize::new(0),
                    shutting_down: AtomicBool::new(false),
                }),
                namespaces: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The namespace at `path` for the event set `E`, created on first use.
    ///
    /// # Errors
    ///
    /// [`NamespaceError`] when the path is malformed, or already belongs to another event set:
    /// the compiler then keeps a cricket event off the football namespace.
    pub fn of<E: SseEvents>(&self, path: &str) -> Result<Namespace<E>, NamespaceError> {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NamespaceError::InvalidPath(path.to_owned()));
        }
        let mut namespaces = self
            .inner
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let registered = namespaces
            .entry(path.to_owned())
            .or_insert_with(|| Registered {
                events: TypeId::of::<E>(),
                events_name: std::any::type_name::<E>(),
                core: Arc::new(NsCore::new(path, self.inner.shared.clone())),
            });
        if registered.events != TypeId::of::<E>() {
            return Err(NamespaceError::EventTypeMismatch {
                path: path.to_owned(),
                existing: registered.events_name,
                requested: std::any::type_name::<E>(),
            });
        }
        Ok(Namespace::from_core(registered.core.clone()))
    }

    /// Open streams over all namespaces. A client stops counting the moment it is disconnected
    /// (too slow, `disconnect`, shutdown), even if its TCP connection lingers because it stopped
    /// reading.
    pub fn connection_count(&self) -> usize {
        self.inner.shared.connections.load(Ordering::Relaxed)
    }

    /// The stats of every namespace, by path, sorted.
    pub fn stats(&self) -> Vec<(String, NamespaceStats)> {
        let mut stats: Vec<(String, NamespaceStats)> = self
            .namespaces()
            .into_iter()
            .map(|core| (core.path().to_owned(), core.stats()))
            .collect();
        stats.sort_by(|a, b| a.0.cmp(&b.0));
        stats
    }

    /// Ends every stream once it has written what is queued; see [Shutdown](#shutdown).
    pub fn shutdown(&self) {
        self.inner
            .shared
            .shutting_down
            .store(true, Ordering::SeqCst);
        for core in self.namespaces() {
            core.drain_all();
        }
    }

    /// Whether [`shutdown`](SseServer::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shared.is_shutting_down()
    }

    /// Waits for `signal`, then shuts down: a future for axum's `with_graceful_shutdown`.
    pub fn shutdown_on<F: Future>(&self, signal: F) -> impl Future<Output = ()> + use<F> {
        let server = self.clone();
        async move {
            signal.await;
            server.shutdown();
        }
    }

    fn namespaces(&self) -> Vec<Arc<NsCore>> {
        self.inner
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|registered| registered.core.clone())
            .collect()
    }

    #[cfg(feature = "axum")]
    pub(crate) fn config(&self) -> &Config {
        &self.inner.shared.config
    }
}

impl fmt::Debug for SseServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseServer")
            .field("config", &self.inner.shared.config)
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl ServerShared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Takes a connection slot, or refuses with `503` at the limit.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Result<ConnectionPermit, Reject> {
        let previous = self.connections.fetch_add(1, Ordering::AcqRel);
        let permit = ConnectionPermit {
            server: self.clone(),
        };
        match self.config.max_connections {
            Some(max) if previous >= max => {
                drop(permit);
                Err(Reject::unavailable(
                    "the server is at its connection limit, retry later",
                    5,
                ))
            }
            _ => Ok(permit),
        }
    }
}

/// One open stream's share of the connection limit; released on drop.
pub(crate) struct ConnectionPermit {
    server: Arc<ServerShared>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.server.connections.fetch_sub(1, Ordering::AcqRel);
    }
}
