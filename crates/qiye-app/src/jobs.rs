//! Asynchronous directory jobs: imports from an uploaded file
//! (`batch/syncuser`, `batch/replaceuser`, `batch/replaceparty`) and
//! exports to encrypted files (`export/*`).
//!
//! Submitting a job checks what can be checked at once (the media exists,
//! the file has a usable header, the key is well formed), stores the job and
//! wakes the runner. The runner ([`Services::run_jobs`]) claims one job at a
//! time under a lease, so with several nodes each job runs on one of them,
//! and a job whose node died is claimed again when the lease lapses (imports
//! are idempotent: re-running one converges to the same directory). The
//! job keeps its submitter's reach: an app imports and exports only inside
//! its visible range.
//!
//! A finished import queues the `batch_job_result` event: to the job's own
//! callback when the request gave one, else to the submitting app's
//! configured callback.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use qiye_directory_file::{FileFormat, read_departments, read_members};
use qiye_domain::audit::Actor;
use qiye_domain::callback::{CallbackConfig, OutboxEntry};
use qiye_domain::directory::{Department, Directory, Member, Reach, TagId};
use qiye_domain::ids::{CorpId, DeptId};
use qiye_domain::job::{
    EXPORT_DEFAULT_BLOCK, ImportJob, JobError, JobStatus, JobType, export_block_size,
};
use qiye_domain::media::{MediaKind, new_media_id};
use qiye_domain::ports::StoreError;
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::directory::DirCaller;
use crate::directory::admin::SuperAdmin;
use crate::directory::import::{ImportMode, ImportOptions, ImportReport, RowAction};
use crate::error::{AppError, AppResult};

/// How long a claimed job is reserved; the runner renews it while working.
const JOB_LEASE_MS: i64 = 60_000;
/// How often a running job saves its progress (and renews its lease).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The wire side of export files: WeCom's JSON and its encryption.
pub trait ExportWire: Send + Sync + 'static {
    /// One export file's plaintext.
    fn render(&self, corp: &CorpId, dir: &Directory, part: &ExportPart<'_>) -> Vec<u8>;
    /// Encrypts a file with the request's EncodingAESKey.
    fn seal(&self, aes_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether `aes_key` is a usable EncodingAESKey.
    fn valid_key(&self, aes_key: &str) -> bool;
}

/// What one export file holds.
#[derive(Debug)]
pub enum ExportPart<'a> {
    /// `export/simple_user`: userid, name, departments.
    SimpleMembers(&'a [&'a Member]),
    /// `export/user`: every field.
    Members(&'a [&'a Member]),
    /// `export/department`.
    Departments(&'a [&'a Department]),
    /// `export/taguser`: a tag's members and departments.
    TagMembers {
        /// Members.
        users: &'a [&'a Member],
        /// Departments (in the first file only).
        parties: &'a [DeptId],
    },
}

/// The job's own callback (`callback{url, token, encodingaeskey}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCallback {
    url: String,
    token: String,
    aes_key: String,
}

/// What a job was asked to do, stored as JSON with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct JobRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<StoredCallback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aes_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tagid: Option<u32>,
    /// Why the whole job failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<(i64, String)>,
    /// The administrator who submitted it from the admin console (the job
    /// runs with their role at that moment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<String>,
    /// Only report what would change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    /// A department import that keeps unlisted departments (sync mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    keep_unlisted: bool,
}

/// One row of an import's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowResult {
    /// The row's line in the file (0 for a deletion).
    #[serde(default)]
    pub line: usize,
    /// The userid, or the department id (as text) for department files.
    pub key: String,
    /// What happened.
    pub action: ImportRowAction,
    /// WeCom errcode of the row (0: fine).
    pub errcode: i64,
    /// Why, or "ok".
    pub errmsg: String,
}

/// What an import did to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportRowAction {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Already as in the file.
    Unchanged,
    /// Deleted (replace mode: absent from the file).
    Deleted,
    /// Refused.
    Failed,
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    /// The media id of the encrypted file.
    pub media_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// MD5 of the encrypted file, hex.
    pub md5: String,
}

