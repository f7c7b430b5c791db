//! The sports server's HTTP contract: routes, auth, publish API. `main.rs` runs it; the
//! integration tests run the same router.

use crate::events::{CricketEvents, FootballEvents};
use axum::body::{to_bytes, Body};
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::LengthLimitError;
use serde::Deserialize;
use serde_json::value::RawValue;
use sse_manager::{
    Cors, Handshake, Namespace, Reject, SseEvents, SseServer, SseServerBuilder, SseStream,
};
use std::sync::Arc;
use std::time::Duration;

/// `PUBLISH_MAX_BYTES` when unset: room for a 1 MB announcement with its JSON escapes.
pub(crate) const DEFAULT_PUBLISH_MAX_BYTES: usize = 1024 * 1024;

/// Settings read from the environment (see the README for each variable).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long a connection has to send a complete request head (`sse_manager::serve`).
    pub(crate) head_timeout: Duration,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `None`: in memory, one instance.
    pub(crate) redis: Option<RedisSettings>,
    /// Sent as `x-instance` on every response, to tell instances apart behind a load balancer.
    pub(crate) instance: Option<HeaderValue>,
    pub(crate) token: Option<String>,
    pub(crate) heartbeat: Duration,
    /// `COALESCE_MS`: how long a busy stream may hold a write back under load; `None` (`0`): never.
    pub(crate) coalesce: Option<Duration>,
    pub(crate) simulate: bool,
    pub(crate) seed: u64,
    pub(crate) tick: Duration,
    /// `None`: no CORS layer, so no CORS header at all.
    pub(crate) cors: Option<Cors>,
    /// Larger publish bodies get `413`.
    pub(crate) publish_max_bytes: usize,
}

/// `REDIS_URL` and what goes with it: instances with the same URL and key prefix share one order
/// per namespace.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct RedisSettings {
    pub(crate) url: String,
    /// `REDIS_KEY_PREFIX`; `None`: the adapter's default (`sse`).
    pub(crate) key_prefix: Option<String>,
    /// `REDIS_PROBE_MS`: how often each namespace checks its subscription.
    pub(crate) probe_every: Duration,
    /// `REDIS_PROBE_TIMEOUT_MS`: how long without an answer before `/health` says `down`.
    pub(crate) probe_timeout: Duration,
}

impl Settings {
    /// Reads `HOST`, `PORT`, `REDIS_URL` (with `REDIS_KEY_PREFIX`, `REDIS_PROBE_MS` and
    /// `REDIS_PROBE_TIMEOUT_MS`), `INSTANCE`, `SPORTS_TOKEN`, `HEARTBEAT_MS`, `COALESCE_MS`
    /// (default 20, `0` turns write coalescing off), `SIMULATE`,
    /// `SIMULATE_SEED`, `SIMULATE_TICK_MS`, `CORS_ORIGINS` (see [`cors_origins`]),
    /// `PUBLISH_MAX_BYTES` (default [`DEFAULT_PUBLISH_MAX_BYTES`]) and `HEAD_TIMEOUT_MS` (how long
    /// a connection has to send a complete request head, default 10,000).
    ///
    /// A value that cannot be used (not a number, a zero interval or limit, a `CORS_ORIGINS`
    /// entry that is not an origin) is an error that names the variable: the example refuses to
    /// start rather than run with a setting it did not understand.
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
        let publish_max_bytes = parse(&var, "PUBLISH_MAX_BYTES", DEFAULT_PUBLISH_MAX_BYTES)?;
        if publish_max_bytes == 0 {
            return Err("PUBLISH_MAX_BYTES must be greater than 0".into());
        }
        // Read even without `REDIS_URL`: a typo stops the example either way.
        let millis = |name: &str, default: u64| match parse(&var, name, default)? {
            0 => Err(format!("{name} must be greater than 0")),
            ms => Ok(Duration::from_millis(ms)),
        };
        let head_timeout = millis("HEAD_TIMEOUT_MS", 10_000)?;
        let probe_every = millis("REDIS_PROBE_MS", 1_000)?;
        let probe_timeout = millis("REDIS_PROBE_TIMEOUT_MS", 3_000)?;
        let redis = var("REDIS_URL")
            .filter(|url| !url.is_empty())
            .map(|url| RedisSettings {
                url,
                key_prefix: var("REDIS_KEY_PREFIX").filter(|prefix| !prefix.is_empty()),
                probe_every,
                probe_timeout,
            });
        let instance = var("INSTANCE")
            .filter(|name| !name.is_empty())
            .map(|name| {
                // Stricter than a header value (which may hold Latin-1): a name to read in logs.
                name.bytes()
                    .all(|b| b.is_ascii_graphic())
                    .then(|| HeaderValue::from_str(&name).ok())
                    .flatten()
                    .ok_or_else(|| format!("INSTANCE={name:?} must be printable ASCII, no spaces"))
            })
            .transpose()?;
        Ok(Settings {
            head_timeout,
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: parse(&var, "PORT", 3000)?,
            redis,
            instance,
            token: var("SPORTS_TOKEN").filter(|token| !token.is_empty()),
            heartbeat: Duration::from_millis(heartbeat_ms),
            coalesce: match var("COALESCE_MS") {
                None => Some(sse_manager::DEFAULT_COALESCE),
                Some(_) => match parse(&var, "COALESCE_MS", 0u64)? {
                    0 => None,
                    ms => Some(Duration::from_millis(ms)),
                },
            },
            simulate: simulate == 1,
            seed: parse(&var, "SIMULATE_SEED", 7)?,
            tick: Duration::from_millis(match parse(&var, "SIMULATE_TICK_MS", 1_000)? {
                0 => return Err("SIMULATE_TICK_MS must be greater than 0".into()),
                ms => ms,
            }),
            cors: var("CORS_ORIGINS")
                .as_deref()
                .map(cors_origins)
                .transpose()?
                .flatten(),
            publish_max_bytes,
        })
    }
}

