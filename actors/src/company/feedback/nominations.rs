//! Nominations: who is asked for feedback about whom, and the manager's decision.

use std::collections::HashMap;

use super::{Approval, Company, NewNominations, Nomination, Nominator, RequestRow, Stance};
use crate::company::CompanyHandle;
use crate::crypto::FEEDBACK_DRAFT;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::mail::Message;
use crate::model::{Client, Principal};

impl Company {
    async fn nominate(
        &mut self,
        principal: Principal,
        cycle_id: String,
        new: NewNominations,
        client: Client,
    ) -> Result<Vec<Nomination>, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let setup = self.feedback_setup(&mut tx, &cycle_id).await?;
        if !setup.enabled {
            return Err(ActorError::Conflict(
                "feedback is not enabled for this cycle".into(),
            ));
        }
        if setup.closed || setup.cycle_closed {
            return Err(ActorError::Conflict(
                "this cycle's feedback is closed".into(),
            ));
        }

        // The subject, and whether the caller is the party that nominates for them.
        // Another company's user id reads like a made-up one.
        let subject = self
            .active_person(&mut tx, &new.subject_id)
            .await?
            .ok_or_else(|| ActorError::Validation("subject_id is not an active user".into()))?;
        if !self.reviewed_in(&mut tx, &cycle_id, &subject.id).await? {
            return Err(ActorError::Validation(
                "the subject is not reviewed in this cycle".into(),
            ));
        }
        let stance = self.stance(&mut tx, &principal, &subject.id).await?;
        let allowed = stance.hr_admin
            || match setup.nominated_by {
                Nominator::Reviewee => stance.subject,
                Nominator::Manager => stance.manager,
                Nominator::Hr => false,
            };
        if !allowed {
            return Err(ActorError::Forbidden);
        }

        // Each reviewer: an active colleague, not the subject, named once, not nominated
        // for this subject before.
        if new.reviewer_ids.is_empty() {
            return Err(ActorError::Validation("name at least one reviewer".into()));
        }
        let existing = self
            .load_requests(
                &mut tx,
                "f.cycle_id = $2 AND f.subject_id = $3",
                &[&cycle_id, &subject.id],
            )
            .await?;
        let mut reviewers = Vec::with_capacity(new.reviewer_ids.len());
        for id in &new.reviewer_ids {
            if *id == subject.id {
                return Err(ActorError::Validation(
                    "nobody gives feedback about themselves".into(),
                ));
            }
            if reviewers.iter().any(|r: &super::PersonRow| r.id == *id) {
                return Err(ActorError::Validation(format!(
                    "reviewer {id} is named twice"
                )));
            }
            let reviewer = self.active_person(&mut tx, id).await?.ok_or_else(|| {
                ActorError::Validation(format!("reviewer {id} is not an active user"))
            })?;
            if existing.iter().any(|row| row.reviewer_id == *id) {
                return Err(ActorError::Validation(format!(
                    "{} is already nominated for this person",
                    reviewer.name
                )));
            }
            reviewers.push(reviewer);
        }
        let standing = existing
            .iter()
            .filter(|row| row.approval() != Approval::Rejected)
            .count();
        let total = i64::try_from(standing + reviewers.len()).unwrap_or(i64::MAX);
        if total < setup.min || total > setup.max {
            return Err(ActorError::Validation(format!(
                "a person needs {} to {} reviewers; this would make {total}",
                setup.min, setup.max
            )));
        }

        // Whoever may approve needs no approval from themselves.
        let approved = stance.decides();
        let now = now_ms();
        let mut created = Vec::with_capacity(reviewers.len());
        for reviewer in &reviewers {
            let id = new_id();
            let draft = self.seal(FEEDBACK_DRAFT, &id, "{}")?;
            sqlx::query(
                "INSERT INTO feedback_requests (company_id, id, cycle_id, subject_id, \
                 reviewer_id, nominated_by, approval, decided_by, decided_at, created_at, \
                 status, draft, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'not_started', $11, 1)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(&cycle_id)
            .bind(&subject.id)
            .bind(&reviewer.id)
            .bind(&principal.user_id)
            .bind(if approved { "approved" } else { "pending" })
            .bind(approved.then_some(principal.user_id.as_str()))
            .bind(approved.then_some(now))
            .bind(now)
            .bind(&draft)
            .execute(&mut *tx)
            .await?;
            created.push(id);
        }
        let detail = serde_json::json!({ "cycle_id": cycle_id, "reviewers": created.len(),
            "approved": approved });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "feedback_nominated",
            Some(&subject.id),
            &client,
            detail,
        )
        .await?;
        let mut rows: Vec<RequestRow> = self
            .load_requests(
                &mut tx,
                "f.cycle_id = $2 AND f.subject_id = $3",
                &[&cycle_id, &subject.id],
            )
            .await?
            .into_iter()
            .filter(|row| created.contains(&row.id))
            .collect();
        rows.sort_by_key(|row| created.iter().position(|id| *id == row.id));
        tx.commit().await?;

