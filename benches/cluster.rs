//! Three instances through Redis against one instance in memory: deliveries per second and
//! latency per delivery, measured in the same run, reported as ratios.
//!
//! ```sh
//! cargo bench --features redis --bench cluster              # four shapes, three rounds: ~2 min
//! cargo bench --features redis --bench cluster -- --quick   # a smoke run of a few seconds
//! ```
//!
//! It needs `redis-server` on the `PATH` (Debian's `redis-server` package; `./scripts/test`
//! installs it). The run starts one on a free loopback port, without persistence, and kills it
//! at the end, failure or not.
//!
//! ## What runs
//!
//! For every *shape* (rooms × clients per room, and a number of events), two modes, each run in
//! a process of its own so that neither inherits the other's tasks, connections or memory:
//!
//! - **in memory**: one server (`SseServer::builder().build()`), every client on it;
//! - **Redis**: three servers with `RedisAdapter::new(url).key_prefix(<unique>)` in one process,
//!   each with its own axum listener, a third of the clients on each (every room has clients on
//!   every instance), the publishers spread over the three.
//!
//! Servers keep every default (client queue, history, heartbeat) and set `TCP_NODELAY` on the
//! connections they accept, as latency-minded servers do (axum's `ListenerExt::tap_io`);
//! `CLUSTER_NODELAY=0` leaves it off, to see what Nagle's algorithm does to the tail.
//!
//! The clients are real HTTP/1.1 connections on 127.0.0.1, to the library's axum integration,
//! read by raw tokio sockets with a minimal chunked-transfer and SSE parser (thousands of
//! `reqwest` streams would measure `reqwest`). Clients, servers and publishers share one tokio
//! runtime, one worker per core; `redis-server` is another process on the same cores. So a
//! delivery here costs the server's write *and* the client's read, and Redis's own CPU time is
//! part of the Redis mode's cost. Every run starts with a few warm-up events per publisher to
//! every client, neither timed nor counted.
//!
//! ## Two runs per mode
//!
//! **Throughput.** `--publishers` tasks (default 48; in the Redis mode 16 per instance) each emit
//! every `publishers`-th event of the run with `ns.to(room).emit(..).await`, one after the other,
//! the event to room `number % rooms`. Through Redis an emit resolves once the event came back
//! from Redis and reached the instance's clients, and emits share one script call only while
//! others wait: the concurrency of the publishers is what the adapter can batch. Publishers are
//! throttled by a window: at most `--window` events (default 128) in flight, emitted but not yet
//! received by every client of their room. Without it the in-memory publishers would fill every
//! queue at once; with it no client queue (256 frames by default) can overflow, and the run
//! measures the rate the server sustains without dropping anyone.
//!
//! **Latency.** Under the window the latency is only the length of the backlog (window ÷ rate),
//! so it is measured in a second run of each mode, both at one rate: `--load` (default 0.25)
//! times the lower of the two modes' throughput in events/s, for about two seconds (at most the
//! shape's events). Each publisher then emits on a schedule and does not wait for one emit before
//! the next (each is a task), as an event source that does not wait for its clients.
//!
//! ## What is measured
//!
//! - **deliveries/s**: events received by all clients together, divided by the wall time from the
//!   first emit to the last receipt; **events/s**: events emitted in that time.
//! - **latency** of each delivery: every payload carries the time its emit was called
//!   (nanoseconds since a start shared by the process), the client subtracts it from the time it
//!   parsed the frame: p50, p99 and max over every delivery.
//! - **correctness**, in every run: every client gets every event of its room exactly once and
//!   nothing else, all clients of a room in the same order (across instances too), and in the
//!   throughput run each publisher's events in the order it emitted them. Otherwise the run
//!   prints `FAIL` and exits non-zero.
//!
//! Each figure of the table is the median of the rounds (`--rounds`, default 3). The two modes
//! run next to each other in every round, so the ratios (Redis ÷ in memory) are taken per round,
//! which cancels most of the drift in what else the machine is doing: the table gives their
//! median, and their range in parentheses.
//!
//! Speed is reported, never asserted: the target (through Redis, at least half the in-memory
//! deliveries/s, by the median ratio) is a column and a line of the report, per shape.
//!
//! ## Settings
//!
//! Arguments after `--`, or the environment:
//!
//! | argument | environment | default |
//! |---|---|---|
//! | `--shapes 1x300:3000,100x3:10000` | `CLUSTER_SHAPES` | [`SHAPES`] |
//! | `--publishers 48` | `CLUSTER_PUBLISHERS` | 48 |
//! | `--window 128` | `CLUSTER_WINDOW` | 128 |
//! | `--load 0.25` | `CLUSTER_LOAD` | 0.25 |
//! | `--rounds 3`: medians of interleaved runs | `CLUSTER_ROUNDS` | 3 (`--quick`: 1) |
//! | `--quick` | `CLUSTER_QUICK=1` | off: [`SHAPES`]; on: [`QUICK_SHAPES`] |
//! | | `CLUSTER_NODELAY=0` | `TCP_NODELAY` on |
//!
//! A shape is `<rooms>x<clients per room>:<events>`.

