#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use sse_macros::SseEvents;
#[doc(inline)]
pub use sse_runtime::{
    adapter, middleware, payload, typescript, wire, BroadcastOperator, Client, ClientHandle,
    ClientId, Cluster, ClusterAnswer, ConfigError, Cors, DecodeError, EmitError, EmitFuture,
    Emitted, EventId, EventNameProblem, Handshake, JoinError, Namespace, NamespaceError,
    NamespaceStats, ParseClientIdError, ParseEventIdError, Reject, RoomParam, SlowClientPolicy,
    SseEvents, SseServer, SseServerBuilder, SseStream, BUSY_LATENESS, DEFAULT_CLIENT_QUEUE,
    DEFAULT_COALESCE, DEFAULT_HEARTBEAT, DEFAULT_HISTORY_AGE, DEFAULT_HISTORY_BYTES,
    DEFAULT_HISTORY_EVENTS, DEFAULT_MAX_LAST_EVENT_ID_LEN, DEFAULT_MAX_ROOM_NAME_LEN,
};

#[cfg(feature = "axum")]
#[doc(inline)]
pub use sse_runtime::{serve, Serve, DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_PENDING};

/// Used by code that `#[derive(SseEvents)]` generates. Not public API.
#[doc(hidden)]
pub use sse_runtime::__private;
