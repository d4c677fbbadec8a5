//! Turns the raw measurements into the report: one JSON document for
//! machines and the same numbers as a table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::accounting::{Accepted, SocketCounts, match_submits};
use crate::config::{Config, Schedule};
use crate::scenario::{Phases, RunData};
use crate::stats::{Kind, Summary};

/// The matching method, as stated in the report itself so that a reader of
/// the JSON alone knows what the submit → dashboard figures mean.
const METHOD: &str = "Progress events carry counts, not review ids. For each socket, \
    B = submitted+shared+signed in its snapshot and e(k) = first receipt of a count >= B+k. \
    estimate: the company's accepted submits sorted by send time, the k-th paired with e(k) \
    (exact when the server applies submits in arrival order; the mean is exact for any order). \
    upper_bound: a submit answered at r is included once the count covers every accepted \
    submit sent before r, so e(that count) - send bounds its latency whatever the order. \
    unreflected: accepted submits whose count a socket never reached before it closed.";

/// The complete report.
#[derive(Serialize)]
pub(crate) struct Report {
    tool: &'static str,
    version: &'static str,
    target: String,
    scope: &'static str,
    settings: Settings,
    run: RunStatus,
    phases: Phases,
    /// Latency percentiles over successful exchanges, by kind.
    latency: BTreeMap<&'static str, KindReport>,
    throughput: Throughput,
    errors: Vec<ErrorCount>,
    autosave_conflict_retries: u64,
    /// Sign-ins refused with 429 and retried after `Retry-After`.
    login_rate_limit_retries: u64,
    dashboards: Dashboards,
    companies: Vec<CompanyReport>,
    memory: Memory,
    /// Kept out of the JSON: the plot's input.
    #[serde(skip)]
    pub(crate) event_points: Vec<(Duration, Duration)>,
}

#[derive(Serialize)]
struct Settings {
    companies: Vec<String>,
    reviewers_per_company: usize,
    dashboards_per_company: usize,
    autosaves: u32,
    schedule: String,
    duration_cap_s: f64,
    settle_s: f64,
    login_concurrency: usize,
    /// `loopback-range` or `single`, as in effect (not as asked for).
    source_addresses: &'static str,
    seed: u64,
}

#[derive(Serialize)]
struct RunStatus {
    /// The scenario ran to its end (not cut, not impossible).
    completed: bool,
    stopped_by_duration_cap: bool,
    fatal: Option<String>,
}

#[derive(Serialize)]
struct KindReport {
    requests: usize,
    ok: usize,
    failed: usize,
    latency: Option<Summary>,
}

#[derive(Serialize)]
struct Throughput {
    http_requests: usize,
    requests_per_s: f64,
    burst_requests_per_s: f64,
    submits_accepted: usize,
    submits_per_s: f64,
    peak_submits_in_1s: usize,
}

#[derive(Serialize)]
struct ErrorCount {
    kind: &'static str,
    status: String,
    count: u64,
}

#[derive(Serialize)]
struct Dashboards {
    method: &'static str,
    sockets_planned: usize,
    sockets_open: usize,
    events: u64,
    lost_events_seq_gaps: u64,
    stale_or_duplicate_events: u64,
    error_frames: u64,
    closed_early: usize,
    unreflected_submits: u64,
    submit_to_event_estimate: Option<Summary>,
    submit_to_event_upper_bound: Option<Summary>,
    sockets: Vec<SocketReport>,
}

#[derive(Serialize)]
struct SocketReport {
    company: String,
    baseline_submitted: u64,
    seen_increase: u64,
    submits_accepted: usize,
    unreflected: u64,
    #[serde(flatten)]
    counts: SocketCounts,
}

