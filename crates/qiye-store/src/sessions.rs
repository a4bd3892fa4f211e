//! Member passwords, sessions (stored by token digest) and the policy
//! version.

use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::ports::{SessionStore, StoreError, StoreResult, StoredPassword};
use qiye_domain::secret::{PasswordHash, SecretDigest};
use qiye_domain::session::{Session, SessionState};
use sqlx::AnyConnection;

use crate::rows::corrupt;
use crate::{Dialect, SqlStore, audit};

/// A row of `sessions`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub(crate) token_digest: String,
    corp_id: String,
    userid: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client_ip: Option<String>,
    user_agent: Option<String>,
    second_factor_pending: i64,
}

/// Column list matching [`SessionRow`] (table alias `s`).
pub(crate) const SESSION_COLUMNS: &str = "s.token_digest, s.corp_id, s.userid, s.created_at, \
    s.last_seen_at, s.expires_at, s.client_ip, s.user_agent, s.second_factor_pending";

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> StoreResult<Session> {
        Ok(Session {
            corp: CorpId::parse(&row.corp_id).map_err(|e| corrupt("session", e))?,
            userid: UserId::parse(&row.userid).map_err(|e| corrupt("session", e))?,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            ip: row.client_ip,
            user_agent: row.user_agent,
            second_factor_pending: row.second_factor_pending != 0,
        })
    }
}

/// A session joined with what its member owes.
#[derive(Debug, sqlx::FromRow)]
struct SessionStateRow {
    #[sqlx(flatten)]
    session: SessionRow,
    must_change_password: i64,
    totp_enabled: i64,
    require_2fa: i64,
}

/// Bumps a corp's policy version inside a write transaction.
pub(crate) async fn bump_policy_version(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
) -> StoreResult<()> {
    sqlx::query(
        &dialect.sql("UPDATE corps SET policy_version = policy_version + 1 WHERE corp_id = $1"),
    )
    .bind(corp.as_str())
    .execute(&mut *conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn member_password(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Option<StoredPassword>> {
        let row: Option<(Option<String>, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT password_hash, must_change_password FROM members WHERE corp_id = $1 AND userid = $2",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(row.map(|(hash, must_change)| StoredPassword {
            hash: hash.map(PasswordHash),
            must_change: must_change != 0,
        }))
    }

    async fn set_password(
        &self,
        corp: &CorpId,
        userid: &UserId,
        password: &StoredPassword,
        keep: Option<&SecretDigest>,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(&self.dialect.sql(
            "UPDATE members SET password_hash = $3, must_change_password = $4 WHERE corp_id = $1 AND userid = $2",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(password.hash.as_ref().map(|h| h.0.clone()))
        .bind(i64::from(password.must_change))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if updated.rows_affected() == 1 {
            sqlx::query(&self.dialect.sql(
                "DELETE FROM sessions WHERE corp_id = $1 AND userid = $2 AND token_digest <> $3",
            ))
            .bind(corp.as_str())
            .bind(userid.as_str())
            .bind(keep.map_or("", |d| d.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        }
        self.commit_audited_update(tx, updated.rows_affected(), record)
            .await
    }

    async fn create_session(
        &self,
        session: &Session,
        digest: &SecretDigest,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.dialect.sql(
            "INSERT INTO sessions (token_digest, corp_id, userid, created_at, last_seen_at, expires_at, client_ip, user_agent, second_factor_pending) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ))
        .bind(digest.as_str())
        .bind(session.corp.as_str())
        .bind(session.userid.as_str())
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .bind(session.ip.clone())
        .bind(session.user_agent.clone())
        .bind(i64::from(session.second_factor_pending))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn find_session(&self, digest: &SecretDigest) -> StoreResult<Option<SessionState>> {
        let row: Option<SessionStateRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {SESSION_COLUMNS}, m.must_change_password, c.require_2fa, \
             CAST(CASE WHEN t.confirmed_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS totp_enabled \
             FROM sessions s \
             JOIN members m ON m.corp_id = s.corp_id AND m.userid = s.userid \
             JOIN corps c ON c.corp_id = s.corp_id \
             LEFT JOIN member_totp t ON t.corp_id = s.corp_id AND t.userid = s.userid \
             WHERE s.token_digest = $1"
        )))
        .bind(digest.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        row.map(|row| {
            Ok(SessionState {
                session: Session::try_from(row.session)?,
                must_change_password: row.must_change_password != 0,
                totp_enabled: row.totp_enabled != 0,
                corp_requires_2fa: row.require_2fa != 0,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, digest: &SecretDigest, now: i64) -> StoreResult<()> {
        sqlx::query(&self.dialect.sql(
            "UPDATE sessions SET last_seen_at = $2 WHERE token_digest = $1 AND last_seen_at < $2",
        ))
        .bind(digest.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn end_session(
        &self,
        corp: &CorpId,
        digest: &SecretDigest,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let gone = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM sessions WHERE corp_id = $1 AND token_digest = $2"),
        )
        .bind(corp.as_str())
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.commit_audited_update(tx, gone.rows_affected(), record)
            .await
    }

    async fn prune_sessions(&self, now: i64, idle_before: i64) -> StoreResult<u64> {
        let gone = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2"),
        )
        .bind(now)
        .bind(idle_before)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(gone.rows_affected())
    }

    async fn policy_version(&self, corp: &CorpId) -> StoreResult<i64> {
        sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT policy_version FROM corps WHERE corp_id = $1"),
        )
        .bind(corp.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }
}
