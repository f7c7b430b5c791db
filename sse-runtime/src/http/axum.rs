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
use bytes::Bytes;
use futures_util::Stream;
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
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
        let (uri, headers) = owned(&parts.uri, &parts.headers);
        let mut handshake = Handshake::new(uri, headers).with_path_params(path_params);
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            handshake = handshake.with_remote_addr(*addr);
        }
        Ok(handshake)
    }
}

/// Copies of the request's URI and header values that share no memory with it. hyper slices
/// both out of its per-connection read buffer (8 KiB or more): a handshake kept for the life of a
/// stream (it lives in the client) would keep that whole buffer alive with its clones.
fn owned(uri: &http::Uri, headers: &http::HeaderMap) -> (http::Uri, http::HeaderMap) {
    // A URI that parsed once parses again; the fallback is never taken.
    let uri = uri.to_string().parse().unwrap_or_else(|_| uri.clone());
    let mut copy = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // `from_bytes` copies; a value that was valid stays valid.
        if let Ok(mut fresh) = HeaderValue::from_bytes(value.as_bytes()) {
            fresh.set_sensitive(value.is_sensitive());
            copy.append(name.clone(), fresh);
        }
    }
    (uri, copy)
}

/// Where a stream waits in its response: the body reads it from here, unless
/// [`serve`](crate::serve) took it out first to write it itself (see [`Takeover`]).
pub(crate) type Slot = Arc<Mutex<Option<SseStream>>>;

/// In the extensions of a stream's response: lets `serve` take the stream out of the body and
/// write it on the socket itself, without hyper (and hyper's per-connection buffers).
#[derive(Clone)]
pub(crate) struct Takeover(pub(crate) Weak<Mutex<Option<SseStream>>>);

/// The response body of a stream: the stream from its slot, or nothing if it was taken.
struct SlotBody {
    slot: Slot,
    own: Option<SseStream>,
}

impl http_body::Body for SlotBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if this.own.is_none() {
            match this
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                Some(stream) => this.own = Some(stream),
                None => return Poll::Ready(None),
            }
        }
        let Some(stream) = this.own.as_mut() else {
            return Poll::Ready(None);
        };
        match futures_util::ready!(Pin::new(stream).poll_next(cx)) {
            Some(Ok(bytes)) => Poll::Ready(Some(Ok(http_body::Frame::data(bytes)))),
            Some(Err(never)) => match never {},
            None => Poll::Ready(None),
        }
    }
}

impl IntoResponse for SseStream {
    fn into_response(self) -> Response {
        let slot: Slot = Arc::new(Mutex::new(Some(self)));
        let mut response = Response::new(Body::new(SlotBody {
            slot: slot.clone(),
            own: None,
        }));
        response
            .extensions_mut()
            .insert(Takeover(Arc::downgrade(&slot)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// What hyper hands the router: URI and header values sliced out of one read buffer.
    fn request_from(buffer: &Bytes) -> Parts {
        let uri = http::Uri::from_maybe_shared(buffer.slice(0..14)).unwrap();
        let value = HeaderValue::from_maybe_shared(buffer.slice(15..25)).unwrap();
        let (mut parts, ()) = http::Request::builder()
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts();
        parts.headers.insert("x-token", value);
        parts
    }

    #[tokio::test]
    async fn a_handshake_shares_no_memory_with_the_request() {
        let buffer = Bytes::from(format!("/stream?room=a secret-123{}", " ".repeat(8000)));
        let mut parts = request_from(&buffer);
        let handshake = Handshake::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(handshake.uri().to_string(), "/stream?room=a");
        assert_eq!(handshake.header("x-token"), Some("secret-123"));
        let within = |ptr: *const u8| buffer.as_ptr_range().contains(&ptr);
        assert!(
            !within(handshake.uri().path().as_ptr()),
            "the URI is a copy"
        );
        assert!(
            !within(handshake.headers()["x-token"].as_bytes().as_ptr()),
            "header values are copies"
        );
        // The originals were slices of the buffer, as hyper's are.
        assert!(within(parts.headers["x-token"].as_bytes().as_ptr()));
    }
}
