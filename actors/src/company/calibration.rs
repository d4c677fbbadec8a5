//! Calibration: HR admins compare the ratings managers gave across a cycle and set
//! calibrated ones before the reviews are shared. The manager's ratings stay in the
//! review; the calibrated ones are kept beside them and are what the reviewee sees.
//!
//! Ratings are written content: only HR admins calibrate, HR assistants do not see
//! them, and the stored ratings are sealed like answers.

use std::collections::BTreeMap;

use super::{Company, CompanyHandle};
use crate::crypto::{CALIBRATED_RATINGS, REVIEW_ANSWERS};
use crate::db::now_ms;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::{
    Answer, Answers, Calibration, CalibrationEntry, CalibrationUpdate, Client, Phase, Principal,
    QuestionKind, ReviewStatus, rfc3339,
};

#[derive(sqlx::FromRow)]
struct CalibrationRow {
    company_id: String,
    review_id: String,
    ratings: String,
    calibrated_at: i64,
}

impl Owned for CalibrationRow {
    const TABLE: &'static str = "calibrations";
    fn row_id(&self) -> &str {
        &self.review_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// A manager review with its people, for the calibration view.
#[derive(sqlx::FromRow)]
struct EntryRow {
    company_id: String,
    id: String,
    reviewee_id: String,
    reviewer_id: String,
    status: String,
    answers: String,
    reviewee_company_id: String,
    reviewee_name: String,
    department: Option<String>,
    reviewer_company_id: String,
    reviewer_name: String,
}

impl Owned for EntryRow {
    const TABLE: &'static str = "reviews";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![
            &self.company_id,
            &self.reviewee_company_id,
            &self.reviewer_company_id,
        ]
    }
}

const ENTRY_SELECT: &str = "SELECT r.company_id, r.id, r.reviewee_id, r.reviewer_id, \
     r.status, r.answers, ee.company_id AS reviewee_company_id, ee.name AS reviewee_name, \
     ee.department, er.company_id AS reviewer_company_id, er.name AS reviewer_name \
     FROM reviews r JOIN users ee ON ee.id = r.reviewee_id \
     JOIN users er ON er.id = r.reviewer_id";

