//! CORS from the server configuration, through tower-http.

mod common;

use common::*;
use sse_manager::{ConfigError, Cors, SseServer};

const ORIGIN: &str = "https://scores.example";

#[tokio::test]
async fn preflight_and_stream_answer_the_configured_origin() {
    let app = spawn(builder().cors(Cors::origin(ORIGIN).credentials(true))).await;
    let http = http();

    let preflight = http
        .request(reqwest::Method::OPTIONS, app.url("/football"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "last-event-id")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("last-event-id"), "{allowed}");

    let stream = http
        .get(app.url("/football"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(stream.headers()["access-control-allow-credentials"], "true");

    let stranger = http
        .get(app.url("/football"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 200);
    for refused in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
    ] {
        assert!(stranger.headers().get(refused).is_none(), "{refused}");
    }
}

#[tokio::test]
async fn any_origin_without_credentials() {
    let app = spawn(builder().cors(Cors::any())).await;
    let response = http()
        .get(app.url("/football"))
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
}

#[tokio::test]
async fn without_cors_no_other_origin_is_allowed() {
    let app = spawn(builder()).await;
    let response = http()
        .get(app.url("/football"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn origins_are_compared_in_lowercase_and_post_is_not_allowed() {
    let app = spawn(builder().cors(Cors::origin("https://Scores.Example"))).await;
    let preflight = |method: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, app.url("/football"))
            .header("origin", ORIGIN)
            .header("access-control-request-method", method)
            .send()
    };
    let get = preflight("GET").await.unwrap();
    assert_eq!(get.headers()["access-control-allow-origin"], ORIGIN);
    let methods = get.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(methods, "GET");
}

#[test]
fn credentials_with_any_origin_is_refused_at_build_time() {
    let err = SseServer::builder()
        .cors(Cors::any().credentials(true))
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::CorsCredentialsWithAnyOrigin);
    let err = SseServer::builder()
        .cors(Cors::origin("scores.example"))
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::InvalidCorsOrigin("scores.example".into()));
}
