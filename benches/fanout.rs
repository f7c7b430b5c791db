//! Fan-out speed and memory against a naive baseline, measured in the same run.
//!
//! Run with `cargo bench --bench fanout`. The baseline is what hand-rolled SSE servers do: for
//! every client, serialize the payload, format the frame and push an owned copy into that
//! client's unbounded buffer. sse-manager encodes once and hands every client a refcounted
//! clone of the same `Bytes` in a bounded queue. Both deliver the same events to the same clients;
//! the report gives time per delivery and heap per queued delivery, and their ratios.

use serde::Serialize;
use sse_manager::{Handshake, SseEvents, SseServer, SseStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// Resident memory of this process, in bytes (each mode runs in a process of its own, so freed
/// memory of one cannot hide the growth of the other).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| {
            kb.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[derive(SseEvents, Serialize, Clone)]
#[sse(rename_all = "camelCase")]
enum Football {
    ScoreUpdate {
        r#match: String,
        home_score: u32,
        away_score: u32,
        minute: u32,
        commentary: String,
    },
}

fn event(minute: u32) -> Football {
    Football::ScoreUpdate {
        r#match: "arsenal-vs-chelsea".into(),
        home_score: 2,
        away_score: 1,
        minute,
        commentary: "A long ball over the top, controlled beautifully and finished low.".into(),
    }
}

const CLIENTS: usize = 10_000;
const EVENTS: usize = 50;

struct Measured {
    per_delivery: Duration,
    heap_per_delivery: f64,
}

impl Measured {
    /// Time and resident memory per delivery since `start`, when resident memory was `before`.
    fn since(start: Instant, before: usize) -> Self {
        let deliveries = CLIENTS * EVENTS;
        Measured {
            per_delivery: start.elapsed() / deliveries as u32,
            heap_per_delivery: rss().saturating_sub(before) as f64 / deliveries as f64,
        }
    }
}

async fn ours() -> Measured {
    let server = SseServer::builder()
        .client_queue(EVENTS)
        .no_history()
        .no_heartbeat()
        .build()
        .expect("valid configuration");
    let football = server.of::<Football>("/football").expect("namespace");
    let mut streams: Vec<SseStream> = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let client = football
            .connect(Handshake::new(
                "/".parse().expect("uri"),
                Default::default(),
            ))
            .await
            .expect("connect");
        client.join("arsenal-vs-chelsea").expect("join");
        streams.push(client.into_stream());
    }
    let before = rss();
    let start = Instant::now();
    for minute in 0..EVENTS {
        let sent = football
            .to("arsenal-vs-chelsea")
            .emit(event(minute as u32))
            .await
            .expect("emit");
        assert_eq!(sent.delivered, CLIENTS);
    }
    let measured = Measured::since(start, before);
    drop(streams);
    measured
}

/// The hand-rolled way: encode per client, owned copies, unbounded buffers.
fn naive() -> Measured {
    let mut buffers: Vec<Vec<String>> = (0..CLIENTS).map(|_| Vec::new()).collect();
    let before = rss();
    let start = Instant::now();
    for minute in 0..EVENTS {
        let event = event(minute as u32);
        for buffer in &mut buffers {
            let data = serde_json::to_string(&event).expect("json");
            buffer.push(format!(
                "id: {minute}\nevent: score_update\ndata: {data}\n\n"
            ));
        }
    }
    let measured = Measured::since(start, before);
    drop(buffers);
    measured
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("ours") => report(measure_ours()),
        Some("naive") => report(naive()),
        _ => compare(),
    }
}

fn measure_ours() -> Measured {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(ours())
}

/// One line for the parent: nanoseconds and heap bytes per delivery.
fn report(measured: Measured) {
    println!(
        "{} {}",
        measured.per_delivery.as_nanos(),
        measured.heap_per_delivery
    );
}

fn run(mode: &str) -> (f64, f64) {
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new(exe).arg(mode).output().expect("run a mode");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text
        .split_whitespace()
        .filter_map(|n| n.parse::<f64>().ok());
    match (numbers.next(), numbers.next()) {
        (Some(ns), Some(heap)) => (ns, heap),
        _ => panic!("mode {mode} printed {text:?}"),
    }
}

fn compare() {
    let (naive_ns, naive_heap) = run("naive");
    let (ours_ns, ours_heap) = run("ours");
    println!("fan-out: {EVENTS} events to {CLIENTS} clients in one room, queued (not yet written)");
    println!(
        "  naive baseline : {naive_ns:>7.1} ns/delivery, {naive_heap:>6.1} resident bytes/delivery"
    );
    println!(
        "  sse-manager    : {ours_ns:>7.1} ns/delivery, {ours_heap:>6.1} resident bytes/delivery"
    );
    println!(
        "  ratio          : {:.1}x faster, {:.1}x less memory",
        naive_ns / ours_ns.max(0.1),
        naive_heap / ours_heap.max(0.1)
    );
}
