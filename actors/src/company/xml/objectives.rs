//! The `<objectives>` section (objectives with their key results and cycle links) and the
//! `<comments>` section (comments on reviews and objectives).

use super::{IdMaps, Node, invalid, number, one_of, optional_number, required, time};
use crate::company::Company;
use crate::crypto::{COMMENT_BODY, KEY_RESULT_TITLE, OBJECTIVE_DESCRIPTION, OBJECTIVE_TITLE};
use crate::db::float_param;
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::rfc3339;

use super::XmlScope;

#[derive(sqlx::FromRow)]
struct ObjectiveRow {
    company_id: String,
    id: String,
    level: String,
    owner_id: String,
    parent_id: Option<String>,
    title: String,
    description: String,
    status: String,
    weight: Option<i64>,
    due_at: Option<i64>,
    archived_at: Option<i64>,
    version: i64,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct KeyResultRow {
    company_id: String,
    id: String,
    position: i64,
    title: String,
    progress: i64,
    start_value: Option<f64>,
    current_value: Option<f64>,
    target_value: Option<f64>,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    company_id: String,
    objective_id: String,
    cycle_id: String,
    weight: Option<i64>,
    linked_by: String,
    linked_at: i64,
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    company_id: String,
    id: String,
    review_id: Option<String>,
    objective_id: Option<String>,
    author_id: String,
    body: String,
    created_at: i64,
}

owned!(ObjectiveRow, "objectives");
owned!(KeyResultRow, "key_results");
owned!(CommentRow, "comments");

impl Owned for LinkRow {
    const TABLE: &'static str = "objective_cycles";
    fn row_id(&self) -> &str {
        &self.objective_id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

/// A number of a measured key result, as Rust writes it (it reads back exactly).
fn float(row: &Node, name: &str) -> Result<Option<f64>, ActorError> {
    match row.get(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| invalid(row, &format!("<{name}> is not a number"))),
    }
}

impl Company {
    /// Objectives: all of the company's, or for a cycle export those linked to the cycle
    /// (with that link only).
    pub(super) async fn xml_objectives(
        &self,
        scope: &XmlScope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let cycle = scope.cycle().unwrap_or("");
        let rows: Vec<ObjectiveRow> = sqlx::query_as(
            "SELECT company_id, id, level, owner_id, parent_id, title, description, status, \
             weight, due_at, archived_at, version, created_by, created_at, updated_at \
             FROM objectives o WHERE company_id = $1 AND ($2 = '' OR EXISTS (\
               SELECT 1 FROM objective_cycles l WHERE l.company_id = o.company_id \
               AND l.objective_id = o.id AND l.cycle_id = $3)) \
             AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(cycle)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for o in rows {
            let key_results: Vec<KeyResultRow> = sqlx::query_as(
                "SELECT company_id, id, position, title, progress, start_value, current_value, \
                 target_value, updated_at FROM key_results \
                 WHERE company_id = $1 AND objective_id = $2 ORDER BY position, id",
            )
            .bind(&self.id)
            .bind(&o.id)
            .fetch_all(self.db.pool())
            .await?;
            self.check_all(&key_results)?;
            let links: Vec<LinkRow> = sqlx::query_as(
                "SELECT company_id, objective_id, cycle_id, weight, linked_by, linked_at \
                 FROM objective_cycles WHERE company_id = $1 AND objective_id = $2 \
                 AND ($3 = '' OR cycle_id = $4) ORDER BY cycle_id",
            )
            .bind(&self.id)
            .bind(&o.id)
            .bind(cycle)
            .bind(cycle)
            .fetch_all(self.db.pool())
            .await?;
            self.check_all(&links)?;
            let mut node = Node::new("objective")
                .attr("id", o.id.clone())
                .field("level", o.level)
                .field("owner-id", o.owner_id)
                .optional("parent-id", o.parent_id)
                .field("title", self.open(OBJECTIVE_TITLE, &o.id, &o.title)?)
                .field(
                    "description",
                    self.open(OBJECTIVE_DESCRIPTION, &o.id, &o.description)?,
                )
                .field("status", o.status)
                .optional("weight", o.weight.map(|w| w.to_string()))
                .optional("due-at", o.due_at.map(rfc3339))
                .optional("archived-at", o.archived_at.map(rfc3339))
                .field("version", o.version.to_string())
                .field("created-by", o.created_by)
                .field("created-at", rfc3339(o.created_at))
                .field("updated-at", rfc3339(o.updated_at));
            for k in key_results {
                let title = self.open(KEY_RESULT_TITLE, &k.id, &k.title)?;
                node.children.push(
                    Node::new("key-result")
                        .attr("id", k.id)
                        .field("position", k.position.to_string())
                        .field("title", title)
                        .field("progress", k.progress.to_string())
                        .optional("start-value", k.start_value.map(|v| v.to_string()))
                        .optional("current-value", k.current_value.map(|v| v.to_string()))
                        .optional("target-value", k.target_value.map(|v| v.to_string()))
                        .field("updated-at", rfc3339(k.updated_at)),
                );
            }
            for l in links {
                node.children.push(
                    Node::new("cycle-link")
                        .attr("cycle-id", l.cycle_id)
                        .optional("weight", l.weight.map(|w| w.to_string()))
                        .field("linked-by", l.linked_by)
                        .field("linked-at", rfc3339(l.linked_at)),
                );
            }
            nodes.push((o.id, node));
        }
        Ok(nodes)
    }

