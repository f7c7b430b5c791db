//! The sports server's HTTP contract: routes, auth, publish API. `main.rs` runs it; the
//! integration tests run the same router.

use crate::events::{CricketEvents, FootballEvents};
use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::value::RawValue;
use sse_manager::{
    Handshake, Namespace, Reject, SseEvents, SseServer, SseServerBuilder, SseStream,
};
use std::time::Duration;

/// Largest publish body accepted; larger ones get `413`.
pub(crate) const MAX_PUBLISH_BODY: usize = 64 * 1024;

/// Settings read from the environment (see the README for each variable).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) redis_url: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) heartbeat: Duration,
    pub(crate) simulate: bool,
    pub(crate) seed: u64,
    pub(crate) tick: Duration,
}

impl Settings {
    /// Reads `HOST`, `PORT`, `REDIS_URL`, `SPORTS_TOKEN`, `HEARTBEAT_MS`, `SIMULATE`,
    /// `SIMULATE_SEED` and `SIMULATE_TICK_MS`.
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        fn parse<T: std::str::FromStr>(
            var: &impl Fn(&str) -> Option<String>,
            name: &str,
            default: T,
        ) -> Result<T, String> {
            match var(name) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={value:?} is not a valid value")),
            }
        }
        let simulate: u8 = parse(&var, "SIMULATE", 1)?;
        if simulate > 1 {
            return Err(format!("SIMULATE={simulate} must be 0 or 1"));
        }
        let heartbeat_ms: u64 = parse(&var, "HEARTBEAT_MS", 15_000)?;
        if heartbeat_ms == 0 {
            return Err("HEARTBEAT_MS must be greater than 0".into());
        }
        Ok(Settings {
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: parse(&var, "PORT", 3000)?,
            redis_url: var("REDIS_URL").filter(|url| !url.is_empty()),
            token: var("SPORTS_TOKEN").filter(|token| !token.is_empty()),
            heartbeat: Duration::from_millis(heartbeat_ms),
            simulate: simulate == 1,
            seed: parse(&var, "SIMULATE_SEED", 7)?,
            tick: Duration::from_millis(parse(&var, "SIMULATE_TICK_MS", 1_000)?),
        })
    }
}

/// The running service: both namespaces, and the token guarding football.
#[derive(Clone)]
pub(crate) struct Sports {
    pub(crate) server: SseServer,
    pub(crate) football: Namespace<FootballEvents>,
    pub(crate) cricket: Namespace<CricketEvents>,
}

impl Sports {
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        if settings.redis_url.is_some() {
            return Err(
                "REDIS_URL is set, but the Redis adapter is not available yet: unset REDIS_URL to run in memory"
                    .into(),
            );
        }
        let server = SseServerBuilder::default()
            .heartbeat(settings.heartbeat)
            .retry(Duration::from_secs(2))
            .build()
            .map_err(|err| err.to_string())?;
        let football = server
            .of::<FootballEvents>("/football")
            .map_err(|err| err.to_string())?;
        let cricket = server
            .of::<CricketEvents>("/cricket")
            .map_err(|err| err.to_string())?;
        if let Some(token) = settings.token.clone() {
            football.middleware(move |hs: Handshake| {
                let token = token.clone();
                async move {
                    match hs.bearer_token().or_else(|| hs.query("token")) {
                        Some(given) if given == token => Ok(()),
                        Some(_) => Err(Reject::unauthorized("invalid token")),
                        None => Err(Reject::unauthorized(
                            "football streams need `Authorization: Bearer <token>` or `?token=<token>`",
                        )),
                    }
                }
            });
        }
        Ok(Sports {
            server,
            football,
            cricket,
        })
    }
}

/// Every route of the contract; anything else is `404`.
pub(crate) fn router(sports: Sports) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/stream/football/{match_id}", get(stream_football))
        .route("/stream/cricket/{match_id}", get(stream_cricket))
        .route("/publish/football", post(publish_football_all))
        .route("/publish/cricket", post(publish_cricket_all))
        .route("/publish/football/{match_id}", post(publish_football))
        .route("/publish/cricket/{match_id}", post(publish_cricket))
        .fallback(not_found)
        .layer(sports.server.cors_layer())
        .with_state(sports)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page/index.html"))
}

async fn health() -> &'static str {
    "ok"
}

/// `{"connections": N, "namespaces": {"/football": {...}, "/cricket": {...}}}`.
async fn stats(State(sports): State<Sports>) -> Json<serde_json::Value> {
    let namespaces: serde_json::Map<String, serde_json::Value> = sports
        .server
        .stats()
        .into_iter()
        .map(|(path, stats)| (path, serde_json::json!(stats)))
        .collect();
    Json(serde_json::json!({
        "connections": sports.server.connection_count(),
        "namespaces": namespaces,
    }))
}

async fn metrics(State(sports): State<Sports>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        sports.server.prometheus_metrics(),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

async fn stream_football(
    State(sports): State<Sports>,
    Path(match_id): Path<String>,
    hs: Handshake,
) -> Result<SseStream, Reject> {
    let client = sports.football.connect(hs).await?;
    client.join(match_id)?;
    Ok(client.into_stream())
}

async fn stream_cricket(
    State(sports): State<Sports>,
    Path(match_id): Path<String>,
    hs: Handshake,
) -> Result<SseStream, Reject> {
    let client = sports.cricket.connect(hs).await?;
    client.join(match_id)?;
    Ok(client.into_stream())
}

async fn publish_football(
    State(sports): State<Sports>,
    Path(match_id): Path<String>,
    body: Body,
) -> Response {
    publish(&sports.football, Some(match_id), body).await
}

async fn publish_football_all(State(sports): State<Sports>, body: Body) -> Response {
    publish(&sports.football, None, body).await
}

async fn publish_cricket(
    State(sports): State<Sports>,
    Path(match_id): Path<String>,
    body: Body,
) -> Response {
    publish(&sports.cricket, Some(match_id), body).await
}

async fn publish_cricket_all(State(sports): State<Sports>, body: Body) -> Response {
    publish(&sports.cricket, None, body).await
}

/// `{"event": NAME, "data": PAYLOAD}`; the payload is decoded by the derive, so the enum's
/// types are the schema.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Publish<'a> {
    event: String,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

async fn publish<E: SseEvents>(ns: &Namespace<E>, room: Option<String>, body: Body) -> Response {
    let Ok(bytes) = to_bytes(body, MAX_PUBLISH_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {MAX_PUBLISH_BODY} bytes"),
        );
    };
    let request: Publish<'_> = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"event\": NAME, \"data\": PAYLOAD}}: {err}"),
            )
        }
    };
    let data = request.data.map_or("null", RawValue::get);
    let event = match E::decode(&request.event, data) {
        Ok(event) => event,
        Err(err) => return error(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let sent = match room {
        Some(room) => ns.to(room).emit(event).await,
        None => ns.emit(event).await,
    };
    match sent {
        Ok(sent) => {
            Json(serde_json::json!({ "delivered": sent.delivered, "id": sent.id })).into_response()
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}
