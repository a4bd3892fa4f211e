//! Callback settings and the durable outbox of events for them.
//!
//! Delivery is in order per app: only the oldest undelivered event of an
//! app can be claimed, and a claim is a lease (`lease_until`), so two server
//! nodes never deliver the same app's events at the same time.

use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::callback::{CallbackConfig, OutboxEntry, OutboxItem};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::{CallbackStore, StoreError, StoreResult};
use sqlx::AnyConnection;

use crate::{Dialect, SqlStore, audit};

/// Rows per multi-row outbox insert (9 parameters each).
const OUTBOX_INSERT_CHUNK: usize = 500;

/// Queues events inside the caller's transaction, in order (`seq` follows
/// the order of `entries`), with multi-row inserts: an import can queue an
/// event per member.
pub(crate) async fn enqueue_in(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
    entries: &[OutboxEntry],
    at: i64,
) -> StoreResult<()> {
    for chunk in entries.chunks(OUTBOX_INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO callback_outbox (corp_id, agentid, event, payload, created_at, next_attempt_at, \
             dest_url, dest_token, dest_aes_key) VALUES {}",
            dialect.values_list(chunk.len(), 9)
        );
        let sql = dialect.sql(&sql);
        let mut query = sqlx::query(&sql);
        for e in chunk {
            let destination = e.destination.as_ref();
            query = query
                .bind(corp.as_str())
                .bind(queue_key(e.agentid))
                .bind(e.event.as_str())
                .bind(e.payload.as_str())
                .bind(at)
                .bind(at)
                .bind(destination.map(|d| d.url.as_str()))
                .bind(destination.map(|d| d.token.as_str()))
                .bind(destination.map(|d| d.aes_key.as_str()));
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|err| dialect.map_err(err))?;
    }
    Ok(())
}

/// The stored queue key: the agentid, or 0 for the contacts-sync credential.
fn queue_key(agentid: Option<AgentId>) -> i64 {
    agentid.map_or(0, AgentId::get)
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    corp_id: String,
    agentid: i64,
    event: String,
    payload: String,
    created_at: i64,
    attempts: i64,
    delivered_at: Option<i64>,
    last_error: Option<String>,
    dest_url: Option<String>,
    dest_token: Option<String>,
    dest_aes_key: Option<String>,
}

const OUTBOX_COLUMNS: &str = "seq, corp_id, agentid, event, payload, created_at, attempts, delivered_at, last_error, \
     dest_url, dest_token, dest_aes_key";

impl TryFrom<OutboxRow> for OutboxItem {
    type Error = StoreError;

    fn try_from(r: OutboxRow) -> StoreResult<Self> {
        let bad = |e: &dyn std::fmt::Display| StoreError::Other(format!("corrupt outbox row: {e}"));
        Ok(OutboxItem {
            seq: r.seq,
            corp_id: CorpId::parse(&r.corp_id).map_err(|e| bad(&e))?,
            agentid: match r.agentid {
                0 => None,
                id => Some(AgentId::new(id).map_err(|e| bad(&e))?),
            },
            destination: match (r.dest_url, r.dest_token, r.dest_aes_key) {
                (Some(url), Some(token), Some(aes_key)) => Some(CallbackConfig {
                    url,
                    token,
                    aes_key,
                }),
                _ => None,
            },
            event: r.event,
            payload: r.payload,
            created_at: r.created_at,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            delivered_at: r.delivered_at,
            last_error: r.last_error,
        })
    }
}

#[async_trait]
impl CallbackStore for SqlStore {
    async fn callback_config(
        &self,
        corp: &CorpId,
        agentid: AgentId,
    ) -> StoreResult<Option<CallbackConfig>> {
        let row: Option<(String, String, String)> = sqlx::query_as(&self.dialect.sql(
            "SELECT url, token, aes_key FROM app_callbacks WHERE corp_id = $1 AND agentid = $2",
        ))
        .bind(corp.as_str())
        .bind(agentid.get())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(row.map(|(url, token, aes_key)| CallbackConfig {
            url,
            token,
            aes_key,
        }))
    }