    /// Comments: all of the company's, or for a cycle export those on the cycle's
    /// reviews.
    pub(super) async fn xml_comments(
        &self,
        scope: &XmlScope,
        reader: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Node)>, ActorError> {
        let cycle = scope.cycle().unwrap_or("");

        // Not the comments on a review about the reader that they may not read yet.
        let rows: Vec<CommentRow> = sqlx::query_as(
            "SELECT company_id, id, review_id, objective_id, author_id, body, created_at \
             FROM comments c WHERE company_id = $1 AND ($2 = '' OR EXISTS (\
               SELECT 1 FROM reviews r WHERE r.company_id = c.company_id \
               AND r.id = c.review_id AND r.cycle_id = $3)) \
             AND NOT EXISTS (SELECT 1 FROM reviews h WHERE h.company_id = c.company_id \
               AND h.id = c.review_id AND h.reviewee_id = $6 AND h.reviewer_id <> $6 \
               AND h.status NOT IN ('shared', 'signed')) \
             AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(&self.id)
        .bind(cycle)
        .bind(cycle)
        .bind(after)
        .bind(limit)
        .bind(reader)
        .fetch_all(self.db.pool())
        .await?;
        self.check_all(&rows)?;
        let mut nodes = Vec::with_capacity(rows.len());
        for c in rows {
            let body = self.open(COMMENT_BODY, &c.id, &c.body)?;
            let node = Node::new("comment")
                .attr("id", c.id.clone())
                .optional("review-id", c.review_id)
                .optional("objective-id", c.objective_id)
                .field("author-id", c.author_id)
                .field("body", body)
                .field("created-at", rfc3339(c.created_at));
            nodes.push((c.id, node));
        }
        Ok(nodes)
    }

    pub(super) async fn import_objectives(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        // Every objective first, then the tree: a parent may come later in the file.
        for row in wrapper.all("objective") {
            let id = ids.objectives.assign(row)?;
            let level = one_of(row, "level", &["company", "team", "person"])?;
            let owner = ids.users.get(row, "user", required(row, "owner-id")?)?;
            let status = one_of(
                row,
                "status",
                &["draft", "on_track", "at_risk", "off_track", "done"],
            )?;
            let title = required(row, "title")?;
            let description = row.get("description").unwrap_or("");
            let created_by = ids.users.get(row, "user", required(row, "created-by")?)?;
            let created_at = time(row, "created-at")?.unwrap_or_else(crate::db::now_ms);
            let updated_at = time(row, "updated-at")?.unwrap_or(created_at);
            sqlx::query(
                "INSERT INTO objectives (company_id, id, level, owner_id, parent_id, title, \
                 description, status, weight, due_at, archived_at, version, created_by, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(level)
            .bind(&owner)
            .bind(self.seal(OBJECTIVE_TITLE, &id, title)?)
            .bind(self.seal(OBJECTIVE_DESCRIPTION, &id, description)?)
            .bind(status)
            .bind(optional_number(row, "weight")?)
            .bind(time(row, "due-at")?)
            .bind(time(row, "archived-at")?)
            .bind(number(row, "version")?)
            .bind(&created_by)
            .bind(created_at)
            .bind(updated_at)
            .execute(&mut **tx)
            .await?;

            for kr in row.all("key-result") {
                let kr_id = ids.key_results.assign(kr)?;
                let progress = number(kr, "progress")?;
                if !(0..=100).contains(&progress) {
                    return Err(invalid(kr, "<progress> is not 0 to 100"));
                }
                let kr_updated = time(kr, "updated-at")?.unwrap_or(updated_at);
                sqlx::query(
                    "INSERT INTO key_results (company_id, id, objective_id, position, title, \
                     progress, start_value, current_value, target_value, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, CAST(CAST($7 AS TEXT) AS DOUBLE PRECISION), \
                     CAST(CAST($8 AS TEXT) AS DOUBLE PRECISION), \
                     CAST(CAST($9 AS TEXT) AS DOUBLE PRECISION), $10)",
                )
                .bind(&self.id)
                .bind(&kr_id)
                .bind(&id)
                .bind(number(kr, "position")?)
                .bind(self.seal(KEY_RESULT_TITLE, &kr_id, required(kr, "title")?)?)
                .bind(progress)
                .bind(float_param(float(kr, "start-value")?))
                .bind(float_param(float(kr, "current-value")?))
                .bind(float_param(float(kr, "target-value")?))
                .bind(kr_updated)
                .execute(&mut **tx)
                .await?;
            }

            for link in row.all("cycle-link") {
                let old = link.get_attr("cycle-id").unwrap_or("");
                let cycle = ids.cycles.get(row, "cycle", old)?;
                let linked_by = ids.users.get(row, "user", required(link, "linked-by")?)?;
                let linked_at = time(link, "linked-at")?.unwrap_or(created_at);
                let inserted = sqlx::query(
                    "INSERT INTO objective_cycles (company_id, objective_id, cycle_id, weight, \
                     linked_by, linked_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&self.id)
                .bind(&id)
                .bind(&cycle)
                .bind(optional_number(link, "weight")?)
                .bind(&linked_by)
                .bind(linked_at)
                .execute(&mut **tx)
                .await;
                if inserted.is_err() {
                    return Err(invalid(row, "links the same cycle twice"));
                }
            }
        }
        for row in wrapper.all("objective") {
            let Some(parent) = row.get("parent-id") else {
                continue;
            };
            let id = ids
                .objectives
                .get(row, "objective", row.get_attr("id").unwrap_or(""))?;
            let parent = ids.objectives.get(row, "parent objective", parent)?;
            if parent == id {
                return Err(invalid(row, "an objective cannot be its own parent"));
            }
            sqlx::query("UPDATE objectives SET parent_id = $3 WHERE company_id = $1 AND id = $2")
                .bind(&self.id)
                .bind(&id)
                .bind(&parent)
                .execute(&mut **tx)
                .await?;
        }
        // A loop in the file would leave a tree the actor never builds.
        let parents: std::collections::HashMap<&str, &str> = wrapper
            .all("objective")
            .filter_map(|o| Some((o.get_attr("id")?, o.get("parent-id")?)))
            .collect();
        for row in wrapper.all("objective") {
            let mut at = row.get_attr("id").unwrap_or("");
            for _ in 0..=parents.len() {
                match parents.get(at) {
                    Some(parent) => at = parent,
                    None => break,
                }
            }
            if parents.contains_key(at) {
                return Err(invalid(row, "its parents form a loop"));
            }
        }
        Ok(())
    }

    pub(super) async fn import_comments(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wrapper: &Node,
        ids: &mut IdMaps,
    ) -> Result<(), ActorError> {
        for row in wrapper.all("comment") {
            let id = ids.comments.assign(row)?;
            let (review, objective) = match (row.get("review-id"), row.get("objective-id")) {
                (Some(review), None) => (Some(ids.reviews.get(row, "review", review)?), None),
                (None, Some(objective)) => {
                    (None, Some(ids.objectives.get(row, "objective", objective)?))
                }
                _ => {
                    return Err(invalid(
                        row,
                        "names exactly one of <review-id> and <objective-id>",
                    ));
                }
            };
            let author = ids.users.get(row, "user", required(row, "author-id")?)?;
            let created_at = time(row, "created-at")?.unwrap_or_else(crate::db::now_ms);
            sqlx::query(
                "INSERT INTO comments (company_id, id, review_id, objective_id, author_id, \
                 body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&self.id)
            .bind(&id)
            .bind(review)
            .bind(objective)
            .bind(&author)
            .bind(self.seal(COMMENT_BODY, &id, required(row, "body")?)?)
            .bind(created_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
