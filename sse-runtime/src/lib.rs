//! The runtime of sse-manager. Use it through the `sse-manager` crate, which re-exports
//! everything here with the `#[derive(SseEvents)]` macro.
//!
//! Three layers, each a folder, each depending only on those before it:
//!
//! - `core`: namespaces, rooms, clients, operators, queues, history and the catch-up of a
//!   starting stream, with the plain data they are driven by (handshake, reject, middleware,
//!   config, CORS settings). It knows nothing of Redis, axum, hyper or tower.
//! - `adapter`: where a namespace's events are ordered and kept (`local`, in memory); depends on
//!   the core, and the core reaches it only through its trait.
//! - `http`: the response body (`stream`) and the axum glue (extractor, responses, CORS layer).
//!
//! Beside them, `wire` (frame bytes, nothing else) and `typescript` (what the derive describes).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Nothing a client or the network sends may panic the server.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adapter;
mod core;
pub(crate) mod http;
pub mod typescript;
pub mod wire;

pub use crate::core::{middleware, payload};

pub use crate::core::client::{Client, ClientHandle, JoinError};
pub use crate::core::cluster::{Cluster, ClusterAnswer};
pub use crate::core::config::{
    ConfigError, SlowClientPolicy, SseServerBuilder, BUSY_LATENESS, DEFAULT_CLIENT_QUEUE,
    DEFAULT_COALESCE, DEFAULT_HEARTBEAT, DEFAULT_HISTORY_AGE, DEFAULT_HISTORY_BYTES,
    DEFAULT_HISTORY_EVENTS, DEFAULT_MAX_LAST_EVENT_ID_LEN, DEFAULT_MAX_ROOM_NAME_LEN,
};
pub use crate::core::cors::Cors;
pub use crate::core::event::{DecodeError, SseEvents};
pub use crate::core::handshake::Handshake;
pub use crate::core::id::{EventId, ParseEventIdError};
pub use crate::core::namespace::{Namespace, NamespaceStats};
pub use crate::core::operator::{BroadcastOperator, EmitError, EmitFuture, Emitted};
pub use crate::core::reject::Reject;
pub use crate::core::room::{ClientId, ParseClientIdError, RoomParam};
pub use crate::core::server::{EventNameProblem, NamespaceError, SseServer};
#[cfg(feature = "axum")]
pub use crate::http::serve::{serve, Serve, DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_PENDING};
pub use crate::http::stream::SseStream;

/// Used by code that `#[derive(SseEvents)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::core::event::{
        decode_json, decode_object, decode_unit, decode_with, write_with, DecodeError, SseEvents,
    };
    pub use crate::core::operator::Emit;
    pub use crate::core::payload::{
        decode_payload, serialize_payload, write_payload, DeserializePayload, SerializePayload,
    };
    pub use crate::typescript::{DescribeEvents, Description};
    pub use serde;
    pub use serde_json;
    pub use std::result::Result::{self, Err, Ok};
    pub use std::vec::Vec;
}
