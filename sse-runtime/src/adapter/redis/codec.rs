//! What the Redis adapter writes to Redis and reads back: the entry blob (Stream field `d`, and
//! the payload of a data message), the messages of the namespace channel, and the Redis keys.
//!
//! An entry is `u32 len | u8 kind | u64 origin | u64 k | u32 selector len | selector | body`
//! (big-endian, `len` counts what follows it): self-delimiting, so a batch of entries is their
//! concatenation, and the body (the encoded frame without its `id:` line) is sliced out without a
//! copy. A selector is `u8 scope` (0 namespace, 1 rooms, 2 one client), then for rooms
//! `u32 n, (u32 len, UTF-8)*`, for a client `u64 node, u64 n`; then the except rooms, as rooms.

use crate::core::room::{ClientId, Room, Scope, Selector};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// An event of the namespace.
pub(super) const KIND_EVENT: u8 = 0;
/// An outage marker: instance `origin` delivered events up to its `k` that never reached the
/// log; every other instance sends `sse:resync` (`outage`) at this point.
pub(super) const KIND_LOST: u8 = 1;

/// One entry of the log, as an instance emitted it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) kind: u8,
    /// The emitting instance's node id.
    pub(super) origin: u64,
    /// The emitting instance's own sequence number for the entry (from 1, per namespace).
    pub(super) k: u64,
    pub(super) selector: Selector,
    pub(super) body: Bytes,
}

fn put_rooms(out: &mut Vec<u8>, rooms: &[Room]) {
    out.put_u32(u32::try_from(rooms.len()).unwrap_or(u32::MAX));
    for room in rooms {
        out.put_u32(u32::try_from(room.len()).unwrap_or(u32::MAX));
        out.put_slice(room.as_bytes());
    }
}

fn encode_selector(selector: &Selector) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    match &selector.scope {
        Scope::Namespace => out.put_u8(0),
        Scope::Rooms(rooms) => {
            out.put_u8(1);
            put_rooms(&mut out, rooms);
        }
        Scope::Client(id) => {
            out.put_u8(2);
            let (node, n) = id.parts();
            out.put_u64(node);
            out.put_u64(n);
        }
    }
    put_rooms(&mut out, &selector.except);
    out
}

fn get_rooms(bytes: &mut Bytes) -> Result<Vec<Room>, Malformed> {
    if bytes.len() < 4 {
        return Err(Malformed("truncated room count"));
    }
    let n = bytes.get_u32() as usize;
    // Each room takes at least its 4-byte length: a count beyond that is a lie.
    if n > bytes.len() / 4 {
        return Err(Malformed("room count"));
    }
    let mut rooms = Vec::with_capacity(n);
    for _ in 0..n {
        if bytes.len() < 4 {
            return Err(Malformed("truncated room length"));
        }
        let len = bytes.get_u32() as usize;
        if bytes.len() < len {
            return Err(Malformed("truncated room"));
        }
        let name = bytes.split_to(len);
        let name = std::str::from_utf8(&name).map_err(|_| Malformed("room is not UTF-8"))?;
        rooms.push(Room::from(name));
    }
    Ok(rooms)
}

fn decode_selector(mut bytes: Bytes) -> Result<Selector, Malformed> {
    if bytes.is_empty() {
        return Err(Malformed("empty selector"));
    }
    let scope = match bytes.get_u8() {
        0 => Scope::Namespace,
        1 => Scope::Rooms(get_rooms(&mut bytes)?),
        2 if bytes.len() >= 16 => {
            let node = bytes.get_u64();
            Scope::Client(ClientId::from_parts(node, bytes.get_u64()))
        }
        _ => return Err(Malformed("selector scope")),
    };
    let except = get_rooms(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(Malformed("bytes after the selector"));
    }
    Ok(Selector { scope, except })
}

/// The kind given to an entry of the log that cannot be decoded: skipped at delivery.
pub(super) const KIND_UNREADABLE: u8 = u8::MAX;

impl Entry {
    /// What stands for an entry of the log that cannot be decoded.
    pub(super) fn unreadable() -> Self {
        Entry {
            kind: KIND_UNREADABLE,
            origin: 0,
            k: 0,
            selector: Selector::all(),
            body: Bytes::new(),
        }
    }
}