impl Company {
    /// The calibrated ratings of a review and when they were set, if any.
    pub(super) async fn load_calibration(
        &self,
        conn: &mut sqlx::AnyConnection,
        review_id: &str,
    ) -> Result<Option<(BTreeMap<String, i64>, i64)>, ActorError> {
        let row: Option<CalibrationRow> = sqlx::query_as(
            "SELECT company_id, review_id, ratings, calibrated_at FROM calibrations \
             WHERE company_id = $1 AND review_id = $2",
        )
        .bind(&self.id)
        .bind(review_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        self.check(&row)?;
        let json = self.open(CALIBRATED_RATINGS, &row.review_id, &row.ratings)?;
        Ok(Some((
            serde_json::from_str(&json).unwrap_or_default(),
            row.calibrated_at,
        )))
    }

    /// The calibrated ratings of the reviews on one export page of a cycle (the page's
    /// reviews are those whose ids sort after `after`, at most `limit`), by review id.
    pub(super) async fn calibrations_page(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<BTreeMap<String, BTreeMap<String, i64>>, ActorError> {
        let rows: Vec<CalibrationRow> = sqlx::query_as(
            "SELECT company_id, review_id, ratings, calibrated_at FROM calibrations \
             WHERE company_id = $1 AND review_id IN (SELECT id FROM reviews \
               WHERE company_id = $1 AND cycle_id = $2 AND id > $3 ORDER BY id LIMIT $4)",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        let mut page = BTreeMap::new();
        for row in rows {
            let json = self.open(CALIBRATED_RATINGS, &row.review_id, &row.ratings)?;
            page.insert(
                row.review_id,
                serde_json::from_str(&json).unwrap_or_default(),
            );
        }
        Ok(page)
    }

    /// The manager's ratings in a review's sealed answers.
    fn ratings_of(&self, row: &EntryRow) -> Result<BTreeMap<String, i64>, ActorError> {
        let json = self.open(REVIEW_ANSWERS, &row.id, &row.answers)?;
        let answers: Answers = serde_json::from_str(&json).unwrap_or_default();
        Ok(answers
            .into_iter()
            .filter_map(|(question, answer)| match answer {
                Answer::Rating(rating) => Some((question, rating)),
                // Objectives ratings are not calibrated: their score is the manager's.
                Answer::Text(_) | Answer::Objectives(_) => None,
            })
            .collect())
    }

    /// The entry of one manager review, with its calibration.
    async fn entry(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: EntryRow,
    ) -> Result<CalibrationEntry, ActorError> {
        let ratings = self.ratings_of(&row)?;
        let calibration = self.load_calibration(conn, &row.id).await?;
        Ok(CalibrationEntry {
            ratings,
            calibrated_at: calibration.as_ref().map(|(_, at)| rfc3339(*at)),
            calibrated: calibration.map(|(ratings, _)| ratings),
            status: ReviewStatus::parse(&row.status).unwrap_or(ReviewStatus::NotStarted),
            review_id: row.id,
            reviewee_id: row.reviewee_id,
            reviewee_name: row.reviewee_name,
            department: row.department,
            reviewer_id: row.reviewer_id,
            reviewer_name: row.reviewer_name,
        })
    }

    async fn calibration(
        &mut self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Calibration, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        let cycle = self.load_cycle(&mut conn, &cycle_id).await?;
        let questions = self.load_questions(&mut conn, &cycle_id).await?;

        // Reviews about the caller stay out: an HR admin is reviewed too, and does not
        // see their own manager's ratings before they are shared.
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "{ENTRY_SELECT} WHERE r.company_id = $1 AND r.cycle_id = $2 \
             AND r.kind = 'manager' AND r.reviewee_id <> $3 ORDER BY ee.name, r.id"
        ))
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(&principal.user_id)
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        let mut reviews = Vec::with_capacity(rows.len());
        for row in rows {
            reviews.push(self.entry(&mut conn, row).await?);
        }
        Ok(Calibration {
            phase: cycle.phase(),
            rating_scale: cycle.rating_scale(),
            questions: questions
                .into_iter()
                .filter(|q| q.kind == QuestionKind::Rating)
                .collect(),
            cycle_id,
            reviews,
        })
    }

    async fn calibrate(
        &mut self,
        principal: Principal,
        cycle_id: String,
        review_id: String,
        update: CalibrationUpdate,
        client: Client,
    ) -> Result<CalibrationEntry, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        let cycle = self.load_cycle(&mut tx, &cycle_id).await?;
        let row: EntryRow = sqlx::query_as(&format!(
            "{ENTRY_SELECT} WHERE r.company_id = $1 AND r.cycle_id = $2 AND r.id = $3 \
             AND r.kind = 'manager' AND r.reviewee_id <> $4"
        ))
        .bind(&self.id)
        .bind(&cycle_id)
        .bind(&review_id)
        .bind(&principal.user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;

        // Calibration changes what is shared, so it ends with sharing.
        if cycle.phase() == Phase::Closed {
            return Err(ActorError::Conflict("the cycle is closed".into()));
        }
        if row.status != ReviewStatus::Submitted.as_str() {
            return Err(ActorError::Conflict(format!(
                "ratings are calibrated on submitted reviews before they are shared; \
                 this one is {}",
                row.status
            )));
        }
        let questions = self.load_questions(&mut tx, &cycle_id).await?;
        let scale = cycle.rating_scale();
        for (question_id, rating) in &update.ratings {
            let is_rating = questions
                .iter()
                .any(|q| &q.id == question_id && q.kind == QuestionKind::Rating);
            if !is_rating {
                return Err(ActorError::Validation(format!(
                    "{question_id} is not a rating question of this cycle"
                )));
            }
            if !scale.contains(*rating) {
                return Err(ActorError::Validation(format!(
                    "ratings go from {} to {}",
                    scale.min, scale.max
                )));
            }
        }

        // Replace any earlier calibration; an empty one removes it.
        sqlx::query("DELETE FROM calibrations WHERE company_id = $1 AND review_id = $2")
            .bind(&self.id)
            .bind(&review_id)
            .execute(&mut *tx)
            .await?;
        if !update.ratings.is_empty() {
            let json = serde_json::to_string(&update.ratings)
                .map_err(|_| ActorError::Validation("the ratings could not be stored".into()))?;
            let sealed = self.seal(CALIBRATED_RATINGS, &review_id, &json)?;
            sqlx::query(
                "INSERT INTO calibrations (company_id, review_id, ratings, calibrated_by, \
                 calibrated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&self.id)
            .bind(&review_id)
            .bind(&sealed)
            .bind(&principal.user_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        // Which questions, never which ratings: ratings are content.
        let detail = serde_json::json!({ "cycle_id": cycle_id,
            "questions": update.ratings.keys().collect::<Vec<_>>() });
        let (actor, target) = (Some(principal.user_id.as_str()), Some(review_id.as_str()));
        self.record_audit(
            &mut *tx,
            actor,
            "review_calibrated",
            target,
            &client,
            detail,
        )
        .await?;
        let entry = self.entry(&mut tx, row).await?;
        tx.commit().await?;
        Ok(entry)
    }
}

impl CompanyHandle {
    /// A cycle's manager ratings with their calibrations (HR admins only).
    pub async fn calibration(
        &self,
        principal: Principal,
        cycle_id: String,
    ) -> Result<Calibration, ActorError> {
        self.call(move |c| Box::pin(c.calibration(principal, cycle_id)))
            .await
    }

    /// Sets the calibrated ratings of a submitted manager review (HR admins only).
    pub async fn calibrate(
        &self,
        principal: Principal,
        cycle_id: String,
        review_id: String,
        update: CalibrationUpdate,
        client: Client,
    ) -> Result<CalibrationEntry, ActorError> {
        self.call(move |c| Box::pin(c.calibrate(principal, cycle_id, review_id, update, client)))
            .await
    }
}
