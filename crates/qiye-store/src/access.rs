//! App visible ranges, administrators and their scopes, and the
//! member-facing visibility and field rules.

use async_trait::async_trait;
use qiye_domain::audit::AuditRecord;
use qiye_domain::directory::{
    AdminRole, FieldRule, Policy, ProtectedField, Range, TagId, VisibilityRule,
};
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use qiye_domain::ports::{AccessStore, StoreError, StoreResult};
use sqlx::AnyConnection;

use crate::sessions::bump_policy_version;
use crate::{Dialect, SqlStore, audit, rows::expect_one_row};

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("corrupt range row: {detail}"))
}

/// `(kind, target)` rows of a range.
fn range_rows(range: &Range) -> Vec<(&'static str, String)> {
    range
        .depts
        .iter()
        .map(|d| ("dept", d.get().to_string()))
        .chain(range.users.iter().map(|u| ("user", u.as_str().to_owned())))
        .chain(range.tags.iter().map(|t| ("tag", t.0.to_string())))
        .collect()
}

/// Builds a range from `(kind, target)` rows.
fn range_of(rows: impl IntoIterator<Item = (String, String)>) -> StoreResult<Range> {
    let mut range = Range::default();
    for (kind, target) in rows {
        match kind.as_str() {
            "dept" => range.depts.push(
                target
                    .parse::<i64>()
                    .ok()
                    .and_then(|d| DeptId::new(d).ok())
                    .ok_or_else(|| corrupt(&target))?,
            ),
            "user" => range.users.push(UserId::parse(&target).map_err(corrupt)?),
            "tag" => range.tags.push(TagId(target.parse().map_err(corrupt)?)),
            other => return Err(corrupt(other)),
        }
    }
    Ok(range)
}

async fn insert_range(
    dialect: Dialect,
    conn: &mut AnyConnection,
    insert_sql: &str,
    corp: &CorpId,
    key: &str,
    range: &Range,
) -> StoreResult<()> {
    for (kind, target) in range_rows(range) {
        sqlx::query(&dialect.sql(insert_sql))
            .bind(corp.as_str())
            .bind(key)
            .bind(kind)
            .bind(target)
            .execute(&mut *conn)
            .await
            .map_err(|e| dialect.map_err(e))?;
    }
    Ok(())
}

impl SqlStore {
    async fn fetch_pairs(
        &self,
        sql: &str,
        corp: &CorpId,
        key: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as(&self.dialect.sql(sql))
            .bind(corp.as_str())
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn app_range(&self, corp: &CorpId, agentid: AgentId) -> StoreResult<Option<Range>> {
        let all: i64 = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT all_visible FROM apps WHERE corp_id = $1 AND agentid = $2"),
        )
        .bind(corp.as_str())
        .bind(agentid.get())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        if all != 0 {
            return Ok(None);
        }
        let rows = self
            .fetch_pairs(
                "SELECT kind, target FROM app_ranges WHERE corp_id = $1 AND CAST(agentid AS TEXT) = $2 ORDER BY kind, target",
                corp,
                &agentid.get().to_string(),
            )
            .await?;
        range_of(rows).map(Some)
    }

