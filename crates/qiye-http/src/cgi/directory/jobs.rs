//! `batch/*` import jobs, `export/*` export jobs and the download of export
//! files. Submitting checks the request and the file at once; the job runs
//! in the background and its result is read with `batch/getresult` or
//! `export/get_result`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use qiye_app::jobs::{ExportJobRequest, ImportJobRequest, ImportRowAction, JobView};
use qiye_domain::callback::CallbackConfig;
use qiye_domain::ids::CorpId;
use qiye_domain::job::{JobError, JobStatus, JobType};
use qiye_domain::media::MediaError;
use qiye_wecom::wire::Envelope;
use qiye_wecom::wire::directory::{
    BatchRequest, DirQuery, ExportData, ExportRequest, ExportResult, JobCallback, JobCreated,
    JobPartyResult, JobResult, JobUserResult,
};

use super::dir_caller;
use crate::AppState;
use crate::cgi::audited;
use crate::cgi::media::file_response;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody, WecomQuery};

/// The job's own callback; an absent or empty URL means none.
fn job_callback(raw: Option<JobCallback>) -> Result<Option<CallbackConfig>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let url = raw.url.unwrap_or_default();
    if url.trim().is_empty() {
        return Ok(None);
    }
    CallbackConfig::new(
        &url,
        raw.token.as_deref().unwrap_or_default(),
        raw.encodingaeskey.as_deref().unwrap_or_default(),
    )
    .map(Some)
    .map_err(|e| qiye_app::AppError::Job(JobError::BadCallback(e.to_string())).into())
}

async fn submit_import(
    state: AppState,
    caller: Caller,
    body: BatchRequest,
    job_type: JobType,
    api: &'static str,
) -> Result<Reply<JobCreated>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, api).await?;
    audited(
        &state,
        &context,
        caller.ip,
        "directory.job",
        job_type.as_str(),
        async {
            let media_id = body
                .media_id
                .ok_or(qiye_app::AppError::Media(MediaError::UnknownId))?;
            let request = ImportJobRequest {
                job_type,
                media_id,
                callback: job_callback(body.callback)?,
            };
            let jobid = state.services.submit_import(&dir, request).await?;
            Ok(Reply(Envelope::ok(JobCreated { jobid })))
        },
    )
    .await
}

/// Declares `POST` handlers that start a job of a given type.
macro_rules! job_endpoints {
    ($submit:ident, $body:ty: $($(#[$doc:meta])* $name:ident => $job:ident, $api:literal;)*) => {$(
        $(#[$doc])*
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            WecomBody(body): WecomBody<$body>,
        ) -> Result<Reply<JobCreated>, ApiError> {
            $submit(state, caller, body, JobType::$job, $api).await
        }
    )*};
}

job_endpoints! { submit_import, BatchRequest:
    /// `POST batch/syncuser`.
    sync_user => SyncUser, "batch/syncuser";
    /// `POST batch/replaceuser`.
    replace_user => ReplaceUser, "batch/replaceuser";
    /// `POST batch/replaceparty`.
    replace_party => ReplaceParty, "batch/replaceparty";
}

/// Reads a job of the caller's corp.
async fn read_job(
    state: &AppState,
    caller: &Caller,
    query: &DirQuery,
    api: &'static str,
) -> Result<(CorpId, JobView), ApiError> {
    let (context, dir) = dir_caller(state, caller, api).await?;
    let jobid = query.jobid.as_deref().unwrap_or_default().trim();
    let job = state.services.job(&dir, jobid).await?;
    Ok((context.corp_id().clone(), job))
}

/// `GET batch/getresult?jobid=`.
pub async fn get_result(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<JobResult>, ApiError> {
    let (_, job) = read_job(&state, &caller, &query, "batch/getresult").await?;
    if job.job_type.is_export() {
        return Err(qiye_app::AppError::Job(JobError::UnknownJob).into());
    }
    let result = if job.job_type == JobType::ReplaceParty {
        let rows: Vec<JobPartyResult> = job
            .rows
            .iter()
            .map(|r| JobPartyResult {
                action: match r.action {
                    ImportRowAction::Created => 1,
                    ImportRowAction::Updated
                    | ImportRowAction::Unchanged
                    | ImportRowAction::Failed => 2,
                    ImportRowAction::Deleted => 3,
                },
                partyid: r.key.parse().unwrap_or(0),
                errcode: r.errcode,
                errmsg: r.errmsg.clone(),
            })
            .collect();
        serde_json::to_value(rows)
    } else {
        let rows: Vec<JobUserResult> = job
            .rows
            .iter()
            .map(|r| JobUserResult {
                userid: r.key.clone(),
                errcode: r.errcode,
                errmsg: r.errmsg.clone(),
            })
            .collect();
        serde_json::to_value(rows)
    }
    .unwrap_or_default();
    Ok(Reply(Envelope::ok(JobResult {
        // A failed job is finished: its reason went out in the event.
        status: match job.status {
            JobStatus::Started => 1,
            JobStatus::Running => 2,
            JobStatus::Done | JobStatus::Failed => 3,
        },
        job_type: job.job_type.as_str().to_owned(),
        total: job.total as i64,
        percentage: job.percentage as i64,
        result,
    })))
}

async fn submit_export(
    state: AppState,
    caller: Caller,
    body: ExportRequest,
    job_type: JobType,
    api: &'static str,
) -> Result<Reply<JobCreated>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, api).await?;
    audited(
        &state,
        &context,
        caller.ip,
        "directory.export",
        job_type.as_str(),
        async {
            let tagid = match job_type {
                JobType::ExportTagUser => Some(super::tag::tag_id(body.tagid)?),
                _ => None,
            };
            let request = ExportJobRequest {
                job_type,
                aes_key: body.encoding_aeskey.unwrap_or_default(),
                block_size: body
                    .block_size
                    .map(|n| u64::try_from(n).unwrap_or(u64::MAX)),
                tagid,
            };
            let jobid = state.services.submit_export(&dir, request).await?;
            Ok(Reply(Envelope::ok(JobCreated { jobid })))
        },
    )
    .await
}