/// `CORS_ORIGINS`, the seed article's `cors: { origin, credentials: true }`: a comma-separated
/// list `a,b` becomes `Cors::origin(a).or_origin(b).credentials(true)`, so pages of those origins
/// may open `new EventSource(url, { withCredentials: true })` and publish; `*` becomes
/// `Cors::any()`, every origin without credentials (browsers refuse both at once). Empty is unset:
/// no CORS at all.
pub(crate) fn cors_origins(value: &str) -> Result<Option<Cors>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value == "*" {
        return Ok(Some(Cors::any()));
    }
    let origins: Vec<&str> = value.split(',').map(str::trim).collect();
    if origins.iter().any(|origin| origin.is_empty()) {
        return Err(format!(
            "CORS_ORIGINS={value:?} has an empty entry: separate origins with single commas"
        ));
    }
    if origins.contains(&"*") {
        return Err(format!(
            "CORS_ORIGINS={value:?}: `*` (any origin) must be alone, not in a list"
        ));
    }
    let Some((first, others)) = origins.split_first() else {
        return Ok(None);
    };
    let cors = others
        .iter()
        .fold(Cors::origin(*first), |cors, origin| cors.or_origin(*origin))
        .credentials(true);
    cors.validate()
        .map_err(|err| format!("CORS_ORIGINS={value:?}: {err}"))?;
    Ok(Some(cors))
}

/// The running service: both namespaces, the token guarding football and publishing, and the
/// HTTP limits of the contract.
#[derive(Clone)]
pub(crate) struct Sports {
    pub(crate) server: SseServer,
    pub(crate) football: Namespace<FootballEvents>,
    pub(crate) cricket: Namespace<CricketEvents>,
    token: Option<Arc<str>>,
    /// Whether the server has a CORS configuration for [`router`] to serve.
    cors: bool,
    publish_max_bytes: usize,
    /// `x-instance` on every response, when `INSTANCE` is set.
    instance: Option<HeaderValue>,
}

impl FromRef<Sports> for Namespace<FootballEvents> {
    fn from_ref(sports: &Sports) -> Self {
        sports.football.clone()
    }
}

impl FromRef<Sports> for Namespace<CricketEvents> {
    fn from_ref(sports: &Sports) -> Self {
        sports.cricket.clone()
    }
}