    async fn set_app_range(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        range: Option<&Range>,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            &self
                .dialect
                .sql("UPDATE apps SET all_visible = $3 WHERE corp_id = $1 AND agentid = $2"),
        )
        .bind(corp.as_str())
        .bind(agentid.get())
        .bind(i64::from(range.is_none()))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        expect_one_row(updated.rows_affected())?;
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM app_ranges WHERE corp_id = $1 AND agentid = $2"),
        )
        .bind(corp.as_str())
        .bind(agentid.get())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if let Some(range) = range {
            for (kind, target) in range_rows(range) {
                sqlx::query(&self.dialect.sql(
                    "INSERT INTO app_ranges (corp_id, agentid, kind, target) VALUES ($1, $2, $3, $4)",
                ))
                .bind(corp.as_str())
                .bind(agentid.get())
                .bind(kind)
                .bind(target)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
            }
        }
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn admin_role(&self, corp: &CorpId, userid: &UserId) -> StoreResult<Option<AdminRole>> {
        let role: Option<String> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT role FROM admins WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        match role.as_deref() {
            None => Ok(None),
            Some("super") => Ok(Some(AdminRole::Super)),
            Some(_) => {
                let depts: Vec<i64> = sqlx::query_scalar(&self.dialect.sql(
                    "SELECT dept_id FROM admin_scopes WHERE corp_id = $1 AND userid = $2 ORDER BY dept_id",
                ))
                .bind(corp.as_str())
                .bind(userid.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?;
                let depts = depts
                    .into_iter()
                    .map(|d| DeptId::new(d).map_err(corrupt))
                    .collect::<StoreResult<_>>()?;
                Ok(Some(AdminRole::Scoped(depts)))
            }
        }
    }

    async fn list_admins(&self, corp: &CorpId) -> StoreResult<Vec<(UserId, AdminRole)>> {
        let ids: Vec<String> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT userid FROM admins WHERE corp_id = $1 ORDER BY userid"),
        )
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let userid = UserId::parse(&id).map_err(corrupt)?;
            if let Some(role) = self.admin_role(corp, &userid).await? {
                out.push((userid, role));
            }
        }
        Ok(out)
    }

    async fn grant_admin(
        &self,
        corp: &CorpId,
        userid: &UserId,
        role: &AdminRole,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT 1 FROM members WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        for sql in [
            "DELETE FROM admin_scopes WHERE corp_id = $1 AND userid = $2",
            "DELETE FROM admins WHERE corp_id = $1 AND userid = $2",
        ] {
            sqlx::query(&self.dialect.sql(sql))
                .bind(corp.as_str())
                .bind(userid.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        let (name, depts) = match role {
            AdminRole::Super => ("super", &[][..]),
            AdminRole::Scoped(depts) => ("scoped", &depts[..]),
        };
        sqlx::query(
            &self
                .dialect
                .sql("INSERT INTO admins (corp_id, userid, role) VALUES ($1, $2, $3)"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        for d in depts {
            sqlx::query(
                &self
                    .dialect
                    .sql("INSERT INTO admin_scopes (corp_id, userid, dept_id) VALUES ($1, $2, $3)"),
            )
            .bind(corp.as_str())
            .bind(userid.as_str())
            .bind(i64::from(d.get()))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        }
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn revoke_admin(
        &self,
        corp: &CorpId,
        userid: &UserId,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM admin_scopes WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let gone = sqlx::query(
            &self
                .dialect
                .sql("DELETE FROM admins WHERE corp_id = $1 AND userid = $2"),
        )
        .bind(corp.as_str())
        .bind(userid.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        self.commit_audited_update(tx, gone.rows_affected(), record)
            .await
    }

    async fn load_policy(&self, corp: &CorpId) -> StoreResult<Policy> {
        let hidden: Vec<i64> = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT dept_id FROM hidden_departments WHERE corp_id = $1 ORDER BY dept_id"),
        )
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let mut policy = Policy::default();
        for dept in hidden {
            let rows = self
                .fetch_pairs(
                    "SELECT kind, target FROM hidden_department_audience WHERE corp_id = $1 AND CAST(dept_id AS TEXT) = $2 ORDER BY kind, target",
                    corp,
                    &dept.to_string(),
                )
                .await?;
            policy.visibility.push(VisibilityRule {
                dept: DeptId::new(dept).map_err(corrupt)?,
                audience: range_of(rows)?,
            });
        }
        let fields: Vec<(String, i64)> = sqlx::query_as(
            &self
                .dialect
                .sql("SELECT field, admins FROM field_rules WHERE corp_id = $1 ORDER BY field"),
        )
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        for (field, admins) in fields {
            let rows = self
                .fetch_pairs(
                    "SELECT kind, target FROM field_rule_readers WHERE corp_id = $1 AND field = $2 ORDER BY kind, target",
                    corp,
                    &field,
                )
                .await?;
            policy.fields.push(FieldRule {
                field: ProtectedField::from_config(&field).ok_or_else(|| corrupt(&field))?,
                admins: admins != 0,
                readers: range_of(rows)?,
            });
        }
        Ok(policy)
    }

    async fn set_visibility_rule(
        &self,
        corp: &CorpId,
        dept: DeptId,
        audience: Option<&Range>,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let id = i64::from(dept.get());
        for sql in [
            "DELETE FROM hidden_department_audience WHERE corp_id = $1 AND dept_id = $2",
            "DELETE FROM hidden_departments WHERE corp_id = $1 AND dept_id = $2",
        ] {
            sqlx::query(&self.dialect.sql(sql))
                .bind(corp.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        if let Some(audience) = audience {
            sqlx::query(
                &self
                    .dialect
                    .sql("INSERT INTO hidden_departments (corp_id, dept_id) VALUES ($1, $2)"),
            )
            .bind(corp.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            for (kind, target) in range_rows(audience) {
                sqlx::query(&self.dialect.sql(
                    "INSERT INTO hidden_department_audience (corp_id, dept_id, kind, target) VALUES ($1, $2, $3, $4)",
                ))
                .bind(corp.as_str())
                .bind(id)
                .bind(kind)
                .bind(target)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
            }
        }
        bump_policy_version(self.dialect, &mut tx, corp).await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn set_field_rule(
        &self,
        corp: &CorpId,
        field: &ProtectedField,
        readers: Option<(bool, &Range)>,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let name = field.as_config();
        for sql in [
            "DELETE FROM field_rule_readers WHERE corp_id = $1 AND field = $2",
            "DELETE FROM field_rules WHERE corp_id = $1 AND field = $2",
        ] {
            sqlx::query(&self.dialect.sql(sql))
                .bind(corp.as_str())
                .bind(name.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        if let Some((admins, range)) = readers {
            sqlx::query(
                &self
                    .dialect
                    .sql("INSERT INTO field_rules (corp_id, field, admins) VALUES ($1, $2, $3)"),
            )
            .bind(corp.as_str())
            .bind(name.as_str())
            .bind(i64::from(admins))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            insert_range(
                self.dialect,
                &mut tx,
                "INSERT INTO field_rule_readers (corp_id, field, kind, target) VALUES ($1, $2, $3, $4)",
                corp,
                &name,
                range,
            )
            .await?;
        }
        bump_policy_version(self.dialect, &mut tx, corp).await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }
}
