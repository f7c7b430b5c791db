//! The `RedisServer` fixture over real sockets: what the Redis adapter's tests will rely on.

#[path = "common/redis.rs"]
mod redis_server;

use futures_util::StreamExt;
use redis_server::{RedisServer, GONE_WITHIN};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Long enough for anything that should happen at once on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_started_server_keeps_what_is_set() {
    let redis = RedisServer::start().await;
    let mut con = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await
        .unwrap();

    // Read back on another connection, through the fixture's own helper.
    assert_eq!(redis.command::<String>(&["GET", "k"]).await.unwrap(), "v");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
}

#[tokio::test]
async fn two_servers_at_once_have_their_own_port_and_data() {
    let (a, b) = tokio::join!(RedisServer::start(), RedisServer::start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());

    let () = a.command(&["SET", "k", "in a"]).await.unwrap();
    assert_eq!(a.command::<String>(&["GET", "k"]).await.unwrap(), "in a");
    let in_b: Option<String> = b.command(&["GET", "k"]).await.unwrap();
    assert_eq!(in_b, None);
}

#[tokio::test]
async fn a_stopped_server_refuses_new_connections() {
    let mut redis = RedisServer::start().await;
    redis.stop().await;

    assert_eq!(redis.pid(), None);
    let refused = TcpStream::connect_timeout(&redis.addr(), PATIENCE).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let error = redis.command::<String>(&["PING"]).await.unwrap_err();
    assert!(error.is_connection_refusal(), "{error:?}");
}

#[tokio::test]
async fn a_restarted_server_answers_on_the_same_port_without_the_old_data() {
    let mut redis = RedisServer::start().await;
    let (port, pid) = (redis.port(), redis.pid());
    let () = redis.command(&["SET", "k", "v"]).await.unwrap();

    redis.restart().await;

    assert_eq!(redis.port(), port);
    assert_ne!(redis.pid(), pid, "a new process");
    assert_eq!(redis.command::<String>(&["PING"]).await.unwrap(), "PONG");
    let old: Option<String> = redis.command(&["GET", "k"]).await.unwrap();
    assert_eq!(old, None);

    // And after an explicit stop, the same again.
    redis.stop().await;
    redis.restart().await;
    assert_eq!(redis.port(), port);
    assert_eq!(redis.command::<i64>(&["DBSIZE"]).await.unwrap(), 0);
}

/// Observed with redis 1.8.2 and Redis 7.0.15: the killed subscriber's message stream ends
/// (`None`), without an error item and without reconnecting; the `PubSub` cannot be used again.
#[tokio::test]
async fn killing_the_pubsub_clients_ends_a_subscribers_stream() {
    let redis = RedisServer::start().await;
    let mut pubsub = redis.client().get_async_pubsub().await.unwrap();
    pubsub.subscribe("news").await.unwrap();
    let mut messages = pubsub.into_on_message();
    // A connection that is not subscribed is not a pubsub client and must survive.
    let mut publisher = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("before")
        .query_async(&mut publisher)
        .await
        .unwrap();
    assert_eq!(receivers, 1);
    let message = tokio::time::timeout(PATIENCE, messages.next())
        .await
        .unwrap()
        .expect("the subscriber gets the message published before the kill");
    assert_eq!(message.get_payload::<String>().unwrap(), "before");

    assert_eq!(redis.kill_pubsub_clients().await, 1);

    let after = tokio::time::timeout(PATIENCE, messages.next())
        .await
        .expect("the stream of a killed subscriber ends at once");
    assert!(after.is_none(), "the stream ends, got {after:?}");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("after")
        .query_async(&mut publisher)
        .await
        .expect("the publisher's connection was not killed");
    assert_eq!(receivers, 0, "nobody resubscribed");
    assert_eq!(redis.kill_pubsub_clients().await, 0);
}

#[tokio::test]
async fn no_redis_server_outlives_its_fixture() {
    let redis = RedisServer::start().await;
    let (addr, pid) = (redis.addr(), redis.pid().unwrap());
    assert_eq!(redis_processes_on(addr.port()), [pid]);
    drop(redis);
    assert_gone(addr, pid);

    // Nor one whose test panicked: the task's future, fixture included, is dropped while the
    // panic unwinds.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let panicked = tokio::spawn(async move {
        let redis = RedisServer::start().await;
        tx.send((redis.addr(), redis.pid().unwrap(), redis.dir().to_owned()))
            .unwrap();
        panic!("deliberate panic, to check that the fixture kills redis-server while unwinding");
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    let (addr, pid, dir) = rx.await.unwrap();
    assert_gone(addr, pid);
    // Kept for debugging a failed test; this one failed on purpose.
    assert!(dir.join("redis.log").exists());
    std::fs::remove_dir_all(dir).unwrap();

    // Nor one whose restart was abandoned half-way (a test that timed out): the launch goes on
    // in the blocking pool, and its server is killed when nobody takes it.
    let mut redis = RedisServer::start().await;
    let port = redis.port();
    redis.stop().await;
    let abandoned = tokio::time::timeout(Duration::from_millis(1), redis.restart()).await;
    assert!(abandoned.is_err(), "a restart takes more than 1 ms");
    drop(redis);
    // The abandoned launch may not have spawned its server yet: give it the time to, and to notice
    // that nobody waits for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + GONE_WITHIN;
    while !redis_processes_on(port).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(redis_processes_on(port), [] as [u32; 0]);
}

/// Not a check of speed (the machine is shared), a record of it: run with `--nocapture`.
#[tokio::test]
async fn start_stop_and_restart_times() {
    let started = Instant::now();
    let mut redis = RedisServer::start().await;
    let start = started.elapsed();

    let stopped = Instant::now();
    redis.stop().await;
    let stop = stopped.elapsed();

    let restarted = Instant::now();
    redis.restart().await;
    let restart = restarted.elapsed();

    let restarted = Instant::now();
    redis.restart().await;
    let restart_running = restarted.elapsed();

    println!(
        "redis-server: start {start:?}, stop {stop:?}, restart after stop {restart:?}, \
         restart while running {restart_running:?}"
    );
    assert_eq!(redis.command::<String>(&["PING"]).await.unwrap(), "PONG");
}

/// The `redis-server` processes serving `port`, found like `pgrep -f` would (Redis sets its
/// process title to `redis-server 127.0.0.1:<port>`), without needing procps.
fn redis_processes_on(port: u16) -> Vec<u32> {
    let title = format!("127.0.0.1:{port}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A process that exits while we look has no cmdline any more: it is not running.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("redis-server") && cmdline.contains(&title) {
            found.push(pid);
        }
    }
    found
}

fn assert_gone(addr: SocketAddr, pid: u32) {
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "redis-server (pid {pid}) still runs"
    );
    assert_eq!(redis_processes_on(addr.port()), [] as [u32; 0]);
    let refused = TcpStream::connect_timeout(&addr, PATIENCE).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}
