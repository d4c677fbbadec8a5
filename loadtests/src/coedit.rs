//! The co-editing scenario: pairs of browsers editing one review together.
//!
//! Each pair is one writer signed in twice (two browsers, two source addresses),
//! both following the writer's self review on `review:<id>` and saving it over
//! HTTP. Member A changes the first text answer, member B the second, and a
//! share of their saves (`--overlap`) changes the rating both of them edit, so
//! that saves of the same answer meet and the server answers 409 with both
//! versions; the member then keeps its own version, as "Use my version" does.
//!
//! Measured: save latency, the time from sending a save to the *other* member
//! receiving its `saved` event (save → co-editor), conflicts, and losses: saves
//! accepted whose event the co-editor never saw, sequence gaps, and answers
//! whose final stored value is not the last accepted one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::config::Config;
use crate::live::{self, Socket};
use crate::session::{Session, SignIn, id_text};
use crate::stats::{Kind, Recorder, Summary};

/// How long a socket may take to open and answer its snapshot.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long to wait after the last save for the co-editors' events.
const SETTLE: Duration = Duration::from_secs(5);

/// How often one save is tried again after a conflict before it counts as failed.
const MAX_TRIES: u32 = 5;

/// One member of a pair, as the run sees it.
struct Member {
    session: Session,
    /// The highest version this member knows: its own saves and the events it saw.
    known: Arc<AtomicI64>,
}

/// A pair's review and the questions its members edit.
#[derive(Clone)]
struct Review {
    id: String,
    /// A's own answer, B's own answer, and the one both edit.
    own: [String; 2],
    shared: String,
}

/// One accepted save.
#[derive(Clone)]
struct Accepted {
    version: i64,
    sent: Instant,
    question: String,
    value: Value,
}

/// What one member's socket saw.
#[derive(Default)]
struct Seen {
    /// Arrival of each `saved` event, by version.
    arrivals: HashMap<i64, Instant>,
    gaps: u64,
    errors: u64,
    closed_early: bool,
}

/// What one member's saves did.
#[derive(Default)]
struct Saves {
    accepted: Vec<Accepted>,
    conflicts: u64,
    failed: u64,
}

