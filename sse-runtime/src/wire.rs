//! SSE frame encoding (WHATWG HTML §9.2 "Server-sent events"): bytes and strings only.
//!
//! Every frame the server writes is built here, behind one validating chokepoint:
//!
//! - `data` is split at every `\r\n`, `\r` and `\n` into one `data:` line each, so a payload can
//!   never end a field early or inject a field of its own; the browser joins the lines back with
//!   `\n`. (A lone `\r` therefore arrives as `\n`: the format has no way to carry it.)
//! - Event names and ids may not contain `\r` or `\n` (ids not NUL either): there is no escaping
//!   for them, so they are refused with a [`WireError`] instead.
//! - Every field is written as `name: value`; the single space after the colon is the one the
//!   parser strips, so a value that starts with a space keeps it.
//!
//! ```
//! use sse_manager::wire;
//!
//! let frame = wire::event(Some("7"), Some("score_update"), "line one\nline two").unwrap();
//! assert_eq!(&frame[..], b"id: 7\nevent: score_update\ndata: line one\ndata: line two\n\n");
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// The heartbeat: an empty comment, which `EventSource` ignores but which keeps proxies and the
/// connection's idle timers from closing a quiet stream.
pub const HEARTBEAT: Bytes = Bytes::from_static(b":\n\n");

/// The event the library sends when it cannot resume a stream exactly, so the page knows to
/// reload its state. Its name contains `:`, which `#[derive(SseEvents)]` forbids, so it never
/// collides with an application event.
///
/// The data is a JSON object: `reason` is `"expired"` (the id is older than the history window),
/// `"unknown"` (newer than any event, or of another run or instance), `"malformed"` (not an id of
/// ours), `"lagged"` (frames were dropped under [`SlowClientPolicy::DropOldest`]), and with the
/// Redis adapter `"outage"` (another instance delivered events during a Redis outage that could not
/// be passed on) or `"epoch"` (Redis restarted empty: ids from before mean nothing now);
/// `lastEventId` is the id the client sent (`null` when the notice is not about it), and `dropped`
/// counts the frames lost when `lagged`.
///
/// ```text
/// event: sse:resync
/// data: {"reason":"expired","lastEventId":"3f2a9c1b7d4e8a10-12"}
/// ```
///
/// [`SlowClientPolicy::DropOldest`]: crate::SlowClientPolicy::DropOldest
pub const RESYNC_EVENT: &str = "sse:resync";

/// Why a stream is not an exact continuation; the `reason` of [`RESYNC_EVENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResyncReason {
    Expired,
    Unknown,
    Malformed,
    Lagged,
    /// Events were delivered on another instance during a Redis outage and could not be passed
    /// on (the adapter's outbox was full).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Outage,
    /// The shared order started a new epoch (Redis restarted empty): ids from before mean
    /// nothing now.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Epoch,
}

/// The [`RESYNC_EVENT`] frame. It has no `id:` line, so the browser keeps its last id.
pub(crate) fn resync(
    reason: ResyncReason,
    last_event_id: Option<&str>,
    dropped: Option<u64>,
) -> Bytes {
    let reason = match reason {
        ResyncReason::Expired => "expired",
        ResyncReason::Unknown => "unknown",
        ResyncReason::Malformed => "malformed",
        ResyncReason::Lagged => "lagged",
        ResyncReason::Outage => "outage",
        ResyncReason::Epoch => "epoch",
    };
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        reason: &'a str,
        last_event_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dropped: Option<u64>,
    }
    let data = Data {
        reason,
        last_event_id,
        dropped,
    };
    // A struct of strings and numbers always serializes.
    let json = serde_json::to_vec(&data).unwrap_or_default();
    event_body(RESYNC_EVENT, &json)
}

/// A field value that cannot be written to the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// An event name was empty: the browser would dispatch it as `message`.
    #[error("an event name cannot be empty")]
    EmptyEventName,
    /// An event name contained `\r` or `\n`, which would end the field.
    #[error("event name {0:?} contains a line break")]
    EventNameLineBreak(String),
    /// An id contained `\r`, `\n` or NUL; the browser ignores ids with NUL.
    #[error("event id {0:?} contains a line break or NUL")]
    InvalidId(String),
}

/// Encodes one event: optional `id:`, optional `event:`, then `data:` lines and the blank line
/// that dispatches it.
pub fn event(id: Option<&str>, name: Option<&str>, data: &str) -> Result<Bytes, WireError> {
    if let Some(id) = id {
        check_id(id)?;
    }
    if let Some(name) = name {
        check_event_name(name)?;
    }
    let mut out = BytesMut::with_capacity(data.len() + 32);
    if let Some(id) = id {
        field(&mut out, b"id", id.as_bytes());
    }
    if let Some(name) = name {
        field(&mut out, b"event", name.as_bytes());
    }
    data_lines(&mut out, data.as_bytes());
    out.put_u8(b'\n');
    Ok(out.freeze())
}

