//! `RedisServer`: a real `redis-server` on 127.0.0.1, one per test, for the tests of the Redis
//! adapter.
//!
//! The adapter's promises (one order for the whole cluster, replay from the Stream, local delivery
//! while Redis is down, `sse:resync` instead of a silent gap) are about what a real server does
//! when it answers, when it goes away and when it comes back empty. So those tests run against the
//! real binary, never a mock, and a machine without it fails the test with the command that
//! installs it: `./scripts/test` installs Debian's `redis-server` when it is missing.
//!
//! A test that needs the sports app too (and so the `redis` feature: `required-features` in
//! `Cargo.toml`) finds this file in `mod common`, which includes it with that feature (for
//! [`shared_url`]: the suites run against the Redis adapter with `SSE_TEST_ADAPTER=redis`). A
//! test without `mod common` includes it by path (not both: clippy's `duplicate_mod`):
//!
//! ```ignore
//! mod common;                                  // common::redis_server::RedisServer, or:
//! #[path = "common/redis.rs"]
//! mod redis_server;
//! use redis_server::RedisServer;
//!
//! let redis = RedisServer::start().await;      // its own free port, empty, no persistence
//! // build instances with redis.url() ...
//! redis.stop().await;                          // outage: connections drop, new ones are refused
//! redis.restart().await;                       // back on the same port, with no data
//! redis.kill_pubsub_clients().await;           // only the subscriptions drop
//! ```
//!
//! ## Lifecycle
//!
//! - Each server has its own directory under `CARGO_TARGET_TMPDIR`, and `redis.log` there holds
//!   everything the server printed, every restart appended. It is removed when the fixture is
//!   dropped, and kept (its path printed) when the test panicked.
//! - `--save "" --appendonly no`: nothing is written to disk, so a restart comes back empty, as a
//!   real server without persistence does.
//! - Dropping the fixture kills the server, during a panic too; so does dropping a half-finished
//!   `start()` or `restart()`. Only a test binary killed by a signal can leave one behind.
//! - Every wait is bounded ([`READY_WITHIN`], [`GONE_WITHIN`]) and fails with the end of the log.
//! - The waits run on tokio's blocking pool with the real clock: they neither stall the other
//!   tasks of the test (an instance keeps serving during `restart()`) nor depend on tokio's
//!   clock, so a test that pauses time gets the same fixture.
#![allow(dead_code, unreachable_pub)]

use redis::{FromRedisValue, RedisResult};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The longest a start or restart may take until the server answers `PING`: it usually takes a
/// few milliseconds, but the machine is shared with other builds.
pub const READY_WITHIN: Duration = Duration::from_secs(10);

/// The longest a killed server may take to exit and free its port.
pub const GONE_WITHIN: Duration = Duration::from_secs(5);

/// Ports tried before `start()` gives up: another test may take the free port we found before our
/// server binds it.
const PORT_ATTEMPTS: usize = 20;

/// How often the waits look again.
const POLL: Duration = Duration::from_millis(5);

/// What `redis-server` prints when its port is taken (Redis 7: "Could not create server TCP
/// listening socket 127.0.0.1:N: bind: Address already in use").
const PORT_TAKEN: &str = "Address already in use";

/// A `redis-server` on `127.0.0.1:port()`, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    /// The server's working directory, with `redis.log`.
    dir: PathBuf,
    /// `None` between `stop()` and `restart()`.
    process: Option<Process>,
}

impl RedisServer {
    /// Starts an empty server on a free loopback port and waits until it answers `PING`.
    ///
    /// Panics when `redis-server` is not installed, or does not answer within [`READY_WITHIN`].
    pub async fn start() -> Self {
        launching(Self::start_blocking).await
    }

