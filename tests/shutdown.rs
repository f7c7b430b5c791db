//! Graceful shutdown: every stream ends cleanly and the server exits promptly.

mod common;

use common::*;
use futures_util::future::join_all;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_open_streams_end_within_a_second_of_shutdown() {
    let server = builder().build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = App {
        football: server.of("/football").unwrap(),
        cricket: server.of("/cricket").unwrap(),
        server: server.clone(),
        addr,
        tagged: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serving(
        listener,
        router(&app),
        server.shutdown_on(async {
            let _ = stopped.await;
        }),
    ));

    let http = http();
    let streams = join_all((0..500).map(|i| {
        let http = http.clone();
        let url = app.url(&format!("/football?room=r{}", i % 10));
        async move { open_raw(&http, &url).await }
    }))
    .await;
    assert_eq!(server.connection_count(), 500);

    // A final event emitted just before shutdown still reaches everyone.
    app.football.emit(announcement("closing")).await.unwrap();
    let asked = Instant::now();
    stop.send(()).unwrap();
    let ended = join_all(streams.into_iter().map(|mut stream| async move {
        let ended = stream.ended(Duration::from_secs(5)).await;
        let text = String::from_utf8(stream.buffer).unwrap();
        (ended, text.contains("closing"))
    }))
    .await;
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server exits")
        .unwrap()
        .unwrap();
    let took = asked.elapsed();
    assert!(ended.iter().all(|(ended, _)| *ended), "every stream ended");
    assert!(
        ended.iter().all(|(_, got)| *got),
        "every stream got the final event"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(app.football.client_count(), 0);
}

#[tokio::test]
async fn after_shutdown_a_new_stream_ends_at_once_instead_of_failing() {
    let app = spawn(builder().retry(Duration::from_secs(3))).await;
    app.server.shutdown();
    assert!(app.server.is_shutting_down());
    let mut stream = open_raw(&http(), &app.url("/football?room=r")).await;
    assert!(stream.ended(PATIENCE).await);
    // 200 with a retry hint: the browser reconnects later rather than giving up.
    assert_eq!(stream.buffer, b"retry: 3000\n\n");
    assert_eq!(app.football.client_count(), 0);
}

/// A client that stopped reading cannot hold the server: shutdown frees its slot at once, even
/// while its connection lingers because hyper still waits to write to it.
#[tokio::test]
async fn a_stalled_client_loses_its_slot_at_shutdown() {
    use tokio::io::AsyncWriteExt;
    let app = spawn(builder().max_connections(1)).await;
    let mut stalled = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(b"GET /football?room=r HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("the stalled client to register", || {
        app.football.client_count() == 1
    })
    .await;
    // Fill its socket: hyper now waits to write and stops polling the stream.
    let big = "x".repeat(256 * 1024);
    for _ in 0..40 {
        app.football.to("r").emit(announcement(&big)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(app.server.connection_count(), 1);
    app.server.shutdown();
    assert_eq!(
        app.server.connection_count(),
        0,
        "freed without its socket closing"
    );
    assert_eq!(app.football.client_count(), 0);
    drop(stalled);
}
