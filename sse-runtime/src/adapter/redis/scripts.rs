//! The Lua scripts the adapter runs, and their replies. Every key a script touches is in `KEYS`
//! and carries the namespace's hash tag. Numbers are formatted with `%d`: Lua 5.1 writes
//! `1e+14` for a plain concatenation from offset 10^14 on.

use super::codec::{decode_all, Entry, Malformed};
use bytes::Bytes;
use redis::{Script, Value};
use std::sync::LazyLock;

/// Appends a batch of entries to the log and publishes them in one message; creates the epoch
/// when there is none, and starts a new one when the caller proves that the store lost writes
/// (its epoch matches, its delivered offset is above the head). Skips entries at or below the
/// caller's idempotency mark in this epoch, so a batch may be resent after an ambiguous failure,
/// and resent whole into a new epoch. Writes nothing
/// that can fail after the first write (scripts are not rolled back).
///
/// KEYS: meta, log, origin key. ARGV: channel, max stream length, fresh epoch, the caller's
/// epoch (or ""), the caller's delivered offset, origin TTL (s), then pairs `(k, entry blob)`.
/// Returns `{epoch, first offset, appended, head}`.
pub(super) static EMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local meta, log, okey = KEYS[1], KEYS[2], KEYS[3]
local m = redis.call('HMGET', meta, 'e', 'o')
local epoch, head = m[1], tonumber(m[2])
if (not epoch) or (epoch == ARGV[4] and head < tonumber(ARGV[5])) then
  epoch = ARGV[3]
  head = 0
  redis.call('DEL', log)
  redis.call('HSET', meta, 'e', epoch, 'o', '0')
end
-- The caller's mark is `<epoch>:<k>`: one of an earlier epoch says nothing about this log.
local hw = 0
local mark = redis.call('GET', okey)
if mark then
  local e, k = string.match(mark, '^(%x+):(%d+)$')
  if e == epoch then hw = tonumber(k) end
end
local t = redis.call('TIME')
local ms = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
local parts = {}
local off = head
for i = 7, #ARGV, 2 do
  local k = tonumber(ARGV[i])
  if k > hw then
    off = off + 1
    redis.call('XADD', log, string.format('%d-0', off), 't', ms, 'd', ARGV[i + 1])
    parts[#parts + 1] = ARGV[i + 1]
    hw = k
  end
end
if #parts > 0 then
  redis.call('XTRIM', log, 'MAXLEN', '~', ARGV[2])
  redis.call('HSET', meta, 'o', string.format('%d', off))
  redis.call('SET', okey, epoch .. ':' .. string.format('%d', hw), 'EX', ARGV[6])
  redis.call('PUBLISH', ARGV[1],
    string.format('D %s %d %d %s\n', epoch, head + 1, #parts, ms) .. table.concat(parts))
end
return {epoch, head + 1, #parts, off}
",
    )
});

/// Reads the log after an offset. KEYS: meta, log. ARGV: after, count.
/// Returns `{epoch or "", head, now ms, offset, t, blob, offset, t, blob, ...}`, oldest first.
pub(super) static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local m = redis.call('HMGET', KEYS[1], 'e', 'o')
local t = redis.call('TIME')
local out = {m[1] or '', tonumber(m[2] or '0'), string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))}
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
for _, e in ipairs(entries) do
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][4]
end
return out
",
    )
});

/// Reads the log backwards, a page at a time: the `count` entries before `end` (`+` for the
/// newest; `(<offset>-0` for those before an offset). KEYS: meta, log. ARGV: end, count.
/// Returns what `READ` returns, the page oldest first.
pub(super) static TAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local m = redis.call('HMGET', KEYS[1], 'e', 'o')
local t = redis.call('TIME')
local out = {m[1] or '', tonumber(m[2] or '0'), string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))}
local entries = redis.call('XREVRANGE', KEYS[2], ARGV[1], '-', 'COUNT', ARGV[2])
for i = #entries, 1, -1 do
  local e = entries[i]
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][4]
end
return out
",
    )
});

