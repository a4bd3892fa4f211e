//! Corps and everything created with one.

use crate::rows::{CORP_COLUMNS, CorpRow, quota_columns};
use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::corp::{Corp, CorpSize};
use qiye_domain::credential::CredentialKind;
use qiye_domain::directory::MemberStatus;
use qiye_domain::ids::{CorpId, DeptId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::{CorpBootstrap, CorpStore, StoreResult};
use qiye_domain::rate::CorpRateOverride;

use sqlx::{Any, Transaction};

use crate::{SqlStore, audit};

#[async_trait]
impl CorpStore for SqlStore {
    async fn create_corp(&self, b: &CorpBootstrap, record: &AuditRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.insert_corp(&mut tx, b, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn create_first_corp(
        &self,
        b: &CorpBootstrap,
        record: &AuditRecord,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if let Some(lock) = self.dialect.bootstrap_lock() {
            sqlx::query(lock)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM corps")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        if existing > 0 {
            return Ok(false);
        }
        self.insert_corp(&mut tx, b, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(true)
    }

    async fn get_corp(&self, id: &CorpId) -> StoreResult<Corp> {
        let row: CorpRow = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {CORP_COLUMNS} FROM corps WHERE corp_id = $1"
        )))
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Corp::try_from(row)
    }

    async fn list_corps(&self) -> StoreResult<Vec<Corp>> {
        let rows: Vec<CorpRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {CORP_COLUMNS} FROM corps ORDER BY created_at, corp_id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(Corp::try_from).collect()
    }

    async fn count_corps(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(&self.dialect.sql("SELECT COUNT(*) FROM corps"))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn corp_size(&self, id: &CorpId) -> StoreResult<CorpSize> {
        self.get_corp(id).await?;
        let members: i64 = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT COUNT(*) FROM members WHERE corp_id = $1 AND status <> $2"),
        )
        .bind(id.as_str())
        .bind(MemberStatus::Left.code())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let depth: i64 = sqlx::query_scalar(&self.dialect.sql(
            "WITH RECURSIVE tree (dept_id, depth) AS ( \
                 SELECT dept_id, 1 FROM departments WHERE corp_id = $1 AND parent_id IS NULL \
                 UNION ALL \
                 SELECT d.dept_id, tree.depth + 1 FROM departments d JOIN tree ON d.parent_id = tree.dept_id \
                 WHERE d.corp_id = $1 \
             ) SELECT COALESCE(MAX(depth), 0) FROM tree",
        ))
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(CorpSize {
            members: u64::try_from(members).unwrap_or(0),
            deepest_department: u32::try_from(depth).unwrap_or(0),
        })
    }

    async fn set_plan(&self, id: &CorpId, plan: Plan, record: &AuditRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            &self
                .dialect
                .sql("UPDATE corps SET plan = $1 WHERE corp_id = $2"),
        )
        .bind(plan.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.commit_audited_update(tx, done.rows_affected(), record)
            .await
    }

    async fn set_rate_override(
        &self,
        id: &CorpId,
        limits: &CorpRateOverride,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let (corp_m, corp_h) = quota_columns(limits.corp_per_api);
        let (app_m, app_h) = quota_columns(limits.app_per_api);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE corps SET rl_corp_per_minute = $1, rl_corp_per_hour = $2, rl_app_per_minute = $3, rl_app_per_hour = $4 \
             WHERE corp_id = $5",
        ))
        .bind(corp_m)
        .bind(corp_h)
        .bind(app_m)
        .bind(app_h)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.commit_audited_update(tx, done.rows_affected(), record)
            .await
    }
}

impl SqlStore {
    /// Writes a corp and everything created with it inside `tx`.
    async fn insert_corp(
        &self,
        tx: &mut Transaction<'static, Any>,
        b: &CorpBootstrap,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let corp = &b.corp;
        sqlx::query(
            &self
                .dialect
                .sql("INSERT INTO corps (corp_id, name, plan, created_at) VALUES ($1, $2, $3, $4)"),
        )
        .bind(corp.id.as_str())
        .bind(corp.name.as_str())
        .bind(corp.plan.as_str())
        .bind(corp.created_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.map_err(e))?;
        sqlx::query(&self.dialect.sql("INSERT INTO departments (corp_id, dept_id, name, parent_id, sort_order) VALUES ($1, $2, $3, NULL, 0)"))
            .bind(corp.id.as_str())
            .bind(i64::from(DeptId::ROOT.get()))
            .bind(corp.name.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.map_err(e))?;
        sqlx::query(&self.dialect.sql(
            "INSERT INTO members (corp_id, userid, name, status, password_hash, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6)",
        ))
        .bind(corp.id.as_str())
        .bind(b.admin.userid.as_str())
        .bind(&b.admin.name)
        .bind(MemberStatus::Active.code())
        .bind(&b.admin.password_hash.0)
        .bind(corp.created_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.map_err(e))?;
        sqlx::query(
            &self.dialect.sql(
                "INSERT INTO member_departments (corp_id, userid, dept_id) VALUES ($1, $2, $3)",
            ),
        )
        .bind(corp.id.as_str())
        .bind(b.admin.userid.as_str())
        .bind(i64::from(DeptId::ROOT.get()))
        .execute(&mut **tx)
        .await
        .map_err(|e| self.map_err(e))?;
        sqlx::query(
            &self
                .dialect
                .sql("INSERT INTO admins (corp_id, userid, role) VALUES ($1, $2, 'super')"),
        )
        .bind(corp.id.as_str())
        .bind(b.admin.userid.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| self.map_err(e))?;
        sqlx::query(&self.dialect.sql("INSERT INTO credentials (corp_id, credential_key, secret_digest, rotated_at) VALUES ($1, $2, $3, $4)"))
            .bind(corp.id.as_str())
            .bind(CredentialKind::ContactSync.storage_key())
            .bind(b.contact_secret.as_str())
            .bind(corp.created_at)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.map_err(e))?;
        audit::append(self.dialect, tx, record).await?;
        Ok(())
    }
}