#[path = "../tests/common/redis.rs"]
mod redis_server;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use redis_server::RedisServer;
use sse_manager::adapter::{AdapterState, RedisAdapter};
use sse_manager::{
    Handshake, Namespace, Reject, SseEvents, SseServer, SseStream, DEFAULT_CLIENT_QUEUE,
};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// The default shapes: fan-outs of 3,000, 300, 30 and 3 clients per event.
const SHAPES: &str = "1x3000:500,1x300:6000,100x30:10000,100x3:30000";

/// `--quick`: two small shapes, a few seconds in all.
const QUICK_SHAPES: &str = "1x30:300,10x3:600";

/// The Redis mode runs this many instances.
const INSTANCES: usize = 3;

/// The target: through Redis, at least this fraction of the in-memory deliveries/s.
const TARGET: f64 = 0.5;

/// Clients that may be connecting at once: more would overflow the listeners' accept backlog.
const CONNECTS_AT_ONCE: usize = 64;

/// The longest connecting every client may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(60);

/// The longest a run may take from the first emit to the last receipt.
const DELIVER_WITHIN: Duration = Duration::from_secs(120);

/// Warm-up events per publisher, before the measured ones (connections to Redis made, scripts
/// loaded, buffers grown): they are neither timed nor counted.
const WARMUP: usize = 2;

/// A latency run lasts about this long (at most the shape's events, at least 100).
const PACED_FOR: Duration = Duration::from_secs(2);

/// How long the clients keep reading after the last expected receipt: a duplicate or a stray
/// event arriving late fails the run too.
const GRACE: Duration = Duration::from_millis(200);

#[derive(SseEvents)]
#[sse(rename_all = "camelCase")]
enum Football {
    /// `number` and `sent_ns` first: the client reads only those two.
    ScoreUpdate {
        /// Which event of the run; its room is `number % rooms`, its publisher
        /// `number % publishers`.
        number: u64,
        /// When its emit was called, in nanoseconds since the process's start.
        sent_ns: u64,
        r#match: String,
        home_score: u32,
        away_score: u32,
        minute: u32,
        commentary: String,
    },
    /// Before the measured events, to the whole namespace: connections, scripts and caches warm.
    Warmup { publisher: u64 },
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
    }
    let settings = match Settings::read(&args) {
        Ok(settings) => settings,
        Err(problem) => {
            eprintln!("{problem}\n\nusage: cargo bench --features redis --bench cluster -- [--quick] [--shapes 1x300:3000,...] [--publishers N] [--window N] [--rounds N] [--load 0.25]");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let redis = runtime.block_on(RedisServer::start());
    let outcome = compare(&settings, &redis, &runtime);
    // Killed here, before the exit code is chosen: `process::exit` would skip its `Drop`.
    drop(redis);
    if let Err(failure) = outcome {
        println!("FAIL: {failure}");
        std::process::exit(1);
    }
}

// ---- settings ----

#[derive(Debug, Clone, Copy)]
struct Shape {
    rooms: usize,
    per_room: usize,
    events: usize,
}

impl Shape {
    fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("shape {text:?}: expected <rooms>x<clients per room>:<events>");
        let (rooms, rest) = text.trim().split_once('x').ok_or_else(bad)?;
        let (per_room, events) = rest.split_once(':').ok_or_else(bad)?;
        let number = |s: &str| s.trim().parse::<usize>().ok().filter(|&n| n > 0);
        Ok(Shape {
            rooms: number(rooms).ok_or_else(bad)?,
            per_room: number(per_room).ok_or_else(bad)?,
            events: number(events).ok_or_else(bad)?,
        })
    }

    fn clients(&self) -> usize {
        self.rooms * self.per_room
    }

    /// Each event goes to one room.
    fn deliveries(&self) -> u64 {
        (self.events * self.per_room) as u64
    }

    /// Events of `room` in a run: `number % rooms == room`.
    fn events_of(&self, room: usize) -> usize {
        self.events / self.rooms + usize::from(room < self.events % self.rooms)
    }
}

#[derive(Debug)]
struct Settings {
    shapes: Vec<Shape>,
    publishers: usize,
    window: usize,
    rounds: usize,
    /// Latency is measured at this fraction of the lower of the two modes' deliveries/s.
    load: f64,
}

impl Settings {
    /// Arguments win over the environment.
    fn read(args: &[String]) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut quick = env("CLUSTER_QUICK").is_some_and(|v| v != "0");
        let mut shapes = env("CLUSTER_SHAPES");
        let mut publishers = env("CLUSTER_PUBLISHERS");
        let mut window = env("CLUSTER_WINDOW");
        let mut rounds = env("CLUSTER_ROUNDS");
        let mut load = env("CLUSTER_LOAD");
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                // What `cargo bench` passes to every bench.
                "--bench" => {}
                "--quick" => quick = true,
                "--shapes" => shapes = Some(value(arg)?),
                "--publishers" => publishers = Some(value(arg)?),
                "--window" => window = Some(value(arg)?),
                "--rounds" => rounds = Some(value(arg)?),
                "--load" => load = Some(value(arg)?),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let count = |name: &str, value: Option<String>, default: usize| match value {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name} {v:?}: expected a positive number")),
        };
        let default_shapes = if quick { QUICK_SHAPES } else { SHAPES };
        Settings {
            shapes: shapes
                .as_deref()
                .unwrap_or(default_shapes)
                .split(',')
                .map(Shape::parse)
                .collect::<Result<_, _>>()?,
            publishers: count("publishers", publishers, 16 * INSTANCES)?,
            window: count("window", window, 128)?,
            rounds: count("rounds", rounds, if quick { 1 } else { 3 })?,
            load: match load {
                None => 0.25,
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|l| *l > 0.0 && *l <= 1.0)
                    .ok_or_else(|| format!("load {v:?}: expected a fraction in (0, 1]"))?,
            },
        }
        .checked()
    }

    /// The warm-up puts `publishers` events, and the measured run `window` events, in every
    /// client's queue at once: more than it holds would disconnect clients as slow.
    fn checked(self) -> Result<Self, String> {
        let most = self.publishers.max(self.window);
        if most >= DEFAULT_CLIENT_QUEUE {
            return Err(format!(
                "publishers and window must stay below the client queue ({DEFAULT_CLIENT_QUEUE}): got {most}"
            ));
        }
        Ok(self)
    }
}

