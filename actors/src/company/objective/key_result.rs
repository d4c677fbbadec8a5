//! Key results of an objective: adding, changing and removing them, and how their
//! progress is worked out. Every change moves the objective's version on.

use super::*;
use crate::db::float_param;

/// A key result's numbers after checking: progress, start, current, target.
type Measure = (i64, Option<f64>, Option<f64>, Option<f64>);

/// The largest magnitude a start, current or target value may have: a trillion is more
/// than any count, amount or score a key result measures, and it keeps every difference
/// and share worked out from the values finite and exact enough to show.
const MAX_KEY_RESULT_VALUE: f64 = 1e12;

/// Checks a key result's numbers and works out its progress. With a target it is
/// measured: progress is how far `current` got from `start` towards `target`, kept
/// within 0 to 100; without, `progress` is given directly.
fn measure(
    progress: Option<i64>,
    start: Option<f64>,
    current: Option<f64>,
    target: Option<f64>,
) -> Result<Measure, ActorError> {
    if [start, current, target]
        .iter()
        .flatten()
        .any(|v| !v.is_finite())
    {
        return Err(ActorError::Validation(
            "key result values must be finite numbers".into(),
        ));
    }
    if [start, current, target]
        .iter()
        .flatten()
        .any(|v| v.abs() > MAX_KEY_RESULT_VALUE)
    {
        return Err(ActorError::Validation(format!(
            "key result values must be from -{MAX_KEY_RESULT_VALUE:e} to {MAX_KEY_RESULT_VALUE:e}"
        )));
    }
    let Some(target) = target else {
        if start.is_some() || current.is_some() {
            return Err(ActorError::Validation(
                "a key result with start or current values needs a target".into(),
            ));
        }
        let progress = progress.unwrap_or(0);
        if !(0..=100).contains(&progress) {
            return Err(ActorError::Validation(
                "progress must be from 0 to 100".into(),
            ));
        }
        return Ok((progress, None, None, None));
    };
    if progress.is_some() {
        return Err(ActorError::Validation(
            "a measured key result (with a target) takes current values, not progress".into(),
        ));
    }
    let start = start.unwrap_or(0.0);
    let current = current.unwrap_or(start);
    if target == start {
        return Err(ActorError::Validation(
            "a key result's target must differ from its start".into(),
        ));
    }
    let share = ((current - start) / (target - start)).clamp(0.0, 1.0);
    // Within 0..=100 by the clamp, so the cast cannot overflow.
    let progress = (share * 100.0).round() as i64;
    Ok((progress, Some(start), Some(current), Some(target)))
}

impl Company {
    /// Inserts one key result at `position` of `objective_id`.
    pub(super) async fn insert_key_result(
        &self,
        conn: &mut sqlx::AnyConnection,
        objective_id: &str,
        position: i64,
        new: &NewKeyResult,
        now: i64,
    ) -> Result<String, ActorError> {
        let name = title("a key result's title", &new.title)?;
        let (progress, start, current, target) =
            measure(new.progress, new.start, new.current, new.target)?;
        let id = new_id();
        let sealed = self.seal(KEY_RESULT_TITLE, &id, &name)?;
        sqlx::query(
            "INSERT INTO key_results (company_id, id, objective_id, position, title, progress, \
             start_value, current_value, target_value, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, CAST(CAST($7 AS TEXT) AS DOUBLE PRECISION), \
             CAST(CAST($8 AS TEXT) AS DOUBLE PRECISION), \
             CAST(CAST($9 AS TEXT) AS DOUBLE PRECISION), $10)",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(objective_id)
        .bind(position)
        .bind(&sealed)
        .bind(progress)
        .bind(float_param(start))
        .bind(float_param(current))
        .bind(float_param(target))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    pub(super) async fn add_key_result(
        &mut self,
        principal: Principal,
        id: String,
        new: NewKeyResult,
        client: Client,
    ) -> Result<Objective, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let row = self.load_editable(&mut tx, &sight, &id, None).await?;
        let (count, last): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(position) FROM key_results \
             WHERE company_id = $1 AND objective_id = $2",
        )
        .bind(&self.id)
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_KEY_RESULTS {
            return Err(ActorError::Validation(format!(
                "an objective may have at most {MAX_KEY_RESULTS} key results"
            )));
        }
        let now = now_ms();
        let position = last.map_or(0, |p| p + 1);
        let key_result_id = self
            .insert_key_result(&mut tx, &id, position, &new, now)
            .await?;
        self.bump(&mut tx, &id, row.version, now).await?;
        let detail = serde_json::json!({ "key_result_id": key_result_id });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "key_result_created",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }

    pub(super) async fn update_key_result(
        &mut self,
        principal: Principal,
        id: String,
        key_result_id: String,
        update: KeyResultUpdate,
        client: Client,
    ) -> Result<Objective, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let row = self
            .load_editable(&mut tx, &sight, &id, update.version)
            .await?;
        let stored: KeyResultRow = sqlx::query_as(
            "SELECT company_id, id, objective_id, title, progress, start_value, current_value, \
             target_value, updated_at FROM key_results \
             WHERE company_id = $1 AND objective_id = $2 AND id = $3",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&key_result_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&stored)?;

        // The numbers after the change: a target keeps or makes it measured.
        let target = update.target.or(stored.target_value);
        let (progress, start, current, target) = if target.is_some() {
            let start = update.start.or(stored.start_value);
            let current = update.current.or(stored.current_value);
            measure(update.progress, start, current, target)?
        } else {
            let progress = update.progress.or(Some(stored.progress));
            measure(progress, update.start, update.current, None)?
        };
        let sealed = match &update.title {
            Some(text) => {
                let name = title("a key result's title", text)?;
                self.seal(KEY_RESULT_TITLE, &key_result_id, &name)?
            }
            None => stored.title.clone(),
        };
        let now = now_ms();
        sqlx::query(
            "UPDATE key_results SET title = $4, progress = $5, \
             start_value = CAST(CAST($6 AS TEXT) AS DOUBLE PRECISION), \
             current_value = CAST(CAST($7 AS TEXT) AS DOUBLE PRECISION), \
             target_value = CAST(CAST($8 AS TEXT) AS DOUBLE PRECISION), updated_at = $9 \
             WHERE company_id = $1 AND objective_id = $2 AND id = $3",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&key_result_id)
        .bind(&sealed)
        .bind(progress)
        .bind(float_param(start))
        .bind(float_param(current))
        .bind(float_param(target))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.bump(&mut tx, &id, row.version, now).await?;
        let detail = serde_json::json!({ "key_result_id": key_result_id, "progress": progress });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "key_result_updated",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }

    pub(super) async fn delete_key_result(
        &mut self,
        principal: Principal,
        id: String,
        key_result_id: String,
        client: Client,
    ) -> Result<Objective, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        let row = self.load_editable(&mut tx, &sight, &id, None).await?;
        let done = sqlx::query(
            "DELETE FROM key_results WHERE company_id = $1 AND objective_id = $2 AND id = $3",
        )
        .bind(&self.id)
        .bind(&id)
        .bind(&key_result_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ActorError::NotFound);
        }
        let now = now_ms();
        self.bump(&mut tx, &id, row.version, now).await?;
        let detail = serde_json::json!({ "key_result_id": key_result_id });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(
            &mut *tx,
            actor,
            "key_result_deleted",
            Some(&id),
            &client,
            detail,
        )
        .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_progress_is_the_share_of_the_way_within_bounds() {
        assert_eq!(measure(None, None, Some(25.0), Some(100.0)).unwrap().0, 25);
        assert_eq!(
            measure(None, Some(8.0), Some(6.0), Some(4.0)).unwrap().0,
            50
        );
        assert_eq!(
            measure(None, None, Some(150.0), Some(100.0)).unwrap().0,
            100
        );
        assert_eq!(measure(None, None, Some(-5.0), Some(100.0)).unwrap().0, 0);
        assert!(measure(Some(10), None, None, Some(100.0)).is_err());
        assert!(measure(None, Some(1.0), None, Some(1.0)).is_err());
        assert!(measure(None, None, Some(f64::NAN), Some(1.0)).is_err());
    }

    #[test]
    fn values_beyond_a_trillion_are_refused() {
        let limit = MAX_KEY_RESULT_VALUE;
        assert!(measure(None, Some(-limit), Some(limit), Some(limit)).is_ok());
        assert!(measure(None, None, Some(1e308), Some(1.0)).is_err());
        assert!(measure(None, None, None, Some(-1e308)).is_err());
        assert!(measure(None, Some(limit * 1.5), None, Some(1.0)).is_err());
        assert!(measure(None, None, Some(f64::INFINITY), Some(1.0)).is_err());
    }

    #[test]
    fn plain_progress_stays_within_0_and_100() {
        assert_eq!(measure(Some(40), None, None, None).unwrap().0, 40);
        assert!(measure(Some(101), None, None, None).is_err());
        assert!(measure(Some(-1), None, None, None).is_err());
        assert!(measure(None, None, Some(3.0), None).is_err());
    }
}