/// An entry blob.
pub(super) fn encode(kind: u8, origin: u64, k: u64, selector: &Selector, body: &[u8]) -> Bytes {
    let selector = encode_selector(selector);
    let len = 1 + 8 + 8 + 4 + selector.len() + body.len();
    let mut out = BytesMut::with_capacity(4 + len);
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    out.put_u8(kind);
    out.put_u64(origin);
    out.put_u64(k);
    out.put_u32(u32::try_from(selector.len()).unwrap_or(u32::MAX));
    out.put_slice(&selector);
    out.put_slice(body);
    out.freeze()
}

/// Something read from Redis that this version did not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed entry from Redis: {0}")]
pub(super) struct Malformed(pub(super) &'static str);

/// Every entry of a concatenation of blobs.
pub(super) fn decode_all(mut blobs: Bytes) -> Result<Vec<Entry>, Malformed> {
    let mut entries = Vec::new();
    while !blobs.is_empty() {
        if blobs.len() < 4 {
            return Err(Malformed("truncated length"));
        }
        let len = blobs.get_u32() as usize;
        if blobs.len() < len || len < 21 {
            return Err(Malformed("truncated entry"));
        }
        let mut entry = blobs.split_to(len);
        let kind = entry.get_u8();
        let origin = entry.get_u64();
        let k = entry.get_u64();
        let selector_len = entry.get_u32() as usize;
        if entry.len() < selector_len {
            return Err(Malformed("truncated selector"));
        }
        let selector = decode_selector(entry.split_to(selector_len))?;
        entries.push(Entry {
            kind,
            origin,
            k,
            selector,
            body: entry,
        });
    }
    Ok(entries)
}

/// One message on the namespace channel.
#[derive(Debug)]
pub(super) enum Message {
    /// `D <epoch> <first offset> <n> <ms>\n` and `n` entry blobs: entries `first..first+n`.
    Data {
        epoch: u64,
        first: u64,
        entries: Vec<Entry>,
    },
    /// `P <node> <nonce> <epoch or -> <head>`: every entry through `head` was published before.
    Probe {
        node: u64,
        nonce: u64,
        epoch: Option<u64>,
        head: u64,
    },
}

pub(super) fn parse_message(payload: &[u8]) -> Result<Message, Malformed> {
    let (line, rest) = match payload.iter().position(|&b| b == b'\n') {
        Some(at) => (&payload[..at], &payload[at + 1..]),
        None => (payload, &payload[payload.len()..]),
    };
    let line = std::str::from_utf8(line).map_err(|_| Malformed("header is not UTF-8"))?;
    let mut fields = line.split(' ');
    let hex = |s: Option<&str>| {
        s.and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or(Malformed("bad hex field"))
    };
    let dec = |s: Option<&str>| {
        s.and_then(|s| s.parse::<u64>().ok())
            .ok_or(Malformed("bad number field"))
    };
    match fields.next() {
        Some("D") => {
            let epoch = hex(fields.next())?;
            let first = dec(fields.next())?;
            let n = dec(fields.next())?;
            let entries = decode_all(Bytes::copy_from_slice(rest))?;
            if entries.len() as u64 != n || first == 0 {
                return Err(Malformed("entry count"));
            }
            Ok(Message::Data {
                epoch,
                first,
                entries,
            })
        }
        Some("P") => {
            let node = hex(fields.next())?;
            let nonce = hex(fields.next())?;
            let epoch = match fields.next() {
                Some("-") => None,
                other => Some(hex(other)?),
            };
            let head = dec(fields.next())?;
            Ok(Message::Probe {
                node,
                nonce,
                epoch,
                head,
            })
        }
        _ => Err(Malformed("unknown message")),
    }
}

/// The Redis keys and channels of one namespace: every one carries the hash tag `{<path>}`, so a
/// namespace lives in one Redis Cluster slot.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    /// Hash: `e` epoch (hex), `o` head offset.
    pub(super) meta: String,
    /// Stream: one entry per offset, id `<offset>-0`, fields `t` (ms, Redis clock), `d` (blob).
    pub(super) log: String,
    /// String: the highest `k` this instance appended (its idempotency mark), with a TTL.
    pub(super) origin: String,
    /// Channel: data messages and probes.
    pub(super) channel: String,
    /// Zset: instance → last heartbeat (ms, Redis clock).
    pub(super) members: String,
    /// Channel: cluster-wide requests.
    pub(super) requests: String,
    /// Channel: answers to this instance's requests.
    pub(super) answers: String,
}

