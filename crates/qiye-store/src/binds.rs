//! Statements whose parameters are built at run time (multi-row inserts,
//! batches): a list of [`Bind`] values and one function that runs them.

use qiye_domain::message::Seq;
use qiye_domain::ports::StoreResult;
use sqlx::AnyConnection;

use crate::Dialect;

/// A bound parameter.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

/// Runs `sql` (with `$N` placeholders, or a dialect's `values_list`) with
/// `binds` in order; answers the rows it touched.
pub(crate) async fn exec(
    dialect: Dialect,
    conn: &mut AnyConnection,
    sql: &str,
    binds: Vec<Bind>,
) -> StoreResult<u64> {
    let sql = dialect.sql(sql);
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::OptText(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
            Bind::OptInt(i) => q.bind(i),
        };
    }
    let done = q.execute(conn).await.map_err(|e| dialect.map_err(e))?;
    Ok(done.rows_affected())
}

/// A stored sequence (never negative).
pub(crate) fn seq_of(raw: i64) -> Seq {
    u64::try_from(raw).unwrap_or(0)
}

/// A sequence as a parameter.
pub(crate) fn seq_bind(seq: Seq) -> Bind {
    Bind::Int(i64::try_from(seq).unwrap_or(i64::MAX))
}

/// Runs a query with run-time `binds` and decodes every row.
pub(crate) async fn fetch_all<R>(
    dialect: Dialect,
    pool: &sqlx::AnyPool,
    sql: &str,
    binds: Vec<Bind>,
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = dialect.sql(sql);
    let mut q = sqlx::query_as::<_, R>(&sql);
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::OptText(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
            Bind::OptInt(i) => q.bind(i),
        };
    }
    q.fetch_all(pool).await
}
