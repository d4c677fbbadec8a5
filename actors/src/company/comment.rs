//! Comments on reviews and objectives: one feature for both.
//!
//! A comment is seen by exactly those who may see what it comments on, under the same
//! rule: a review's comments follow the review's read rule (its subject sees them only
//! once the review is shared), an objective's the objective's. Anyone who sees the
//! thing may comment on it; authors delete their own comments. The text is written
//! content, sealed per field; the audit trail names the comment, never its text.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::presence::review_topic;
use super::{Company, CompanyHandle};
use crate::crypto::COMMENT_BODY;
use crate::db::{new_id, now_ms};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{Client, Principal, rfc3339};

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;

/// What a comment is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commented {
    /// A review, by id.
    Review(String),
    /// An objective, by id.
    Objective(String),
}

impl Commented {
    fn column(&self) -> &'static str {
        match self {
            Commented::Review(_) => "review_id",
            Commented::Objective(_) => "objective_id",
        }
    }

    fn id(&self) -> &str {
        match self {
            Commented::Review(id) | Commented::Objective(id) => id,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Commented::Review(_) => "review",
            Commented::Objective(_) => "objective",
        }
    }
}

/// A comment as its readers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Comment {
    /// The comment's id.
    pub id: String,
    /// Who wrote it.
    pub author_id: String,
    /// The author's name.
    pub author_name: String,
    /// Its text.
    pub body: String,
    /// When it was written, RFC 3339 UTC.
    pub created_at: String,
    /// Whether the caller wrote it (and so may delete it).
    pub mine: bool,
}

/// What `POST …/comments` takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The text (1–5,000 characters).
    pub body: String,
}

/// The `comment_deleted` event of a review topic.
#[derive(Serialize)]
struct DeletedEvent<'a> {
    id: &'a str,
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    company_id: String,
    id: String,
    author_id: String,
    body: String,
    created_at: i64,
    author_company_id: String,
    author_name: String,
}

impl Owned for CommentRow {
    const TABLE: &'static str = "comments";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.author_company_id]
    }
}

/// A review with its cycle's status, to refuse changes in a closed cycle.
#[derive(sqlx::FromRow)]
struct ReviewCycleRow {
    company_id: String,
    id: String,
    cycle_company_id: String,
    status: String,
}

impl Owned for ReviewCycleRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.cycle_company_id]
    }
}

