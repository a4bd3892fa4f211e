//! Format-independent tables: raw rows from CSV or XLSX, and the mapping of
//! a header row onto known fields.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use crate::format::{OLE_MAGIC, ZIP_MAGIC};
use crate::text::{decode, normalise_header, sniff_delimiter, unescape};
use crate::{FileError, FileFormat};

/// How many non-blank rows may stand above the header row (the instruction
/// rows of WeCom's template).
const HEADER_SEARCH_ROWS: usize = 10;

/// One non-blank row as it is in the file.
#[derive(Debug)]
pub(crate) struct RawRow {
    /// 1-based line (CSV: the record's first line) or worksheet row number.
    pub line: usize,
    /// The cells, untrimmed, in column order.
    pub cells: Vec<String>,
    /// Cells holding a spreadsheet error value: column index and the error.
    pub cell_errors: Vec<(usize, String)>,
}

impl RawRow {
    fn is_blank(&self) -> bool {
        self.cell_errors.is_empty() && self.cells.iter().all(|c| c.trim().is_empty())
    }
}

/// Reads every non-blank row of a file.
pub(crate) fn read_rows(bytes: &[u8], format: FileFormat) -> Result<Vec<RawRow>, FileError> {
    if bytes.starts_with(OLE_MAGIC) {
        return Err(FileError::LegacyXls);
    }
    match format {
        FileFormat::Csv => read_csv_rows(bytes),
        FileFormat::Xlsx => read_xlsx_rows(bytes),
    }
}

fn read_csv_rows(bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    if bytes.starts_with(ZIP_MAGIC) {
        return Err(FileError::NotCsv);
    }
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                let line = err
                    .position()
                    .map_or(reader.position().line(), csv::Position::line);
                return Err(FileError::Csv {
                    line: usize::try_from(line).unwrap_or(usize::MAX),
                    reason: err.to_string(),
                });
            }
        }
        let offset = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let row = RawRow {
            line: line_at(&text, &newlines, offset),
            cells: record.iter().map(str::to_owned).collect(),
            cell_errors: Vec::new(),
        };
        if !row.is_blank() {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The 1-based line of the record the parser reports at byte `offset`.
///
/// The parser counts the blank lines it skips before a record as part of
/// that record, so the record's own first line is found by stepping over
/// line ends from `offset`.
fn line_at(text: &str, newlines: &[usize], offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = offset.min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    newlines.partition_point(|&n| n < start) + 1
}

fn read_xlsx_rows(bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| FileError::Xlsx(e.to_string()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or(FileError::NoWorksheet)?
        .map_err(|e| FileError::Xlsx(e.to_string()))?;
    let Some((first_row, first_col)) = range.start() else {
        return Ok(Vec::new());
    };
    let offset = first_col as usize;
    let mut rows = Vec::new();
    for (index, cells) in range.rows().enumerate() {
        let mut row = RawRow {
            line: first_row as usize + index + 1,
            cells: vec![String::new(); offset],
            cell_errors: Vec::new(),
        };
        for (col, cell) in cells.iter().enumerate() {
            match cell_text(cell) {
                Ok(text) => row.cells.push(text),
                Err(error) => {
                    row.cell_errors.push((offset + col, error));
                    row.cells.push(String::new());
                }
            }
        }
        if !row.is_blank() {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The text of a workbook cell: numbers with no fraction come out as integer
/// strings (`13800000000`, not `13800000000.0`); an error value is an `Err`.
fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(dt) => number_text(dt.as_f64()),
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// Formats a float as an integer when it is one (and is exactly
/// representable), as the shortest decimal otherwise.
fn number_text(f: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= EXACT {
        // The value is integral and within i64, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i64;
        i.to_string()
    } else {
        f.to_string()
    }
}

/// A column a reader knows.
#[derive(Debug)]
pub(crate) struct FieldSpec {
    /// The English field name, as written in English headers and errors.
    pub en: &'static str,
    /// The Chinese header written in Chinese files.
    pub zh: &'static str,
    /// Every accepted header (normalised on comparison).
    pub aliases: &'static [&'static str],
    /// Accepted headers whose yes/no value means the opposite of the field
    /// (`禁用` for `enable`).
    pub inverted_aliases: &'static [&'static str],
    /// Whether the header row must have this column.
    pub required: bool,
}

impl FieldSpec {
    /// The header to write for `language`.
    pub fn header(&self, language: crate::HeaderLanguage) -> &'static str {
        match language {
            crate::HeaderLanguage::Chinese => self.zh,
            crate::HeaderLanguage::English => self.en,
        }
    }

    fn matches(&self, normalised: &str) -> Option<bool> {
        if self
            .aliases
            .iter()
            .any(|a| normalise_header(a) == normalised)
        {
            Some(false)
        } else if self
            .inverted_aliases
            .iter()
            .any(|a| normalise_header(a) == normalised)
        {
            Some(true)
        } else {
            None
        }
    }
}

/// Whether a header (as written) names one of `specs`' columns.
pub(crate) fn is_known_header(specs: &[FieldSpec], header: &str) -> bool {
    let normalised = normalise_header(header);
    specs.iter().any(|s| s.matches(&normalised).is_some())
}

/// What one column of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A known field: its index in the spec list.
    Field(usize),
    /// An unknown column, reported as an extra.
    Extra,
    /// A column with an empty header.
    Blank,
}

/// The header row mapped onto fields.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The headers as written, trimmed, by column.
    headers: Vec<String>,
    roles: Vec<Role>,
    /// For each spec: its column, and whether it came from an inverted alias.
    fields: Vec<Option<(usize, bool)>>,
}