/// A job as its submitter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// Its id.
    pub jobid: String,
    /// Kind.
    pub job_type: JobType,
    /// Where it is.
    pub status: JobStatus,
    /// Rows in the file (imports) or rows exported.
    pub total: u64,
    /// Rows handled so far.
    pub processed: u64,
    /// 0..=100.
    pub percentage: u64,
    /// Per-row results (imports).
    pub rows: Vec<ImportRowResult>,
    /// Files (exports).
    pub files: Vec<ExportFile>,
    /// Why the whole job failed, as (errcode, reason).
    pub failure: Option<(i64, String)>,
    /// Only reported what would change.
    pub dry_run: bool,
    /// A department import that kept unlisted departments.
    pub keep_unlisted: bool,
}

/// What an administrator's import is given (the admin console).
#[derive(Debug, Clone)]
pub struct AdminImportRequest {
    /// `SyncUser`, `ReplaceUser` or `ReplaceParty`.
    pub job_type: JobType,
    /// For departments: keep those the file does not list (sync).
    pub keep_unlisted: bool,
    /// Only report what would change.
    pub dry_run: bool,
}

/// What an import job is given.
#[derive(Debug, Clone)]
pub struct ImportJobRequest {
    /// Which import.
    pub job_type: JobType,
    /// The uploaded file.
    pub media_id: String,
    /// The job's own callback, if given.
    pub callback: Option<CallbackConfig>,
}

/// What an export job is given.
#[derive(Debug, Clone)]
pub struct ExportJobRequest {
    /// Which export.
    pub job_type: JobType,
    /// The key the files are encrypted with.
    pub aes_key: String,
    /// Rows per file.
    pub block_size: Option<u64>,
    /// The tag (`export/taguser`).
    pub tagid: Option<TagId>,
}

fn new_jobid() -> String {
    // Letters and digits, like WeCom's; unguessable.
    new_media_id()[..32].to_owned()
}

fn row_result(outcome: &crate::directory::import::RowOutcome) -> ImportRowResult {
    let (action, errcode, errmsg) = match &outcome.action {
        RowAction::Created => (ImportRowAction::Created, 0, "ok".to_owned()),
        RowAction::Updated => (ImportRowAction::Updated, 0, "ok".to_owned()),
        RowAction::Unchanged => (ImportRowAction::Unchanged, 0, "ok".to_owned()),
        RowAction::Deleted => (ImportRowAction::Deleted, 0, "ok".to_owned()),
        RowAction::Failed { errcode, reason } => {
            (ImportRowAction::Failed, *errcode, reason.clone())
        }
    };
    ImportRowResult {
        line: outcome.line,
        key: outcome.key.clone(),
        action,
        errcode,
        errmsg,
    }
}

/// Parses an import file of `job_type`, refusing a file whose header
/// cannot be used. Returns the number of data rows.
fn check_import_file(job_type: JobType, bytes: &[u8]) -> Result<usize, JobError> {
    let format = FileFormat::sniff(bytes);
    let rows = match job_type {
        JobType::ReplaceParty => read_departments(bytes, format).map(|r| r.len()),
        _ => read_members(bytes, format).map(|r| r.len()),
    };
    rows.map_err(|e| JobError::BadFile(e.to_string()))
}

impl Services {
    /// The job's submitter as a directory caller, rebuilt when it runs: an
    /// app's reach is its visible range at that moment, an administrator's
    /// their role at that moment.
    async fn job_caller(&self, job: &ImportJob, request: &JobRequest) -> AppResult<DirCaller> {
        let corp = job.corp_id.clone();
        let ip = request.ip;
        if let Some(admin) = &request.admin {
            let userid = qiye_domain::ids::UserId::parse(admin)
                .map_err(|e| json_error(serde::de::Error::custom(e)))?;
            return self.admin_caller(&corp, &userid, ip).await;
        }
        Ok(match job.agentid {
            None => DirCaller {
                ip,
                ..DirCaller::operator(corp, Actor::ContactSync)
            },
            Some(agentid) => {
                let reach = match self.store.app_range(&corp, agentid).await? {
                    None => Reach::Everything,
                    Some(range) => Reach::Within(range),
                };
                DirCaller {
                    corp,
                    actor: Actor::App(agentid),
                    ip,
                    reach,
                    app: Some(agentid),
                }
            }
        })
    }

    async fn insert_job(
        &self,
        caller: &DirCaller,
        job_type: JobType,
        total: u64,
        request: JobRequest,
    ) -> AppResult<String> {
        let job = ImportJob {
            corp_id: caller.corp.clone(),
            jobid: new_jobid(),
            job_type,
            status: JobStatus::Started,
            total,
            processed: 0,
            request: serde_json::to_string(&request).map_err(json_error)?,
            result: "[]".to_owned(),
            agentid: caller.app,
            created_at: self.clock.now_millis(),
            finished_at: None,
        };
        self.store.insert_job(&job).await?;
        self.job_signal.notify_one();
        Ok(job.jobid)
    }

