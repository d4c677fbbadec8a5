//! The deadline peak, phase by phase: sign in, open dashboards, burst of
//! autosaves and submits (with the sign-in storm alongside, if asked for),
//! let the dashboards catch up, close.
//!
//! Every phase is bounded twice: by its own limit (a timeout or a count) and
//! by the run's `--duration` cap, after which pending work is dropped and
//! the report says the run was cut short.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::accounting::SocketTracker;
use crate::config::Config;
use crate::live::{self, Dashboard};
use crate::login::{self, Person, Role};
use crate::memory::{self, RssSamples};
use crate::reviewer::{self, Plan};
use crate::schedule::submit_offsets;
use crate::session::{Session, id_text};
use crate::stats::{Kind, Recorded, Recorder};
use crate::storm;

/// Time allowed for reading the final progress after the run.
const FINAL_PROGRESS_TIMEOUT: Duration = Duration::from_secs(5);

/// Interval at which the settle phase checks whether dashboards caught up.
const SETTLE_POLL: Duration = Duration::from_millis(25);

/// Everything a report is made from.
pub(crate) struct RunData {
    pub(crate) recorded: Recorded,
    pub(crate) companies: Vec<CompanyRun>,
    pub(crate) sockets: Vec<SocketRun>,
    pub(crate) phases: Phases,
    /// Start and end of the burst, from the run start; `None` if it never ran.
    pub(crate) burst_span: Option<(Duration, Duration)>,
    /// Resident memory samples, or why there are none.
    pub(crate) memory: Result<RssSamples, String>,
    pub(crate) stopped_by_cap: bool,
    /// Why the run could not happen at all, if it could not.
    pub(crate) fatal: Option<String>,
}

/// What happened to one company.
#[derive(Default)]
pub(crate) struct CompanyRun {
    pub(crate) slug: String,
    pub(crate) cycle_id: Option<String>,
    pub(crate) cycle_name: Option<String>,
    pub(crate) reviewers_signed_in: usize,
    pub(crate) dashboards_open: usize,
    /// `GET /cycles/{id}/progress` after the run, as ground truth.
    pub(crate) final_progress: Option<Value>,
}

/// One dashboard socket after the run.
pub(crate) struct SocketRun {
    pub(crate) company: usize,
    pub(crate) tracker: SocketTracker,
}

/// Wall time of each phase, in seconds.
#[derive(Clone, Default, serde::Serialize)]
pub(crate) struct Phases {
    pub(crate) login_s: f64,
    pub(crate) subscribe_s: f64,
    pub(crate) burst_s: f64,
    pub(crate) settle_s: f64,
    pub(crate) total_s: f64,
}

