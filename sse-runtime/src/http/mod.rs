//! The HTTP glue on top of the core: the response body of a stream, and axum's extractor,
//! responses and CORS layer.

#[cfg(feature = "axum")]
pub(crate) mod axum;
#[cfg(feature = "axum")]
pub(crate) mod serve;
pub(crate) mod stream;