impl Company {
    /// Refuses to change the comments of a review whose cycle is closed: nothing in a
    /// closed cycle changes any more. Objectives outlive cycles and stay open.
    async fn check_comments_open(
        &self,
        conn: &mut sqlx::AnyConnection,
        on: &Commented,
    ) -> Result<(), ActorError> {
        let Commented::Review(id) = on else {
            return Ok(());
        };
        let row: ReviewCycleRow = sqlx::query_as(
            "SELECT r.company_id, r.id, c.company_id AS cycle_company_id, c.status \
             FROM reviews r JOIN cycles c ON c.id = r.cycle_id \
             WHERE r.company_id = $1 AND r.id = $2",
        )
        .bind(&self.id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;
        if row.status == "closed" {
            return Err(ActorError::Conflict("the cycle is closed".into()));
        }
        Ok(())
    }

    /// Checks that `principal` may see what `on` names: `NotFound` otherwise, as for an
    /// id that does not exist.
    async fn check_commentable(
        &self,
        conn: &mut sqlx::AnyConnection,
        principal: &Principal,
        on: &Commented,
    ) -> Result<(), ActorError> {
        match on {
            Commented::Review(id) => self
                .load_review_state(conn, principal, id)
                .await
                .map(|_| ()),
            Commented::Objective(id) => self.check_objective_visible(conn, principal, id).await,
        }
    }

    /// The comments on `on`, oldest first (or the one named by `only`).
    async fn comment_rows(
        &self,
        conn: &mut sqlx::AnyConnection,
        on: &Commented,
        only: Option<&str>,
    ) -> Result<Vec<CommentRow>, ActorError> {
        let sql = format!(
            "SELECT c.company_id, c.id, c.author_id, c.body, c.created_at, \
             u.company_id AS author_company_id, u.name AS author_name FROM comments c \
             JOIN users u ON u.id = c.author_id WHERE c.company_id = $1 AND c.{} = $2{} \
             ORDER BY c.created_at, c.id",
            on.column(),
            if only.is_some() { " AND c.id = $3" } else { "" }
        );
        let mut query = sqlx::query_as::<_, CommentRow>(&sql)
            .bind(&self.id)
            .bind(on.id());
        if let Some(id) = only {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        self.check_all(&rows)?;
        Ok(rows)
    }

    fn comment_view(&self, principal: &Principal, row: &CommentRow) -> Result<Comment, ActorError> {
        Ok(Comment {
            id: row.id.clone(),
            author_id: row.author_id.clone(),
            author_name: row.author_name.clone(),
            body: self.open(COMMENT_BODY, &row.id, &row.body)?,
            created_at: rfc3339(row.created_at),
            mine: row.author_id == principal.user_id,
        })
    }

    async fn list_comments(
        &mut self,
        principal: Principal,
        on: Commented,
    ) -> Result<Vec<Comment>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        self.check_commentable(&mut conn, &principal, &on).await?;
        let rows = self.comment_rows(&mut conn, &on, None).await?;
        rows.iter()
            .map(|row| self.comment_view(&principal, row))
            .collect()
    }

    async fn add_comment(
        &mut self,
        principal: Principal,
        on: Commented,
        new: NewComment,
        client: Client,
    ) -> Result<Comment, ActorError> {
        let body = new.body.trim();
        let length = body.chars().count();
        if length == 0 || length > MAX_COMMENT_CHARS {
            return Err(ActorError::Validation(format!(
                "a comment must have 1 to {MAX_COMMENT_CHARS} characters"
            )));
        }
        if super::audit::unsafe_in_text(body, true) {
            return Err(ActorError::Validation(
                "a comment may not hold control or text-reordering characters".into(),
            ));
        }
        let mut tx = self.db.begin_write().await?;
        self.check_commentable(&mut tx, &principal, &on).await?;
        self.check_comments_open(&mut tx, &on).await?;
        let id = new_id();
        let sealed = self.seal(COMMENT_BODY, &id, body)?;
        let sql = format!(
            "INSERT INTO comments (company_id, id, {}, author_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            on.column()
        );
        sqlx::query(&sql)
            .bind(&self.id)
            .bind(&id)
            .bind(on.id())
            .bind(&principal.user_id)
            .bind(&sealed)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "on": on.kind(), "comment_id": id });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "comment_added",
            Some(on.id()),
            &client,
            detail,
        )
        .await?;
        let row = self
            .comment_rows(&mut tx, &on, Some(&id))
            .await?
            .pop()
            .ok_or(ActorError::NotFound)?;
        let comment = self.comment_view(&principal, &row)?;
        tx.commit().await?;

        // The review's live followers may read it under the same rule: they hear of it.
        if let Commented::Review(review_id) = &on {
            let event = Comment {
                mine: false,
                ..comment.clone()
            };
            self.topics
                .publish(&review_topic(review_id), "comment", &event);
        }
        Ok(comment)
    }

    async fn delete_comment(
        &mut self,
        principal: Principal,
        on: Commented,
        comment_id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        let mut tx = self.db.begin_write().await?;
        self.check_commentable(&mut tx, &principal, &on).await?;
        self.check_comments_open(&mut tx, &on).await?;
        let row = self
            .comment_rows(&mut tx, &on, Some(&comment_id))
            .await?
            .pop()
            .ok_or(ActorError::NotFound)?;
        if row.author_id != principal.user_id {
            return Err(ActorError::Forbidden);
        }
        sqlx::query("DELETE FROM comments WHERE company_id = $1 AND id = $2")
            .bind(&self.id)
            .bind(&comment_id)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "on": on.kind(), "comment_id": comment_id });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "comment_deleted",
            Some(on.id()),
            &client,
            detail,
        )
        .await?;
        tx.commit().await?;
        if let Commented::Review(review_id) = &on {
            let event = DeletedEvent { id: &comment_id };
            self.topics
                .publish(&review_topic(review_id), "comment_deleted", &event);
        }
        Ok(())
    }
}

impl CompanyHandle {
    /// The comments on a review or an objective the principal may see, oldest first.
    pub async fn list_comments(
        &self,
        principal: Principal,
        on: Commented,
    ) -> Result<Vec<Comment>, ActorError> {
        self.call(move |c| Box::pin(c.list_comments(principal, on)))
            .await
    }

    /// Adds a comment to a review or an objective the principal may see.
    pub async fn add_comment(
        &self,
        principal: Principal,
        on: Commented,
        new: NewComment,
        client: Client,
    ) -> Result<Comment, ActorError> {
        self.call(move |c| Box::pin(c.add_comment(principal, on, new, client)))
            .await
    }

    /// Deletes one of the principal's own comments.
    pub async fn delete_comment(
        &self,
        principal: Principal,
        on: Commented,
        comment_id: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.delete_comment(principal, on, comment_id, client)))
            .await
    }
}