// ---- the parent: one child process per mode and shape, then the table ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Memory,
    Redis,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Memory => "memory",
            Mode::Redis => "redis",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Memory => "in memory, 1 instance",
            Mode::Redis => "Redis, 3 instances",
        }
    }
}

/// What a child measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    deliveries: u64,
    wall_ns: u64,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

impl Measured {
    fn line(&self) -> String {
        format!(
            "deliveries={} wall_ns={} p50_ns={} p99_ns={} max_ns={}",
            self.deliveries, self.wall_ns, self.p50_ns, self.p99_ns, self.max_ns
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
                .parse::<u64>()
                .ok()
        };
        Some(Measured {
            deliveries: field("deliveries")?,
            wall_ns: field("wall_ns")?,
            p50_ns: field("p50_ns")?,
            p99_ns: field("p99_ns")?,
            max_ns: field("max_ns")?,
        })
    }

    fn per_second(&self, count: u64) -> f64 {
        count as f64 / (self.wall_ns.max(1) as f64 / 1e9)
    }

    /// The median of each figure over rounds.
    fn median(rounds: &[Measured]) -> Measured {
        let median = |f: fn(&Measured) -> f64| median(rounds.iter().map(f).collect());
        let deliveries = rounds[0].deliveries;
        // The median rate, as a wall time for these deliveries.
        let rate = median(|m| m.per_second(m.deliveries));
        Measured {
            deliveries,
            wall_ns: (deliveries as f64 / rate * 1e9) as u64,
            p50_ns: median(|m| m.p50_ns as f64) as u64,
            p99_ns: median(|m| m.p99_ns as f64) as u64,
            max_ns: median(|m| m.max_ns as f64) as u64,
        }
    }
}

fn compare(
    settings: &Settings,
    redis: &RedisServer,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let version = runtime
        .block_on(redis.command::<String>(&["INFO", "server"]))
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("redis_version:").map(str::to_owned))
        })
        .unwrap_or_default();
    eprintln!(
        "cluster bench: {cores} cores, load average {}, redis-server {version} on {}; \
         {} publishers (Redis: {} per instance), window {} events, latency at {:.0}% load, \
         {} round(s), TCP_NODELAY {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        redis.url(),
        settings.publishers,
        settings.publishers.div_ceil(INSTANCES),
        settings.window,
        settings.load * 100.0,
        settings.rounds,
        if nodelay() { "on" } else { "off" }
    );
    let mut rows = Vec::new();
    for shape in &settings.shapes {
        // Throughput: as fast as the window allows.
        let (mut memory, mut cluster) = (Vec::new(), Vec::new());
        for _ in 0..settings.rounds {
            memory.push(run_child(Mode::Memory, *shape, settings, 0.0, None)?);
            cluster.push(run_redis_child(*shape, settings, 0.0, redis, runtime)?);
        }
        // Each round's two runs are next to each other in time: their ratio cancels most of the
        // drift in what else the machine is doing.
        let throughput_ratios: Vec<f64> = memory
            .iter()
            .zip(&cluster)
            .map(|(memory, cluster)| {
                cluster.per_second(cluster.deliveries) / memory.per_second(memory.deliveries)
            })
            .collect();
        let (memory, cluster) = (Measured::median(&memory), Measured::median(&cluster));
        // Latency: both modes at one rate, a fraction of the slower one's.
        let rate = settings.load
            * memory
                .per_second(shape.events as u64)
                .min(cluster.per_second(shape.events as u64));
        let paced = Shape {
            events: ((rate * PACED_FOR.as_secs_f64()).ceil() as usize).clamp(100, shape.events),
            ..*shape
        };
        let (mut memory_paced, mut cluster_paced) = (Vec::new(), Vec::new());
        for _ in 0..settings.rounds {
            memory_paced.push(run_child(Mode::Memory, paced, settings, rate, None)?);
            cluster_paced.push(run_redis_child(paced, settings, rate, redis, runtime)?);
        }
        let p99_ratios: Vec<f64> = memory_paced
            .iter()
            .zip(&cluster_paced)
            .map(|(memory, cluster)| cluster.p99_ns as f64 / memory.p99_ns.max(1) as f64)
            .collect();
        rows.push(Row {
            shape: *shape,
            rate,
            memory,
            cluster,
            memory_paced: Measured::median(&memory_paced),
            cluster_paced: Measured::median(&cluster_paced),
            throughput: Ratio::of(throughput_ratios),
            p99: Ratio::of(p99_ratios),
        });
    }
    println!("{}", table(&rows));
    let holds: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{} × {}: {}",
                row.shape.rooms,
                row.shape.per_room,
                if row.throughput.median >= TARGET {
                    "holds"
                } else {
                    "misses"
                }
            )
        })
        .collect();
    println!(
        "Target (Redis ≥ {TARGET}× in-memory deliveries/s): {}",
        holds.join("; ")
    );
    Ok(())
}

