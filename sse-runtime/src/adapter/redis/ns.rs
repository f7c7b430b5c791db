//! One namespace on Redis: its state, its two tasks (the supervisor, which owns the subscription,
//! and the batcher, which appends emits), and replay from the instance's copy of the log.
//!
//! Offsets of the shared log are not the namespace's internal offsets: every frame this instance
//! hands to its clients gets the next *sequence number* (`seq`), the offset the core orders by
//! (queues, fences, history). A log entry's id is `<epoch>-<offset>`; `offsets` maps the log
//! offsets delivered here to their `seq`, so a `Last-Event-ID` from any instance finds its place
//! in this instance's history.
//!
//! Lock order: `state`, then the core's locks (through [`LocalClients::deliver`]). No lock is
//! held across an `.await`; clients are woken after `state` is released.

use super::codec::{self, Entry, Keys, Message, KIND_EVENT, KIND_LOST, KIND_UNREADABLE};
use super::scripts::{self, Read};
use super::Settings;
use crate::core::cluster::{Answers, Request};
use crate::core::history::{Gap, History, Page, Paged, Window};
use crate::core::id::{random_u64, EventId};
use crate::core::namespace::Delivery;
use crate::core::operator::{EmitError, Emitted};
use crate::core::order::{
    AdapterFuture, AdapterState, AdapterStats, LocalClients, NamespaceAdapter, Since,
};
use crate::core::room::{Room, Scope, Selector};
use crate::wire::{self, ResyncReason};
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify, Semaphore};
use tokio::time::Instant;

#[path = "cluster.rs"]
mod cluster;

/// Origin instances whose highest `k` is remembered; more (years of restarts) start over.
const MAX_ORIGINS: usize = 10_000;

/// Entries read from the Stream per call when filling a gap.
const FILL_PAGE: usize = 64;

/// About the most entry bytes one script call appends (at least one entry): each batch is one
/// message to every subscriber, and Redis disconnects a subscriber whose output buffer passes
/// 32 MiB (`client-output-buffer-limit pubsub`), so a batch of large events is kept well below.
const BATCH_BYTES: usize = 1 << 20;

/// The first entries, up to `max` of them and about [`BATCH_BYTES`].
fn batch(entries: impl Iterator<Item = (u64, Bytes)>, max: usize) -> Vec<(u64, Bytes)> {
    let mut bytes = 0;
    let mut batch = Vec::new();
    for (k, blob) in entries.take(max) {
        if !batch.is_empty() && bytes + blob.len() > BATCH_BYTES {
            break;
        }
        bytes += blob.len();
        batch.push((k, blob));
    }
    batch
}

pub(super) fn bind(
    node: u64,
    settings: Arc<Settings>,
    history: Option<Window>,
    client: redis::Client,
    path: &str,
    local: LocalClients,
) -> Box<dyn NamespaceAdapter> {
    let stream_len = settings
        .stream_len
        .unwrap_or(history.map_or(1000, |window| window.max_events));
    // The log entries read into history at start get the offsets up to `start`; live ones follow.
    let start = history.map_or(0, |window| window.max_events.min(stream_len)) as u64;
    let ns = Arc::new(Ns {
        keys: Keys::new(&settings.prefix, path, node),
        permits: Arc::new(Semaphore::new(settings.max_pending)),
        settings,
        client,
        node,
        local_epoch: random_u64(),
        start,
        history_bytes: history.map_or(0, |window| window.max_bytes),
        stream_len,
        local,
        state: Mutex::new(State {
            mode: Mode::Starting,
            epoch: None,
            head: 0,
            seq: start,
            history: History::new(history),
            offsets: VecDeque::new(),
            next_k: 1,
            own_delivered: 0,
            origins: HashMap::new(),
            sent_k: 0,
            waiting: VecDeque::new(),
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            lost: None,
            tainted: false,
            untaint_after: None,
            lag: 0,
        }),
        batch: Notify::new(),
        connection: Mutex::new(None),
        synced: AtomicBool::new(false),
        asking: Mutex::default(),
        members: Mutex::default(),
        counters: Counters::default(),
    });
    let (stop, stopped) = watch::channel(());
    tokio::spawn(ns.clone().supervise(stopped.clone()));
    tokio::spawn(ns.clone().send_batches(stopped));
    Box::new(RedisNamespace { ns, _stop: stop })
}

