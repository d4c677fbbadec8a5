//! What the run measured, and the percentile math over it.
//!
//! Every exchange is kept as a raw [`Sample`] rather than folded into
//! counters, because the plot needs each point in time and the percentiles
//! need the whole distribution.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The kinds of exchange the report breaks latency down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// `POST /auth/login`; dominated by the server's bcrypt cost.
    Login,
    /// `GET /cycles`, `GET /reviews` and `GET /cycles/{id}/progress`.
    List,
    /// `GET /reviews/{id}`.
    Get,
    /// `PATCH /reviews/{id}`.
    Autosave,
    /// `POST /reviews/{id}/submit`.
    Submit,
    /// WebSocket upgrade plus subscribe, until the snapshot arrives.
    Subscribe,
    /// `POST /auth/login` of the sign-in storm, during the burst.
    StormLogin,
    /// `POST /auth/logout` of the sign-in storm.
    Logout,
}

impl Kind {
    /// Every kind, in the order the report prints them.
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Login,
        Kind::List,
        Kind::Get,
        Kind::Autosave,
        Kind::Submit,
        Kind::Subscribe,
        Kind::StormLogin,
        Kind::Logout,
    ];

    /// Whether the exchange belongs to the sign-in storm rather than to
    /// the deadline itself; the storm is reported on its own.
    pub(crate) fn is_storm(self) -> bool {
        matches!(self, Kind::StormLogin | Kind::Logout)
    }

    /// The kind's name in the report and the plot legend.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::List => "list",
            Kind::Get => "get",
            Kind::Autosave => "autosave",
            Kind::Submit => "submit",
            Kind::Subscribe => "subscribe",
            Kind::StormLogin => "storm_login",
            Kind::Logout => "logout",
        }
    }
}

/// How one exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server answered with this HTTP status.
    Status(u16),
    /// A WebSocket subscription got its snapshot.
    Subscribed,
    /// No usable answer: timeout, refused connection, broken stream, or a
    /// body that does not follow the contract.
    Failed(&'static str),
}

impl Outcome {
    /// Whether the exchange did what it was for; only those enter the
    /// latency percentiles.
    pub(crate) fn is_ok(self) -> bool {
        match self {
            Outcome::Status(status) => (200..300).contains(&status),
            Outcome::Subscribed => true,
            Outcome::Failed(_) => false,
        }
    }

    /// The error key in the report: a status code or a failure name.
    pub(crate) fn label(self) -> String {
        match self {
            Outcome::Status(status) => status.to_string(),
            Outcome::Subscribed => "subscribed".to_owned(),
            Outcome::Failed(what) => what.to_owned(),
        }
    }
}

/// One timed exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) kind: Kind,
    /// When it started, measured from the start of the run.
    pub(crate) at: Duration,
    pub(crate) latency: Duration,
    pub(crate) outcome: Outcome,
}

/// One submit, kept apart because the dashboard matching needs its instants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubmitRecord {
    /// Index of the company in the configured list.
    pub(crate) company: usize,
    /// When the request was handed to the client, from the run start.
    pub(crate) sent: Duration,
    /// When the full response had arrived.
    pub(crate) answered: Duration,
    /// Whether the server accepted it (2xx); only those change progress.
    pub(crate) ok: bool,
}

/// Shared sink of measurements.
///
/// A `std::sync::Mutex` is enough: it is held for a push, never across an
/// await, and keeping results here (not in task return values) means a run
/// cut short by `--duration` still reports everything finished so far.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Recorded>>,
}

/// Everything recorded; read once at the end.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) samples: Vec<Sample>,
    pub(crate) submits: Vec<SubmitRecord>,
    /// Errors that are not a failed exchange of their own, such as a 200
    /// whose body lacks a field the contract promises. Keyed by kind and label.
    pub(crate) faults: BTreeMap<(Kind, String), u64>,
    /// Retries of an autosave after a stale-version 409.
    pub(crate) conflict_retries: u64,
    /// Sign-ins retried after a 429 from the server's rate limit.
    pub(crate) login_retries: u64,
}

