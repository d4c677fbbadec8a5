//! One reviewer racing the deadline: find the self review, autosave it a
//! few times, submit it at the scheduled instant.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::session::{Reply, Session, id_text};
use crate::stats::{Kind, Recorder, SubmitRecord};

/// Attempts of one autosave when the version keeps going stale. The only
/// writer of a self review in this run is its reviewer, so one retry after
/// a re-read should always do; the bound keeps a misbehaving server from
/// looping us.
const SAVE_ATTEMPTS: usize = 3;

/// Filler for text answers; the content does not matter, its size roughly
/// does (a paragraph per answer, like a real review).
const LOREM: [&str; 4] = [
    "Delivered the migration ahead of plan and documented every step for the team.",
    "Took ownership of on-call follow-ups and closed the long-standing alert noise.",
    "Mentored two new colleagues; both now ship changes on their own.",
    "Next year: deepen the product knowledge and lead the quarterly planning.",
];

/// What one reviewer does, and when.
pub(crate) struct Plan {
    pub(crate) session: Session,
    /// Index of the company in the configured list.
    pub(crate) company: usize,
    pub(crate) cycle_id: String,
    /// 1-based reviewer number inside the company, to vary the answers.
    pub(crate) number: usize,
    /// Instant of the submit; autosaves are spread evenly before it.
    pub(crate) submit_at: Instant,
}

/// The review as this run tracks it between requests.
struct Draft {
    path: String,
    questions: Vec<(String, String)>,
    version: Value,
}

/// Runs the plan; every failure is recorded and ends this reviewer only.
pub(crate) async fn run(plan: Plan, config: &Config, rec: &Recorder) {
    let Some(mut draft) = open_review(&plan, config, rec).await else {
        return;
    };

    // Autosaves k = 1..=N at k/(N+1) of the way from now to the submit,
    // so early submitters save in a rush and late ones at leisure.
    let begin = Instant::now();
    let until_submit = plan.submit_at.saturating_duration_since(begin);
    let saves = config.autosaves;
    for save in 1..=saves {
        let due = begin + until_submit.mul_f64(f64::from(save) / f64::from(saves + 1));
        tokio::time::sleep_until(due.into()).await;
        if !autosave(&plan, &mut draft, save, config, rec).await {
            return;
        }
    }

    tokio::time::sleep_until(plan.submit_at.into()).await;
    submit(&plan, &draft, config, rec).await;
}

/// Lists the caller's reviews, picks their self review in the cycle and
/// reads it for its questions and version.
async fn open_review(plan: &Plan, config: &Config, rec: &Recorder) -> Option<Draft> {
    let list = ok_reply(
        plan,
        Kind::List,
        Method::GET,
        &config.url("/api/v1/reviews"),
        None,
        rec,
    )
    .await?;
    let Some(review_id) = find_self_review(&list.body, &plan.cycle_id, &plan.session) else {
        rec.fault(Kind::List, "no_self_review");
        return None;
    };

    let path = format!("/api/v1/reviews/{review_id}");
    let reply = ok_reply(plan, Kind::Get, Method::GET, &config.url(&path), None, rec).await?;
    let questions = questions_of(&reply.body);
    let version = reply.body.get("version").cloned();
    let (Some(version), false) = (version, questions.is_empty()) else {
        rec.fault(Kind::Get, "unexpected_body");
        return None;
    };
    let status = reply.body.get("status").and_then(Value::as_str);
    if !matches!(status, Some("not_started" | "draft")) {
        // A review submitted by an earlier run: the server must be reseeded.
        rec.fault(Kind::Get, "already_submitted");
        return None;
    }
    Some(Draft {
        path,
        questions,
        version,
    })
}