    fn start_blocking(gave_up: &AtomicBool) -> Option<Self> {
        let dir = fresh_dir();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match launch_and_wait(port, &dir, gave_up) {
                Ok(process) => {
                    return Some(Self {
                        port,
                        dir,
                        process: Some(process),
                    })
                }
                // Another test took the port between our probe and the server's bind: the
                // process has exited already, try another one.
                Err(Launch::PortTaken) => continue,
                Err(Launch::GaveUp) => {
                    let _ = fs::remove_dir_all(&dir);
                    return None;
                }
            }
        }
        panic!(
            "redis-server found no free port in {PORT_ATTEMPTS} attempts; log: {}",
            log_path(&dir).display()
        );
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// A `redis::Client` for `url()`: it connects only when asked to.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a redis://127.0.0.1:<port>/ URL is valid")
    }

    /// The server's process id, `None` while it is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::id)
    }

    /// The server's working directory; `redis.log` in it has everything the server printed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the server printed so far, every restart included.
    pub fn log(&self) -> String {
        fs::read_to_string(log_path(&self.dir)).unwrap_or_default()
    }

    /// Kills the server (`SIGKILL`, like a crash: no goodbye to the clients) and waits until it
    /// has exited and its port refuses connections.
    pub async fn stop(&mut self) {
        let process = self.process.take();
        let addr = self.addr();
        blocking(move || {
            if let Some(process) = process {
                process.kill();
            }
            wait_until_refused(addr);
        })
        .await;
    }

    /// Starts the server again on the same port, empty as a restarted server without persistence
    /// is, and waits until it answers `PING`. A running server is stopped first.
    ///
    /// Panics when the port was taken while the server was down, and stays taken for
    /// [`READY_WITHIN`]. (Unlikely: Linux gives `bind(:0)` odd ports, the ones chosen here, and
    /// outgoing connections even ones, as long as there are enough.)
    pub async fn restart(&mut self) {
        self.stop().await;
        let (port, dir) = (self.port, self.dir.clone());
        let process = launching(move |gave_up| {
            let deadline = Instant::now() + READY_WITHIN;
            loop {
                match launch_and_wait(port, &dir, gave_up) {
                    Ok(process) => return Some(process),
                    Err(Launch::GaveUp) => return None,
                    Err(Launch::PortTaken) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(Launch::PortTaken) => panic!(
                        "redis-server could not restart: port {port} was taken while it was down \
                         and is still taken; log: {}",
                        log_path(&dir).display()
                    ),
                }
            }
        })
        .await;
        self.process = Some(process);
    }

    /// Runs one command on a new connection and returns the reply, or the error (a server error
    /// reply, or an I/O error when the server is down).
    ///
    /// `redis.command::<String>(&["GET", "k"])`, `redis.command::<redis::Value>(&[...])`.
    pub async fn command<T>(&self, args: &[&str]) -> RedisResult<T>
    where
        T: FromRedisValue + Send + 'static,
    {
        let (name, rest) = args.split_first().expect("a command has a name");
        let mut cmd = redis::cmd(name);
        for arg in rest {
            cmd.arg(*arg);
        }
        let client = self.client();
        blocking(move || {
            let mut con = connect(&client)?;
            cmd.query(&mut con)
        })
        .await
    }

    /// `CLIENT KILL TYPE pubsub`: drops every connection in subscriber mode, and only those, as a
    /// network blip would. Returns how many were killed.
    pub async fn kill_pubsub_clients(&self) -> usize {
        let killed: usize = self
            .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .await
            .expect("CLIENT KILL TYPE pubsub: the server is running");
        killed
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Kill first, so that the directory is no longer in use when it is removed.
        drop(self.process.take());
        if std::thread::panicking() {
            eprintln!("redis-server log kept: {}", log_path(&self.dir).display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A running `redis-server`, killed when dropped: wherever the fixture's state ends up (a test
/// that panics, a blocking task whose result nobody awaits), no server outlives it.
#[derive(Debug)]
struct Process {
    child: Child,
}

impl Process {
    fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills and reaps the server; panics if it is still there after [`GONE_WITHIN`].
    fn kill(mut self) {
        if let Err(still_there) = self.kill_and_reap() {
            panic!("{still_there}");
        }
    }

    fn kill_and_reap(&mut self) -> Result<(), String> {
        // Fails only when the process has exited already, which is what we want anyway.
        let _ = self.child.kill();
        let deadline = Instant::now() + GONE_WITHIN;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                Ok(None) => {
                    return Err(format!(
                        "redis-server (pid {}) still runs {GONE_WITHIN:?} after SIGKILL",
                        self.child.id()
                    ))
                }
                Err(e) => return Err(format!("waiting for redis-server to exit: {e}")),
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // No panic here: a panic while a test is already unwinding would abort the whole binary.
        if let Err(still_there) = self.kill_and_reap() {
            eprintln!("{still_there}");
        }
    }
}

/// Why a launch did not give a running server, when that is no failure of the server. Every other
/// failure panics with the server's log.
enum Launch {
    /// Worth another try.
    PortTaken,
    /// Nobody waits for the server any more (see `launching`); it has been killed.
    GaveUp,
}

/// Spawns `redis-server` on `port` and waits until it answers `PING`, or until `gave_up` is set.
fn launch_and_wait(port: u16, dir: &Path, gave_up: &AtomicBool) -> Result<Process, Launch> {
    let log = log_path(dir);
    // Only what this launch printed tells whether it lost its port: the log is appended to.
    let log_start = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let mut process = launch(port, dir);
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let exited = process
            .child
            .try_wait()
            .expect("could not ask whether redis-server is still running");
        // Checked after `try_wait`: when the fixture is dropped right after giving up, its
        // directory goes and the server exits because of that, which is no failure.
        if gave_up.load(Ordering::SeqCst) {
            return Err(Launch::GaveUp);
        }
        if let Some(status) = exited {
            let printed = log_since(&log, log_start);
            if printed.contains(PORT_TAKEN) {
                return Err(Launch::PortTaken);
            }
            panic!(
                "redis-server on port {port} exited ({status}) before answering PING; \
                 its log ({}):\n{printed}",
                log.display()
            );
        }
        // Another test's server may hold the port for a moment (ours then exits with "Address
        // already in use"): only our own process id counts as ready.
        if answers_ping_as(port) == Some(process.id()) {
            return Ok(process);
        }
        if Instant::now() >= deadline {
            panic!(
                "redis-server on port {port} did not answer PING within {READY_WITHIN:?}; \
                 its log ({}):\n{}",
                log.display(),
                log_since(&log, log_start)
            );
        }
        std::thread::sleep(POLL);
    }
}

fn launch(port: u16, dir: &Path) -> Process {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(dir))
        .expect("could not open redis.log in the server's directory");
    let stderr = log.try_clone().expect("could not share redis.log");
    let spawned = Command::new("redis-server")
        .args(server_args(port, dir))
        .stdin(Stdio::null())
        // Without --logfile the server logs to stdout: everything ends up in redis.log.
        .stdout(log)
        .stderr(stderr)
        .spawn();
    match spawned {
        Ok(child) => Process { child },
        Err(e) if e.kind() == ErrorKind::NotFound => not_installed(),
        Err(e) => panic!("could not start redis-server: {e}"),
    }
}

/// The arguments of every `redis-server` the fixtures start.
fn server_args(port: u16, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["--bind", "127.0.0.1", "--port", &port.to_string()]
        .into_iter()
        // No RDB snapshots, no AOF: a restart comes back empty and nothing is left on disk.
        .chain(["--save", "", "--appendonly", "no"])
        .chain(["--daemonize", "no", "--dir"])
        .map(OsString::from)
        .collect();
    args.push(dir.into());
    args
}

fn not_installed() -> ! {
    panic!(
        "redis-server is not installed, and the Redis tests need a real one: run \
         ./scripts/test, which installs Debian's redis-server when it is missing, or \
         `sudo apt-get install redis-server` (do not start it as a service: each test starts \
         its own)"
    )
}

/// The process id of the server that answers `PING` on `port`, if one does.
fn answers_ping_as(port: u16) -> Option<u32> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut con = connect(&client).ok()?;
    let pong: String = redis::cmd("PING").query(&mut con).ok()?;
    if pong != "PONG" {
        return None;
    }
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// A connection whose connect, reads and writes are all bounded: a wedged server fails a wait
/// instead of hanging the test.
fn connect(client: &redis::Client) -> RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(Duration::from_secs(1))?;
    con.set_read_timeout(Some(Duration::from_secs(2)))?;
    con.set_write_timeout(Some(Duration::from_secs(2)))?;
    Ok(con)
}

