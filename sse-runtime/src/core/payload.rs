//! What a type needs to be an event payload.
//!
//! A payload is sent as JSON and rebuilt from JSON by [`SseEvents::decode`](crate::SseEvents::decode),
//! so its type implements serde's `Serialize` and `Deserialize`. `#[derive(SseEvents)]` asks for
//! that through the traits and functions here rather than through serde's derive, so a payload
//! type that lacks either is reported once, under that type, in words about events:
//!
//! ```text
//! error[E0277]: `Lineup` cannot be an event payload: it does not implement `serde::Serialize`
//!    |
//! 11 |     Lineup(Lineup),
//!    |            ^^^^^^ payload type without `serde::Serialize`
//! ```
//!
//! Every type with serde's traits has these; there is nothing to implement by hand.

use crate::core::event::decode_json;
use crate::DecodeError;

/// Parses the payload of a newtype variant. The bound is [`DeserializePayload`] rather than
/// serde's, so a payload type without `Deserialize` is reported in terms of events, under the
/// user's type.
pub fn decode_payload<T: DeserializePayload>(name: &str, data: &str) -> Result<T, DecodeError> {
    decode_json(name, data)
}

/// Writes the payload of a newtype variant. The bound is [`SerializePayload`] rather than
/// serde's, for the same reason as [`decode_payload`].
pub fn write_payload<T: ?Sized + SerializePayload>(
    out: &mut Vec<u8>,
    payload: &T,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(out, payload)
}

/// Writes a plain field of a struct variant, as serde's `serialize_with`. The bound is
/// [`SerializePayload`] rather than serde's, for the same reason as [`decode_payload`].
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event payload: it does not implement `serde::Deserialize`",
    label = "payload type without `serde::Deserialize`",
    note = "`SseEvents::decode` rebuilds events from JSON: add `#[derive(serde::Deserialize)]` to `{Self}`, or to the type inside it if it is a container such as `Option` or `Vec`"
)]
pub trait DeserializePayload: serde::de::DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: serde::de::DeserializeOwned> DeserializePayload for T {}
