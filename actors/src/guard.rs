//! The company guard: the check every row read by an actor passes through.
//!
//! Queries already filter on `company_id`, but a query can be wrong (a join on the id
//! alone, a forgotten condition). So each row type names every company column it carries,
//! including those of joined rows, and the actor refuses the whole result if any of them
//! is not its own company. Joins deliberately match on ids only, so that a corrupt
//! reference surfaces here instead of silently dropping out of the result.

use std::fmt;

/// A row that belongs to a company, possibly through several joined tables.
pub(crate) trait Owned {
    /// The table the row comes from, for the security event.
    const TABLE: &'static str;

    /// The row's id, for the security event.
    fn row_id(&self) -> &str;

    /// Every company column of the row: its own and those of joined rows.
    fn owners(&self) -> Vec<&str>;
}

/// A row of another company was read. Carries ids only, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The table the offending row was read from.
    pub table: &'static str,
    /// The id of the offending row.
    pub row_id: String,
    /// The company the row actually belongs to.
    pub found_company: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} row {} belongs to company {}",
            self.table, self.row_id, self.found_company
        )
    }
}

/// Checks every row against `company`; the first foreign row fails the whole set.
pub(crate) fn check_all<T: Owned>(company: &str, rows: &[T]) -> Result<(), Violation> {
    rows.iter().try_for_each(|row| check(company, row))
}

/// Checks one row against `company`.
pub(crate) fn check<T: Owned>(company: &str, row: &T) -> Result<(), Violation> {
    match row.owners().into_iter().find(|owner| *owner != company) {
        None => Ok(()),
        Some(found) => Err(Violation {
            table: T::TABLE,
            row_id: row.row_id().to_owned(),
            found_company: found.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        id: String,
        company_id: String,
        joined_company_id: String,
    }

    impl Owned for Row {
        const TABLE: &'static str = "rows";
        fn row_id(&self) -> &str {
            &self.id
        }
        fn owners(&self) -> Vec<&str> {
            vec![&self.company_id, &self.joined_company_id]
        }
    }

    fn row(id: &str, own: &str, joined: &str) -> Row {
        Row {
            id: id.into(),
            company_id: own.into(),
            joined_company_id: joined.into(),
        }
    }

    #[test]
    fn a_foreign_joined_row_fails_the_whole_set() {
        let rows = [row("1", "a", "a"), row("2", "a", "b"), row("3", "a", "a")];
        let violation = check_all("a", &rows).unwrap_err();
        assert_eq!(violation.row_id, "2");
        assert_eq!(violation.found_company, "b");
    }

    #[test]
    fn rows_of_the_own_company_pass() {
        assert!(check_all("a", &[row("1", "a", "a"), row("2", "a", "a")]).is_ok());
    }
}