    /// Starts an import job on an uploaded file. Refuses at once a missing
    /// media id, a file of another type, or a file without a usable header.
    pub async fn submit_import(
        &self,
        caller: &DirCaller,
        request: ImportJobRequest,
    ) -> AppResult<String> {
        let plan = self.store.get_corp(&caller.corp).await?.plan;
        plan.check_bulk(qiye_domain::plan::BulkOperation::Import)?;
        let bytes = self
            .media_bytes(&caller.corp, &request.media_id, MediaKind::File)
            .await?;
        let rows = check_import_file(request.job_type, &bytes)?;
        let stored = JobRequest {
            media_id: Some(request.media_id),
            callback: request.callback.map(|c| StoredCallback {
                url: c.url,
                token: c.token,
                aes_key: c.aes_key,
            }),
            ip: caller.ip,
            ..JobRequest::default()
        };
        self.insert_job(caller, request.job_type, rows as u64, stored)
            .await
    }

    /// Starts an administrator's import of a file (the admin console): the
    /// file is checked before anything is stored, then kept as media and
    /// run as a job like `batch/*` (leased, so any node may run it), with
    /// the administrator's role when it runs.
    pub async fn submit_admin_import(
        &self,
        admin: &SuperAdmin,
        request: AdminImportRequest,
        bytes: &[u8],
    ) -> AppResult<String> {
        let caller = admin.dir();
        let plan = self.store.get_corp(&caller.corp).await?.plan;
        plan.check_bulk(qiye_domain::plan::BulkOperation::Import)?;
        MediaKind::File.check_size(bytes.len() as u64)?;
        let rows = check_import_file(request.job_type, bytes)?;
        let format = FileFormat::sniff(bytes);
        let name = format!(
            "import-{}.{}",
            request.job_type.as_str(),
            format.extension()
        );
        let record = self
            .store_media_bytes(
                &caller.corp,
                MediaKind::File,
                &name,
                format.mime_type(),
                bytes,
            )
            .await?;
        let stored = JobRequest {
            media_id: Some(record.media_id),
            ip: caller.ip,
            admin: admin.userid().map(|u| u.as_str().to_owned()),
            dry_run: request.dry_run,
            keep_unlisted: request.keep_unlisted,
            ..JobRequest::default()
        };
        self.insert_job(caller, request.job_type, rows as u64, stored)
            .await
    }

    /// An import an administrator submitted from the admin console (jobs of
    /// apps and of the contacts secret are not theirs: 40088).
    pub async fn admin_import_job(&self, admin: &SuperAdmin, jobid: &str) -> AppResult<JobView> {
        let (view, request) = self.job_with_request(admin.dir(), jobid).await?;
        if request.admin.is_none() || view.job_type.is_export() {
            return Err(JobError::UnknownJob.into());
        }
        Ok(view)
    }

    /// Starts an export job.
    pub async fn submit_export(
        &self,
        caller: &DirCaller,
        request: ExportJobRequest,
    ) -> AppResult<String> {
        let wire = self
            .export_wire
            .as_ref()
            .ok_or_else(|| AppError::Forbidden("server without exports".into()))?;
        let plan = self.store.get_corp(&caller.corp).await?.plan;
        plan.check_bulk(qiye_domain::plan::BulkOperation::Export)?;
        if !wire.valid_key(&request.aes_key) {
            return Err(JobError::BadAesKey.into());
        }
        let block_size = export_block_size(request.block_size)?;
        if request.job_type == JobType::ExportTagUser {
            let id = request
                .tagid
                .ok_or(qiye_domain::directory::DirError::TagNotFound)?;
            self.dir_read(caller, |view| view.tag(id).map(|_| ()))
                .await??;
        }
        let stored = JobRequest {
            aes_key: Some(request.aes_key),
            block_size: Some(block_size),
            tagid: request.tagid.map(|t| t.0),
            ip: caller.ip,
            ..JobRequest::default()
        };
        self.insert_job(caller, request.job_type, 0, stored).await
    }

