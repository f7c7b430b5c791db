//! The runtime of sse-manager. Use it through the `sse-manager` crate, which re-exports
//! everything here with the `#[derive(SseEvents)]` macro.
//!
//! Modules, one idea each: `wire` (frame bytes), `event` (the derive's contract), `room` (the
//! member index), `namespace`, `client`, `operator` (to/except/emit), `payload` (what a payload type needs), `queue` (a client's bounded
//! queue), `history` (resumption), `middleware`, `handshake`, `reject`, `stream` (the response
//! body), `config`, `cors`, `server`, and `axum` (HTTP glue, behind the `axum` feature).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Nothing a client or the network sends may panic the server.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod adapter;
#[cfg(feature = "axum")]
mod axum;
mod catchup;
mod client;
mod config;
mod cors;
mod event;
mod handshake;
mod history;
mod id;
mod metrics;
pub mod middleware;
mod namespace;
mod operator;
pub mod payload;
mod queue;
mod reject;
mod room;
mod server;
mod stream;
pub mod typescript;
pub mod wire;

pub use client::{Client, ClientHandle, JoinError};
pub use config::{
    ConfigError, SlowClientPolicy, SseServerBuilder, DEFAULT_CLIENT_QUEUE, DEFAULT_HEARTBEAT,
    DEFAULT_HISTORY_AGE, DEFAULT_HISTORY_BYTES, DEFAULT_HISTORY_EVENTS,
    DEFAULT_MAX_LAST_EVENT_ID_LEN, DEFAULT_MAX_ROOM_NAME_LEN,
};
pub use cors::Cors;
pub use event::{DecodeError, SseEvents};
pub use handshake::Handshake;
pub use id::{EventId, ParseEventIdError};
pub use namespace::{Namespace, NamespaceStats};
pub use operator::{BroadcastOperator, EmitError, EmitFuture, Emitted};
pub use reject::Reject;
pub use room::{ClientId, ParseClientIdError, RoomParam};
pub use server::{EventNameProblem, NamespaceError, SseServer};
pub use stream::SseStream;

/// Used by code that `#[derive(SseEvents)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::event::{
        decode_json, decode_object, decode_unit, decode_with, write_with, DecodeError, SseEvents,
    };
    pub use crate::operator::Emit;
    pub use crate::payload::{
        decode_payload, serialize_payload, write_payload, DeserializePayload, SerializePayload,
    };
    pub use crate::typescript::{DescribeEvents, Description};
    pub use serde;
    pub use serde_json;
    pub use std::result::Result::{self, Err, Ok};
    pub use std::vec::Vec;
}
