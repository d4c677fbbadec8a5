//! The installation's list of companies: the operator's records, not any company's data.

use crate::db::{Db, new_id, now_ms};

/// A company as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyRef {
    /// The company's id, the key of all its rows.
    pub id: String,
    /// The short name typed at sign-in.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// Whether the operator has switched XML export on.
    pub xml_export_enabled: bool,
}

/// Why a company could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The slug is not 2–40 lowercase letters, digits and inner hyphens.
    #[error("a company slug is 2 to 40 lowercase letters, digits or hyphens")]
    InvalidSlug,
    /// The name is empty or too long.
    #[error("a company name has 1 to 200 characters")]
    InvalidName,
    /// Another company has this slug.
    #[error("a company with this slug already exists")]
    SlugTaken,
    /// No company has this slug.
    #[error("no company has this slug")]
    UnknownCompany,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Whether `slug` is a valid company slug.
pub fn is_valid_slug(slug: &str) -> bool {
    (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

type CompanyRow = (String, String, String, i64);

fn company(row: CompanyRow) -> CompanyRef {
    CompanyRef {
        id: row.0,
        slug: row.1,
        name: row.2,
        xml_export_enabled: row.3 != 0,
    }
}

/// Creates a company.
pub async fn create_company(db: &Db, slug: &str, name: &str) -> Result<CompanyRef, DirectoryError> {
    let name = name.trim();
    if !is_valid_slug(slug) {
        return Err(DirectoryError::InvalidSlug);
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DirectoryError::InvalidName);
    }
    if find_by_slug(db, slug).await?.is_some() {
        return Err(DirectoryError::SlugTaken);
    }
    let id = new_id();
    sqlx::query("INSERT INTO companies (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(slug)
        .bind(name)
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    Ok(CompanyRef {
        id,
        slug: slug.to_owned(),
        name: name.to_owned(),
        xml_export_enabled: false,
    })
}

/// Finds a company by its slug.
pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<CompanyRef>, sqlx::Error> {
    let row: Option<CompanyRow> =
        sqlx::query_as("SELECT id, slug, name, xml_export_enabled FROM companies WHERE slug = $1")
            .bind(slug)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(company))
}

/// Finds a company by its id.
pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<CompanyRef>, sqlx::Error> {
    let row: Option<CompanyRow> =
        sqlx::query_as("SELECT id, slug, name, xml_export_enabled FROM companies WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(company))
}

/// Every company, by slug.
pub async fn list(db: &Db) -> Result<Vec<CompanyRef>, sqlx::Error> {
    let rows: Vec<CompanyRow> =
        sqlx::query_as("SELECT id, slug, name, xml_export_enabled FROM companies ORDER BY slug")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(company).collect())
}

/// Switches XML export on or off for a company (the operator's switch).
pub async fn set_xml_export(db: &Db, slug: &str, enabled: bool) -> Result<(), DirectoryError> {
    let done = sqlx::query("UPDATE companies SET xml_export_enabled = $2 WHERE slug = $1")
        .bind(slug)
        .bind(i64::from(enabled))
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(DirectoryError::UnknownCompany);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_valid_slug;

    #[test]
    fn slugs_are_short_lowercase_names() {
        for good in ["acme", "globex", "a1", "big-co"] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "-acme",
            "acme-",
            "ac me",
            "ac/me",
            &"x".repeat(41),
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }
}
