//! The fan-out scenario: one company's `cycle:<id>` followed by many sockets.
//!
//! All sockets are connections on one session of the first company's HR admin,
//! like the tabs of one browser, spread over source addresses (a thousand
//! sockets an address) so that no address runs out of ports. Before they open,
//! `--changes` reviewers save a complete draft; then the server's resident memory
//! is read, the sockets are opened and subscribed, and it is read again: the
//! difference per socket gives sockets per GiB. Then the reviewers submit one at a
//! time, each submit waited for on every socket: the time from sending the submit
//! to each socket's `progress` event is the fan-out latency.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::config::Config;
use crate::live::{self, Socket};
use crate::memory;
use crate::session::{Session, SignIn, id_text};
use crate::stats::{Kind, Recorder, Summary};

/// Sockets sharing one source address.
const SOCKETS_PER_ADDRESS: usize = 1_000;

/// Sockets being opened at once.
const OPEN_CONCURRENCY: usize = 64;

/// How long one socket may take to open and answer its snapshot.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long every socket may take to receive one change's event.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server is left alone before its memory is read.
const MEMORY_SETTLE: Duration = Duration::from_secs(2);

/// A `progress` event as a socket received it.
struct Delivery {
    socket: usize,
    seq: u64,
    at: Instant,
}

/// Runs the scenario; answers the JSON report and the table to print.
pub(crate) async fn run(config: Arc<Config>) -> Result<(Value, String)> {
    let started = Instant::now();
    let rec = Recorder::new(started);
    let slug = config.companies[0].clone();

    // The HR admin's session carries every socket; the reviewers make the changes.
    let hr_email = format!("hr@{slug}.example");
    let hr = sign_in(&config, &rec, &slug, hr_email, 0)
        .await
        .context("the HR admin could not sign in")?;
    let cycle_id = open_cycle(&config, &rec, &hr)
        .await
        .context("no open cycle")?;
    let mut reviewers = Vec::new();
    for n in 1..=config.changes {
        let email = format!("employee{n}@{slug}.example");
        if let Some(session) = sign_in(&config, &rec, &slug, email, n).await
            && let Some(review) = complete_draft(&config, &rec, &session).await
        {
            reviewers.push((session, review));
        }
    }
    if reviewers.len() < config.changes {
        eprintln!(
            "kaizen-loadtest: {} of {} reviewers have an unsubmitted self review to submit",
            reviewers.len(),
            config.changes
        );
    }

    // Memory before and after the sockets open.
    let rss_before = config.server_pid.map(memory::rss_kib);
    let cookie = hr
        .cookie_header(&config)
        .context("the HR session has no cookie")?;
    let (deliveries, mut delivered) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
    let mut opening = JoinSet::new();
    let open_started = Instant::now();
    let first_socket_address = config.changes + 1;
    for socket in 0..config.subscribers {
        let source = config
            .source_addresses
            .of(first_socket_address + socket / SOCKETS_PER_ADDRESS);
        let (config, cookie, gate) = (Arc::clone(&config), cookie.clone(), Arc::clone(&gate));
        let topic = format!("cycle:{cycle_id}");
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let opened = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
                let mut socket = live::upgrade_with(&config, &cookie, source).await.ok()?;
                let message = json!({ "type": "subscribe", "topic": topic }).to_string();
                socket.send(Message::text(message)).await.ok()?;
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        let frame: Value = serde_json::from_str(text.as_str()).ok()?;
                        match frame.get("type").and_then(Value::as_str) {
                            Some("snapshot") => return Some(socket),
                            Some("error") => return None,
                            _ => {}
                        }
                    }
                }
                None
            })
            .await;
            (socket, opened.ok().flatten())
        });
    }
    let mut readers = JoinSet::new();
    let mut open = 0;
    while let Some(joined) = opening.join_next().await {
        if let Ok((index, Some(socket))) = joined {
            open += 1;
            readers.spawn(read(index, socket, deliveries.clone(), stopped.clone()));
        }
    }
    drop(deliveries);
    let open_s = open_started.elapsed().as_secs_f64();
    tokio::time::sleep(MEMORY_SETTLE).await;
    let rss_after = config.server_pid.map(memory::rss_kib);
    if open == 0 {
        bail!("no socket could follow the cycle");
    }

    // One change at a time, each waited for on every socket.
    let mut latencies = Vec::new();
    let mut slowest = Vec::new();
    let mut missed = 0usize;
    let mut changes_made = 0usize;
    let mut stray = 0usize;
    for (session, review_id) in &reviewers {
        // Whatever arrived before this change does not belong to it.
        while delivered.try_recv().is_ok() {
            stray += 1;
        }
        let url = config.url(&format!("/api/v1/reviews/{review_id}/submit"));
        let sent = Instant::now();
        let reply = session
            .send(&rec, Kind::Submit, Method::POST, &url, None)
            .await;
        if !reply.is_some_and(|reply| reply.status.is_success()) {
            continue;
        }
        changes_made += 1;
        let mut got: HashMap<usize, Instant> = HashMap::new();
        let mut seq = None;
        let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        while got.len() < open {
            let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, delivered.recv()).await
            else {
                break;
            };
            // The first event after the submit names its sequence number.
            let expected = *seq.get_or_insert(delivery.seq);
            if delivery.seq == expected {
                got.entry(delivery.socket).or_insert(delivery.at);
            } else {
                stray += 1;
            }
        }
        missed += open - got.len();
        let mut last = Duration::ZERO;
        for at in got.values() {
            let latency = at.saturating_duration_since(sent);
            last = last.max(latency);
            latencies.push(latency);
        }
        slowest.push(last);
    }
    let _ = stop.send(true);
    while readers.join_next().await.is_some() {}

    let report = Figures {
        cycle_id,
        open,
        open_s,
        rss_before,
        rss_after,
        changes_made,
        per_delivery: Summary::of(&latencies),
        per_change: Summary::of(&slowest),
        missed,
        stray,
        total_s: started.elapsed().as_secs_f64(),
    };
    Ok(report.finish(&config))
}

