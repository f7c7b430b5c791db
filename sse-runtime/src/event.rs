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

/// Used by generated code: parses a payload, naming the event in the error.
#[doc(hidden)]
pub fn decode_json<T: serde::de::DeserializeOwned>(
    name: &str,
    data: &str,
) -> Result<T, DecodeError> {
    serde_json::from_str(data).map_err(|err| DecodeError::InvalidPayload {
        name: name.to_owned(),
        reason: err.to_string(),
    })
}

/// Used by generated code: parses the payload of a newtype variant. The bound is
/// [`DeserializePayload`] rather than serde's, so a payload type without `Deserialize` is reported
/// in terms of events, under the user's type.
#[doc(hidden)]
pub fn decode_payload<T: DeserializePayload>(name: &str, data: &str) -> Result<T, DecodeError> {
    decode_json(name, data)
}

/// Used by generated code: writes the payload of a newtype variant. The bound is
/// [`SerializePayload`] rather than serde's, for the same reason as [`decode_payload`].
#[doc(hidden)]
pub fn write_payload<T: ?Sized + SerializePayload>(
    out: &mut Vec<u8>,
    payload: &T,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(out, payload)
}

/// Used by generated code: writes a plain field of a struct variant, as serde's
/// `serialize_with`. The bound is [`SerializePayload`] rather than serde's, for the same reason
/// as [`decode_payload`].
#[doc(hidden)]
pub fn serialize_payload<T, S>(payload: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: ?Sized + SerializePayload,
    S: serde::Serializer,
{
    payload.serialize(serializer)
}

/// `Serialize`, under a name and an error message that speak of events. Generated code asks for
/// it where a payload is written, so a missing `Serialize` is reported once, under the payload
/// type, with what to do about it. `do_not_recommend` keeps rustc on this trait's message instead
/// of looking through the blanket impl to serde's (and its list of every `Serialize` type).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event payload: it does not implement `serde::Serialize`",
    label = "payload type without `serde::Serialize`",
    note = "an event's payload is sent as JSON: add `#[derive(serde::Serialize)]` to `{Self}`, or to the type inside it if it is a container such as `Option` or `Vec`"
)]
pub trait SerializePayload: serde::Serialize {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized + serde::Serialize> SerializePayload for T {}

/// `DeserializeOwned`, for the same reason as [`SerializePayload`]: `decode` rebuilds every
/// payload from JSON.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event payload: it does not implement `serde::Deserialize`",
    label = "payload type without `serde::Deserialize`",
    note = "`SseEvents::decode` rebuilds events from JSON: add `#[derive(serde::Deserialize)]` to `{Self}`, or to the type inside it if it is a container such as `Option` or `Vec`"
)]
pub trait DeserializePayload: serde::de::DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: serde::de::DeserializeOwned> DeserializePayload for T {}

/// Used by generated code: a unit variant's payload is `null`.
#[doc(hidden)]
pub fn decode_unit(name: &str, data: &str) -> Result<(), DecodeError> {
    decode_json::<()>(name, data)
}
