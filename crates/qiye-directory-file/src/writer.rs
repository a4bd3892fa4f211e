//! Writing a table of cells as CSV or XLSX.

use rust_xlsxwriter::{Format, Workbook};

use crate::text::{escape_csv, escape_xlsx};
use crate::{FileError, FileFormat};

/// The largest integer magnitude a spreadsheet number holds exactly (2^53).
const MAX_EXACT: u64 = 1 << 53;

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// Nothing.
    Empty,
    /// Text, escaped against formula injection on the way out.
    Text(String),
    /// An integer, written as a number cell in XLSX.
    Number(i64),
}

impl Cell {
    pub fn text(value: &str) -> Self {
        if value.is_empty() {
            Self::Empty
        } else {
            Self::Text(value.to_owned())
        }
    }

    pub fn opt_text(value: Option<&str>) -> Self {
        value.map_or(Self::Empty, Self::text)
    }

    pub fn opt_number(value: Option<i64>) -> Self {
        value.map_or(Self::Empty, Self::Number)
    }

    /// Joins values with `sep`, empty when there is none.
    pub fn joined<T: ToString>(values: &[T], sep: &str) -> Self {
        let joined: Vec<String> = values.iter().map(ToString::to_string).collect();
        Self::text(&joined.join(sep))
    }
}

/// A table to write: one worksheet or one CSV file.
#[derive(Debug)]
pub(crate) struct Sheet {
    /// The worksheet name (XLSX only).
    pub name: &'static str,
    /// The header row.
    pub headers: Vec<String>,
    /// The data rows; each as long as `headers`.
    pub rows: Vec<Vec<Cell>>,
}

impl Sheet {
    pub fn write(&self, format: FileFormat) -> Result<Vec<u8>, FileError> {
        match format {
            FileFormat::Csv => self.write_csv(),
            FileFormat::Xlsx => self.write_xlsx(),
        }
    }

    fn write_csv(&self) -> Result<Vec<u8>, FileError> {
        // A UTF-8 byte order mark, so that Excel does not read the file as
        // the system's ANSI code page.
        let out = b"\xEF\xBB\xBF".to_vec();
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        let write_error = |e: csv::Error| FileError::Write(e.to_string());
        writer
            .write_record(self.headers.iter().map(|h| escape_csv(h).into_owned()))
            .map_err(write_error)?;
        for row in &self.rows {
            writer
                .write_record(row.iter().map(|cell| match cell {
                    Cell::Empty => String::new(),
                    Cell::Text(text) => escape_csv(text).into_owned(),
                    Cell::Number(n) => n.to_string(),
                }))
                .map_err(write_error)?;
        }
        writer
            .into_inner()
            .map_err(|e| FileError::Write(e.error().to_string()))
    }

    fn write_xlsx(&self) -> Result<Vec<u8>, FileError> {
        let xlsx_error = |e: rust_xlsxwriter::XlsxError| FileError::Write(e.to_string());
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(self.name).map_err(xlsx_error)?;
        let bold = Format::new().set_bold();
        // Text format for whole columns, so values typed in later (mobiles,
        // userids) are kept as typed instead of turned into numbers.
        let text = Format::new().set_num_format("@");
        for (col, header) in self.headers.iter().enumerate() {
            let col =
                u16::try_from(col).map_err(|_| FileError::Write("too many columns".into()))?;
            sheet
                .set_column_width(col, 16)
                .map_err(xlsx_error)?
                .set_column_format(col, &text)
                .map_err(xlsx_error)?
                .write_string_with_format(0, col, header.as_str(), &bold)
                .map_err(xlsx_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        for (index, row) in self.rows.iter().enumerate() {
            let line =
                u32::try_from(index + 1).map_err(|_| FileError::Write("too many rows".into()))?;
            for (col, cell) in row.iter().enumerate() {
                let col =
                    u16::try_from(col).map_err(|_| FileError::Write("too many columns".into()))?;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(value) => {
                        sheet
                            .write_string(line, col, escape_xlsx(value).as_ref())
                            .map_err(xlsx_error)?;
                    }
                    Cell::Number(n) if n.unsigned_abs() <= MAX_EXACT => {
                        // Within 2^53 an f64 holds every integer exactly.
                        #[allow(clippy::cast_precision_loss)]
                        let number = *n as f64;
                        sheet.write_number(line, col, number).map_err(xlsx_error)?;
                    }
                    Cell::Number(n) => {
                        sheet
                            .write_string(line, col, n.to_string())
                            .map_err(xlsx_error)?;
                    }
                }
            }
        }
        workbook.save_to_buffer().map_err(xlsx_error)
    }
}