/// One shape: throughput of both modes, and latency of both at one rate.
struct Row {
    shape: Shape,
    rate: f64,
    memory: Measured,
    cluster: Measured,
    memory_paced: Measured,
    cluster_paced: Measured,
    /// Redis over in memory, deliveries/s.
    throughput: Ratio,
    /// Redis over in memory, p99 latency.
    p99: Ratio,
}

/// Redis over in memory: the median and the range of the rounds' ratios.
struct Ratio {
    median: f64,
    low: f64,
    high: f64,
}

impl Ratio {
    fn of(rounds: Vec<f64>) -> Self {
        Ratio {
            low: rounds.iter().copied().fold(f64::INFINITY, f64::min),
            high: rounds.iter().copied().fold(0.0, f64::max),
            median: median(rounds),
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = if self.median < 10.0 { 2 } else { 1 };
        write!(f, "{:.digits$}×", self.median)?;
        if self.high > self.low {
            write!(f, " ({:.digits$}–{:.digits$})", self.low, self.high)?;
        }
        Ok(())
    }
}

/// A Redis-mode run, with what `redis-server` spent on it.
fn run_redis_child(
    shape: Shape,
    settings: &Settings,
    rate: f64,
    redis: &RedisServer,
    runtime: &tokio::runtime::Runtime,
) -> Result<Measured, String> {
    let before = redis_counters(redis, runtime);
    let measured = run_child(Mode::Redis, shape, settings, rate, Some(&redis.url()))?;
    let after = redis_counters(redis, runtime);
    if let (Some(before), Some(after)) = (before, after) {
        let calls = after.script_calls.saturating_sub(before.script_calls);
        let cpu_us = (after.cpu_s - before.cpu_s) * 1e6;
        eprintln!(
            "    redis-server: {calls} script calls (emits, probes, reads) for {} events \
             and {} warm-up events, {:.1} µs of its CPU per event",
            shape.events,
            WARMUP * settings.publishers,
            cpu_us / (shape.events + WARMUP * settings.publishers) as f64
        );
    }
    Ok(measured)
}

struct RedisCounters {
    script_calls: u64,
    cpu_s: f64,
}

/// Script calls and CPU time of the server so far, from `INFO`.
fn redis_counters(redis: &RedisServer, runtime: &tokio::runtime::Runtime) -> Option<RedisCounters> {
    let info = runtime
        .block_on(redis.command::<String>(&["INFO", "all"]))
        .ok()?;
    let value = |key: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(str::trim)
    };
    let calls = |key: &str| {
        value(key)
            .and_then(|v| v.strip_prefix("calls="))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let seconds = |key: &str| {
        value(key)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some(RedisCounters {
        script_calls: calls("cmdstat_evalsha:") + calls("cmdstat_eval:"),
        cpu_s: seconds("used_cpu_sys:") + seconds("used_cpu_user:"),
    })
}

/// Runs one mode of one shape in a process of its own.
fn run_child(
    mode: Mode,
    shape: Shape,
    settings: &Settings,
    rate: f64,
    redis_url: Option<&str>,
) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("--child").arg(mode.arg()).args([
        shape.rooms.to_string(),
        shape.per_room.to_string(),
        shape.events.to_string(),
        settings.publishers.to_string(),
        settings.window.to_string(),
        rate.to_string(),
    ]);
    if let Some(url) = redis_url {
        command.arg(url);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start the {} run: {e}", mode.arg()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let what = format!(
        "{} × {}, {} events, {}, {}",
        shape.rooms,
        shape.per_room,
        shape.events,
        mode.label(),
        if rate > 0.0 {
            format!("paced at {} events/s", thousands(rate))
        } else {
            "as fast as the window allows".to_owned()
        }
    );
    let measured = text
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .and_then(Measured::parse);
    match measured {
        Some(measured) if output.status.success() => {
            eprintln!(
                "  {what}: {} deliveries/s, p50 {}, p99 {}, max {}",
                thousands(measured.per_second(measured.deliveries)),
                duration(measured.p50_ns),
                duration(measured.p99_ns),
                duration(measured.max_ns)
            );
            Ok(measured)
        }
        _ => Err(format!("{what}: {} ({})", text.trim(), output.status)),
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| rooms × clients per room | mode | clients | events | deliveries/s | events/s | latency at (events/s) | p50 | p99 | max | deliveries/s vs in memory | p99 vs in memory | ≥ 0.5× |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|\n",
    );
    for row in rows {
        let shape = row.shape;
        for (mode, m, paced) in [
            (Mode::Memory, &row.memory, &row.memory_paced),
            (Mode::Redis, &row.cluster, &row.cluster_paced),
        ] {
            let ratios = match mode {
                Mode::Memory => " | | |".to_owned(),
                Mode::Redis => {
                    let holds = if row.throughput.median >= TARGET {
                        "yes"
                    } else {
                        "no"
                    };
                    format!(" {} | {} | {holds} |", row.throughput, row.p99)
                }
            };
            let _ = writeln!(
                out,
                "| {} × {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |{ratios}",
                shape.rooms,
                shape.per_room,
                mode.label(),
                thousands(shape.clients() as f64),
                thousands(shape.events as f64),
                thousands(m.per_second(m.deliveries)),
                thousands(m.per_second(shape.events as u64)),
                thousands(row.rate),
                duration(paced.p50_ns),
                duration(paced.p99_ns),
                duration(paced.max_ns),
            );
        }
    }
    out
}

/// The middle value; of an even count, the mean of the two middle ones.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let half = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[half - 1] + values[half]) / 2.0
    } else {
        values[half]
    }
}

