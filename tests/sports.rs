//! The sports example's contract, over real HTTP: routes, events, publish errors and limits,
//! auth, CORS, counts.

mod common;

// The example's own router; `main.rs` reads the settings this test does not need.
#[allow(dead_code)]
#[path = "../examples/sports/app.rs"]
mod app;

use app::{Settings, Sports, DEFAULT_PUBLISH_MAX_BYTES};
use common::{
    assert_healthy, assert_huge_headers_refused, events, events_of, http, messages, open, open_raw,
    serve, PATIENCE,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::net::SocketAddr;

struct Running {
    sports: Sports,
    addr: SocketAddr,
    http: reqwest::Client,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn publish(&self, path: &str, body: Value) -> (u16, Value) {
        self.publish_raw(path, body.to_string()).await
    }

    async fn publish_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self.post(path, body).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
    }

    /// What a browser sends before a cross-origin `POST` with JSON and a token.
    async fn preflight(&self, path: &str, origin: &str) -> reqwest::Response {
        self.http
            .request(reqwest::Method::OPTIONS, self.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
            .await
            .unwrap()
    }

    /// `POST path` over raw TCP, the body declared with `content-length` or sent in chunks of
    /// [`CHUNK`] bytes, reading the answer while still writing: the server may answer `413`
    /// before the body ends, and an HTTP client can lose an answer that comes mid-upload.
    async fn post_over_tcp(&self, path: &str, body: Vec<u8>, chunked: bool) -> (u16, Value) {
        let mut socket = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut reader, mut writer) = socket.split();
        let writing = write_post(&mut writer, path, &body, chunked);
        let reading = read_answer(&mut reader);
        tokio::pin!(writing, reading);
        // The socket stays open until the answer is read: hyper drops a request whose client
        // half-closed the connection, answer and all.
        tokio::select! {
            answer = &mut reading => answer,
            _ = &mut writing => reading.await,
        }
    }
}

async fn write_post(
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
    path: &str,
    body: &[u8],
    chunked: bool,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let length = if chunked {
        "transfer-encoding: chunked".to_owned()
    } else {
        format!("content-length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{length}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await?;
    if !chunked {
        return writer.write_all(body).await;
    }
    for chunk in body.chunks(CHUNK) {
        let size = format!("{:x}\r\n", chunk.len());
        writer
            .write_all(&[size.as_bytes(), chunk, b"\r\n"].concat())
            .await?;
    }
    writer.write_all(b"0\r\n\r\n").await
}

/// `(status, JSON body)` of an HTTP/1.1 answer with a `content-length`.
async fn read_answer(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, Value) {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        if let Some(parsed) = parse_answer(&answer) {
            return parsed;
        }
        // A reset after the answer (the server closing on an unread body) ends the answer.
        let read = tokio::time::timeout(PATIENCE, reader.read(&mut buffer))
            .await
            .expect("an answer within the test's patience")
            .unwrap_or(0);
        assert!(
            read > 0,
            "connection closed before a whole answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..read]);
    }
}

/// Chunk size of [`Running::post_over_tcp`]'s chunked bodies.
const CHUNK: usize = 16 * 1024;

/// `(status, JSON body)` of an HTTP/1.1 answer with a `content-length`, once all of it is there.
fn parse_answer(answer: &[u8]) -> Option<(u16, Value)> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().expect("a status");
    let length: usize = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse().expect("a length"))
        .expect("answers carry a content-length");
    let body = answer.get(end + 4..end + 4 + length)?;
    Some((status, serde_json::from_slice(body).unwrap_or(Value::Null)))
}

