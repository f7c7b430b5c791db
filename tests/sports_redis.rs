//! The sports example with `REDIS_URL`, against a real `redis-server`: instances share one order,
//! and `/health` stays `200` through an outage while its body follows Redis.

mod common;

// The example's own router, as `tests/sports.rs` runs it.
#[allow(dead_code)]
#[path = "../examples/sports/app.rs"]
mod app;

use app::{Settings, Sports};
// `app.rs` finds its event enums at `crate::events`.
use common::redis_server::RedisServer;
use common::{events, http, messages, open, serve};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How long `/health` may take to say `down`: the probe timeout is 500 ms here.
const DOWN_WITHIN: Duration = Duration::from_secs(3);

/// How long `/health` may take to say `connected`: at start, and after a restart the next
/// reconnect attempt (backoff up to 1 s) and the resynchronisation.
const CONNECTED_WITHIN: Duration = Duration::from_secs(10);

/// The example's settings from these variables only.
fn settings(env: &[(&str, &str)]) -> Settings {
    Settings::from_env(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
    .unwrap()
}

/// One instance of the sports example on a free port, its events through `redis`.
struct Instance {
    addr: SocketAddr,
    http: reqwest::Client,
    _sports: Sports,
}

impl Instance {
    async fn start(redis: &RedisServer) -> Self {
        let url = redis.url();
        let env = [
            ("SIMULATE", "0"),
            ("REDIS_URL", url.as_str()),
            ("REDIS_KEY_PREFIX", "sports-test"),
            ("REDIS_PROBE_MS", "100"),
            ("REDIS_PROBE_TIMEOUT_MS", "500"),
        ];
        let settings = settings(&env);
        let sports = Sports::new(&settings).unwrap();
        let addr = serve(app::router(sports.clone())).await;
        Instance {
            addr,
            http: http(),
            _sports: sports,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `/health` answers `200` every time it is asked, and `within` says `"redis": state`.
    /// Returns the states it said on the way.
    async fn health_becomes(&self, state: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let health = self.get("/health").await;
            let now = health["redis"].as_str().unwrap_or("null").to_owned();
            if seen.last() != Some(&now) {
                seen.push(now.clone());
            }
            if now == state {
                assert_eq!(
                    health,
                    json!({"status": "ok", "adapter": "redis", "redis": state})
                );
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "/health did not say {state:?} within {within:?}; it said {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn announce(&self, room: &str, message: &str) -> Value {
        let response = self
            .http
            .post(self.url(&format!("/publish/football/{room}")))
            .header("content-type", "application/json")
            .body(json!({"event": "announcement", "data": {"message": message}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "publish {message}");
        response.json().await.unwrap()
    }

    /// The football namespace's adapter stats.
    async fn adapter(&self) -> Value {
        self.get("/stats").await["namespaces"]["/football"]["adapter"].clone()
    }

    async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// A URL or prefix the adapter cannot use stops the example at startup, naming the variables.
#[tokio::test]
async fn a_bad_redis_url_or_prefix_is_refused_at_startup() {
    for (url, prefix, problem) in [
        (
            "localhost:6379",
            "sports",
            "invalid Redis URL \"localhost:6379\"",
        ),
        ("redis://127.0.0.1:1/", "a{b}", "Redis key prefix \"a{b}\""),
    ] {
        let env = [("REDIS_URL", url), ("REDIS_KEY_PREFIX", prefix)];
        let settings = settings(&env);
        let err = Sports::new(&settings).err().unwrap();
        assert!(
            err.starts_with("REDIS_URL or REDIS_KEY_PREFIX: ") && err.contains(problem),
            "{err}"
        );
    }
}

#[tokio::test]
async fn health_stays_200_and_follows_redis_down_and_back() {
    let mut redis = RedisServer::start().await;
    let instance = Instance::start(&redis).await;
    instance.health_becomes("connected", CONNECTED_WITHIN).await;
    let mut adapter = instance.adapter().await;
    // Counts of a moment: a loaded machine may miss a 500 ms probe and reconnect once.
    for key in ["reconnects", "wedges", "lag", "gapEntries"] {
        assert!(adapter[key].is_u64(), "{key}: {adapter}");
        adapter[key] = json!(0);
    }
    assert_eq!(
        adapter,
        json!({
            "kind": "redis",
            "state": "connected",
            "reconnects": 0,
            "wedges": 0,
            "lag": 0,
            "outbox": 0,
            "lost": 0,
            "gapsFilled": 0,
            "gapEntries": 0,
            "epochChanges": 0,
        })
    );
    let mut stream = open(&instance.http, &instance.url("/stream/football/m")).await;
    let before = instance.announce("m", "before").await;
    let event = stream.next().await;
    assert_eq!(before, json!({"delivered": 1, "id": event.id}));

    redis.stop().await;
    let states = instance.health_becomes("down", DOWN_WITHIN).await;
    assert!(
        states
            .iter()
            .all(|state| ["connected", "reconnecting", "down"].contains(&state.as_str())),
        "{states:?}"
    );
    // Down, this instance still delivers its own emits at once, and keeps them for the others.
    let during = instance.announce("m", "during").await;
    assert_eq!(during["delivered"], 1);
    assert_eq!(messages(&[stream.next().await]), ["during"]);
    let adapter = instance.adapter().await;
    assert_eq!(
        (&adapter["state"], &adapter["outbox"]),
        (&json!("down"), &json!(1))
    );
    let metrics = instance.metrics().await;
    for line in [
        "sse_adapter_state{namespace=\"/football\",adapter=\"redis\",state=\"down\"} 1",
        "sse_adapter_state{namespace=\"/football\",adapter=\"redis\",state=\"connected\"} 0",
        "sse_adapter_outbox{namespace=\"/football\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }

    redis.restart().await;
    instance.health_becomes("connected", CONNECTED_WITHIN).await;
    let adapter = instance.adapter().await;
    assert_eq!(
        (
            &adapter["state"],
            &adapter["outbox"],
            &adapter["epochChanges"]
        ),
        (&json!("connected"), &json!(0), &json!(1)),
        "the outbox went to the new, empty Redis: {adapter}"
    );
    assert!(adapter["reconnects"].as_u64().unwrap() >= 1, "{adapter}");
    // Redis came back empty: the ids before it mean nothing now, and the client is told so.
    let resync = stream.next().await;
    assert_eq!(resync.event, "sse:resync");
    assert_eq!(
        serde_json::from_str::<Value>(&resync.data).unwrap()["reason"],
        "epoch"
    );
    instance.announce("m", "after").await;
    assert_eq!(messages(&[stream.next().await]), ["after"]);
}

#[tokio::test]
async fn two_instances_share_one_order_and_resume_each_others_ids() {
    let redis = RedisServer::start().await;
    let a = Instance::start(&redis).await;
    let b = Instance::start(&redis).await;
    a.health_becomes("connected", CONNECTED_WITHIN).await;
    b.health_becomes("connected", CONNECTED_WITHIN).await;

    let mut on_a = open(&a.http, &a.url("/stream/football/m")).await;
    let mut published = Vec::new();
    for (i, instance) in [&a, &b, &a, &b].into_iter().enumerate() {
        let answer = instance.announce("m", &format!("m{i}")).await;
        published.push((answer["id"].as_str().unwrap().to_owned(), format!("m{i}")));
    }
    let received = ids_and_messages(on_a.until("m3").await);
    assert_eq!(received, published, "one order, the same ids, from either");

    // A browser that saw m1 on `a` reconnects to `b`: exactly m2 and m3, with their ids.
    let resumed = b
        .http
        .get(b.url("/stream/football/m"))
        .header("last-event-id", &published[1].0)
        .send()
        .await
        .unwrap();
    let mut resumed = common::events_of(resumed);
    let replayed = ids_and_messages(resumed.until("m3").await);
    assert_eq!(replayed, published[2..]);
}

/// `(id, message)` of each announcement.
fn ids_and_messages(events: Vec<eventsource_stream::Event>) -> Vec<(String, String)> {
    events
        .into_iter()
        .map(|event| {
            let message = messages(std::slice::from_ref(&event)).remove(0);
            (event.id, message)
        })
        .collect()
}
