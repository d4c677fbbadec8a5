//! Objectives and review cycles: linking an objective into a cycle, what a review's
//! readers see of its subject's linked objectives, and the pages of the CSV export.

use std::collections::BTreeMap;

use super::*;
use crate::model::{Phase, ReviewObjective};

/// An objective's link into a cycle with the objective's owner, for scoring reviews.
#[derive(sqlx::FromRow)]
struct OwnedLinkRow {
    company_id: String,
    objective_company_id: String,
    objective_id: String,
    owner_id: String,
    weight: Option<i64>,
}

impl Owned for OwnedLinkRow {
    const TABLE: &'static str = "objective_cycles";
    fn row_id(&self) -> &str {
        &self.objective_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id, &self.objective_company_id]
    }
}

/// The objectives linked into one cycle, by owner: objective id → weight in the cycle.
pub(in crate::company) type LinkWeights = HashMap<String, BTreeMap<String, Option<i64>>>;

impl Company {
    pub(super) async fn link_cycle(
        &mut self,
        principal: Principal,
        id: String,
        cycle_id: String,
        link: Option<CycleLinkUpdate>,
        client: Client,
        any_phase: bool,
    ) -> Result<Objective, ActorError> {
        let mut tx = self.db.begin_write().await?;
        let sight = self.sight(&mut tx, &principal).await?;
        self.load_editable(&mut tx, &sight, &id, None).await?;
        // A cycle the caller cannot see answers as one that does not exist: it must be
        // one they run (HR), write or receive a review in, or one the objective's owner
        // is reviewed in. Otherwise a 200 here would tell that the cycle exists.
        let cycle = self.load_cycle(&mut tx, &cycle_id).await?;
        let owner = self.objective_owner(&mut tx, &id).await?;
        if !principal.roles.runs_cycles()
            && !self
                .takes_part(&mut tx, &cycle_id, &principal.user_id, &owner)
                .await?
        {
            return Err(ActorError::NotFound);
        }
        // Reviews are written until the manager-review phase ends; from sharing on the
        // links (and so what the objectives question rates) stay as they are.
        if !any_phase
            && matches!(
                cycle.phase(),
                Phase::Sharing | Phase::SignOff | Phase::Closed
            )
        {
            return Err(ActorError::Conflict(format!(
                "objectives can be linked to or unlinked from a cycle only while its reviews \
                 are written; the cycle is in {}",
                cycle.phase().as_str()
            )));
        }
        let now = now_ms();
        let (action, weight) = match link {
            Some(link) => {
                let weight = weight(link.weight)?;
                sqlx::query(
                    "INSERT INTO objective_cycles (company_id, objective_id, cycle_id, weight, \
                     linked_by, linked_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (objective_id, cycle_id) DO UPDATE SET weight = $4",
                )
                .bind(&self.id)
                .bind(&id)
                .bind(&cycle_id)
                .bind(weight)
                .bind(&principal.user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                ("objective_linked_to_cycle", weight)
            }
            None => {
                let done = sqlx::query(
                    "DELETE FROM objective_cycles WHERE company_id = $1 AND objective_id = $2 \
                     AND cycle_id = $3",
                )
                .bind(&self.id)
                .bind(&id)
                .bind(&cycle_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(ActorError::NotFound);
                }
                ("objective_unlinked_from_cycle", None)
            }
        };
        let detail = serde_json::json!({ "cycle_id": cycle_id, "weight": weight });
        let actor = Some(principal.user_id.as_str());
        self.record_audit(&mut *tx, actor, action, Some(&id), &client, detail)
            .await?;
        let objective = self.reload_objective(&mut tx, &sight, &id).await?;
        tx.commit().await?;
        Ok(objective)
    }

    /// The owner of an objective of this company (the caller has loaded it).
    async fn objective_owner(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<String, ActorError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT company_id, owner_id FROM objectives WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some((company, owner)) if company == self.id => Ok(owner),
            _ => Err(ActorError::NotFound),
        }
    }

