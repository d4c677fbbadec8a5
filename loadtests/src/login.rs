//! Phase 1: every simulated person signs in, a few at a time, politely
//! paced once the server's sign-in rate limit answers 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::address::SourceAddresses;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The company's HR admin: one session that looks up the cycle, opens
    /// every dashboard socket (like one person's browser tabs) and reads
    /// the final progress.
    Hr,
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
/// The server limits sign-ins per client address and per account. People
/// who share a limit (everybody, with a single source address; the HR
/// sessions of one account, with a loopback range) share a pacer. Retrying
/// each refused attempt after its own `Retry-After` would send all waiting
/// workers at the same instant, and all but one would be refused again.
/// Once throttled, the pacer spaces attempts one `Retry-After` apart
/// instead, widening the spacing a step at each further refusal, so nearly
/// every retry lands.
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

/// Signs in every HR admin and reviewer with bounded concurrency; only the
/// sessions the server accepted come back.
pub(crate) async fn sign_in_all(
    config: &Arc<Config>,
    rec: &Recorder,
    deadline: Instant,
) -> Vec<Person> {
    let gate = Arc::new(Semaphore::new(config.login_concurrency));
    let mut pacers: HashMap<String, Arc<Mutex<Pacer>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut index = 0;
    for (company, slug) in config.companies.iter().enumerate() {
        for (role, email) in people_of(config, slug) {
            // The index counts every person, failed or not, so nobody's
            // address depends on what happened to the others. Past the end
            // of the range (millions of people, beyond the size bounds) a
            // person is left out rather than sent from a shared address.
            let source = config.source_addresses.of(index);
            index += 1;
            if source.is_none() && config.source_addresses != SourceAddresses::Single {
                rec.fault(Kind::Login, "no_source_address");
                continue;
            }
            let key = pacing_key(config.source_addresses, slug, &email);
            let pacer = pacers
                .entry(key)
                .or_insert_with(|| Arc::new(Mutex::new(Pacer::new(Instant::now()))));
            let pacer = Arc::clone(pacer);
            let Ok(session) = Session::new(config, slug, email, source) else {
                rec.fault(Kind::Login, "client_build");
                continue;
            };
            let config = Arc::clone(config);
            let (rec, gate) = (rec.clone(), Arc::clone(&gate));
            tasks.spawn(async move {
                let mut session = session;
                let signed_in = sign_in(&mut session, &config, &rec, &gate, &pacer).await;
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

/// Which pacer a person's sign-ins go through: the one limit that can
/// refuse them. From one address, the per-address limit binds everybody
/// together; from one address each, only the per-account limit could, and
/// every account signs in once here.
fn pacing_key(sources: SourceAddresses, slug: &str, email: &str) -> String {
    match sources {
        SourceAddresses::Single => String::new(),
        SourceAddresses::LoopbackRange => format!("{slug}/{email}"),
    }
}

/// The HR admin, then the reviewers of one company.
fn people_of(config: &Config, slug: &str) -> Vec<(Role, String)> {
    let mut people = vec![(Role::Hr, format!("hr@{slug}.example"))];
    people.extend(
        (1..=config.reviewers_per_company)
            .map(|n| (Role::Reviewer(n), format!("employee{n}@{slug}.example"))),
    );
    people
}

/// How many people `sign_in_all` numbers: the storm's source addresses
/// start after theirs.
pub(crate) fn people_signed_in_first(config: &Config) -> usize {
    config.companies.len() * (1 + config.reviewers_per_company)
}

/// One person's sign-in, retried while the server throttles it.
///
/// The permit bounds sign-ins in flight, not people waiting: a person whose
/// slot lies ahead gives the permit back until then, so an account that is
/// throttled does not hold up everybody else.
async fn sign_in(
    session: &mut Session,
    config: &Config,
    rec: &Recorder,
    gate: &Semaphore,
    pacer: &Mutex<Pacer>,
) -> bool {
    for _ in 0..MAX_ATTEMPTS {
        let Ok(mut permit) = gate.acquire().await else {
            return false;
        };
        let at = lock(pacer).slot(Instant::now());
        if at > Instant::now() {
            drop(permit);
            tokio::time::sleep_until(at.into()).await;
            let Ok(again) = gate.acquire().await else {
                return false;
            };
            permit = again;
        }
        let outcome = session.login(config, rec, Kind::Login).await;
        drop(permit);
        match outcome {
            SignIn::Accepted => return true,
            SignIn::Failed | SignIn::Unanswered => return false,
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
    fn one_address_each_paces_per_account_and_one_address_paces_everybody() {
        let range = SourceAddresses::LoopbackRange;
        let hr = pacing_key(range, "acme", "hr@acme.example");
        assert_eq!(hr, pacing_key(range, "acme", "hr@acme.example"));
        assert_ne!(hr, pacing_key(range, "acme", "employee1@acme.example"));
        assert_ne!(hr, pacing_key(range, "globex", "hr@acme.example"));
        let single = SourceAddresses::Single;
        assert_eq!(
            pacing_key(single, "acme", "hr@acme.example"),
            pacing_key(single, "globex", "employee1@globex.example")
        );
    }

    #[test]
    fn each_company_signs_in_its_hr_admin_once_then_its_reviewers() {
        let flags = [
            "--reviewers-per-company",
            "3",
            "--dashboards-per-company",
            "25",
        ];
        let config = crate::config::config_of(&flags).expect("valid flags");
        let people = people_of(&config, "acme");
        let roles: Vec<Role> = people.iter().map(|person| person.0).collect();
        let expected = [
            Role::Hr,
            Role::Reviewer(1),
            Role::Reviewer(2),
            Role::Reviewer(3),
        ];
        assert_eq!(roles, expected);
        assert_eq!(people[0].1, "hr@acme.example");
        assert_eq!(people[3].1, "employee3@acme.example");
        assert_eq!(people_signed_in_first(&config), 2 * 4);
    }

    #[test]
    fn an_absurd_retry_after_is_capped() {
        let now = Instant::now();
        let mut pacer = Pacer::new(now);
        pacer.throttled(now, Duration::from_secs(3_600));
        assert_eq!(pacer.slot(now), now + MAX_WAIT);
    }
}
