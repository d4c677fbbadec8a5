//! A company's actor: the one task that owns all access to that company's data.
//!
//! Callers hold a cheap [`CompanyHandle`] and call typed commands on it. Each command
//! travels through a bounded mailbox and is run to completion before the next one starts,
//! which is what makes the company's state (its review versions, its live sequence
//! numbers) consistent without locks.

mod account;
mod audit;
mod calibration;
pub mod comment;
mod cycle;
mod export;
pub mod feedback;
pub mod objective;
mod overview;
pub mod people;
mod presence;
mod remember;
mod reminder;
mod reset;
mod review;
mod review_settings;
pub mod second_factor;
mod session;
pub mod sms;
mod user;
pub mod wipe;
pub mod xml;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{Instant, timeout};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::alert::Alerts;
use crate::crypto::{self, Field, Keyring};
use crate::db::{Db, new_id, now_ms};
use crate::error::ActorError;
use crate::guard::{self, Owned, Violation};
use crate::live::{Subscription, Topics};
use crate::mail::Mailer;
use crate::model::Principal;

pub use account::ELEVATION_MS;
pub use audit::{AuditEntry, AuditFilter, AuditPage, AuditPerson, MAX_PAGE, neutralize};
pub use export::{Export, ExportedReview, ReviewExport};
pub use presence::Viewer;
pub use remember::{ROTATION_GRACE_MS, Redeemed, Redemption};
pub use reminder::{REMINDER_LEAD_MS, companies_with_deadlines};
pub use reset::{RESET_LINK_MS, ResetTarget};
pub use session::{LoginCandidate, NewSession, Opened, SessionPolicy};
pub use user::NewUser;

/// How many commands may wait in a company's mailbox. When it is full, callers wait for a
/// place (backpressure on that company only) instead of the actor's memory growing.
pub const MAILBOX_CAPACITY: usize = 1024;

/// Sent on the revocation channel instead of a session id when every live connection
/// must re-check its session and its subscriptions, e.g. after the company's address
/// ranges, a role or a reporting line changed.
pub const RECHECK_ALL: &str = "*";

/// How long an idle company actor lives unless configured otherwise.
pub const DEFAULT_IDLE_EVICTION: Duration = Duration::from_secs(10 * 60);

/// How often, at the longest, an actor sweeps the viewers of its reviews whose
/// connections ended without leaving.
const SWEEP_INTERVAL: Duration = Duration::from_secs(2);

/// How many session revocations a live connection may miss before it must re-check its
/// session; revocations are rare, so this is generous.
const REVOCATION_CAPACITY: usize = 256;

type Job = Box<dyn for<'a> FnOnce(&'a mut Company) -> BoxFuture<'a, ()> + Send>;

/// What every company actor is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long sessions live.
    pub sessions: SessionPolicy,
    /// Where emails go.
    pub mailer: Mailer,
    /// The address users reach the server at, for links in emails.
    pub public_url: Arc<str>,
    /// The keys that seal written content and secrets. The default holds none, so a
    /// tool that was not given keys fails to write an encrypted field instead of
    /// writing it in clear.
    pub keyring: Arc<Keyring>,
    /// How long an actor may stay without commands and live subscribers before it is
    /// evicted (and started again on the next command).
    pub idle_eviction: Duration,
    /// The operator's alerts on security events, shared by every actor and the server.
    pub alerts: Arc<Alerts>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sessions: SessionPolicy::default(),
            mailer: Mailer::default(),
            public_url: "http://127.0.0.1:8080".into(),
            keyring: Arc::new(Keyring::empty()),
            idle_eviction: DEFAULT_IDLE_EVICTION,
            alerts: Arc::default(),
        }
    }
}

/// A cheap, cloneable handle to a company's actor.
///
/// The handle outlives the actor: an actor idle for [`Settings::idle_eviction`] with
/// nobody following its topics is evicted, and the next command through any handle
/// starts a fresh one. The revocation channel lives in the handle, so live connections
/// keep hearing of ended sessions across that.
#[derive(Clone)]
pub struct CompanyHandle {
    slot: Arc<Slot>,
}

