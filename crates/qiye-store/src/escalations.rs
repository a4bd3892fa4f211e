//! Escalations of urgent messages (`EscalationStore`) and each corp's
//! escalation policy.
//!
//! Rows are written by [`create_for`] inside `append`'s transaction (so an
//! urgent message never exists without them) and acknowledged by
//! [`acknowledge_upto`] inside `advance_cursor`'s. Claiming follows the
//! outbox: the due rows are selected under the write lock (`BEGIN
//! IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL, where a second claimer
//! waits and then re-checks the lease) and leased before commit, so two
//! nodes never send the same attempt.

use std::collections::HashMap;

use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::escalation::{Escalation, EscalationPolicy, EscalationState, EscalationUpdate};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::message::{ConvId, Draft, EntryBody, Priority, Sender, Seq};
use qiye_domain::ports::{EscalationStore, StoreError, StoreResult};
use sqlx::AnyConnection;

use crate::binds::{self, Bind, seq_bind};
use crate::rows::corrupt;
use crate::{Dialect, SqlStore, audit};

fn count(raw: i64) -> StoreResult<u32> {
    u32::try_from(raw).map_err(|e| corrupt("escalation", e))
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    first_after_secs: i64,
    repeat_every_secs: i64,
    max_attempts: i64,
    email: i64,
    sms: i64,
}

impl TryFrom<PolicyRow> for EscalationPolicy {
    type Error = StoreError;

    fn try_from(r: PolicyRow) -> StoreResult<Self> {
        Ok(EscalationPolicy {
            first_after_secs: count(r.first_after_secs)?,
            repeat_every_secs: count(r.repeat_every_secs)?,
            max_attempts: count(r.max_attempts)?,
            email: r.email != 0,
            sms: r.sms != 0,
        })
    }
}

/// The corp's stored policy, read on `conn` (inside a transaction).
async fn load_policy(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &str,
) -> StoreResult<Option<EscalationPolicy>> {
    let row: Option<PolicyRow> = sqlx::query_as(&dialect.sql(
        "SELECT first_after_secs, repeat_every_secs, max_attempts, email, sms \
         FROM escalation_policies WHERE corp_id = $1",
    ))
    .bind(corp)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    row.map(EscalationPolicy::try_from).transpose()
}

