//! Where the events of a namespace are ordered and kept: the seam between a namespace and its
//! order, in memory ([`local`]) or, across instances, in Redis.
//!
//! ## Contract
//!
//! A namespace hands its adapter each emit as `(selector, encoded body)`. The adapter:
//!
//! - gives it the next id of the namespace's epoch ([`EventId`](crate::EventId));
//! - keeps it in the history window (unless it is for one client: a reconnected client is a new
//!   client), with the selector, so a resume replays exactly what a client's rooms selected;
//! - hands it to [`LocalClients::deliver`], strictly in id order and one at a time, on every
//!   instance (the emitting one included), so every instance shows one order.
//!
//! Replay reads that history for a client whose stream starts, a page at a time as the stream
//! writes: after the id it last saw, up to the fence, the last offset delivered live before it
//! went live (everything after the fence reaches its queue), so there is no gap and no
//! duplicate, and a client that never reads holds one page.

pub(crate) mod local;

use crate::core::config::{ConfigError, SseServerBuilder};
use crate::core::server::SseServer;
use local::LocalAdapter;

impl SseServerBuilder {
    /// Checks the configuration and builds the server; its namespaces are ordered in memory.
    ///
    /// (Defined here, beside the adapters, because choosing one is the adapter layer's business:
    /// the core only knows the trait.)
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero heartbeat, queue, connection or length limit, an empty history
    /// window, an invalid CORS origin, or CORS credentials with any origin.
    pub fn build(self) -> Result<SseServer, ConfigError> {
        let config = self.validate()?;
        let adapter = Box::new(LocalAdapter {
            history: config.history,
        });
        Ok(SseServer::from_config(config, adapter))
    }
}
