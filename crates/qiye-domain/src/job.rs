//! Asynchronous directory jobs: imports (`batch/syncuser`,
//! `batch/replaceuser`, `batch/replaceparty`) with their per-row results,
//! and exports (`export/simple_user`, `export/user`, `export/department`,
//! `export/taguser`) with their encrypted files.
//!
//! A job is a durable row: whichever node claims it (under a lease) runs it,
//! and a job interrupted by a crash is claimed again when its lease lapses.

use crate::ids::{AgentId, CorpId};

/// The kind of job, with WeCom's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobType {
    /// `sync_user`: create and update members from the file.
    SyncUser,
    /// `replace_user`: make the members exactly those of the file.
    ReplaceUser,
    /// `replace_party`: make the departments exactly those of the file.
    ReplaceParty,
    /// `export/simple_user`: userid, name, departments.
    ExportSimpleUser,
    /// `export/user`: every member field.
    ExportUser,
    /// `export/department`: the department tree.
    ExportDepartment,
    /// `export/taguser`: a tag's members and departments.
    ExportTagUser,
}

impl JobType {
    /// WeCom's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::SyncUser => "sync_user",
            JobType::ReplaceUser => "replace_user",
            JobType::ReplaceParty => "replace_party",
            JobType::ExportSimpleUser => "export_simple_user",
            JobType::ExportUser => "export_user",
            JobType::ExportDepartment => "export_department",
            JobType::ExportTagUser => "export_taguser",
        }
    }

    /// Whether this is an export (its result is files, not rows).
    pub fn is_export(self) -> bool {
        matches!(
            self,
            JobType::ExportSimpleUser
                | JobType::ExportUser
                | JobType::ExportDepartment
                | JobType::ExportTagUser
        )
    }

    /// From WeCom's name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sync_user" => Some(JobType::SyncUser),
            "replace_user" => Some(JobType::ReplaceUser),
            "replace_party" => Some(JobType::ReplaceParty),
            "export_simple_user" => Some(JobType::ExportSimpleUser),
            "export_user" => Some(JobType::ExportUser),
            "export_department" => Some(JobType::ExportDepartment),
            "export_taguser" => Some(JobType::ExportTagUser),
            _ => None,
        }
    }
}

/// Where a job is. One internal enum: the wire maps it to `batch/getresult`'s
/// codes (1, 2, 3) or `export/get_result`'s (0, 1, 2, 3) at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, not started.
    Started,
    /// Running.
    Running,
    /// Finished (an import may still have failed rows).
    Done,
    /// Finished without a result (e.g. an unreadable import file).
    Failed,
}

impl JobStatus {
    /// The stored code (the same as `batch/getresult`'s for the first three).
    pub fn code(self) -> i64 {
        match self {
            JobStatus::Started => 1,
            JobStatus::Running => 2,
            JobStatus::Done => 3,
            JobStatus::Failed => 4,
        }
    }

    /// From the stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(JobStatus::Started),
            2 => Some(JobStatus::Running),
            3 => Some(JobStatus::Done),
            4 => Some(JobStatus::Failed),
            _ => None,
        }
    }

    /// Whether the job is over.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

/// Why a job could not be started or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// No such job in the caller's corp.
    #[error("invalid jobid")]
    UnknownJob,
    /// The import file cannot be read at all (no header, wrong columns).
    #[error("invalid import file: {0}")]
    BadFile(String),
    /// The job's callback settings are invalid.
    #[error("invalid callback: {0}")]
    BadCallback(String),
    /// The export key is not a 43-character EncodingAESKey.
    #[error("encoding_aeskey must be 43 characters of the base64 alphabet")]
    BadAesKey,
    /// `block_size` out of range.
    #[error("block_size must be between {min} and {max}")]
    BadBlockSize {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

impl JobError {
    /// WeCom's errcode for this refusal (also written into job results).
    pub fn errcode(&self) -> i64 {
        match self {
            JobError::UnknownJob => 40088,
            JobError::BadFile(_) => 40092,
            JobError::BadCallback(_) => 40057,
            JobError::BadAesKey | JobError::BadBlockSize { .. } => 40058,
        }
    }
}

/// Rows per export file unless the request says otherwise (WeCom's default).
pub const EXPORT_DEFAULT_BLOCK: u64 = 1_000_000;
/// Smallest accepted `block_size`.
pub const EXPORT_MIN_BLOCK: u64 = 10_000;
/// Largest accepted `block_size`.
pub const EXPORT_MAX_BLOCK: u64 = 1_000_000;

/// Checks an export `block_size` (absent: the default).
pub fn export_block_size(requested: Option<u64>) -> Result<u64, JobError> {
    match requested {
        None | Some(0) => Ok(EXPORT_DEFAULT_BLOCK),
        Some(n) if (EXPORT_MIN_BLOCK..=EXPORT_MAX_BLOCK).contains(&n) => Ok(n),
        Some(_) => Err(JobError::BadBlockSize {
            min: EXPORT_MIN_BLOCK,
            max: EXPORT_MAX_BLOCK,
        }),
    }
}

/// A job as stored. `request` and `result` are JSON text owned by the
/// application layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Owner.
    pub corp_id: CorpId,
    /// Its id.
    pub jobid: String,
    /// Its kind.
    pub job_type: JobType,
    /// Status.
    pub status: JobStatus,
    /// Rows in the file.
    pub total: u64,
    /// Rows handled so far.
    pub processed: u64,
    /// The request (media id, options) as JSON.
    pub request: String,
    /// Per-row results as JSON.
    pub result: String,
    /// The app that started it, if an app did.
    pub agentid: Option<AgentId>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Completion time (ms).
    pub finished_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for t in [
            JobType::SyncUser,
            JobType::ReplaceUser,
            JobType::ReplaceParty,
            JobType::ExportSimpleUser,
            JobType::ExportUser,
            JobType::ExportDepartment,
            JobType::ExportTagUser,
        ] {
            assert_eq!(JobType::parse(t.as_str()), Some(t));
        }
        for s in [
            JobStatus::Started,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
        ] {
            assert_eq!(JobStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(JobStatus::from_code(0), None);
        assert!(JobStatus::Failed.is_finished());
        assert!(!JobStatus::Running.is_finished());
        assert!(JobType::ExportUser.is_export());
        assert!(!JobType::SyncUser.is_export());
    }

    #[test]
    fn block_sizes_default_and_stay_in_range() {
        assert_eq!(export_block_size(None), Ok(EXPORT_DEFAULT_BLOCK));
        assert_eq!(export_block_size(Some(0)), Ok(EXPORT_DEFAULT_BLOCK));
        assert_eq!(export_block_size(Some(50_000)), Ok(50_000));
        assert!(export_block_size(Some(10)).is_err());
        assert!(export_block_size(Some(2_000_000)).is_err());
    }
}
