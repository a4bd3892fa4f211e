//! The identity side of the web app: sign-in throttle counters, devices
//! (a member's sessions), TOTP enrolments and recovery codes, corp
//! settings and the filtered audit listing.
//!
//! A throttle counter moves in one `INSERT ... ON CONFLICT DO UPDATE ...
//! RETURNING` statement (a row lock on PostgreSQL, the write lock on
//! SQLite), so concurrent failures on several nodes are all counted.

use async_trait::async_trait;
use qiye_domain::audit::{AuditEntry, AuditQuery, AuditRecord, OutcomeFilter};
use qiye_domain::corp::CorpSettingsChange;
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::ports::{IdentityStore, StoreError, StoreResult, StoredTotp};
use qiye_domain::secret::SecretDigest;
use qiye_domain::session::{Session, ThrottleKey};
use qiye_domain::totp::TotpSecret;
use sqlx::{Any, Transaction};

use crate::binds::{Bind, exec};
use crate::rows::{AUDIT_COLUMNS, AuditRow, corrupt, quota_columns};
use crate::sessions::{SESSION_COLUMNS, SessionRow};
use crate::{SqlStore, audit};

impl SqlStore {
    async fn insert_recovery_codes(
        &self,
        tx: &mut Transaction<'static, Any>,
        corp: &CorpId,
        userid: &UserId,
        codes: &[SecretDigest],
    ) -> StoreResult<()> {
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM recovery_codes WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| self.map_err(e))?;
        for code in codes {
            sqlx::query(&self.dialect.sql(
                "INSERT INTO recovery_codes (corp_id, userid, code_digest) VALUES ($1, $2, $3)",
            ))
            .bind(corp.as_str())
            .bind(userid.as_str())
            .bind(code.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.map_err(e))?;
        }
        Ok(())
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` prefix.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn throttle_lock(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> StoreResult<Option<(ThrottleKey, i64)>> {
        let mut latest: Option<(ThrottleKey, i64)> = None;
        for key in keys {
            let until: Option<i64> = sqlx::query_scalar(&self.dialect.sql(
                "SELECT locked_until FROM sign_in_throttle WHERE throttle_key = $1 AND locked_until > $2",
            ))
            .bind(key.storage_key())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
            if let Some(until) = until
                && latest.as_ref().is_none_or(|(_, l)| until > *l)
            {
                latest = Some((key.clone(), until));
            }
        }
        Ok(latest)
    }

    async fn record_throttle_failure(
        &self,
        key: &ThrottleKey,
        now: i64,
        window_ms: i64,
        lock_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let failures: i64 = sqlx::query_scalar(&self.dialect.sql(
            "INSERT INTO sign_in_throttle (throttle_key, window_start, failures, locked_until) \
             VALUES ($1, $2, 1, 0) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
               failures = CASE WHEN sign_in_throttle.window_start <= $3 THEN 1 \
                               ELSE sign_in_throttle.failures + 1 END, \
               window_start = CASE WHEN sign_in_throttle.window_start <= $3 THEN $2 \
                                   ELSE sign_in_throttle.window_start END \
             RETURNING failures",
        ))
        .bind(key.storage_key())
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let locked = if failures >= i64::from(key.limit()) {
            let until = now + lock_ms;
            sqlx::query(&self.dialect.sql(
                "UPDATE sign_in_throttle SET locked_until = $2, failures = 0, window_start = $3 \
                 WHERE throttle_key = $1",
            ))
            .bind(key.storage_key())
            .bind(until)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            Some(until)
        } else {
            None
        };
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(locked)
    }

    async fn clear_throttle(&self, key: &ThrottleKey, now: i64) -> StoreResult<()> {
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM sign_in_throttle WHERE throttle_key = $1 AND locked_until <= $2"),
        )
        .bind(key.storage_key())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn prune_throttle(&self, before: i64) -> StoreResult<u64> {
        let gone = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM sign_in_throttle WHERE window_start < $1 AND locked_until < $1"),
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(gone.rows_affected())
    }

    async fn member_sessions(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Vec<(SecretDigest, Session)>> {
        let rows: Vec<SessionRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.corp_id = $1 AND s.userid = $2 \
             ORDER BY s.created_at, s.token_digest"
        )))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|row| {
                let digest = SecretDigest::from_stored(row.token_digest.clone());
                Ok((digest, Session::try_from(row)?))
            })
            .collect()
    }

    async fn end_member_sessions(
        &self,
        corp: &CorpId,
        userid: &UserId,
        only: Option<&[SecretDigest]>,
        record: &AuditRecord,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let base = || vec![Bind::Text(corp.to_string()), Bind::Text(userid.to_string())];
        let ended = match only {
            None => {
                exec(
                    self.dialect,
                    &mut tx,
                    "DELETE FROM sessions WHERE corp_id = $1 AND userid = $2",
                    base(),
                )
                .await?
            }
            Some(digests) => {
                let mut ended = 0;
                for digest in digests {
                    let mut binds = base();
                    binds.push(Bind::Text(digest.as_str().to_owned()));
                    ended += exec(
                        self.dialect,
                        &mut tx,
                        "DELETE FROM sessions WHERE corp_id = $1 AND userid = $2 AND token_digest = $3",
                        binds,
                    )
                    .await?;
                }
                ended
            }
        };
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(ended)
    }

    async fn clear_second_factor(
        &self,
        corp: &CorpId,
        digest: &SecretDigest,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE sessions SET second_factor_pending = 0 WHERE corp_id = $1 AND token_digest = $2",
        ))
        .bind(corp.as_str())
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.commit_audited_update(tx, done.rows_affected(), record)
            .await
    }

    async fn member_totp(&self, corp: &CorpId, userid: &UserId) -> StoreResult<Option<StoredTotp>> {
        let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT secret, confirmed_at, last_step FROM member_totp WHERE corp_id = $1 AND userid = $2",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        row.map(|(secret, confirmed_at, last_step)| {
            Ok(StoredTotp {
                secret: TotpSecret::from_base32(&secret)
                    .ok_or_else(|| corrupt("member_totp", "secret is not base32"))?,
                confirmed_at,
                last_step,
            })
        })
        .transpose()
    }

    async fn begin_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        secret: &TotpSecret,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.dialect.sql(
            "INSERT INTO member_totp (corp_id, userid, secret, created_at, confirmed_at, last_step) \
             VALUES ($1, $2, $3, $4, NULL, 0) \
             ON CONFLICT (corp_id, userid) DO UPDATE SET secret = $3, created_at = $4, last_step = 0 \
             WHERE member_totp.confirmed_at IS NULL",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(secret.to_base32())
        .bind(record.at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("TOTP already confirmed".into()));
        }
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn confirm_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        step: i64,
        at: i64,
        recovery_codes: &[SecretDigest],
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE member_totp SET confirmed_at = $3, last_step = $4 \
             WHERE corp_id = $1 AND userid = $2 AND confirmed_at IS NULL AND last_step < $4",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(at)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_recovery_codes(&mut tx, corp, userid, recovery_codes)
            .await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn use_totp_step(&self, corp: &CorpId, userid: &UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE member_totp SET last_step = $3 \
             WHERE corp_id = $1 AND userid = $2 AND confirmed_at IS NOT NULL AND last_step < $3",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM member_totp WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.insert_recovery_codes(&mut tx, corp, userid, &[])
            .await?;
        self.commit_audited_update(tx, done.rows_affected(), record)
            .await
    }

    async fn replace_recovery_codes(
        &self,
        corp: &CorpId,
        userid: &UserId,
        recovery_codes: &[SecretDigest],
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.insert_recovery_codes(&mut tx, corp, userid, recovery_codes)
            .await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn use_recovery_code(
        &self,
        corp: &CorpId,
        userid: &UserId,
        code: &SecretDigest,
        at: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE recovery_codes SET used_at = $4 \
             WHERE corp_id = $1 AND userid = $2 AND code_digest = $3 AND used_at IS NULL",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(code.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn recovery_codes_left(&self, corp: &CorpId, userid: &UserId) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(&self.dialect.sql(
            "SELECT COUNT(*) FROM recovery_codes WHERE corp_id = $1 AND userid = $2 AND used_at IS NULL",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    async fn set_corp_settings(
        &self,
        corp: &CorpId,
        change: &CorpSettingsChange,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut sets = Vec::new();
        let mut binds = vec![Bind::Text(corp.to_string())];
        let mut set = |column: &str, value: Bind| {
            binds.push(value);
            sets.push(format!("{column} = ${}", binds.len()));
        };
        if let Some(name) = &change.name {
            set("name", Bind::Text(name.as_str().to_owned()));
        }
        if let Some(v) = change.require_2fa {
            set("require_2fa", Bind::Int(i64::from(v)));
        }
        if let Some(v) = change.watermark {
            set("watermark", Bind::Int(i64::from(v)));
        }
        if let Some(limits) = &change.rate_override {
            let (corp_m, corp_h) = quota_columns(limits.corp_per_api);
            let (app_m, app_h) = quota_columns(limits.app_per_api);
            set("rl_corp_per_minute", Bind::OptInt(corp_m));
            set("rl_corp_per_hour", Bind::OptInt(corp_h));
            set("rl_app_per_minute", Bind::OptInt(app_m));
            set("rl_app_per_hour", Bind::OptInt(app_h));
        }
        // With nothing to change the row is still matched, so an unknown
        // corp is NotFound either way.
        let sql = if sets.is_empty() {
            "UPDATE corps SET name = name WHERE corp_id = $1".to_owned()
        } else {
            format!("UPDATE corps SET {} WHERE corp_id = $1", sets.join(", "))
        };
        let updated = exec(self.dialect, &mut tx, &sql, binds).await?;
        self.commit_audited_update(tx, updated, record).await
    }

    async fn query_audit(&self, corp: &CorpId, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let mut clauses = vec!["corp_id = $1".to_owned()];
        let mut binds = vec![Bind::Text(corp.to_string())];
        let mut filter = |clause: &str, values: Vec<Bind>| {
            let mut clause = clause.to_owned();
            for (i, value) in values.into_iter().enumerate() {
                binds.push(value);
                clause = clause.replace(&format!("${{{i}}}"), &format!("${}", binds.len()));
            }
            clauses.push(clause);
        };
        if let Some(actor) = &query.actor {
            match actor.split_once(':') {
                Some((kind, id)) => filter(
                    "actor_kind = ${0} AND actor_id = ${1}",
                    vec![Bind::Text(kind.to_owned()), Bind::Text(id.to_owned())],
                ),
                None => filter("actor_id = ${0}", vec![Bind::Text(actor.clone())]),
            }
        }
        if let Some(action) = &query.action {
            match action.strip_suffix('*') {
                Some(prefix) => filter(
                    "action LIKE ${0} ESCAPE '\\'",
                    vec![Bind::Text(like_prefix(prefix))],
                ),
                None => filter("action = ${0}", vec![Bind::Text(action.clone())]),
            }
        }
        match query.outcome {
            Some(OutcomeFilter::Succeeded) => filter("result = 'ok'", vec![]),
            Some(OutcomeFilter::Failed) => filter("result <> 'ok'", vec![]),
            None => {}
        }
        if let Some(from) = query.from {
            filter("at >= ${0}", vec![Bind::Int(from)]);
        }
        if let Some(to) = query.to {
            filter("at < ${0}", vec![Bind::Int(to)]);
        }
        if let Some(seq) = query.before_seq {
            filter("seq < ${0}", vec![Bind::Int(seq)]);
        }
        binds.push(Bind::Int(i64::from(query.limit)));
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {} ORDER BY seq DESC LIMIT ${}",
            clauses.join(" AND "),
            binds.len()
        );
        let rows: Vec<AuditRow> = crate::binds::fetch_all(self.dialect, &self.pool, &sql, binds)
            .await
            .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}