    /// A job of the caller's corp. An app sees only its own jobs; the
    /// contacts-sync secret sees every job of the corp.
    pub async fn job(&self, caller: &DirCaller, jobid: &str) -> AppResult<JobView> {
        Ok(self.job_with_request(caller, jobid).await?.0)
    }

    async fn job_with_request(
        &self,
        caller: &DirCaller,
        jobid: &str,
    ) -> AppResult<(JobView, JobRequest)> {
        if jobid.is_empty() || jobid.len() > 64 {
            return Err(JobError::UnknownJob.into());
        }
        let job = match self.store.get_job(&caller.corp, jobid).await {
            Err(StoreError::NotFound) => return Err(JobError::UnknownJob.into()),
            other => other?,
        };
        if caller.app.is_some() && job.agentid != caller.app {
            return Err(JobError::UnknownJob.into());
        }
        let request: JobRequest = serde_json::from_str(&job.request).map_err(json_error)?;
        let percentage = match job.status {
            JobStatus::Done | JobStatus::Failed => 100,
            _ if job.total == 0 => 0,
            _ => (job.processed * 100 / job.total).min(99),
        };
        let (rows, files) = if job.job_type.is_export() {
            (
                Vec::new(),
                serde_json::from_str(&job.result).map_err(json_error)?,
            )
        } else {
            (
                serde_json::from_str(&job.result).map_err(json_error)?,
                Vec::new(),
            )
        };
        let view = JobView {
            jobid: job.jobid,
            job_type: job.job_type,
            status: job.status,
            total: job.total,
            processed: job.processed,
            percentage,
            rows,
            files,
            failure: request.failure.clone(),
            dry_run: request.dry_run,
            keep_unlisted: request.keep_unlisted,
        };
        Ok((view, request))
    }

    /// Claims and runs due jobs until none is left. Returns how many ran.
    pub async fn run_due_jobs(&self) -> AppResult<usize> {
        let mut ran = 0;
        while let Some(job) = self
            .store
            .claim_job(self.clock.now_millis(), JOB_LEASE_MS)
            .await?
        {
            let jobid = job.jobid.clone();
            if let Err(err) = self.run_job(job).await {
                // Left unfinished: its lease lapses and it is tried again.
                tracing::warn!(%err, jobid, "directory job failed; will retry");
                return Err(err);
            }
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs jobs until `stop` resolves: at once when a job is submitted on
    /// this node, else every `idle` (jobs submitted on other nodes, leases
    /// that lapsed).
    pub async fn run_jobs(&self, idle: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(err) = self.run_due_jobs().await {
                tracing::warn!(%err, "job round failed");
            }
            tokio::select! {
                _ = self.job_signal.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn run_job(&self, mut job: ImportJob) -> AppResult<()> {
        let request: JobRequest = serde_json::from_str(&job.request).map_err(json_error)?;
        let caller = self.job_caller(&job, &request).await?;
        job.status = JobStatus::Running;
        self.store
            .update_job(&job, self.clock.now_millis() + JOB_LEASE_MS)
            .await?;
        let progress = Arc::new(AtomicU64::new(0));
        let reporter = self.spawn_progress_reporter(&job, Arc::clone(&progress));
        let outcome = if job.job_type.is_export() {
            self.run_export(&caller, &request, &mut job).await
        } else {
            self.run_import(&caller, &request, &mut job, &progress)
                .await
        };
        reporter.abort();
        let mut request = request;
        match outcome {
            Ok(()) => job.status = JobStatus::Done,
            Err(AppError::Store(err)) => return Err(AppError::Store(err)),
            Err(err) => {
                job.status = JobStatus::Failed;
                request.failure = Some((failure_code(&err), err.to_string()));
                job.request = serde_json::to_string(&request).map_err(json_error)?;
            }
        }
        job.processed = job.total;
        job.finished_at = Some(self.clock.now_millis());
        if !job.job_type.is_export() {
            // Queued before the job is marked done: a crash in between
            // re-runs the job and may send the event twice, never zero times.
            self.queue_job_event(&job, &request).await?;
        }
        self.store.update_job(&job, 0).await?;
        Ok(())
    }

    /// Saves a running job's progress every second on another task (the
    /// import itself is CPU-bound between awaits).
    fn spawn_progress_reporter(
        &self,
        job: &ImportJob,
        progress: Arc<AtomicU64>,
    ) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(&self.store);
        let clock = Arc::clone(&self.clock);
        let mut snapshot = job.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                snapshot.processed = progress.load(Ordering::Relaxed).min(snapshot.total);
                let lease = clock.now_millis() + JOB_LEASE_MS;
                if let Err(err) = store.update_job(&snapshot, lease).await {
                    tracing::warn!(%err, jobid = snapshot.jobid, "cannot save job progress");
                }
            }
        })
    }

