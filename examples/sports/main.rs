//! The sports server: live football and cricket over SSE, with a scoreboard page.
//!
//! Run with `cargo run --release --example sports`, then open http://127.0.0.1:3000.
//! Environment: `HOST`, `PORT`, `SPORTS_TOKEN`, `HEARTBEAT_MS`, `COALESCE_MS` (write coalescing
//! under load, 20 ms; 0 turns it off), `SIMULATE`, `SIMULATE_SEED`, `SIMULATE_TICK_MS`,
//! `CORS_ORIGINS` (pages of other origins that may stream and publish, with
//! credentials; `*` for any origin without), `PUBLISH_MAX_BYTES` (1 MiB; larger publish bodies get
//! `413`), `REDIS_URL` (several instances share one order through Redis: build with
//! `--features redis`) with `REDIS_KEY_PREFIX`, `REDIS_PROBE_MS`, `REDIS_PROBE_TIMEOUT_MS`, and
//! `INSTANCE` (a name sent as `x-instance` on every response). See the README.

mod app;
mod events;
mod simulator;

use app::{Settings, Sports};
use simulator::{Emission, Simulator};
use std::future::IntoFuture;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("sports: {err}");
            return ExitCode::FAILURE;
        }
    };
    let sports = match Sports::new(&settings) {
        Ok(sports) => sports,
        Err(err) => {
            eprintln!("sports: {err}");
            return ExitCode::FAILURE;
        }
    };
    let address = format!("{}:{}", settings.host, settings.port);
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("sports: cannot listen on {address}: {err}");
            return ExitCode::FAILURE;
        }
    };
    if settings.simulate {
        tokio::spawn(simulate(sports.clone(), settings.seed, settings.tick));
    }
    println!(
        "sports: scoreboard at http://{address}/ (simulator {}, {})",
        if settings.simulate { "on" } else { "off" },
        if settings.redis.is_some() {
            "events through Redis"
        } else {
            "in memory"
        }
    );
    // Ctrl-C ends every stream (browsers reconnect to the next run), then the server.
    let stop = Arc::new(Notify::new());
    let shutdown = sports.server.shutdown_on({
        let stop = stop.clone();
        async move { stop.notified().await }
    });
    // sse_manager::serve, not axum::serve: a connection that does not send a complete request
    // head within HEAD_TIMEOUT_MS (10 s) is closed, and at most 1,024 such connections are kept
    // (the oldest goes), so idle sockets cannot exhaust memory or keep real clients out.
    let head_timeout = settings.head_timeout;
    let mut serving = tokio::spawn(
        sse_manager::serve(listener, app::router(sports))
            .head_timeout(head_timeout)
            .with_graceful_shutdown(shutdown)
            .into_future(),
    );
    tokio::select! {
        served = &mut serving => return exit_code(served),
        _ = tokio::signal::ctrl_c() => stop.notify_one(),
    }
    // A client that stopped reading keeps its connection open while hyper waits to write to
    // it; graceful shutdown would wait for it forever. Give everyone a moment, then go.
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut serving).await {
        Ok(served) => exit_code(served),
        Err(_) => {
            eprintln!(
                "sports: connections still open {SHUTDOWN_GRACE:?} after Ctrl-C; exiting anyway"
            );
            ExitCode::SUCCESS
        }
    }
}

/// How long Ctrl-C waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn exit_code(served: Result<std::io::Result<()>, tokio::task::JoinError>) -> ExitCode {
    match served {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("sports: server error: {err}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("sports: server task failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Plays the demo matches forever, one tick per `tick`.
async fn simulate(sports: Sports, seed: u64, tick: Duration) {
    let mut simulator = Simulator::new(seed);
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        for emission in simulator.step() {
            let sent = match emission {
                Emission::Football { room, event } => sports.football.to(room).emit(event).await,
                Emission::Cricket { room, event } => sports.cricket.to(room).emit(event).await,
            };
            if let Err(err) = sent {
                eprintln!("sports: simulator emit failed: {err}");
            }
        }
    }
}
