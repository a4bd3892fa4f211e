//! Import and export of the directory as files (`docs/IMPORT_FORMAT.md`):
//! `POST /api/v1/admin/imports` (super administrators; the file is the raw
//! body, at most 20 MiB, checked before anything is stored) starts a job
//! run by the leased job runner like `batch/*`, so any node may finish it;
//! `GET /api/v1/admin/imports/{job_id}` reports its progress and, once done,
//! every row. `GET /api/v1/admin/export/{members,departments}` answers the
//! file (a scoped administrator gets their subtrees).

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qiye_app::directory::export_file::{FileFormat, HeaderLanguage};
use qiye_app::jobs::{AdminImportRequest, ImportRowAction, JobView};
use qiye_domain::job::{JobStatus, JobType};
use qiye_domain::media::MediaKind;
use qiye_wecom::ErrCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Query};

/// Largest import file (the limit of a `file` upload, 20 MiB).
pub const MAX_IMPORT_BODY: usize = 20 * 1024 * 1024;

/// What to import.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `members` or `departments`.
    pub kind: String,
    /// `sync` (create and update; the default) or `replace` (also delete
    /// what the file lacks).
    pub mode: Option<String>,
    /// `1`: only report what would change.
    pub dry_run: Option<u8>,
}

/// A started import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStarted {
    /// Poll `GET /api/v1/admin/imports/{job_id}`.
    pub job_id: String,
}

/// One row of an import's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowView {
    /// The row's line in the file (0 for a member or department deleted
    /// because the file lacks it).
    pub row: usize,
    /// `created`, `updated`, `unchanged`, `deleted` or `error`.
    pub outcome: &'static str,
    /// The member's userid (member files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    /// The department's id (department files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Why the row was refused (`outcome: error`), with its errcode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The row's errcode (`outcome: error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
}

/// Why a whole job failed (nothing was changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobFailure {
    /// The errcode (e.g. 45026 delete protection, 40092 unreadable file).
    pub errcode: i64,
    /// Why.
    pub errmsg: String,
}

/// `GET /api/v1/admin/imports/{job_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobResponse {
    /// The job.
    pub job_id: String,
    /// `members` or `departments`.
    pub kind: &'static str,
    /// `sync` or `replace`.
    pub mode: &'static str,
    /// Only reported what would change.
    pub dry_run: bool,
    /// `queued`, `running`, `done` or `failed`.
    pub status: &'static str,
    /// Data rows in the file.
    pub total: u64,
    /// Rows handled so far.
    pub done: u64,
    /// Rows created (once done).
    pub created: usize,
    /// Rows updated (once done).
    pub updated: usize,
    /// Rows already as in the file (once done).
    pub unchanged: usize,
    /// Deleted (replace mode, once done).
    pub deleted: usize,
    /// Rows refused (once done).
    pub failed: usize,
    /// Every row, once done (empty before).
    pub rows: Vec<ImportRowView>,
    /// Why the whole job failed (`status: failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
}

fn outcome_word(action: ImportRowAction) -> &'static str {
    match action {
        ImportRowAction::Created => "created",
        ImportRowAction::Updated => "updated",
        ImportRowAction::Unchanged => "unchanged",
        ImportRowAction::Deleted => "deleted",
        ImportRowAction::Failed => "error",
    }
}

impl From<JobView> for ImportJobResponse {
    fn from(job: JobView) -> Self {
        let members = job.job_type != JobType::ReplaceParty;
        let count =
            |action: ImportRowAction| job.rows.iter().filter(|r| r.action == action).count();
        let done = job.status == JobStatus::Done;
        Self {
            kind: if members { "members" } else { "departments" },
            mode: match job.job_type {
                JobType::SyncUser => "sync",
                JobType::ReplaceParty if job.keep_unlisted => "sync",
                _ => "replace",
            },
            dry_run: job.dry_run,
            status: match job.status {
                JobStatus::Started => "queued",
                JobStatus::Running => "running",
                JobStatus::Done => "done",
                JobStatus::Failed => "failed",
            },
            total: job.total,
            done: job.processed,
            created: count(ImportRowAction::Created),
            updated: count(ImportRowAction::Updated),
            unchanged: count(ImportRowAction::Unchanged),
            deleted: count(ImportRowAction::Deleted),
            failed: count(ImportRowAction::Failed),
            rows: if done {
                job.rows
                    .iter()
                    .map(|r| {
                        let key = (!r.key.is_empty()).then(|| r.key.clone());
                        let refused = r.action == ImportRowAction::Failed;
                        ImportRowView {
                            row: r.line,
                            outcome: outcome_word(r.action),
                            userid: key.clone().filter(|_| members),
                            department: key.filter(|_| !members),
                            error: refused.then(|| r.errmsg.clone()),
                            errcode: refused.then_some(r.errcode),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            },
            error: job
                .failure
                .map(|(errcode, errmsg)| JobFailure { errcode, errmsg }),
            job_id: job.jobid,
        }
    }
}

/// The job an import query asks for.
fn import_request(query: &ImportQuery) -> Result<AdminImportRequest, V1Error> {
    let bad = |what: &str| V1Error::new(ErrCode::InvalidRequestParameter, what.to_owned());
    let replace = match query.mode.as_deref().unwrap_or("sync") {
        "sync" => false,
        "replace" => true,
        _ => return Err(bad("mode must be sync or replace")),
    };
    let dry_run = match query.dry_run.unwrap_or(0) {
        0 => false,
        1 => true,
        _ => return Err(bad("dry_run must be 0 or 1")),
    };
    let (job_type, keep_unlisted) = match (query.kind.as_str(), replace) {
        ("members", false) => (JobType::SyncUser, false),
        ("members", true) => (JobType::ReplaceUser, false),
        ("departments", replace) => (JobType::ReplaceParty, !replace),
        _ => return Err(bad("kind must be members or departments")),
    };
    Ok(AdminImportRequest {
        job_type,
        keep_unlisted,
        dry_run,
    })
}

/// Refuses a body that is neither CSV nor XLSX by its Content-Type (no
/// Content-Type is fine: the format is told from the bytes).
fn check_content_type(request: &Request) -> Result<(), V1Error> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let accepted = [
        "text/csv",
        FileFormat::Xlsx.mime_type(),
        "text/plain",
        "application/csv",
        "application/octet-stream",
    ];
    if accepted.contains(&mime.as_str()) {
        Ok(())
    } else {
        Err(V1Error::new(
            ErrCode::InvalidUploadType,
            format!("Content-Type {mime}: send text/csv or an xlsx file"),
        ))
    }
}

/// The request body, at most [`MAX_IMPORT_BODY`] bytes (40006 beyond,
/// before anything is stored).
async fn import_body(request: Request, state: &AppState) -> Result<Bytes, V1Error> {
    check_content_type(&request)?;
    Bytes::from_request(request, state).await.map_err(|err| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            V1Error::new(
                ErrCode::InvalidFileSize,
                format!("the file is larger than {MAX_IMPORT_BODY} bytes"),
            )
        } else {
            V1Error::new(ErrCode::InvalidRequestParameter, err.body_text())
        }
    })
}