    async fn run_import(
        &self,
        caller: &DirCaller,
        request: &JobRequest,
        job: &mut ImportJob,
        progress: &AtomicU64,
    ) -> AppResult<()> {
        let media_id = request.media_id.as_deref().unwrap_or_default();
        let bytes = self
            .media_bytes(&caller.corp, media_id, MediaKind::File)
            .await?;
        let format = FileFormat::sniff(&bytes);
        let on_row = |n: usize| progress.store(n as u64, Ordering::Relaxed);
        let report: ImportReport = match job.job_type {
            JobType::ReplaceParty => {
                let rows = read_departments(&bytes, format)
                    .map_err(|e| JobError::BadFile(e.to_string()))?;
                job.total = rows.len() as u64;
                let mode = if request.keep_unlisted {
                    ImportMode::Sync
                } else {
                    ImportMode::Replace
                };
                self.import_departments(caller, &rows, mode, request.dry_run)
                    .await?
            }
            JobType::SyncUser | JobType::ReplaceUser => {
                let rows =
                    read_members(&bytes, format).map_err(|e| JobError::BadFile(e.to_string()))?;
                job.total = rows.len() as u64;
                let mode = if job.job_type == JobType::SyncUser {
                    ImportMode::Sync
                } else {
                    ImportMode::Replace
                };
                let options = ImportOptions {
                    mode,
                    dry_run: request.dry_run,
                    ..ImportOptions::default()
                };
                self.import_members(caller, &rows, options, &on_row).await?
            }
            other => unreachable!("{other:?} is an export"),
        };
        let rows: Vec<ImportRowResult> = report.rows.iter().map(row_result).collect();
        job.result = serde_json::to_string(&rows).map_err(json_error)?;
        Ok(())
    }

    async fn run_export(
        &self,
        caller: &DirCaller,
        request: &JobRequest,
        job: &mut ImportJob,
    ) -> AppResult<()> {
        let wire = self
            .export_wire
            .as_ref()
            .ok_or_else(|| AppError::Forbidden("server without exports".into()))?;
        let block = usize::try_from(request.block_size.unwrap_or(EXPORT_DEFAULT_BLOCK))
            .unwrap_or(usize::MAX);
        let job_type = job.job_type;
        let tagid = request.tagid;
        let corp = caller.corp.clone();
        let (plaintexts, total) = self
            .dir_read(caller, |view| -> AppResult<(Vec<Vec<u8>>, u64)> {
                let dir = view.dir;
                let reach = &view.caller.reach;
                let members =
                    || -> Vec<&Member> { dir.members().filter(|m| reach.member(dir, m)).collect() };
                let mut files = Vec::new();
                let total;
                match job_type {
                    JobType::ExportSimpleUser | JobType::ExportUser => {
                        let all = members();
                        total = all.len();
                        for chunk in chunks(&all, block) {
                            let part = if job_type == JobType::ExportUser {
                                ExportPart::Members(chunk)
                            } else {
                                ExportPart::SimpleMembers(chunk)
                            };
                            files.push(wire.render(&corp, dir, &part));
                        }
                    }
                    JobType::ExportDepartment => {
                        let depts: Vec<&Department> = dir
                            .all_depts()
                            .into_iter()
                            .filter(|d| reach.dept(dir, *d))
                            .filter_map(|d| dir.dept(d))
                            .collect();
                        total = depts.len();
                        for chunk in chunks(&depts, block) {
                            files.push(wire.render(&corp, dir, &ExportPart::Departments(chunk)));
                        }
                    }
                    JobType::ExportTagUser => {
                        let id = TagId(tagid.unwrap_or_default());
                        let tag = view.tag(id)?;
                        let users: Vec<&Member> = tag
                            .users
                            .iter()
                            .filter_map(|u| dir.member(u))
                            .filter(|m| reach.member(dir, m))
                            .collect();
                        let parties: Vec<DeptId> = tag
                            .parties
                            .iter()
                            .copied()
                            .filter(|d| reach.dept(dir, *d))
                            .collect();
                        total = users.len() + parties.len();
                        for (i, chunk) in chunks(&users, block).enumerate() {
                            let parties = if i == 0 { &parties[..] } else { &[] };
                            files.push(wire.render(
                                &corp,
                                dir,
                                &ExportPart::TagMembers {
                                    users: chunk,
                                    parties,
                                },
                            ));
                        }
                    }
                    other => unreachable!("{other:?} is an import"),
                }
                Ok((files, total as u64))
            })
            .await??;
        let aes_key = request.aes_key.as_deref().unwrap_or_default();
        let mut files = Vec::with_capacity(plaintexts.len());
        for (i, plain) in plaintexts.iter().enumerate() {
            let sealed = wire.seal(aes_key, plain).map_err(|_| JobError::BadAesKey)?;
            let name = format!("{}_{}.dat", job_type.as_str(), i + 1);
            let record = self
                .store_media_bytes(
                    &corp,
                    MediaKind::File,
                    &name,
                    "application/octet-stream",
                    &sealed,
                )
                .await?;
            files.push(ExportFile {
                media_id: record.media_id,
                size: record.size,
                md5: hex::encode(md5_digest(&sealed)),
            });
        }
        job.total = total;
        job.result = serde_json::to_string(&files).map_err(json_error)?;
        Ok(())
    }

