//! Self-built apps.

use crate::rows::{APP_COLUMNS, AppRow, expect_one_row};
use async_trait::async_trait;
use qiye_domain::app::{App, AppSettingsChange, NewApp};
use qiye_domain::audit::AuditRecord;
use qiye_domain::credential::CredentialKind;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::{AppStore, StoreError, StoreResult};
use qiye_domain::secret::SecretDigest;
use sqlx::AnyConnection;

use crate::Dialect;

use crate::{SqlStore, audit};

/// Reads one app; `lock` holds its row until commit (read-modify-write).
async fn fetch_app(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
    agentid: AgentId,
    lock: bool,
) -> StoreResult<App> {
    let suffix = if lock { dialect.for_update() } else { "" };
    let row: AppRow = sqlx::query_as(&dialect.sql(&format!(
        "SELECT {APP_COLUMNS} FROM apps WHERE corp_id = $1 AND agentid = $2{suffix}"
    )))
    .bind(corp.as_str())
    .bind(agentid.get())
    .fetch_one(conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    App::try_from(row)
}

#[async_trait]
impl AppStore for SqlStore {
    async fn create_app(
        &self,
        app: &NewApp,
        secret: &SecretDigest,
        record: &AuditRecord,
    ) -> StoreResult<App> {
        let mut tx = self.begin_write().await?;
        let corp_exists: Option<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
            "SELECT 1 FROM corps WHERE corp_id = $1{}",
            self.dialect.for_update()
        )))
        .bind(app.corp_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if corp_exists.is_none() {
            return Err(StoreError::NotFound);
        }
        // Agent ids count up per corp; the corp row is locked (PostgreSQL) or
        // the database is (SQLite), so two creations cannot pick the same id.
        let next: i64 = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT COALESCE(MAX(agentid) + 1, $1) FROM apps WHERE corp_id = $2"),
        )
        .bind(AgentId::FIRST.get())
        .bind(app.corp_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let agentid = AgentId::new(next).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query(&self.dialect.sql("INSERT INTO apps (corp_id, agentid, name, all_visible, created_at) VALUES ($1, $2, $3, $4, $5)"))
            .bind(app.corp_id.as_str())
            .bind(agentid.get())
            .bind(app.name.as_str())
            .bind(i64::from(app.all_visible))
            .bind(app.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        sqlx::query(&self.dialect.sql("INSERT INTO credentials (corp_id, credential_key, secret_digest, rotated_at) VALUES ($1, $2, $3, $4)"))
            .bind(app.corp_id.as_str())
            .bind(CredentialKind::App(agentid).storage_key())
            .bind(secret.as_str())
            .bind(app.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut record = record.clone();
        record.target = format!("agent:{agentid}");
        audit::append(self.dialect, &mut tx, &record).await?;
        let created = fetch_app(self.dialect, &mut tx, &app.corp_id, agentid, false).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(created)
    }

    async fn get_app(&self, corp: &CorpId, agentid: AgentId) -> StoreResult<App> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        fetch_app(self.dialect, &mut conn, corp, agentid, false).await
    }

    async fn list_apps(&self, corp: &CorpId) -> StoreResult<Vec<App>> {
        let rows: Vec<AppRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE corp_id = $1 ORDER BY agentid"
        )))
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(App::try_from).collect()
    }

    async fn update_app(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        change: &AppSettingsChange,
        record: &AuditRecord,
    ) -> StoreResult<App> {
        let mut tx = self.begin_write().await?;
        let mut app = fetch_app(self.dialect, &mut tx, corp, agentid, true).await?;
        change.apply_to(&mut app);
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE apps SET name = $1, description = $2, home_url = $3, redirect_domain = $4, report_location = $5, \
             report_enter = $6 WHERE corp_id = $7 AND agentid = $8",
        ))
        .bind(app.name.as_str())
        .bind(&app.description)
        .bind(&app.home_url)
        .bind(&app.redirect_domain)
        .bind(i64::from(app.report_location))
        .bind(i64::from(app.report_enter))
        .bind(corp.as_str())
        .bind(agentid.get())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        expect_one_row(done.rows_affected())?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(app)
    }
}