/// Runs the scenario; answers the JSON report and the table to print.
pub(crate) async fn run(config: Arc<Config>) -> Result<(Value, String)> {
    let started = Instant::now();
    let rec = Recorder::new(started);

    // Sign in both members of every pair, a few at a time.
    let gate = Arc::new(Semaphore::new(config.login_concurrency));
    let mut sign_ins = JoinSet::new();
    for pair in 0..config.pairs {
        let company = pair % config.companies.len();
        let slug = config.companies[company].clone();
        let email = format!(
            "employee{}@{slug}.example",
            pair / config.companies.len() + 1
        );
        for member in 0..2 {
            let source = config.source_addresses.of(pair * 2 + member);
            let mut session = Session::new(&config, &slug, email.clone(), source)?;
            let (config, rec, gate) = (Arc::clone(&config), rec.clone(), Arc::clone(&gate));
            sign_ins.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let mut signed_in = false;
                for _ in 0..5 {
                    match session.login(&config, &rec, Kind::Login).await {
                        SignIn::Accepted => {
                            signed_in = true;
                            break;
                        }
                        SignIn::Throttled(wait) => tokio::time::sleep(wait).await,
                        SignIn::Failed | SignIn::Unanswered => break,
                    }
                }
                (pair, member, signed_in.then_some(session))
            });
        }
    }
    let mut members: HashMap<(usize, usize), Session> = HashMap::new();
    while let Some(joined) = sign_ins.join_next().await {
        if let Ok((pair, member, Some(session))) = joined {
            members.insert((pair, member), session);
        }
    }
    let login_s = started.elapsed().as_secs_f64();

    // Each complete pair finds its review and opens both sockets.
    let mut pairs = Vec::new();
    for pair in 0..config.pairs {
        let (Some(a), Some(b)) = (members.remove(&(pair, 0)), members.remove(&(pair, 1))) else {
            continue;
        };
        let Some(review) = find_review(&config, &rec, &a).await else {
            continue;
        };
        pairs.push((review, [a, b]));
    }
    if pairs.is_empty() {
        bail!("no pair could sign in and find its self review");
    }

    let (stop, stopped) = watch::channel(false);
    let mut readers = JoinSet::new();
    let mut ready = Vec::new();
    for (index, (review, sessions)) in pairs.into_iter().enumerate() {
        let mut members = Vec::new();
        let mut seen = Vec::new();
        for session in sessions {
            let known = Arc::new(AtomicI64::new(0));
            let socket = tokio::time::timeout(
                SUBSCRIBE_TIMEOUT,
                subscribe(&config, &session, &review.id, &known),
            )
            .await;
            let Ok(Some(socket)) = socket else {
                break;
            };
            let sink = Arc::new(Mutex::new(Seen::default()));
            readers.spawn(read(
                socket,
                Arc::clone(&sink),
                Arc::clone(&known),
                stopped.clone(),
            ));
            seen.push(sink);
            members.push(Member { session, known });
        }
        if members.len() == 2 {
            ready.push((index, review, members, seen));
        }
    }
    let subscribe_s = started.elapsed().as_secs_f64() - login_s;

    // Every member saves on its own clock; B half an interval after A.
    let edits_started = Instant::now();
    let mut editors = JoinSet::new();
    let mut reviews = Vec::new();
    let mut seen_by_pair = Vec::new();
    for (index, review, members, seen) in ready {
        for (member, m) in members.into_iter().enumerate() {
            let (config, rec, review) = (Arc::clone(&config), rec.clone(), review.clone());
            let offset = config.edit_interval * u32::try_from(member).unwrap_or(0) / 2;
            let seed = config.seed ^ ((index as u64) << 1 | member as u64);
            let index = reviews.len();
            editors.spawn(async move {
                let start = edits_started + offset;
                let (session, saves) = edit(&config, &rec, &review, member, m, start, seed).await;
                (index, member, session, saves)
            });
        }
        reviews.push(review);
        seen_by_pair.push(seen);
    }
    let mut saves_by_pair: Vec<[Saves; 2]> = reviews.iter().map(|_| Default::default()).collect();
    let mut readers_of: Vec<Option<Session>> = reviews.iter().map(|_| None).collect();
    while let Some(joined) = editors.join_next().await {
        if let Ok((index, member, session, saves)) = joined {
            saves_by_pair[index][member] = saves;
            readers_of[index] = Some(session);
        }
    }
    let edits_s = edits_started.elapsed().as_secs_f64();

    // Let the co-editors' events arrive, then stop reading.
    let settle_until = Instant::now() + SETTLE;
    while Instant::now() < settle_until && !all_seen(&saves_by_pair, &seen_by_pair) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = stop.send(true);
    while readers.join_next().await.is_some() {}

    // Ground truth: the stored answers.
    let mut tally = Tally::default();
    for (index, review) in reviews.iter().enumerate() {
        let seen: Vec<Seen> = seen_by_pair[index]
            .iter()
            .map(|slot| std::mem::take(&mut *lock(slot)))
            .collect();
        let stored = match &readers_of[index] {
            Some(session) => read_answers(&config, &rec, session, &review.id).await,
            None => None,
        };
        tally.add(review, &saves_by_pair[index], &seen, stored.as_ref());
    }
    let total_s = started.elapsed().as_secs_f64();
    let phases = [login_s, subscribe_s, edits_s, total_s];
    Ok(tally.finish(&config, &rec, phases, reviews.len()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether every accepted save has reached the co-editor.
fn all_seen(saves: &[[Saves; 2]], seen: &[Vec<Arc<Mutex<Seen>>>]) -> bool {
    saves.iter().zip(seen).all(|(saves, seen)| {
        (0..2).all(|member| {
            let other = lock(&seen[1 - member]);
            saves[member]
                .accepted
                .iter()
                .all(|save| other.arrivals.contains_key(&save.version))
        })
    })
}

/// The writer's self review and its questions: two text answers and one more.
async fn find_review(config: &Config, rec: &Recorder, session: &Session) -> Option<Review> {
    let user_id = session.user_id.clone()?;
    let url = config.url("/api/v1/reviews");
    let reply = session
        .send(rec, Kind::List, Method::GET, &url, None)
        .await?;
    let mine = reply.body.as_array()?.iter().find(|review| {
        review.get("kind").and_then(Value::as_str) == Some("self")
            && review.get("reviewer_id").and_then(id_text).as_deref() == Some(user_id.as_str())
    });
    let Some(review) = mine else {
        rec.fault(Kind::List, "no_self_review");
        return None;
    };
    let editable = matches!(
        review.get("status").and_then(Value::as_str),
        Some("not_started" | "draft")
    );
    if !editable {
        rec.fault(Kind::List, "self_review_already_submitted");
        return None;
    }
    let id = review.get("id").and_then(id_text)?;
    let url = config.url(&format!("/api/v1/reviews/{id}"));
    let reply = session
        .send(rec, Kind::Get, Method::GET, &url, None)
        .await?;
    let questions = reply.body.get("questions")?.as_array()?;
    let of_kind = |kind: &str| -> Vec<String> {
        questions
            .iter()
            .filter(|q| q.get("kind").and_then(Value::as_str) == Some(kind))
            .filter_map(|q| q.get("id").and_then(id_text))
            .collect()
    };
    let (texts, ratings) = (of_kind("text"), of_kind("rating"));
    if texts.len() < 2 || ratings.is_empty() {
        rec.fault(Kind::Get, "review_needs_two_text_and_one_rating_question");
        return None;
    }
    Some(Review {
        id,
        own: [texts[0].clone(), texts[1].clone()],
        shared: ratings[0].clone(),
    })
}

/// Opens a member's socket, follows the review and takes the snapshot's version.
async fn subscribe(
    config: &Config,
    session: &Session,
    review_id: &str,
    known: &AtomicI64,
) -> Option<Socket> {
    let mut socket = live::upgrade(config, session).await.ok()?;
    let topic = format!("review:{review_id}");
    let subscribe = json!({ "type": "subscribe", "topic": topic }).to_string();
    socket.send(Message::text(subscribe)).await.ok()?;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(text.as_str()).ok()?;
        match frame.get("type").and_then(Value::as_str) {
            Some("snapshot") => {
                let version = frame.pointer("/data/version").and_then(Value::as_i64)?;
                known.fetch_max(version, Ordering::SeqCst);
                return Some(socket);
            }
            Some("error") => return None,
            _ => {}
        }
    }
    None
}

/// Reads a member's socket until `stop`: the arrival of every `saved` event, gaps in
/// the topic's sequence numbers, error frames.
async fn read(
    mut socket: Socket,
    seen: Arc<Mutex<Seen>>,
    known: Arc<AtomicI64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_seq: Option<u64> = None;
    loop {
        let message = tokio::select! {
            _ = stop.changed() => break,
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                lock(&seen).closed_early = true;
                return;
            }
            Some(Ok(_)) => continue,
        };
        let arrived = Instant::now();
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            lock(&seen).errors += 1;
            continue;
        };
        let mut seen = lock(&seen);
        match frame.get("type").and_then(Value::as_str) {
            Some("event") => {
                if let Some(seq) = frame.get("seq").and_then(Value::as_u64) {
                    if last_seq.is_some_and(|last| seq != last + 1) {
                        seen.gaps += 1;
                    }
                    last_seq = Some(seq);
                }
                if frame.get("event").and_then(Value::as_str) == Some("saved")
                    && let Some(version) = frame.pointer("/data/version").and_then(Value::as_i64)
                {
                    known.fetch_max(version, Ordering::SeqCst);
                    seen.arrivals.entry(version).or_insert(arrived);
                }
            }
            Some("error") => seen.errors += 1,
            _ => {}
        }
    }
    let _ = socket.close(None).await;
}