/// What a handle shares with its clones.
struct Slot {
    company_id: Arc<str>,
    slug: String,
    /// The running actor's mailbox, replaced when an evicted actor is started again.
    /// A `std::sync::Mutex`: held only to clone or swap the sender, never across an
    /// `.await`.
    mailbox: std::sync::Mutex<mpsc::Sender<Job>>,
    revocations: broadcast::Sender<Arc<str>>,
    spawner: Arc<Spawner>,
}

/// What starting an actor takes; shared by the registry and every handle.
pub(crate) struct Spawner {
    pub(crate) db: Db,
    pub(crate) settings: Settings,
    pub(crate) stats: Arc<ActorStats>,
    pub(crate) tracker: TaskTracker,
    /// Set when shutdown begins: from then on no actor starts.
    pub(crate) closed: AtomicBool,
}

/// Counters the registry reads for metrics.
#[derive(Debug, Default)]
pub(crate) struct ActorStats {
    pub(crate) alive: AtomicUsize,
    pub(crate) panics: AtomicUsize,
    pub(crate) subscribers: AtomicUsize,
    pub(crate) evictions: AtomicUsize,
}

impl Slot {
    /// Starts an actor for this company and answers its mailbox.
    fn start(&self) -> mpsc::Sender<Job> {
        let (mailbox, inbox) = mpsc::channel(MAILBOX_CAPACITY);
        let settings = self.spawner.settings.clone();
        let company = Company {
            id: self.company_id.to_string(),
            slug: self.slug.clone(),
            db: self.spawner.db.clone(),
            session_policy: settings.sessions,
            mailer: settings.mailer,
            public_url: settings.public_url,
            keyring: settings.keyring,
            alerts: settings.alerts,
            idle_eviction: settings.idle_eviction,
            topics: Topics::default(),
            live_reviews: Default::default(),
            revocations: self.revocations.clone(),
            stats: self.spawner.stats.clone(),
            stopping: false,
            evicting: false,
            policy_cache: None,
            refusals_audited: Default::default(),
        };
        let span = tracing::info_span!("company", company_id = %self.company_id);
        self.spawner
            .tracker
            .spawn(company.run(inbox).instrument(span));
        mailbox
    }

    fn mailbox(&self) -> std::sync::MutexGuard<'_, mpsc::Sender<Job>> {
        // Only a clone or a swap happens under this lock, so a poisoned one is whole.
        self.mailbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After `closed` refused a command: starts a fresh actor unless another caller
    /// already did or shutdown began. Answers whether a command may be sent again.
    fn restart(&self, closed: &mpsc::Sender<Job>) -> bool {
        if self.spawner.closed.load(Ordering::Acquire) {
            return false;
        }
        let mut mailbox = self.mailbox();
        if mailbox.same_channel(closed) {
            *mailbox = self.start();
        }
        true
    }
}

impl CompanyHandle {
    /// Starts the actor of `company_id` and returns its handle. Only the registry calls
    /// this, under its lock, so there is never more than one handle per company, and the
    /// handle never runs more than one actor at a time.
    pub(crate) fn spawn(company_id: &str, slug: &str, spawner: Arc<Spawner>) -> CompanyHandle {
        let (revocations, _) = broadcast::channel(REVOCATION_CAPACITY);
        let (placeholder, _) = mpsc::channel(1);
        let slot = Slot {
            company_id: company_id.into(),
            slug: slug.to_owned(),
            mailbox: std::sync::Mutex::new(placeholder),
            revocations,
            spawner,
        };
        *slot.mailbox() = slot.start();
        CompanyHandle {
            slot: Arc::new(slot),
        }
    }

    /// The company this handle's actor owns.
    pub fn company_id(&self) -> &str {
        &self.slot.company_id
    }

    /// How many commands are waiting in the mailbox now.
    pub fn mailbox_depth(&self) -> usize {
        let mailbox = self.slot.mailbox();
        mailbox.max_capacity() - mailbox.capacity()
    }

    /// Session ids whose sessions just ended; live connections watch this to close at
    /// once when their session is revoked.
    pub fn revocations(&self) -> broadcast::Receiver<Arc<str>> {
        self.slot.revocations.subscribe()
    }

