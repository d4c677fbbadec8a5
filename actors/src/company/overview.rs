//! What the installation's staff see of a company: people counted, the last sign-in, and
//! its cycles by name and state. Read by the company's actor like every row it owns.

use super::{Company, CompanyHandle};
use crate::error::ActorError;
use crate::guard::Owned;
use crate::model::rfc3339;
use crate::staff::{CompanyFigures, CycleOverview};

/// The counts of a company's people and its last sign-in.
#[derive(sqlx::FromRow)]
struct FiguresRow {
    id: String,
    users: i64,
    active_users: i64,
    last_sign_in_at: Option<i64>,
}

impl Owned for FiguresRow {
    const TABLE: &'static str = "companies";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.id]
    }
}

/// A cycle's name and state.
#[derive(sqlx::FromRow)]
struct CycleRow {
    company_id: String,
    id: String,
    name: String,
    status: String,
}

impl Owned for CycleRow {
    const TABLE: &'static str = "cycles";
    fn row_id(&self) -> &str {
        &self.id
    }
    fn owners(&self) -> Vec<&str> {
        vec![&self.company_id]
    }
}

impl Company {
    async fn figures(&self, with_cycles: bool) -> Result<CompanyFigures, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let row: FiguresRow = sqlx::query_as(
            "SELECT c.id, \
             (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id) AS users, \
             (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.disabled = 0) \
               AS active_users, \
             (SELECT MAX(a.at) FROM audit_events a WHERE a.company_id = c.id \
              AND a.action = 'signed_in') AS last_sign_in_at \
             FROM companies c WHERE c.id = $1",
        )
        .bind(&self.id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ActorError::NotFound)?;
        self.check(&row)?;

        let cycles = if with_cycles {
            let rows: Vec<CycleRow> = sqlx::query_as(
                "SELECT company_id, id, name, status FROM cycles WHERE company_id = $1 \
                 ORDER BY created_at DESC, id",
            )
            .bind(&self.id)
            .fetch_all(&mut *conn)
            .await?;
            self.check_all(&rows)?;
            let cycles = rows.into_iter().map(|c| CycleOverview {
                name: c.name,
                status: c.status,
            });
            Some(cycles.collect())
        } else {
            None
        };
        Ok(CompanyFigures {
            users: row.users,
            active_users: row.active_users,
            last_sign_in_at: row.last_sign_in_at.map(rfc3339),
            cycles,
        })
    }
}

impl CompanyHandle {
    /// The company's figures for the installation's staff; with its cycles' names and
    /// states when asked. The HTTP layer admits staff sessions only.
    pub async fn staff_figures(&self, with_cycles: bool) -> Result<CompanyFigures, ActorError> {
        self.call(move |c| Box::pin(async move { c.figures(with_cycles).await }))
            .await
    }
}
