//! Secrets and access tokens.

use crate::rows::{TOKEN_COLUMNS, TokenRow, expect_one_row};
use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::credential::{CredentialKind, Principal};
use qiye_domain::ids::CorpId;
use qiye_domain::ports::{CredentialStore, StoreError, StoreResult};
use qiye_domain::secret::{SecretDigest, TokenString};
use qiye_domain::token::IssuedToken;

use crate::{SqlStore, audit};

#[async_trait]
impl CredentialStore for SqlStore {
    async fn find_credential(
        &self,
        corp: &CorpId,
        secret: &SecretDigest,
    ) -> StoreResult<Option<CredentialKind>> {
        let key: Option<String> = sqlx::query_scalar(&self.dialect.sql(
            "SELECT credential_key FROM credentials WHERE corp_id = $1 AND secret_digest = $2",
        ))
        .bind(corp.as_str())
        .bind(secret.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        key.map(|k| {
            CredentialKind::from_storage_key(&k).map_err(|e| StoreError::Other(e.to_string()))
        })
        .transpose()
    }

    async fn rotate_secret(
        &self,
        corp: &CorpId,
        kind: CredentialKind,
        secret: &SecretDigest,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let key = kind.storage_key();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE credentials SET secret_digest = $1, rotated_at = $2 WHERE corp_id = $3 AND credential_key = $4",
        ))
        .bind(secret.as_str())
        .bind(record.at)
        .bind(corp.as_str())
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        expect_one_row(done.rows_affected())?;
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM access_tokens WHERE corp_id = $1 AND credential_key = $2"),
        )
        .bind(corp.as_str())
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn issue_token(
        &self,
        candidate: &IssuedToken,
        secret: &SecretDigest,
        now: i64,
    ) -> StoreResult<IssuedToken> {
        let corp = candidate.principal.corp_id.as_str();
        let key = candidate.principal.credential.storage_key();
        // Issuers of one credential are serialised (SQLite: the write lock;
        // PostgreSQL: the credential row's lock), so the check and the insert
        // below see the same state and concurrent callers share one token.
        let mut tx = self.begin_write().await?;
        let credential: Option<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
            "SELECT 1 FROM credentials WHERE corp_id = $1 AND credential_key = $2 AND secret_digest = $3{}",
            self.dialect.for_update()
        )))
        .bind(corp)
        .bind(&key)
        .bind(secret.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if credential.is_none() {
            return Err(StoreError::NotFound);
        }
        let current: Option<TokenRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE corp_id = $1 AND credential_key = $2 AND expires_at > $3 \
             ORDER BY expires_at DESC LIMIT 1"
        )))
        .bind(corp)
        .bind(&key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if let Some(row) = current {
            tx.commit().await.map_err(|e| self.map_err(e))?;
            return IssuedToken::try_from(row);
        }
        sqlx::query(&self.dialect.sql(&format!(
            "INSERT INTO access_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        )))
        .bind(candidate.token.as_str())
        .bind(corp)
        .bind(&key)
        .bind(candidate.issued_at)
        .bind(candidate.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(candidate.clone())
    }

    async fn find_token(&self, token: &TokenString) -> StoreResult<Option<IssuedToken>> {
        let row: Option<TokenRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token = $1"
        )))
        .bind(token.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        row.map(IssuedToken::try_from).transpose()
    }

    async fn prune_tokens(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM access_tokens WHERE expires_at < $1"),
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(done.rows_affected())
    }

    async fn tokens_of(&self, principal: &Principal) -> StoreResult<Vec<IssuedToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE corp_id = $1 AND credential_key = $2 ORDER BY issued_at"
        )))
        .bind(principal.corp_id.as_str())
        .bind(principal.credential.storage_key())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(IssuedToken::try_from).collect()
    }
}
