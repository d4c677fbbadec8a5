//! Reminders: before each phase deadline, and once it has passed, every person with
//! unfinished work in that phase gets one email. What was sent is remembered, so the
//! periodic task may run as often as it likes.

use std::collections::{BTreeMap, HashMap};

use super::{Company, CompanyHandle};
use crate::db::now_ms;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::mail::Message;
use crate::model::{Client, Principal, RemindersSent, ReviewStatus};

/// How long before a deadline the `upcoming` reminder goes out: two days.
pub const REMINDER_LEAD_MS: i64 = 48 * 3_600_000;

/// A review not yet done, in a cycle that is not closed, with the deadlines that
/// concern it and its two people.
#[derive(sqlx::FromRow)]
struct PendingRow {
    company_id: String,
    id: String,
    cycle_id: String,
    kind: String,
    status: String,
    reviewee_id: String,
    reviewer_id: String,
    reviewee_signed_at: Option<i64>,
    reviewer_signed_at: Option<i64>,
    cycle_company_id: String,
    cycle_name: String,
    self_review_due_at: Option<i64>,
    manager_review_due_at: Option<i64>,
    sign_off_due_at: Option<i64>,
}

impl Owned for PendingRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.cycle_company_id]
    }
}

#[derive(sqlx::FromRow)]
struct RecipientRow {
    company_id: String,
    id: String,
    email: String,
    disabled: i64,
}

impl Owned for RecipientRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// One reminder to send: to whom, about which cycle and phase, and which kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    cycle_id: String,
    user_id: String,
    phase: &'static str,
    kind: &'static str,
}

impl PendingRow {
    /// The phase this review's unfinished work belongs to, that phase's deadline and
    /// who still has to act.
    fn work(&self) -> Option<(&'static str, i64, Vec<&str>)> {
        let status = ReviewStatus::parse(&self.status)?;
        match (self.kind.as_str(), status) {
            ("self", s) if s.is_editable() => Some((
                "self_review",
                self.self_review_due_at?,
                vec![self.reviewer_id.as_str()],
            )),
            ("manager", s) if s.is_editable() => Some((
                "manager_review",
                self.manager_review_due_at?,
                vec![self.reviewer_id.as_str()],
            )),
            ("manager", ReviewStatus::Shared) => {
                let mut people = Vec::new();
                if self.reviewee_signed_at.is_none() {
                    people.push(self.reviewee_id.as_str());
                }
                if self.reviewer_signed_at.is_none() {
                    people.push(self.reviewer_id.as_str());
                }
                Some(("sign_off", self.sign_off_due_at?, people))
            }
            _ => None,
        }
    }
}

/// The email of one reminder, linking to the reader's reviews at `public_url`.
fn message(
    public_url: &str,
    to: String,
    cycle: &str,
    phase: &str,
    kind: &str,
    items: usize,
) -> Message {
    let what = match phase {
        "self_review" => "your self review",
        "manager_review" => "the manager reviews you write",
        _ => "signing the shared reviews",
    };
    let (subject, when) = if kind == "overdue" {
        (format!("Overdue in {cycle}"), "The deadline has passed for")
    } else {
        (
            format!("Coming up in {cycle}"),
            "The deadline is less than two days away for",
        )
    };
    Message {
        kind: "cycle_reminder",
        to,
        subject,
        body: format!(
            "{when} {what} in the review cycle \"{cycle}\" ({items} still open). \
             Sign in to Kaizen to finish."
        ),
        link: Some(format!("{}/#/reviews", public_url.trim_end_matches('/'))),
        code: None,
    }
}

/// The companies with a cycle that is not closed and has a deadline: the only ones
/// the periodic task needs to wake.
pub async fn companies_with_deadlines(db: &crate::db::Db) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT company_id FROM cycles WHERE phase <> 'closed' \
         AND (self_review_due_at IS NOT NULL OR manager_review_due_at IS NOT NULL \
         OR sign_off_due_at IS NOT NULL)",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