impl Sports {
    /// Builds the server and both namespaces. With [`Settings::redis`], call it inside a tokio
    /// runtime: the Redis adapter runs a task per namespace.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let mut builder = SseServerBuilder::default()
            .heartbeat(settings.heartbeat)
            .retry(Duration::from_secs(2));
        builder = match settings.coalesce {
            Some(window) => builder.coalesce(window),
            None => builder.no_coalesce(),
        };
        if let Some(cors) = settings.cors.clone() {
            builder = builder.cors(cors);
        }
        if let Some(redis) = &settings.redis {
            builder = redis_adapter(builder, redis)?;
        }
        let server = builder.build().map_err(|err| match err {
            sse_manager::ConfigError::Adapter(problem) => {
                format!("REDIS_URL or REDIS_KEY_PREFIX: {problem}")
            }
            err => err.to_string(),
        })?;
        let football = server
            .of::<FootballEvents>("/football")
            .map_err(|err| err.to_string())?;
        let cricket = server
            .of::<CricketEvents>("/cricket")
            .map_err(|err| err.to_string())?;
        let token: Option<Arc<str>> = settings.token.as_deref().map(Arc::from);
        if let Some(token) = token.clone() {
            football.middleware(move |hs: Handshake| {
                let token = token.clone();
                async move { check_token(&token, &hs) }
            });
        }
        Ok(Sports {
            server,
            football,
            cricket,
            token,
            cors: settings.cors.is_some(),
            publish_max_bytes: settings.publish_max_bytes,
            instance: settings.instance.clone(),
        })
    }
}

/// `REDIS_URL`: every instance with the same Redis (and key prefix) shares one order per
/// namespace, so a browser may reconnect to any of them with its `Last-Event-ID`.
#[cfg(feature = "redis")]
fn redis_adapter(
    builder: SseServerBuilder,
    redis: &RedisSettings,
) -> Result<SseServerBuilder, String> {
    let mut adapter = sse_manager::adapter::RedisAdapter::new(redis.url.as_str())
        .probe(redis.probe_every, redis.probe_timeout);
    if let Some(prefix) = &redis.key_prefix {
        adapter = adapter.key_prefix(prefix.as_str());
    }
    Ok(builder.adapter(adapter))
}

#[cfg(not(feature = "redis"))]
fn redis_adapter(_: SseServerBuilder, _: &RedisSettings) -> Result<SseServerBuilder, String> {
    Err("REDIS_URL is set, but this build has no Redis adapter: \
         run it with `cargo run --features redis --example sports`, or unset REDIS_URL"
        .into())
}