/// One autosave with every question answered; false when the reviewer
/// should give up (the review cannot be written any more).
async fn autosave(
    plan: &Plan,
    draft: &mut Draft,
    save: u32,
    config: &Config,
    rec: &Recorder,
) -> bool {
    let url = config.url(&draft.path);
    for _ in 0..SAVE_ATTEMPTS {
        let body = json!({
            "answers": answers(&draft.questions, plan.number, save),
            "version": draft.version,
        });
        let session = &plan.session;
        let Some(reply) = session
            .send(rec, Kind::Autosave, Method::PATCH, &url, Some(&body))
            .await
        else {
            // No answer: the next autosave tries again with the same version.
            return true;
        };
        if reply.status.is_success() {
            match reply.body.get("version") {
                Some(version) => draft.version = version.clone(),
                None => rec.fault(Kind::Autosave, "unexpected_body"),
            }
            return true;
        }
        if reply.status != StatusCode::CONFLICT {
            return true;
        }

        // Stale version or already submitted: re-read to tell which.
        rec.conflict_retry();
        let Some(fresh) = ok_reply(plan, Kind::Get, Method::GET, &url, None, rec).await else {
            return true;
        };
        if fresh.body.get("status").and_then(Value::as_str) == Some("submitted") {
            return false;
        }
        match fresh.body.get("version") {
            Some(version) => draft.version = version.clone(),
            None => return true,
        }
    }
    true
}

async fn submit(plan: &Plan, draft: &Draft, config: &Config, rec: &Recorder) {
    let url = config.url(&format!("{}/submit", draft.path));
    let sent = rec.now();
    let reply = plan
        .session
        .send(rec, Kind::Submit, Method::POST, &url, None)
        .await;
    rec.submit(SubmitRecord {
        company: plan.company,
        sent,
        answered: rec.now(),
        ok: reply.is_some_and(|reply| reply.status.is_success()),
    });
}

/// Sends a request and keeps the reply only when it is a success.
async fn ok_reply(
    plan: &Plan,
    kind: Kind,
    method: Method,
    url: &str,
    body: Option<&Value>,
    rec: &Recorder,
) -> Option<Reply> {
    let reply = plan.session.send(rec, kind, method, url, body).await?;
    reply.status.is_success().then_some(reply)
}

/// The id of the caller's own self review in the cycle.
fn find_self_review(list: &Value, cycle_id: &str, session: &Session) -> Option<String> {
    list.as_array()?
        .iter()
        .filter(|review| review.get("cycle_id").and_then(id_text).as_deref() == Some(cycle_id))
        .filter(|review| review.get("kind").and_then(Value::as_str) == Some("self"))
        .filter(|review| {
            let writer = review.get("reviewer_id").and_then(id_text);
            session.user_id.is_none() || writer == session.user_id
        })
        .find_map(|review| review.get("id").and_then(id_text))
}

/// `(question id, kind)` pairs of a review.
fn questions_of(review: &Value) -> Vec<(String, String)> {
    let Some(questions) = review.get("questions").and_then(Value::as_array) else {
        return Vec::new();
    };
    questions
        .iter()
        .filter_map(|question| {
            let id = question.get("id").and_then(id_text)?;
            let kind = question.get("kind").and_then(Value::as_str)?;
            Some((id, kind.to_owned()))
        })
        .collect()
}

/// Answers for every question: a paragraph for text, 1..=5 for ratings,
/// varied by reviewer and save so each autosave really changes the draft.
fn answers(questions: &[(String, String)], reviewer: usize, save: u32) -> Map<String, Value> {
    let mut answers = Map::new();
    for (index, (id, kind)) in questions.iter().enumerate() {
        let turn = reviewer + save as usize + index;
        let answer = match kind.as_str() {
            "rating" => json!(turn % 5 + 1),
            _ => json!(format!("{} (draft {save})", LOREM[turn % LOREM.len()])),
        };
        answers.insert(id.clone(), answer);
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cover_every_question_with_the_right_type() {
        let questions = vec![
            ("q1".to_owned(), "text".to_owned()),
            ("q2".to_owned(), "rating".to_owned()),
        ];
        for save in 1..=10 {
            let answers = answers(&questions, 3, save);
            assert_eq!(answers.len(), 2);
            assert!(answers["q1"].as_str().is_some_and(|text| !text.is_empty()));
            let rating = answers["q2"].as_u64().expect("rating is a number");
            assert!((1..=5).contains(&rating));
        }
        assert_ne!(answers(&questions, 3, 1), answers(&questions, 3, 2));
    }
}
