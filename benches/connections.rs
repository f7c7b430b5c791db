//! What a connection costs the server, for both ways of serving (`axum::serve` and
//! `sse_manager::serve`), measured in the same run so a regression shows without the shared
//! harness:
//!
//! - **bytes per idle connection**: the server process's RSS growth with N open SSE streams that
//!   receive nothing, divided by N;
//! - **write syscalls per delivery**: the server process's `write`, `writev`, `sendto` and
//!   `sendmsg` calls (counted by `perf stat` on the syscall tracepoints; `/proc/<pid>/io`'s
//!   `syscw` misses `send`) while C clients in one room receive E events, divided by C × E.
//!
//! Each server runs in a child process (this binary with `--server <mode>`), so the parent's own
//! sockets and buffers do not count. Run with `cargo bench --bench connections` (`-- --quick` for
//! small sizes). Linux only (`/proc`).

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use sse_manager::{Handshake, Namespace, Reject, SseEvents, SseServer, SseStream};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(SseEvents, Serialize, Clone)]
enum Bench {
    Tick { n: u32, padding: String },
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--server") {
        let mode = args.get(at + 1).cloned().unwrap_or_default();
        return server(&mode);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (idle, clients, events) = if quick {
        (500, 100, 200)
    } else {
        (5_000, 1_000, 2_000)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut rows = Vec::new();
    for mode in ["axum", "sse-manager"] {
        let (mut child, port) = spawn_server(mode);
        let pid = child.id();
        let (per_idle, per_delivery, wall) = runtime.block_on(async {
            let per_idle = idle_cost(pid, port, idle).await;
            let (per_delivery, wall) = delivery_cost(pid, port, clients, events).await;
            (per_idle, per_delivery, wall)
        });
        let _ = child.kill();
        let _ = child.wait();
        rows.push((mode, per_idle, per_delivery, wall));
    }
    println!("\nserver cost per connection and per delivery (same run, child process per mode)");
    println!("| serving | bytes per idle connection ({idle} held) | write syscalls per delivery ({clients} clients × {events} events) | deliveries/s |");
    println!("|---|--:|--:|--:|");
    for (mode, per_idle, per_delivery, wall) in &rows {
        let rate = (clients * events) as f64 / wall.as_secs_f64();
        println!(
            "| {} | {:.0} B ({:.2} KiB) | {per_delivery:.3} | {rate:.0} |",
            if *mode == "axum" {
                "axum::serve"
            } else {
                "sse_manager::serve"
            },
            per_idle,
            per_idle / 1024.0
        );
    }
}

/// Starts this binary as a server; returns it and its port.
fn spawn_server(mode: &str) -> (Child, u16) {
    let exe = std::env::current_exe().expect("the bench binary");
    let mut child = Command::new(exe)
        .args(["--server", mode])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server child starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the server prints its port");
    let port = line.trim().parse().expect("a port number");
    (child, port)
}

/// The server: `GET /stream?room=` streams, `POST /emit?n=` emits n events to room `a`.
fn server(mode: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let sse = SseServer::builder()
            .no_heartbeat()
            .client_queue(4096)
            .build()
            .expect("valid");
        let ns = sse.of::<Bench>("/bench").expect("a namespace");
        let router = Router::new()
            .route("/stream", get(stream))
            .route("/emit", post(emit))
            .with_state(ns);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        println!("{}", listener.local_addr().expect("bound").port());
        if mode == "axum" {
            axum::serve(listener, router).await.expect("serves");
        } else {
            sse_manager::serve(listener, router).await.expect("serves");
        }
    });
}

async fn stream(State(ns): State<Namespace<Bench>>, hs: Handshake) -> Result<SseStream, Reject> {
    let room = hs.query("room").unwrap_or("idle").to_owned();
    let client = ns.connect(hs).await?;
    client.join(room)?;
    Ok(client.into_stream())
}

async fn emit(
    State(ns): State<Namespace<Bench>>,
    Query(query): Query<HashMap<String, u32>>,
) -> String {
    let n = query.get("n").copied().unwrap_or(0);
    let padding = "x".repeat(100);
    for i in 0..n {
        let _ = ns
            .to("a")
            .emit(Bench::Tick {
                n: i,
                padding: padding.clone(),
            })
            .await;
        // Let the streams run between events, as they would between events that arrive over
        // time: without it all events queue first and each stream writes them at once.
        tokio::task::yield_now().await;
    }
    n.to_string()
}

fn rss(pid: u32) -> f64 {
    proc_field(pid, "status", "VmRSS:") * 1024.0
}

/// `perf stat` counting a process's write syscalls, from `start` until `stop`.
struct Perf(Child);

const WRITE_SYSCALLS: &str = "syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg";

impl Perf {
    fn start(pid: u32) -> Perf {
        let child = Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                WRITE_SYSCALLS,
                "-p",
                &pid.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("perf (Debian: linux-perf) counts the server's syscalls");
        // perf attaches asynchronously: give it a moment before the events start.
        std::thread::sleep(Duration::from_millis(300));
        Perf(child)
    }

    fn stop(self) -> f64 {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let output = self.0.wait_with_output().expect("perf stops");
        let text = String::from_utf8_lossy(&output.stderr);
        let counted: f64 = text
            .lines()
            .filter(|line| line.contains("syscalls:sys_enter_"))
            .filter_map(|line| line.split(',').next()?.trim().parse::<f64>().ok())
            .sum();
        assert!(
            text.lines()
                .filter(|l| l.contains("syscalls:sys_enter_"))
                .count()
                == 4,
            "perf counted the four syscalls: {text}"
        );
        counted
    }
}

fn proc_field(pid: u32, file: &str, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// Opens a stream and reads its first bytes (the response head), so it is live.
async fn open(port: u16, room: &str) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!("GET /stream?room={room} HTTP/1.1\r\nHost: bench\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut buf = [0; 1024];
    let n = socket.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "a stream opens");
    socket
}

async fn idle_cost(pid: u32, port: u16, n: usize) -> f64 {
    // Warm up allocator arenas and the runtime with a few first.
    let warm: Vec<TcpStream> =
        futures_util::future::join_all((0..50).map(|_| open(port, "idle"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss(pid);
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(open(port, "idle").await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss(pid);
    drop((held, warm));
    tokio::time::sleep(Duration::from_millis(500)).await;
    (after - before) / n as f64
}

async fn delivery_cost(pid: u32, port: u16, clients: usize, events: usize) -> (f64, Duration) {
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        sockets.push(open(port, "a").await);
    }
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let (mut seen, mut carry) = (0, Vec::new());
                let mut buf = vec![0; 64 * 1024];
                // Bounded: stops at `events` or when the server closes.
                while seen < events {
                    let n = match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    carry.extend_from_slice(&buf[..n]);
                    seen += carry.windows(11).filter(|w| w == b"event: tick").count();
                    let keep = carry.len().min(10);
                    carry.drain(..carry.len() - keep);
                }
                seen
            })
        })
        .collect();
    let counting = Perf::start(pid);
    let start = Instant::now();
    let mut control = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!(
        "POST /emit?n={events} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    control.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = control.read_to_end(&mut answer).await;
    let mut total = 0;
    for reader in readers {
        total += reader.await.unwrap_or(0);
    }
    let wall = start.elapsed();
    let writes = counting.stop();
    assert_eq!(total, clients * events, "every client got every event");
    (writes / (clients * events) as f64, wall)
}
