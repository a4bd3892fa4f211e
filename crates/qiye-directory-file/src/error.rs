//! Errors: one for a whole file, one for a single row.

/// Why a whole file was refused. Nothing in it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file has no non-blank row, so no header row.
    #[error("the file is empty: it has no header row")]
    Empty,
    /// A CSV file is neither UTF-8, UTF-16 with a byte order mark, nor GB18030.
    #[error("the file is not text in UTF-8, UTF-16 or GB18030")]
    Encoding,
    /// The file is a legacy binary `.xls` workbook, which is not supported.
    #[error("the file is a legacy .xls workbook; save it as .xlsx or .csv")]
    LegacyXls,
    /// The file was read as CSV but is an XLSX workbook (a ZIP archive).
    #[error("the file is an XLSX workbook, not a CSV file")]
    NotCsv,
    /// The CSV text could not be parsed.
    #[error("the CSV file cannot be read near line {line}: {reason}")]
    Csv {
        /// The line the parser had reached.
        line: usize,
        /// What the parser reported.
        reason: String,
    },
    /// The bytes are not a readable XLSX workbook.
    #[error("the XLSX workbook cannot be read: {0}")]
    Xlsx(String),
    /// The workbook has no worksheet.
    #[error("the workbook has no worksheet")]
    NoWorksheet,
    /// The header row lacks a required column.
    #[error("the header row (line {line}) has no {column} column; accepted headers: {accepted}")]
    MissingColumn {
        /// The line taken as the header row: the first non-blank line.
        line: usize,
        /// The missing column, by its English field name.
        column: &'static str,
        /// The header names that would have been accepted, comma-separated.
        accepted: String,
    },
    /// Two headers in the header row name the same column.
    #[error(
        "the header row (line {line}) names the {column} column twice: {first:?} and {second:?}"
    )]
    DuplicateColumn {
        /// The header row's line.
        line: usize,
        /// The column, by its English field name, or the repeated header
        /// itself for a column the reader does not know.
        column: String,
        /// The first header naming it, as written.
        first: String,
        /// The second header naming it, as written.
        second: String,
    },
    /// The data cannot be written (a value a spreadsheet cannot hold, or a
    /// value that would not read back the same).
    #[error("cannot write the file: {0}")]
    Write(String),
}

/// Why one data row was not accepted. The other rows are read regardless.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    /// The row's 1-based line in the file (the header is usually line 1). In a
    /// CSV file this is the line the record starts on; in a workbook it is the
    /// worksheet's row number.
    pub line: usize,
    /// Every problem found in the row, joined with `; `.
    pub reason: String,
}