/// Signs a demo user in from the `index`-th source address.
async fn sign_in(
    config: &Config,
    rec: &Recorder,
    slug: &str,
    email: String,
    index: usize,
) -> Option<Session> {
    let mut session = Session::new(config, slug, email, config.source_addresses.of(index)).ok()?;
    for _ in 0..5 {
        match session.login(config, rec, Kind::Login).await {
            SignIn::Accepted => return Some(session),
            SignIn::Throttled(wait) => tokio::time::sleep(wait).await,
            SignIn::Failed | SignIn::Unanswered => return None,
        }
    }
    None
}

/// The id of the company's open cycle.
async fn open_cycle(config: &Config, rec: &Recorder, hr: &Session) -> Option<String> {
    let url = config.url("/api/v1/cycles");
    let reply = hr.send(rec, Kind::List, Method::GET, &url, None).await?;
    reply
        .body
        .as_array()?
        .iter()
        .find(|cycle| cycle.get("status").and_then(Value::as_str) == Some("open"))
        .and_then(|cycle| cycle.get("id"))
        .and_then(id_text)
}

/// Saves a complete draft of the reviewer's unsubmitted self review, so that its
/// submit is the one status change measured; answers the review's id.
async fn complete_draft(config: &Config, rec: &Recorder, session: &Session) -> Option<String> {
    let user_id = session.user_id.clone()?;
    let url = config.url("/api/v1/reviews");
    let reply = session
        .send(rec, Kind::List, Method::GET, &url, None)
        .await?;
    let id = reply.body.as_array()?.iter().find_map(|review| {
        let mine = review.get("kind").and_then(Value::as_str) == Some("self")
            && review.get("reviewer_id").and_then(id_text).as_deref() == Some(user_id.as_str())
            && matches!(
                review.get("status").and_then(Value::as_str),
                Some("not_started" | "draft")
            );
        mine.then(|| review.get("id").and_then(id_text)).flatten()
    })?;
    let url = config.url(&format!("/api/v1/reviews/{id}"));
    let reply = session
        .send(rec, Kind::Get, Method::GET, &url, None)
        .await?;
    let version = reply.body.get("version")?.as_i64()?;
    let mut answers = serde_json::Map::new();
    for question in reply.body.get("questions")?.as_array()? {
        let qid = question.get("id").and_then(id_text)?;
        let answer = match question.get("kind").and_then(Value::as_str) {
            Some("rating") => json!(4),
            _ => json!("Written for the fan-out run."),
        };
        answers.insert(qid, answer);
    }
    let body = json!({ "answers": answers, "version": version });
    let reply = session
        .send(rec, Kind::Autosave, Method::PATCH, &url, Some(&body))
        .await?;
    reply.status.is_success().then_some(id)
}

