//! What a connecting client sent: headers, query, path parameters, remote address, and data
//! that middleware attaches for the handler.
//!
//! `EventSource` cannot set request headers, so browsers authenticate with a query parameter
//! ([`Handshake::query`]) or a cookie ([`Handshake::cookie`]); other clients can also use
//! `Authorization` ([`Handshake::bearer_token`]).

use crate::core::namespace::LastEventId;
use http::{header, HeaderMap, Uri};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// A connection request. Cheap to clone: clones share the same data, including what middleware
/// [`insert`](Handshake::insert)s.
#[derive(Clone)]
pub struct Handshake {
    inner: Arc<Inner>,
}

/// Cloned only by `with_*` on a shared handshake; the extensions stay shared.
#[derive(Clone)]
struct Inner {
    uri: Uri,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    path_params: Vec<(String, String)>,
    remote_addr: Option<SocketAddr>,
    /// Values attached by middleware, by type. Locked only to insert or clone out one value.
    extensions: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Handshake {
    /// A handshake from a request's URI and headers; see the `axum` extractor for the usual way.
    pub fn new(uri: Uri, headers: HeaderMap) -> Self {
        let query = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Handshake {
            inner: Arc::new(Inner {
                uri,
                headers,
                query,
                path_params: Vec::new(),
                remote_addr: None,
                extensions: Arc::default(),
            }),
        }
    }

    /// Sets the path parameters (`{match_id}` of the route). Other clones keep theirs.
    #[must_use]
    pub fn with_path_params(mut self, params: Vec<(String, String)>) -> Self {
        Arc::make_mut(&mut self.inner).path_params = params;
        self
    }

    /// Sets the peer address. Other clones keep theirs.
    #[must_use]
    pub fn with_remote_addr(mut self, addr: SocketAddr) -> Self {
        Arc::make_mut(&mut self.inner).remote_addr = Some(addr);
        self
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.inner.uri
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// A header as text; `None` when missing or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers.get(name)?.to_str().ok()
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.inner
            .query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter, in order (`?room=a&room=b`).
    pub fn query_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.inner
            .query
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A path parameter of the route, e.g. `match_id` in `/stream/{match_id}`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.inner
            .path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The peer address, when the server was started with connect info.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header(header::AUTHORIZATION.as_str())?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// A cookie's value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The `Last-Event-ID` the browser sent on reconnect (or `?lastEventId=` for clients that
    /// cannot set headers), when it is text.
    pub fn last_event_id(&self) -> Option<&str> {
        std::str::from_utf8(self.raw_last_event_id()?).ok()
    }

    /// The `Last-Event-ID` as sent, text or not; `None` when absent or empty.
    pub(crate) fn raw_last_event_id(&self) -> Option<&[u8]> {
        self.inner
            .headers
            .get("last-event-id")
            .map(|value| value.as_bytes())
            .or_else(|| self.query("lastEventId").map(str::as_bytes))
            .filter(|id| !id.is_empty())
    }

    /// The `Last-Event-ID` read as one of our ids ([`EventId`](crate::EventId)).
    pub(crate) fn parsed_last_event_id(&self) -> LastEventId {
        let Some(raw) = self.raw_last_event_id() else {
            return LastEventId::None;
        };
        let id = std::str::from_utf8(raw)
            .ok()
            .and_then(|id| id.parse::<crate::EventId>().ok());
        match id {
            Some(id) => LastEventId::Valid(id),
            None => LastEventId::Malformed(String::from_utf8_lossy(raw).into_owned()),
        }
    }

    /// Attaches a value for later middleware and the handler (a user id, say). A second value of
    /// the same type replaces the first.
    pub fn insert<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.inner
            .extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A clone of the value of type `T` that middleware attached.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner
            .extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    }
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("uri", &self.inner.uri)
            .field("remote_addr", &self.inner.remote_addr)
            .field("path_params", &self.inner.path_params)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(uri: &str, headers: &[(&str, &str)]) -> Handshake {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Handshake::new(uri.parse().unwrap(), map)
    }

    #[test]
    fn query_cookie_and_bearer() {
        let h = hs(
            "/s?token=a%20b&x=1&token=second",
            &[
                ("authorization", "Bearer  abc "),
                ("cookie", "a=1; session=xyz"),
                ("cookie", "late=2"),
            ],
        );
        assert_eq!(h.query("token"), Some("a b"));
        assert_eq!(h.query("missing"), None);
        assert_eq!(h.query_all("token").collect::<Vec<_>>(), ["a b", "second"]);
        assert_eq!(h.bearer_token(), Some("abc"));
        assert_eq!(h.cookie("session"), Some("xyz"));
        assert_eq!(h.cookie("late"), Some("2"));
        assert_eq!(h.cookie("nope"), None);
        assert_eq!(
            hs("/", &[("authorization", "Basic abc")]).bearer_token(),
            None
        );
    }

    #[test]
    fn extensions_are_shared_by_clones() {
        #[derive(Clone, Debug, PartialEq)]
        struct UserId(u32);
        let h = hs("/", &[]);
        let copy = h.clone();
        copy.insert(UserId(7));
        assert_eq!(h.get::<UserId>(), Some(UserId(7)));
        assert_eq!(h.get::<String>(), None);

        // Setting a field on a shared handshake copies it, and still shares the extensions.
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let moved = copy.with_remote_addr(addr);
        assert_eq!((moved.remote_addr(), h.remote_addr()), (Some(addr), None));
        assert_eq!(moved.get::<UserId>(), Some(UserId(7)));
    }

    #[test]
    fn last_event_id_from_header_or_query() {
        assert_eq!(
            hs("/", &[("last-event-id", "41")]).last_event_id(),
            Some("41")
        );
        assert_eq!(hs("/?lastEventId=9", &[]).last_event_id(), Some("9"));
        assert_eq!(hs("/", &[]).last_event_id(), None);
        assert_eq!(hs("/", &[("last-event-id", "")]).last_event_id(), None);
    }

    #[test]
    fn last_event_id_parsing() {
        let parsed = |id: &str| hs("/", &[("last-event-id", id)]).parsed_last_event_id();
        assert!(
            matches!(parsed("a9-41"), LastEventId::Valid(id) if id == crate::EventId::new(0xa9, 41))
        );
        for bad in [
            "41",
            "+5",
            "-1",
            "1.0",
            "abc",
            "a9-41 ",
            "a9-99999999999999999999999",
        ] {
            assert!(
                matches!(parsed(bad), LastEventId::Malformed(ref raw) if raw == bad),
                "{bad}"
            );
        }
        assert!(matches!(parsed(""), LastEventId::None));
    }
}