/// Starts an import of the request body (a CSV or XLSX file).
#[utoipa::path(post, path = "/api/v1/admin/imports", tag = "admin", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "The file (CSV or XLSX), at most 20 MiB"),
    responses((status = 200, body = ImportStarted),
        (status = 400, description = "40092 unusable file, 40005 not CSV or XLSX, 40058 bad query"),
        (status = 413, description = "40006 larger than 20 MiB (nothing stored)"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn start(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(query): V1Query<ImportQuery>,
    request: Request,
) -> V1Result<axum::Json<ImportStarted>> {
    let action = format!("directory.import.{}", query.kind);
    audited(&state, &admin, &action, "file", async {
        let editor = admin.as_super()?;
        let job = import_request(&query)?;
        let bytes = import_body(request, &state).await?;
        MediaKind::File
            .check_size(bytes.len() as u64)
            .map_err(qiye_app::AppError::from)?;
        let job_id = state
            .services
            .submit_admin_import(&editor, job, &bytes)
            .await?;
        Ok(axum::Json(ImportStarted { job_id }))
    })
    .await
}

/// An import's progress and, once done, its per-row report.
#[utoipa::path(get, path = "/api/v1/admin/imports/{job_id}", tag = "admin",
    params(("job_id" = String, Path)),
    responses((status = 200, body = ImportJobResponse), (status = 404, description = "40088 no such import"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(job_id): Path<String>,
) -> V1Result<axum::Json<ImportJobResponse>> {
    let admin = admin.as_super()?;
    let job = state.services.admin_import_job(&admin, &job_id).await?;
    Ok(axum::Json(ImportJobResponse::from(job)))
}

/// The file to export.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Header language: `zh` (default) or `en`.
    pub lang: Option<String>,
}

fn export_params(query: &ExportQuery) -> Result<(FileFormat, HeaderLanguage), V1Error> {
    let bad = |what: &str| V1Error::new(ErrCode::InvalidRequestParameter, what.to_owned());
    let format = match query.format.as_deref().unwrap_or("csv") {
        "csv" => FileFormat::Csv,
        "xlsx" => FileFormat::Xlsx,
        _ => return Err(bad("format must be csv or xlsx")),
    };
    let language = match query.lang.as_deref().unwrap_or("zh") {
        "zh" => HeaderLanguage::Chinese,
        "en" => HeaderLanguage::English,
        _ => return Err(bad("lang must be zh or en")),
    };
    Ok((format, language))
}

fn attachment(name: &str, format: FileFormat, bytes: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    (
        [
            (header::CONTENT_TYPE, format.mime_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// The members in reach, as a member file.
#[utoipa::path(get, path = "/api/v1/admin/export/members", tag = "admin", params(ExportQuery),
    responses((status = 200, description = "The member file (text/csv or xlsx)"),
        (status = 400, description = "40058 bad format")))]
#[tracing::instrument(skip_all)]
pub async fn export_members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(query): V1Query<ExportQuery>,
) -> V1Result<Response> {
    let (format, language) = export_params(&query)?;
    let file = state
        .services
        .export_members_file(admin.dir(), format, language)
        .await?;
    Ok(attachment(
        &format!("members-{}", admin.dir().corp),
        format,
        file.bytes,
    ))
}

/// The departments in reach, as a department file.
#[utoipa::path(get, path = "/api/v1/admin/export/departments", tag = "admin", params(ExportQuery),
    responses((status = 200, description = "The department file (text/csv or xlsx)"),
        (status = 400, description = "40058 bad format")))]
#[tracing::instrument(skip_all)]
pub async fn export_departments(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(query): V1Query<ExportQuery>,
) -> V1Result<Response> {
    let (format, language) = export_params(&query)?;
    let file = state
        .services
        .export_departments_file(admin.dir(), format, language)
        .await?;
    Ok(attachment(
        &format!("departments-{}", admin.dir().corp),
        format,
        file.bytes,
    ))
}