    /// Asks the running actor, if any, to stop after the commands already in its mailbox.
    pub(crate) async fn stop(&self) {
        let mailbox = self.slot.mailbox().clone();
        let _ = mailbox
            .send(Box::new(|company| Box::pin(company.stop())))
            .await;
    }

    /// Sends a job to the running actor, starting a fresh one if the last was evicted.
    ///
    /// This is the caller's half of the eviction handshake: an evicting actor closes its
    /// mailbox before it drains it, so a job is either accepted (and run by the old
    /// actor) or handed back, and then goes to the new one. None is lost.
    async fn send(&self, mut job: Job) -> Result<(), ActorError> {
        loop {
            let mailbox = self.slot.mailbox().clone();
            match mailbox.send(job).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(refused)) => {
                    job = refused;
                    if !self.slot.restart(&mailbox) {
                        return Err(ActorError::Unavailable);
                    }
                }
            }
        }
    }

    /// Runs `command` inside the actor and waits for its answer. A security violation is
    /// recorded before the caller hears of it; a panic or a stopped actor answers
    /// [`ActorError::Unavailable`] instead of leaving the caller waiting.
    pub(crate) async fn call<R, F>(&self, command: F) -> Result<R, ActorError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Company) -> BoxFuture<'a, Result<R, ActorError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |company: &mut Company| {
            Box::pin(async move {
                let result = command(company).await;
                if let Err(ActorError::SecurityViolation(violation)) = &result {
                    company.record_violation(violation).await;
                }
                let _ = reply.send(result);
            })
        });
        self.send(job).await?;
        answer.await.map_err(|_| ActorError::Unavailable)?
    }
}

/// The state a company's actor owns.
///
/// One rule for its code: while a command holds a write transaction, everything it
/// writes goes through that transaction. On SQLite a second write through the pool
/// (an audit event, say) would wait for the transaction that waits for it.
pub struct Company {
    id: String,
    slug: String,
    db: Db,
    session_policy: SessionPolicy,
    mailer: Mailer,
    public_url: Arc<str>,
    keyring: Arc<Keyring>,
    alerts: Arc<Alerts>,
    topics: Topics,
    /// Who is viewing which review, for the `review:` topics.
    live_reviews: presence::LiveReviews,
    revocations: broadcast::Sender<Arc<str>>,
    stats: Arc<ActorStats>,
    /// Set by the stop command; the mailbox then refuses new commands and drains.
    stopping: bool,
    /// Set when the actor closed its mailbox to be evicted; it drains what was accepted.
    evicting: bool,
    /// See [`Settings::idle_eviction`].
    idle_eviction: Duration,
    /// The security policy, loaded on first use and updated by the actor's own writes.
    policy_cache: Option<account::CachedPolicy>,
    /// Addresses whose refusal by the company's ranges was audited lately.
    refusals_audited: audit::RefusalsAudited,
}

impl Company {
    /// Runs commands until the mailbox closes or a stop command arrives. Between
    /// commands, at least every [`SWEEP_INTERVAL`], it sweeps viewers whose connections
    /// ended.
    async fn run(mut self, mut inbox: mpsc::Receiver<Job>) {
        self.stats.alive.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("company actor started");
        let tick = SWEEP_INTERVAL.min(self.idle_eviction);
        let mut last_sweep = Instant::now();
        let mut last_command = Instant::now();
        loop {
            match timeout(tick, inbox.recv()).await {
                Ok(Some(job)) => {
                    self.run_job(job).await;
                    last_command = Instant::now();
                }
                Ok(None) => break,
                Err(_) => {}
            }
            if self.stopping {
                inbox.close();
            }
            if last_sweep.elapsed() >= SWEEP_INTERVAL {
                self.sweep_viewers();
                last_sweep = Instant::now();
            }

            // The actor's half of the eviction handshake: closing the mailbox makes
            // every later send fail, and its caller starts a fresh actor; the commands
            // accepted before still run here, then the loop ends.
            let idle = last_command.elapsed() >= self.idle_eviction
                && self.topics.subscribers() == 0
                && self.live_reviews.is_empty();
            if idle && !self.evicting && !self.stopping {
                self.evicting = true;
                inbox.close();
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("evicting the idle company actor");
            }
        }
        self.stats.alive.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!("company actor stopped");
    }

