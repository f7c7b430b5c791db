//! Event ids: an epoch and an offset.
//!
//! The adapter of a namespace orders its events: each gets the next offset of the namespace's
//! current epoch, counting up by one from 1. An epoch is a run of offsets that name the same events
//! wherever they are read: one process run for the in-memory adapter; one life of the Redis keys
//! for the Redis adapter, shared by every instance. On the wire an id is `<epoch>-<offset>`
//! (`3f2a9c1b7d4e8a10-42`), opaque to clients, which send it back as `Last-Event-ID`; an id of
//! another epoch cannot be resumed from and gets one `sse:resync` instead.

use std::fmt;
use std::str::FromStr;

/// The id of one event: `<epoch>-<offset>` on the wire.
///
/// ```
/// use sse_manager::EventId;
///
/// let id: EventId = "3f2a9c1b7d4e8a10-42".parse().unwrap();
/// assert_eq!((id.epoch(), id.offset()), (0x3f2a9c1b7d4e8a10, 42));
/// assert_eq!(id.to_string(), "3f2a9c1b7d4e8a10-42");
/// assert_eq!(id.next().offset(), 43);
/// assert!("42".parse::<EventId>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    epoch: u64,
    offset: u64,
}

impl EventId {
    /// The id of the event at `offset` in `epoch`.
    pub const fn new(epoch: u64, offset: u64) -> Self {
        EventId { epoch, offset }
    }

    /// The epoch: which run of offsets this id belongs to.
    pub const fn epoch(self) -> u64 {
        self.epoch
    }

    /// The position in the epoch, from 1.
    pub const fn offset(self) -> u64 {
        self.offset
    }

    /// The id after this one in the same epoch.
    #[must_use]
    pub const fn next(self) -> Self {
        EventId {
            epoch: self.epoch,
            offset: self.offset.saturating_add(1),
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{}", self.epoch, self.offset)
    }
}

/// A random number, for epochs and node ids: each `RandomState` has fresh random keys, so hashing
/// nothing with it yields one.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A string that is not an id this library writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an event id of the form `<hex epoch>-<offset>`")]
pub struct ParseEventIdError(String);

impl FromStr for EventId {
    type Err = ParseEventIdError;

    /// Only the spelling `Display` writes (lowercase hex, no leading zeros or signs), so one id
    /// has one string and anything else is reported as malformed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseEventIdError(text.to_owned());
        let (epoch, offset) = text.split_once('-').ok_or_else(error)?;
        let hex =
            |s: &str| !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let decimal = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !hex(epoch) || !decimal(offset) {
            return Err(error());
        }
        let id = EventId {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| error())?,
            offset: offset.parse().map_err(|_| error())?,
        };
        if id.to_string() != text {
            return Err(error());
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::EventId;

    #[test]
    fn only_the_written_spelling_parses() {
        let id = EventId::new(0xab, 7);
        assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
        for bad in [
            "",
            "7",
            "ab",
            "ab-",
            "-7",
            "ab-7-1",
            "AB-7",
            "0ab-7",
            "ab-07",
            "ab-+7",
            "ab- 7",
            "xy-7",
            "ab-18446744073709551616",
            "10000000000000000-1",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?}");
        }
        assert_eq!(
            EventId::new(u64::MAX, u64::MAX).to_string().len(),
            16 + 1 + 20,
            "fits the 64-byte Last-Event-ID limit"
        );
    }
}