/// Runs the whole scenario. `Err` only when the server cannot be reached.
pub(crate) async fn run(config: Arc<Config>) -> Result<RunData> {
    let start = Instant::now();
    let deadline = start + config.duration;
    let rec = Recorder::new(start);
    probe(&config).await?;

    let (stop, stopped) = watch::channel(false);
    let memory = config
        .server_pid
        .map(|pid| tokio::spawn(memory::sample(pid, start, stopped.clone(), deadline)));
    let mut companies: Vec<CompanyRun> = config
        .companies
        .iter()
        .map(|slug| CompanyRun {
            slug: slug.clone(),
            ..CompanyRun::default()
        })
        .collect();
    let mut phases = Phases::default();
    let mut fatal = None;

    // Phase 1: sign everybody in, a few at a time (bcrypt is CPU-bound).
    let phase = Instant::now();
    let people = login::sign_in_all(&config, &rec, deadline).await;
    phases.login_s = phase.elapsed().as_secs_f64();
    let mut cut = Instant::now() >= deadline;
    let mut hr: Vec<Option<Session>> = companies.iter().map(|_| None).collect();
    let mut reviewers = Vec::new();
    for person in people {
        match person.role {
            Role::Hr => hr[person.company] = Some(person.session),
            Role::Reviewer(number) => {
                companies[person.company].reviewers_signed_in += 1;
                reviewers.push((number, person));
            }
        }
    }
    if reviewers.is_empty() && !cut {
        fatal = Some("no reviewer could sign in (see the login errors)".to_owned());
    }

    // The open cycle of each company, as its HR admin sees it.
    for (company, session) in companies.iter_mut().zip(&hr) {
        if let (Some(session), None) = (session, &fatal)
            && let Some((id, name)) = open_cycle(&config, session, &rec).await
        {
            company.cycle_id = Some(id);
            company.cycle_name = Some(name);
        }
    }
    if fatal.is_none() && companies.iter().all(|c| c.cycle_id.is_none()) {
        fatal = Some("no company has an open cycle visible to its HR admin".to_owned());
    }

    // Phase 2: dashboards subscribe and keep watching in the background.
    // They share their company's HR session, so they cost no sign-in.
    let phase = Instant::now();
    let mut trackers = Vec::new();
    let mut watch_tasks = JoinSet::new();
    if fatal.is_none() && !cut {
        for (company, dashboard) in subscribe_all(&config, &companies, &hr, &rec).await {
            companies[company].dashboards_open += 1;
            trackers.push((company, Arc::clone(&dashboard.tracker)));
            watch_tasks.spawn(dashboard.watch(rec.clone(), stopped.clone(), deadline));
        }
    }
    phases.subscribe_s = phase.elapsed().as_secs_f64();

    // Phase 3: the burst, and the storm during it. Results land in the
    // recorder, so a cut keeps them.
    let phase = Instant::now();
    let mut burst_span = None;
    let mut storm = None;
    if fatal.is_none() && Instant::now() < deadline {
        let from = rec.now();
        storm = Some(storm::start(&config, &rec, deadline));
        cut |= burst(&config, &companies, reviewers, &rec, deadline).await;
        burst_span = Some((from, rec.now()));

        // Signed in but nothing to write: typically a cycle a previous run
        // already submitted. Reporting success would hide that.
        let recorded = rec.snapshot();
        if !cut && !recorded.samples.iter().any(|s| s.kind == Kind::Autosave) {
            fatal =
                Some("no reviewer found an unsubmitted self review (reseed the server)".to_owned());
        }
    }
    phases.burst_s = phase.elapsed().as_secs_f64();

    // Phase 4: give the dashboards a bounded time to show every submit,
    // while the storm's last sign-ins (already queued for bcrypt) finish.
    let phase = Instant::now();
    let storm_ends = async {
        if let Some(storm) = storm {
            storm.finish(&config, deadline).await;
        }
    };
    let dashboards_settle = async {
        if !cut && !trackers.is_empty() {
            settle(&config, &rec, &trackers, deadline).await;
        }
    };
    tokio::join!(storm_ends, dashboards_settle);
    phases.settle_s = phase.elapsed().as_secs_f64();

    // Close sockets and the memory sampler; neither may hold the run open.
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), watch_tasks.join_all()).await;
    let sockets = trackers
        .iter()
        .map(|(company, tracker)| SocketRun {
            company: *company,
            tracker: tracker.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        })
        .collect();
    let memory = match memory {
        None => Err("not measured (no --server-pid)".to_owned()),
        Some(task) => task
            .await
            .unwrap_or_else(|error| Err(format!("sampler failed: {error}"))),
    };

    // Ground truth from the server, to compare with what dashboards saw.
    // It may run past the cap, but only by this bounded moment.
    let truth = final_progress(&config, &mut companies, &hr, &rec);
    let _ = tokio::time::timeout(FINAL_PROGRESS_TIMEOUT, truth).await;

    phases.total_s = start.elapsed().as_secs_f64();
    Ok(RunData {
        recorded: rec.snapshot(),
        companies,
        sockets,
        phases,
        burst_span,
        memory,
        stopped_by_cap: cut,
        fatal,
    })
}

/// Reads each company's progress once the load is over.
async fn final_progress(
    config: &Config,
    companies: &mut [CompanyRun],
    hr: &[Option<Session>],
    rec: &Recorder,
) {
    for (company, session) in companies.iter_mut().zip(hr) {
        if let (Some(session), Some(id)) = (session, &company.cycle_id) {
            let url = config.url(&format!("/api/v1/cycles/{id}/progress"));
            let reply = session.send(rec, Kind::List, Method::GET, &url, None).await;
            company.final_progress = reply
                .filter(|reply| reply.status.is_success())
                .map(|reply| reply.body);
        }
    }
}