job_endpoints! { submit_export, ExportRequest:
    /// `POST export/simple_user`.
    export_simple_user => ExportSimpleUser, "export/simple_user";
    /// `POST export/user`.
    export_user => ExportUser, "export/user";
    /// `POST export/department`.
    export_department => ExportDepartment, "export/department";
    /// `POST export/taguser`.
    export_tag_user => ExportTagUser, "export/taguser";
}

/// The base URL the client reached us at, for download links.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("127.0.0.1");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// `GET export/get_result?jobid=`.
pub async fn export_result(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<ExportResult>, ApiError> {
    let (corp, job) = read_job(&state, &caller, &query, "export/get_result").await?;
    if !job.job_type.is_export() {
        return Err(qiye_app::AppError::Job(JobError::UnknownJob).into());
    }
    let base = base_url(&headers);
    let data_list = job
        .files
        .iter()
        .map(|f| ExportData {
            url: format!("{base}/cgi-bin/export/download/{corp}/{}", f.media_id),
            size: f.size as i64,
            md5: f.md5.clone(),
        })
        .collect();
    Ok(Reply(Envelope::ok(ExportResult {
        status: match job.status {
            JobStatus::Started => 0,
            JobStatus::Running => 1,
            JobStatus::Done => 2,
            JobStatus::Failed => 3,
        },
        data_list,
    })))
}

/// `GET export/download/{corpid}/{media_id}`: an export file. Like WeCom's
/// download links it needs no token: the 64-character media id is the
/// secret, and the file is encrypted with the requester's key anyway.
pub async fn download(
    State(state): State<AppState>,
    Path((corpid, media_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::from(qiye_app::AppError::Media(MediaError::UnknownId));
    let corp = CorpId::parse(&corpid).map_err(|_| not_found())?;
    let (record, path) = state.services.media(&corp, &media_id).await?;
    if !record.filename.starts_with("export_") {
        return Err(not_found());
    }
    file_response(&record, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_wecom::ErrCode;

    #[test]
    fn empty_callback_urls_mean_no_callback_and_bad_ones_are_refused() {
        assert_eq!(job_callback(None).unwrap(), None);
        let empty = JobCallback {
            url: Some(String::new()),
            token: None,
            encodingaeskey: None,
        };
        assert_eq!(job_callback(Some(empty)).unwrap(), None);
        let bad = JobCallback {
            url: Some("ftp://x".into()),
            token: Some("t".into()),
            encodingaeskey: Some("k".into()),
        };
        assert_eq!(
            job_callback(Some(bad)).unwrap_err().code,
            ErrCode::InvalidCallbackUrl
        );
    }

    #[test]
    fn download_links_follow_the_host_the_client_used() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "qiye.example:8080".parse().unwrap());
        assert_eq!(base_url(&headers), "http://qiye.example:8080");
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(&headers), "https://qiye.example:8080");
    }
}
