//! Three instances sharing one order through a real `redis-server`: exactly-once delivery in
//! one order everywhere, resumption on any instance, outages, cluster-wide operations.

mod common;

use common::redis_server::RedisServer;
use common::*;
use sse_manager::adapter::RedisAdapter;
use sse_manager::SseServer;
use std::sync::Arc;
use std::time::Duration;

fn adapter(redis: &RedisServer, prefix: &str) -> RedisAdapter {
    RedisAdapter::new(redis.url())
        .key_prefix(prefix)
        .probe(Duration::from_millis(200), Duration::from_millis(1000))
        .command_timeout(Duration::from_millis(500))
}

async fn cluster(redis: &RedisServer, prefix: &str, n: usize) -> Vec<App> {
    let mut apps = Vec::new();
    for _ in 0..n {
        apps.push(spawn(SseServer::builder().adapter(adapter(redis, prefix))).await);
    }
    for app in &apps {
        eventually("connected to redis", || {
            app.football.stats().adapter.state == sse_manager::adapter::AdapterState::Connected
        })
        .await;
    }
    apps
}

#[tokio::test]
async fn an_emit_on_one_instance_reaches_clients_on_every_instance_once() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "smoke", 3).await;
    let http = http();
    let mut streams = Vec::new();
    for app in &apps {
        streams.push(open(&http, &app.url("/football?room=a")).await);
    }
    let mut ids = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let sent = app.announce("a", &format!("from {i}")).await;
        assert_eq!(sent.delivered, 1);
        ids.push(sent.id.to_string());
    }
    for stream in &mut streams {
        let events = stream.until("from 2").await;
        assert_eq!(messages(&events), ["from 0", "from 1", "from 2"]);
        let got: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(got, ids);
    }
}

fn offset(id: &str) -> u64 {
    id.parse::<sse_manager::EventId>().unwrap().offset()
}

/// Randomized publishes on all three instances, concurrently, over many rooms: every client on
/// every instance receives exactly its rooms' events, once, in the one order of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_every_rooms_events_once_in_one_order() {
    use rand::{Rng, SeedableRng};
    const ROOMS: usize = 12;
    const CLIENTS_PER_INSTANCE: usize = 8;
    const EMITS_PER_INSTANCE: usize = 150;
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "model", 3).await;
    let http = http();
    // Each client: its instance, its rooms, its stream.
    let mut clients = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        for _ in 0..CLIENTS_PER_INSTANCE {
            let rooms: Vec<usize> = (0..ROOMS).filter(|_| rng.random_bool(0.25)).collect();
            let query: Vec<String> = rooms.iter().map(|r| format!("room=r{r}")).collect();
            let stream = open(&http, &app.url(&format!("/football?{}", query.join("&")))).await;
            clients.push((i, rooms, stream));
        }
    }
    // Emits: to one or two rooms, some with an except; all instances at once.
    let plans: Vec<Vec<(Vec<usize>, Option<usize>)>> = (0..3)
        .map(|_| {
            (0..EMITS_PER_INSTANCE)
                .map(|_| {
                    let to: Vec<usize> = (0..rng.random_range(1..=2))
                        .map(|_| rng.random_range(0..ROOMS))
                        .collect();
                    let except = rng.random_bool(0.2).then(|| rng.random_range(0..ROOMS));
                    (to, except)
                })
                .collect()
        })
        .collect();
    let mut tasks = Vec::new();
    for (i, (app, plan)) in apps.iter().zip(plans).enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for (n, (to, except)) in plan.into_iter().enumerate() {
                let rooms: Vec<String> = to.iter().map(|r| format!("r{r}")).collect();
                let mut op = app.football.to(rooms);
                if let Some(except) = except {
                    op = op.except(format!("r{except}"));
                }
                let message = format!("{i}-{n}");
                let emitted = op.emit(announcement(&message)).await.unwrap();
                sent.push((emitted.id.to_string(), message, to, except));
            }
            sent
        }));
    }
    let mut log = Vec::new();
    for task in tasks {
        log.extend(task.await.unwrap());
    }
    // The one order: by offset, gap-free, each offset once.
    log.sort_by_key(|(id, ..)| offset(id));
    let offsets: Vec<u64> = log.iter().map(|(id, ..)| offset(id)).collect();
    assert_eq!(offsets, (1..=log.len() as u64).collect::<Vec<_>>());
    // A sentinel to everyone marks the end of each stream.
    apps[0].football.emit(announcement("end")).await.unwrap();

    for (instance, rooms, stream) in &mut clients {
        let expected: Vec<(String, String)> = log
            .iter()
            .filter(|(_, _, to, except)| {
                to.iter().any(|r| rooms.contains(r)) && !except.is_some_and(|e| rooms.contains(&e))
            })
            .map(|(id, message, ..)| (id.clone(), message.clone()))
            .collect();
        let events = stream
            .until_within("\"end\"", Duration::from_secs(10))
            .await;
        let got: Vec<(String, String)> = events[..events.len() - 1]
            .iter()
            .map(|event| {
                (
                    event.id.clone(),
                    messages(std::slice::from_ref(event))[0].clone(),
                )
            })
            .collect();
        assert_eq!(
            got, expected,
            "client on instance {instance} in rooms {rooms:?}"
        );
    }
}