/// What the namespace holds; dropping it (with the server) stops the tasks.
struct RedisNamespace {
    ns: Arc<Ns>,
    _stop: watch::Sender<()>,
}

pub(super) struct Ns {
    settings: Arc<Settings>,
    client: redis::Client,
    keys: Keys,
    /// This instance: one per server, drawn at random.
    node: u64,
    /// The epoch of the ids this instance writes while its own outage events are not in the log.
    local_epoch: u64,
    start: u64,
    /// The history window's byte budget: the most read into history at start.
    history_bytes: usize,
    stream_len: usize,
    local: LocalClients,
    state: Mutex<State>,
    /// Wakes the batcher: an emit is waiting, or emits may be sent again.
    batch: Notify,
    /// The command connection, replaced after any failure or timeout (a timed-out connection
    /// may be wedged; redis-rs would keep using it).
    connection: Mutex<Option<MultiplexedConnection>>,
    /// Set by a session once it has synchronised; read by the supervisor.
    synced: AtomicBool,
    permits: Arc<Semaphore>,
    /// This instance's cluster-wide requests waiting for answers.
    asking: Mutex<cluster::Pending>,
    /// The live instances as of the last heartbeat.
    members: Mutex<Vec<u64>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    reconnects: AtomicU64,
    wedges: AtomicU64,
    lost: AtomicU64,
    gaps_filled: AtomicU64,
    gap_entries: AtomicU64,
    epoch_changes: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Starting,
    Connected,
    Reconnecting,
    Down,
}

struct State {
    mode: Mode,
    /// The log's epoch, once synchronised.
    epoch: Option<u64>,
    /// The last log offset delivered here (or skipped as already delivered).
    head: u64,
    /// The last sequence number handed to local clients.
    seq: u64,
    /// Keyed by `seq`.
    history: History,
    /// `(log offset, seq)` of the current epoch, ascending; as long as the Stream.
    offsets: VecDeque<(u64, u64)>,
    /// This instance's next own entry number (`k`, from 1).
    next_k: u64,
    /// The highest own `k` delivered to local clients: log entries at or below it are not
    /// delivered again.
    own_delivered: u64,
    /// The highest `k` seen in the log per origin instance (this one included), across epochs:
    /// a lower one is a resend. Forgotten past [`MAX_ORIGINS`] instances.
    origins: HashMap<u64, u64>,
    /// The highest own `k` handed to a script call.
    sent_k: u64,
    /// Own emits not delivered yet, by `k`.
    waiting: VecDeque<Waiting>,
    /// Own emits delivered here during an outage, for the other instances: `(k, entry blob)`.
    outbox: VecDeque<(u64, Bytes)>,
    outbox_bytes: usize,
    /// Own `k`s delivered here during an outage that did not fit the outbox.
    lost: Option<(u64, u64)>,
    /// Whether this instance delivered events that are not in the log (yet): ids are local then.
    tainted: bool,
    /// Once the outbox is in the log: log entries above this offset get log ids again.
    untaint_after: Option<u64>,
    /// Entries the log holds that are not delivered here, as of the last probe or read.
    lag: u64,
}

struct Waiting {
    k: u64,
    selector: Selector,
    body: Bytes,
    blob: Bytes,
    done: Option<oneshot::Sender<Emitted>>,
}

/// Why a session with Redis ended.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer in time")]
    Timeout,
    #[error("the subscription ended")]
    SubscriptionLost,
    #[error("the probe did not come back: the subscription is wedged")]
    Wedged,
    #[error(transparent)]
    Malformed(#[from] codec::Malformed),
}

impl Ns {
    fn state(&self) -> MutexGuard<'_, State> {
        // Consistent between statements of every critical section.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- delivery, under the state lock ----

    /// Hands `frame` to the local clients as the next `seq`, and keeps it in history.
    fn deliver_frame(
        &self,
        st: &mut State,
        offset: Option<u64>,
        selector: &Selector,
        frame: Bytes,
    ) -> Delivery {
        st.seq += 1;
        let seq = st.seq;
        if !matches!(selector.scope, Scope::Client(_)) {
            st.history.push(seq, selector, &frame, Instant::now());
        }
        if let Some(offset) = offset {
            self.map_offset(st, offset, seq);
        }
        self.local.deliver(seq, selector, &frame)
    }

    fn map_offset(&self, st: &mut State, offset: u64, seq: u64) {
        st.offsets.push_back((offset, seq));
        while st.offsets.len() > self.stream_len {
            st.offsets.pop_front();
        }
    }

