//! Secrets and access tokens.

use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::credential::{CredentialKind, Principal};
use qiye_domain::ids::CorpId;
use qiye_domain::ports::{CredentialStore, StoreError, StoreResult};
use qiye_domain::secret::{SecretDigest, TokenString};
use qiye_domain::token::IssuedToken;
use qiye_store_sql::{expect_one_row, TOKEN_COLUMNS, TokenRow};

use crate::{SqliteStore, audit, map_err};

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn find_credential(&self, corp: &CorpId, secret: &SecretDigest) -> StoreResult<Option<CredentialKind>> {
        let key: Option<String> =
            sqlx::query_scalar("SELECT credential_key FROM credentials WHERE corp_id = ? AND secret_digest = ?")
                .bind(corp.as_str())
                .bind(secret.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        key.map(|k| CredentialKind::from_storage_key(&k).map_err(|e| StoreError::Other(e.to_string())))
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
        let done = sqlx::query(
            "UPDATE credentials SET secret_digest = ?, rotated_at = ? WHERE corp_id = ? AND credential_key = ?",
        )
        .bind(secret.as_str())
        .bind(record.at)
        .bind(corp.as_str())
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        expect_one_row(done.rows_affected())?;
        sqlx::query("DELETE FROM access_tokens WHERE corp_id = ? AND credential_key = ?")
            .bind(corp.as_str())
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit::append(&mut tx, record).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn issue_token(&self, candidate: &IssuedToken, now: i64) -> StoreResult<IssuedToken> {
        let corp = candidate.principal.corp_id.as_str();
        let key = candidate.principal.credential.storage_key();
        // IMMEDIATE serialises issuers: the check and the insert see the same state.
        let mut tx = self.begin_write().await?;
        let current: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE corp_id = ? AND credential_key = ? AND expires_at > ? \
             ORDER BY expires_at DESC LIMIT 1"
        ))
        .bind(corp)
        .bind(&key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(row) = current {
            tx.commit().await.map_err(map_err)?;
            return IssuedToken::try_from(row);
        }
        sqlx::query(&format!("INSERT INTO access_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)"))
            .bind(candidate.token.as_str())
            .bind(corp)
            .bind(&key)
            .bind(candidate.issued_at)
            .bind(candidate.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(candidate.clone())
    }

    async fn find_token(&self, token: &TokenString) -> StoreResult<Option<IssuedToken>> {
        let row: Option<TokenRow> = sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token = ?"))
            .bind(token.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(IssuedToken::try_from).transpose()
    }

    async fn prune_tokens(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM access_tokens WHERE expires_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn tokens_of(&self, principal: &Principal) -> StoreResult<Vec<IssuedToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE corp_id = ? AND credential_key = ? ORDER BY issued_at"
        ))
        .bind(principal.corp_id.as_str())
        .bind(principal.credential.storage_key())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(IssuedToken::try_from).collect()
    }
}
