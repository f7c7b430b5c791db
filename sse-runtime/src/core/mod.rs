//! The core: everything a namespace does, without HTTP or Redis. See the crate docs for the layers.

pub(crate) mod catchup;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod cors;
pub(crate) mod event;
pub(crate) mod handshake;
pub(crate) mod history;
pub(crate) mod id;
pub(crate) mod metrics;
pub mod middleware;
pub(crate) mod namespace;
pub(crate) mod operator;
pub(crate) mod order;
pub mod payload;
pub(crate) mod queue;
pub(crate) mod reject;
pub(crate) mod room;
pub(crate) mod server;