        if approved {
            for row in &rows {
                self.send_feedback_request(row).await;
            }
        }
        Ok(rows.iter().map(RequestRow::nomination).collect())
    }

    /// The nominations the principal may see in a cycle: all for HR admins, else those
    /// about themselves and the people they manage.
    async fn list_nominations(
        &mut self,
        principal: Principal,
        cycle_id: String,
        subject_id: Option<String>,
    ) -> Result<Vec<Nomination>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        self.feedback_setup(&mut conn, &cycle_id).await?;
        // A malformed id is refused; another company's well-formed one lists nothing,
        // as a made-up one does.
        if subject_id
            .as_deref()
            .is_some_and(|s| !crate::db::is_id_shaped(s))
        {
            return Err(ActorError::Validation(
                "subject_id must be a user id".into(),
            ));
        }
        let rows = match &subject_id {
            Some(subject) => {
                self.load_requests(
                    &mut conn,
                    "f.cycle_id = $2 AND f.subject_id = $3",
                    &[&cycle_id, subject],
                )
                .await?
            }
            None => {
                self.load_requests(&mut conn, "f.cycle_id = $2", &[&cycle_id])
                    .await?
            }
        };
        let mut stances: HashMap<String, Stance> = HashMap::new();
        let mut visible = Vec::new();
        for row in rows {
            let stance = match stances.get(&row.subject_id) {
                Some(stance) => *stance,
                None => {
                    let stance = self.stance(&mut conn, &principal, &row.subject_id).await?;
                    stances.insert(row.subject_id.clone(), stance);
                    stance
                }
            };
            if stance.sees() {
                visible.push(row.nomination());
            }
        }
        visible.sort_by(|a, b| {
            (&a.subject_name, &a.subject_id, &a.reviewer_name, &a.id).cmp(&(
                &b.subject_name,
                &b.subject_id,
                &b.reviewer_name,
                &b.id,
            ))
        });
        Ok(visible)
    }

    /// Approves or rejects a pending nomination: the subject's managers and HR admins,
    /// never the subject. Whoever may not see it gets `NotFound`.
    async fn decide_nomination(
        &mut self,
        principal: Principal,
        id: String,
        approve: bool,
        client: Client,
        notify: bool,
    ) -> Result<Nomination, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let row = self.load_request(&mut tx, &id).await?;
        let stance = self.stance(&mut tx, &principal, &row.subject_id).await?;
        if !stance.sees() {
            return Err(ActorError::NotFound);
        }
        if !stance.decides() {
            return Err(ActorError::Forbidden);
        }
        if row.ended() {
            return Err(ActorError::Conflict(
                "this cycle's feedback is closed".into(),
            ));
        }
        if row.approval() != Approval::Pending {
            return Err(ActorError::Conflict(format!(
                "the nomination is already {}",
                row.approval().as_str()
            )));
        }
        let decision = if approve {
            Approval::Approved
        } else {
            Approval::Rejected
        };
        sqlx::query(
            "UPDATE feedback_requests SET approval = $3, decided_by = $4, decided_at = $5 \
             WHERE company_id = $1 AND id = $2 AND approval = 'pending'",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(decision.as_str())
        .bind(&principal.user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let action = if approve {
            "nomination_approved"
        } else {
            "nomination_rejected"
        };
        let detail = serde_json::json!({ "cycle_id": row.cycle_id, "subject_id": row.subject_id });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(&mut *tx, actor, action, Some(&id), &client, detail)
            .await?;
        let row = self.load_request(&mut tx, &id).await?;
        tx.commit().await?;
        if approve && notify {
            self.send_feedback_request(&row).await;
        }
        Ok(row.nomination())
    }

    /// Emails an approved reviewer that their feedback is asked for (audited as every
    /// email is: kind and recipient, never content).
    async fn send_feedback_request(&self, row: &RequestRow) {
        let link = format!("{}/#/feedback", self.public_url.trim_end_matches('/'));
        let promise = if row.anonymous() {
            "Your feedback is anonymous: nobody, HR included, can see which answers are yours, \
             and it is shown only once at least two colleagues have answered."
                .to_owned()
        } else {
            format!(
                "Your feedback is named: {} and their managers will see that it is yours.",
                row.subject_name
            )
        };
        let body = format!(
            "Hello {},\n\nyou are asked to give feedback about {} in the review cycle \
             \"{}\". {promise}\n\nWrite it here: {link}\n",
            row.reviewer_name, row.subject_name, row.cycle_name
        );
        let message = Message {
            kind: "feedback_requested",
            to: row.reviewer_email.clone(),
            subject: format!("Feedback requested about {}", row.subject_name),
            body,
            link: Some(link),
            code: None,
        };
        self.send_mail(Some(&row.reviewer_id), message).await;
    }
}

impl CompanyHandle {
    /// Nominates reviewers for a subject in a cycle. The party the cycle's settings
    /// name (or an HR admin) nominates; nominations made by whoever may approve them are
    /// approved at once, and approved reviewers are emailed.
    pub async fn nominate(
        &self,
        principal: Principal,
        cycle_id: String,
        new: NewNominations,
        client: Client,
    ) -> Result<Vec<Nomination>, ActorError> {
        self.call(move |c| Box::pin(c.nominate(principal, cycle_id, new, client)))
            .await
    }

    /// The nominations of a cycle the principal may see, optionally of one subject.
    pub async fn list_nominations(
        &self,
        principal: Principal,
        cycle_id: String,
        subject_id: Option<String>,
    ) -> Result<Vec<Nomination>, ActorError> {
        self.call(move |c| Box::pin(c.list_nominations(principal, cycle_id, subject_id)))
            .await
    }

    /// Approves (`approve`) or rejects a pending nomination.
    pub async fn decide_nomination(
        &self,
        principal: Principal,
        id: String,
        approve: bool,
        client: Client,
    ) -> Result<Nomination, ActorError> {
        self.call(move |c| Box::pin(c.decide_nomination(principal, id, approve, client, true)))
            .await
    }

    /// Demo seeding only: approves a nomination like [`CompanyHandle::decide_nomination`]
    /// but emails nobody, so that a demo started with `--mail-dir` holds only the mail
    /// people cause.
    pub async fn seed_approve_nomination(
        &self,
        principal: Principal,
        id: String,
    ) -> Result<Nomination, ActorError> {
        let client = Client::system();
        self.call(move |c| Box::pin(c.decide_nomination(principal, id, true, client, false)))
            .await
    }
}
