//! Phase 1: every simulated person signs in, a few at a time, politely
//! paced once the server's sign-in rate limit answers 429.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::session::{Session, SignIn};
use crate::stats::{Kind, Recorder};

/// Sign-in attempts per person; a throttled attempt is retried, a refused
/// one (wrong password, unknown user) is not.
const MAX_ATTEMPTS: usize = 8;

/// Longest `Retry-After` honoured; a longer one means the run cannot sign
/// people in at a useful pace anyway, and the duration cap would cut it.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How much the spacing widens after a refusal that pacing did not avoid.
/// `Retry-After` comes in whole seconds, so the first spacing can be below
/// the server's real period; small steps find it without overshooting much.
const SPACING_STEP: Duration = Duration::from_millis(250);

/// Who a session stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    /// The HR session that looks up the cycle and reads the final progress.
    Lookup,
    Dashboard,
    /// A reviewer, with their 1-based number in the company.
    Reviewer(usize),
}

/// A session the server accepted.
pub(crate) struct Person {
    pub(crate) company: usize,
    pub(crate) role: Role,
    pub(crate) session: Session,
}

/// Hands out the instants at which sign-ins may be sent.
///
/// The server limits sign-ins per client address, and a load test signs
/// everybody in from one address. Retrying each refused attempt after its
/// own `Retry-After` would send all waiting workers at the same instant,
/// and all but one would be refused again. Once throttled, the pacer spaces
/// attempts one `Retry-After` apart instead, widening the spacing a step
/// at each further refusal, so nearly every retry lands.
#[derive(Debug)]
struct Pacer {
    next: Instant,
    /// `None` until the first 429: unthrottled attempts are not delayed.
    spacing: Option<Duration>,
}

impl Pacer {
    fn new(now: Instant) -> Pacer {
        Pacer {
            next: now,
            spacing: None,
        }
    }

    /// The instant the caller may send its attempt, reserving it.
    fn slot(&mut self, now: Instant) -> Instant {
        let at = self.next.max(now);
        if let Some(spacing) = self.spacing {
            self.next = at + spacing;
        }
        at
    }

    /// Accounts a 429 received at `now`.
    fn throttled(&mut self, now: Instant, retry_after: Duration) {
        let wait = retry_after.min(MAX_WAIT);
        let spacing = match self.spacing {
            None => wait,
            Some(spacing) => (spacing + SPACING_STEP).max(wait).min(MAX_WAIT),
        };
        self.spacing = Some(spacing);
        self.next = self.next.max(now + wait);
    }
}

/// Signs in every HR and reviewer session with bounded concurrency; only
/// the sessions the server accepted come back.
pub(crate) async fn sign_in_all(
    config: &Arc<Config>,
    rec: &Recorder,
    deadline: Instant,
) -> Vec<Person> {
    let gate = Arc::new(Semaphore::new(config.login_concurrency));
    let pacer = Arc::new(Mutex::new(Pacer::new(Instant::now())));
    let mut tasks = JoinSet::new();
    for (company, slug) in config.companies.iter().enumerate() {
        for (role, email) in people_of(config, slug) {
            let Ok(session) = Session::new(config, slug, email) else {
                rec.fault(Kind::Login, "client_build");
                continue;
            };
            let config = Arc::clone(config);
            let (rec, gate, pacer) = (rec.clone(), Arc::clone(&gate), Arc::clone(&pacer));
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                let mut session = session;
                let signed_in = sign_in(&mut session, &config, &rec, &pacer).await;
                signed_in.then_some(Person {
                    company,
                    role,
                    session,
                })
            });
        }
    }

    // Collect until done or the cap; dropping the set aborts the rest.
    let mut people = Vec::new();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok(Some(person)) = joined {
                people.push(person);
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline.into(), collect).await;
    people
}

/// The lookup and dashboard sessions of the HR admin, then the reviewers.
fn people_of(config: &Config, slug: &str) -> Vec<(Role, String)> {
    let hr = format!("hr@{slug}.example");
    let mut people = vec![(Role::Lookup, hr.clone())];
    people.extend((0..config.dashboards_per_company).map(|_| (Role::Dashboard, hr.clone())));
    people.extend(
        (1..=config.reviewers_per_company)
            .map(|n| (Role::Reviewer(n), format!("employee{n}@{slug}.example"))),
    );
    people
}

/// One person's sign-in, retried while the server throttles it.
async fn sign_in(
    session: &mut Session,
    config: &Config,
    rec: &Recorder,
    pacer: &Mutex<Pacer>,
) -> bool {
    for _ in 0..MAX_ATTEMPTS {
        let at = lock(pacer).slot(Instant::now());
        tokio::time::sleep_until(at.into()).await;
        match session.login(config, rec).await {
            SignIn::Accepted => return true,
            SignIn::Failed => return false,
            SignIn::Throttled(retry_after) => {
                rec.login_retry();
                lock(pacer).throttled(Instant::now(), retry_after);
            }
        }
    }
    false
}

/// The pacer is only touched for an instant; a poisoned lock still holds
/// a usable schedule.
fn lock(pacer: &Mutex<Pacer>) -> std::sync::MutexGuard<'_, Pacer> {
    pacer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unthrottled_attempts_go_at_once() {
        let now = Instant::now();
        let mut pacer = Pacer::new(now);
        assert_eq!(pacer.slot(now), now);
        assert_eq!(pacer.slot(now), now);
    }

    #[test]
    fn throttled_attempts_are_spaced_by_retry_after() {
        let now = Instant::now();
        let second = Duration::from_secs(2);
        let mut pacer = Pacer::new(now);
        pacer.throttled(now, second);
        assert_eq!(pacer.slot(now), now + second);
        assert_eq!(pacer.slot(now), now + second * 2);
        assert_eq!(pacer.slot(now), now + second * 3);
    }

    #[test]
    fn each_further_refusal_widens_the_spacing_a_step() {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        let mut pacer = Pacer::new(now);
        pacer.throttled(now, second);
        pacer.throttled(now, second);
        pacer.throttled(now, second);
        let spacing = second + SPACING_STEP * 2;
        assert_eq!(pacer.slot(now), now + second);
        assert_eq!(pacer.slot(now), now + second + spacing);
    }

    #[test]
    fn a_late_caller_is_not_sent_into_the_past() {
        let now = Instant::now();
        let mut pacer = Pacer::new(now);
        pacer.throttled(now, Duration::from_secs(1));
        let later = now + Duration::from_secs(10);
        assert_eq!(pacer.slot(later), later);
        assert_eq!(pacer.slot(later), later + Duration::from_secs(1));
    }

    #[test]
    fn an_absurd_retry_after_is_capped() {
        let now = Instant::now();
        let mut pacer = Pacer::new(now);
        pacer.throttled(now, Duration::from_secs(3_600));
        assert_eq!(pacer.slot(now), now + MAX_WAIT);
    }
}