/// Waits until nothing accepts connections on `addr` any more.
fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            _ if Instant::now() >= deadline => {
                panic!("{addr} still accepts connections {GONE_WITHIN:?} after redis-server died")
            }
            _ => std::thread::sleep(POLL),
        }
    }
}

/// A port that was free a moment ago. The listener is closed before the server binds the port, so
/// another test can take it in between: `launch_and_wait` notices and the caller tries another.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("could not bind a free port on 127.0.0.1")
        .port()
}

/// A new, empty directory for one server, unique among the test binaries running at once.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "redis-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    // Left over by an earlier run whose process had the same id.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)
        .expect("could not create the server's directory in the target tmp dir");
    dir
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("redis.log")
}

fn log_since(log: &Path, start: u64) -> String {
    let all = fs::read(log).unwrap_or_default();
    let start = usize::try_from(start).unwrap_or(all.len()).min(all.len());
    String::from_utf8_lossy(&all[start..]).into_owned()
}

/// Runs a launch on the blocking pool, like `blocking`. When the caller stops waiting (a test's
/// timeout drops the `start()` or `restart()` future), `f` sees `gave_up` set within [`POLL`],
/// kills what it started and returns `None`, quietly: nobody is left to report to.
async fn launching<T: Send + 'static>(
    f: impl FnOnce(&AtomicBool) -> Option<T> + Send + 'static,
) -> T {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let gave_up = Arc::new(AtomicBool::new(false));
    let on_drop = SetOnDrop(gave_up.clone());
    let launched = blocking(move || f(&gave_up)).await;
    drop(on_drop);
    launched.expect("a launch gives up only when nobody waits for it")
}

