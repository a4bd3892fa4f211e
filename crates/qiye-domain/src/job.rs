//! Asynchronous import jobs (`batch/syncuser`, `batch/replaceuser`,
//! `batch/replaceparty`) and their per-row results.

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
}

impl JobType {
    /// WeCom's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::SyncUser => "sync_user",
            JobType::ReplaceUser => "replace_user",
            JobType::ReplaceParty => "replace_party",
        }
    }

    /// From WeCom's name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sync_user" => Some(JobType::SyncUser),
            "replace_user" => Some(JobType::ReplaceUser),
            "replace_party" => Some(JobType::ReplaceParty),
            _ => None,
        }
    }
}

/// Job status codes of `batch/getresult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// 1: accepted, not started.
    Started,
    /// 2: running.
    Running,
    /// 3: finished.
    Done,
}

impl JobStatus {
    /// WeCom's code.
    pub fn code(self) -> i64 {
        match self {
            JobStatus::Started => 1,
            JobStatus::Running => 2,
            JobStatus::Done => 3,
        }
    }

    /// From WeCom's code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(JobStatus::Started),
            2 => Some(JobStatus::Running),
            3 => Some(JobStatus::Done),
            _ => None,
        }
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
        ] {
            assert_eq!(JobType::parse(t.as_str()), Some(t));
        }
        for s in [JobStatus::Started, JobStatus::Running, JobStatus::Done] {
            assert_eq!(JobStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(JobStatus::from_code(0), None);
    }
}
