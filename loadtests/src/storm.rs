//! The sign-in storm: while reviewers race the deadline, extra people sign
//! in with the right password and sign out again, over and over, so that
//! the server's bcrypt workers have more work than cores. What the run
//! then measures is whether submits still reach the dashboards in time.
//!
//! Each storm person has an account of their own (see
//! `config::storm_accounts`) and, with a loopback range, an address of
//! their own, so the server's sign-in limits see many ordinary users, not
//! one attacker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::address::SourceAddresses;
use crate::config::Config;
use crate::login::people_signed_in_first;
use crate::session::{Session, SignIn};
use crate::stats::{Kind, Recorder};

/// Sign-in attempts per storm person at most. The end of the burst stops
/// the storm long before this in any run the size bounds allow; the count
/// only guards against a server that answers instantly.
const MAX_ROUNDS: usize = 500;

/// Longest `Retry-After` a storm person waits for before trying again;
/// the end of the burst interrupts the wait anyway.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Pause after a sign-in that got no answer at all.
const UNANSWERED_PAUSE: Duration = Duration::from_millis(200);

/// Storm people still signing in when the burst ends.
pub(crate) struct Storm {
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

/// Starts every storm person; an empty storm when `--sign-in-storm` is 0.
pub(crate) fn start(config: &Arc<Config>, rec: &Recorder, deadline: Instant) -> Storm {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let first = people_signed_in_first(config);
    for (index, (company, email)) in config.storm.iter().enumerate() {
        // Addresses continue after the reviewers', so nobody shares one.
        let source = config.source_addresses.of(first + index);
        if source.is_none() && config.source_addresses != SourceAddresses::Single {
            rec.fault(Kind::StormLogin, "no_source_address");
            continue;
        }
        let slug = &config.companies[*company];
        let Ok(session) = Session::new(config, slug, email.clone(), source) else {
            rec.fault(Kind::StormLogin, "client_build");
            continue;
        };
        let (config, rec) = (Arc::clone(config), rec.clone());
        let stopped = stopped.clone();
        tasks.spawn(async move { churn(session, &config, &rec, stopped, deadline).await });
    }
    Storm { tasks, stop }
}

impl Storm {
    /// Tells every storm person to stop, then waits for the sign-ins still
    /// in flight (and their sign-outs, so no session is left behind) for at
    /// most two request timeouts, or until `deadline`.
    pub(crate) async fn finish(mut self, config: &Config, deadline: Instant) {
        let _ = self.stop.send(true);
        let grace = (Instant::now() + config.request_timeout * 2).min(deadline);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout_at(grace.into(), all_done).await;
        self.tasks.abort_all();
    }
}

/// One storm person: sign in, sign out, again, until told to stop.
async fn churn(
    mut session: Session,
    config: &Config,
    rec: &Recorder,
    mut stop: watch::Receiver<bool>,
    deadline: Instant,
) {
    for _ in 0..MAX_ROUNDS {
        if *stop.borrow() || Instant::now() >= deadline {
            return;
        }
        match session.login(config, rec, Kind::StormLogin).await {
            SignIn::Accepted => {
                session.logout(config, rec).await;
            }

            // The server's limit answered before any password check; wait
            // as asked, but no longer than the burst lasts.
            SignIn::Throttled(retry_after) => {
                let wait = retry_after.min(MAX_WAIT);
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }

            // Wrong account or password: hammering on would only measure
            // refusals, and the report already counts this one.
            SignIn::Failed => return,

            // A timeout means the queue is long and the next round joins
            // it; a refused connection should not turn into a busy loop.
            SignIn::Unanswered => {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(UNANSWERED_PAUSE) => {}
                }
            }
        }
    }
}
