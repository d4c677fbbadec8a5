//! The live topic of one review, `review:<id>`: who is viewing it and which answer each
//! viewer is in, and its `saved` events.
//!
//! Presence is kept in the actor's memory only, per connection: a viewer joins by
//! subscribing, moves between answers with presence messages and leaves by unsubscribing
//! or when its connection ends. A connection that ends without saying so (a dead peer,
//! a crashed task) drops its [`Viewer::alive`] token, and the actor's periodic sweep
//! removes it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use serde::Serialize;

use super::{Company, CompanyHandle};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::live::Subscription;
use crate::model::{Answers, Principal, ReviewStatus};

/// A live connection as the actor sees it.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The connection's number, unique within this process.
    pub connection: u64,
    /// A token the connection holds while it is open; a dead one marks a viewer to sweep.
    pub alive: Weak<()>,
}

impl Viewer {
    /// A viewer for a connection that holds `alive` for as long as it is open.
    pub fn new(connection: u64, alive: &Arc<()>) -> Viewer {
        Viewer {
            connection,
            alive: Arc::downgrade(alive),
        }
    }
}

/// One viewer of a review, as every viewer sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
struct Present {
    /// The viewer's connection, so that a client recognises its own entry.
    viewer: u64,
    /// Who it is.
    user_id: String,
    /// Their name.
    name: String,
    /// The question they are in, or none.
    answer: Option<String>,
}

/// What the actor keeps of a review somebody is viewing.
struct LiveReview {
    /// The review's questions, to check presence messages against.
    questions: Vec<String>,
    /// Viewers by connection, with the token that says the connection is still open.
    viewers: BTreeMap<u64, (Present, Weak<()>)>,
}

/// The reviews being viewed in one company.
#[derive(Default)]
pub(crate) struct LiveReviews {
    reviews: HashMap<String, LiveReview>,
}

/// The snapshot of a review topic.
#[derive(Serialize)]
struct ReviewSnapshot<'a> {
    version: i64,
    status: &'a str,
    presence: Vec<&'a Present>,
    /// The subscriber's own viewer number.
    you: u64,
}

/// The `presence` event: the whole list, so a client never has to patch its copy.
#[derive(Serialize)]
struct PresenceEvent<'a> {
    presence: Vec<&'a Present>,
}

/// The `saved` event: a new version, which answers changed, and those answers.
#[derive(Serialize)]
pub(super) struct SavedEvent<'a> {
    pub(super) version: i64,
    pub(super) status: &'a str,
    pub(super) updated_at: &'a str,
    /// The questions whose answers changed in this version.
    pub(super) changed: Vec<&'a str>,
    /// Their new answers; a cleared answer is absent.
    pub(super) answers: &'a Answers,
}

#[derive(sqlx::FromRow)]
struct NameRow {
    company_id: String,
    id: String,
    name: String,
}

impl Owned for NameRow {
    const TABLE: &'static str = "users";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// The topic name of a review.
pub(super) fn review_topic(review_id: &str) -> String {
    format!("review:{review_id}")
}

impl LiveReviews {
    /// Whether nobody views any review.
    pub(super) fn is_empty(&self) -> bool {
        self.reviews.is_empty()
    }
}

impl LiveReview {
    fn list(&self) -> Vec<&Present> {
        self.viewers.values().map(|(present, _)| present).collect()
    }
}

impl Company {
    /// Subscribes to `review:<id>`, authorized exactly like reading the review, and adds
    /// the subscriber to its viewers.
    pub(super) async fn subscribe_review(
        &mut self,
        principal: Principal,
        review_id: &str,
        since: Option<u64>,
        viewer: Viewer,
    ) -> Result<Subscription, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let review = self
            .load_review_state(&mut conn, &principal, review_id)
            .await?;
        let questions = self.load_questions(&mut conn, &review.cycle_id).await?;
        let name: NameRow = sqlx::query_as(
            "SELECT company_id, id, name FROM users WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&name)?;
        drop(conn);

        // Join (again, after a resync: then nothing changes and nothing is published).
        let topic = review_topic(review_id);
        let live = self
            .live_reviews
            .reviews
            .entry(review_id.to_owned())
            .or_insert_with(|| LiveReview {
                questions: Vec::new(),
                viewers: BTreeMap::new(),
            });
        live.questions = questions.into_iter().map(|q| q.id).collect();
        let joined = !live.viewers.contains_key(&viewer.connection);
        if joined {
            let present = Present {
                viewer: viewer.connection,
                user_id: principal.user_id.clone(),
                name: name.name,
                answer: None,
            };
            live.viewers
                .insert(viewer.connection, (present, viewer.alive.clone()));
            self.publish_presence(review_id);
        }

        if let Some(subscription) = since.and_then(|since| self.topics.resume(&topic, since)) {
            return Ok(subscription);
        }
        let live = &self.live_reviews.reviews[review_id];
        let snapshot = ReviewSnapshot {
            version: review.version,
            status: review.status.as_str(),
            presence: live.list(),
            you: viewer.connection,
        };
        Ok(self.topics.subscribe_with_snapshot(&topic, &snapshot))
    }

