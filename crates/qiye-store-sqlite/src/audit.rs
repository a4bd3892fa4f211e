//! The append-only audit log.

use async_trait::async_trait;
use qiye_domain::audit::{AuditEntry, AuditRecord};
use qiye_domain::ids::CorpId;
use qiye_domain::ports::{AuditStore, StoreResult};
use qiye_store_sql::{AUDIT_COLUMNS, AuditRow, AuditValues};
use sqlx::SqliteConnection;

use crate::{SqliteStore, map_err};

/// Appends a record on a connection (inside the caller's transaction).
pub(crate) async fn append(conn: &mut SqliteConnection, record: &AuditRecord) -> StoreResult<i64> {
    let v = AuditValues::from(record);
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log (at, corp_id, actor_kind, actor_id, client_ip, action, target, result) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
    )
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
    .map_err(map_err)?;
    Ok(seq)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, record: &AuditRecord) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        append(&mut conn, record).await
    }

    async fn tail_audit(&self, corp: &CorpId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE corp_id = ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(corp.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().rev().map(AuditEntry::try_from).collect()
    }
}
