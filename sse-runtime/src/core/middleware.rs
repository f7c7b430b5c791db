//! Connection middleware: async checks that run, in the order they were added, before a client
//! is registered and before any response byte is sent.
//!
//! A middleware gets the [`Handshake`] and returns `Ok(())` to let the connection through or a
//! [`Reject`] to answer with its status and JSON body. It can attach data for later middleware
//! and the handler with [`Handshake::insert`]. The first rejection stops the chain.

use crate::{Handshake, Reject};
use futures_util::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;

/// A stored middleware.
pub(crate) type Middleware =
    Arc<dyn Fn(Handshake) -> BoxFuture<'static, Result<(), Reject>> + Send + Sync>;

pub(crate) fn boxed<F, Fut>(f: F) -> Middleware
where
    F: Fn(Handshake) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Reject>> + Send + 'static,
{
    Arc::new(move |handshake| Box::pin(f(handshake)))
}

/// Runs the chain in order; the first rejection wins.
pub(crate) async fn run(chain: &[Middleware], handshake: &Handshake) -> Result<(), Reject> {
    for middleware in chain {
        middleware(handshake.clone()).await?;
    }
    Ok(())
}