/// Creates the escalation rows of the urgent messages among `drafts` (just
/// given `seqs`): one per member of the conversation but the sender, first
/// due under the corp's policy.
pub(crate) async fn create_for(
    dialect: Dialect,
    conn: &mut AnyConnection,
    drafts: &[Draft],
    seqs: &[Seq],
) -> StoreResult<()> {
    let mut policies: HashMap<&CorpId, EscalationPolicy> = HashMap::new();
    for (d, seq) in drafts.iter().zip(seqs) {
        if d.priority != Priority::Urgent || !matches!(d.body, EntryBody::Message(_)) {
            continue;
        }
        let policy = match policies.get(&d.corp) {
            Some(p) => *p,
            None => {
                let p = load_policy(dialect, conn, d.corp.as_str())
                    .await?
                    .unwrap_or_default();
                policies.insert(&d.corp, p);
                p
            }
        };
        let Some(first) = policy.next_attempt_at_ms(d.at, 0) else {
            continue;
        };
        let sender = match &d.sender {
            Sender::Member(u) => u.as_str().to_owned(),
            Sender::App(_) | Sender::System => String::new(),
        };
        binds::exec(
            dialect,
            conn,
            "INSERT INTO escalations (corp_id, conv_id, seq, userid, sent_at, next_at, attempts, \
               failures, state, lease_until, updated_at) \
             SELECT corp_id, conv_id, $3, userid, $4, $5, 0, 0, 'pending', 0, $4 \
             FROM conversation_members WHERE corp_id = $1 AND conv_id = $2 AND userid <> $6",
            vec![
                Bind::Text(d.corp.as_str().to_owned()),
                Bind::Text(d.conv.as_str().to_owned()),
                seq_bind(*seq),
                Bind::Int(d.at),
                Bind::Int(first),
                Bind::Text(sender),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Acknowledges the member's pending rows at or before `upto` (their read
/// cursor moved there).
pub(crate) async fn acknowledge_upto(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
    conv: &ConvId,
    user: &UserId,
    upto: Seq,
    at: i64,
) -> StoreResult<u64> {
    binds::exec(
        dialect,
        conn,
        "UPDATE escalations SET state = 'acknowledged', acked_at = $1, updated_at = $1 \
         WHERE corp_id = $2 AND conv_id = $3 AND userid = $4 AND seq <= $5 \
           AND state = 'pending'",
        vec![
            Bind::Int(at),
            Bind::Text(corp.as_str().to_owned()),
            Bind::Text(conv.as_str().to_owned()),
            Bind::Text(user.as_str().to_owned()),
            seq_bind(upto),
        ],
    )
    .await
}

const ROW_SELECT: &str = "SELECT e.corp_id, e.conv_id, e.seq, e.userid, e.sent_at, e.next_at, \
       e.attempts, e.failures, e.state, e.last_error, m.read_seq \
     FROM escalations e LEFT JOIN conversation_members m \
       ON m.corp_id = e.corp_id AND m.conv_id = e.conv_id AND m.userid = e.userid";

#[derive(sqlx::FromRow)]
struct EscalationRow {
    corp_id: String,
    conv_id: String,
    seq: i64,
    userid: String,
    sent_at: i64,
    next_at: i64,
    attempts: i64,
    failures: i64,
    state: String,
    last_error: Option<String>,
    read_seq: Option<i64>,
}

impl TryFrom<EscalationRow> for Escalation {
    type Error = StoreError;

    fn try_from(r: EscalationRow) -> StoreResult<Self> {
        Ok(Escalation {
            corp: CorpId::parse(&r.corp_id).map_err(|e| corrupt("escalation", e))?,
            conv: ConvId::parse(&r.conv_id).map_err(|e| corrupt("escalation", e))?,
            seq: u64::try_from(r.seq).map_err(|e| corrupt("escalation", e))?,
            userid: UserId::parse(&r.userid).map_err(|e| corrupt("escalation", e))?,
            sent_at: r.sent_at,
            next_at: r.next_at,
            attempts: count(r.attempts)?,
            failures: count(r.failures)?,
            state: EscalationState::parse(&r.state)
                .ok_or_else(|| corrupt("escalation", &r.state))?,
            last_error: r.last_error,
            read_seq: r.read_seq.map(|s| u64::try_from(s).unwrap_or(0)),
        })
    }
}

#[async_trait]
impl EscalationStore for SqlStore {
    async fn escalation_policy(&self, corp: &CorpId) -> StoreResult<Option<EscalationPolicy>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        load_policy(self.dialect, &mut conn, corp.as_str()).await
    }

    async fn set_escalation_policy(
        &self,
        corp: &CorpId,
        policy: &EscalationPolicy,
        at: i64,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
            "SELECT 1 FROM corps WHERE corp_id = $1{}",
            self.dialect.for_update()
        )))
        .bind(corp.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        binds::exec(
            self.dialect,
            &mut tx,
            "INSERT INTO escalation_policies (corp_id, first_after_secs, repeat_every_secs, \
               max_attempts, email, sms, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (corp_id) DO UPDATE SET first_after_secs = excluded.first_after_secs, \
               repeat_every_secs = excluded.repeat_every_secs, \
               max_attempts = excluded.max_attempts, email = excluded.email, \
               sms = excluded.sms, updated_at = excluded.updated_at",
            vec![
                Bind::Text(corp.as_str().to_owned()),
                Bind::Int(i64::from(policy.first_after_secs)),
                Bind::Int(i64::from(policy.repeat_every_secs)),
                Bind::Int(i64::from(policy.max_attempts)),
                Bind::Int(i64::from(policy.email)),
                Bind::Int(i64::from(policy.sms)),
                Bind::Int(at),
            ],
        )
        .await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn claim_escalations(
        &self,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Escalation>> {
        let mut tx = self.begin_write().await?;
        let keys: Vec<(String, String, i64, String)> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT corp_id, conv_id, seq, userid FROM escalations \
                 WHERE state = 'pending' AND next_at <= $1 AND lease_until <= $1 \
                 ORDER BY next_at, corp_id, conv_id, seq, userid LIMIT {limit}{}",
            self.dialect.for_update()
        )))
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let lease = self.dialect.sql(
            "UPDATE escalations SET lease_until = $5 \
             WHERE corp_id = $1 AND conv_id = $2 AND seq = $3 AND userid = $4",
        );
        let select_sql = format!(
            "{ROW_SELECT} WHERE e.corp_id = $1 AND e.conv_id = $2 AND e.seq = $3 AND e.userid = $4"
        );
        let select = self.dialect.sql(&select_sql);
        let mut rows = Vec::with_capacity(keys.len());
        for (corp, conv, seq, user) in keys {
            sqlx::query(&lease)
                .bind(corp.as_str())
                .bind(conv.as_str())
                .bind(seq)
                .bind(user.as_str())
                .bind(now.saturating_add(lease_ms))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
            let row: EscalationRow = sqlx::query_as(&select)
                .bind(corp.as_str())
                .bind(conv.as_str())
                .bind(seq)
                .bind(user.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
            rows.push(Escalation::try_from(row)?);
        }
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(rows)
    }

    async fn finish_escalation(
        &self,
        row: &Escalation,
        update: &EscalationUpdate,
        now: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let done = binds::exec(
            self.dialect,
            &mut conn,
            "UPDATE escalations SET attempts = $5, failures = $6, next_at = $7, state = $8, \
               last_error = $9, lease_until = 0, updated_at = $10 \
             WHERE corp_id = $1 AND conv_id = $2 AND seq = $3 AND userid = $4 \
               AND state = 'pending'",
            vec![
                Bind::Text(row.corp.as_str().to_owned()),
                Bind::Text(row.conv.as_str().to_owned()),
                seq_bind(row.seq),
                Bind::Text(row.userid.as_str().to_owned()),
                Bind::Int(i64::from(update.attempts)),
                Bind::Int(i64::from(update.failures)),
                Bind::Int(update.next_at),
                Bind::Text(update.state.name().to_owned()),
                Bind::OptText(update.last_error.clone()),
                Bind::Int(now),
            ],
        )
        .await?;
        Ok(done == 1)
    }

    async fn acknowledge_escalation(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        seq: Seq,
        user: &UserId,
        at: i64,
    ) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        binds::exec(
            self.dialect,
            &mut conn,
            "UPDATE escalations SET state = 'acknowledged', acked_at = $1, updated_at = $1 \
             WHERE corp_id = $2 AND conv_id = $3 AND seq = $4 AND userid = $5 \
               AND state = 'pending'",
            vec![
                Bind::Int(at),
                Bind::Text(corp.as_str().to_owned()),
                Bind::Text(conv.as_str().to_owned()),
                seq_bind(seq),
                Bind::Text(user.as_str().to_owned()),
            ],
        )
        .await
    }

    async fn escalations_of(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        seq: Seq,
    ) -> StoreResult<Vec<Escalation>> {
        let rows: Vec<EscalationRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "{ROW_SELECT} WHERE e.corp_id = $1 AND e.conv_id = $2 AND e.seq = $3 \
             ORDER BY e.userid"
        )))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(Escalation::try_from).collect()
    }
}