    /// A `sse:resync` notice to every local client, in order (kept in history, so a client
    /// resuming from before it gets it too).
    fn deliver_notice(&self, st: &mut State, reason: ResyncReason) -> Delivery {
        let frame = self.local.notice(reason);
        self.deliver_frame(st, None, &Selector::all(), frame)
    }

    /// The log entry at `offset`, in order.
    fn deliver_log(
        &self,
        st: &mut State,
        epoch: u64,
        offset: u64,
        entry: Entry,
    ) -> Option<Delivery> {
        st.head = offset;
        if st.origins.len() >= MAX_ORIGINS && !st.origins.contains_key(&entry.origin) {
            st.origins.clear();
        }
        if st.untaint_after.is_some_and(|after| offset > after) {
            st.tainted = false;
            st.untaint_after = None;
        }
        if entry.kind == KIND_UNREADABLE {
            tracing::warn!(namespace = %self.keys.channel, offset, "skipped a log entry this version cannot read");
            let seq = st.seq;
            self.map_offset(st, offset, seq);
            return None;
        }
        let own = entry.origin == self.node;
        // Each instance's entries reach the log in `k` order; one at or below what was seen of
        // its origin is a resend (an outbox passed on after an ambiguous failure, emits sent
        // again into a new epoch), and an own one may have been delivered here during an outage:
        // only its place in the log is new.
        let seen = st.origins.entry(entry.origin).or_insert(0);
        let again = entry.k <= *seen;
        *seen = (*seen).max(entry.k);
        if again || (own && entry.k <= st.own_delivered) {
            let seq = st.seq;
            self.map_offset(st, offset, seq);
            return None;
        }
        match entry.kind {
            KIND_EVENT => {}
            KIND_LOST => {
                return Some(self.deliver_notice(st, ResyncReason::Outage));
            }
            kind => {
                tracing::warn!(namespace = %self.keys.channel, kind, offset, "skipped a log entry of an unknown kind");
                let seq = st.seq;
                self.map_offset(st, offset, seq);
                return None;
            }
        }
        let id = if st.tainted {
            EventId::new(self.local_epoch, st.seq + 1)
        } else {
            EventId::new(epoch, offset)
        };
        let frame = wire::with_id(id, &entry.body);
        let delivery = self.deliver_frame(st, Some(offset), &entry.selector, frame);
        if own {
            st.own_delivered = entry.k;
            while st.waiting.front().is_some_and(|w| w.k <= entry.k) {
                let Some(waiting) = st.waiting.pop_front() else {
                    break;
                };
                // An own entry below `k` that never came back was refused as a duplicate by
                // the script (it landed before): its emit ends with `Stopped`.
                if waiting.k == entry.k {
                    if let Some(done) = waiting.done {
                        let _ = done.send(Emitted {
                            id,
                            delivered: delivery.count(),
                        });
                    }
                }
            }
        }
        Some(delivery)
    }

