//! The per-row result file an import job offers for download.

use crate::writer::{Cell, Sheet};
use crate::{FileError, FileFormat, HeaderLanguage, RowError};

/// The outcome of one row of an import, for the result file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowReport {
    /// The row's line in the imported file.
    pub line: usize,
    /// What the row was about: a userid, or a department name or id; empty
    /// when the row had none.
    pub key: String,
    /// The outcome, in the caller's words (`created`, `updated`, `failed`,
    /// `新建`, ...).
    pub result: String,
    /// Why, for a row that failed; empty otherwise.
    pub reason: String,
}

impl From<&RowError> for RowReport {
    /// A failed row with no key; the caller sets `result` if it wants words
    /// other than `failed`.
    fn from(error: &RowError) -> Self {
        Self {
            line: error.line,
            key: String::new(),
            result: "failed".to_owned(),
            reason: error.reason.clone(),
        }
    }
}

/// Writes row reports as a file with the columns `行号, 对象, 结果, 原因`
/// (or `line, key, result, reason`), text escaped against formula injection
/// like the member file.
pub fn write_report(
    reports: &[RowReport],
    format: FileFormat,
    language: HeaderLanguage,
) -> Result<Vec<u8>, FileError> {
    let (name, headers) = match language {
        HeaderLanguage::Chinese => ("结果", ["行号", "对象", "结果", "原因"]),
        HeaderLanguage::English => ("Results", ["line", "key", "result", "reason"]),
    };
    let rows = reports
        .iter()
        .map(|r| {
            vec![
                Cell::Number(i64::try_from(r.line).unwrap_or(i64::MAX)),
                Cell::text(&r.key),
                Cell::text(&r.result),
                Cell::text(&r.reason),
            ]
        })
        .collect();
    Sheet {
        name,
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    }
    .write(format)
}