/// Reads one socket until `stop`, passing on every `progress` event.
async fn read(
    index: usize,
    mut socket: Socket,
    deliveries: mpsc::UnboundedSender<Delivery>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            _ = stop.changed() => break,
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            _ => return,
        };
        let at = Instant::now();
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if frame.get("event").and_then(Value::as_str) == Some("progress")
            && let Some(seq) = frame.get("seq").and_then(Value::as_u64)
        {
            let _ = deliveries.send(Delivery {
                socket: index,
                seq,
                at,
            });
        }
    }
    let _ = socket.close(None).await;
}

/// What the run found.
struct Figures {
    cycle_id: String,
    open: usize,
    open_s: f64,
    rss_before: Option<Result<u64, String>>,
    rss_after: Option<Result<u64, String>>,
    changes_made: usize,
    per_delivery: Option<Summary>,
    per_change: Option<Summary>,
    missed: usize,
    stray: usize,
    total_s: f64,
}

impl Figures {
    fn finish(self, config: &Config) -> (Value, String) {
        let memory = match (&self.rss_before, &self.rss_after) {
            (Some(Ok(before)), Some(Ok(after))) => {
                let grown = after.saturating_sub(*before) * 1024;
                let per_socket = grown as f64 / self.open as f64;
                let per_gib = (per_socket > 0.0).then(|| (1u64 << 30) as f64 / per_socket);
                Ok((*before, *after, per_socket, per_gib))
            }
            (Some(Err(error)), _) | (_, Some(Err(error))) => Err(error.clone()),
            _ => Err("no --server-pid".to_owned()),
        };
        let json = json!({
            "scenario": "fan-out",
            "settings": {
                "base_url": config.base_url,
                "company": config.companies[0],
                "subscribers": config.subscribers,
                "changes": config.changes,
                "source_addresses": config.source_addresses.name(),
            },
            "cycle_id": self.cycle_id,
            "sockets_open": self.open,
            "open_s": self.open_s,
            "memory": match &memory {
                Ok((before, after, per_socket, per_gib)) => json!({
                    "rss_before_kib": before, "rss_after_kib": after,
                    "bytes_per_socket": per_socket, "sockets_per_gib": per_gib,
                }),
                Err(why) => json!({ "unavailable": why }),
            },
            "changes_made": self.changes_made,
            "change_to_each_socket": self.per_delivery,
            "change_to_last_socket": self.per_change,
            "missed_deliveries": self.missed,
            "stray_events": self.stray,
            "total_s": self.total_s,
        });
        let mut table = format!(
            "kaizen-loadtest fan-out against {}: {} of {} sockets on cycle:{} of {} \
             (opened in {:.1}s), {} changes\n",
            config.base_url,
            self.open,
            config.subscribers,
            self.cycle_id,
            config.companies[0],
            self.open_s,
            self.changes_made
        );
        table += &match &memory {
            Ok((before, after, per_socket, per_gib)) => format!(
                "memory: RSS {:.1} MiB before the sockets, {:.1} MiB after: {:.0} bytes a socket, \
                 {} sockets per GiB\n",
                *before as f64 / 1024.0,
                *after as f64 / 1024.0,
                per_socket,
                per_gib.map_or("n/a".to_owned(), |n| format!("{n:.0}"))
            ),
            Err(why) => format!("memory: not measured ({why})\n"),
        };
        table += &format!(
            "\n{:<22}{:>8}{:>10}{:>10}{:>10}{:>10}\n",
            "change→socket", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for (name, summary) in [
            ("each socket", self.per_delivery),
            ("last socket of each", self.per_change),
        ] {
            table += &match summary {
                Some(s) => format!(
                    "{name:<22}{:>8}{:>10.1}{:>10.1}{:>10.1}{:>10.1}\n",
                    s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
                ),
                None => format!("{name:<22}{:>8}\n", 0),
            };
        }
        table += &format!(
            "\nlosses: {} deliveries missed (not within {} s), {} stray events\n",
            self.missed,
            DELIVERY_TIMEOUT.as_secs(),
            self.stray
        );
        (json, table)
    }
}
