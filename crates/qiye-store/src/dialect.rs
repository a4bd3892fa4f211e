//! The differences between SQLite and PostgreSQL, in one place.

use std::borrow::Cow;

use qiye_domain::ports::StoreError;
use sqlx::migrate::Migrator;

/// Which SQL database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one file, one writer at a time, WAL.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

impl Dialect {
    /// The dialect of a database URL.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::Other(
                "database URL must start with sqlite:, postgres:// or postgresql://".into(),
            ))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// Rewrites `$N` placeholders for the dialect (SQLite numbers them `?N`).
    /// Queries never contain `$` otherwise.
    pub fn sql(self, sql: &str) -> Cow<'_, str> {
        match self {
            Dialect::Postgres => Cow::Borrowed(sql),
            Dialect::Sqlite => Cow::Owned(sql.replace('$', "?")),
        }
    }

    /// The `VALUES` list of a multi-row insert: `rows` tuples of `columns`
    /// parameters, bound in order. PostgreSQL numbers them (`($1, $2), ($3,
    /// $4)`); SQLite gets anonymous `?`, because for a numbered `?N` sqlx
    /// asks SQLite for each parameter's name, a linear search per
    /// parameter: a 400-row insert of 4,400 parameters spent most of an
    /// import's time there.
    pub(crate) fn values_list(self, rows: usize, columns: usize) -> String {
        let mut sql = String::with_capacity(rows * columns * 6);
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..columns {
                if c > 0 {
                    sql.push_str(", ");
                }
                match self {
                    Dialect::Sqlite => sql.push('?'),
                    Dialect::Postgres => {
                        sql.push('$');
                        sql.push_str(&(r * columns + c + 1).to_string());
                    }
                }
            }
            sql.push(')');
        }
        sql
    }

    /// The statement that opens a write transaction.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Suffix that locks the selected rows until commit (empty on SQLite,
    /// whose `BEGIN IMMEDIATE` already excludes other writers).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// A statement that serialises first-start bootstraps across nodes for
    /// the rest of the transaction (SQLite's write lock already does).
    pub(crate) fn bootstrap_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            // An arbitrary application-wide key: "qiye" in ASCII.
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(1903323493)"),
        }
    }

    pub(crate) fn max_connections(self) -> u32 {
        match self {
            Dialect::Sqlite => 8,
            Dialect::Postgres => 16,
        }
    }

    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Maps a driver error to a [`StoreError`].
    pub(crate) fn map_err(self, err: sqlx::Error) -> StoreError {
        match err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            sqlx::Error::Database(db) if self.is_busy(db.code().as_deref()) => {
                StoreError::Unavailable(db.message().to_owned())
            }
            sqlx::Error::Io(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable(err.to_string())
            }
            other => StoreError::Other(other.to_string()),
        }
    }

    /// Whether a database error code means "busy or locked, retry".
    fn is_busy(self, code: Option<&str>) -> bool {
        let Some(code) = code else { return false };
        match self {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            Dialect::Sqlite => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
            // serialization_failure, deadlock_detected, lock_not_available,
            // too_many_connections, admin_shutdown, cannot_connect_now.
            Dialect::Postgres => matches!(
                code,
                "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P03"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_dialect() {
        let q = "SELECT a FROM t WHERE x = $1 AND y = $2 OR x = $1";
        assert_eq!(Dialect::Postgres.sql(q), q);
        assert_eq!(
            Dialect::Sqlite.sql(q),
            "SELECT a FROM t WHERE x = ?1 AND y = ?2 OR x = ?1"
        );
    }

    #[test]
    fn multi_row_values_follow_the_dialect() {
        assert_eq!(
            Dialect::Postgres.values_list(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(Dialect::Sqlite.values_list(2, 3), "(?, ?, ?), (?, ?, ?)");
        // Passing through `sql` leaves SQLite's anonymous parameters alone.
        assert_eq!(Dialect::Sqlite.sql("(?, ?)"), "(?, ?)");
    }

    #[test]
    fn urls_pick_the_dialect() {
        assert_eq!(
            Dialect::of_url("sqlite:///tmp/q.db").unwrap(),
            Dialect::Sqlite
        );
        assert_eq!(
            Dialect::of_url("postgres://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::of_url("postgresql://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert!(Dialect::of_url("mysql://x").is_err());
    }

    #[test]
    fn busy_codes() {
        assert!(Dialect::Sqlite.is_busy(Some("5")));
        assert!(Dialect::Sqlite.is_busy(Some("517")));
        assert!(!Dialect::Sqlite.is_busy(Some("19")));
        assert!(Dialect::Postgres.is_busy(Some("40P01")));
        assert!(!Dialect::Postgres.is_busy(Some("23505")));
        assert!(!Dialect::Postgres.is_busy(None));
    }
}
