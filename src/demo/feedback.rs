//! The demo's 360 feedback in the main cycle: anonymous feedback that is still being
//! collected (nominations pending and approved, drafts, submissions). Named feedback is
//! in a cycle of its own (see `history`).

use std::collections::HashMap;

use kaizen_actors::CompanyHandle;
use kaizen_actors::company::feedback::{FeedbackSettingsUpdate, NewNominations, Nominator};
use kaizen_actors::model::{Answer, Client, DraftUpdate, Principal, QuestionKind, Roles, Stage};

/// A principal for a demo user, as if they were signed in.
fn as_user(handle: &CompanyHandle, user_id: &str) -> Principal {
    Principal {
        company_id: handle.company_id().to_owned(),
        user_id: user_id.to_owned(),
        session_id: String::new(),
        elevated_until: 0,
        stage: Stage::Full,
        roles: Roles::default(),
    }
}

/// Seeds the feedback of the open cycle. `ids` maps the local part of each demo email to
/// the user's id.
pub async fn seed(
    handle: &CompanyHandle,
    hr: &Principal,
    open_cycle: &str,
    ids: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let id = |local: &str| ids.get(local).cloned().unwrap_or_default();
    let user = |local: &str| as_user(handle, &id(local));
    let system = Client::system;

    // The open cycle: anonymous, each person nominates 2 to 5 reviewers.
    handle
        .set_feedback_settings(
            hr.clone(),
            open_cycle.to_owned(),
            FeedbackSettingsUpdate {
                enabled: true,
                nominated_by: Nominator::Reviewee,
                min: 2,
                max: 5,
                anonymous: true,
                questions: None,
            },
            system(),
        )
        .await?;
    let manager = user("manager");
    if ids.contains_key("employee7") {
        // employee1: approved, two submitted (results wait for HR to close), one draft.
        let nominate = |subject: &str, reviewers: &[&str]| {
            let new = NewNominations {
                subject_id: id(subject),
                reviewer_ids: reviewers.iter().map(|r| id(r)).collect(),
            };
            handle.nominate(user(subject), open_cycle.to_owned(), new, system())
        };
        let first = nominate("employee1", &["employee2", "employee3", "employee4"]).await?;
        for nomination in &first {
            handle
                .seed_approve_nomination(manager.clone(), nomination.id.clone())
                .await?;
        }
        // employee2: waiting for the manager; employee3: one approved, one waiting.
        nominate("employee2", &["employee5", "employee6"]).await?;
        let third = nominate("employee3", &["employee1", "employee7"]).await?;
        if let Some(nomination) = third.first() {
            handle
                .seed_approve_nomination(manager.clone(), nomination.id.clone())
                .await?;
        }

        let words = [
            ("employee2", "Explains hard things patiently.", 4, true),
            ("employee3", "Always ready to help with a release.", 5, true),
            ("employee4", "Shares knowledge generously.", 4, false),
        ];
        for (reviewer, text, rating, submit) in words {
            write(
                handle,
                &user(reviewer),
                open_cycle,
                &id("employee1"),
                text,
                rating,
                submit,
            )
            .await?;
        }
    }

    Ok(())
}

/// Writes a reviewer's feedback about `subject` as the app would: a draft, then (when
/// `submit`) the submission.
pub(super) async fn write(
    handle: &CompanyHandle,
    reviewer: &Principal,
    cycle: &str,
    subject: &str,
    text: &str,
    rating: i64,
    submit: bool,
) -> anyhow::Result<()> {
    let requests = handle.list_feedback_requests(reviewer.clone()).await?;
    let Some(request) = requests
        .iter()
        .find(|r| r.cycle_id == cycle && r.subject_id == subject)
    else {
        anyhow::bail!("the demo's feedback request is missing");
    };
    let detail = handle
        .get_feedback_request(reviewer.clone(), request.id.clone())
        .await?;
    let answers = detail
        .questions
        .iter()
        .map(|q| {
            let answer = match q.kind {
                QuestionKind::Rating => Answer::Rating(rating),
                QuestionKind::Text | QuestionKind::Objectives => Answer::Text(text.to_owned()),
            };
            (q.id.clone(), Some(answer))
        })
        .collect();
    let update = DraftUpdate {
        answers,
        version: detail.request.version,
    };
    handle
        .save_feedback_draft(
            reviewer.clone(),
            request.id.clone(),
            update,
            Client::system(),
        )
        .await?;
    if submit {
        handle
            .submit_feedback(reviewer.clone(), request.id.clone(), Client::system())
            .await?;
    }
    Ok(())
}