fn settings(env: &[(&str, &str)]) -> Result<Settings, String> {
    Settings::from_env(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
}

async fn start(env: &[(&str, &str)]) -> Running {
    let mut env = env.to_vec();
    env.push(("SIMULATE", "0"));
    let sports = Sports::new(&settings(&env).unwrap()).unwrap();
    let addr = serve(app::router(sports.clone())).await;
    Running {
        sports,
        addr,
        http: http(),
    }
}

#[tokio::test]
async fn every_route_answers_and_anything_else_is_404() {
    let run = start(&[]).await;
    let page = run.http.get(run.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/assets/app.js"></script>"#),
        "the page loads its script, built from TypeScript"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched from elsewhere"
    );
    for (file, needle) in [
        ("app.js", r#"from "./FootballEvents.js""#),
        ("FootballEvents.js", "new EventSource("),
        ("CricketEvents.js", "new EventSource("),
    ] {
        let script = run
            .http
            .get(run.url(&format!("/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), 200, "{file}");
        assert_eq!(
            script.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "{file}"
        );
        let text = script.text().await.unwrap();
        assert!(text.contains(needle), "{file} has {needle}");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{file}: nothing fetched from elsewhere"
        );
    }
    for file in ["nope.js", "app.ts", "index.html"] {
        let response = run
            .http
            .get(run.url(&format!("/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{file}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"error": "no such asset"})
        );
    }

    assert_healthy(&run.url("/health")).await;
    let health = run.http.get(run.url("/health")).send().await.unwrap();
    assert_eq!(health.headers()["content-type"], "application/json");
    assert!(
        health.headers().get("x-instance").is_none(),
        "no INSTANCE, no header"
    );
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok", "adapter": "memory", "redis": null}),
        "in memory: no Redis to report on"
    );
    open_raw(&run.http, &run.url("/stream/football/m1")).await;
    open_raw(&run.http, &run.url("/stream/cricket/m1")).await;

    for path in [
        "/stream/hockey/x",
        "/stream/football/x/extra",
        "/stream/football",
        "/nope",
    ] {
        let response = run.http.get(run.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"error": "no such route"})
        );
    }
    let (status, _) = run.publish("/publish/hockey/x", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_event_is_published_and_received_with_an_id() {
    let run = start(&[]).await;
    let mut football = open(&run.http, &run.url("/stream/football/derby")).await;
    let mut cricket = open(&run.http, &run.url("/stream/cricket/ashes")).await;
    let football_events = [
        (
            "score_update",
            json!({"match": "derby", "homeScore": 1, "awayScore": 0, "minute": 10}),
        ),
        (
            "red_card",
            json!({"match": "derby", "player": "P", "team": "T", "minute": 30}),
        ),
        ("match_end", json!({"match": "derby", "finalScore": "1-0"})),
        ("announcement", json!({"message": "Full time ⚽"})),
    ];
    let cricket_events = [
        (
            "wicket",
            json!({"match": "ashes", "player": "Root", "team": "England", "totalWickets": 3}),
        ),
        (
            "boundary",
            json!({"match": "ashes", "player": "Smith", "runs": 4}),
        ),
        (
            "boundary",
            json!({"match": "ashes", "player": "Smith", "runs": 6}),
        ),
        (
            "over_complete",
            json!({"match": "ashes", "oversPlayed": 12, "runsInOver": 9}),
        ),
    ];
    for (path, events, stream) in [
        (
            "/publish/football/derby",
            &football_events[..],
            &mut football,
        ),
        ("/publish/cricket/ashes", &cricket_events[..], &mut cricket),
    ] {
        let mut first_id = None;
        for (i, (name, data)) in events.iter().enumerate() {
            let (status, body) = run
                .publish(path, json!({"event": name, "data": data}))
                .await;
            assert_eq!(status, 200, "{name}: {body}");
            let event = stream.next().await;
            assert_eq!(
                body,
                json!({"delivered": 1, "id": event.id}),
                "exactly the contract's shape, with the id the stream got"
            );
            assert_eq!(event.event, *name);
            assert_eq!(serde_json::from_str::<Value>(&event.data).unwrap(), *data);
            let id: sse_manager::EventId = event.id.parse().unwrap();
            let first = *first_id.get_or_insert(id);
            assert_eq!(
                (id.epoch(), id.offset()),
                (first.epoch(), first.offset() + i as u64),
                "ids count per namespace"
            );
        }
    }
}

#[tokio::test]
async fn publish_refuses_what_the_types_refuse() {
    let run = start(&[]).await;
    let cases = [
        (json!({"event": "goal", "data": {}}), "unknown event `goal`"),
        (
            json!({"event": "score_update", "data": {"match": "m", "homeScore": "two", "awayScore": 0, "minute": 1}}),
            "invalid type",
        ),
        (
            json!({"event": "score_update", "data": {"match": "m", "homeScore": -1, "awayScore": 0, "minute": 1}}),
            "invalid value",
        ),
        (
            json!({"event": "red_card", "data": {"match": "m", "player": "p", "minute": 1}}),
            "missing field `team`",
        ),
        (
            json!({"event": "announcement", "data": {"message": "x", "extra": true}}),
            "unknown field `extra`",
        ),
        (json!({"event": "announcement"}), "invalid payload"),
        (json!({"data": {"message": "x"}}), "missing field `event`"),
        // serde would read a struct from an array of its fields; encoding never writes one.
        (
            json!({"event": "announcement", "data": ["hi"]}),
            "invalid payload for event `announcement`: expected the payload of event `announcement`, a JSON object, found an array",
        ),
        (
            json!({"event": "match_end", "data": ["m", "1-0"]}),
            "a JSON object, found an array",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = run.publish("/publish/football/m", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(expected), "{body} → {error}");
    }
    let (status, answer) = run
        .publish(
            "/publish/cricket/m",
            json!({"event": "boundary", "data": {"match": "m", "player": "p", "runs": 5}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("boundary"));

    for raw in ["not json", "", "{\"event\": ", "[]"] {
        let (status, answer) = run.publish_raw("/publish/football/m", raw).await;
        assert_eq!(status, 400, "{raw:?}");
        assert!(answer["error"].is_string());
    }
    let deep = format!(
        "{{\"event\":\"announcement\",\"data\":{}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (status, _) = run.publish_raw("/publish/football/m", deep).await;
    assert_eq!(status, 400);
    assert_healthy(&run.url("/health")).await;
}

fn too_large(limit: usize) -> (u16, Value) {
    (
        413,
        json!({"error": format!("the body is larger than {limit} bytes")}),
    )
}

/// One byte over the default 1 MiB, and 12 MiB, declared or chunked: `413` with a JSON error
/// (without reading 12 MiB), and the server stays healthy.
#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413() {
    let run = start(&[]).await;
    for length in [DEFAULT_PUBLISH_MAX_BYTES + 1, 12 * 1024 * 1024] {
        for chunked in [false, true] {
            let answer = run
                .post_over_tcp("/publish/football/m", vec![b'['; length], chunked)
                .await;
            assert_eq!(
                answer,
                too_large(DEFAULT_PUBLISH_MAX_BYTES),
                "{length} bytes, chunked={chunked}"
            );
        }
    }
    assert_healthy(&run.url("/health")).await;
}

/// `PUBLISH_MAX_BYTES=40000`: a body of exactly 40000 bytes is published, 40001 are refused,
/// whether the length is declared or the body comes in chunks (several, to cross the limit
/// mid-body).
#[tokio::test]
async fn a_custom_publish_max_bytes_is_honoured_to_the_byte() {
    const LIMIT: usize = 40_000;
    let run = start(&[("PUBLISH_MAX_BYTES", "40000")]).await;
    let _watcher = open_raw(&run.http, &run.url("/stream/football/m")).await;
    let padded = |length: usize| {
        // JSON allows trailing whitespace: the same event, padded to the exact length.
        let mut body = json!({"event": "announcement", "data": {"message": "edge"}})
            .to_string()
            .into_bytes();
        body.resize(length, b' ');
        body
    };
    for chunked in [false, true] {
        let accepted = run
            .post_over_tcp("/publish/football/m", padded(LIMIT), chunked)
            .await;
        assert_eq!(
            (accepted.0, &accepted.1["delivered"]),
            (200, &json!(1)),
            "chunked={chunked}"
        );
        let refused = run
            .post_over_tcp("/publish/football/m", padded(LIMIT + 1), chunked)
            .await;
        assert_eq!(refused, too_large(LIMIT), "chunked={chunked}");
    }
    assert_healthy(&run.url("/health")).await;
}

/// A 1 MB announcement with every kind of line break and multi-byte UTF-8 crosses publish, the
/// runtime's encoding and the stream without a byte changed.
#[tokio::test]
async fn a_megabyte_announcement_arrives_byte_exact() {
    let run = start(&[]).await;
    let mut stream = open(&run.http, &run.url("/stream/football/final")).await;
    let line = "Goal ⚽ for Mbappé at the Stade de France; 🏏 six at Eden Gardens; naïve café \
                crème, 1–0, ü ß 中文 «quoted» \"too\"\nsecond line\r\nthird\r";
    let message = line.repeat(1_000_000 / line.len() + 1);
    assert!(message.len() >= 1_000_000);
    let body = json!({"event": "announcement", "data": {"message": message}}).to_string();
    assert!(
        body.len() <= DEFAULT_PUBLISH_MAX_BYTES,
        "{} bytes",
        body.len()
    );

    let (status, answer) = run.publish_raw("/publish/football/final", body).await;
    let event = stream.next().await;
    assert_eq!(
        (status, answer),
        (200, json!({"delivered": 1, "id": event.id}))
    );
    assert_eq!(event.event, "announcement");
    let expected = json!({ "message": message }).to_string();
    // Not `assert_eq!`: a megabyte in a failure message helps nobody.
    let first_difference = event
        .data
        .bytes()
        .zip(expected.bytes())
        .position(|(got, sent)| got != sent);
    assert!(
        event.data == expected,
        "{} bytes received for {} sent, first difference at byte {first_difference:?}",
        event.data.len(),
        expected.len()
    );
    let received: Value = serde_json::from_str(&event.data).unwrap();
    assert!(received["message"].as_str() == Some(message.as_str()));
    assert_healthy(&run.url("/health")).await;
}

#[tokio::test]
async fn wrong_methods_and_bad_paths_get_json_errors() {
    let run = start(&[]).await;
    for (method, path, status) in [
        (reqwest::Method::GET, "/publish/football", 405),
        (reqwest::Method::POST, "/stream/football/m", 405),
        (reqwest::Method::DELETE, "/health", 405),
        (reqwest::Method::GET, "/stream/football/%FF", 400),
    ] {
        let response = run
            .http
            .request(method.clone(), run.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
}

#[tokio::test]
async fn the_football_token_is_checked_by_header_or_query_and_cricket_stays_open() {
    let run = start(&[("SPORTS_TOKEN", "s3cret")]).await;
    let missing = run
        .http
        .get(run.url("/stream/football/m"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["content-type"], "application/json");
    assert!(missing.json::<Value>().await.unwrap()["error"].is_string());
    let wrong = run
        .http
        .get(run.url("/stream/football/m?token=guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let header = run
        .http
        .get(run.url("/stream/football/m"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200);
    let _query = open_raw(&run.http, &run.url("/stream/football/m?token=s3cret")).await;
    let _cricket = open_raw(&run.http, &run.url("/stream/cricket/m")).await;
    assert_eq!(run.sports.football.room_size("m"), 2);
    assert_eq!(run.sports.cricket.room_size("m"), 1);

    // Publishing is guarded by the same token, for both sports.
    let announce = json!({"event": "announcement", "data": {"message": "hi"}});
    let (status, body) = run.publish("/publish/football/m", announce.clone()).await;
    assert_eq!(status, 401);
    assert!(body["error"].is_string());
    let over = json!({"event": "over_complete", "data": {"match": "m", "oversPlayed": 1, "runsInOver": 4}});
    assert_eq!(run.publish("/publish/cricket/m", over.clone()).await.0, 401);
    let authorized = run
        .http
        .post(run.url("/publish/football/m"))
        .bearer_auth("s3cret")
        .body(announce.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    assert_eq!(authorized.json::<Value>().await.unwrap()["delivered"], 2);
    assert_eq!(
        run.publish("/publish/cricket/m?token=s3cret", over).await.0,
        200
    );
}

#[tokio::test]
async fn delivered_counts_and_two_matches_stay_apart() {
    let run = start(&[]).await;
    let mut a1 = open(&run.http, &run.url("/stream/football/a")).await;
    let mut a2 = open(&run.http, &run.url("/stream/football/a")).await;
    let mut b = open(&run.http, &run.url("/stream/football/b")).await;
    let announce = |message: &str| json!({"event": "announcement", "data": {"message": message}});

    let (_, body) = run.publish("/publish/football/a", announce("only a")).await;
    assert_eq!(body["delivered"], 2);
    let (_, body) = run.publish("/publish/football/b", announce("only b")).await;
    assert_eq!(body["delivered"], 1);
    let (_, body) = run
        .publish("/publish/football/nobody", announce("lost"))
        .await;
    assert_eq!(body["delivered"], 0);
    let (_, body) = run.publish("/publish/football", announce("everyone")).await;
    assert_eq!(body["delivered"], 3);
    let (_, body) = run
        .publish(
            "/publish/cricket",
            json!({"event": "over_complete", "data": {"match": "x", "oversPlayed": 1, "runsInOver": 0}}),
        )
        .await;
    assert_eq!(body["delivered"], 0, "no cricket clients");

    assert_eq!(
        messages(&a1.until("everyone").await),
        ["only a", "everyone"]
    );
    assert_eq!(
        messages(&a2.until("everyone").await),
        ["only a", "everyone"]
    );
    assert_eq!(messages(&b.until("everyone").await), ["only b", "everyone"]);
}

#[test]
fn settings_come_from_the_environment_with_clear_errors() {
    let defaults = settings(&[]).unwrap();
    assert_eq!((defaults.host.as_str(), defaults.port), ("127.0.0.1", 3000));
    assert_eq!(defaults.heartbeat.as_millis(), 15_000);
    assert!(defaults.simulate && defaults.token.is_none() && defaults.redis.is_none());
    assert!(defaults.instance.is_none());
    let custom = settings(&[("PORT", "8080"), ("HEARTBEAT_MS", "500"), ("SIMULATE", "0")]).unwrap();
    assert_eq!(
        (custom.port, custom.heartbeat.as_millis(), custom.simulate),
        (8080, 500, false)
    );
    assert_eq!(
        settings(&[("PORT", "eighty")]).unwrap_err(),
        "PORT=\"eighty\" is not a valid value"
    );
    assert!(settings(&[("SIMULATE", "2")]).is_err());
    assert!(settings(&[("HEARTBEAT_MS", "0")]).is_err());
    assert_eq!(
        settings(&[("SIMULATE_TICK_MS", "0")]).unwrap_err(),
        "SIMULATE_TICK_MS must be greater than 0"
    );

    assert_eq!(defaults.publish_max_bytes, 1024 * 1024);
    assert_eq!(
        settings(&[("PUBLISH_MAX_BYTES", " 2048 ")])
            .unwrap()
            .publish_max_bytes,
        2048
    );
    assert_eq!(
        settings(&[("PUBLISH_MAX_BYTES", "0")]).unwrap_err(),
        "PUBLISH_MAX_BYTES must be greater than 0"
    );
    for bad in ["1MiB", "-1", "", "1e6"] {
        assert_eq!(
            settings(&[("PUBLISH_MAX_BYTES", bad)]).unwrap_err(),
            format!("PUBLISH_MAX_BYTES={bad:?} is not a valid value")
        );
    }

    assert!(defaults.cors.is_none());
    for unset in ["", "  "] {
        assert!(settings(&[("CORS_ORIGINS", unset)]).unwrap().cors.is_none());
    }
    for good in [
        "*",
        "http://127.0.0.1:5173",
        "https://scores.example, http://localhost:8080",
    ] {
        assert!(settings(&[("CORS_ORIGINS", good)]).unwrap().cors.is_some());
    }
    for (bad, reason) in [
        ("scores.example", "is not an origin"),
        ("https://scores.example/", "is not an origin"),
        ("null", "is not an origin"),
        ("https://*.example", "is not an origin"),
        ("https://a.example,,https://b.example", "has an empty entry"),
        ("https://a.example,", "has an empty entry"),
        ("*, https://a.example", "must be alone"),
    ] {
        let err = settings(&[("CORS_ORIGINS", bad)]).unwrap_err();
        assert!(
            err.starts_with("CORS_ORIGINS=") && err.contains(reason),
            "{bad}: {err}"
        );
    }

    let redis = settings(&[("REDIS_URL", "redis://127.0.0.1:6379")])
        .unwrap()
        .redis
        .unwrap();
    assert_eq!(
        (
            redis.url.as_str(),
            redis.key_prefix.as_deref(),
            redis.probe_every.as_millis(),
            redis.probe_timeout.as_millis()
        ),
        ("redis://127.0.0.1:6379", None, 1_000, 3_000),
        "the adapter's own defaults"
    );
    let custom = settings(&[
        ("REDIS_URL", "redis://127.0.0.1:7000/2"),
        ("REDIS_KEY_PREFIX", "scores"),
        ("REDIS_PROBE_MS", "100"),
        ("REDIS_PROBE_TIMEOUT_MS", "400"),
    ])
    .unwrap()
    .redis
    .unwrap();
    assert_eq!(
        (
            custom.key_prefix.as_deref(),
            custom.probe_every.as_millis(),
            custom.probe_timeout.as_millis()
        ),
        (Some("scores"), 100, 400)
    );
    assert!(settings(&[("REDIS_URL", "")]).unwrap().redis.is_none());
    for (name, value, err) in [
        (
            "REDIS_PROBE_MS",
            "0",
            "REDIS_PROBE_MS must be greater than 0",
        ),
        (
            "REDIS_PROBE_TIMEOUT_MS",
            "0",
            "REDIS_PROBE_TIMEOUT_MS must be greater than 0",
        ),
        (
            "REDIS_PROBE_MS",
            "1s",
            "REDIS_PROBE_MS=\"1s\" is not a valid value",
        ),
        (
            "INSTANCE",
            "ü",
            "INSTANCE=\"ü\" must be printable ASCII, no spaces",
        ),
    ] {
        // Checked with or without REDIS_URL: a typo never goes unnoticed.
        assert_eq!(settings(&[(name, value)]).unwrap_err(), err);
    }
    assert_eq!(
        settings(&[("INSTANCE", "b")]).unwrap().instance.unwrap(),
        "b"
    );
}

/// Without the `redis` feature the example refuses `REDIS_URL` and says how to build it; with it
/// (`tests/sports_redis.rs`) the events go through Redis.
#[cfg(not(feature = "redis"))]
#[test]
fn redis_url_needs_the_redis_feature() {
    let redis = settings(&[("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap();
    let err = Sports::new(&redis).err().unwrap();
    assert!(
        err.contains("REDIS_URL") && err.contains("--features redis"),
        "{err}"
    );
}

#[tokio::test]
async fn instance_names_every_response() {
    let run = start(&[("INSTANCE", "b"), ("CORS_ORIGINS", "http://127.0.0.1:5173")]).await;
    for path in ["/health", "/stats", "/nope"] {
        let response = run.http.get(run.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["x-instance"], "b", "{path}");
    }
    let stream = run
        .http
        .get(run.url("/stream/football/m"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["x-instance"], "b", "a stream");
    let preflight = run
        .preflight("/publish/football/m", "http://127.0.0.1:5173")
        .await;
    assert_eq!(preflight.headers()["x-instance"], "b", "a CORS preflight");
}

#[tokio::test]
async fn stats_as_json_and_prometheus_text() {
    let run = start(&[]).await;
    let _watcher = open_raw(&run.http, &run.url("/stream/football/m")).await;
    for minute in [1, 2] {
        let (status, _) = run
            .publish(
                "/publish/football/m",
                json!({"event": "score_update", "data": {"match": "m", "homeScore": 0, "awayScore": 0, "minute": minute}}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let stats: Value = run
        .http
        .get(run.url("/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["connections"], 1);
    let football = &stats["namespaces"]["/football"];
    assert_eq!(
        (
            &football["clients"],
            &football["rooms"],
            &football["emitted"],
            &football["delivered"]
        ),
        (&json!(1), &json!(1), &json!(2), &json!(2))
    );
    for key in [
        "history",
        "replayed",
        "resyncs",
        "slowDisconnects",
        "lagged",
    ] {
        assert!(football[key].is_u64(), "{key}");
    }
    assert_eq!(stats["namespaces"]["/cricket"]["clients"], 0);
    let in_memory = json!({
        "kind": "memory",
        "state": "connected",
        "reconnects": 0,
        "wedges": 0,
        "lag": 0,
        "outbox": 0,
        "lost": 0,
        "gapsFilled": 0,
        "gapEntries": 0,
        "epochChanges": 0,
    });
    for namespace in ["/football", "/cricket"] {
        assert_eq!(
            stats["namespaces"][namespace]["adapter"], in_memory,
            "{namespace}"
        );
    }

    let metrics = run.http.get(run.url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for line in [
        "# TYPE sse_emitted_total counter",
        "sse_emitted_total{namespace=\"/football\"} 2",
        "sse_delivered_total{namespace=\"/football\"} 2",
        "sse_clients{namespace=\"/football\"} 1",
        "sse_clients{namespace=\"/cricket\"} 0",
        "sse_connections 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let adapter: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("sse_adapter_"))
        .collect();
    let mut expected = Vec::new();
    for namespace in ["/cricket", "/football"] {
        for (state, value) in [
            ("connected", 1),
            ("starting", 0),
            ("reconnecting", 0),
            ("down", 0),
        ] {
            expected.push(format!(
                "sse_adapter_state{{namespace=\"{namespace}\",adapter=\"memory\",state=\"{state}\"}} {value}"
            ));
        }
    }
    for name in [
        "reconnects_total",
        "wedges_total",
        "lag",
        "outbox",
        "lost_total",
        "gaps_filled_total",
        "gap_entries_total",
        "epoch_changes_total",
    ] {
        for namespace in ["/cricket", "/football"] {
            expected.push(format!("sse_adapter_{name}{{namespace=\"{namespace}\"}} 0"));
        }
    }
    assert_eq!(adapter, expected, "the adapter's series, in memory");
    for line in [
        "# TYPE sse_adapter_state gauge",
        "# TYPE sse_adapter_lag gauge",
        "# TYPE sse_adapter_outbox gauge",
        "# TYPE sse_adapter_reconnects_total counter",
        "# TYPE sse_adapter_gap_entries_total counter",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn huge_headers_are_refused_and_the_server_stays_healthy() {
    let run = start(&[]).await;
    assert_huge_headers_refused(&run.url("/stream/football/m"), &run.url("/health")).await;
}

/// What a response grants a page of another origin.
#[derive(Debug, Clone, Copy)]
enum Grant<'a> {
    /// `CORS_ORIGINS` lists the origin: it, with credentials.
    Credentialed(&'a str),
    /// `CORS_ORIGINS=*`: any origin, without credentials.
    AnyOrigin,
    /// CORS is on, the origin is not listed: nothing it could use.
    Refused,
    /// `CORS_ORIGINS` unset: no CORS header at all.
    Off,
}

fn assert_grant(headers: &HeaderMap, grant: Grant<'_>, what: &str) {
    let header = |name: &str| headers.get(name).map(|value| value.to_str().unwrap());
    let varies_on_origin = headers
        .get_all("vary")
        .iter()
        .flat_map(|value| value.to_str().unwrap().split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("origin"));
    assert_eq!(
        header("access-control-expose-headers"),
        None,
        "{what}: nothing exposed"
    );
    match grant {
        Grant::Credentialed(origin) => {
            assert_eq!(
                header("access-control-allow-origin"),
                Some(origin),
                "{what}"
            );
            assert_eq!(
                header("access-control-allow-credentials"),
                Some("true"),
                "{what}"
            );
            assert!(varies_on_origin, "{what}: vary {:?}", header("vary"));
        }
        Grant::AnyOrigin => {
            assert_eq!(header("access-control-allow-origin"), Some("*"), "{what}");
            assert_eq!(header("access-control-allow-credentials"), None, "{what}");
        }
        Grant::Refused => {
            assert_eq!(header("access-control-allow-origin"), None, "{what}");
            assert_eq!(header("access-control-allow-credentials"), None, "{what}");
        }
        Grant::Off => {
            let cors: Vec<_> = headers
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-") || *name == "vary")
                .collect();
            assert!(cors.is_empty(), "{what}: {cors:?}");
        }
    }
}

/// A stream and a publish from `origin` work exactly as without CORS (the publish reaches the
/// stream), and both answers carry `grant`.
async fn assert_stream_and_publish(run: &Running, origin: &str, grant: Grant<'_>) {
    let stream = run
        .http
        .get(run.url("/stream/football/cors"))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200, "stream from {origin}");
    assert_grant(stream.headers(), grant, &format!("stream from {origin}"));
    let mut events = events_of(stream);

    let announce = json!({"event": "announcement", "data": {"message": origin}});
    let published = run
        .post("/publish/football/cors", announce.to_string())
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200, "publish from {origin}");
    assert_grant(
        published.headers(),
        grant,
        &format!("publish from {origin}"),
    );
    let published: Value = published.json().await.unwrap();
    let event = events.next().await;
    assert_eq!(published, json!({"delivered": 1, "id": event.id}));
    assert_eq!(messages(&[event]), [origin]);
}

/// The preflight of a cross-origin `POST` with JSON and `Authorization`: answered at once, and
/// for a granted origin with `POST` and both headers allowed.
async fn assert_publish_preflight(run: &Running, origin: &str, grant: Grant<'_>) {
    let what = format!("preflight from {origin}");
    let preflight = run.preflight("/publish/football/x", origin).await;
    assert_eq!(preflight.status(), 200, "{what}");
    let headers = preflight.headers();
    assert_grant(headers, grant, &what);
    let list = |name: &str| -> Vec<String> {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_default()
            .split(',')
            .map(|item| item.trim().to_ascii_lowercase())
            .collect()
    };
    if let Grant::Credentialed(_) | Grant::AnyOrigin = grant {
        let methods = list("access-control-allow-methods");
        assert!(methods.iter().any(|m| m == "post"), "{what}: {methods:?}");
        let allowed = list("access-control-allow-headers");
        for needed in ["content-type", "authorization"] {
            assert!(allowed.iter().any(|h| h == needed), "{what}: {allowed:?}");
        }
    }
}

#[tokio::test]
async fn listed_origins_may_stream_and_publish_with_credentials() {
    const PAGE: &str = "http://127.0.0.1:5173";
    const SITE: &str = "https://scores.example";
    let run = start(&[(
        "CORS_ORIGINS",
        "http://127.0.0.1:5173, https://scores.example",
    )])
    .await;
    for origin in [PAGE, SITE] {
        assert_stream_and_publish(&run, origin, Grant::Credentialed(origin)).await;
        assert_publish_preflight(&run, origin, Grant::Credentialed(origin)).await;
    }
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_grant_and_the_same_answers() {
    let run = start(&[("CORS_ORIGINS", "https://scores.example")]).await;
    for stranger in [
        "https://evil.example",
        "https://scores.example:8443",
        "null",
    ] {
        assert_stream_and_publish(&run, stranger, Grant::Refused).await;
        assert_publish_preflight(&run, stranger, Grant::Refused).await;
    }
}

#[tokio::test]
async fn a_star_allows_any_origin_without_credentials() {
    let run = start(&[("CORS_ORIGINS", "*")]).await;
    for origin in ["https://anywhere.example", "http://127.0.0.1:9"] {
        assert_stream_and_publish(&run, origin, Grant::AnyOrigin).await;
        assert_publish_preflight(&run, origin, Grant::AnyOrigin).await;
    }
}

#[tokio::test]
async fn without_cors_origins_no_cors_header_at_all() {
    let run = start(&[]).await;
    assert_stream_and_publish(&run, "https://scores.example", Grant::Off).await;
    // No layer answers `OPTIONS`: the routes' own `405`, with no grant either.
    let preflight = run
        .preflight("/publish/football/x", "https://scores.example")
        .await;
    assert_eq!(preflight.status(), 405);
    assert_grant(preflight.headers(), Grant::Off, "preflight");
    assert!(preflight.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn with_cors_publishing_still_needs_the_token_and_the_refusal_is_readable() {
    const ORIGIN: &str = "https://scores.example";
    let run = start(&[("CORS_ORIGINS", ORIGIN), ("SPORTS_TOKEN", "s3cret")]).await;
    let announce = json!({"event": "announcement", "data": {"message": "hi"}}).to_string();
    let refused = run
        .post("/publish/cricket/m", announce.clone())
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Granted, so the page can read why.
    assert_grant(refused.headers(), Grant::Credentialed(ORIGIN), "401");
    assert!(refused.json::<Value>().await.unwrap()["error"].is_string());
    let authorized = run
        .post("/publish/football/m", announce)
        .header("origin", ORIGIN)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    assert_grant(authorized.headers(), Grant::Credentialed(ORIGIN), "200");
}