#[tokio::test]
async fn a_client_resumes_on_another_instance_with_exactly_what_it_missed() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "resume", 3).await;
    let http = http();
    let mut first = open(&http, &apps[0].url("/football?room=a")).await;
    apps[1].announce("a", "seen").await;
    let last = first.next().await.id;
    drop(first);
    // Missed, emitted on every instance, some for other rooms.
    for n in 0..9 {
        let app = &apps[n % 3];
        app.announce(if n % 2 == 0 { "a" } else { "b" }, &format!("missed {n}"))
            .await;
    }
    let mut resumed = resume(&http, &apps[2], "room=a", &last).await;
    apps[0].announce("a", "live").await;
    let events = resumed.until("live").await;
    assert_eq!(
        messages(&events),
        ["missed 0", "missed 2", "missed 4", "missed 6", "missed 8", "live"]
    );
}

#[tokio::test]
async fn an_instance_started_later_resumes_clients_from_the_shared_log() {
    let redis = RedisServer::start().await;
    let first = cluster(&redis, "late", 1).await.remove(0);
    let http = http();
    let mut client = open(&http, &first.url("/football?room=a")).await;
    first.announce("a", "seen").await;
    let last = client.next().await.id;
    drop(client);
    for n in 0..5 {
        first.announce("a", &format!("missed {n}")).await;
    }
    // Started after all of that: it reads the recent log at start.
    let late = cluster(&redis, "late", 1).await.remove(0);
    let mut resumed = resume(&http, &late, "room=a", &last).await;
    late.announce("a", "live").await;
    let events = resumed.until("live").await;
    assert_eq!(
        messages(&events),
        ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4", "live"]
    );
    // And its new clients get nothing old.
    let mut fresh = open(&http, &late.url("/football?room=a")).await;
    first.announce("a", "new").await;
    assert_eq!(messages(&[fresh.next().await]), ["new"]);
}

#[tokio::test]
async fn ids_of_another_epoch_get_a_resync_not_a_wrong_replay() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "epoch", 2).await;
    let http = http();
    let mut resumed = resume(&http, &apps[1], "room=a", "abc-1").await;
    let notice = resumed.next().await;
    assert_eq!(notice.event, "sse:resync");
    assert_eq!(notice.data, r#"{"reason":"unknown","lastEventId":"abc-1"}"#);
    apps[0].announce("a", "live").await;
    assert_eq!(messages(&[resumed.next().await]), ["live"]);
}