/// `1234567.8` → `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn duration(ns: u64) -> String {
    match ns {
        0..=999_999 => format!("{} µs", ns / 1000),
        1_000_000..=99_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{} ms", ns / 1_000_000),
    }
}

// ---- a child: one mode of one shape ----

/// What a child is asked to run: `--child <mode> <rooms> <per room> <events> <publishers>
/// <window> <rate> [<redis url>]`.
struct Run {
    mode: Mode,
    shape: Shape,
    publishers: usize,
    window: usize,
    /// Events per second for a paced run; 0: as fast as the window allows.
    rate: f64,
    redis_url: Option<String>,
}

impl Run {
    fn parse(args: &[String]) -> Option<Self> {
        let number = |i: usize| args.get(i)?.parse::<usize>().ok();
        let mode = match args.first()?.as_str() {
            "memory" => Mode::Memory,
            "redis" => Mode::Redis,
            _ => return None,
        };
        Some(Run {
            mode,
            shape: Shape {
                rooms: number(1)?,
                per_room: number(2)?,
                events: number(3)?,
            },
            publishers: number(4)?,
            window: number(5)?,
            rate: args.get(6)?.parse().ok()?,
            redis_url: args.get(7).cloned(),
        })
    }
}

fn child(args: &[String]) -> ! {
    let Some(run) = Run::parse(args) else {
        println!("FAIL: bad child arguments {args:?}");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(measure(run)) {
        Ok(measured) => {
            println!("RESULT {}", measured.line());
            std::process::exit(0);
        }
        Err(failure) => {
            println!("FAIL {failure}");
            std::process::exit(1);
        }
    }
}

/// State shared by the publishers and the clients of one run.
struct Shared {
    /// Every time in the run is nanoseconds since this.
    start: Instant,
    shape: Shape,
    publishers: usize,
    room_names: Vec<String>,
    /// Per event: receipts it still waits for. The last one returns its place in `window`.
    owed: Vec<AtomicU32>,
    /// Events that may be in flight.
    window: Semaphore,
    /// Paced runs spawn every emit: no order per publisher to check.
    paced: bool,
    /// Times a paced publisher found the window full (its event then left late).
    window_waits: AtomicU64,
    received: AtomicU64,
    last_receipt: AtomicU64,
    /// Clients whose response head arrived: they are in their room.
    connected: AtomicUsize,
    /// Warm-up events received.
    warmed: AtomicU64,
    /// The first thing that went wrong.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn fail(&self, failure: String) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(failure);
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One instance: its server (kept alive), its namespace, its address.
struct Instance {
    _server: SseServer,
    football: Namespace<Football>,
    addr: SocketAddr,
}

async fn measure(run: Run) -> Result<Measured, String> {
    let instances = start_instances(&run).await?;
    let shape = run.shape;
    let shared = Arc::new(Shared {
        start: Instant::now(),
        shape,
        publishers: run.publishers,
        room_names: (0..shape.rooms).map(|r| format!("match-{r}")).collect(),
        owed: (0..shape.events)
            .map(|_| AtomicU32::new(shape.per_room as u32))
            .collect(),
        window: Semaphore::new(run.window),
        paced: run.rate > 0.0,
        window_waits: AtomicU64::new(0),
        received: AtomicU64::new(0),
        last_receipt: AtomicU64::new(0),
        connected: AtomicUsize::new(0),
        warmed: AtomicU64::new(0),
        failure: Mutex::new(None),
    });

    // Client `i` is in room `i % rooms`, on instance `(i / rooms) % instances`: every room has
    // clients on every instance.
    let (stop, stopped) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(CONNECTS_AT_ONCE));
    let clients: Vec<_> = (0..shape.clients())
        .map(|i| {
            let room = i % shape.rooms;
            let addr = instances[(i / shape.rooms) % instances.len()].addr;
            let (shared, connecting, stopped) =
                (shared.clone(), connecting.clone(), stopped.clone());
            tokio::spawn(async move {
                let received = client(addr, room, &shared, &connecting, stopped).await;
                received.inspect_err(|failure| shared.fail(format!("client {i}: {failure}")))
            })
        })
        .collect();
    wait_until(&shared, "every client connected", CONNECT_WITHIN, || {
        shared.connected.load(Ordering::Acquire) >= shape.clients()
    })
    .await?;

    // Warm-up rounds: every publisher emits one event to every client, all at once, and the
    // round ends when every client has them all (so no queue holds more than `publishers`).
    for round in 1..=WARMUP {
        let emits: Vec<_> = (0..run.publishers)
            .map(|p| {
                instances[p % instances.len()]
                    .football
                    .emit(Football::Warmup {
                        publisher: p as u64,
                    })
            })
            .collect();
        for emitted in futures_util::future::join_all(emits).await {
            emitted.map_err(|e| format!("warm-up emit: {e}"))?;
        }
        let expected = (shape.clients() * run.publishers * round) as u64;
        wait_until(&shared, "the warm-up", CONNECT_WITHIN, || {
            shared.warmed.load(Ordering::Acquire) >= expected
        })
        .await?;
    }

    let first_emit = shared.now();
    let rate = run.rate;
    let publishers: Vec<_> = (0..run.publishers)
        .map(|p| {
            let football = instances[p % instances.len()].football.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let published = if rate > 0.0 {
                    publish_paced(&football, p, &shared, first_emit, rate).await
                } else {
                    publish(&football, p, &shared).await
                };
                if let Err(failure) = published {
                    shared.fail(format!("publisher {p}: {failure}"));
                }
            })
        })
        .collect();
    let total = shape.deliveries();
    wait_until(&shared, "every delivery", DELIVER_WITHIN, || {
        shared.received.load(Ordering::Acquire) >= total
    })
    .await?;
    let wall_ns = shared.last_receipt.load(Ordering::Acquire) - first_emit;
    tokio::time::sleep(GRACE).await;
    let _ = stop.send(true);
    for publisher in publishers {
        publisher
            .await
            .map_err(|e| format!("a publisher panicked: {e}"))?;
    }

    // Exactly once, nothing else, per publisher in order: checked by each client as it reads.
    // One order per room: compared here.
    let mut orders: Vec<Option<u64>> = vec![None; shape.rooms];
    let mut latencies = Vec::with_capacity(total as usize);
    for (i, client) in clients.into_iter().enumerate() {
        let received = client
            .await
            .map_err(|e| format!("client {i} panicked: {e}"))??;
        match orders[received.room] {
            None => orders[received.room] = Some(received.order),
            Some(order) if order == received.order => {}
            Some(_) => {
                return Err(format!(
                    "client {i} received the events of room {} in another order than the room's \
                     first client",
                    received.room
                ))
            }
        }
        latencies.extend(received.latencies);
    }
    if let Some(failure) = shared.failure() {
        return Err(failure);
    }
    let received = shared.received.load(Ordering::Acquire);
    if received != total || latencies.len() as u64 != total {
        return Err(format!("{received} deliveries, expected {total}"));
    }
    for instance in &instances {
        let stats = instance.football.stats();
        if stats.slow_disconnects + stats.lagged + stats.resyncs > 0 {
            return Err(format!("an instance dropped clients or frames: {stats:?}"));
        }
        if run.mode == Mode::Redis && stats.adapter.reconnects + stats.adapter.gap_entries > 0 {
            eprintln!(
                "    note: an instance reconnected or filled gaps: {:?}",
                stats.adapter
            );
        }
    }
    let waits = shared.window_waits.load(Ordering::Relaxed);
    if waits > 0 {
        eprintln!("    note: {waits} paced events waited for the window (the rate was too high)");
    }
    latencies.sort_unstable();
    let quantile = |q: f64| latencies[((q * latencies.len() as f64).ceil() as usize).max(1) - 1];
    Ok(Measured {
        deliveries: total,
        wall_ns,
        p50_ns: quantile(0.50),
        p99_ns: quantile(0.99),
        max_ns: quantile(1.0),
    })
}

