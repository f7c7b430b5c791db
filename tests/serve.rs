//! `sse_manager::serve`: connections that never finish a request head are closed after the head
//! timeout, and thousands of them cost bounded memory and do not keep real clients out.

mod common;

use common::*;
use sse_manager::DEFAULT_HEAD_TIMEOUT;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The test app (sports namespaces, `/football?room=`) served by `sse_manager::serve`.
async fn spawn_guarded(head_timeout: Duration, max_pending: usize) -> App {
    let (app, listener) = app_on(builder().build().unwrap()).await;
    let served = sse_manager::serve(listener, router(&app))
        .head_timeout(head_timeout)
        .max_pending(max_pending);
    tokio::spawn(async move { served.await.unwrap() });
    app
}

/// How long until the server closes `socket` (reads EOF or a reset), or `None` within `limit`;
/// fails if the server answers anything.
async fn closed_after(socket: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0; 256];
    match tokio::time::timeout(limit, socket.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Some(start.elapsed()),
        Ok(Ok(n)) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_or_half_a_head_is_closed_after_the_head_timeout() {
    let timeout = Duration::from_millis(400);
    let app = spawn_guarded(timeout, 64).await;
    let start = Instant::now();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(b"GET /football?room=a HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for (what, socket) in [("silent", &mut silent), ("half a head", &mut half)] {
        closed_after(socket, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        let after = start.elapsed();
        assert!(
            after >= timeout - Duration::from_millis(50),
            "{what}: closed after {after:?}"
        );
    }
    // A client that finishes its head in time streams as long as it likes, past the timeout.
    let http = http();
    let mut stream = open(&http, &app.url("/football?room=a")).await;
    tokio::time::sleep(timeout * 2).await;
    app.announce("a", "still here").await;
    assert_eq!(messages(&[stream.next().await]), ["still here"]);
    assert_healthy(&app.url("/health")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_cost_bounded_memory_and_keep_nobody_out() {
    const IDLE: usize = 3_000;
    const MAX_PENDING: usize = 200;
    let app = spawn_guarded(Duration::from_secs(30), MAX_PENDING).await;
    let before = rss();
    let mut idle = Vec::with_capacity(IDLE);
    for n in 0..IDLE {
        let mut socket = TcpStream::connect(app.addr).await.unwrap();
        // Half of them send a partial head (hyper then holds buffers for them).
        if n % 2 == 0 {
            socket
                .write_all(b"GET /football HTTP/1.1\r\n")
                .await
                .unwrap();
        }
        idle.push(socket);
    }
    // Real clients still connect and stream at once, past thousands of idle sockets.
    let http = http();
    let mut stream = open(&http, &app.url("/football?room=a")).await;
    app.announce("a", "through").await;
    assert_eq!(messages(&[stream.next().await]), ["through"]);
    // All but the newest MAX_PENDING idle ones were closed, long before the 30 s timeout.
    let mut open_now = 0;
    for socket in &mut idle {
        if closed_after(socket, Duration::from_millis(2))
            .await
            .is_none()
        {
            open_now += 1;
        }
    }
    assert!(
        open_now <= MAX_PENDING,
        "{open_now} idle connections still open"
    );
    let grown = rss().saturating_sub(before);
    println!(
        "{IDLE} idle connections: {open_now} kept, RSS +{} KiB",
        grown / 1024
    );
    assert!(
        grown < 32 << 20,
        "idle connections cost {} KiB of RSS",
        grown / 1024
    );
    assert_healthy(&app.url("/health")).await;
}

/// Reads from `socket` until `until` appears in what was read (bounded by the patience).
async fn read_until_bytes(socket: &mut TcpStream, until: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0; 4096];
    let deadline = Instant::now() + PATIENCE;
    while !seen.windows(until.len()).any(|w| w == until) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, socket.read(&mut buf))
            .await
            .expect("the bytes in time")
            .unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    seen
}

/// The same bytes on the wire, whether hyper writes the stream (`axum::serve`) or `serve` takes
/// it over: head, chunked framing, frames; only the date and the ids (each server has its own
/// epoch) differ.
#[tokio::test]
async fn a_taken_over_stream_writes_what_hyper_would() {
    // Always axum::serve here, whatever SSE_TEST_SERVE says: it is the reference.
    let (plain, listener) = app_on(builder().build().unwrap()).await;
    let reference = router(&plain).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, reference).await.unwrap() });
    let guarded = spawn_guarded(DEFAULT_HEAD_TIMEOUT, 1024).await;
    let mut wire = Vec::new();
    for app in [&plain, &guarded] {
        let mut socket = TcpStream::connect(app.addr).await.unwrap();
        socket
            .write_all(
                b"GET /football?room=a HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere\r\n\r\n",
            )
            .await
            .unwrap();
        let mut bytes = read_until_bytes(&mut socket, b": ok\n\n\r\n").await;
        app.announce("a", "same bytes").await;
        bytes.extend(read_until_bytes(&mut socket, b"\n\n\r\n").await);
        let text = String::from_utf8(bytes).unwrap();
        // The head with the date masked; then each chunk checked against its declared length,
        // its data with the id masked (each server has its own epoch, so ids differ, and with
        // them the chunk lengths).
        let (head, mut body) = text.split_once("\r\n\r\n").unwrap();
        let head: Vec<String> = head
            .split("\r\n")
            .map(|line| {
                if line.starts_with("date: ") {
                    "date: <masked>".to_owned()
                } else {
                    line.to_owned()
                }
            })
            .collect();
        let mut masked = vec![head.join("\r\n")];
        while let Some((size, rest)) = body.split_once("\r\n") {
            let size = usize::from_str_radix(size, 16).unwrap();
            let (data, rest) = rest.split_at(size);
            body = rest.strip_prefix("\r\n").unwrap();
            masked.push(
                data.lines()
                    .map(|line| {
                        if line.starts_with("id: ") {
                            "id: <masked>"
                        } else {
                            line
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        assert!(body.is_empty(), "a whole number of chunks: {body:?}");
        wire.push(masked.join("\r\n--\r\n"));
    }
    assert_eq!(wire[0], wire[1]);
    assert!(wire[1].starts_with("HTTP/1.1 200 OK\r\n"), "{}", wire[1]);
    assert!(
        wire[1].contains("transfer-encoding: chunked"),
        "{}",
        wire[1]
    );
    // Requests hyper keeps answer as it does: HTTP/1.0 with the stream delimited by the close
    // (no chunked framing), `Connection: close` chunked.
    for (request, status, chunked) in [
        (
            &b"GET /football?room=a HTTP/1.0\r\n\r\n"[..],
            "HTTP/1.0 200 OK",
            false,
        ),
        (
            b"GET /football?room=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK",
            true,
        ),
    ] {
        let mut socket = TcpStream::connect(guarded.addr).await.unwrap();
        socket.write_all(request).await.unwrap();
        let head = String::from_utf8(read_until_bytes(&mut socket, b"\r\n\r\n").await).unwrap();
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], status, "{head}");
        assert_eq!(
            lines.contains(&"transfer-encoding: chunked"),
            chunked,
            "{head}"
        );
    }
    assert_healthy(&guarded.url("/health")).await;
}
