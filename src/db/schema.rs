//! Is the schema this binary needs in place? For `/readyz`: a replica whose
//! migrations have not all been applied answers 500 to every API call, so it
//! is not ready. Migrations newer than the binary (applied by a newer replica
//! during a rolling upgrade) are fine: each is additive for older binaries.

use std::collections::HashSet;

use tokio_postgres::error::SqlState;

use crate::db::{migrate, sql};

/// A migration this binary knows, as `V<version>__<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub name: String,
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V{}__{}", self.version, self.name)
    }
}

/// Every migration compiled into this binary, oldest first.
pub fn known() -> Vec<Migration> {
    let mut all: Vec<Migration> = migrate::known_migrations()
        .into_iter()
        .map(|(version, name)| Migration { version, name })
        .collect();
    all.sort_by_key(|m| m.version);
    all
}

/// The oldest migration in `known` whose version is not in `applied`.
pub fn first_missing(known: &[Migration], applied: &HashSet<i32>) -> Option<Migration> {
    known
        .iter()
        .find(|m| !applied.contains(&m.version))
        .cloned()
}

/// The first migration this binary knows that the database lacks, if any.
pub async fn first_missing_migration(
    client: &tokio_postgres::Client,
) -> Result<Option<Migration>, tokio_postgres::Error> {
    let applied: HashSet<i32> = match client.query(sql::SCHEMA_HISTORY_VERSIONS, &[]).await {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => HashSet::new(),
        Err(e) => return Err(e),
    };
    Ok(first_missing(&known(), &applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: i32) -> Migration {
        Migration {
            version,
            name: format!("m{version}"),
        }
    }

    #[test]
    fn the_first_gap_is_named_and_newer_migrations_do_not_count() {
        let known = [m(1), m(2), m(3)];
        let applied = |v: &[i32]| v.iter().copied().collect::<HashSet<_>>();
        assert_eq!(first_missing(&known, &applied(&[])), Some(m(1)));
        assert_eq!(first_missing(&known, &applied(&[1, 3])), Some(m(2)));
        assert_eq!(first_missing(&known, &applied(&[1, 2, 3])), None);
        // A newer replica applied V4: this binary still has all it needs.
        assert_eq!(first_missing(&known, &applied(&[1, 2, 3, 4])), None);
        assert_eq!(m(2).to_string(), "V2__m2");
    }

    #[test]
    fn the_binary_knows_its_migrations_in_order() {
        let known = known();
        assert!(!known.is_empty());
        assert!(known.windows(2).all(|w| w[0].version < w[1].version));
    }
}
