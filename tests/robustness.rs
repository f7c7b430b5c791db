//! Hostile or odd input: clear answers, and the server stays healthy.

mod common;

use common::*;
use sse_manager::NamespaceError;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn oversized_headers_are_refused_and_the_server_stays_up() {
    let app = spawn(builder()).await;
    assert_huge_headers_refused(&app.url("/football"), &app.url("/health")).await;
}

#[tokio::test]
async fn garbage_last_event_id_gets_a_clear_status_or_a_resync() {
    let app = spawn(builder()).await;
    let http = http();
    let long = http
        .get(app.url("/football"))
        .header("last-event-id", "9".repeat(300))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), 400);
    assert_eq!(
        long.text().await.unwrap(),
        r#"{"error":"Last-Event-ID is longer than 64 bytes"}"#
    );
    // Garbage that fits: the stream opens (a 400 would make EventSource give up for good) and
    // says once that it cannot resume.
    let binary = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap();
    for id in [
        binary,
        "not-a-number".parse().unwrap(),
        "-1".parse().unwrap(),
    ] {
        let response = http
            .get(app.url("/football"))
            .header("last-event-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let mut stream = open(&http, &app.url("/football?lastEventId=abc")).await;
    let resync = stream.next().await;
    assert_eq!(resync.event, "sse:resync");
    assert_eq!(resync.data, r#"{"reason":"malformed","lastEventId":"abc"}"#);
    assert_healthy(&app.url("/health")).await;
}

#[tokio::test]
async fn odd_room_names_work_and_do_not_leak() {
    let app = spawn(builder()).await;
    let http = http();
    let long = "r".repeat(1000);
    let names = [
        "line\r\nbreak",
        "event: open",
        "⚽ 🏏 日本",
        long.as_str(),
        "",
        " ",
    ];
    let mut streams = Vec::new();
    for name in names {
        let url =
            reqwest::Url::parse_with_params(&app.url("/football"), &[("room", name)]).unwrap();
        streams.push(open(&http, url.as_str()).await);
    }
    for (i, name) in names.iter().enumerate() {
        app.football
            .to(*name)
            .emit(announcement(&format!("room {i}")))
            .await
            .unwrap();
    }
    app.football.emit(announcement("end")).await.unwrap();
    for (i, stream) in streams.iter_mut().enumerate() {
        assert_eq!(
            messages(&stream.until("end").await),
            [format!("room {i}"), "end".into()]
        );
    }
    assert_eq!(app.football.room_size(&long), 1);

    // Over the limit (1024 bytes by default): a clear 400, and the client is not kept.
    let too_long = "ü".repeat(1000);
    let url =
        reqwest::Url::parse_with_params(&app.url("/football"), &[("room", &too_long)]).unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"room name is 2000 bytes long, the limit is 1024"}"#
    );
    eventually("the refused client to be gone", || {
        app.football.client_count() == names.len()
    })
    .await;
    assert_healthy(&app.url("/health")).await;
}

#[tokio::test]
async fn malformed_requests_get_an_answer_and_do_not_hurt_the_server() {
    let app = spawn(builder()).await;
    for (garbage, expected) in [
        (&b"GARBAGE\r\n\r\n"[..], "HTTP/1.1 400"),
        (
            b"GET /football HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (b"\x00\x01\x02\x03\r\n\r\n", "HTTP/1.1 400"),
        // Lenient like browsers: an invalid escape in the query is kept as text.
        (
            b"GET /football?room=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 200",
        ),
    ] {
        let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        socket.write_all(garbage).await.unwrap();
        let mut answer = vec![0; 256];
        let n = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut answer))
            .await
            .expect("an answer")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with(expected), "{garbage:?} → {answer}");
    }
    assert_healthy(&app.url("/health")).await;
}

// In a runtime: the Redis adapter starts a task per namespace.
#[tokio::test]
async fn namespace_paths_and_types_are_checked() {
    let server = builder().build().unwrap();
    let _football = server.of::<FootballEvents>("/football").unwrap();
    assert!(matches!(
        server.of::<CricketEvents>("/football"),
        Err(NamespaceError::EventTypeMismatch { .. })
    ));
    for bad in ["football", "/foot ball", "/x\n", ""] {
        assert_eq!(
            server.of::<FootballEvents>(bad).unwrap_err(),
            NamespaceError::InvalidPath(bad.into())
        );
    }
}
