//! Cross-origin access to the streams, as configuration; the `axum` feature turns it into
//! `tower-http`'s `CorsLayer`, which does the header work.

use http::HeaderValue;
use std::time::Duration;

/// Which web pages may open the streams from another origin.
///
/// ```
/// use sse_manager::Cors;
///
/// let cors = Cors::origin("https://scores.example").credentials(true);
/// # let _ = cors;
/// ```
///
/// Credentials (cookies) with any origin is refused by
/// [`SseServerBuilder::build`](crate::SseServerBuilder::build): browsers forbid it, and allowing
/// every site to read a logged-in user's stream would be a leak.
#[derive(Debug, Clone)]
#[must_use]
pub struct Cors {
    pub(crate) origins: Origins,
    pub(crate) credentials: bool,
    pub(crate) max_age: Option<Duration>,
}

#[derive(Debug, Clone)]
pub(crate) enum Origins {
    Any,
    List(Vec<String>),
}

impl Cors {
    /// Any origin may read the streams (`Access-Control-Allow-Origin: *`).
    pub fn any() -> Self {
        Cors {
            origins: Origins::Any,
            credentials: false,
            max_age: None,
        }
    }

    /// Only this origin (scheme, host and port, e.g. `https://app.example:8443`).
    pub fn origin(origin: impl Into<String>) -> Self {
        Cors {
            origins: Origins::List(vec![origin.into()]),
            credentials: false,
            max_age: None,
        }
    }

    /// Allows one more origin. (No effect on [`Cors::any`], which allows them all.)
    pub fn or_origin(mut self, origin: impl Into<String>) -> Self {
        match &mut self.origins {
            Origins::Any => {}
            Origins::List(list) => list.push(origin.into()),
        }
        self
    }

    /// Whether the browser may send cookies (`EventSource`'s `withCredentials`).
    pub fn credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long the browser may cache a preflight answer.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The check [`SseServerBuilder::build`](crate::SseServerBuilder::build) runs, for settings
    /// read at startup that should be refused before anything else is built.
    ///
    /// ```
    /// use sse_manager::{ConfigError, Cors};
    ///
    /// assert!(Cors::origin("https://scores.example").validate().is_ok());
    /// assert_eq!(
    ///     Cors::origin("scores.example").validate(),
    ///     Err(ConfigError::InvalidCorsOrigin("scores.example".into())),
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        match &self.origins {
            Origins::Any if self.credentials => {
                Err(crate::ConfigError::CorsCredentialsWithAnyOrigin)
            }
            Origins::Any => Ok(()),
            Origins::List(list) => {
                for origin in list {
                    if !is_origin(origin) {
                        return Err(crate::ConfigError::InvalidCorsOrigin(origin.clone()));
                    }
                }
                Ok(())
            }
        }
    }

    #[cfg(feature = "axum")]
    pub(crate) fn origin_values(&self) -> Option<Vec<HeaderValue>> {
        match &self.origins {
            Origins::Any => None,
            // Browsers send scheme and host in lowercase; compare that way.
            Origins::List(list) => Some(
                list.iter()
                    .filter_map(|o| HeaderValue::from_str(&o.to_ascii_lowercase()).ok())
                    .collect(),
            ),
        }
    }
}

/// `scheme://host[:port]` with nothing after it: what browsers send in `Origin`.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '*'])
        && HeaderValue::from_str(origin).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(Cors::origin("https://a.example").validate().is_ok());
        assert!(Cors::origin("http://127.0.0.1:3000").validate().is_ok());
        for bad in [
            "a.example",
            "https://a.example/",
            "https://*.example",
            "https://",
            "",
        ] {
            assert!(Cors::origin(bad).validate().is_err(), "{bad}");
        }
        assert!(Cors::any().validate().is_ok());
        assert!(Cors::any().credentials(true).validate().is_err());
        assert!(Cors::origin("https://a.example")
            .credentials(true)
            .validate()
            .is_ok());
    }
}