#[tokio::test]
async fn cluster_counts_rooms_join_leave_and_disconnect_span_instances() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "ops", 3).await;
    let http = http();
    let _a0 = open(&http, &apps[0].url("/football?room=a&tag=x")).await;
    let _a1 = open(&http, &apps[1].url("/football?room=a&room=b")).await;
    let mut b2 = open(&http, &apps[2].url("/football?room=b&tag=y")).await;

    let ops = apps[0].football.cluster();
    let count = ops.client_count().await;
    assert_eq!((count.value, count.answered.len()), (3, 3), "{count:?}");
    assert!(count.is_complete());
    assert_eq!(ops.room_size("a").await.value, 2);
    assert_eq!(ops.room_size("b").await.value, 2);
    assert_eq!(ops.rooms().await.value, ["a", "b"]);

    // A client on instance 2, moved from instance 0.
    let y = apps[2].tagged.lock().unwrap()["y"].id();
    let joined = ops.join(y, "c").await.unwrap();
    assert!(joined.value && joined.is_complete(), "{joined:?}");
    assert_eq!(apps[2].football.room_size("c"), 1);
    apps[1].announce("c", "to c").await;
    assert_eq!(messages(&[b2.next().await]), ["to c"]);
    let left = ops.leave(y, "b").await;
    assert!(left.value);
    assert_eq!(ops.room_size("b").await.value, 1);
    let unknown: sse_manager::ClientId = "1-1".parse().unwrap();
    let nobody = ops.disconnect(unknown).await;
    assert!(!nobody.value && nobody.is_complete(), "{nobody:?}");
    let gone = ops.disconnect(y).await;
    assert!(gone.value);
    eventually("y's stream to end", || apps[2].football.client_count() == 0).await;
    assert_eq!(ops.client_count().await.value, 2);

    // An instance that stops answering (it was alive a moment ago, so it is still listed as
    // live): the answer names it instead of silently counting less.
    let silent = SseServer::builder()
        .adapter(adapter(&redis, "ops"))
        .build()
        .unwrap();
    let silent_ns = silent.of::<FootballEvents>("/football").unwrap();
    eventually("the fourth instance to connect", || {
        silent_ns.stats().adapter.state == sse_manager::adapter::AdapterState::Connected
    })
    .await;
    let all = ops.client_count().await;
    assert_eq!((all.value, all.answered.len()), (2, 4), "{all:?}");
    drop((silent_ns, silent));
    let partial = ops.client_count().await;
    assert_eq!(partial.value, 2, "{partial:?}");
    assert_eq!(partial.answered.len(), 3, "{partial:?}");
    assert_eq!(partial.missing.len(), 1, "{partial:?}");
    assert!(all.answered.contains(&partial.missing[0]));
    assert!(!partial.answered.contains(&partial.missing[0]));
    assert!(!partial.is_complete());
}

/// `SIGSTOP`/`SIGCONT` on the redis-server: connections stay open, nothing answers: what a
/// network partition or a stalled host looks like, with no data lost.
fn signal(redis: &RedisServer, signal: &str) {
    let pid = redis.pid().expect("redis-server runs").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Reads `stream` until `sentinel`; the events before it as `(event name, data)`.
async fn read_until(stream: &mut Events, sentinel: &str) -> Vec<(String, String)> {
    let events = stream.until_within(sentinel, Duration::from_secs(15)).await;
    events[..events.len() - 1]
        .iter()
        .map(|event| (event.event.clone(), event.data.clone()))
        .collect()
}

fn announced(message: &str) -> (String, String) {
    (
        "announcement".to_owned(),
        serde_json::json!({ "message": message }).to_string(),
    )
}

async fn wait_state(app: &App, state: sse_manager::adapter::AdapterState, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while app.football.stats().adapter.state != state {
        assert!(
            tokio::time::Instant::now() < deadline,
            "state {state:?} within {within:?}: {:?}",
            app.football.stats().adapter
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Redis stalls (no data lost): each instance delivers its own emits at once, and passes them on
/// when Redis answers again; every client ends with every event exactly once, no resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_instances_deliver_locally_and_pass_the_outbox_on_after() {
    use sse_manager::adapter::AdapterState;
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "outage", 3).await;
    let http = http();
    let mut streams = Vec::new();
    for app in &apps {
        streams.push(open(&http, &app.url("/football?room=a")).await);
    }
    apps[0].announce("a", "before").await;

    signal(&redis, "-STOP");
    // Each instance: its own events reach its own client at once (after the command timeout
    // showed Redis is gone), with this instance's own ids.
    for (i, app) in apps.iter().enumerate() {
        for n in 0..3 {
            let sent = app.announce("a", &format!("{i}-{n}")).await;
            assert_eq!(sent.delivered, 1);
        }
        wait_state(app, AdapterState::Down, Duration::from_secs(5)).await;
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let mut local = Vec::new();
        for _ in 0..4 {
            local.push(stream.next().await);
        }
        assert_eq!(
            messages(&local),
            [
                "before".to_owned(),
                format!("{i}-0"),
                format!("{i}-1"),
                format!("{i}-2")
            ]
        );
    }
    assert_eq!(apps[1].football.stats().adapter.outbox, 3);
    let metrics = apps[1].server.prometheus_metrics();
    for line in [
        "sse_adapter_state{namespace=\"/football\",adapter=\"redis\",state=\"down\"} 1",
        "sse_adapter_state{namespace=\"/football\",adapter=\"redis\",state=\"connected\"} 0",
        "sse_adapter_outbox{namespace=\"/football\"} 3",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    signal(&redis, "-CONT");
    let back = tokio::time::Instant::now();
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(10)).await;
    }
    println!("connected again after {:?}", back.elapsed());
    apps[2].announce("a", "after").await;
    for (i, stream) in streams.iter_mut().enumerate() {
        let got = read_until(stream, "after").await;
        // The other instances' outage events, late, each once; no resync.
        let mut expected: Vec<(String, String)> = (0..3)
            .filter(|&j| j != i)
            .flat_map(|j| (0..3).map(move |n| announced(&format!("{j}-{n}"))))
            .collect();
        let mut sorted = got.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "instance {i} got {got:?}");
        // Each instance's events in the order it emitted them.
        for j in 0..3 {
            let order: Vec<&(String, String)> = got
                .iter()
                .filter(|(_, data)| data.contains(&format!("\"{j}-")))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        }
    }
    for app in &apps {
        let stats = app.football.stats();
        assert_eq!(
            (stats.resyncs, stats.adapter.outbox, stats.adapter.lost),
            (0, 0, 0)
        );
    }
}

