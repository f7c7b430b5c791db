//! Heartbeats over real HTTP: idle streams get `:\n\n`, busy ones do not.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_idle_stream_gets_heartbeats_and_headers_come_at_once() {
    let interval = Duration::from_millis(200);
    let app = spawn(builder().heartbeat(interval)).await;
    let http = http();
    let mut stream = open_raw(&http, &app.url("/football?room=quiet")).await;
    assert_eq!(stream.response_headers["cache-control"], "no-cache");
    assert_eq!(stream.response_headers["x-accel-buffering"], "no");

    // The first chunk comes at once so the headers are flushed.
    let first = stream.read_chunk(Duration::from_millis(100)).await;
    assert_eq!(first.as_deref(), Some(&b": ok\n\n"[..]));

    let mut last = Instant::now();
    let mut gaps = Vec::new();
    for _ in 0..4 {
        let chunk = stream.read_chunk(interval * 5).await.expect("a heartbeat");
        assert_eq!(&chunk[..], b":\n\n");
        gaps.push(last.elapsed());
        last = Instant::now();
    }
    // About the interval: never early (a heartbeat per poll would pass an upper bound alone),
    // never silent much longer (generous bound for a loaded CI machine).
    assert!(
        gaps.iter().all(|gap| *gap >= interval / 2),
        "too early: {gaps:?}"
    );
    assert!(
        gaps.iter().all(|gap| *gap < interval * 3),
        "too late: {gaps:?}"
    );
}

#[tokio::test]
async fn a_busy_stream_carries_no_heartbeats() {
    let interval = Duration::from_millis(300);
    let app = spawn(builder().heartbeat(interval)).await;
    let http = http();
    let mut stream = open_raw(&http, &app.url("/football?room=busy")).await;
    stream.read_chunk(Duration::from_secs(1)).await;
    for i in 0..12 {
        app.football
            .to("busy")
            .emit(announcement(&format!("tick {i}")))
            .await
            .unwrap();
        tokio::time::sleep(interval / 6).await;
        while stream.read_chunk(Duration::from_millis(1)).await.is_some() {}
    }
    let text = String::from_utf8(stream.buffer.clone()).unwrap();
    assert!(
        !text.contains(":\n\n"),
        "heartbeat on a busy stream: {text}"
    );
    assert!(text.contains("tick 11"));
}

#[tokio::test]
async fn retry_hint_is_the_first_frame_when_configured() {
    let app = spawn(builder().retry(Duration::from_millis(1500))).await;
    let mut stream = open_raw(&http(), &app.url("/football")).await;
    let first = stream.read_chunk(Duration::from_secs(1)).await;
    assert_eq!(first.as_deref(), Some(&b"retry: 1500\n\n"[..]));
}
