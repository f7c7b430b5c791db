//! The server: configuration shared by every namespace, and the namespace registry.

use crate::core::config::{Config, SseServerBuilder};
use crate::core::namespace::{Namespace, NamespaceStats, NsCore};
use crate::core::order::Adapter;
use crate::{Reject, SseEvents};
use std::any::TypeId;
use std::collections::{HashMap, HashSet};
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
    /// Orders every namespace's events.
    adapter: Box<dyn Adapter>,
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
    /// A name in the event set's [`SseEvents::NAMES`] cannot be served. Only a hand-written
    /// `impl SseEvents` can get here: `#[derive(SseEvents)]` refuses the same names at compile
    /// time.
    #[error(
        "event set `{events}` cannot be served: event name {name:?} {problem}; fix its `impl SseEvents` (`#[derive(SseEvents)]` checks names at compile time)"
    )]
    InvalidEventName {
        /// The event set.
        events: &'static str,
        /// The first name refused, as written in `NAMES`.
        name: String,
        /// What is wrong with it.
        problem: EventNameProblem,
    },
    /// The server's adapter cannot order a namespace here, e.g. the Redis adapter outside a
    /// tokio runtime (it runs a task per namespace).
    #[error("the adapter cannot serve a namespace: {0}")]
    Adapter(String),
}

/// What is wrong with an event name; see [`NamespaceError::InvalidEventName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventNameProblem {
    /// The name is empty: `EventSource` cannot listen for it, and the browser would dispatch the
    /// event as `message`.
    #[error("is empty: `EventSource` cannot listen for an empty name")]
    Empty,
    /// The name contains this character: a line break would end the `event:` field early (the rest
    /// of the name would be read as fields of its own); `:`, whitespace and control characters are
    /// kept out as the derive keeps them out (`:` marks the library's own events, such as
    /// `sse:resync`).
    #[error(
        "contains {0:?}: event names cannot contain line breaks, `:`, whitespace or control characters"
    )]
    Forbidden(char),
    /// `open`, `error` or `message`, which `EventSource` uses itself: a listener could not tell
    /// the event from the browser's.
    #[error(
        "is reserved by the browser's EventSource, which fires `open` and `error` itself and gives events without a name the type `message`"
    )]
    Reserved,
    /// The name appears more than once: a listener could not tell the events apart.
    #[error("appears more than once in `NAMES`: a listener could not tell those events apart")]
    Duplicate,
}

/// Names `EventSource` uses itself; the derive refuses the same.
const RESERVED: [&str; 3] = ["open", "error", "message"];

/// The first name of an event set that cannot be served, and why. Run once per namespace, when
/// `of` creates it: emits then only check that a name is one of these.
fn check_event_names(names: &[&str]) -> Result<(), (String, EventNameProblem)> {
    let mut seen = HashSet::with_capacity(names.len());
    for name in names {
        let problem = if name.is_empty() {
            Some(EventNameProblem::Empty)
        } else if let Some(bad) = name
            .chars()
            .find(|c| matches!(c, '\r' | '\n' | ':') || c.is_whitespace() || c.is_control())
        {
            Some(EventNameProblem::Forbidden(bad))
        } else if RESERVED.contains(name) {
            Some(EventNameProblem::Reserved)
        } else if !seen.insert(*name) {
            Some(EventNameProblem::Duplicate)
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(((*name).to_owned(), problem));
        }
    }
    Ok(())
}

impl SseServer {
    /// Starts configuring a server.
    pub fn builder() -> SseServerBuilder {
        SseServerBuilder::default()
    }