/// An outbox too small for the outage: what did not fit is announced to the other instances'
/// clients by one `sse:resync` with reason `outage`, never dropped silently; the emitter's own
/// clients got everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_does_not_fit_the_outbox_is_announced_by_an_outage_resync() {
    use sse_manager::adapter::AdapterState;
    let redis = RedisServer::start().await;
    let mut apps = Vec::new();
    for _ in 0..2 {
        let builder = SseServer::builder().adapter(adapter(&redis, "overflow").outbox(2, 1 << 20));
        apps.push(spawn(builder).await);
    }
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(5)).await;
    }
    let http = http();
    let mut here = open(&http, &apps[0].url("/football?room=a")).await;
    let mut there = open(&http, &apps[1].url("/football?room=a")).await;

    signal(&redis, "-STOP");
    for n in 0..5 {
        apps[0].announce("a", &format!("out {n}")).await;
    }
    assert_eq!(apps[0].football.stats().adapter.lost, 3);
    signal(&redis, "-CONT");
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(10)).await;
    }
    apps[0].announce("a", "after").await;

    let got = read_until(&mut here, "after").await;
    let expected: Vec<_> = (0..5).map(|n| announced(&format!("out {n}"))).collect();
    assert_eq!(got, expected);
    let got = read_until(&mut there, "after").await;
    assert_eq!(
        got,
        [
            announced("out 0"),
            announced("out 1"),
            (
                "sse:resync".to_owned(),
                r#"{"reason":"outage","lastEventId":null}"#.to_owned()
            ),
        ]
    );
}