    /// Moves a viewer to another answer (or to none).
    async fn move_viewer(
        &mut self,
        review_id: String,
        connection: u64,
        answer: Option<String>,
    ) -> Result<(), ActorError> {
        // Only a connection that subscribed (and so was authorized) has an entry.
        let live = self
            .live_reviews
            .reviews
            .get_mut(&review_id)
            .ok_or(ActorError::NotFound)?;
        if let Some(answer) = &answer
            && !live.questions.contains(answer)
        {
            return Err(ActorError::Validation(format!("unknown question {answer}")));
        }
        let (present, _) = live
            .viewers
            .get_mut(&connection)
            .ok_or(ActorError::NotFound)?;
        if present.answer != answer {
            present.answer = answer;
            self.publish_presence(&review_id);
        }
        Ok(())
    }

    /// Removes a viewer from a review, if it is there.
    async fn leave_review(&mut self, review_id: String, connection: u64) {
        let left = self
            .live_reviews
            .reviews
            .get_mut(&review_id)
            .is_some_and(|live| live.viewers.remove(&connection).is_some());
        if left {
            self.publish_presence(&review_id);
        }
    }

    /// Removes viewers whose connections ended without leaving, and reviews nobody views.
    pub(super) fn sweep_viewers(&mut self) {
        let mut changed = Vec::new();
        for (review_id, live) in &mut self.live_reviews.reviews {
            let before = live.viewers.len();
            live.viewers
                .retain(|_, (_, alive)| alive.strong_count() > 0);
            if live.viewers.len() != before {
                changed.push(review_id.clone());
            }
        }
        for review_id in changed {
            self.publish_presence(&review_id);
        }
        self.live_reviews
            .reviews
            .retain(|_, live| !live.viewers.is_empty());
    }

    fn publish_presence(&mut self, review_id: &str) {
        let Some(live) = self.live_reviews.reviews.get(review_id) else {
            return;
        };
        let event = PresenceEvent {
            presence: live.list(),
        };
        self.topics
            .publish(&review_topic(review_id), "presence", &event);
    }

    /// Tells a review's viewers of a new version.
    pub(super) fn publish_saved(&mut self, review_id: &str, event: &SavedEvent<'_>) {
        self.topics
            .publish(&review_topic(review_id), "saved", event);
    }
}

/// The version and status of a review, read under the same rule as the review itself.
pub(super) struct ReviewState {
    pub(super) cycle_id: String,
    pub(super) version: i64,
    pub(super) status: ReviewStatus,
}

impl CompanyHandle {
    /// Moves the viewer on `connection` to `answer` (a question id, or `None`) in the
    /// review it follows live. `NotFound` unless that connection subscribed to the review.
    pub async fn move_viewer(
        &self,
        review_id: String,
        connection: u64,
        answer: Option<String>,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.move_viewer(review_id, connection, answer)))
            .await
    }

    /// Removes the viewer on `connection` from the review's presence.
    pub async fn leave_review(&self, review_id: String, connection: u64) -> Result<(), ActorError> {
        self.call(move |c| {
            Box::pin(async move {
                c.leave_review(review_id, connection).await;
                Ok(())
            })
        })
        .await
    }
}