/// `Authorization: Bearer <token>` or `?token=<token>` (browsers' `EventSource` cannot set
/// headers), compared in constant time.
fn check_token(expected: &str, hs: &Handshake) -> Result<(), Reject> {
    match hs.bearer_token().or_else(|| hs.query("token")) {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(Reject::unauthorized("invalid token")),
        None => Err(Reject::unauthorized(
            "a token is required: `Authorization: Bearer <token>` or `?token=<token>`",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every route of the contract; anything else is a JSON `404` (or `405` for a known path).
pub(crate) fn router(sports: Sports) -> Router {
    let routes = Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/stream/football/{match_id}", get(stream::<FootballEvents>))
        .route("/stream/cricket/{match_id}", get(stream::<CricketEvents>))
        .route("/publish/football", post(publish::<FootballEvents>))
        .route("/publish/cricket", post(publish::<CricketEvents>))
        .route(
            "/publish/football/{match_id}",
            post(publish::<FootballEvents>),
        )
        .route(
            "/publish/cricket/{match_id}",
            post(publish::<CricketEvents>),
        )
        .fallback(|| async { Reject::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            Reject::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        });
    // Without `CORS_ORIGINS` no layer at all: no `Vary` either, and `OPTIONS` is a `405` like
    // any other method the routes lack. With it, `POST` too: allowed pages may publish.
    let routes = if sports.cors {
        routes.layer(
            sports
                .server
                .cors_layer()
                .allow_methods([Method::GET, Method::POST]),
        )
    } else {
        routes
    };
    // Outermost: CORS answers (preflights) name the instance too.
    let routes = match sports.instance.clone() {
        Some(instance) => routes.layer(axum::middleware::map_response(
            move |mut response: Response| {
                let instance = instance.clone();
                async move {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-instance"), instance);
                    response
                }
            },
        )),
        None => routes,
    };
    routes.with_state(sports)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page/index.html"))
}

/// `GET /assets/{file}`: the page's scripts, built from `page/ts/` into `page/js/` by
/// `npm --prefix e2e run build-page` and committed, so the binary needs no npm.
async fn asset(Path(file): Path<String>) -> Result<Response, Reject> {
    let script = match file.as_str() {
        "app.js" => include_str!("page/js/app.js"),
        "FootballEvents.js" => include_str!("page/js/FootballEvents.js"),
        "CricketEvents.js" => include_str!("page/js/CricketEvents.js"),
        _ => return Err(Reject::new(StatusCode::NOT_FOUND, "no such asset")),
    };
    Ok((
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        script,
    )
        .into_response())
}

/// `GET /health`: liveness, so always `200` while the process serves HTTP, a Redis outage
/// included (this instance then still delivers its own emits). The body says what the events go
/// through: `{"status":"ok","adapter":"memory","redis":null}`, or with `REDIS_URL`
/// `{"status":"ok","adapter":"redis","redis":STATE}`, STATE being the least healthy state of the
/// namespaces: `"connected"`, `"starting"` (not synchronised yet), `"reconnecting"` or `"down"`.
async fn health(State(sports): State<Sports>) -> Json<serde_json::Value> {
    let stats = sports.server.stats();
    let kind = stats
        .first()
        .map_or("memory", |(_, stats)| stats.adapter.kind);
    let redis = (kind == "redis")
        .then(|| stats.iter().map(|(_, stats)| stats.adapter.state).max())
        .flatten();
    Json(serde_json::json!({ "status": "ok", "adapter": kind, "redis": redis }))
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

/// The runtime's series, the adapter's state and counters included (Prometheus text).
async fn metrics(State(sports): State<Sports>) -> Response {
    let text = sports.server.prometheus_metrics();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /stream/{sport}/{match_id}`: the sport's namespace, in room `{match_id}`.
async fn stream<E: SseEvents>(
    State(ns): State<Namespace<E>>,
    hs: Handshake,
) -> Result<SseStream, Reject> {
    let match_id = hs.path_param("match_id").unwrap_or_default().to_owned();
    let client = ns.connect(hs).await?;
    client.join(match_id)?;
    Ok(client.into_stream())
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

/// `POST /publish/{sport}[/{match_id}]`: to the match's room, or the whole namespace.
async fn publish<E: SseEvents>(
    State(sports): State<Sports>,
    State(ns): State<Namespace<E>>,
    hs: Handshake,
    body: Body,
) -> Result<Json<serde_json::Value>, Reject> {
    if let Some(token) = &sports.token {
        check_token(token, &hs)?;
    }
    let limit = sports.publish_max_bytes;
    let too_large = || {
        Reject::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        )
    };
    // A declared length over the limit is refused before reading a byte; a chunked body is cut
    // off by `to_bytes` as soon as it passes the limit.
    let declared = hs
        .header("content-length")
        .and_then(|length| length.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let bytes = to_bytes(body, limit).await.map_err(|err| {
        if std::error::Error::source(&err).is_some_and(|e| e.is::<LengthLimitError>()) {
            too_large()
        } else {
            Reject::bad_request(format!("could not read the body: {err}"))
        }
    })?;
    let request: Publish<'_> = serde_json::from_slice(&bytes).map_err(|err| {
        Reject::bad_request(format!(
            "expected {{\"event\": NAME, \"data\": PAYLOAD}}: {err}"
        ))
    })?;
    let data = request.data.map_or("null", RawValue::get);
    let event =
        E::decode(&request.event, data).map_err(|err| Reject::bad_request(err.to_string()))?;
    let sent = match hs.path_param("match_id") {
        Some(room) => ns.to(room).emit(event).await,
        None => ns.emit(event).await,
    }
    .map_err(|err| Reject::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
    // `delivered` counts this instance's clients; with Redis, the others deliver it too.
    Ok(Json(
        serde_json::json!({ "delivered": sent.delivered, "id": sent.id.to_string() }),
    ))
}