#[derive(Serialize)]
struct CompanyReport {
    slug: String,
    cycle_id: Option<String>,
    cycle_name: Option<String>,
    reviewers_signed_in: usize,
    dashboards_open: usize,
    submits_accepted: usize,
    submits_refused: usize,
    final_progress: Option<Value>,
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Memory {
    Measured {
        pid: u32,
        peak_rss_kib: u64,
        last_rss_kib: u64,
        samples: usize,
    },
    NotMeasured {
        reason: String,
    },
}

impl Report {
    /// Computes every figure from the run's raw data.
    pub(crate) fn build(config: &Config, data: &RunData) -> Report {
        let recorded = &data.recorded;

        // Per kind: counts over everything, percentiles over successes.
        let mut latency = BTreeMap::new();
        for kind in Kind::ALL {
            let of_kind: Vec<_> = recorded.samples.iter().filter(|s| s.kind == kind).collect();
            let ok: Vec<Duration> = of_kind
                .iter()
                .filter(|s| s.outcome.is_ok())
                .map(|s| s.latency)
                .collect();
            let report = KindReport {
                requests: of_kind.len(),
                ok: ok.len(),
                failed: of_kind.len() - ok.len(),
                latency: Summary::of(&ok),
            };
            latency.insert(kind.name(), report);
        }

        // Errors: failed exchanges by status, plus contract faults.
        let mut errors: BTreeMap<(Kind, String), u64> = recorded.faults.clone();
        for sample in recorded.samples.iter().filter(|s| !s.outcome.is_ok()) {
            *errors
                .entry((sample.kind, sample.outcome.label()))
                .or_insert(0) += 1;
        }
        let errors = errors
            .into_iter()
            .map(|((kind, status), count)| ErrorCount {
                kind: kind.name(),
                status,
                count,
            })
            .collect();

        // Submit → dashboard latency, socket by socket.
        let accepted: Vec<Vec<Accepted>> = (0..config.companies.len())
            .map(|company| {
                let of_company = recorded
                    .submits
                    .iter()
                    .filter(|s| s.ok && s.company == company);
                of_company
                    .map(|s| Accepted {
                        sent: s.sent,
                        answered: s.answered,
                    })
                    .collect()
            })
            .collect();
        let mut estimates = Vec::new();
        let mut upper_bounds = Vec::new();
        let mut sockets = Vec::new();
        for socket in &data.sockets {
            let matched = match_submits(&accepted[socket.company], &socket.tracker);
            estimates.extend(matched.estimates.iter().copied());
            upper_bounds.extend(matched.upper_bounds.iter().copied());
            sockets.push(SocketReport {
                company: config.companies[socket.company].clone(),
                baseline_submitted: socket.tracker.baseline,
                seen_increase: socket.tracker.seen_increase(),
                submits_accepted: accepted[socket.company].len(),
                unreflected: matched.unreflected,
                counts: socket.tracker.counts,
            });
        }
        let estimate_latencies: Vec<Duration> = estimates.iter().map(|e| e.1).collect();
        let dashboards = Dashboards {
            method: METHOD,
            sockets_planned: config.companies.len() * config.dashboards_per_company,
            sockets_open: sockets.len(),
            events: sockets.iter().map(|s| s.counts.events).sum(),
            lost_events_seq_gaps: sockets.iter().map(|s| s.counts.missing_seq).sum(),
            stale_or_duplicate_events: sockets.iter().map(|s| s.counts.stale_or_duplicate).sum(),
            error_frames: sockets.iter().map(|s| s.counts.errors).sum(),
            closed_early: sockets.iter().filter(|s| s.counts.closed_early).count(),
            unreflected_submits: sockets.iter().map(|s| s.unreflected).sum(),
            submit_to_event_estimate: Summary::of(&estimate_latencies),
            submit_to_event_upper_bound: Summary::of(&upper_bounds),
            sockets,
        };

        let companies = data
            .companies
            .iter()
            .enumerate()
            .map(|(index, company)| {
                let of_company = recorded.submits.iter().filter(|s| s.company == index);
                let refused = of_company.filter(|s| !s.ok).count();
                CompanyReport {
                    slug: company.slug.clone(),
                    cycle_id: company.cycle_id.clone(),
                    cycle_name: company.cycle_name.clone(),
                    reviewers_signed_in: company.reviewers_signed_in,
                    dashboards_open: company.dashboards_open,
                    submits_accepted: accepted[index].len(),
                    submits_refused: refused,
                    final_progress: company.final_progress.clone(),
                }
            })
            .collect();

        Report {
            tool: "kaizen-loadtest",
            version: env!("CARGO_PKG_VERSION"),
            target: config.base_url.clone(),
            scope: "for loopback or servers you run yourself",
            settings: settings(config),
            run: RunStatus {
                completed: data.fatal.is_none() && !data.stopped_by_cap,
                stopped_by_duration_cap: data.stopped_by_cap,
                fatal: data.fatal.clone(),
            },
            phases: data.phases.clone(),
            latency,
            throughput: throughput(data),
            errors,
            autosave_conflict_retries: recorded.conflict_retries,
            login_rate_limit_retries: recorded.login_retries,
            dashboards,
            companies,
            memory: memory(config, data),
            event_points: estimates,
        }
    }