    async fn queue_job_event(&self, job: &ImportJob, request: &JobRequest) -> AppResult<()> {
        let Some(wire) = &self.callback_wire else {
            return Ok(());
        };
        let destination = request.callback.as_ref().map(|c| CallbackConfig {
            url: c.url.clone(),
            token: c.token.clone(),
            aes_key: c.aes_key.clone(),
        });
        let configured = match (&destination, job.agentid) {
            (Some(_), _) => true,
            (None, Some(agentid)) => self
                .store
                .callback_config(&job.corp_id, agentid)
                .await?
                .is_some(),
            (None, None) => false,
        };
        if !configured {
            return Ok(());
        }
        let (errcode, errmsg) = request
            .failure
            .clone()
            .unwrap_or_else(|| (0, "ok".to_owned()));
        let Some((event, payload)) = wire.batch_job_event(
            &job.corp_id,
            self.clock.now_secs(),
            &job.jobid,
            job.job_type,
            errcode,
            &errmsg,
        ) else {
            return Ok(());
        };
        let entry = OutboxEntry {
            agentid: job.agentid,
            event,
            payload,
            destination,
        };
        self.store
            .enqueue(&job.corp_id, &[entry], self.clock.now_millis())
            .await?;
        Ok(())
    }
}

/// The errcode a whole-job failure is reported with.
fn failure_code(err: &AppError) -> i64 {
    match err {
        AppError::Job(job) => job.errcode(),
        AppError::Dir(dir) => dir.errcode(),
        AppError::Media(media) => media.errcode(),
        _ => -1,
    }
}

fn chunks<T>(items: &[T], block: usize) -> impl Iterator<Item = &[T]> {
    // An empty export still yields one (empty) file.
    let empty: &[T] = &[];
    let first_empty = items.is_empty().then_some(empty);
    first_empty.into_iter().chain(items.chunks(block.max(1)))
}

fn md5_digest(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(bytes).into()
}

fn json_error(err: serde_json::Error) -> AppError {
    AppError::Store(StoreError::Other(format!("job JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_by_block_and_keep_one_file_when_empty() {
        let items = [1, 2, 3, 4, 5];
        let parts: Vec<&[i32]> = chunks(&items, 2).collect();
        assert_eq!(parts, vec![&[1, 2][..], &[3, 4][..], &[5][..]]);
        let none: [i32; 0] = [];
        assert_eq!(chunks(&none, 10).count(), 1);
    }

    #[test]
    fn unreadable_files_are_refused_with_the_reason() {
        let err = check_import_file(JobType::SyncUser, b"nothing,useful\n1,2\n").unwrap_err();
        assert!(matches!(err, JobError::BadFile(_)), "{err:?}");
        let rows = check_import_file(
            JobType::SyncUser,
            "姓名,帐号,部门\n张三,zhangsan,Sales\n李四,lisi,Sales\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn failures_carry_wecom_codes() {
        assert_eq!(
            failure_code(&AppError::Job(JobError::BadFile("x".into()))),
            40092
        );
        assert_eq!(
            failure_code(&AppError::Dir(
                qiye_domain::directory::DirError::DeleteProtection {
                    would_delete: 50,
                    current: 60
                }
            )),
            45026
        );
    }
}
