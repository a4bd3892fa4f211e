//! The department file: WeCom's department template (batch/replaceparty).

use crate::table::{FieldSpec, Layout, RawRow, read_table};
use crate::writer::{Cell, Sheet};
use crate::{FileError, FileFormat, HeaderLanguage, RowError};

const NAME: usize = 0;
const ID: usize = 1;
const PARENT_ID: usize = 2;
const ORDER: usize = 3;
const NAME_EN: usize = 4;

/// The department columns. Index = the constants above.
pub(crate) const DEPARTMENT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        en: "name",
        zh: "部门名称",
        aliases: &["部门名称", "名称", "部门", "name"],
        inverted_aliases: &[],
        required: true,
    },
    FieldSpec {
        en: "id",
        zh: "部门ID",
        aliases: &["部门ID", "部门编号", "id", "department_id"],
        inverted_aliases: &[],
        required: false,
    },
    FieldSpec {
        en: "parentid",
        zh: "父部门ID",
        aliases: &[
            "父部门ID",
            "上级部门ID",
            "父部门编号",
            "parentid",
            "parent_id",
        ],
        inverted_aliases: &[],
        required: false,
    },
    FieldSpec {
        en: "order",
        zh: "排序",
        aliases: &["排序", "order"],
        inverted_aliases: &[],
        required: false,
    },
    FieldSpec {
        en: "name_en",
        zh: "英文名称",
        aliases: &["英文名称", "name_en"],
        inverted_aliases: &[],
        required: false,
    },
];

/// One department row of an import file: trimmed strings, empty cells as
/// `None`. Ids are not checked to be numbers; the caller does that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DepartmentRow {
    /// The row's 1-based line in the file (see [`RowError::line`]).
    pub line: usize,
    /// `部门名称` / `name`. Never empty.
    pub name: String,
    /// `英文名称` / `name_en`.
    pub name_en: Option<String>,
    /// `部门ID` / `id`.
    pub id: Option<String>,
    /// `父部门ID` / `parentid`.
    pub parent_id: Option<String>,
    /// `排序` / `order`.
    pub order: Option<String>,
    /// Columns the reader does not know, as `(header as written, value)`.
    pub extra: Vec<(String, String)>,
}

/// Reads a department file.
///
/// The header row must name the `name` (`部门名称`) column and must not name
/// a column twice, or the whole file is refused. Each data row gives either a
/// [`DepartmentRow`] or a [`RowError`]; a bad row does not stop the others.
pub fn read_departments(
    bytes: &[u8],
    format: FileFormat,
) -> Result<Vec<Result<DepartmentRow, RowError>>, FileError> {
    let (layout, rows) = read_table(bytes, format, DEPARTMENT_FIELDS)?;
    Ok(rows
        .iter()
        .map(|row| department_row(&layout, row))
        .collect())
}

fn department_row(layout: &Layout, row: &RawRow) -> Result<DepartmentRow, RowError> {
    let mut split = layout.split(row);
    let mut problems = std::mem::take(&mut split.problems);
    let name = split.take(NAME).unwrap_or_else(|| {
        problems.push(format!(
            "{} is empty",
            layout.header_of(DEPARTMENT_FIELDS, NAME)
        ));
        String::new()
    });
    if !problems.is_empty() {
        return Err(RowError {
            line: row.line,
            reason: problems.join("; "),
        });
    }
    Ok(DepartmentRow {
        line: row.line,
        name,
        name_en: split.take(NAME_EN),
        id: split.take(ID),
        parent_id: split.take(PARENT_ID),
        order: split.take(ORDER),
        extra: split.extra,
    })
}

/// One department to export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportDepartment {
    /// `部门名称` / `name`.
    pub name: String,
    /// `英文名称` / `name_en`.
    pub name_en: Option<String>,
    /// `部门ID` / `id`.
    pub id: i64,
    /// `父部门ID` / `parentid`: 0 for the root department.
    pub parent_id: i64,
    /// `排序` / `order`.
    pub order: i64,
}

/// Writes departments as a department file that [`read_departments`] reads
/// back to the same values: the columns `部门名称, 部门ID, 父部门ID, 排序,
/// 英文名称` (or `name, id, parentid, order, name_en`), ids and orders as
/// numbers. Rows are written in the given order; list parents before their
/// children so the file can be imported as it is.
pub fn write_departments(
    departments: &[ExportDepartment],
    format: FileFormat,
    language: HeaderLanguage,
) -> Result<Vec<u8>, FileError> {
    let headers = DEPARTMENT_FIELDS
        .iter()
        .map(|f| f.header(language).to_owned())
        .collect();
    let rows = departments
        .iter()
        .map(|d| {
            vec![
                Cell::text(&d.name),
                Cell::Number(d.id),
                Cell::Number(d.parent_id),
                Cell::Number(d.order),
                Cell::opt_text(d.name_en.as_deref()),
            ]
        })
        .collect();
    let name = match language {
        HeaderLanguage::Chinese => "部门",
        HeaderLanguage::English => "Departments",
    };
    Sheet {
        name,
        headers,
        rows,
    }
    .write(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_indices_match_the_table() {
        for (index, name) in [
            (NAME, "name"),
            (ID, "id"),
            (PARENT_ID, "parentid"),
            (ORDER, "order"),
            (NAME_EN, "name_en"),
        ] {
            assert_eq!(DEPARTMENT_FIELDS[index].en, name);
        }
        assert_eq!(DEPARTMENT_FIELDS.len(), 5);
    }
}
