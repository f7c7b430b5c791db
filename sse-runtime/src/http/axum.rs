//! axum 0.8 integration: the [`Handshake`] extractor, responses for [`SseStream`] and
//! [`Reject`], and the CORS layer.
//!
//! ```
//! use axum::{extract::{Path, State}, routing::get, Router};
//! use sse_manager::{Handshake, Namespace, Reject, SseEvents, SseServer, SseStream};
//!
//! #[derive(SseEvents)]
//! enum Football { Goal { minute: u32 } }
//!
//! async fn stream(
//!     State(football): State<Namespace<Football>>,
//!     Path(match_id): Path<String>,
//!     hs: Handshake,
//! ) -> Result<SseStream, Reject> {
//!     let client = football.connect(hs).await?; // middleware runs here
//!     client.join(match_id)?; // a room name over the length limit answers 400
//!     Ok(client.into_stream())
//! }
//!
//! let server = SseServer::builder().build().unwrap();
//! let football = server.of::<Football>("/football").unwrap();
//! let app: Router = Router::new()
//!     .route("/stream/{match_id}", get(stream))
//!     .layer(server.cors_layer())
//!     .with_state(football);
//! ```

use crate::core::cors::Origins;
use crate::{Handshake, Reject, SseServer, SseStream};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use std::net::SocketAddr;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Reject;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Reject> {
        let path_params = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(rejection) if rejection.status() == StatusCode::BAD_REQUEST => {
                return Err(Reject::bad_request(rejection.body_text()));
            }
            Err(_) => Vec::new(),
        };
        let mut handshake =
            Handshake::new(parts.uri.clone(), parts.headers.clone()).with_path_params(path_params);
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            handshake = handshake.with_remote_addr(*addr);
        }
        Ok(handshake)
    }
}

impl IntoResponse for SseStream {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from_stream(self));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        response
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl SseServer {
    /// `tower-http`'s CORS layer for the configured [`Cors`](crate::Cors): answers preflights and
    /// adds the `Access-Control-*` headers. Without CORS configured it allows no other origin.
    ///
    /// It allows `GET` (what `EventSource` does) with the request headers an SSE client sends:
    /// `Last-Event-ID`, `Authorization`, `Content-Type`, `Cache-Control` and `Accept`.
    /// `Access-Control-Allow-Credentials: true` is sent only with an allowed origin. Routes that
    /// need more methods (a cross-origin `POST` API, say) can extend the returned layer, which
    /// keeps the origins and credentials:
    ///
    /// ```
    /// use axum::http::Method;
    /// use sse_manager::{Cors, SseServer};
    ///
    /// let server = SseServer::builder()
    ///     .cors(Cors::origin("https://scores.example").credentials(true))
    ///     .build()
    ///     .unwrap();
    /// let cors = server.cors_layer().allow_methods([Method::GET, Method::POST]);
    /// # let _ = cors;
    /// ```
    pub fn cors_layer(&self) -> CorsLayer {
        let Some(cors) = &self.config().cors else {
            return CorsLayer::new();
        };
        let mut layer = CorsLayer::new()
            .allow_methods([Method::GET])
            .allow_headers([
                HeaderName::from_static("last-event-id"),
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::CACHE_CONTROL,
                header::ACCEPT,
            ]);
        layer = match (&cors.origins, cors.origin_values()) {
            (Origins::Any, _) | (_, None) => layer.allow_origin(AllowOrigin::any()),
            (Origins::List(_), Some(list)) => {
                if cors.credentials {
                    // tower-http's `allow_credentials(true)` would send the header to every request,
                    // to origins it refuses too: send it exactly where the origin is granted.
                    let granted = list.clone();
                    layer = layer.allow_credentials(AllowCredentials::predicate(
                        move |origin: &HeaderValue, _: &Parts| granted.contains(origin),
                    ));
                }
                layer.allow_origin(AllowOrigin::list(list))
            }
        };
        if let Some(max_age) = cors.max_age {
            layer = layer.max_age(max_age);
        }
        layer
    }
}
