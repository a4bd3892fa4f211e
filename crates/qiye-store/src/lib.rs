//! qiye's storage: the domain's ports implemented once, in SQL that both
//! SQLite (the embedded default) and PostgreSQL (scale-out) run, through
//! sqlx's `Any` driver.
//!
//! Where the dialects really differ, [`Dialect`] says so in one place:
//! placeholders (`$1` is written everywhere and becomes `?1` for SQLite), how
//! a write transaction takes its lock (`BEGIN IMMEDIATE` vs `SELECT ... FOR
//! UPDATE`), which errors mean "busy, retry", and the migrations
//! (`migrations/sqlite`, `migrations/postgres`: append-only, same file names
//! for the same change).
//!
//! Invariants (checked by `qiye-store-conformance` on both backends):
//! - every query names the corp it acts on; another corp's row is `NotFound`;
//! - a mutation commits its audit record in its own transaction;
//! - the audit log refuses UPDATE and DELETE at the schema level;
//! - a write transaction holds the write lock before it reads what it
//!   decides on, so concurrent `gettoken` calls share one token.

mod access;
mod approvals;
mod apps;
mod audit;
mod binds;
mod callbacks;
mod corps;
mod credentials;
mod dialect;
mod directory;
mod escalations;
mod identity;
mod jobs;
mod messages;
mod rows;
mod sessions;
pub mod testing;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use qiye_domain::ports::{Store, StoreError, StoreResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use dialect::Dialect;

/// The store: a connection pool and the dialect it speaks.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

/// The `sqlite://` URL of a database file, created if missing. `%`, `?` and
/// `#` in the path are percent-encoded (the driver decodes them).
pub fn sqlite_url(path: &Path) -> String {
    let mut encoded = String::new();
    for c in path.display().to_string().chars() {
        match c {
            '%' => encoded.push_str("%25"),
            '?' => encoded.push_str("%3F"),
            '#' => encoded.push_str("%23"),
            other => encoded.push(other),
        }
    }
    format!("sqlite://{encoded}?mode=rwc")
}

/// How long a writer waits for the SQLite write lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

impl SqlStore {
    /// Opens (creating if needed) the SQLite database file at `path`.
    pub async fn open_sqlite_file(path: &Path) -> StoreResult<Self> {
        Self::open(&sqlite_url(path)).await
    }

    /// Opens a `sqlite:` or `postgres:` URL and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let dialect = Dialect::of_url(url)?;
        install_default_drivers();
        let mut options = AnyPoolOptions::new()
            .max_connections(dialect.max_connections())
            .acquire_timeout(Duration::from_secs(30));
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // busy_timeout first: the journal-mode switch itself may wait for a lock.
                    conn.execute(&*format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))
                        .await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    // FULL: an acknowledged write survives power loss, not only kill -9.
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await.map_err(|e| dialect.map_err(e))?;
        dialect
            .migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        Ok(Self { pool, dialect })
    }

    /// The dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The connection pool (for store-level tests and tools).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction. On SQLite it holds the write lock from the
    /// start; on PostgreSQL callers lock the rows they decide on with
    /// [`Dialect::for_update`].
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        self.pool
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(|e| self.dialect.map_err(e))
    }

    /// Ends a single-row update: `NotFound` (rolled back) when it touched no
    /// row, else appends its audit record and commits both together.
    async fn commit_audited_update(
        &self,
        mut tx: Transaction<'static, Any>,
        rows_affected: u64,
        record: &qiye_domain::audit::AuditRecord,
    ) -> StoreResult<()> {
        rows::expect_one_row(rows_affected)?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    fn map_err(&self, err: sqlx::Error) -> StoreError {
        self.dialect.map_err(err)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.map_err(e))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