    /// An own emit delivered at once, Redis or not: during an outage. Kept for the others in
    /// the outbox, or counted as lost when it is full.
    fn deliver_own_now(
        &self,
        st: &mut State,
        k: u64,
        selector: &Selector,
        body: &Bytes,
        blob: Bytes,
    ) -> (Emitted, Delivery) {
        st.tainted = true;
        let id = EventId::new(self.local_epoch, st.seq + 1);
        let delivery = self.deliver_frame(st, None, selector, wire::with_id(id, body));
        st.own_delivered = k;
        // Sent to one client of this instance: nobody else is owed it.
        if !matches!(selector.scope, Scope::Client(_)) {
            let fits = st.lost.is_none()
                && st.outbox.len() < self.settings.outbox_events
                && st.outbox_bytes + blob.len() <= self.settings.outbox_bytes;
            if fits {
                st.outbox_bytes += blob.len();
                st.outbox.push_back((k, blob));
            } else {
                st.lost = Some((st.lost.map_or(k, |(from, _)| from), k));
                self.counters.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        let emitted = Emitted {
            id,
            delivered: delivery.count(),
        };
        (emitted, delivery)
    }

    /// Redis is out of reach: every own emit still waiting is delivered here now, in order, and
    /// later ones at once.
    fn go_down(&self, st: &mut State) -> Vec<Delivery> {
        if st.mode == Mode::Down {
            return Vec::new();
        }
        tracing::warn!(namespace = %self.keys.channel, "Redis is down: delivering this instance's emits locally, keeping them for the others");
        st.mode = Mode::Down;
        st.untaint_after = None;
        let mut wake = Vec::new();
        while let Some(waiting) = st.waiting.pop_front() {
            let (emitted, delivery) = self.deliver_own_now(
                st,
                waiting.k,
                &waiting.selector,
                &waiting.body,
                waiting.blob,
            );
            if let Some(done) = waiting.done {
                let _ = done.send(emitted);
            }
            wake.push(delivery);
        }
        st.sent_k = st.next_k - 1;
        wake
    }

    // ---- Redis commands ----

    async fn connection(&self) -> Result<MultiplexedConnection, Failure> {
        let cached = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(connection) = cached {
            return Ok(connection);
        }
        let timeout = self.settings.command_timeout;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connection = tokio::time::timeout(
            timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| Failure::Timeout)??;
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    fn drop_connection(&self) {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// One command on the command connection, with the command timeout; any failure or timeout
    /// replaces the connection (a timed-out one may be wedged).
    async fn command<T, F>(
        &self,
        call: impl FnOnce(MultiplexedConnection) -> F,
    ) -> Result<T, Failure>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(self.settings.command_timeout, call(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.drop_connection();
                Err(error.into())
            }
            Err(_) => {
                self.drop_connection();
                Err(Failure::Timeout)
            }
        }
    }

    /// Runs a script (see [`command`](Self::command)).
    async fn run(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, Failure> {
        self.command(|mut connection| async move {
            invocation.invoke_async::<Value>(&mut connection).await
        })
        .await
    }

    /// Appends entries `(k, blob)` (none: creates the epoch, applies the failover fence).
    async fn append(
        &self,
        entries: &[(u64, Bytes)],
        epoch: Option<u64>,
        head: u64,
    ) -> Result<scripts::Emitted, Failure> {
        let mut invocation = scripts::EMIT.key(&self.keys.meta);
        invocation
            .key(&self.keys.log)
            .key(&self.keys.origin)
            .arg(&self.keys.channel)
            .arg(self.stream_len)
            .arg(format!("{:x}", random_u64()))
            .arg(epoch.map_or_else(String::new, |epoch| format!("{epoch:x}")))
            .arg(head)
            .arg(self.settings.origin_ttl.as_secs().max(1));
        for (k, blob) in entries {
            invocation.arg(*k).arg(blob.as_ref());
        }
        let value = self.run(&invocation).await?;
        Ok(scripts::parse_emitted(&value)?)
    }

    async fn read(&self, after: u64, count: usize) -> Result<Read, Failure> {
        let mut invocation = scripts::READ.key(&self.keys.meta);
        invocation.key(&self.keys.log).arg(after).arg(count);
        Ok(scripts::parse_read(self.run(&invocation).await?)?)
    }

    /// The newest `count` entries of the log, and at most about `max_bytes` of them, read
    /// backwards a page at a time (a large log is never one reply), oldest first.
    async fn tail(&self, count: usize, max_bytes: usize) -> Result<Read, Failure> {
        let mut pages: Vec<Read> = Vec::new();
        let (mut taken, mut bytes) = (0, 0);
        let mut end = "+".to_owned();
        while taken < count && bytes < max_bytes {
            let asked = FILL_PAGE.min(count - taken);
            let mut invocation = scripts::TAIL.key(&self.keys.meta);
            invocation.key(&self.keys.log).arg(&end).arg(asked);
            let mut page = scripts::parse_read(self.run(&invocation).await?)?;
            let exhausted = page.entries.len() < asked;
            // Newest first, while the budget lasts.
            let mut kept = Vec::new();
            while let Some(entry) = page.entries.pop() {
                if taken == count || bytes >= max_bytes {
                    break;
                }
                taken += 1;
                bytes += entry.2.body.len();
                kept.push(entry);
            }
            kept.reverse();
            let oldest = kept.first().map(|(offset, ..)| *offset);
            page.entries = kept;
            pages.push(page);
            match oldest {
                Some(offset) if !exhausted => end = format!("({offset}-0"),
                _ => break,
            }
        }
        // The newest page's epoch and head; entries oldest first, of that epoch only (Redis may
        // have restarted between pages).
        if pages.is_empty() {
            return Ok(Read {
                epoch: None,
                head: 0,
                now_ms: 0,
                entries: Vec::new(),
            });
        }
        let mut read = pages.remove(0);
        let mut entries = Vec::with_capacity(taken);
        for page in pages.into_iter().rev() {
            if page.epoch == read.epoch {
                entries.extend(page.entries);
            }
        }
        entries.append(&mut read.entries);
        read.entries = entries;
        Ok(read)
    }

    async fn probe(&self, nonce: u64) -> Result<(), Failure> {
        let mut invocation = scripts::PROBE.key(&self.keys.meta);
        invocation
            .arg(&self.keys.channel)
            .arg(format!("P {:x} {nonce:x}", self.node));
        self.run(&invocation).await.map(drop)
    }

    // ---- the batcher ----

    /// Sends waiting emits to Redis, a batch per script call, one call at a time (so own entries
    /// land in `k` order). They are delivered when they come back through the log.
    async fn send_batches(self: Arc<Self>, mut stopped: watch::Receiver<()>) {
        loop {
            tokio::select! {
                () = self.batch.notified() => {}
                _ = stopped.changed() => return,
            }
            loop {
                let (batch, epoch, head) = {
                    let mut st = self.state();
                    if !matches!(st.mode, Mode::Connected | Mode::Reconnecting)
                        || st.epoch.is_none()
                    {
                        break;
                    }
                    // `waiting` is in `k` order: the unsent ones are its tail.
                    let sent = st.sent_k;
                    let first = st.waiting.partition_point(|waiting| waiting.k <= sent);
                    let batch = batch(
                        st.waiting
                            .range(first..)
                            .map(|waiting| (waiting.k, waiting.blob.clone())),
                        self.settings.batch_max,
                    );
                    let Some(&(last, _)) = batch.last() else {
                        break;
                    };
                    st.sent_k = last;
                    (batch, st.epoch, st.head)
                };
                if let Err(failure) = self.append(&batch, epoch, head).await {
                    tracing::warn!(namespace = %self.keys.channel, %failure, "emit to Redis failed");
                    let wake = self.go_down(&mut self.state());
                    drop(wake);
                    break;
                }
            }
        }
    }

    // ---- the supervisor ----

    /// Keeps a session with Redis: (re)subscribes, synchronises, and after `probe_timeout`
    /// without one (at start, or since it was lost) goes down.
    async fn supervise(self: Arc<Self>, mut stopped: watch::Receiver<()>) {
        let mut backoff = Duration::from_millis(50);
        let mut down_at = Instant::now() + self.settings.probe_timeout;
        loop {
            let session = self.session();
            tokio::pin!(session);
            let mut watchdog = true;
            let failure = loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    Err(failure) = &mut session => break failure,
                    () = tokio::time::sleep_until(down_at), if watchdog => {
                        watchdog = false;
                        let wake = {
                            let mut st = self.state();
                            if matches!(st.mode, Mode::Starting | Mode::Reconnecting) {
                                self.go_down(&mut st)
                            } else {
                                Vec::new()
                            }
                        };
                        drop(wake);
                    }
                }
            };
            if self.synced.swap(false, Ordering::AcqRel) {
                backoff = Duration::from_millis(50);
                down_at = Instant::now() + self.settings.probe_timeout;
            }
            tracing::warn!(namespace = %self.keys.channel, %failure, "Redis session ended; reconnecting");
            {
                let mut st = self.state();
                if st.mode == Mode::Connected {
                    st.mode = Mode::Reconnecting;
                }
            }
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            self.drop_connection();
            tokio::select! {
                _ = stopped.changed() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Subscribes, synchronises, then delivers what arrives and probes, until something fails.
    async fn session(self: &Arc<Self>) -> Result<std::convert::Infallible, Failure> {
        let timeout = self.settings.command_timeout;
        let mut pubsub = tokio::time::timeout(timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| Failure::Timeout)??;
        tokio::time::timeout(
            timeout,
            pubsub.subscribe(&[&self.keys.channel, &self.keys.requests, &self.keys.answers]),
        )
        .await
        .map_err(|_| Failure::Timeout)??;
        let mut messages = pubsub.into_on_message();
        self.sync().await?;
        self.heartbeat().await?;
        self.synced.store(true, Ordering::Release);
        self.batch.notify_one();

        let mut probe = tokio::time::interval(self.settings.probe_every);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outstanding: Option<(u64, Instant)> = None;
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return Err(Failure::SubscriptionLost);
                    };
                    self.on_message(&message, &mut outstanding).await?;
                }
                _ = probe.tick() => {
                    match outstanding {
                        Some((_, sent)) if sent.elapsed() >= self.settings.probe_timeout => {
                            self.counters.wedges.fetch_add(1, Ordering::Relaxed);
                            return Err(Failure::Wedged);
                        }
                        Some(_) => {}
                        None => {
                            let nonce = random_u64();
                            outstanding = Some((nonce, Instant::now()));
                            self.probe(nonce).await?;
                        }
                    }
                    let (mode, head) = {
                        let st = self.state();
                        (st.mode, st.head)
                    };
                    if mode == Mode::Down {
                        self.recover(head).await?;
                    }
                    self.heartbeat().await?;
                }
            }
        }
    }

    async fn on_message(
        self: &Arc<Self>,
        message: &redis::Msg,
        outstanding: &mut Option<(u64, Instant)>,
    ) -> Result<(), Failure> {
        let channel = message.get_channel_name();
        if channel == self.keys.requests {
            self.on_request(message.get_payload_bytes());
            return Ok(());
        }
        if channel == self.keys.answers {
            self.on_answer(message.get_payload_bytes());
            return Ok(());
        }
        if channel != self.keys.channel {
            return Ok(());
        }
        match codec::parse_message(message.get_payload_bytes()) {
            Err(malformed) => {
                // Not ours (another version?): whatever it carried, the next probe shows it.
                tracing::warn!(namespace = %self.keys.channel, %malformed, "ignored a message");
                Ok(())
            }
            Ok(Message::Data {
                epoch,
                first,
                entries,
            }) => {
                {
                    let mut st = self.state();
                    if st.epoch == Some(epoch) && first <= st.head + 1 {
                        let mut wake = Vec::with_capacity(entries.len());
                        for (offset, entry) in (first..).zip(entries) {
                            if offset > st.head {
                                wake.extend(self.deliver_log(&mut st, epoch, offset, entry));
                            }
                        }
                        st.lag = 0;
                        drop(st);
                        drop(wake);
                        return Ok(());
                    }
                }
                // A gap, or another epoch: the Stream has everything in order.
                self.fill().await
            }
            Ok(Message::Probe {
                node,
                nonce,
                epoch,
                head,
            }) => {
                if node == self.node && outstanding.is_some_and(|(sent, _)| sent == nonce) {
                    *outstanding = None;
                }
                let behind = {
                    let mut st = self.state();
                    let same = epoch.is_some() && epoch == st.epoch;
                    st.lag = if same {
                        head.saturating_sub(st.head)
                    } else {
                        st.lag
                    };
                    !same || head > st.head
                };
                // Every entry through `head` was published before this probe: one not
                // delivered here was lost on the way.
                if behind {
                    self.fill().await?;
                }
                Ok(())
            }
        }
    }

    /// Delivers the log from where this instance is up to the head: a gap, a new epoch.
    async fn fill(&self) -> Result<(), Failure> {
        // Bounded: the Stream is; each pass delivers a page or moves to a new epoch.
        let mut counted = false;
        for _ in 0..100_000 {
            let after = self.state().head;
            let read = self.read(after, FILL_PAGE).await?;
            let Some(epoch) = read.epoch else {
                // Redis lost the namespace (restarted empty): a new epoch.
                let (epoch, head) = {
                    let st = self.state();
                    (st.epoch, st.head)
                };
                self.append(&[], epoch, head).await?;
                continue;
            };
            let mut st = self.state();
            let mut wake = Vec::new();
            if st.epoch != Some(epoch) {
                self.counters.epoch_changes.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(namespace = %self.keys.channel, "Redis started a new epoch: every client gets sse:resync");
                wake.push(self.deliver_notice(&mut st, ResyncReason::Epoch));
                st.epoch = Some(epoch);
                st.head = 0;
                st.offsets.clear();
                // Own emits sent to the old epoch may be gone with it: send them again.
                st.sent_k = st.own_delivered;
                drop(st);
                drop(wake);
                self.batch.notify_one();
                continue;
            }
            if st.head != after {
                continue;
            }
            let gap_start = read.entries.first().map(|(offset, ..)| *offset);
            if gap_start.map_or(read.head > st.head, |first| first != st.head + 1) {
                // Trimmed past what this instance delivered.
                wake.push(self.deliver_notice(&mut st, ResyncReason::Expired));
                if gap_start.is_none() {
                    st.head = read.head;
                }
            }
            if !read.entries.is_empty() {
                if !counted {
                    counted = true;
                    self.counters.gaps_filled.fetch_add(1, Ordering::Relaxed);
                }
                self.counters
                    .gap_entries
                    .fetch_add(read.entries.len() as u64, Ordering::Relaxed);
            }
            for (offset, _, entry) in read.entries {
                wake.extend(self.deliver_log(&mut st, epoch, offset, entry));
            }
            st.lag = read.head.saturating_sub(st.head);
            let done = st.head >= read.head;
            drop(st);
            drop(wake);
            if done {
                return Ok(());
            }
        }
        Ok(())
    }

    /// After (re)subscribing: make sure there is an epoch, read the log up to the head (at the
    /// first start: the recent log into history, delivering nothing), pass the outbox on.
    async fn sync(&self) -> Result<(), Failure> {
        let (epoch, head) = {
            let st = self.state();
            (st.epoch, st.head)
        };
        let created = self.append(&[], epoch, head).await?;
        if epoch.is_none() {
            let read = self.tail(self.start as usize, self.history_bytes).await?;
            let mut st = self.state();
            if st.epoch.is_none() {
                self.preload(&mut st, read, created);
            }
        } else {
            self.fill().await?;
        }
        let (mode, head) = {
            let st = self.state();
            (st.mode, st.head)
        };
        if mode == Mode::Down {
            self.recover(head).await?;
        }
        let mut st = self.state();
        if matches!(st.mode, Mode::Starting | Mode::Reconnecting) {
            st.mode = Mode::Connected;
        }
        Ok(())
    }

    /// The first synchronisation: adopt the head; the recent log becomes history (for clients
    /// that resume here from another instance), delivered to nobody.
    fn preload(&self, st: &mut State, read: Read, created: scripts::Emitted) {
        let Some(epoch) = read.epoch else {
            st.epoch = Some(created.epoch);
            st.head = created.first - 1;
            return;
        };
        st.epoch = Some(epoch);
        st.head = read.head;
        // Only before anything was delivered here (an instance that started during an outage
        // has delivered its own events already): history is in `seq` order.
        if st.seq != self.start || self.start == 0 {
            return;
        }
        let now = Instant::now();
        let count = read.entries.len().min(self.start as usize);
        let mut seq = self.start - count as u64;
        let skip = read.entries.len() - count;
        for (offset, t, entry) in read.entries.into_iter().skip(skip) {
            seq += 1;
            let seen = st.origins.entry(entry.origin).or_insert(0);
            *seen = (*seen).max(entry.k);
            let at = now
                .checked_sub(Duration::from_millis(read.now_ms.saturating_sub(t)))
                .unwrap_or(now);
            let frame = match entry.kind {
                KIND_EVENT => wire::with_id(EventId::new(epoch, offset), &entry.body),
                KIND_LOST if entry.origin != self.node => {
                    wire::resync(ResyncReason::Outage, None, None)
                }
                _ => {
                    self.map_offset(st, offset, seq);
                    continue;
                }
            };
            if !matches!(entry.selector.scope, Scope::Client(_)) {
                let selector = if entry.kind == KIND_LOST {
                    Selector::all()
                } else {
                    entry.selector
                };
                st.history.push(seq, &selector, &frame, at);
            }
            self.map_offset(st, offset, seq);
        }
    }

    /// Passes the outbox on, then the outage marker for what did not fit; then connected. New
    /// emits meanwhile are delivered here at once and join the outbox (or the marker).
    async fn recover(&self, synced_head: u64) -> Result<(), Failure> {
        let mut flushed_head = synced_head;
        // Bounded: each pass sends a batch, or the marker; the outbox only grows by emits.
        for _ in 0..1_000_000 {
            let (entries, marker, epoch, head) = {
                let mut st = self.state();
                if st.outbox.is_empty() && st.lost.is_none() {
                    st.mode = Mode::Connected;
                    if st.tainted {
                        st.untaint_after = Some(flushed_head);
                    }
                    drop(st);
                    tracing::info!(namespace = %self.keys.channel, "Redis is back: outbox passed on");
                    self.batch.notify_one();
                    return Ok(());
                }
                if st.outbox.is_empty() {
                    let (from, to) = st.lost.unwrap_or_default();
                    let body = format!("{from}..{to}");
                    let blob =
                        codec::encode(KIND_LOST, self.node, to, &Selector::all(), body.as_bytes());
                    (vec![(to, blob)], Some(to), st.epoch, st.head)
                } else {
                    let entries = batch(st.outbox.iter().cloned(), self.settings.batch_max);
                    (entries, None, st.epoch, st.head)
                }
            };
            let reply = self.append(&entries, epoch, head).await?;
            flushed_head = flushed_head.max(reply.first + reply.appended - 1);
            let mut st = self.state();
            match marker {
                Some(to) => {
                    st.lost = st
                        .lost
                        .and_then(|(_, last)| (last > to).then_some((to + 1, last)));
                }
                None => {
                    for _ in 0..entries.len() {
                        if let Some((_, blob)) = st.outbox.pop_front() {
                            st.outbox_bytes -= blob.len();
                        }
                    }
                }
            }
        }
        Ok(())
    }

    // ---- replay ----

    fn replay_now(
        &self,
        after: Since,
        rooms: &HashSet<Room>,
        lenient: bool,
        page: Page,
    ) -> Result<Paged, Gap> {
        let mut st = self.state();
        let seq = match after {
            Since::Offset(seq) => seq,
            Since::Id(id) if id.epoch() == self.local_epoch => id.offset(),
            Since::Id(id) if Some(id.epoch()) == st.epoch => {
                match st
                    .offsets
                    .binary_search_by_key(&id.offset(), |&(offset, _)| offset)
                {
                    Ok(at) => st.offsets[at].1,
                    Err(_) if id.offset() > st.head => return Err(Gap::Unknown),
                    Err(_) => return Err(Gap::Expired),
                }
            }
            // Another epoch: an id from before Redis restarted, or of another cluster.
            Since::Id(_) => return Err(Gap::Unknown),
        };
        let next = st.seq + 1;
        let now = Instant::now();
        st.history.read(seq, next, rooms, now, page, lenient)
    }
}

impl NamespaceAdapter for RedisNamespace {
    fn publish(
        &self,
        selector: Selector,
        body: Bytes,
    ) -> AdapterFuture<Result<Emitted, EmitError>> {
        let ns = self.ns.clone();
        Either::Right(Box::pin(async move {
            // Closed never: the semaphore lives as long as `ns`.
            let _permit = ns
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| EmitError::Stopped)?;
            let done = {
                let mut st = ns.state();
                let k = st.next_k;
                st.next_k += 1;
                let blob = codec::encode(KIND_EVENT, ns.node, k, &selector, &body);
                if st.mode == Mode::Down {
                    let (emitted, delivery) =
                        ns.deliver_own_now(&mut st, k, &selector, &body, blob);
                    drop(st);
                    drop(delivery);
                    return Ok(emitted);
                }
                let (done, wait) = oneshot::channel();
                st.waiting.push_back(Waiting {
                    k,
                    selector,
                    body,
                    blob,
                    done: Some(done),
                });
                wait
            };
            ns.batch.notify_one();
            done.await.map_err(|_| EmitError::Stopped)
        }))
    }