    /// The server for a checked configuration, its namespaces ordered by `adapter`.
    pub(crate) fn from_config(config: Config, adapter: Box<dyn Adapter>) -> Self {
        SseServer {
            inner: Arc::new(Inner {
                shared: Arc::new(ServerShared {
                    adapter,
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
    /// [`NamespaceError`] when the path is malformed, or already belongs to another event set
    /// (the compiler then keeps a cricket event off the football namespace), or when a name in
    /// `E::NAMES` could not be sent safely (a hand-written `impl SseEvents`; see
    /// [`NamespaceError::InvalidEventName`]).
    pub fn of<E: SseEvents>(&self, path: &str) -> Result<Namespace<E>, NamespaceError> {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NamespaceError::InvalidPath(path.to_owned()));
        }
        let mut namespaces = self
            .inner
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let registered = match namespaces.entry(path.to_owned()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                self.inner
                    .shared
                    .adapter
                    .ready()
                    .map_err(NamespaceError::Adapter)?;
                // Checked once, here: every `Namespace<E>` comes from this call, and emits only
                // let through names of `E::NAMES`.
                check_event_names(E::NAMES).map_err(|(name, problem)| {
                    NamespaceError::InvalidEventName {
                        events: std::any::type_name::<E>(),
                        name,
                        problem,
                    }
                })?;
                entry.insert(Registered {
                    events: TypeId::of::<E>(),
                    events_name: std::any::type_name::<E>(),
                    core: NsCore::new(path, self.inner.shared.clone(), &*self.inner.shared.adapter),
                })
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecodeError;

    /// A hand-written event set with these names.
    macro_rules! event_set {
        ($ty:ident, $names:expr) => {
            struct $ty;

            impl SseEvents for $ty {
                const NAMES: &'static [&'static str] = &$names;
                fn name(&self) -> &'static str {
                    Self::NAMES[0]
                }
                fn write_data(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                    out.extend_from_slice(b"null");
                    Ok(())
                }
                fn decode(name: &str, _: &str) -> Result<Self, DecodeError> {
                    Err(DecodeError::unknown_event(name, Self::NAMES))
                }
            }
        };
    }

    event_set!(Fine, ["goal", "red_card", "tor-⚽"]);
    event_set!(EmptyName, ["goal", ""]);
    event_set!(LineFeed, ["goal\nevent: open"]);
    event_set!(CarriageReturn, ["goal\r"]);
    event_set!(Colon, ["sse:resync"]);
    event_set!(Space, ["red card"]);
    event_set!(Tab, ["red\tcard"]);
    event_set!(NoBreakSpace, ["red\u{a0}card"]);
    event_set!(Control, ["bell\u{7}"]);
    event_set!(Nul, ["nul\0"]);
    event_set!(Open, ["goal", "open"]);
    event_set!(Error, ["error"]);
    event_set!(Message, ["message"]);
    event_set!(Twice, ["goal", "red_card", "goal"]);

    fn invalid<E: SseEvents>(name: &str, problem: EventNameProblem) -> NamespaceError {
        NamespaceError::InvalidEventName {
            events: std::any::type_name::<E>(),
            name: name.to_owned(),
            problem,
        }
    }

    #[test]
    fn hand_written_sets_with_names_that_cannot_be_served_are_refused() {
        use EventNameProblem::*;
        let server = SseServer::builder().build().unwrap();
        assert!(server.of::<Fine>("/x").is_ok());
        let cases = [
            (
                server.of::<EmptyName>("/y").err(),
                invalid::<EmptyName>("", Empty),
            ),
            (
                server.of::<LineFeed>("/y").err(),
                invalid::<LineFeed>("goal\nevent: open", Forbidden('\n')),
            ),
            (
                server.of::<CarriageReturn>("/y").err(),
                invalid::<CarriageReturn>("goal\r", Forbidden('\r')),
            ),
            (
                server.of::<Colon>("/y").err(),
                invalid::<Colon>("sse:resync", Forbidden(':')),
            ),
            (
                server.of::<Space>("/y").err(),
                invalid::<Space>("red card", Forbidden(' ')),
            ),
            (
                server.of::<Tab>("/y").err(),
                invalid::<Tab>("red\tcard", Forbidden('\t')),
            ),
            (
                server.of::<NoBreakSpace>("/y").err(),
                invalid::<NoBreakSpace>("red\u{a0}card", Forbidden('\u{a0}')),
            ),
            (
                server.of::<Control>("/y").err(),
                invalid::<Control>("bell\u{7}", Forbidden('\u{7}')),
            ),
            (
                server.of::<Nul>("/y").err(),
                invalid::<Nul>("nul\0", Forbidden('\0')),
            ),
            (
                server.of::<Open>("/y").err(),
                invalid::<Open>("open", Reserved),
            ),
            (
                server.of::<Error>("/y").err(),
                invalid::<Error>("error", Reserved),
            ),
            (
                server.of::<Message>("/y").err(),
                invalid::<Message>("message", Reserved),
            ),
            (
                server.of::<Twice>("/y").err(),
                invalid::<Twice>("goal", Duplicate),
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, Some(expected));
        }
        // Nothing was registered on the way: the path is still free.
        assert!(server.of::<Fine>("/y").is_ok());
        assert_eq!(server.stats().len(), 2);
    }

    #[test]
    fn the_error_names_the_set_the_event_and_the_reason() {
        let server = SseServer::builder().build().unwrap();
        let events = std::any::type_name::<LineFeed>();
        assert_eq!(
            server.of::<LineFeed>("/x").unwrap_err().to_string(),
            format!(
                "event set `{events}` cannot be served: event name \"goal\\nevent: open\" contains '\\n': event names cannot contain line breaks, `:`, whitespace or control characters; fix its `impl SseEvents` (`#[derive(SseEvents)]` checks names at compile time)"
            )
        );
        let events = std::any::type_name::<Open>();
        assert_eq!(
            server.of::<Open>("/x").unwrap_err().to_string(),
            format!(
                "event set `{events}` cannot be served: event name \"open\" is reserved by the browser's EventSource, which fires `open` and `error` itself and gives events without a name the type `message`; fix its `impl SseEvents` (`#[derive(SseEvents)]` checks names at compile time)"
            )
        );
        let events = std::any::type_name::<Twice>();
        assert_eq!(
            server.of::<Twice>("/x").unwrap_err().to_string(),
            format!(
                "event set `{events}` cannot be served: event name \"goal\" appears more than once in `NAMES`: a listener could not tell those events apart; fix its `impl SseEvents` (`#[derive(SseEvents)]` checks names at compile time)"
            )
        );
    }
}
