//! Refusing a connection: an HTTP status and a message, sent before the stream starts.

use http::StatusCode;
use std::borrow::Cow;

/// A refused connection, from middleware or from the server's limits.
///
/// It is answered with its status and a JSON body `{"error": "<message>"}` *instead of* the event
/// stream, never after a `200`: a browser's `EventSource` gives up on a non-200 answer, while a
/// stream that opens and closes again would be retried forever.
///
/// ```
/// use sse_manager::Reject;
///
/// let reject = Reject::unauthorized("missing token");
/// assert_eq!(reject.status().as_u16(), 401);
/// assert_eq!(reject.body(), r#"{"error":"missing token"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Reject {
    status: StatusCode,
    message: Cow<'static, str>,
    retry_after: Option<u32>,
}

impl Reject {
    /// A rejection with any status. A status below 400 is replaced by 500: a rejection must not
    /// look like success.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        let status = if status.as_u16() < 400 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        Reject {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `401 Unauthorized`: no or invalid credentials.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// `403 Forbidden`: valid credentials, no access.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// `503 Service Unavailable` with `Retry-After: <seconds>`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after_secs: u32) -> Self {
        let mut reject = Self::new(StatusCode::SERVICE_UNAVAILABLE, message);
        reject.retry_after = Some(retry_after_secs);
        reject
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message, as given.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds for the `Retry-After` header, if any.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The JSON body: `{"error": "<message>"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.message }).to_string()
    }
}