    /// Runs one command.
    async fn run_job(&mut self, job: Job) {
        // A panicking command must not take the company down with it: its caller's
        // reply channel is dropped (the caller gets an error) and the actor goes on
        // with the next command. The state it keeps is rebuilt from the database or
        // is a sequence counter, neither of which a half-run command leaves broken.
        let outcome = AssertUnwindSafe(job(self)).catch_unwind().await;
        if outcome.is_err() {
            self.stats.panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!("a command panicked in the company actor; it goes on");
        }
        self.stats
            .subscribers
            .store(self.topics.subscribers(), Ordering::Relaxed);
    }

    /// The stop command: the loop closes the mailbox and ends once it is drained.
    async fn stop(&mut self) {
        self.stopping = true;
    }

    /// Checks rows against this company (see [`crate::guard`]).
    fn check_all<T: Owned>(&self, rows: &[T]) -> Result<(), ActorError> {
        guard::check_all(&self.id, rows).map_err(ActorError::SecurityViolation)
    }

    /// Checks one row against this company.
    fn check<T: Owned>(&self, row: &T) -> Result<(), ActorError> {
        guard::check(&self.id, row).map_err(ActorError::SecurityViolation)
    }

    /// Seals `plaintext` for a field of one of this company's rows. Every encrypted
    /// column is written through here.
    fn seal(&self, field: Field, row_id: &str, plaintext: &str) -> Result<String, ActorError> {
        self.keyring
            .seal(&self.id, field, row_id, plaintext)
            .map_err(|error| {
                tracing::error!(table = field.table, column = field.column, row_id, %error,
                    "a field could not be encrypted");
                ActorError::EncryptionFailed
            })
    }

    /// Opens a sealed field of one of this company's rows. A failure is logged with the
    /// place (never content) and fails the whole command: the caller never sees an
    /// empty or garbled value in its place.
    fn open(&self, field: Field, row_id: &str, stored: &str) -> Result<String, ActorError> {
        self.keyring
            .open(&self.id, field, row_id, stored)
            .map_err(|error: crypto::Error| {
                tracing::error!(
                    company_id = %self.id,
                    table = field.table,
                    column = field.column,
                    row_id,
                    %error,
                    "a stored field could not be decrypted"
                );
                ActorError::DecryptionFailed
            })
    }

    /// Records a cross-company read. Written outside the command's own transaction, which
    /// has been rolled back by the time this runs, so the event survives it.
    async fn record_violation(&self, violation: &Violation) {
        tracing::error!(
            table = violation.table,
            row_id = %violation.row_id,
            found_company = %violation.found_company,
            "security violation: a row of another company was read; request aborted"
        );
        let detail = format!(
            "a row of table {} of another company was read",
            violation.table
        );
        self.alerts
            .raise("cross_company_read", Some(&self.id), &detail);
        let written = sqlx::query(
            "INSERT INTO security_events (id, company_id, kind, detail, created_at) \
             VALUES ($1, $2, 'cross_company_read', $3, $4)",
        )
        .bind(new_id())
        .bind(&self.id)
        .bind(violation.to_string())
        .bind(now_ms())
        .execute(self.db.pool())
        .await;
        if let Err(error) = written {
            tracing::error!(%error, "the security event could not be recorded");
        }
        // The company's admins see it in their trail too: which table, nothing of the
        // other company.
        let detail = serde_json::json!({ "table": violation.table });
        let system = crate::model::Client::system();
        self.audit(None, "security_cross_company_read", None, &system, detail)
            .await;
    }

    /// Somebody's access may have shrunk (a role or account change, a reporting line, the
    /// address ranges): every live subscription of the company is authorized again, at
    /// once by the connections that hear of it here, and in any case before its next
    /// frame, which carries the new access epoch.
    pub(super) fn access_changed(&mut self) {
        self.topics.access_changed();
        let _ = self.revocations.send(RECHECK_ALL.into());
    }

