//! Three instances sharing one order through a real `redis-server`: exactly-once delivery in
//! one order everywhere, resumption on any instance, outages, cluster-wide operations.

mod common;

use common::redis_server::RedisServer;
use common::*;
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
