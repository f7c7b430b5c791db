//! The server's counters in the Prometheus text exposition format.

use crate::adapter::AdapterState;
use crate::{NamespaceStats, SseServer};
use std::fmt::Write;

/// Name, help, type, and how to read it from the stats.
type Metric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&NamespaceStats) -> u64,
);

const METRICS: &[Metric] = &[
    ("sse_clients", "Clients connected now.", "gauge", |s| {
        s.clients as u64
    }),
    (
        "sse_rooms",
        "Rooms with at least one member now.",
        "gauge",
        |s| s.rooms as u64,
    ),
    (
        "sse_history_events",
        "Events in the resumption window now.",
        "gauge",
        |s| s.history as u64,
    ),
    ("sse_emitted_total", "Events emitted.", "counter", |s| {
        s.emitted
    }),
    (
        "sse_delivered_total",
        "Frames handed to client queues by emits.",
        "counter",
        |s| s.delivered,
    ),
    (
        "sse_replayed_total",
        "Frames replayed from history when a stream started.",
        "counter",
        |s| s.replayed,
    ),
    (
        "sse_resyncs_total",
        "sse:resync events sent.",
        "counter",
        |s| s.resyncs,
    ),
    (
        "sse_slow_disconnects_total",
        "Clients disconnected because their queue was full.",
        "counter",
        |s| s.slow_disconnects,
    ),
    (
        "sse_lagged_total",
        "Frames dropped from full queues (drop-oldest policy).",
        "counter",
        |s| s.lagged,
    ),
    (
        "sse_adapter_reconnects_total",
        "Times the connection to Redis was rebuilt.",
        "counter",
        |s| s.adapter.reconnects,
    ),
    (
        "sse_adapter_wedges_total",
        "Subscriptions found wedged by the probe and rebuilt.",
        "counter",
        |s| s.adapter.wedges,
    ),
    (
        "sse_adapter_lag",
        "Log entries in Redis not delivered here yet, as of the last probe or read.",
        "gauge",
        |s| s.adapter.lag,
    ),
    (
        "sse_adapter_outbox",
        "Events emitted here during an outage, waiting to reach the other instances.",
        "gauge",
        |s| s.adapter.outbox as u64,
    ),
    (
        "sse_adapter_lost_total",
        "Outage events that did not fit the outbox (the other instances' clients got sse:resync).",
        "counter",
        |s| s.adapter.lost,
    ),
    (
        "sse_adapter_gaps_filled_total",
        "Gaps in the delivered log filled from the Redis Stream.",
        "counter",
        |s| s.adapter.gaps_filled,
    ),
    (
        "sse_adapter_gap_entries_total",
        "Log entries read from Redis to fill gaps.",
        "counter",
        |s| s.adapter.gap_entries,
    ),
    (
        "sse_adapter_epoch_changes_total",
        "Times the shared order started a new epoch (Redis restarted empty).",
        "counter",
        |s| s.adapter.epoch_changes,
    ),
];

impl SseServer {
    /// Every namespace's [`NamespaceStats`] as Prometheus text, one
    /// series per namespace (`namespace="/football"`), plus `sse_connections`, and the adapter's
    /// state as `sse_adapter_state{namespace, adapter, state}`: 1 for the namespace's state, 0 for
    /// the others (`connected`, `starting`, `reconnecting`, `down`).
    ///
    /// ```
    /// # let server = sse_manager::SseServer::builder().build().unwrap();
    /// let text = server.prometheus_metrics();
    /// assert!(text.contains("# TYPE sse_connections gauge\nsse_connections 0\n"));
    /// ```
    pub fn prometheus_metrics(&self) -> String {
        let stats = self.stats();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP sse_connections Open streams over all namespaces."
        );
        let _ = writeln!(out, "# TYPE sse_connections gauge");
        let _ = writeln!(out, "sse_connections {}", self.connection_count());
        let _ = writeln!(
            out,
            "# HELP sse_adapter_state The state of the namespace's adapter (1) among all states (0)."
        );
        let _ = writeln!(out, "# TYPE sse_adapter_state gauge");
        for (path, stats) in &stats {
            for state in AdapterState::ALL {
                let _ = writeln!(
                    out,
                    "sse_adapter_state{{namespace=\"{}\",adapter=\"{}\",state=\"{}\"}} {}",
                    escape(path),
                    stats.adapter.kind,
                    state.as_str(),
                    u8::from(stats.adapter.state == state)
                );
            }
        }
        for (name, help, kind, read) in METRICS {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (path, stats) in &stats {
                let _ = writeln!(
                    out,
                    "{name}{{namespace=\"{}\"}} {}",
                    escape(path),
                    read(stats)
                );
            }
        }
        out
    }
}

/// Label values escape `\`, `"` and line feeds.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