impl Company {
    /// Sends the reminders that are due now and not sent before; answers how many.
    async fn send_reminders(&mut self, now: i64) -> Result<i64, ActorError> {
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT r.company_id, r.id, r.cycle_id, r.kind, r.status, r.reviewee_id, \
             r.reviewer_id, r.reviewee_signed_at, r.reviewer_signed_at, \
             c.company_id AS cycle_company_id, c.name AS cycle_name, \
             c.self_review_due_at, c.manager_review_due_at, c.sign_off_due_at \
             FROM reviews r JOIN cycles c ON c.id = r.cycle_id \
             WHERE r.company_id = $1 AND c.phase <> 'closed' \
             AND r.status IN ('not_started', 'draft', 'shared')",
        )
        .bind(&self.id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;

        // What is due now: per person, cycle, phase and kind, with how many items.
        let mut due: BTreeMap<Due, usize> = BTreeMap::new();
        let mut cycle_names: HashMap<String, String> = HashMap::new();
        for row in &rows {
            let Some((phase, deadline, people)) = row.work() else {
                continue;
            };
            let kind = if now >= deadline {
                "overdue"
            } else if now >= deadline - REMINDER_LEAD_MS {
                "upcoming"
            } else {
                continue;
            };
            cycle_names.insert(row.cycle_id.clone(), row.cycle_name.clone());
            for user_id in people {
                let key = Due {
                    cycle_id: row.cycle_id.clone(),
                    user_id: user_id.to_owned(),
                    phase,
                    kind,
                };
                *due.entry(key).or_default() += 1;
            }
        }
        if due.is_empty() {
            return Ok(0);
        }

        // Claim each reminder in one transaction: a row inserted now is one never sent
        // before. Mail goes out after the commit, so a rolled-back claim sends nothing.
        let recipients: Vec<RecipientRow> = sqlx::query_as(
            "SELECT company_id, id, email, disabled FROM users WHERE company_id = $1",
        )
        .bind(&self.id)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&recipients)?;
        let emails: HashMap<&str, &RecipientRow> =
            recipients.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut tx = self.db.begin_write().await?;
        let mut claimed = Vec::new();
        for (reminder, items) in due {
            let Some(recipient) = emails.get(reminder.user_id.as_str()) else {
                continue;
            };
            if recipient.disabled != 0 {
                continue;
            }
            let inserted = sqlx::query(
                "INSERT INTO reminders_sent (company_id, cycle_id, user_id, phase, kind, \
                 sent_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&self.id)
            .bind(&reminder.cycle_id)
            .bind(&reminder.user_id)
            .bind(reminder.phase)
            .bind(reminder.kind)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                claimed.push((reminder, items, recipient.email.clone()));
            }
        }
        tx.commit().await?;

        // Each email is audited as sent (kind and recipient); the reminder itself too,
        // with its cycle and phase.
        for (reminder, items, to) in &claimed {
            let cycle = cycle_names
                .get(&reminder.cycle_id)
                .map_or("", String::as_str);
            let mail = message(
                &self.public_url,
                to.clone(),
                cycle,
                reminder.phase,
                reminder.kind,
                *items,
            );
            self.send_mail(Some(&reminder.user_id), mail).await;
            let detail = serde_json::json!({ "cycle_id": reminder.cycle_id,
                "phase": reminder.phase, "kind": reminder.kind, "user_id": reminder.user_id });
            self.audit(
                None,
                "cycle_reminder_sent",
                Some(&reminder.cycle_id),
                &Client::system(),
                detail,
            )
            .await;
        }
        if !claimed.is_empty() {
            tracing::info!(sent = claimed.len(), "cycle reminders sent");
        }
        Ok(i64::try_from(claimed.len()).unwrap_or(i64::MAX))
    }

    /// A reminder run asked for by HR, instead of waiting for the periodic task.
    async fn run_reminders(&mut self, principal: Principal) -> Result<RemindersSent, ActorError> {
        if !principal.roles.runs_cycles() {
            return Err(ActorError::Forbidden);
        }
        Ok(RemindersSent {
            sent: self.send_reminders(now_ms()).await?,
        })
    }
}

impl CompanyHandle {
    /// Sends the reminders due now (the server's periodic task).
    pub async fn send_due_reminders(&self) -> Result<RemindersSent, ActorError> {
        self.call(move |c| {
            Box::pin(async move {
                Ok(RemindersSent {
                    sent: c.send_reminders(now_ms()).await?,
                })
            })
        })
        .await
    }

    /// Sends the reminders due now, asked for by an HR admin or assistant.
    pub async fn run_reminders(&self, principal: Principal) -> Result<RemindersSent, ActorError> {
        self.call(move |c| Box::pin(c.run_reminders(principal)))
            .await
    }
}