/// Runs `f` on tokio's blocking pool: the fixture's waits sleep and block on sockets.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        // Keep the fixture's own message as the test's failure.
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the fixture's blocking task did not finish: {e}"),
        },
    }
}

/// The URL of one `redis-server` shared by the whole test process, started on first use: the
/// suites that run against the Redis adapter (`common::builder()` with `SSE_TEST_ADAPTER=redis`)
/// share it and keep apart by key prefix, so a test pays for a server once per binary, not once
/// per test.
///
/// A `static` is never dropped, so no destructor can stop this one. Instead the server runs under
/// a `sh` ([`WRAPPER`]) that waits for the end of its stdin, a pipe whose only writer is this
/// process: however the process ends (returns, panics, is killed by a signal), the kernel closes
/// the pipe, and the wrapper kills the server and removes its directory (with `redis.log`).
pub fn shared_url() -> &'static str {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    &SHARED.get_or_init(Shared::start).url
}

/// `sh -c WRAPPER sh <dir> <redis-server arguments>`: starts the server, prints its process id,
/// then blocks until stdin ends. The server is the wrapper's child, not reaped before the
/// `kill`, so its process id cannot have been reused by then.
const WRAPPER: &str = r#"dir=$1; shift
redis-server "$@" </dev/null >>"$dir/redis.log" 2>&1 &
pid=$!
echo "$pid"
read -r _
kill -9 "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir""#;

struct Shared {
    url: String,
    /// The wrapper, never waited for: it exits after this process. Its stdin, never written to,
    /// is open exactly as long as this process lives (std creates pipes close-on-exec, so no
    /// other child inherits it).
    _wrapper: Child,
}

impl Shared {
    /// Blocks (with the real clock) until the server answers `PING`: once per process, a few
    /// milliseconds usually.
    fn start() -> Self {
        for attempt in 0..PORT_ATTEMPTS {
            let port = free_port();
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("redis-shared-{}-{attempt}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir)
                .expect("could not create the server's directory in the target tmp dir");
            let mut wrapper = Command::new("sh")
                .args(["-c", WRAPPER, "sh"])
                .arg(&dir)
                .args(server_args(port, &dir))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("could not start sh");
            let mut line = String::new();
            BufReader::new(wrapper.stdout.take().expect("stdout is piped"))
                .read_line(&mut line)
                .expect("could not read the wrapper's output");
            let pid: u32 = line
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("the wrapper printed {line:?}, not a process id"));
            match wait_until_answers(port, pid, &dir) {
                Ok(()) => {
                    return Shared {
                        url: format!("redis://127.0.0.1:{port}/"),
                        _wrapper: wrapper,
                    }
                }
                Err(Launch::PortTaken) => {
                    // The wrapper cleans up and exits.
                    drop(wrapper.stdin.take());
                    let _ = wrapper.wait();
                }
                Err(Launch::GaveUp) => unreachable!("nobody gives up on the shared server"),
            }
        }
        panic!("the shared redis-server found no free port in {PORT_ATTEMPTS} attempts");
    }
}

/// Waits until the server `pid` answers `PING` on `port`; panics with its log when it exits or
/// stays silent for [`READY_WITHIN`], unless it lost its port.
fn wait_until_answers(port: u16, pid: u32, dir: &Path) -> Result<(), Launch> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if answers_ping_as(port) == Some(pid) {
            return Ok(());
        }
        let exited = has_exited(pid);
        if exited || Instant::now() >= deadline {
            let printed = fs::read_to_string(log_path(dir)).unwrap_or_default();
            if printed.contains(PORT_TAKEN) {
                return Err(Launch::PortTaken);
            }
            if printed.contains("redis-server: not found") {
                not_installed();
            }
            let what = if exited {
                "exited before answering PING"
            } else {
                "did not answer PING in time"
            };
            panic!("the shared redis-server on port {port} {what}; its log:\n{printed}");
        }
        std::thread::sleep(POLL);
    }
}

/// Whether `pid`, a child of the wrapper (which reaps it only after the `kill`), has exited:
/// it is a zombie then (state `Z` in `/proc/<pid>/stat`).
fn has_exited(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}