    fn replay(
        &self,
        after: Since,
        rooms: Arc<HashSet<Room>>,
        lenient: bool,
        page: Page,
    ) -> AdapterFuture<Result<Paged, Gap>> {
        Either::Left(std::future::ready(
            self.ns.replay_now(after, &rooms, lenient, page),
        ))
    }

    fn history_len(&self) -> usize {
        self.ns.state().history.len()
    }

    fn request(&self, request: Request) -> AdapterFuture<Answers> {
        Either::Right(Box::pin(self.ns.clone().request(request)))
    }

    fn start_offset(&self) -> u64 {
        self.ns.start
    }

    fn stats(&self) -> AdapterStats {
        let (state, lag, outbox) = {
            let st = self.ns.state();
            let state = match st.mode {
                Mode::Starting => AdapterState::Starting,
                Mode::Connected => AdapterState::Connected,
                Mode::Reconnecting => AdapterState::Reconnecting,
                Mode::Down => AdapterState::Down,
            };
            (state, st.lag, st.outbox.len())
        };
        let counters = &self.ns.counters;
        AdapterStats {
            kind: "redis",
            state,
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            wedges: counters.wedges.load(Ordering::Relaxed),
            lag,
            outbox,
            lost: counters.lost.load(Ordering::Relaxed),
            gaps_filled: counters.gaps_filled.load(Ordering::Relaxed),
            gap_entries: counters.gap_entries.load(Ordering::Relaxed),
            epoch_changes: counters.epoch_changes.load(Ordering::Relaxed),
        }
    }
}