/// `CLIENT KILL TYPE pubsub` while events flow: the subscriptions are rebuilt and the gaps filled
/// from the Stream; every client gets every event once, in order, with no resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_subscriptions_are_rebuilt_and_nothing_is_lost() {
    use sse_manager::adapter::AdapterState;
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "kill", 3).await;
    let http = http();
    let mut streams = Vec::new();
    for app in &apps {
        streams.push(open(&http, &app.url("/football?room=a")).await);
    }
    let emitting = {
        let apps = apps.clone();
        tokio::spawn(async move {
            for n in 0..150 {
                apps[n % 3].announce("a", &format!("e{n}")).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let killed = redis.kill_pubsub_clients().await;
    assert_eq!(
        killed, 6,
        "one subscription per namespace (football, cricket) and instance"
    );
    emitting.await.unwrap();
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(10)).await;
        assert!(app.football.stats().adapter.reconnects >= 1);
    }
    apps[0].announce("a", "end").await;
    let expected: Vec<_> = (0..150).map(|n| format!("e{n}")).collect();
    let mut orders = Vec::new();
    for stream in &mut streams {
        let got = read_until(stream, "\"end\"").await;
        let mut messages: Vec<String> = got
            .iter()
            .map(|(name, data)| {
                assert_eq!(name, "announcement", "{data}");
                serde_json::from_str::<serde_json::Value>(data).unwrap()["message"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        orders.push(messages.clone());
        messages.sort_by_key(|m| m[1..].parse::<usize>().unwrap());
        assert_eq!(messages, expected);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "one order everywhere"
    );
}

/// Redis restarts empty (no persistence): every instance moves to a new epoch, every client gets
/// one `sse:resync` (`epoch`), and delivery goes on across instances within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_starts_a_new_epoch_announced_to_every_client() {
    use sse_manager::adapter::AdapterState;
    let mut redis = RedisServer::start().await;
    let apps = cluster(&redis, "restart", 2).await;
    let http = http();
    let mut first = open(&http, &apps[0].url("/football?room=a")).await;
    let mut second = open(&http, &apps[1].url("/football?room=a")).await;
    let old = apps[0].announce("a", "old").await.id;
    redis.stop().await;
    for app in &apps {
        wait_state(app, AdapterState::Down, Duration::from_secs(5)).await;
    }
    // Still delivered here at once.
    apps[0].announce("a", "during").await;
    redis.restart().await;
    let back = tokio::time::Instant::now();
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(10)).await;
    }
    let new = apps[1].announce("a", "new").await.id;
    println!(
        "delivering across instances again after {:?}",
        back.elapsed()
    );
    assert_ne!(old.epoch(), new.epoch());
    let resync = (
        "sse:resync".to_owned(),
        r#"{"reason":"epoch","lastEventId":null}"#.to_owned(),
    );
    assert_eq!(
        read_until(&mut first, "\"new\"").await,
        [announced("old"), announced("during"), resync.clone()]
    );
    // The other instance got the resync, then what instance 0 kept for it.
    let got = read_until(&mut second, "\"new\"").await;
    assert_eq!(got, [announced("old"), resync, announced("during")]);
    // An id from before the restart is refused, not replayed.
    let mut resumed = resume(&http, &apps[1], "room=a", &old.to_string()).await;
    assert_eq!(resumed.next().await.event, "sse:resync");
}

/// A TCP proxy to Redis that can wedge the subscriptions through it: their sockets stay open,
/// nothing moves any more, as after a failover that left a connection half-dead.
struct Proxy {
    port: u16,
    wedge: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let wedge = Arc::new(AtomicBool::new(false));
        let wedging = wedge.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                // Wedged: a subscription (it sent SUBSCRIBE) made before `wedge()` was called.
                let subscriber = Arc::new(AtomicBool::new(false));
                let born_wedged = wedging.load(Ordering::SeqCst);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let (flag, seen) = (wedging.clone(), subscriber.clone());
                let stuck = move || {
                    !born_wedged && flag.load(Ordering::SeqCst) && seen.load(Ordering::SeqCst)
                };
                let stuck_too = stuck.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        if buf[..n]
                            .windows(9)
                            .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
                        {
                            subscriber.store(true, Ordering::SeqCst);
                        }
                        if stuck() {
                            std::future::pending::<()>().await;
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                        if stuck_too() {
                            std::future::pending::<()>().await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Proxy { port, wedge }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn wedge_subscriptions(&self) {
        self.wedge.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A subscription that stays connected but stops delivering is found by the probe (published
/// through the same channel, it never comes back), rebuilt, and the gap filled: nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_subscription_is_found_by_the_probe_and_rebuilt() {
    use sse_manager::adapter::AdapterState;
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let through_proxy = RedisAdapter::new(proxy.url())
        .key_prefix("wedge")
        .probe(Duration::from_millis(200), Duration::from_millis(1000))
        .command_timeout(Duration::from_millis(500));
    let wedged = spawn(SseServer::builder().adapter(through_proxy)).await;
    let healthy = cluster(&redis, "wedge", 1).await.remove(0);
    wait_state(&wedged, AdapterState::Connected, Duration::from_secs(5)).await;
    let http = http();
    let mut stream = open(&http, &wedged.url("/football?room=a")).await;
    healthy.announce("a", "before").await;
    assert_eq!(messages(&[stream.next().await]), ["before"]);

    proxy.wedge_subscriptions();
    for n in 0..5 {
        healthy.announce("a", &format!("during {n}")).await;
    }
    // Nothing arrives on the wedged subscription...
    assert!(stream.try_next(Duration::from_millis(300)).await.is_none());
    // ...until the probe finds it and the rebuilt one fills the gap.
    let got = read_until(&mut stream, "during 4").await;
    let stats = wedged.football.stats().adapter;
    assert!(stats.wedges >= 1, "{stats:?}");
    assert_eq!(
        got,
        (0..4)
            .map(|n| announced(&format!("during {n}")))
            .collect::<Vec<_>>()
    );
    healthy.announce("a", "after").await;
    assert_eq!(messages(&[stream.next().await]), ["after"]);
    assert_eq!(wedged.football.stats().resyncs, 0);
}

/// A store that lost writes (a failover to a replica behind the primary): an instance that
/// delivered further than the head proves it, and the namespace starts a new epoch instead of
/// giving two events one id.
#[tokio::test]
async fn a_head_that_went_backwards_starts_a_new_epoch() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "fence", 2).await;
    let http = http();
    let mut stream = open(&http, &apps[1].url("/football?room=a")).await;
    let mut old = None;
    for n in 0..3 {
        old = Some(apps[0].announce("a", &format!("old {n}")).await.id);
    }
    let old = old.unwrap();
    let _: () = redis
        .command(&["HSET", "fence:{/football}:meta", "o", "1"])
        .await
        .unwrap();
    let new = apps[0].announce("a", "new").await.id;
    assert_ne!(new.epoch(), old.epoch());
    assert_eq!(new.offset(), 1);
    let got = read_until(&mut stream, "\"new\"").await;
    assert_eq!(
        got,
        [
            announced("old 0"),
            announced("old 1"),
            announced("old 2"),
            (
                "sse:resync".to_owned(),
                r#"{"reason":"epoch","lastEventId":null}"#.to_owned()
            ),
        ]
    );
}

/// Offsets are written with `%d` in the script: Lua would write `1e+14` from 10^14 on.
#[tokio::test]
async fn offsets_past_ten_to_the_fourteen_stay_exact() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "big", 2).await;
    let http = http();
    apps[0].announce("a", "first").await;
    let _: () = redis
        .command(&["HSET", "big:{/football}:meta", "o", "99999999999999"])
        .await
        .unwrap();
    let mut stream = open(&http, &apps[1].url("/football?room=a")).await;
    let sent = apps[0].announce("a", "big").await;
    assert_eq!(sent.id.offset(), 100_000_000_000_000);
    let events = stream.until("big").await;
    // The jump is reported (entries this instance never saw), then the event with its exact id.
    assert_eq!(events.last().unwrap().id, sent.id.to_string());
    assert!(sent.id.to_string().ends_with("-100000000000000"));
}

/// The recent log is read into a new instance's history a page at a time, up to the window:
/// a resume from before the window gets one resync, one inside it everything exactly.
#[tokio::test]
async fn a_new_instance_reads_the_recent_log_in_pages_up_to_its_window() {
    let redis = RedisServer::start().await;
    let first = cluster(&redis, "pages", 1).await.remove(0);
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(first.announce("a", &format!("m{n}")).await.id.to_string());
    }
    let builder = SseServer::builder()
        .history(150, Duration::from_secs(60))
        .adapter(adapter(&redis, "pages"));
    let late = spawn(builder).await;
    wait_state(
        &late,
        sse_manager::adapter::AdapterState::Connected,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(late.football.stats().history, 150);
    let http = http();
    // Inside the window (the last 150 are m50..m199): after m60, exactly m61..m199.
    let mut resumed = resume(&http, &late, "room=a", &ids[60]).await;
    let got = resumed.until("m199").await;
    let expected: Vec<String> = (61..200).map(|n| format!("m{n}")).collect();
    assert_eq!(messages(&got), expected);
    // Before it: one resync, then what the window holds is not replayed as if nothing was lost.
    let mut old = resume(&http, &late, "room=a", &ids[10]).await;
    let notice = old.next().await;
    assert_eq!(notice.event, "sse:resync");
    assert!(
        notice.data.contains(r#""reason":"expired""#),
        "{}",
        notice.data
    );
}

/// Redis killed and restarted (empty) while all three instances emit: local delivery goes on,
/// cross-instance delivery is back within 10 s, and on every client no event arrives twice and
/// every event it missed is announced by an `sse:resync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_while_events_flow_loses_nothing_silently_and_repeats_nothing() {
    use sse_manager::adapter::AdapterState;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut redis = RedisServer::start().await;
    let apps = cluster(&redis, "flow", 3).await;
    let http = http();
    let mut streams = Vec::new();
    for app in &apps {
        for _ in 0..2 {
            streams.push(open(&http, &app.url("/football?room=a")).await);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut emitters = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let (app, stop) = (app.clone(), stop.clone());
        emitters.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            // Bounded: about 3 s at one emit per 10 ms.
            for n in 0..2_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let message = format!("{i}-{n}");
                app.announce("a", &message).await;
                sent.push(message);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.stop().await;
    for app in &apps {
        wait_state(app, AdapterState::Down, Duration::from_secs(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().await;
    let back = tokio::time::Instant::now();
    for app in &apps {
        wait_state(app, AdapterState::Connected, Duration::from_secs(10)).await;
    }
    println!(
        "all instances connected {:?} after the restart",
        back.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    for emitter in emitters {
        sent.push(emitter.await.unwrap());
    }
    apps[0].announce("a", "end").await;
    for (c, stream) in streams.iter_mut().enumerate() {
        let instance = c / 2;
        let got = read_until(stream, "\"end\"").await;
        let mut seen = std::collections::HashSet::new();
        let mut resyncs = 0;
        for (name, data) in &got {
            if name == "sse:resync" {
                resyncs += 1;
                continue;
            }
            let message = serde_json::from_str::<serde_json::Value>(data).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(seen.insert(message.clone()), "client {c}: {message} twice");
        }
        // Its own instance's events: every one, in order.
        let own: Vec<&String> = got
            .iter()
            .filter(|(name, _)| name == "announcement")
            .map(|(_, data)| data)
            .filter(|data| data.contains(&format!("\"{instance}-")))
            .collect();
        assert_eq!(
            own.len(),
            sent[instance].len(),
            "client {c}: its instance's events"
        );
        let missed: Vec<&String> = sent
            .iter()
            .flatten()
            .filter(|message| !seen.contains(*message))
            .collect();
        assert!(
            missed.is_empty() || resyncs > 0,
            "client {c} missed {missed:?} without a resync"
        );
        println!(
            "client {c}: {} events, {} missed (announced), {resyncs} resyncs",
            seen.len(),
            missed.len()
        );
    }
}

/// An entry this version cannot read (written by another version, or damaged) is skipped at its
/// offset: the namespace does not stop there, on any instance.
#[tokio::test]
async fn an_unreadable_log_entry_is_skipped_not_a_dead_end() {
    let redis = RedisServer::start().await;
    let apps = cluster(&redis, "garbage", 2).await;
    let http = http();
    let mut streams = Vec::new();
    for app in &apps {
        streams.push(open(&http, &app.url("/football?room=a")).await);
    }
    let before = apps[0].announce("a", "before").await.id;
    let next = (before.offset() + 1).to_string();
    let _: String = redis
        .command(&[
            "XADD",
            "garbage:{/football}:log",
            &format!("{next}-0"),
            "t",
            "0",
            "d",
            "\u{0}\u{0}\u{0}\u{3}not an entry",
        ])
        .await
        .unwrap();
    let _: () = redis
        .command(&["HSET", "garbage:{/football}:meta", "o", &next])
        .await
        .unwrap();
    let after = apps[1].announce("a", "after").await.id;
    assert_eq!(after.offset(), before.offset() + 2);
    for stream in &mut streams {
        let got = read_until(stream, "\"after\"").await;
        assert_eq!(got, [announced("before")]);
    }
}