/// Publishes a probe on the data channel: `P <node> <nonce> <epoch or -> <head>`. Every entry
/// through `head` was published on the channel before it. KEYS: meta. ARGV: channel, `P <node>
/// <nonce>`.
pub(super) static PROBE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local m = redis.call('HMGET', KEYS[1], 'e', 'o')
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. (m[1] or '-') .. ' ' .. (m[2] or '0'))
return 1
",
    )
});

/// Records this instance as alive and lists the live ones (heard from within the window).
/// KEYS: members. ARGV: node, window (ms). Returns the live nodes.
pub(super) static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[2] * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
",
    )
});

/// What `EMIT` answered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Emitted {
    pub(super) epoch: u64,
    pub(super) first: u64,
    pub(super) appended: u64,
}

/// What `READ` or `TAIL` answered.
#[derive(Debug)]
pub(super) struct Read {
    /// `None` when the namespace has no epoch (Redis restarted empty, nothing emitted since).
    pub(super) epoch: Option<u64>,
    pub(super) head: u64,
    /// Redis's clock, ms.
    pub(super) now_ms: u64,
    /// `(offset, ms when appended, entry)`, oldest first.
    pub(super) entries: Vec<(u64, u64, Entry)>,
}

fn int(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn hex_epoch(value: &Value) -> Result<Option<u64>, Malformed> {
    match text(value) {
        Some("") => Ok(None),
        Some(text) => u64::from_str_radix(text, 16)
            .map(Some)
            .map_err(|_| Malformed("epoch is not hex")),
        None => Err(Malformed("epoch is not a string")),
    }
}

pub(super) fn parse_emitted(value: &Value) -> Result<Emitted, Malformed> {
    let Value::Array(items) = value else {
        return Err(Malformed("EMIT reply is not an array"));
    };
    let [epoch, first, appended, _head] = items.as_slice() else {
        return Err(Malformed("EMIT reply length"));
    };
    Ok(Emitted {
        epoch: hex_epoch(epoch)?.ok_or(Malformed("EMIT made no epoch"))?,
        first: int(first).ok_or(Malformed("EMIT first offset"))?,
        appended: int(appended).ok_or(Malformed("EMIT count"))?,
    })
}

pub(super) fn parse_read(value: Value) -> Result<Read, Malformed> {
    let Value::Array(items) = value else {
        return Err(Malformed("READ reply is not an array"));
    };
    if items.len() < 3 || (items.len() - 3) % 3 != 0 {
        return Err(Malformed("READ reply length"));
    }
    let epoch = hex_epoch(&items[0])?;
    let head = int(&items[1]).ok_or(Malformed("READ head"))?;
    let now_ms = int(&items[2]).ok_or(Malformed("READ time"))?;
    let mut entries = Vec::with_capacity((items.len() - 3) / 3);
    let mut rest = items.into_iter().skip(3);
    while let (Some(id), Some(t), Some(blob)) = (rest.next(), rest.next(), rest.next()) {
        let offset = text(&id)
            .and_then(|id| id.strip_suffix("-0"))
            .and_then(|offset| offset.parse().ok())
            .ok_or(Malformed("stream id is not <offset>-0"))?;
        let t = int(&t).ok_or(Malformed("entry time"))?;
        // An entry this version cannot read (another version wrote it, or it was damaged) keeps
        // its offset, so the order stays gap-free, and is skipped at delivery: failing the read
        // would stop the namespace at that offset on every instance, for good.
        let entry = match blob {
            Value::BulkString(blob) => {
                let mut decoded = decode_all(Bytes::from(blob)).unwrap_or_default();
                match (decoded.pop(), decoded.is_empty()) {
                    (Some(entry), true) => entry,
                    _ => Entry::unreadable(),
                }
            }
            _ => Entry::unreadable(),
        };
        entries.push((offset, t, entry));
    }
    Ok(Read {
        epoch,
        head,
        now_ms,
        entries,
    })
}

pub(super) fn parse_members(value: &Value) -> Result<Vec<u64>, Malformed> {
    let Value::Array(items) = value else {
        return Err(Malformed("HEARTBEAT reply is not an array"));
    };
    items
        .iter()
        .map(|item| {
            text(item)
                .and_then(|text| u64::from_str_radix(text, 16).ok())
                .ok_or(Malformed("member is not a hex node id"))
        })
        .collect()
}
