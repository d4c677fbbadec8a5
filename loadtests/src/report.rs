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
use crate::stats::{Kind, Outcome, Sample, SubmitRecord, Summary};

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
    /// The sign-in storm during the burst; `None` without `--sign-in-storm`.
    storm: Option<StormReport>,
    companies: Vec<CompanyReport>,
    memory: Memory,
    /// Kept out of the JSON: the plot's input.
    #[serde(skip)]
    pub(crate) event_points: Vec<(Duration, Duration)>,
}

#[derive(Serialize)]
struct Settings {
    companies: Vec<String>,
    demo_employees: usize,
    reviewers_per_company: usize,
    /// Sockets per company, all on one session of its HR admin.
    dashboards_per_company: usize,
    sign_in_storm: usize,
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

/// Throughput of the deadline's own requests; the storm's are in
/// [`StormReport`], so that the two runs of a comparison count the same
/// work here.
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

/// What the sign-in storm achieved, and what the dashboards saw meanwhile.
#[derive(Debug, PartialEq, Serialize)]
struct StormReport {
    people: usize,
    /// From the first storm sign-in sent to the last one answered.
    span_s: f64,
    sign_ins_accepted: usize,
    sign_ins_per_s: f64,
    /// Answered 429 by a sign-in limit, before any password check.
    sign_ins_throttled: usize,
    /// Any other failure: refused, timed out, broken.
    sign_ins_failed: usize,
    /// Sign-ins answered other than 429: each cost the server one bcrypt
    /// check, right password or not.
    password_checks_per_s: f64,
    logouts_ok: usize,
    sign_in_latency: Option<Summary>,
    /// Accepted submits sent while the storm was signing in.
    submits_during_storm: usize,
    /// The submit → dashboard estimate of those submits only.
    submit_to_event_during_storm: Option<Summary>,
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
        let storm = (!config.storm.is_empty()).then(|| {
            storm_report(
                config.storm.len(),
                &recorded.samples,
                &recorded.submits,
                &estimates,
            )
        });
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
            storm,
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
        for kind in Kind::ALL {
            // The storm's rows only when there was a storm.
            let name = kind.name();
            let row = self.latency.get(name);
            let Some(row) = row.filter(|row| row.requests > 0 || !kind.is_storm()) else {
                continue;
            };
            let _ = write!(out, "{name:<12}{:>8}{:>8}", row.ok, row.failed);
            row_of(&mut out, row.latency.as_ref());
        }
        let d = &self.dashboards;
        let _ = write!(out, "{:<12}{:>8}{:>8}", "submit→ws", estimates_count(d), "");
        row_of(&mut out, d.submit_to_event_estimate.as_ref());
        let _ = write!(out, "{:<12}{:>8}{:>8}", "  (bound)", "", "");
        row_of(&mut out, d.submit_to_event_upper_bound.as_ref());
        if let Some(storm) = &self.storm {
            let during = storm.submit_to_event_during_storm;
            let count = during.map_or(0, |summary| summary.count);
            let _ = write!(out, "{:<12}{:>8}{:>8}", "  (storm)", count, "");
            row_of(&mut out, during.as_ref());
        }

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
        if let Some(storm) = &self.storm {
            let _ = writeln!(
                out,
                "storm: {} people, {} sign-ins in {:.1}s ({:.2}/s; {:.2} password checks/s), \
                 {} throttled (429), {} failed, {} logouts; {} submits sent during it",
                storm.people,
                storm.sign_ins_accepted,
                storm.span_s,
                storm.sign_ins_per_s,
                storm.password_checks_per_s,
                storm.sign_ins_throttled,
                storm.sign_ins_failed,
                storm.logouts_ok,
                storm.submits_during_storm
            );
        }
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
        demo_employees: config.demo_employees,
        reviewers_per_company: config.reviewers_per_company,
        dashboards_per_company: config.dashboards_per_company,
        sign_in_storm: config.storm.len(),
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
        .filter(|s| s.kind != Kind::Subscribe && !s.kind.is_storm());
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

/// The storm's figures, from its own samples. The window "during the
/// storm" runs from its first sign-in sent to its last one answered.
fn storm_report(
    people: usize,
    samples: &[Sample],
    submits: &[SubmitRecord],
    estimates: &[(Duration, Duration)],
) -> StormReport {
    let sign_ins: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.kind == Kind::StormLogin)
        .collect();
    let accepted: Vec<Duration> = sign_ins
        .iter()
        .filter(|s| s.outcome.is_ok())
        .map(|s| s.latency)
        .collect();
    let throttled = sign_ins
        .iter()
        .filter(|s| s.outcome == Outcome::Status(429))
        .count();
    let unanswered = sign_ins
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
        .count();
    let from = sign_ins.iter().map(|s| s.at).min().unwrap_or_default();
    let to = sign_ins
        .iter()
        .map(|s| s.at + s.latency)
        .max()
        .unwrap_or_default();
    let span = to.saturating_sub(from);
    let during = |sent: &Duration| !sign_ins.is_empty() && (from..=to).contains(sent);
    let logouts_ok = samples
        .iter()
        .filter(|s| s.kind == Kind::Logout && s.outcome.is_ok())
        .count();
    let lags: Vec<Duration> = estimates
        .iter()
        .filter(|(sent, _)| during(sent))
        .map(|(_, lag)| *lag)
        .collect();
    StormReport {
        people,
        span_s: span.as_secs_f64(),
        sign_ins_accepted: accepted.len(),
        sign_ins_per_s: rate(accepted.len(), span),
        sign_ins_throttled: throttled,
        sign_ins_failed: sign_ins.len() - accepted.len() - throttled,
        password_checks_per_s: rate(sign_ins.len() - throttled - unanswered, span),
        logouts_ok,
        sign_in_latency: Summary::of(&accepted),
        submits_during_storm: submits.iter().filter(|s| s.ok && during(&s.sent)).count(),
        submit_to_event_during_storm: Summary::of(&lags),
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

    fn sample(kind: Kind, at: u64, latency: u64, outcome: Outcome) -> Sample {
        Sample {
            kind,
            at: Duration::from_millis(at),
            latency: Duration::from_millis(latency),
            outcome,
        }
    }

    fn submit(sent: u64, ok: bool) -> SubmitRecord {
        SubmitRecord {
            company: 0,
            sent: Duration::from_millis(sent),
            answered: Duration::from_millis(sent + 2),
            ok,
        }
    }

    #[test]
    fn storm_counts_its_sign_ins_by_outcome_over_its_own_span() {
        let samples = [
            sample(Kind::StormLogin, 1_000, 500, Outcome::Status(200)),
            sample(Kind::Logout, 1_500, 5, Outcome::Status(204)),
            sample(Kind::StormLogin, 1_200, 800, Outcome::Status(200)),
            sample(Kind::StormLogin, 1_300, 1, Outcome::Status(429)),
            sample(Kind::StormLogin, 2_000, 1_000, Outcome::Status(200)),
            sample(Kind::StormLogin, 2_500, 500, Outcome::Failed("timeout")),
            sample(Kind::Login, 0, 300, Outcome::Status(200)),
            sample(Kind::Submit, 1_100, 3, Outcome::Status(200)),
        ];
        let storm = storm_report(4, &samples, &[], &[]);
        assert_eq!(storm.people, 4);
        assert_eq!(storm.span_s, 2.0);
        assert_eq!(storm.sign_ins_accepted, 3);
        assert_eq!(storm.sign_ins_per_s, 1.5);
        assert_eq!(storm.sign_ins_throttled, 1);
        assert_eq!(storm.sign_ins_failed, 1);
        assert_eq!(storm.password_checks_per_s, 1.5);
        assert_eq!(storm.logouts_ok, 1);
        let latency = storm.sign_in_latency.expect("three accepted");
        assert_eq!((latency.count, latency.max_ms), (3, 1_000.0));
    }

    #[test]
    fn only_submits_sent_while_the_storm_signed_in_count_as_during_it() {
        let samples = [
            sample(Kind::StormLogin, 1_000, 500, Outcome::Status(200)),
            sample(Kind::StormLogin, 2_000, 1_000, Outcome::Status(200)),
        ];
        let submits = [
            submit(900, true),
            submit(1_000, true),
            submit(2_000, false),
            submit(3_000, true),
            submit(3_001, true),
        ];
        let ms = |value| Duration::from_millis(value);
        let estimates = [
            (ms(900), ms(50)),
            (ms(1_000), ms(7)),
            (ms(3_000), ms(9)),
            (ms(3_001), ms(70)),
        ];
        let storm = storm_report(2, &samples, &submits, &estimates);
        assert_eq!(storm.submits_during_storm, 2);
        let during = storm.submit_to_event_during_storm.expect("two inside");
        assert_eq!((during.count, during.p50_ms, during.max_ms), (2, 7.0, 9.0));
    }

    #[test]
    fn a_storm_that_never_signed_in_reports_nothing_during_it() {
        let submits = [submit(0, true)];
        let estimates = [(Duration::ZERO, Duration::from_millis(5))];
        let storm = storm_report(3, &[], &submits, &estimates);
        assert_eq!(storm.sign_ins_accepted, 0);
        assert_eq!(storm.sign_ins_per_s, 0.0);
        assert_eq!(storm.submits_during_storm, 0);
        assert_eq!(storm.submit_to_event_during_storm, None);
    }

    #[test]
    fn rate_of_an_empty_span_is_zero() {
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(rate(10, Duration::from_secs(4)), 2.5);
    }
}