    /// The summary table printed at the end of a run.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let run = if self.run.completed {
            "completed"
        } else {
            "NOT completed"
        };
        let _ = writeln!(
            out,
            "kaizen-loadtest against {} ({run}, source addresses {})",
            self.target, self.settings.source_addresses
        );
        if let Some(fatal) = &self.run.fatal {
            let _ = writeln!(out, "  fatal: {fatal}");
        }
        if self.run.stopped_by_duration_cap {
            let _ = writeln!(out, "  stopped by --duration before the scenario ended");
        }
        let p = &self.phases;
        let _ = writeln!(
            out,
            "phases: login {:.1}s  subscribe {:.1}s  burst {:.1}s  settle {:.1}s  total {:.1}s\n",
            p.login_s, p.subscribe_s, p.burst_s, p.settle_s, p.total_s
        );

        let _ = writeln!(
            out,
            "{:<12}{:>8}{:>8}{:>10}{:>10}{:>10}{:>10}",
            "kind", "ok", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for name in Kind::ALL.map(Kind::name) {
            let Some(kind) = self.latency.get(name) else {
                continue;
            };
            let _ = write!(out, "{name:<12}{:>8}{:>8}", kind.ok, kind.failed);
            row_of(&mut out, kind.latency.as_ref());
        }
        let d = &self.dashboards;
        let _ = write!(out, "{:<12}{:>8}{:>8}", "submit→ws", estimates_count(d), "");
        row_of(&mut out, d.submit_to_event_estimate.as_ref());
        let _ = write!(out, "{:<12}{:>8}{:>8}", "  (bound)", "", "");
        row_of(&mut out, d.submit_to_event_upper_bound.as_ref());

        let t = &self.throughput;
        let _ = writeln!(
            out,
            "\nthroughput: {:.1} req/s overall, {:.1} req/s in the burst, {} submits \
             ({:.2}/s, peak {} in 1 s)",
            t.requests_per_s,
            t.burst_requests_per_s,
            t.submits_accepted,
            t.submits_per_s,
            t.peak_submits_in_1s
        );
        let _ = writeln!(
            out,
            "dashboards: {}/{} open, {} events, {} lost (seq gaps), {} stale, {} error frames, \
             {} closed early, {} unreflected submits",
            d.sockets_open,
            d.sockets_planned,
            d.events,
            d.lost_events_seq_gaps,
            d.stale_or_duplicate_events,
            d.error_frames,
            d.closed_early,
            d.unreflected_submits
        );
        let memory = match &self.memory {
            Memory::Measured {
                pid, peak_rss_kib, ..
            } => {
                format!(
                    "peak RSS {:.1} MiB (pid {pid})",
                    *peak_rss_kib as f64 / 1024.0
                )
            }
            Memory::NotMeasured { reason } => reason.clone(),
        };
        let _ = writeln!(out, "server memory: {memory}");
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let _ = writeln!(out, "errors (kind status count):");
            for error in &self.errors {
                let _ = writeln!(
                    out,
                    "  {:<10} {:<18} {}",
                    error.kind, error.status, error.count
                );
            }
        }
        let _ = writeln!(
            out,
            "retries: {} autosaves after 409, {} sign-ins after 429",
            self.autosave_conflict_retries, self.login_rate_limit_retries
        );
        out
    }
}

fn estimates_count(dashboards: &Dashboards) -> usize {
    dashboards
        .submit_to_event_estimate
        .map_or(0, |summary| summary.count)
}