/// A small deterministic generator, so a run can be replayed.
struct SplitMix(u64);

impl SplitMix {
    /// A number in [0, 1).
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One member's saves: `--edits` of them, one every `--edit-interval-ms` from
/// `start`, each on the highest version the member knows. A conflict is answered by
/// sending the member's own value again on the version the 409 names.
async fn edit(
    config: &Config,
    rec: &Recorder,
    review: &Review,
    member: usize,
    m: Member,
    start: Instant,
    seed: u64,
) -> (Session, Saves) {
    let mut saves = Saves::default();
    let mut random = SplitMix(seed);
    let url = config.url(&format!("/api/v1/reviews/{}", review.id));
    let tag = if member == 0 { "A" } else { "B" };
    for k in 0..config.edits {
        tokio::time::sleep_until((start + config.edit_interval * k).into()).await;
        let (question, value) = if random.next_unit() < config.overlap {
            (review.shared.clone(), json!(k % 5 + 1))
        } else {
            (review.own[member].clone(), json!(format!("{tag}{k}")))
        };
        let mut version = m.known.load(Ordering::SeqCst);
        let mut accepted = false;
        for _ in 0..MAX_TRIES {
            let body =
                json!({ "answers": { question.clone(): value.clone() }, "version": version });
            let sent = Instant::now();
            let Some(reply) = m
                .session
                .send(rec, Kind::Autosave, Method::PATCH, &url, Some(&body))
                .await
            else {
                break;
            };
            if reply.status.is_success() {
                if let Some(saved) = reply.body.get("version").and_then(Value::as_i64) {
                    m.known.fetch_max(saved, Ordering::SeqCst);
                    saves.accepted.push(Accepted {
                        version: saved,
                        sent,
                        question: question.clone(),
                        value: value.clone(),
                    });
                    accepted = true;
                }
                break;
            }
            if reply.status != StatusCode::CONFLICT {
                break;
            }
            // Both versions came back: keep this member's ("Use my version") on the
            // version the server names, or on the newest known one.
            let current = reply
                .body
                .pointer("/error/conflict/version")
                .and_then(Value::as_i64);
            if current.is_some() {
                saves.conflicts += 1;
            }
            version = current.unwrap_or_else(|| m.known.load(Ordering::SeqCst));
        }
        if !accepted {
            saves.failed += 1;
        }
    }
    (m.session, saves)
}

/// The stored answers of the review.
async fn read_answers(
    config: &Config,
    rec: &Recorder,
    session: &Session,
    review_id: &str,
) -> Option<Value> {
    let url = config.url(&format!("/api/v1/reviews/{review_id}"));
    let reply = session
        .send(rec, Kind::Get, Method::GET, &url, None)
        .await?;
    reply.body.get("answers").cloned()
}

/// The run's figures, summed over pairs.
#[derive(Default)]
struct Tally {
    co_editor: Vec<Duration>,
    accepted: u64,
    conflicts: u64,
    failed_saves: u64,
    lost_events: u64,
    gaps: u64,
    error_frames: u64,
    closed_early: u64,
    lost_edits: u64,
    unreadable: u64,
}

impl Tally {
    fn add(&mut self, review: &Review, saves: &[Saves; 2], seen: &[Seen], stored: Option<&Value>) {
        for (member, own) in saves.iter().enumerate() {
            self.accepted += own.accepted.len() as u64;
            self.conflicts += own.conflicts;
            self.failed_saves += own.failed;
            let other = &seen[1 - member];
            for save in &own.accepted {
                match other.arrivals.get(&save.version) {
                    Some(arrived) => self
                        .co_editor
                        .push(arrived.saturating_duration_since(save.sent)),
                    None => self.lost_events += 1,
                }
            }
        }
        for s in seen {
            self.gaps += s.gaps;
            self.error_frames += s.errors;
            self.closed_early += u64::from(s.closed_early);
        }

        // Every answer must hold the value of the last accepted save that changed it.
        let Some(stored) = stored else {
            self.unreadable += 1;
            return;
        };
        let mut questions = vec![
            review.own[0].clone(),
            review.own[1].clone(),
            review.shared.clone(),
        ];
        questions.dedup();
        for question in questions {
            let last = saves
                .iter()
                .flat_map(|s| &s.accepted)
                .filter(|save| save.question == question)
                .max_by_key(|save| save.version);
            if let Some(last) = last
                && stored.get(&question) != Some(&last.value)
            {
                self.lost_edits += 1;
            }
        }
    }

