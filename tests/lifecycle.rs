//! Connections come and go: nothing is left behind.

mod common;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use common::*;
use futures_util::future::join_all;
use sse_manager::{Handshake, Reject, SseStream};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connect_disconnect_cycles_leave_no_client_and_no_room() {
    let app = spawn(builder()).await;
    let http = http();
    for batch in 0..20 {
        let opened = join_all((0..50).map(|i| {
            let url = app.url(&format!(
                "/football?room=shared&room=own-{batch}-{i}&room=%E2%9A%BD"
            ));
            let http = http.clone();
            async move { open_raw(&http, &url).await }
        }))
        .await;
        assert_eq!(app.football.room_size("shared"), 50);
        assert_eq!(app.football.room_size("⚽"), 50);
        drop(opened);
        eventually("clients of the batch to be removed", || {
            app.football.client_count() == 0
        })
        .await;
    }
    assert_eq!(app.football.rooms(), Vec::<String>::new());
    assert_eq!(app.server.connection_count(), 0);
}

#[tokio::test]
async fn a_disconnected_client_stream_ends_and_it_leaves_every_room() {
    let app = spawn(builder()).await;
    let http = http();
    let mut stream = open_raw(&http, &app.url("/football?tag=me&room=a&room=b")).await;
    let handle = app.tagged.lock().unwrap()["me"].clone();
    assert!(handle.is_connected());
    assert_eq!(handle.rooms(), ["a", "b"]);

    handle.disconnect();
    assert!(stream.ended(PATIENCE).await, "the stream ends");
    assert!(!handle.is_connected());
    assert_eq!(handle.rooms(), Vec::<String>::new());
    handle.join("c").unwrap();
    assert_eq!(
        handle.rooms(),
        Vec::<String>::new(),
        "a disconnected client joins nothing"
    );
    assert_eq!(app.football.rooms(), Vec::<String>::new());
    let sent = handle.emit(announcement("too late")).await.unwrap();
    assert_eq!(sent.delivered, 0);
    eventually("the connection slot to be released", || {
        app.server.connection_count() == 0
    })
    .await;
}

#[tokio::test]
async fn direct_emit_reaches_only_that_client() {
    let app = spawn(builder()).await;
    let http = http();
    let mut me = open(&http, &app.url("/football?tag=me&room=r")).await;
    let mut other = open(&http, &app.url("/football?tag=other&room=r")).await;
    let handle = app.tagged.lock().unwrap()["me"].clone();
    handle.emit(announcement("just you")).await.unwrap();
    app.football.emit(announcement("end")).await.unwrap();
    assert_eq!(messages(&me.until("end").await), ["just you", "end"]);
    assert_eq!(messages(&other.until("end").await), ["end"]);
}

async fn connect_then_fail(State(app): State<App>, hs: Handshake) -> Result<SseStream, Reject> {
    let client = app.football.connect(hs).await?;
    client.join("doomed")?;
    Err(Reject::bad_request("the handler changed its mind"))
}

#[tokio::test]
async fn a_client_dropped_by_its_handler_is_removed() {
    let server = builder().build().unwrap();
    let app = spawn_with(server, |app| {
        Router::new()
            .route("/football", get(connect_then_fail))
            .with_state(app.clone())
    })
    .await;
    let response = http().get(app.url("/football")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.football.client_count(), 0);
    assert_eq!(app.football.room_size("doomed"), 0);
    assert_eq!(app.server.connection_count(), 0);
}

#[tokio::test]
async fn the_connection_limit_answers_503_with_retry_after() {
    let app = spawn(builder().max_connections(2)).await;
    let http = http();
    let _a = open_raw(&http, &app.url("/football")).await;
    let _b = open_raw(&http, &app.url("/cricket/x")).await;
    let refused = http.get(app.url("/football")).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert_eq!(
        refused.text().await.unwrap(),
        r#"{"error":"the server is at its connection limit, retry later"}"#
    );
    drop(_a);
    eventually("a slot to free up", || app.server.connection_count() == 1).await;
    let _c = open_raw(&http, &app.url("/football")).await;
    assert_healthy(&app.url("/health")).await;
}

#[tokio::test]
async fn a_slow_client_is_disconnected_and_the_others_get_everything() {
    let app = spawn(builder().client_queue(4)).await;
    let http = http();
    let mut fast = open(&http, &app.url("/football?room=r")).await;
    // The slow client's response is never read; its socket and queue fill up.
    let slow = http
        .get(app.url("/football?room=r&tag=slow"))
        .send()
        .await
        .unwrap();
    let slow_handle = app.tagged.lock().unwrap()["slow"].clone();
    let big = "x".repeat(64 * 1024);
    let mut expected = Vec::new();
    for i in 0..200 {
        let message = format!("{i}:{big}");
        app.football
            .to("r")
            .emit(announcement(&message))
            .await
            .unwrap();
        expected.push(message);
        // Let the fast reader keep up.
        let got = fast.next().await;
        assert_eq!(messages(&[got]), [expected[i].clone()]);
        if !slow_handle.is_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        !slow_handle.is_connected(),
        "the slow client was disconnected"
    );
    assert_eq!(app.football.stats().slow_disconnects, 1);
    drop(slow);
}