/// Encodes a comment line (`: text`), split at line breaks like `data`.
pub fn comment(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 4);
    for line in lines(text.as_bytes()) {
        field(&mut out, b"", line);
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// Encodes the reconnection hint: `retry: <milliseconds>`.
pub fn retry(millis: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(24);
    field(&mut out, b"retry", millis.to_string().as_bytes());
    out.put_u8(b'\n');
    out.freeze()
}

/// Checks a name for the `event:` field.
pub fn check_event_name(name: &str) -> Result<(), WireError> {
    if name.is_empty() {
        return Err(WireError::EmptyEventName);
    }
    if name.contains(['\r', '\n']) {
        return Err(WireError::EventNameLineBreak(name.to_owned()));
    }
    Ok(())
}

/// Checks a value for the `id:` field.
pub fn check_id(id: &str) -> Result<(), WireError> {
    if id.contains(['\r', '\n', '\0']) {
        return Err(WireError::InvalidId(id.to_owned()));
    }
    Ok(())
}

/// The `event:` and `data:` lines of an event whose name was validated and whose data is JSON;
/// the id is prepended per emit by [`with_id`]. Names come from [`RESYNC_EVENT`] or from an event
/// set's `NAMES`, which `SseServer::of` checks at run time (emit refuses any other name), so the
/// assertion only guards this crate's own callers.
pub(crate) fn event_body(name: &str, data: &[u8]) -> Bytes {
    debug_assert!(check_event_name(name).is_ok());
    let mut out = BytesMut::with_capacity(name.len() + data.len() + 16);
    field(&mut out, b"event", name.as_bytes());
    data_lines(&mut out, data);
    out.put_u8(b'\n');
    out.freeze()
}

/// Prepends `id: <id>` to a body from [`event_body`]. The id is written by its `Display`, which
/// for an event id has no line break (checked in debug builds).
pub(crate) fn with_id(id: impl std::fmt::Display, body: &[u8]) -> Bytes {
    use std::fmt::Write;
    let mut out = BytesMut::with_capacity(body.len() + 48);
    // Writing to a `BytesMut` cannot fail.
    let _ = writeln!(out, "id: {id}");
    debug_assert!(check_id(std::str::from_utf8(&out[4..out.len() - 1]).unwrap_or("\n")).is_ok());
    out.put_slice(body);
    out.freeze()
}

fn data_lines(out: &mut BytesMut, data: &[u8]) {
    for line in lines(data) {
        field(out, b"data", line);
    }
}

/// The one place a field line is written; callers have removed line breaks from `value`.
fn field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_u8(b'\n');
}

/// Splits at `\r\n`, `\r` and `\n`; an empty input is one empty line.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(at) => {
                let skip = if current[at] == b'\r' && current.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_split_at_every_line_break() {
        let frame = event(None, None, "a\nb\r\nc\rd").unwrap();
        assert_eq!(&frame[..], b"data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn empty_data_and_trailing_breaks_keep_their_lines() {
        assert_eq!(&event(None, None, "").unwrap()[..], b"data: \n\n");
        assert_eq!(
            &event(None, None, "a\n").unwrap()[..],
            b"data: a\ndata: \n\n"
        );
        assert_eq!(
            &event(None, None, "\n\n").unwrap()[..],
            b"data: \ndata: \ndata: \n\n"
        );
    }

    #[test]
    fn field_lookalikes_stay_inside_data() {
        let frame = event(Some("1"), Some("x"), "data: evil\nevent: open\n\nid: 9").unwrap();
        assert_eq!(
            &frame[..],
            b"id: 1\nevent: x\ndata: data: evil\ndata: event: open\ndata: \ndata: id: 9\n\n"
        );
    }

    #[test]
    fn names_and_ids_with_line_breaks_are_refused() {
        assert_eq!(event(None, Some(""), "x"), Err(WireError::EmptyEventName));
        assert_eq!(
            event(None, Some("a\nb"), "x"),
            Err(WireError::EventNameLineBreak("a\nb".into()))
        );
        assert_eq!(
            event(Some("1\r"), None, "x"),
            Err(WireError::InvalidId("1\r".into()))
        );
        assert_eq!(
            event(Some("1\0"), None, "x"),
            Err(WireError::InvalidId("1\0".into()))
        );
    }

    #[test]
    fn body_then_id() {
        let body = event_body("goal", br#"{"a":1}"#);
        assert_eq!(
            &with_id("beef-42", &body)[..],
            b"id: beef-42\nevent: goal\ndata: {\"a\":1}\n\n"
        );
    }

    #[test]
    fn resync_frames() {
        assert_eq!(
            &resync(ResyncReason::Expired, Some("12"), None)[..],
            b"event: sse:resync\ndata: {\"reason\":\"expired\",\"lastEventId\":\"12\"}\n\n"
        );
        assert_eq!(
            &resync(ResyncReason::Lagged, None, Some(3))[..],
            b"event: sse:resync\ndata: {\"reason\":\"lagged\",\"lastEventId\":null,\"dropped\":3}\n\n"
        );
    }

    #[test]
    fn comment_retry_heartbeat() {
        assert_eq!(&comment("hi\nthere")[..], b": hi\n: there\n\n");
        assert_eq!(&retry(2500)[..], b"retry: 2500\n\n");
        assert_eq!(&HEARTBEAT[..], b":\n\n");
    }
}
