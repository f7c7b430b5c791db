//! Where the events of a namespace are ordered and kept: in memory ([`MemoryAdapter`], the
//! default) or, across instances, in Redis (`RedisAdapter`, cargo feature `redis`).
//!
//! ```
//! use sse_manager::adapter::MemoryAdapter;
//! use sse_manager::SseServer;
//!
//! let server = SseServer::builder().adapter(MemoryAdapter).build().unwrap();
//! # let _ = server;
//! ```
//!
//! ## Contract
//!
//! A namespace hands its adapter each emit as `(selector, encoded body)`. The adapter:
//!
//! - gives it the next id of the namespace's epoch ([`EventId`](crate::EventId));
//! - keeps it in the history window (unless it is for one client: a reconnected client is a new
//!   client), with the selector, so a resume replays exactly what a client's rooms selected;
//! - hands it to the local clients, strictly in order and one at a time, on every instance (the
//!   emitting one included), so every instance shows one order.
//!
//! Replay reads that history for a client whose stream starts, a page at a time as the stream
//! writes: after the id it last saw, up to the fence, the last offset delivered live before it
//! went live (everything after the fence reaches its queue), so there is no gap and no
//! duplicate, and a client that never reads holds one page.

pub(crate) mod local;
#[cfg(feature = "redis")]
mod redis;

pub use crate::core::order::{AdapterState, AdapterStats};
#[cfg(feature = "redis")]
pub use redis::RedisAdapter;

use crate::core::config::{ConfigError, SseServerBuilder};
use crate::core::order::AdapterFactory;
use crate::core::server::SseServer;
use local::LocalAdapter;
use std::sync::Arc;

/// The in-memory order: one process, a counter and a ring of recent events per namespace. The
/// default; ids of one run are refused by the next (clients get `sse:resync`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryAdapter;

/// An adapter [`SseServerBuilder::adapter`] accepts: [`MemoryAdapter`], or `RedisAdapter` with the
/// `redis` feature. Sealed: adapters are part of this crate.
pub trait IntoAdapter: sealed::Sealed {}

mod sealed {
    pub trait Sealed {
        fn factory(self) -> crate::core::order::AdapterFactory;
    }
}

impl IntoAdapter for MemoryAdapter {}

impl sealed::Sealed for MemoryAdapter {
    fn factory(self) -> AdapterFactory {
        AdapterFactory {
            name: "MemoryAdapter",
            make: Arc::new(|config| {
                Ok(Box::new(LocalAdapter {
                    history: config.history,
                }))
            }),
        }
    }
}

impl SseServerBuilder {
    /// Where the namespaces' events are ordered: [`MemoryAdapter`] (the default), or
    /// `RedisAdapter::new(url)` (feature `redis`) to share one order between instances.
    pub fn adapter(mut self, adapter: impl IntoAdapter) -> Self {
        self.adapter = Some(sealed::Sealed::factory(adapter));
        self
    }

    /// Checks the configuration and builds the server; its namespaces are ordered by the
    /// [`adapter`](Self::adapter), in memory unless set.
    ///
    /// (Defined here, beside the adapters, because choosing one is the adapter layer's business:
    /// the core only knows the trait.)
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero heartbeat, queue, connection or length limit, an empty history
    /// window, an invalid CORS origin, CORS credentials with any origin, or adapter settings that
    /// cannot work (a Redis URL that does not parse).
    pub fn build(self) -> Result<SseServer, ConfigError> {
        let config = self.validate()?;
        let factory = self
            .adapter
            .unwrap_or_else(|| sealed::Sealed::factory(MemoryAdapter));
        let adapter = (factory.make)(&config)?;
        Ok(SseServer::from_config(config, adapter))
    }
}