    fn finish(
        self,
        config: &Config,
        rec: &Recorder,
        phases: [f64; 4],
        pairs: usize,
    ) -> (Value, String) {
        let recorded = rec.snapshot();
        let of = |kind: Kind| -> (Option<Summary>, usize) {
            let ok: Vec<Duration> = recorded
                .samples
                .iter()
                .filter(|s| s.kind == kind && s.outcome.is_ok())
                .map(|s| s.latency)
                .collect();
            let failed = recorded
                .samples
                .iter()
                .filter(|s| s.kind == kind && !s.outcome.is_ok())
                .count();
            (Summary::of(&ok), failed)
        };
        let (save, save_refused) = of(Kind::Autosave);
        let mut refusals: std::collections::BTreeMap<String, u64> = Default::default();
        for sample in &recorded.samples {
            if sample.kind == Kind::Autosave && !sample.outcome.is_ok() {
                *refusals.entry(sample.outcome.label()).or_default() += 1;
            }
        }
        let (login, login_failed) = of(Kind::Login);
        let co_editor = Summary::of(&self.co_editor);
        let faults: Vec<String> = recorded
            .faults
            .iter()
            .map(|((kind, label), n)| format!("{} {label}: {n}", kind.name()))
            .collect();
        let json = json!({
            "scenario": "co-editing",
            "settings": {
                "base_url": config.base_url,
                "pairs": config.pairs,
                "edits_per_member": config.edits,
                "edit_interval_ms": config.edit_interval.as_millis() as u64,
                "overlap": config.overlap,
                "source_addresses": config.source_addresses.name(),
            },
            "pairs_running": pairs,
            "phases_s": { "login": phases[0], "subscribe": phases[1], "edits": phases[2], "total": phases[3] },
            "login": login, "login_failed": login_failed,
            "save": save, "save_answers_not_2xx": save_refused, "save_refusals": refusals,
            "save_to_co_editor": co_editor,
            "saves_accepted": self.accepted,
            "conflicts": self.conflicts,
            "saves_failed": self.failed_saves,
            "lost_events": self.lost_events,
            "seq_gaps": self.gaps,
            "error_frames": self.error_frames,
            "closed_early": self.closed_early,
            "lost_edits": self.lost_edits,
            "reviews_unreadable": self.unreadable,
            "pairs_left_out": faults,
        });
        let row = |name: &str, s: Option<Summary>| match s {
            Some(s) => format!(
                "{name:<16}{:>8}{:>10.1}{:>10.1}{:>10.1}{:>10.1}\n",
                s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
            ),
            None => format!("{name:<16}{:>8}\n", 0),
        };
        let mut table = format!(
            "kaizen-loadtest co-editing against {} ({} pairs running of {}, {} saves each member, \
             every {} ms, overlap {})\n",
            config.base_url,
            pairs,
            config.pairs,
            config.edits,
            config.edit_interval.as_millis(),
            config.overlap
        );
        table += &format!(
            "phases: login {:.1}s  subscribe {:.1}s  edits {:.1}s  total {:.1}s\n\n",
            phases[0], phases[1], phases[2], phases[3]
        );
        table += &format!(
            "{:<16}{:>8}{:>10}{:>10}{:>10}{:>10}\n",
            "kind", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        table += &row("login", login);
        table += &row("save", save);
        table += &row("save→co-editor", co_editor);
        table += &format!(
            "\nsaves: {} accepted, {} conflicts answered 409 and resent, {} failed, {} answers \
             other than 2xx (the 409s included)\n",
            self.accepted, self.conflicts, self.failed_saves, save_refused
        );
        if !faults.is_empty() {
            table += &format!("pairs left out: {}\n", faults.join(", "));
        }
        if !refusals.is_empty() {
            let list: Vec<String> = refusals.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            table += &format!("save answers other than 2xx: {}\n", list.join(", "));
        }
        table += &format!(
            "losses: {} lost edits, {} saves whose event the co-editor never saw, {} seq gaps, \
             {} error frames, {} sockets closed early, {} reviews unreadable\n",
            self.lost_edits,
            self.lost_events,
            self.gaps,
            self.error_frames,
            self.closed_early,
            self.unreadable
        );
        (json, table)
    }
}