impl Layout {
    fn build(row: &RawRow, specs: &[FieldSpec]) -> Result<Self, FileError> {
        let mut layout = Self {
            headers: Vec::with_capacity(row.cells.len()),
            roles: Vec::with_capacity(row.cells.len()),
            fields: vec![None; specs.len()],
        };
        let mut extras: Vec<(String, usize)> = Vec::new();
        for (col, cell) in row.cells.iter().enumerate() {
            let header =
                unescape(cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'))
                    .to_owned();
            let normalised = normalise_header(&header);
            let matched = specs
                .iter()
                .enumerate()
                .find_map(|(i, s)| s.matches(&normalised).map(|inv| (i, inv)));
            let role = if let Some((field, inverted)) = matched {
                if let Some((prev, _)) = layout.fields[field] {
                    return Err(FileError::DuplicateColumn {
                        line: row.line,
                        column: specs[field].en.to_owned(),
                        first: layout.headers[prev].clone(),
                        second: header,
                    });
                }
                layout.fields[field] = Some((col, inverted));
                Role::Field(field)
            } else if normalised.is_empty() {
                Role::Blank
            } else {
                if let Some((_, prev)) = extras.iter().find(|(n, _)| *n == normalised) {
                    return Err(FileError::DuplicateColumn {
                        line: row.line,
                        column: header.clone(),
                        first: layout.headers[*prev].clone(),
                        second: header,
                    });
                }
                extras.push((normalised, col));
                Role::Extra
            };
            layout.headers.push(header);
            layout.roles.push(role);
        }
        Ok(layout)
    }

    /// The header of a field's column as written in the file, or the English
    /// field name when the file has no such column.
    pub fn header_of(&self, specs: &[FieldSpec], field: usize) -> String {
        match self.fields[field] {
            Some((col, _)) => self.headers[col].clone(),
            None => specs[field].en.to_owned(),
        }
    }

    /// Whether the field's column came from an inverted alias.
    pub fn is_inverted(&self, field: usize) -> bool {
        self.fields[field].is_some_and(|(_, inverted)| inverted)
    }

    /// Splits a data row into per-field values (trimmed, formula escape
    /// undone, empty as `None`), extra `(header, value)` pairs with a value,
    /// and structural problems (error cells, values under no header).
    pub fn split(&self, row: &RawRow) -> SplitRow {
        let mut split = SplitRow {
            values: vec![None; self.fields.len()],
            extra: Vec::new(),
            problems: Vec::new(),
        };
        for (col, error) in &row.cell_errors {
            let header = self
                .headers
                .get(*col)
                .filter(|h| !h.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("column {}", col + 1));
            split.problems.push(format!(
                "{header}: the cell holds the spreadsheet error {error}"
            ));
        }
        for (col, cell) in row.cells.iter().enumerate() {
            let value = unescape(cell.trim());
            if value.is_empty() {
                continue;
            }
            match self.roles.get(col) {
                Some(Role::Field(field)) => split.values[*field] = Some(value.to_owned()),
                Some(Role::Extra) => split
                    .extra
                    .push((self.headers[col].clone(), value.to_owned())),
                Some(Role::Blank) | None => split.problems.push(format!(
                    "column {} has the value {value:?} but no header",
                    col + 1
                )),
            }
        }
        split
    }
}

/// One data row split by [`Layout::split`].
#[derive(Debug)]
pub(crate) struct SplitRow {
    /// Per field (spec order): the trimmed non-empty value.
    pub values: Vec<Option<String>>,
    /// Unknown columns with a value, as `(header, value)`.
    pub extra: Vec<(String, String)>,
    /// Problems that make the row unusable.
    pub problems: Vec<String>,
}

impl SplitRow {
    /// Takes a field's value out.
    pub fn take(&mut self, field: usize) -> Option<String> {
        self.values[field].take()
    }
}

/// Finds the header row: the first of the first few non-blank rows that
/// names every required column. Returns its index in `rows` and its layout
/// (or the layout's error, such as a duplicate column).
///
/// When no row qualifies, the error names the first required column that the
/// first non-blank row lacks.
pub(crate) fn locate_header(
    rows: &[RawRow],
    specs: &[FieldSpec],
) -> Result<(usize, Layout), FileError> {
    let first = rows.first().ok_or(FileError::Empty)?;
    let missing_in = |row: &RawRow| {
        let normalised: Vec<String> = row.cells.iter().map(|c| normalise_header(c)).collect();
        specs
            .iter()
            .find(|s| s.required && !normalised.iter().any(|h| s.matches(h).is_some()))
    };
    for (index, row) in rows.iter().take(HEADER_SEARCH_ROWS).enumerate() {
        if missing_in(row).is_none() {
            return Layout::build(row, specs).map(|layout| (index, layout));
        }
    }
    let spec = missing_in(first).unwrap_or(&specs[0]);
    Err(FileError::MissingColumn {
        line: first.line,
        column: spec.en,
        accepted: spec.aliases.join(", "),
    })
}

/// Reads a file and maps its header: returns the layout and the data rows
/// below the header.
pub(crate) fn read_table(
    bytes: &[u8],
    format: FileFormat,
    specs: &[FieldSpec],
) -> Result<(Layout, Vec<RawRow>), FileError> {
    let mut rows = read_rows(bytes, format)?;
    let (index, layout) = locate_header(&rows, specs)?;
    let data = rows.split_off(index + 1);
    Ok((layout, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FieldSpec] = &[
        FieldSpec {
            en: "userid",
            zh: "帐号",
            aliases: &["帐号", "userid"],
            inverted_aliases: &[],
            required: true,
        },
        FieldSpec {
            en: "enable",
            zh: "启用状态",
            aliases: &["启用状态", "enable"],
            inverted_aliases: &["禁用"],
            required: false,
        },
    ];

    fn row(line: usize, cells: &[&str]) -> RawRow {
        RawRow {
            line,
            cells: cells.iter().map(|c| (*c).to_owned()).collect(),
            cell_errors: Vec::new(),
        }
    }

    #[test]
    fn number_text_drops_integral_fraction() {
        assert_eq!(number_text(13_800_000_000.0), "13800000000");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(1.5), "1.5");
        assert_eq!(number_text(1e20), "100000000000000000000");
        assert_eq!(number_text(f64::NAN), "NaN");
    }

    #[test]
    fn header_search_skips_instruction_rows() {
        let rows = vec![
            row(1, &["填写说明：帐号必填"]),
            row(2, &["", ""]),
            row(3, &["帐号", "禁用"]),
            row(4, &["zhangsan", "是"]),
        ];
        let (index, layout) = locate_header(&rows, SPECS).unwrap();
        assert_eq!(index, 2);
        assert!(layout.is_inverted(1));
    }

    #[test]
    fn missing_column_names_first_row() {
        let rows = vec![row(2, &["name"]), row(3, &["x"])];
        assert_eq!(
            locate_header(&rows, SPECS).unwrap_err(),
            FileError::MissingColumn {
                line: 2,
                column: "userid",
                accepted: "帐号, userid".to_owned()
            }
        );
    }

    #[test]
    fn enable_and_disable_columns_together_are_duplicates() {
        let rows = vec![row(1, &["帐号", "enable", "禁用"])];
        assert!(matches!(
            locate_header(&rows, SPECS).unwrap_err(),
            FileError::DuplicateColumn { column, .. } if column == "enable"
        ));
    }

    #[test]
    fn split_reports_values_without_header() {
        let rows = vec![row(1, &["帐号", "", "备注"]), row(2, &["a", "x", "n", "y"])];
        let (_, layout) = locate_header(&rows, SPECS).unwrap();
        let split = layout.split(&rows[1]);
        assert_eq!(split.values[0].as_deref(), Some("a"));
        assert_eq!(split.extra, vec![("备注".to_owned(), "n".to_owned())]);
        assert_eq!(
            split.problems,
            vec![
                "column 2 has the value \"x\" but no header".to_owned(),
                "column 4 has the value \"y\" but no header".to_owned()
            ]
        );
    }

    #[test]
    fn csv_positions_are_record_start_lines() {
        let text = "a,b\n\n\"x\ny\",2\n,\nz,3\n";
        let rows = read_csv_rows(text.as_bytes()).unwrap();
        let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 3, 6]);
        assert_eq!(rows[1].cells[0], "x\ny");
    }

    #[test]
    fn legacy_xls_and_zip_as_csv_are_refused() {
        assert_eq!(
            read_rows(OLE_MAGIC, FileFormat::Csv).unwrap_err(),
            FileError::LegacyXls
        );
        assert_eq!(
            read_rows(b"PK\x03\x04junk", FileFormat::Csv).unwrap_err(),
            FileError::NotCsv
        );
        assert!(matches!(
            read_rows(b"PK\x03\x04junk", FileFormat::Xlsx).unwrap_err(),
            FileError::Xlsx(_)
        ));
        assert!(matches!(
            read_rows(b"name,userid", FileFormat::Xlsx).unwrap_err(),
            FileError::Xlsx(_)
        ));
    }
}
