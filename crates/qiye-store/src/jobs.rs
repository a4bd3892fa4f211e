//! Uploaded media records and import jobs.

use async_trait::async_trait;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::job::{ImportJob, JobStatus, JobType};
use qiye_domain::media::{MediaKind, MediaRecord};
use qiye_domain::ports::{JobStore, StoreError, StoreResult};

use crate::SqlStore;
use crate::rows::expect_one_row;

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("corrupt job or media row: {detail}"))
}

#[derive(sqlx::FromRow)]
struct MediaRow {
    corp_id: String,
    media_id: String,
    kind: String,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
    created_at: i64,
    expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    corp_id: String,
    jobid: String,
    job_type: String,
    status: i64,
    total: i64,
    processed: i64,
    request: String,
    result: String,
    agentid: Option<i64>,
    created_at: i64,
    finished_at: Option<i64>,
}

const JOB_COLUMNS: &str = "corp_id, jobid, job_type, status, total, processed, request, result, agentid, created_at, finished_at";

impl TryFrom<JobRow> for ImportJob {
    type Error = StoreError;

    fn try_from(r: JobRow) -> StoreResult<Self> {
        Ok(ImportJob {
            corp_id: CorpId::parse(&r.corp_id).map_err(corrupt)?,
            jobid: r.jobid,
            job_type: JobType::parse(&r.job_type).ok_or_else(|| corrupt(&r.job_type))?,
            status: JobStatus::from_code(r.status).ok_or_else(|| corrupt(r.status))?,
            total: u64::try_from(r.total).map_err(corrupt)?,
            processed: u64::try_from(r.processed).map_err(corrupt)?,
            request: r.request,
            result: r.result,
            agentid: r.agentid.map(AgentId::new).transpose().map_err(corrupt)?,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_media(&self, m: &MediaRecord) -> StoreResult<()> {
        sqlx::query(&self.dialect.sql(
            "INSERT INTO media (corp_id, media_id, kind, filename, content_type, size, sha256, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ))
        .bind(m.corp_id.as_str())
        .bind(m.media_id.as_str())
        .bind(m.kind.as_str())
        .bind(m.filename.as_str())
        .bind(m.content_type.as_str())
        .bind(i64::try_from(m.size).map_err(corrupt)?)
        .bind(m.sha256.as_str())
        .bind(m.created_at)
        .bind(m.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn get_media(&self, corp: &CorpId, media_id: &str) -> StoreResult<MediaRecord> {
        let r: MediaRow = sqlx::query_as(&self.dialect.sql(
            "SELECT corp_id, media_id, kind, filename, content_type, size, sha256, created_at, expires_at \
             FROM media WHERE corp_id = $1 AND media_id = $2",
        ))
        .bind(corp.as_str())
        .bind(media_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(MediaRecord {
            corp_id: CorpId::parse(&r.corp_id).map_err(corrupt)?,
            media_id: r.media_id,
            kind: MediaKind::parse(&r.kind).ok_or_else(|| corrupt(&r.kind))?,
            filename: r.filename,
            content_type: r.content_type,
            size: u64::try_from(r.size).map_err(corrupt)?,
            sha256: r.sha256,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }

    async fn keep_media(&self, corp: &CorpId, media_ids: &[String]) -> StoreResult<()> {
        if media_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for id in media_ids {
            sqlx::query(
                &self
                    .dialect
                    .sql("UPDATE media SET expires_at = $1 WHERE corp_id = $2 AND media_id = $3"),
            )
            .bind(i64::MAX)
            .bind(corp.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        }
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn delete_expired_media(&self, now: i64) -> StoreResult<Vec<(CorpId, String)>> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            &self
                .dialect
                .sql("SELECT corp_id, media_id FROM media WHERE expires_at <= $1"),
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        sqlx::query(&self.dialect.sql("DELETE FROM media WHERE expires_at <= $1"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|(corp, id)| Ok((CorpId::parse(&corp).map_err(corrupt)?, id)))
            .collect()
    }

    async fn insert_job(&self, job: &ImportJob) -> StoreResult<()> {
        sqlx::query(&self.dialect.sql(&format!(
            "INSERT INTO import_jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(job.corp_id.as_str())
        .bind(job.jobid.as_str())
        .bind(job.job_type.as_str())
        .bind(job.status.code())
        .bind(job.total as i64)
        .bind(job.processed as i64)
        .bind(job.request.as_str())
        .bind(job.result.as_str())
        .bind(job.agentid.map(AgentId::get))
        .bind(job.created_at)
        .bind(job.finished_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(())
    }

    async fn update_job(&self, job: &ImportJob, lease_until: i64) -> StoreResult<()> {
        let done = sqlx::query(&self.dialect.sql(
            "UPDATE import_jobs SET status = $3, total = $4, processed = $5, result = $6, finished_at = $7, \
             lease_until = $8 WHERE corp_id = $1 AND jobid = $2",
        ))
        .bind(job.corp_id.as_str())
        .bind(job.jobid.as_str())
        .bind(job.status.code())
        .bind(job.total as i64)
        .bind(job.processed as i64)
        .bind(job.result.as_str())
        .bind(job.finished_at)
        .bind(lease_until)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        expect_one_row(done.rows_affected())
    }

    async fn get_job(&self, corp: &CorpId, jobid: &str) -> StoreResult<ImportJob> {
        let r: JobRow = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {JOB_COLUMNS} FROM import_jobs WHERE corp_id = $1 AND jobid = $2"
        )))
        .bind(corp.as_str())
        .bind(jobid)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        ImportJob::try_from(r)
    }

    async fn claim_job(&self, now: i64, lease_ms: i64) -> StoreResult<Option<ImportJob>> {
        let mut tx = self.begin_write().await?;
        let row: Option<JobRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT {JOB_COLUMNS} FROM import_jobs WHERE status IN ($1, $2) AND lease_until <= $3 \
             ORDER BY created_at, jobid LIMIT 1{}",
            self.dialect.for_update()
        )))
        .bind(JobStatus::Started.code())
        .bind(JobStatus::Running.code())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        sqlx::query(
            &self
                .dialect
                .sql("UPDATE import_jobs SET lease_until = $3 WHERE corp_id = $1 AND jobid = $2"),
        )
        .bind(row.corp_id.as_str())
        .bind(row.jobid.as_str())
        .bind(now + lease_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        ImportJob::try_from(row).map(Some)
    }
}
