//! Self-built apps.

use async_trait::async_trait;
use qiye_domain::app::{App, AppSettingsChange, NewApp};
use qiye_domain::audit::AuditRecord;
use qiye_domain::credential::CredentialKind;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::{AppStore, StoreError, StoreResult};
use qiye_domain::secret::SecretDigest;
use qiye_store_sql::{expect_one_row, APP_COLUMNS, AppRow};
use sqlx::SqliteConnection;

use crate::{SqliteStore, audit, map_err};

async fn fetch_app(conn: &mut SqliteConnection, corp: &CorpId, agentid: AgentId) -> StoreResult<App> {
    let row: AppRow = sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE corp_id = ? AND agentid = ?"))
        .bind(corp.as_str())
        .bind(agentid.get())
        .fetch_one(conn)
        .await
        .map_err(map_err)?;
    App::try_from(row)
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn create_app(&self, app: &NewApp, secret: &SecretDigest, record: &AuditRecord) -> StoreResult<App> {
        let mut tx = self.begin_write().await?;
        let corp_exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM corps WHERE corp_id = ?")
            .bind(app.corp_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if corp_exists.is_none() {
            return Err(StoreError::NotFound);
        }
        // Agent ids count up per corp.
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(agentid) + 1, ?) FROM apps WHERE corp_id = ?")
            .bind(AgentId::FIRST.get())
            .bind(app.corp_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let agentid = AgentId::new(next).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query("INSERT INTO apps (corp_id, agentid, name, all_visible, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(app.corp_id.as_str())
            .bind(agentid.get())
            .bind(app.name.as_str())
            .bind(app.all_visible)
            .bind(app.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO credentials (corp_id, credential_key, secret_digest, rotated_at) VALUES (?, ?, ?, ?)")
            .bind(app.corp_id.as_str())
            .bind(CredentialKind::App(agentid).storage_key())
            .bind(secret.as_str())
            .bind(app.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut record = record.clone();
        record.target = format!("agent:{agentid}");
        audit::append(&mut tx, &record).await?;
        let created = fetch_app(&mut tx, &app.corp_id, agentid).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(created)
    }

    async fn get_app(&self, corp: &CorpId, agentid: AgentId) -> StoreResult<App> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        fetch_app(&mut conn, corp, agentid).await
    }

    async fn list_apps(&self, corp: &CorpId) -> StoreResult<Vec<App>> {
        let rows: Vec<AppRow> = sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE corp_id = ? ORDER BY agentid"))
            .bind(corp.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
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
        let mut app = fetch_app(&mut tx, corp, agentid).await?;
        change.apply_to(&mut app);
        let done = sqlx::query(
            "UPDATE apps SET name = ?, description = ?, home_url = ?, redirect_domain = ?, report_location = ?, \
             report_enter = ? WHERE corp_id = ? AND agentid = ?",
        )
        .bind(app.name.as_str())
        .bind(&app.description)
        .bind(&app.home_url)
        .bind(&app.redirect_domain)
        .bind(app.report_location)
        .bind(app.report_enter)
        .bind(corp.as_str())
        .bind(agentid.get())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        expect_one_row(done.rows_affected())?;
        audit::append(&mut tx, record).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(app)
    }
}