#[tokio::test]
async fn the_namespace_limit_answers_503_and_leaves_other_namespaces_alone() {
    let app = spawn(builder().max_connections_per_namespace(1)).await;
    let http = http();
    let _first = open_raw(&http, &app.url("/football")).await;
    let refused = http.get(app.url("/football")).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert_eq!(
        refused.text().await.unwrap(),
        r#"{"error":"namespace /football is at its connection limit, retry later"}"#
    );
    let _cricket = open_raw(&http, &app.url("/cricket/x")).await;
    assert_eq!(app.server.connection_count(), 2);
}

// current_thread runtime: the server cannot poll the stream between the emits below.
#[tokio::test(flavor = "current_thread")]
async fn drop_oldest_keeps_a_slow_client_and_tells_it_what_it_lost() {
    let app = spawn(
        builder()
            .client_queue(2)
            .slow_clients(sse_manager::SlowClientPolicy::DropOldest),
    )
    .await;
    let http = http();
    let mut stream = open_raw(&http, &app.url("/football?room=r&tag=slow")).await;
    stream.read_chunk(PATIENCE).await; // ": ok"

    // Five emits at once, without yielding between them: the queue holds two, so the three
    // oldest are dropped. (One at a time, each awaited, would let the stream drain the queue
    // while an adapter such as Redis answers; at once, they come back in one batch.)
    let emits = (0..5).map(|i| app.football.to("r").emit(announcement(&i.to_string())));
    for sent in join_all(emits).await {
        sent.unwrap();
    }
    let mut text = String::new();
    while !text.contains(r#""message":"4""#) {
        let chunk = stream.read_chunk(PATIENCE).await.expect("more frames");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("data")).collect();
    assert_eq!(
        lines,
        [
            r#"data: {"reason":"lagged","lastEventId":null,"dropped":3}"#,
            r#"data: {"message":"3"}"#,
            r#"data: {"message":"4"}"#,
        ]
    );
    let handle = app.tagged.lock().unwrap()["slow"].clone();
    assert!(handle.is_connected(), "drop-oldest keeps the client");
    let stats = app.football.stats();
    assert_eq!(
        (stats.lagged, stats.resyncs, stats.slow_disconnects),
        (3, 1, 0)
    );
}

/// A reader that pauses now and then while 3,000 events of 4 KiB are emitted as fast as possible,
/// on two threads so the body pops while emits drop: every gap it sees is announced by a
/// `sse:resync` immediately before it, with the exact number of events missing there.
///
/// "As fast as possible" is a window of emits at once, then the next: emits awaited one by one
/// go at the pace of the adapter's round trip (Redis), which a pausing reader can keep up with.
/// A window's emits take their ids in the order they are polled, which is `join_all`'s order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_drop_oldest_each_lag_notice_sits_exactly_at_its_gap() {
    const EVENTS: usize = 3_000;
    // Below join_all's threshold (30) for polling its futures in order, one by one.
    const WINDOW: usize = 16;
    let app = spawn(
        builder()
            .client_queue(8)
            .slow_clients(sse_manager::SlowClientPolicy::DropOldest),
    )
    .await;
    let mut stream = open(&http(), &app.url("/football?room=r")).await;
    let emitter = {
        let football = app.football.clone();
        tokio::spawn(async move {
            let padding = "x".repeat(4096);
            for window in (0..EVENTS).collect::<Vec<_>>().chunks(WINDOW) {
                let emits = window.iter().map(|seq| {
                    let message = format!("{seq}:{padding}");
                    football.to("r").emit(announcement(&message))
                });
                for sent in join_all(emits).await {
                    sent.unwrap();
                }
            }
            football.to("r").emit(announcement("end")).await.unwrap();
        })
    };

    let (mut next, mut notice, mut received, mut announced) = (0, None, 0, 0);
    loop {
        let event = stream
            .try_next(Duration::from_secs(30))
            .await
            .expect("an event in time");
        if event.event == "sse:resync" {
            assert!(notice.is_none(), "two notices in a row");
            let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(data["reason"], "lagged");
            let dropped = data["dropped"].as_u64().unwrap() as usize;
            notice = Some(dropped);
            announced += dropped;
            continue;
        }
        let message = messages(&[event]).remove(0);
        let seq = match message.split_once(':') {
            Some((seq, _)) => seq.parse::<usize>().unwrap(),
            None if message == "end" => EVENTS,
            None => panic!("unexpected message {message:?}"),
        };
        assert!(seq >= next, "event {seq} after {next}: out of order");
        assert_eq!(
            notice.take().unwrap_or(0),
            seq - next,
            "the notice before event {seq} does not match the gap there"
        );
        if seq == EVENTS {
            break;
        }
        next = seq + 1;
        received += 1;
        if received % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    emitter.await.unwrap();
    assert_eq!(
        received + announced,
        EVENTS,
        "every event arrived or was announced"
    );
    assert!(announced > 0, "the reader fell behind and lost events");
    let stats = app.football.stats();
    assert_eq!(stats.lagged, announced as u64);
    assert_eq!(stats.slow_disconnects, 0);
    assert_healthy(&app.url("/health")).await;
}

#[tokio::test]
async fn closed_resolves_when_the_connection_goes_away() {
    let app = spawn(builder()).await;
    let stream = open_raw(&http(), &app.url("/football?tag=me")).await;
    let handle = app.tagged.lock().unwrap()["me"].clone();
    let waiting = tokio::spawn({
        let handle = handle.clone();
        async move { handle.closed().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "still connected");
    drop(stream);
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("closed() resolves")
        .unwrap();
    // And at once for a client that is already gone.
    tokio::time::timeout(PATIENCE, handle.closed())
        .await
        .expect("immediately");
}
