//! The sports server: live football and cricket over SSE.
//!
//! Run with `cargo run --release --example sports`, then open http://127.0.0.1:3000.

mod events;

fn main() {}
