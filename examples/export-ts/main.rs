//! Writes the TypeScript of the sports event sets: one module per namespace.
//!
//! Run with `cargo run --features typescript --example export-ts -- [dir]` (default `examples/sports/page/ts`). The
//! sports page is written against these files; `tests/typescript.rs` fails when they are stale.

#[path = "../sports/events.rs"]
mod events;

use events::{CricketEvents, FootballEvents};
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/sports/page/ts".to_owned());
    for written in [
        sse_manager::typescript::export::<FootballEvents>(&dir),
        sse_manager::typescript::export::<CricketEvents>(&dir),
    ] {
        match written {
            Ok(path) => println!("wrote {}", path.display()),
            Err(err) => {
                eprintln!("export-ts: {err} (in {dir})");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
