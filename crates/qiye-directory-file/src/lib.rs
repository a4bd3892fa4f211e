//! Reads and writes the directory spreadsheet files of bulk import and
//! export: WeCom's member template (`batch/syncuser`, `batch/replaceuser`)
//! and department template (`batch/replaceparty`), as CSV or XLSX.
//!
//! The crate knows nothing of qiye's domain types: it deals in trimmed
//! strings and line numbers. Whether a userid, a mobile or a department
//! exists or is well formed is for the caller to check. The file format is
//! described for users in `docs/IMPORT_FORMAT.md`.
//!
//! # Reading
//!
//! [`read_members`] and [`read_departments`] return either a [`FileError`]
//! for a file that cannot be used at all (unreadable, no header row, a
//! required column missing, a column named twice), or one
//! `Result<Row, RowError>` per non-blank data row, so that one bad row is
//! reported with its line and reason and does not stop the others.
//!
//! - **Header row.** Headers are matched ignoring case, surrounding
//!   whitespace, a byte order mark, spaces, `_`, `-` and `.` (`User ID` is
//!   `userid`), a `*` required-marker and a trailing parenthesised note
//!   (`姓名（必填）`). Chinese and English names are both accepted, and may be
//!   mixed. The header row is the first of the first ten non-blank rows
//!   that names every required column, so instruction rows above it are
//!   skipped.
//! - **Cells.** Values are trimmed; an empty cell is `None` (or an empty
//!   list). A value in a column that has no header is a row error (it
//!   usually means an unquoted comma shifted the row). Columns the reader
//!   does not know are returned as `extra` `(header, value)` pairs.
//! - **Line numbers** are the file's own 1-based lines: in CSV the line a
//!   record starts on (a quoted value may span lines), in XLSX the row
//!   number. Blank rows are skipped but still counted.
//! - **CSV** is RFC 4180 (`"` quoting, CRLF or LF), comma-separated, or
//!   tab-separated when the first line has tabs and no comma. The encoding
//!   is UTF-8 (with or without a byte order mark), UTF-16 with a byte order
//!   mark, or, for bytes that are not valid UTF-8, GB18030 (what Excel on a
//!   Chinese Windows saves).
//! - **XLSX**: the first worksheet is read. A number with no fraction comes
//!   out as an integer string (`13800000000`, not `13800000000.0`);
//!   `TRUE`/`FALSE` for booleans; a cell holding an error value (`#REF!`) is
//!   a row error. Legacy `.xls` files are refused.
//! - **Department paths** (`部门` / `department`) are relative to the root
//!   department, whose name is never written: `Sales/East;HR` is
//!   `[["Sales", "East"], ["HR"]]`. See [`parse_department_paths`].
//!
//! ```
//! use qiye_directory_file::{FileFormat, read_members};
//!
//! let file = "姓名,帐号,部门\n张三,zhangsan,Sales/East;HR\n李四,,\n";
//! let rows = read_members(file.as_bytes(), FileFormat::sniff(file.as_bytes()))?;
//! let zhangsan = rows[0].as_ref().unwrap();
//! assert_eq!(zhangsan.departments, [vec!["Sales", "East"], vec!["HR"]]);
//! let error = rows[1].as_ref().unwrap_err();
//! assert_eq!((error.line, error.reason.as_str()), (3, "帐号 is empty"));
//! # Ok::<(), qiye_directory_file::FileError>(())
//! ```
//!
//! # Writing
//!
//! [`write_members`], [`write_departments`] and [`write_report`] write every
//! column with Chinese or English headers ([`HeaderLanguage`]). CSV is UTF-8
//! with a byte order mark (so Excel shows Chinese) and CRLF line ends. What
//! the writers produce, the readers read back to the same values.
//!
//! # Formula injection
//!
//! A spreadsheet opening a CSV file runs a cell starting with `=`, `+`, `-`
//! or `@` as a formula. The rule, applied to text cells:
//!
//! - The CSV writer puts a `'` before any value that, after leading
//!   whitespace and apostrophes, starts with one of those four characters
//!   (`=cmd` is written `'=cmd`, `'=cmd` is written `''=cmd`).
//! - The XLSX writer stores every value as a string cell, never a formula,
//!   so it only puts a `'` before a value that already starts with
//!   apostrophes followed by a trigger (`'=cmd` is written `''=cmd`).
//! - Both readers remove the first `'` of a trimmed value that starts with
//!   `'` and then, after any further apostrophes and whitespace, a trigger
//!   (`'+86 138…` is read `+86 138…`); any other value is left as it is
//!   (`'quoted` stays `'quoted`).
//!
//! So a value survives a write and a read unchanged, and a file edited in a
//! spreadsheet that kept the `'` reads back as the user meant.

mod department;
mod error;
mod format;
mod member;
mod paths;
mod report;
mod table;
mod text;
mod writer;

pub use department::{DepartmentRow, ExportDepartment, read_departments, write_departments};
pub use error::{FileError, RowError};
pub use format::{FileFormat, HeaderLanguage};
pub use member::{ExportMember, MemberRow, read_members, write_members};
pub use paths::{MAX_SEGMENT_CHARS, parse_department_path, parse_department_paths, split_userids};
pub use report::{RowReport, write_report};
