//! The append-only audit log.

use crate::rows::{AUDIT_COLUMNS, AuditRow, AuditValues};
use async_trait::async_trait;
use qiye_domain::audit::{AuditEntry, AuditRecord};
use qiye_domain::ids::CorpId;
use qiye_domain::ports::{AuditStore, StoreResult};
use sqlx::AnyConnection;

use crate::Dialect;

use crate::SqlStore;

/// Appends a record on a connection (inside the caller's transaction).
pub(crate) async fn append(
    dialect: Dialect,
    conn: &mut AnyConnection,
    record: &AuditRecord,
) -> StoreResult<i64> {
    let v = AuditValues::from(record);
    let seq: i64 = sqlx::query_scalar(&dialect.sql(
        "INSERT INTO audit_log (at, corp_id, actor_kind, actor_id, client_ip, action, target, result) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
    ))
    .bind(v.at)
    .bind(v.corp_id)
    .bind(v.actor_kind)
    .bind(v.actor_id)
    .bind(v.client_ip)
    .bind(v.action)
    .bind(v.target)
    .bind(v.result)
    .fetch_one(conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    Ok(seq)
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, record: &AuditRecord) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        append(self.dialect, &mut conn, record).await
    }

    async fn tail_audit(&self, corp: &CorpId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE corp_id = $1 ORDER BY seq DESC LIMIT $2"
        )))
        .bind(corp.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().rev().map(AuditEntry::try_from).collect()
    }
}
