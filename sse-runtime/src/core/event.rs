//! The contract between `#[derive(SseEvents)]` and the runtime.

use std::fmt;

/// A set of events: one enum, one namespace. Implemented by `#[derive(SseEvents)]`.
///
/// Each variant is one event. Its name (the `event:` line, and what the browser passes to
/// `addEventListener`) is the variant name in `snake_case` unless renamed with
/// `#[sse(rename = "...")]`; its payload (the `data:` line) is JSON:
///
/// | variant | payload |
/// |---|---|
/// | `ScoreUpdate { home: u32, away: u32 }` | `{"home":1,"away":0}`, field names per `#[sse(rename_all)]` and serde field attributes |
/// | `Announcement(Message)` | whatever `Message`'s `Serialize` writes |
/// | `Kickoff` | `null` |
pub trait SseEvents: Send + Sync + 'static {
    /// Every event name of the set, in declaration order.
    const NAMES: &'static [&'static str];

    /// The event name of this value.
    fn name(&self) -> &'static str;

    /// Writes this value's payload as JSON.
    ///
    /// # Errors
    ///
    /// Fails only when a payload's `Serialize` fails (a map with non-string keys, say).
    fn write_data(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;

    /// Rebuilds an event from its name and JSON payload: the inverse of [`name`](Self::name) and
    /// [`write_data`](Self::write_data), used by publish APIs and adapters.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the name is not in [`NAMES`](Self::NAMES) or the payload does not fit
    /// the variant's types.
    fn decode(name: &str, data: &str) -> Result<Self, DecodeError>
    where
        Self: Sized;
}

/// Why a `(name, payload)` pair is not an event of a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The name is not one of the set's events.
    #[error("unknown event `{name}`, expected one of: {}", Expected(expected))]
    UnknownEvent {
        /// The name that was asked for.
        name: String,
        /// The names the set has.
        expected: &'static [&'static str],
    },
    /// The payload is not valid JSON for the event's payload type.
    #[error("invalid payload for event `{name}`: {reason}")]
    InvalidPayload {
        /// The event whose payload was refused.
        name: String,
        /// What serde said, with line and column.
        reason: String,
    },
}

struct Expected(&'static [&'static str]);

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

impl DecodeError {
    /// Used by generated code for a name outside the set.
    #[doc(hidden)]
    pub fn unknown_event(name: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownEvent {
            name: name.to_owned(),
            expected,
        }
    }
}

fn invalid(name: &str, reason: impl fmt::Display) -> DecodeError {
    DecodeError::InvalidPayload {
        name: name.to_owned(),
        reason: reason.to_string(),
    }
}

/// Used by generated code: parses a payload, naming the event in the error.
#[doc(hidden)]
pub fn decode_json<T: serde::de::DeserializeOwned>(
    name: &str,
    data: &str,
) -> Result<T, DecodeError> {
    serde_json::from_str(data).map_err(|err| invalid(name, err))
}

/// Used by generated code: parses the payload of a struct variant, which is a JSON object and
/// nothing else. serde's derived `Deserialize` for a struct also reads a JSON array of the
/// fields in order, which encoding never writes.
#[doc(hidden)]
pub fn decode_object<T: serde::de::DeserializeOwned>(
    name: &str,
    data: &str,
) -> Result<T, DecodeError> {
    // JSON's whitespace, which serde_json skips before a value.
    let value = data.trim_start_matches([' ', '\t', '\n', '\r']);
    if value.starts_with('{') {
        return decode_json(name, data);
    }
    // Not JSON at all: serde_json's message, with line and column, says where.
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(data) {
        return Err(invalid(name, err));
    }
    let found = match value.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(invalid(
        name,
        format_args!("expected the payload of event `{name}`, a JSON object, found {found}"),
    ))
}

/// Used by generated code: parses the payload of a newtype variant with its
/// `#[serde(deserialize_with)]` function.
#[doc(hidden)]
pub fn decode_with<T, F>(name: &str, data: &str, read: F) -> Result<T, DecodeError>
where
    F: for<'a, 'de> FnOnce(
        &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    ) -> Result<T, serde_json::Error>,
{
    let mut deserializer = serde_json::Deserializer::from_str(data);
    read(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|err| invalid(name, err))
}

/// Used by generated code: writes the payload of a newtype variant with its
/// `#[serde(serialize_with)]` function.
#[doc(hidden)]
pub fn write_with<F>(out: &mut Vec<u8>, write: F) -> Result<(), serde_json::Error>
where
    F: FnOnce(&mut serde_json::Serializer<&mut Vec<u8>>) -> Result<(), serde_json::Error>,
{
    write(&mut serde_json::Serializer::new(out))
}

/// Used by generated code: a unit variant's payload is `null`.
#[doc(hidden)]
pub fn decode_unit(name: &str, data: &str) -> Result<(), DecodeError> {
    decode_json::<()>(name, data)
}