impl Keys {
    pub(super) fn new(prefix: &str, path: &str, node: u64) -> Self {
        // A `}` would end the hash tag early; `{` is harmless but escaped with it for symmetry.
        let tag: String = path
            .chars()
            .flat_map(|c| match c {
                '{' => vec!['%', '7', 'B'],
                '}' => vec!['%', '7', 'D'],
                '%' => vec!['%', '2', '5'],
                c => vec![c],
            })
            .collect();
        let base = format!("{prefix}:{{{tag}}}");
        Keys {
            meta: format!("{base}:meta"),
            log: format!("{base}:log"),
            origin: format!("{base}:meta:origin:{node:x}"),
            channel: format!("{base}:ch"),
            members: format!("{base}:members"),
            requests: format!("{base}:req"),
            answers: format!("{base}:req:resp:{node:x}"),
        }
    }

    pub(super) fn answers_of(&self, node: u64) -> String {
        let base = self.answers.rsplit_once(':').map_or("", |(base, _)| base);
        format!("{base}:{node:x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::room::{Room, Scope};

    #[test]
    fn blobs_round_trip_byte_exact_and_concatenate() {
        let selector = Selector {
            scope: Scope::Rooms(vec![Room::from("a"), Room::from("b c")]),
            except: vec![Room::from("muted")],
        };
        let body = b"event: x\ndata: \x00\r\n\xff\n\n";
        let mut both = BytesMut::new();
        both.put(encode(KIND_EVENT, 7, 1, &selector, body));
        both.put(encode(KIND_LOST, 7, 9, &Selector::all(), b"1..9"));
        let one = Selector {
            scope: Scope::Client(ClientId::from_parts(0xab, 0xcd)),
            except: Vec::new(),
        };
        both.put(encode(KIND_EVENT, 8, 1, &one, b""));
        let entries = decode_all(both.freeze()).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].selector, one);
        assert_eq!(
            (entries[0].kind, entries[0].origin, entries[0].k),
            (KIND_EVENT, 7, 1)
        );
        assert_eq!(entries[0].selector, selector);
        assert_eq!(&entries[0].body[..], body);
        assert_eq!(
            (entries[1].kind, &entries[1].body[..]),
            (KIND_LOST, &b"1..9"[..])
        );
        assert!(decode_all(Bytes::from_static(b"\x00\x00\x00\x30abc")).is_err());
    }

    /// Whatever a message carries (another version, a corrupted entry), decoding answers
    /// `Err` or an entry, and never panics or allocates by a length it read.
    #[test]
    fn arbitrary_bytes_are_refused_not_panicked_on() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let valid = encode(KIND_EVENT, 1, 2, &Selector::all(), b"data: x\n\n");
        for round in 0..2_000 {
            let mut bytes = valid.to_vec();
            // Flip a few bytes, or cut it short, or both.
            for _ in 0..(round % 4) {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let at = (seed >> 33) as usize % bytes.len();
                bytes[at] = (seed >> 17) as u8;
            }
            if round % 3 == 0 {
                bytes.truncate((seed >> 40) as usize % (bytes.len() + 1));
            }
            let _ = decode_all(Bytes::from(bytes));
        }
        // A room count that would need more bytes than there are is refused up front.
        let mut lying = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        lying.extend_from_slice(&9u32.to_be_bytes());
        lying.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff]);
        let mut blob = ((lying.len()) as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(&lying);
        assert!(decode_all(Bytes::from(blob)).is_err());
    }

    #[test]
    fn every_key_carries_one_hash_tag() {
        let keys = Keys::new("sse", "/foot}ball", 0xab);
        for key in [
            &keys.meta,
            &keys.log,
            &keys.origin,
            &keys.channel,
            &keys.answers,
        ] {
            assert!(key.starts_with("sse:{/foot%7Dball}:"), "{key}");
        }
        assert_eq!(keys.answers_of(0xcd), "sse:{/foot%7Dball}:req:resp:cd");
    }

    #[test]
    fn messages_parse() {
        let blob = encode(KIND_EVENT, 1, 2, &Selector::all(), b"data: x\n\n");
        let mut payload = b"D 3b65f495d469 7 1 1700000000000\n".to_vec();
        payload.extend_from_slice(&blob);
        match parse_message(&payload).unwrap() {
            Message::Data {
                epoch,
                first,
                entries,
            } => assert_eq!((epoch, first, entries.len()), (0x3b65f495d469, 7, 1)),
            other => panic!("{other:?}"),
        }
        match parse_message(b"P ab 1f - 0").unwrap() {
            Message::Probe {
                node,
                nonce,
                epoch,
                head,
            } => {
                assert_eq!((node, nonce, epoch, head), (0xab, 0x1f, None, 0));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_message(b"D 1 1 2 0\n").is_err());
        assert!(parse_message(b"X").is_err());
    }
}
