//! Prometheus metrics, kept in a few atomics and one small map, rendered as text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use kaizen_actors::registry::RegistryStats;

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The server's own counters. Per-route figures are keyed by the route pattern
/// (`/api/v1/reviews/{id}`), never the raw path, so their number stays fixed.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    open_sockets: AtomicI64,
    login_failures: AtomicU64,
    live_frames_sent: AtomicU64,
    live_resyncs: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let histogram = latency.entry(route.to_owned()).or_default();
            let seconds = elapsed.as_secs_f64();
            for (slot, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *slot += 1;
                }
            }
            histogram.sum += seconds;
            histogram.count += 1;
        }
    }

    /// A live connection opened (+1) or closed (-1).
    pub fn sockets(&self, delta: i64) {
        self.open_sockets.fetch_add(delta, Ordering::Relaxed);
    }

    /// A sign-in was refused.
    pub fn login_failed(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A frame went out on a live connection.
    pub fn frame_sent(&self) {
        self.live_frames_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A slow live subscriber was resynced.
    pub fn resynced(&self) {
        self.live_resyncs.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders everything in the Prometheus text format.
    pub fn render(&self, actors: RegistryStats, alerts: &[(&str, u64)]) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "kaizen_live_connections",
            "gauge",
            "Open WebSocket connections.",
            self.open_sockets.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "kaizen_live_subscribers",
            "gauge",
            "Live topic subscriptions.",
            actors.live_subscribers.to_string(),
        );
        metric(
            "kaizen_live_frames_sent_total",
            "counter",
            "Frames sent on live connections.",
            self.live_frames_sent.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "kaizen_live_resyncs_total",
            "counter",
            "Slow subscribers resynced.",
            self.live_resyncs.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "kaizen_actors_alive",
            "gauge",
            "Company actors running.",
            actors.actors_alive.to_string(),
        );
        metric(
            "kaizen_actor_mailbox_depth",
            "gauge",
            "Commands waiting in all mailboxes.",
            actors.mailbox_depth.to_string(),
        );
        metric(
            "kaizen_actor_mailbox_depth_max",
            "gauge",
            "Commands waiting in the fullest mailbox.",
            actors.mailbox_depth_max.to_string(),
        );
        metric(
            "kaizen_actor_evictions_total",
            "counter",
            "Idle company actors evicted (started again on their next command).",
            actors.actor_evictions.to_string(),
        );
        metric(
            "kaizen_actor_panics_total",
            "counter",
            "Actor commands that panicked.",
            actors.actor_panics.to_string(),
        );
        metric(
            "kaizen_login_failures_total",
            "counter",
            "Refused sign-ins.",
            self.login_failures.load(Ordering::Relaxed).to_string(),
        );

        let _ = writeln!(
            out,
            "# HELP kaizen_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE kaizen_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "kaizen_http_requests_total{{method=\"{method}\",route=\"{route}\",\
                     status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP kaizen_http_request_duration_seconds Request latency by route."
        );
        let _ = writeln!(out, "# TYPE kaizen_http_request_duration_seconds histogram");
        if let Ok(latency) = self.latency.lock() {
            for (route, h) in latency.iter() {
                let name = "kaizen_http_request_duration_seconds";
                for (count, bound) in h.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
            }
        }
        let _ = writeln!(
            out,
            "# HELP kaizen_security_alerts_total Security alerts raised, by kind.\n\
             # TYPE kaizen_security_alerts_total counter"
        );
        for (kind, n) in alerts {
            let _ = writeln!(out, "kaizen_security_alerts_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }
}