/// Polls `done` until it holds; fails at the run's first failure, or after `within`.
async fn wait_until(
    shared: &Shared,
    what: &str,
    within: Duration,
    done: impl Fn() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while !done() {
        if let Some(failure) = shared.failure() {
            return Err(failure);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "waited {within:?} for {what}: {} clients connected, {} warm-up events and {} \
                 deliveries received",
                shared.connected.load(Ordering::Acquire),
                shared.warmed.load(Ordering::Acquire),
                shared.received.load(Ordering::Acquire)
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

async fn start_instances(run: &Run) -> Result<Vec<Instance>, String> {
    let mut instances = Vec::new();
    match (&run.mode, &run.redis_url) {
        (Mode::Memory, _) => {
            let server = SseServer::builder().build().map_err(|e| e.to_string())?;
            instances.push(serve(server).await?);
        }
        (Mode::Redis, Some(url)) => {
            // One cluster per run: the child's pid is unique among the runs on this Redis.
            let prefix = format!("bench-{}", std::process::id());
            for _ in 0..INSTANCES {
                let server = SseServer::builder()
                    .adapter(RedisAdapter::new(url.as_str()).key_prefix(prefix.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?;
                instances.push(serve(server).await?);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while instances
                .iter()
                .any(|i| i.football.stats().adapter.state != AdapterState::Connected)
            {
                if Instant::now() > deadline {
                    return Err("the instances did not connect to Redis within 10 s".to_owned());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        (Mode::Redis, None) => return Err("the Redis mode needs a URL".to_owned()),
    }
    Ok(instances)
}

async fn serve(server: SseServer) -> Result<Instance, String> {
    let football = server
        .of::<Football>("/football")
        .map_err(|e| e.to_string())?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let router = Router::new()
        .route("/football", get(stream))
        .with_state(football.clone());
    let nodelay = nodelay();
    let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| {
        if nodelay {
            let _ = tcp.set_nodelay(true);
        }
    });
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Ok(Instance {
        _server: server,
        football,
        addr,
    })
}

/// Whether the servers set `TCP_NODELAY` on accepted connections: yes, unless `CLUSTER_NODELAY=0`.
fn nodelay() -> bool {
    std::env::var("CLUSTER_NODELAY").map_or(true, |v| v != "0")
}

/// `GET /football?room=match-3`: connect, join, stream.
async fn stream(
    State(football): State<Namespace<Football>>,
    hs: Handshake,
) -> Result<SseStream, Reject> {
    let room = hs.query("room").unwrap_or_default().to_owned();
    let client = football.connect(hs).await?;
    client.join(room)?;
    Ok(client.into_stream())
}

/// Publisher `first` emits events `first`, `first + publishers`, ... each to its room, one at a
/// time, each when the window has room.
async fn publish(
    football: &Namespace<Football>,
    first: usize,
    shared: &Shared,
) -> Result<(), String> {
    for number in (first..shared.shape.events).step_by(shared.publishers) {
        shared
            .window
            .acquire()
            .await
            .map_err(|e| e.to_string())?
            .forget();
        emit(football, number, shared)
            .await
            .map_err(|e| format!("emit {number}: {e}"))?;
    }
    Ok(())
}

/// Publisher `first` emits the same events on a schedule, `rate` events per second for all
/// publishers together from `start_ns`, without waiting for one emit before the next (an event
/// source does not wait for the clients): each emit is a task of its own.
async fn publish_paced(
    football: &Namespace<Football>,
    first: usize,
    shared: &Arc<Shared>,
    start_ns: u64,
    rate: f64,
) -> Result<(), String> {
    let mut emits = Vec::new();
    for number in (first..shared.shape.events).step_by(shared.publishers) {
        let due = start_ns + (number as f64 * 1e9 / rate) as u64;
        tokio::time::sleep(Duration::from_nanos(due.saturating_sub(shared.now()))).await;
        let permit = match shared.window.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                shared.window_waits.fetch_add(1, Ordering::Relaxed);
                shared.window.acquire().await.map_err(|e| e.to_string())?
            }
        };
        permit.forget();
        let (football, shared) = (football.clone(), shared.clone());
        emits.push(tokio::spawn(async move {
            emit(&football, number, &shared)
                .await
                .map_err(|e| format!("emit {number}: {e}"))
        }));
    }
    for emitted in emits {
        emitted
            .await
            .map_err(|e| format!("an emit panicked: {e}"))??;
    }
    Ok(())
}

/// Emits event `number` to its room, stamped with the time of the call.
async fn emit(
    football: &Namespace<Football>,
    number: usize,
    shared: &Shared,
) -> Result<(), String> {
    let room = &shared.room_names[number % shared.shape.rooms];
    let event = Football::ScoreUpdate {
        number: number as u64,
        sent_ns: shared.now(),
        r#match: room.clone(),
        home_score: 2,
        away_score: 1,
        minute: (number % 90) as u32,
        commentary: "A long ball over the top, controlled beautifully and finished low.".to_owned(),
    };
    football
        .to(room)
        .emit(event)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

// ---- a client: raw HTTP/1.1, chunked transfer decoding, SSE frames ----

/// What one client received, once the run stopped it.
struct Received {
    room: usize,
    /// A hash of the order of its events.
    order: u64,
    latencies: Vec<u64>,
}

async fn client(
    addr: SocketAddr,
    room: usize,
    shared: &Shared,
    connecting: &Semaphore,
    mut stopped: watch::Receiver<bool>,
) -> Result<Received, String> {
    let permit = connecting.acquire().await.map_err(|e| e.to_string())?;
    let mut socket = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    socket.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "GET /football?room={} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n\r\n",
        shared.room_names[room]
    );
    socket
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let mut reader = Reader::new(room, shared);
    // The response head; the handler joined the room before it was sent.
    let head_end = loop {
        if read(&mut socket, &mut reader.raw).await? == 0 {
            return Err("closed before the response head".to_owned());
        }
        if let Some(end) = find(&reader.raw, b"\r\n\r\n") {
            break end + 4;
        }
        if reader.raw.len() > 16 * 1024 {
            return Err("response head over 16 KiB".to_owned());
        }
    };
    let head = String::from_utf8_lossy(&reader.raw[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200")
        || !head.contains("content-type: text/event-stream")
        || !head.contains("transfer-encoding: chunked")
    {
        return Err(format!("unexpected response head: {head:?}"));
    }
    reader.raw.drain(..head_end);
    drop(permit);
    shared.connected.fetch_add(1, Ordering::AcqRel);
    loop {
        reader.parse()?;
        tokio::select! {
            read = read(&mut socket, &mut reader.raw) => {
                if read? == 0 {
                    return Err(format!("the stream ended after {} events", reader.count));
                }
            }
            _ = stopped.changed() => break,
        }
    }
    let expected = shared.shape.events_of(room);
    if reader.count != expected {
        return Err(format!(
            "received {} of the {expected} events of its room",
            reader.count
        ));
    }
    Ok(Received {
        room,
        order: reader.order,
        latencies: reader.latencies,
    })
}

async fn read(socket: &mut TcpStream, into: &mut Vec<u8>) -> Result<usize, String> {
    into.reserve(64 * 1024);
    socket
        .read_buf(into)
        .await
        .map_err(|e| format!("read: {e}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes the chunked body into SSE text, the text into frames, and checks each event.
struct Reader<'a> {
    shared: &'a Shared,
    room: usize,
    /// Bytes read and not decoded yet.
    raw: Vec<u8>,
    /// Decoded body not parsed into frames yet.
    text: Vec<u8>,
    /// Data bytes left in the current chunk.
    chunk_left: usize,
    /// A chunk's data ended: its CRLF comes next.
    chunk_end: bool,
    /// Events received.
    count: usize,
    /// Which events arrived, a bit per event number.
    seen: Vec<u64>,
    /// Per publisher, the index of the last of its events received.
    last_of: Vec<Option<usize>>,
    order: u64,
    latencies: Vec<u64>,
}

impl<'a> Reader<'a> {
    fn new(room: usize, shared: &'a Shared) -> Self {
        let expected = shared.shape.events_of(room);
        Reader {
            shared,
            room,
            raw: Vec::with_capacity(64 * 1024),
            text: Vec::with_capacity(64 * 1024),
            chunk_left: 0,
            chunk_end: false,
            count: 0,
            seen: vec![0; shared.shape.events.div_ceil(64)],
            last_of: vec![None; shared.publishers],
            order: 0xcbf2_9ce4_8422_2325,
            latencies: Vec::with_capacity(expected),
        }
    }

    fn parse(&mut self) -> Result<(), String> {
        self.dechunk()?;
        let mut start = 0;
        while let Some(end) = find(&self.text[start..], b"\n\n") {
            let frame = std::mem::take(&mut self.text);
            let result = self.frame(&frame[start..start + end]);
            self.text = frame;
            result?;
            start += end + 2;
        }
        self.text.drain(..start);
        Ok(())
    }

    /// `<hex size>\r\n<data>\r\n`, repeated; a zero size ends the body.
    fn dechunk(&mut self) -> Result<(), String> {
        let mut at = 0;
        loop {
            if self.chunk_left > 0 {
                let take = self.chunk_left.min(self.raw.len() - at);
                self.text.extend_from_slice(&self.raw[at..at + take]);
                at += take;
                self.chunk_left -= take;
                if self.chunk_left > 0 {
                    break;
                }
                self.chunk_end = true;
            }
            if self.chunk_end {
                if self.raw.len() - at < 2 {
                    break;
                }
                if &self.raw[at..at + 2] != b"\r\n" {
                    return Err("a chunk does not end with CRLF".to_owned());
                }
                at += 2;
                self.chunk_end = false;
            }
            let Some(eol) = find(&self.raw[at..], b"\r\n") else {
                break;
            };
            let line = String::from_utf8_lossy(&self.raw[at..at + eol]);
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| format!("bad chunk size line {line:?}"))?;
            at += eol + 2;
            if size == 0 {
                return Err(format!("the body ended after {} events", self.count));
            }
            self.chunk_left = size;
        }
        self.raw.drain(..at);
        Ok(())
    }

    /// One frame: comments, `retry:` and `id:` lines pass; an event is checked and counted.
    fn frame(&mut self, frame: &[u8]) -> Result<(), String> {
        let mut event = None;
        let mut data = None;
        for line in frame.split(|&b| b == b'\n') {
            if let Some(name) = line.strip_prefix(b"event: ") {
                event = Some(name);
            } else if let Some(value) = line.strip_prefix(b"data: ") {
                data = Some(value);
            }
        }
        let Some(data) = data else {
            return Ok(());
        };
        if event == Some(b"warmup".as_slice()) {
            self.shared.warmed.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        if event != Some(b"score_update".as_slice()) {
            return Err(format!(
                "unexpected event {:?}: {}",
                event.map(String::from_utf8_lossy),
                String::from_utf8_lossy(data)
            ));
        }
        let (Some(number), Some(sent_ns)) = (
            number_after(data, b"\"number\":"),
            number_after(data, b"\"sentNs\":"),
        ) else {
            return Err(format!("unexpected data {}", String::from_utf8_lossy(data)));
        };
        self.event(number as usize, sent_ns)
    }

    fn event(&mut self, number: usize, sent_ns: u64) -> Result<(), String> {
        let shared = self.shared;
        let now = shared.now();
        if number >= shared.shape.events || number % shared.shape.rooms != self.room {
            return Err(format!("received event {number}, not one of its room's"));
        }
        let (word, bit) = (number / 64, 1u64 << (number % 64));
        if self.seen[word] & bit != 0 {
            return Err(format!("received event {number} twice"));
        }
        self.seen[word] |= bit;
        let (publisher, index) = (number % shared.publishers, number / shared.publishers);
        if !shared.paced && self.last_of[publisher].is_some_and(|last| last >= index) {
            return Err(format!(
                "received event {number} after a later one of its publisher"
            ));
        }
        self.last_of[publisher] = Some(index);
        self.order = (self.order ^ number as u64).wrapping_mul(0x100_0000_01b3);
        self.count += 1;
        self.latencies.push(now.saturating_sub(sent_ns));
        shared.last_receipt.fetch_max(now, Ordering::AcqRel);
        if shared.owed[number].fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.window.add_permits(1);
        }
        shared.received.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// The unsigned integer right after `key` in `data`.
fn number_after(data: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(data, key)? + key.len();
    let digits = data[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&data[at..at + digits])
        .ok()?
        .parse()
        .ok()
}