    async fn callback_apps(&self, corp: &CorpId) -> StoreResult<Vec<AgentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT agentid FROM app_callbacks WHERE corp_id = $1 ORDER BY agentid"),
        )
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        ids.into_iter()
            .map(|a| AgentId::new(a).map_err(|e| StoreError::Other(e.to_string())))
            .collect()
    }

    async fn set_callback_config(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        config: Option<&CallbackConfig>,
        at: i64,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let app: Option<i64> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT 1 FROM apps WHERE corp_id = $1 AND agentid = $2"),
        )
        .bind(corp.as_str())
        .bind(agentid.get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if app.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM app_callbacks WHERE corp_id = $1 AND agentid = $2"),
        )
        .bind(corp.as_str())
        .bind(agentid.get())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if let Some(c) = config {
            sqlx::query(&self.dialect.sql(
                "INSERT INTO app_callbacks (corp_id, agentid, url, token, aes_key, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(corp.as_str())
            .bind(agentid.get())
            .bind(c.url.as_str())
            .bind(c.token.as_str())
            .bind(c.aes_key.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        }
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn enqueue(&self, corp: &CorpId, entries: &[OutboxEntry], at: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        enqueue_in(self.dialect, &mut tx, corp, entries, at).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<OutboxItem>> {
        let mut tx = self.begin_write().await?;
        // The head of each app's queue, if due and not leased by anyone.
        let heads: Vec<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
            "SELECT o.seq FROM callback_outbox o \
             WHERE o.delivered_at IS NULL AND o.next_attempt_at <= $1 AND o.lease_until <= $1 \
               AND NOT EXISTS (SELECT 1 FROM callback_outbox p WHERE p.corp_id = o.corp_id \
                   AND p.agentid = o.agentid AND p.delivered_at IS NULL AND p.seq < o.seq) \
             ORDER BY o.next_attempt_at, o.seq LIMIT {limit}{}",
            self.dialect.for_update()
        )))
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let mut items = Vec::with_capacity(heads.len());
        for seq in heads {
            sqlx::query(
                &self
                    .dialect
                    .sql("UPDATE callback_outbox SET lease_until = $2 WHERE seq = $1"),
            )
            .bind(seq)
            .bind(now + lease_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            let row: OutboxRow = sqlx::query_as(&self.dialect.sql(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM callback_outbox WHERE seq = $1"
            )))
            .bind(seq)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            items.push(OutboxItem::try_from(row)?);
        }
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(items)
    }

    async fn finish_delivery(
        &self,
        seq: i64,
        now: i64,
        outcome: Result<(), (String, i64)>,
    ) -> StoreResult<()> {
        let delivered_sql = self.dialect.sql(
            "UPDATE callback_outbox SET delivered_at = $2, attempts = attempts + 1, lease_until = 0, last_error = NULL WHERE seq = $1",
        );
        let failed_sql = self.dialect.sql(
            "UPDATE callback_outbox SET attempts = attempts + 1, lease_until = 0, last_error = $2, next_attempt_at = $3 WHERE seq = $1",
        );
        let q = match &outcome {
            Ok(()) => sqlx::query(&delivered_sql).bind(seq).bind(now),
            Err((error, retry_at)) => sqlx::query(&failed_sql)
                .bind(seq)
                .bind(error.as_str())
                .bind(*retry_at),
        };
        q.execute(&self.pool).await.map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn delivery_log(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let rows: Vec<OutboxRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM callback_outbox WHERE corp_id = $1 AND agentid = $2 AND seq < $3 \
             ORDER BY seq DESC LIMIT {limit}"
        )))
        .bind(corp.as_str())
        .bind(agentid.get())
        .bind(before.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(OutboxItem::try_from).collect()
    }
}
