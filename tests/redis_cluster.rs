//! Three instances sharing one order through a real `redis-server`: exactly-once delivery in
//! one order everywhere, resumption on any instance, outages, cluster-wide operations.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use common::*;
use redis_server::RedisServer;
use sse_manager::adapter::RedisAdapter;
use sse_manager::SseServer;
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

/// Opens a football stream with a `Last-Event-ID` header.
async fn resume(http: &reqwest::Client, app: &App, query: &str, last_id: &str) -> Events {
    let response = http
        .get(app.url(&format!("/football?{query}")))
        .header("last-event-id", last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    events_of(response)
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