    /// Whether `caller` writes or receives a review in `cycle_id`, or `owner` receives
    /// one there.
    async fn takes_part(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        caller: &str,
        owner: &str,
    ) -> Result<bool, ActorError> {
        let (found,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM reviews WHERE company_id = $1 AND cycle_id = $2 \
             AND (reviewer_id = $3 OR reviewee_id = $3 OR reviewee_id = $4)",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .bind(caller)
        .bind(owner)
        .fetch_one(&mut *conn)
        .await?;
        Ok(found > 0)
    }

    /// The links of `owner`'s objectives (everyone's when `None`) into `cycle_id`, in
    /// link order: (objective id, owner id, weight).
    async fn owned_links(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        owner: Option<&str>,
    ) -> Result<Vec<(String, String, Option<i64>)>, ActorError> {
        // Joined on the id alone, like every join here, so the guard sees both companies.
        let rows: Vec<OwnedLinkRow> = sqlx::query_as(
            "SELECT l.company_id, o.company_id AS objective_company_id, l.objective_id, \
             o.owner_id, l.weight FROM objective_cycles l \
             JOIN objectives o ON o.id = l.objective_id \
             WHERE l.company_id = $1 AND l.cycle_id = $2 AND ($3 = '' OR o.owner_id = $4) \
             ORDER BY l.linked_at, l.objective_id",
        )
        .bind(&self.id)
        .bind(cycle_id)
        .bind(owner.unwrap_or(""))
        .bind(owner.unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
        self.check_all(&rows)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.objective_id, row.owner_id, row.weight))
            .collect())
    }

    /// The objectives linked into `cycle_id` with their weights, by owner, for scoring
    /// many reviews of the cycle at once.
    pub(in crate::company) async fn cycle_link_weights(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
    ) -> Result<LinkWeights, ActorError> {
        let mut weights = LinkWeights::new();
        for (objective, owner, weight) in self.owned_links(conn, cycle_id, None).await? {
            weights.entry(owner).or_default().insert(objective, weight);
        }
        Ok(weights)
    }

    /// The objectives of `reviewee` linked into `cycle_id`: id → weight in the cycle.
    /// These are the objectives an objectives question of a review about them rates.
    pub(in crate::company) async fn linked_weights(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        reviewee: &str,
    ) -> Result<BTreeMap<String, Option<i64>>, ActorError> {
        let links = self.owned_links(conn, cycle_id, Some(reviewee)).await?;
        Ok(links
            .into_iter()
            .map(|(id, _, weight)| (id, weight))
            .collect())
    }

    /// The objectives of `reviewee` linked into `cycle_id`, titles opened, in link order,
    /// for the readers of a review about them. The caller has checked that the
    /// principal may read that review: the link is what shows them to its readers (see
    /// [`Company::review_objectives`]), and nobody else gets here.
    pub(in crate::company) async fn linked_review_objectives(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        reviewee: &str,
    ) -> Result<Vec<ReviewObjective>, ActorError> {
        let links = self.linked_in_order(conn, cycle_id, reviewee).await?;
        self.review_objectives_of(conn, reviewee, links).await
    }

    /// The objectives of `reviewee` linked into `cycle_id` with their weights, in link
    /// order: what a submitted review's score is frozen on.
    pub(in crate::company) async fn linked_in_order(
        &self,
        conn: &mut sqlx::AnyConnection,
        cycle_id: &str,
        reviewee: &str,
    ) -> Result<Vec<(String, Option<i64>)>, ActorError> {
        let links = self.owned_links(conn, cycle_id, Some(reviewee)).await?;
        Ok(links
            .into_iter()
            .map(|(id, _, weight)| (id, weight))
            .collect())
    }

    /// The objectives of `reviewee` named in `links` (id, weight in the cycle), titles
    /// opened, in that order; an id that is not theirs is left out.
    pub(in crate::company) async fn review_objectives_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        reviewee: &str,
        links: Vec<(String, Option<i64>)>,
    ) -> Result<Vec<ReviewObjective>, ActorError> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{OBJECTIVE_SELECT} WHERE o.company_id = $1 AND o.owner_id = $2");
        let rows: Vec<ObjectiveRow> = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(reviewee)
            .fetch_all(&mut *conn)
            .await?;
        self.check_all(&rows)?;
        let mut objectives = Vec::with_capacity(links.len());
        for (id, weight) in links {
            let Some(row) = rows.iter().find(|row| row.id == id) else {
                continue;
            };
            let (mut key_results, _) = self.objective_parts(conn, Parts::One(&id)).await?;
            let status = ObjectiveStatus::parse(&row.status);
            let key_results = key_results.remove(&id).unwrap_or_default();
            objectives.push(ReviewObjective {
                title: self.open(OBJECTIVE_TITLE, &row.id, &row.title)?,
                weight,
                score_weight: weight.unwrap_or(1),
                progress: mean_progress(&key_results, status),
                status: status.as_str().to_owned(),
                id,
            });
        }
        Ok(objectives)
    }

    /// The objectives of a review's subject that are linked into the review's cycle, for
    /// whoever may read the review: that is what the link is for, so it shows them even
    /// to a reviewer who could not otherwise see the subject's own objectives.
    pub(super) async fn review_objectives(
        &mut self,
        principal: Principal,
        review_id: String,
    ) -> Result<Vec<Objective>, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let state = self
            .load_review_state(&mut conn, &principal, &review_id)
            .await?;
        let (_, reviewee_id): (String, String) = sqlx::query_as(
            "SELECT company_id, reviewee_id FROM reviews WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&review_id)
        .fetch_one(&mut *conn)
        .await?;
        let sight = self.sight(&mut conn, &principal).await?;
        let rows = self.objective_rows(&mut conn).await?;
        let (mut key_results, links) = self.objective_parts(&mut conn, Parts::All).await?;
        drop(conn);
        let mut objectives = Vec::new();
        for row in rows.iter().filter(|row| row.owner_id == reviewee_id) {
            let Some(linked) = links.get(&row.id) else {
                continue;
            };
            let Some(link) = linked.iter().find(|l| l.cycle_id == state.cycle_id) else {
                continue;
            };
            objectives.push(self.objective_view(
                row,
                &sight,
                key_results.remove(&row.id).unwrap_or_default(),
                vec![link.clone()],
            )?);
        }
        Ok(objectives)
    }

    /// One page of every objective (archived ones included) in id order after `after`,
    /// for the export. The caller has begun the export.
    pub(super) async fn objective_export_page(
        &self,
        principal: &Principal,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportedObjective>, ActorError> {
        if !principal.roles.hr_admin {
            return Err(ActorError::Forbidden);
        }
        let mut conn = self.db.pool().acquire().await?;
        let sight = self.sight(&mut conn, principal).await?;
        let sql = format!(
            "{OBJECTIVE_SELECT} WHERE o.company_id = $1 AND o.id > $2 ORDER BY o.id LIMIT $3"
        );
        let rows: Vec<ObjectiveRow> = sqlx::query_as(&sql)
            .bind(&self.id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        self.check_all(&rows)?;
        let (mut key_results, mut links) = self
            .objective_parts(&mut conn, Parts::Page(after, limit))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ExportedObjective {
                    objective: self.objective_view(
                        row,
                        &sight,
                        key_results.remove(&row.id).unwrap_or_default(),
                        links.remove(&row.id).unwrap_or_default(),
                    )?,
                    owner_email: row.owner_email.clone(),
                })
            })
            .collect()
    }
}
