//! Alerts on security events: a row of another company reaching an actor, a copied
//! remember-me token, repeated sign-in lockouts, requests from outside a company's
//! address ranges.
//!
//! The events themselves are recorded where they happen (the audit trail,
//! `security_events`); an alert is what tells the operator. Each one is an error-level
//! log line and a count per kind (for `/metrics`), and an email to the operator's address
//! (`--alert-email`) at most once per kind every [`MAIL_WINDOW_MS`], so a flood of
//! refused requests sends one email, not thousands. Alerts carry ids and kinds only,
//! never content.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::db::now_ms;
use crate::mail::{Mailer, Message};

/// At most one email per kind in this window.
pub const MAIL_WINDOW_MS: i64 = 5 * 60 * 1000;

/// The operator's alerting: where emails go, and what was raised so far.
#[derive(Debug, Default)]
pub struct Alerts {
    mailer: Mailer,
    /// The operator's address; without one, alerts are logged and counted only.
    to: Option<String>,
    /// A `std::sync::Mutex`: held for a few map operations, never across an `.await`.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Alerts raised since start, per kind.
    counts: BTreeMap<&'static str, u64>,
    /// When the last email of each kind went out.
    mailed: HashMap<&'static str, i64>,
}

impl Alerts {
    /// Alerts that email `to` through `mailer`.
    pub fn new(mailer: Mailer, to: Option<String>) -> Alerts {
        Alerts {
            mailer,
            to,
            state: Mutex::default(),
        }
    }

    /// Raises an alert of `kind` (`cross_company_read`, `remember_me_reused`,
    /// `sign_in_locked_out`, `ip_refused`) about `company`. `detail` is a short
    /// description without content or secrets.
    pub fn raise(&self, kind: &'static str, company: Option<&str>, detail: &str) {
        tracing::error!(
            alert = kind,
            company_id = company.unwrap_or(""),
            detail,
            "security alert"
        );
        let now = now_ms();
        let mail = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            *state.counts.entry(kind).or_default() += 1;
            let due = state
                .mailed
                .get(kind)
                .is_none_or(|last| now - last >= MAIL_WINDOW_MS);
            if due && self.to.is_some() {
                state.mailed.insert(kind, now);
            }
            due
        };
        let Some(to) = self.to.clone().filter(|_| mail) else {
            return;
        };
        let body = format!(
            "Kaizen raised a security alert.\n\nKind: {kind}\nCompany: {}\nWhat: {detail}\n\n\
             Further alerts of this kind are counted in /metrics \
             (kaizen_security_alerts_total) but not emailed for the next five minutes. The \
             company's audit trail and the security_events table hold every event.",
            company.unwrap_or("(none)")
        );
        self.mailer.send(Message {
            kind: "security_alert",
            to,
            subject: format!("Kaizen security alert: {kind}"),
            body,
            link: None,
            code: None,
        });
    }

    /// Alerts raised since start, per kind.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.counts.iter().map(|(k, n)| (*k, *n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_is_counted_by_kind() {
        let alerts = Alerts::default();
        alerts.raise("ip_refused", Some("c"), "x");
        alerts.raise("ip_refused", Some("c"), "x");
        alerts.raise("cross_company_read", None, "y");
        assert_eq!(
            alerts.counts(),
            vec![("cross_company_read", 1), ("ip_refused", 2)]
        );
    }
}