    /// Whether `principal` may follow `topic` now: the rule of [`Company::subscribe`],
    /// without taking a snapshot.
    async fn authorize_topic(&self, principal: &Principal, topic: &str) -> Result<(), ActorError> {
        if let Some(review_id) = topic.strip_prefix("review:") {
            let mut conn = self.db.pool().acquire().await?;
            self.load_review_state(&mut conn, principal, review_id)
                .await?;
            return Ok(());
        }
        let cycle_id = topic.strip_prefix("cycle:").ok_or(ActorError::NotFound)?;
        self.authorize_progress(principal, cycle_id).await
    }

    /// Authenticates a live connection's session again and authorizes one of its topics.
    async fn recheck_topic(
        &mut self,
        token_hash: String,
        ip: std::net::IpAddr,
        topic: String,
    ) -> Result<TopicAccess, ActorError> {
        let principal = match self.authenticate(token_hash, ip).await {
            Ok(Some(principal)) if principal.stage == crate::model::Stage::Full => principal,
            Ok(_) | Err(ActorError::IpNotAllowed) => return Ok(TopicAccess::SessionEnded),
            Err(error) => return Err(error),
        };
        match self.authorize_topic(&principal, &topic).await {
            Ok(()) => Ok(TopicAccess::Allowed {
                principal,
                epoch: self.topics.epoch(),
            }),
            Err(ActorError::NotFound | ActorError::Forbidden) => Ok(TopicAccess::Refused),
            Err(error) => Err(error),
        }
    }

    /// Subscribes to a topic after checking the principal may read it.
    async fn subscribe(
        &mut self,
        principal: Principal,
        topic: String,
        since: Option<u64>,
        viewer: Viewer,
    ) -> Result<Subscription, ActorError> {
        if let Some(review_id) = topic.strip_prefix("review:") {
            return self
                .subscribe_review(principal, review_id, since, viewer)
                .await;
        }
        let cycle_id = topic
            .strip_prefix("cycle:")
            .ok_or(ActorError::NotFound)?
            .to_owned();
        let progress = self.progress(&principal, &cycle_id).await?;
        if let Some(subscription) = since.and_then(|since| self.topics.resume(&topic, since)) {
            return Ok(subscription);
        }
        Ok(self.topics.subscribe_with_snapshot(&topic, &progress))
    }
}

/// What authorizing a live subscription again found.
#[derive(Debug)]
pub enum TopicAccess {
    /// The session is valid and may still follow the topic; frames up to `epoch` may be
    /// delivered. `principal` is the session as it is now.
    Allowed { principal: Principal, epoch: u64 },
    /// The session is valid but may no longer follow the topic.
    Refused,
    /// The session ended (or its address is no longer allowed).
    SessionEnded,
}

impl CompanyHandle {
    /// Authenticates a live connection's session (by its token's hash, from `ip`) again
    /// and checks that it may still follow `topic`, as when it subscribed.
    pub async fn recheck_topic(
        &self,
        token_hash: String,
        ip: std::net::IpAddr,
        topic: String,
    ) -> Result<TopicAccess, ActorError> {
        self.call(move |c| Box::pin(c.recheck_topic(token_hash, ip, topic)))
            .await
    }

    /// Subscribes `principal` to a live topic (`cycle:<id>` or `review:<id>`), authorized
    /// like the HTTP route that shows the same data. With `since`, the missed events are
    /// replayed when they are still known; otherwise the subscription starts with a
    /// snapshot. `viewer` is the connection, which joins a review's presence.
    pub async fn subscribe(
        &self,
        principal: Principal,
        topic: String,
        since: Option<u64>,
        viewer: Viewer,
    ) -> Result<Subscription, ActorError> {
        // An actor that is being evicted answers `None`: its topics end with it, so the
        // subscription is taken again from the fresh actor.
        loop {
            let (principal, topic, viewer) = (principal.clone(), topic.clone(), viewer.clone());
            let subscribed = self
                .call(move |c| {
                    Box::pin(async move {
                        if c.evicting {
                            return Ok(None);
                        }
                        c.subscribe(principal, topic, since, viewer).await.map(Some)
                    })
                })
                .await?;
            if let Some(subscription) = subscribed {
                return Ok(subscription);
            }
        }
    }
}