/// Fails fast, before any load, when nothing listens at the base URL.
async fn probe(config: &Config) -> Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the probe client")?;
    let url = config.url("/healthz");
    match client.get(&url).send().await {
        Ok(_) => Ok(()),
        Err(error) => bail!("server unreachable at {}: {error}", config.base_url),
    }
}

/// The first cycle whose status is "open", as `(id, name)`.
async fn open_cycle(
    config: &Config,
    session: &Session,
    rec: &Recorder,
) -> Option<(String, String)> {
    let url = config.url("/api/v1/cycles");
    let reply = session
        .send(rec, Kind::List, Method::GET, &url, None)
        .await?;
    if !reply.status.is_success() {
        return None;
    }
    let cycle = reply
        .body
        .as_array()?
        .iter()
        .find(|cycle| cycle.get("status").and_then(Value::as_str) == Some("open"));
    let Some(cycle) = cycle else {
        rec.fault(Kind::List, "no_open_cycle");
        return None;
    };
    let id = cycle.get("id").and_then(id_text)?;
    let name = cycle
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Some((id, name))
}

/// Opens every dashboard of a company that has an open cycle, all on its
/// HR admin's one session, as tabs of one browser would be.
async fn subscribe_all(
    config: &Config,
    companies: &[CompanyRun],
    hr: &[Option<Session>],
    rec: &Recorder,
) -> Vec<(usize, Dashboard)> {
    let tabs = (0..config.dashboards_per_company).map(|_| companies.iter().zip(hr).enumerate());
    let attempts = tabs.flatten().filter_map(|(company, (run, session))| {
        let (Some(cycle_id), Some(session)) = (run.cycle_id.as_deref(), session) else {
            return None;
        };
        Some(async move {
            let dashboard = live::subscribe(config, session, cycle_id, rec).await?;
            Some((company, dashboard))
        })
    });
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Runs every reviewer against the schedule; true when the cap cut it.
async fn burst(
    config: &Arc<Config>,
    companies: &[CompanyRun],
    reviewers: Vec<(usize, Person)>,
    rec: &Recorder,
    deadline: Instant,
) -> bool {
    let offsets = submit_offsets(config.schedule, reviewers.len(), config.seed);
    let burst_start = Instant::now();
    let mut tasks = JoinSet::new();
    for ((number, person), offset) in reviewers.into_iter().zip(offsets) {
        let Some(cycle_id) = companies[person.company].cycle_id.clone() else {
            continue;
        };
        let plan = Plan {
            session: person.session,
            company: person.company,
            cycle_id,
            number,
            submit_at: burst_start + offset,
        };
        let (config, rec) = (Arc::clone(config), rec.clone());
        tasks.spawn(async move { reviewer::run(plan, &config, &rec).await });
    }
    let all_done = async { while tasks.join_next().await.is_some() {} };
    let cut = tokio::time::timeout_at(deadline.into(), all_done)
        .await
        .is_err();
    tasks.abort_all();
    cut
}

/// Waits until every socket has seen as many submits as its company had
/// accepted, or until `--settle-seconds` (or the cap) runs out.
async fn settle(
    config: &Config,
    rec: &Recorder,
    trackers: &[(usize, Arc<Mutex<SocketTracker>>)],
    deadline: Instant,
) {
    let accepted = accepted_per_company(rec, config.companies.len());
    let until = (Instant::now() + config.settle).min(deadline);
    while Instant::now() < until {
        let caught_up = trackers.iter().all(|(company, tracker)| {
            let tracker = tracker.lock().unwrap_or_else(|p| p.into_inner());
            tracker.seen_increase() >= accepted[*company]
        });
        if caught_up {
            return;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// Accepted submits of each company so far.
fn accepted_per_company(rec: &Recorder, companies: usize) -> Vec<u64> {
    let mut accepted = vec![0; companies];
    for submit in rec.snapshot().submits.iter().filter(|submit| submit.ok) {
        accepted[submit.company] += 1;
    }
    accepted
}