/// The percentile columns of one table row.
fn row_of(out: &mut String, summary: Option<&Summary>) {
    match summary {
        Some(s) => {
            let _ = writeln!(
                out,
                "{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
                s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
            );
        }
        None => {
            let _ = writeln!(out, "{:>10}{:>10}{:>10}{:>10}", "-", "-", "-", "-");
        }
    }
}

fn settings(config: &Config) -> Settings {
    let schedule = match config.schedule {
        Schedule::Window(window) => format!("random over {:.1}s", window.as_secs_f64()),
        Schedule::Rate(rate) => format!("{rate} submits/s"),
    };
    Settings {
        companies: config.companies.clone(),
        reviewers_per_company: config.reviewers_per_company,
        dashboards_per_company: config.dashboards_per_company,
        autosaves: config.autosaves,
        schedule,
        duration_cap_s: config.duration.as_secs_f64(),
        settle_s: config.settle.as_secs_f64(),
        login_concurrency: config.login_concurrency,
        source_addresses: config.source_addresses.name(),
        seed: config.seed,
    }
}

/// Requests per second overall and in the burst, submits per second, and
/// the busiest second of submits.
fn throughput(data: &RunData) -> Throughput {
    let samples = data
        .recorded
        .samples
        .iter()
        .filter(|s| s.kind != Kind::Subscribe);
    let http: Vec<_> = samples.collect();
    let first = http.iter().map(|s| s.at).min().unwrap_or_default();
    let last = http
        .iter()
        .map(|s| s.at + s.latency)
        .max()
        .unwrap_or_default();
    let in_burst = data.burst_span.map_or(0.0, |(from, to)| {
        let count = http.iter().filter(|s| s.at >= from && s.at <= to).count();
        rate(count, to.saturating_sub(from))
    });

    let mut answered: Vec<Duration> = data
        .recorded
        .submits
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.answered)
        .collect();
    answered.sort();
    let first_sent = data
        .recorded
        .submits
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.sent)
        .min();
    let submit_span = match (first_sent, answered.last()) {
        (Some(first), Some(last)) => last.saturating_sub(first),
        _ => Duration::ZERO,
    };
    Throughput {
        http_requests: http.len(),
        requests_per_s: rate(http.len(), last.saturating_sub(first)),
        burst_requests_per_s: in_burst,
        submits_accepted: answered.len(),
        // One submit has no rate: its span is just its own latency.
        submits_per_s: if answered.len() < 2 {
            0.0
        } else {
            rate(answered.len(), submit_span)
        },
        peak_submits_in_1s: busiest_window(&answered, Duration::from_secs(1)),
    }
}

fn rate(count: usize, span: Duration) -> f64 {
    if span.is_zero() {
        0.0
    } else {
        count as f64 / span.as_secs_f64()
    }
}

/// Most instants of an ascending list that fit in one `window`.
fn busiest_window(sorted: &[Duration], window: Duration) -> usize {
    let mut best = 0;
    let mut first = 0;
    for (last, instant) in sorted.iter().enumerate() {
        while *instant - sorted[first] >= window {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

fn memory(config: &Config, data: &RunData) -> Memory {
    match (&data.memory, config.server_pid) {
        (Ok(samples), Some(pid)) if !samples.is_empty() => Memory::Measured {
            pid,
            peak_rss_kib: samples.iter().map(|s| s.1).max().unwrap_or(0),
            last_rss_kib: samples.last().map_or(0, |s| s.1),
            samples: samples.len(),
        },
        (Err(reason), _) => Memory::NotMeasured {
            reason: reason.clone(),
        },
        _ => Memory::NotMeasured {
            reason: "not measured (no samples taken)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn busiest_window_counts_instants_less_than_a_window_apart() {
        let second = Duration::from_secs(1);
        assert_eq!(busiest_window(&ms(&[]), second), 0);
        assert_eq!(busiest_window(&ms(&[0, 999, 1000, 1500, 1600]), second), 4);
        assert_eq!(busiest_window(&ms(&[0, 1000, 2000]), second), 1);
    }

    #[test]
    fn rate_of_an_empty_span_is_zero() {
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(rate(10, Duration::from_secs(4)), 2.5);
    }
}