impl Recorder {
    /// A recorder whose offsets count from `start`.
    pub(crate) fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            inner: Arc::new(Mutex::new(Recorded::default())),
        }
    }

    /// Offset of `instant` from the start of the run.
    pub(crate) fn offset(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.start)
    }

    /// Offset of now from the start of the run.
    pub(crate) fn now(&self) -> Duration {
        self.offset(Instant::now())
    }

    /// Records an exchange that began at `started` and ends now.
    pub(crate) fn sample(&self, kind: Kind, started: Instant, outcome: Outcome) {
        let sample = Sample {
            kind,
            at: self.offset(started),
            latency: started.elapsed(),
            outcome,
        };
        self.lock().samples.push(sample);
    }

    /// Records a submit's instants for the dashboard matching.
    pub(crate) fn submit(&self, record: SubmitRecord) {
        self.lock().submits.push(record);
    }

    /// Counts an error that is not an exchange of its own.
    pub(crate) fn fault(&self, kind: Kind, label: &str) {
        *self
            .lock()
            .faults
            .entry((kind, label.to_owned()))
            .or_insert(0) += 1;
    }

    /// Counts an autosave retried after a stale-version 409.
    pub(crate) fn conflict_retry(&self) {
        self.lock().conflict_retries += 1;
    }

    /// Counts a sign-in retried after a 429.
    pub(crate) fn login_retry(&self) {
        self.lock().login_retries += 1;
    }

    /// A copy of everything recorded so far.
    pub(crate) fn snapshot(&self) -> Recorded {
        let inner = self.lock();
        Recorded {
            samples: inner.samples.clone(),
            submits: inner.submits.clone(),
            faults: inner.faults.clone(),
            conflict_retries: inner.conflict_retries,
            login_retries: inner.login_retries,
        }
    }

    /// A poisoned lock only means a task panicked mid-push; the data
    /// already there is still worth reporting.
    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Percentiles of one distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Summary {
    /// Summarises durations; `None` when there is nothing to summarise.
    pub(crate) fn of(durations: &[Duration]) -> Option<Summary> {
        // Microsecond resolution is plenty and keeps the JSON readable.
        let mut ms: Vec<f64> = durations
            .iter()
            .map(|d| d.as_micros() as f64 / 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        let mean_ms = (ms.iter().sum::<f64>() / ms.len().max(1) as f64 * 1e3).round() / 1e3;
        Some(Summary {
            count: ms.len(),
            mean_ms,
            p50_ms: percentile(&ms, 50.0)?,
            p95_ms: percentile(&ms, 95.0)?,
            p99_ms: percentile(&ms, 99.0)?,
            max_ms: *ms.last()?,
        })
    }
}

/// Nearest-rank percentile of an ascending slice: the smallest value with
/// at least `p` percent of the values at or below it. It always returns a
/// value that was actually observed, which keeps small runs honest (no
/// interpolated latency that no request had).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_hundred() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&values, 0.5), Some(1.0));
    }

    #[test]
    fn percentile_of_small_sets_is_an_observed_value() {
        let values = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(percentile(&values, 50.0), Some(20.0));
        assert_eq!(percentile(&values, 51.0), Some(30.0));
        assert_eq!(percentile(&values, 99.0), Some(40.0));
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
    }

    #[test]
    fn percentile_rejects_empty_input_and_bad_ranks() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0], 0.0), None);
        assert_eq!(percentile(&[1.0], 101.0), None);
    }

    #[test]
    fn summary_sorts_its_input_first() {
        let summary = Summary::of(&ms(&[90, 10, 50, 30, 70])).expect("non-empty");
        assert_eq!(summary.count, 5);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p95_ms, 90.0);
        assert_eq!(summary.max_ms, 90.0);
        assert_eq!(summary.mean_ms, 50.0);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn only_2xx_and_subscriptions_count_as_success() {
        assert!(Outcome::Status(200).is_ok());
        assert!(Outcome::Status(204).is_ok());
        assert!(!Outcome::Status(409).is_ok());
        assert!(!Outcome::Status(101).is_ok());
        assert!(Outcome::Subscribed.is_ok());
        assert!(!Outcome::Failed("timeout").is_ok());
        assert_eq!(Outcome::Status(429).label(), "429");
    }
}
