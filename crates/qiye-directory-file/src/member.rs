//! The member file: WeCom's member template (batch/syncuser, batch/replaceuser).

use crate::paths::{parse_department_paths, split_userids};
use crate::table::{FieldSpec, Layout, RawRow, is_known_header, read_table};
use crate::writer::{Cell, Sheet};
use crate::{FileError, FileFormat, HeaderLanguage, RowError};

// Field indices into `MEMBER_FIELDS`, in the column order the writer uses.
const NAME: usize = 0;
const USERID: usize = 1;
const ALIAS: usize = 2;
const POSITION: usize = 3;
const DEPARTMENTS: usize = 4;
const GENDER: usize = 5;
const MOBILE: usize = 6;
const TELEPHONE: usize = 7;
const EMAIL: usize = 8;
const ADDRESS: usize = 9;
const BIZ_MAIL: usize = 10;
const MAIN_DEPARTMENT: usize = 11;
const IS_LEADER: usize = 12;
const DIRECT_LEADER: usize = 13;
const ENGLISH_NAME: usize = 14;
const EXTERNAL_POSITION: usize = 15;
const ORDER: usize = 16;
const ENABLE: usize = 17;
const STATUS: usize = 18;

const fn field(
    en: &'static str,
    zh: &'static str,
    aliases: &'static [&'static str],
    required: bool,
) -> FieldSpec {
    FieldSpec {
        en,
        zh,
        aliases,
        inverted_aliases: &[],
        required,
    }
}

/// The member columns. Index = the constants above.
pub(crate) const MEMBER_FIELDS: &[FieldSpec] = &[
    field("name", "姓名", &["姓名", "name"], true),
    field(
        "userid",
        "帐号",
        &["帐号", "账号", "userid", "account"],
        true,
    ),
    field("alias", "别名", &["别名", "alias"], false),
    field("position", "职务", &["职务", "position"], false),
    field(
        "department",
        "部门",
        &["部门", "所在部门", "department", "departments"],
        false,
    ),
    field("gender", "性别", &["性别", "gender"], false),
    field(
        "mobile",
        "手机",
        &["手机", "手机号", "手机号码", "mobile"],
        false,
    ),
    field(
        "telephone",
        "座机",
        &["座机", "电话", "telephone", "tel"],
        false,
    ),
    field("email", "个人邮箱", &["个人邮箱", "邮箱", "email"], false),
    field("address", "地址", &["地址", "address"], false),
    field("biz_mail", "企业邮箱", &["企业邮箱", "biz_mail"], false),
    field(
        "main_department",
        "主部门",
        &["主部门", "main_department"],
        false,
    ),
    field(
        "is_leader_in_dept",
        "是否部门负责人",
        &[
            "是否部门负责人",
            "部门负责人",
            "is_leader_in_dept",
            "is_leader",
        ],
        false,
    ),
    field(
        "direct_leader",
        "直属上级",
        &["直属上级", "direct_leader"],
        false,
    ),
    field("english_name", "英文名", &["英文名", "english_name"], false),
    field(
        "external_position",
        "对外职务",
        &["对外职务", "external_position"],
        false,
    ),
    field("order", "排序", &["排序", "order"], false),
    FieldSpec {
        en: "enable",
        zh: "启用状态",
        aliases: &["启用状态", "启用", "enable", "enabled"],
        inverted_aliases: &["禁用", "禁用状态", "disable", "disabled"],
        required: false,
    },
    field("status", "激活状态", &["激活状态", "status"], false),
];

/// One member row of an import file: trimmed strings, with empty cells as
/// `None` (or an empty list). Nothing here is validated beyond the file's own
/// rules; the caller checks userids, mobiles, departments and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberRow {
    /// The row's 1-based line in the file (see [`RowError::line`]).
    pub line: usize,
    /// `帐号` / `userid`. Never empty.
    pub userid: String,
    /// `姓名` / `name`. Never empty.
    pub name: String,
    /// `别名` / `alias`.
    pub alias: Option<String>,
    /// `职务` / `position`.
    pub position: Option<String>,
    /// `部门` / `department`: department paths relative to the root, each
    /// split into names (`Sales/East;HR` is `[["Sales","East"],["HR"]]`).
    pub departments: Vec<Vec<String>>,
    /// `性别` / `gender`, raw (`男`, `女`, `male`, `1`, `2`, `0`, `未知`, ...).
    pub gender: Option<String>,
    /// `手机` / `mobile`.
    pub mobile: Option<String>,
    /// `座机` / `telephone`.
    pub telephone: Option<String>,
    /// `个人邮箱` / `email`.
    pub email: Option<String>,
    /// `企业邮箱` / `biz_mail`.
    pub biz_mail: Option<String>,
    /// `地址` / `address`.
    pub address: Option<String>,
    /// `主部门` / `main_department`: one department path.
    pub main_department: Option<Vec<String>>,
    /// `是否部门负责人` / `is_leader_in_dept`, raw (`1;0`, `是;否`, ...), one
    /// flag per department in `departments` order.
    pub is_leader: Option<String>,
    /// `直属上级` / `direct_leader`: userids (split on `;` or `,`).
    pub direct_leader: Vec<String>,
    /// `启用状态` / `enable`, raw (`1`, `0`, `是`, `否`, ...). A `禁用` /
    /// `disabled` column is read into this field inverted: a yes there (`是`,
    /// `1`, `true`, `yes`, `禁用`) gives `"0"`, a no gives `"1"`.
    pub enable: Option<String>,
    /// `英文名` / `english_name`.
    pub english_name: Option<String>,
    /// `对外职务` / `external_position`.
    pub external_position: Option<String>,
    /// `排序` / `order`, raw (one number, or one per department, `;`-separated).
    pub order: Option<String>,
    /// `激活状态` / `status`, raw. Written by export for information; an
    /// import is expected to ignore it.
    pub status: Option<String>,
    /// Columns the reader does not know, as `(header as written, value)`, in
    /// column order, for cells that have a value.
    pub extra: Vec<(String, String)>,
}

/// Reads a member file.
///
/// The header row must name the `userid` (`帐号`) and `name` (`姓名`)
/// columns and must not name a column twice, or the whole file is refused.
/// Each data row then gives either a [`MemberRow`] or a [`RowError`] with
/// the row's line and every problem found; a bad row does not stop the
/// others. Fully blank rows are skipped.
pub fn read_members(
    bytes: &[u8],
    format: FileFormat,
) -> Result<Vec<Result<MemberRow, RowError>>, FileError> {
    let (layout, rows) = read_table(bytes, format, MEMBER_FIELDS)?;
    Ok(rows.iter().map(|row| member_row(&layout, row)).collect())
}

fn member_row(layout: &Layout, row: &RawRow) -> Result<MemberRow, RowError> {
    let mut split = layout.split(row);
    let mut problems = std::mem::take(&mut split.problems);
    let header = |field: usize| layout.header_of(MEMBER_FIELDS, field);

    let mut required = |field: usize, problems: &mut Vec<String>| {
        split.take(field).unwrap_or_else(|| {
            problems.push(format!("{} is empty", header(field)));
            String::new()
        })
    };
    let userid = required(USERID, &mut problems);
    let name = required(NAME, &mut problems);

    let departments = match split.take(DEPARTMENTS) {
        None => Vec::new(),
        Some(cell) => parse_department_paths(&cell).unwrap_or_else(|reason| {
            problems.push(format!("{}: {reason}", header(DEPARTMENTS)));
            Vec::new()
        }),
    };
    let main_department = match split.take(MAIN_DEPARTMENT) {
        None => None,
        Some(cell) => match parse_department_paths(&cell) {
            Ok(mut paths) if paths.len() <= 1 => paths.pop(),
            Ok(_) => {
                problems.push(format!(
                    "{}: names more than one department",
                    header(MAIN_DEPARTMENT)
                ));
                None
            }
            Err(reason) => {
                problems.push(format!("{}: {reason}", header(MAIN_DEPARTMENT)));
                None
            }
        },
    };
    let direct_leader = split
        .take(DIRECT_LEADER)
        .map_or_else(Vec::new, |cell| split_userids(&cell));
    let enable = match split.take(ENABLE) {
        Some(value) if layout.is_inverted(ENABLE) => match invert_yes_no(&value) {
            Some(enable) => Some(enable.to_owned()),
            None => {
                problems.push(format!(
                    "{}: {value:?} is neither yes (是/1) nor no (否/0)",
                    header(ENABLE)
                ));
                None
            }
        },
        other => other,
    };

    if !problems.is_empty() {
        return Err(RowError {
            line: row.line,
            reason: problems.join("; "),
        });
    }
    Ok(MemberRow {
        line: row.line,
        userid,
        name,
        alias: split.take(ALIAS),
        position: split.take(POSITION),
        departments,
        gender: split.take(GENDER),
        mobile: split.take(MOBILE),
        telephone: split.take(TELEPHONE),
        email: split.take(EMAIL),
        biz_mail: split.take(BIZ_MAIL),
        address: split.take(ADDRESS),
        main_department,
        is_leader: split.take(IS_LEADER),
        direct_leader,
        enable,
        english_name: split.take(ENGLISH_NAME),
        external_position: split.take(EXTERNAL_POSITION),
        order: split.take(ORDER),
        status: split.take(STATUS),
        extra: split.extra,
    })
}

/// Reads a `禁用` (disabled) cell as the `enable` value: yes → `"0"`, no → `"1"`.
fn invert_yes_no(value: &str) -> Option<&'static str> {
    match value.to_lowercase().as_str() {
        "是" | "1" | "true" | "yes" | "y" | "禁用" | "已禁用" => Some("0"),
        "否" | "0" | "false" | "no" | "n" | "启用" | "已启用" => Some("1"),
        _ => None,
    }
}

/// One member to export. Lists are written `;`-separated in one cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportMember {
    /// `帐号` / `userid`.
    pub userid: String,
    /// `姓名` / `name`.
    pub name: String,
    /// `别名` / `alias`.
    pub alias: Option<String>,
    /// `职务` / `position`.
    pub position: Option<String>,
    /// `部门` / `department`: full paths relative to the root, names joined
    /// with `/` (`Sales/East`). A path may not contain `;`.
    pub departments: Vec<String>,
    /// `主部门` / `main_department`: one path like those in `departments`.
    pub main_department: Option<String>,
    /// `是否部门负责人` / `is_leader_in_dept`: one 0/1 flag per department.
    pub is_leader_in_dept: Vec<i64>,
    /// `排序` / `order`: one order per department.
    pub order: Vec<i64>,
    /// `直属上级` / `direct_leader`: userids.
    pub direct_leader: Vec<String>,
    /// `性别` / `gender`: 0 unknown, 1 male, 2 female (written as the number).
    pub gender: Option<i64>,
    /// `手机` / `mobile`.
    pub mobile: Option<String>,
    /// `座机` / `telephone`.
    pub telephone: Option<String>,
    /// `个人邮箱` / `email`.
    pub email: Option<String>,
    /// `企业邮箱` / `biz_mail`.
    pub biz_mail: Option<String>,
    /// `地址` / `address`.
    pub address: Option<String>,
    /// `英文名` / `english_name`.
    pub english_name: Option<String>,
    /// `对外职务` / `external_position`.
    pub external_position: Option<String>,
    /// `启用状态` / `enable`: 1 enabled, 0 disabled.
    pub enable: Option<i64>,
    /// `激活状态` / `status`: WeCom's member status code (1 active,
    /// 2 disabled, 4 not yet active, 5 left).
    pub status: i64,
    /// Extra columns as `(header, value)`, such as extended attributes. Each
    /// distinct header becomes a column after the standard ones, in order of
    /// first appearance; a header must not be empty or name a standard
    /// column.
    pub extra: Vec<(String, String)>,
}

/// Writes members as a member file that [`read_members`] reads back to the
/// same values.
///
/// Every standard column is written, in the template's order, with headers
/// in `language`, followed by the extra columns. Refused (nothing written):
/// an extra header that is empty or names a standard column, two extra
/// headers that differ only in case or spacing, or a department path
/// containing `;`.
pub fn write_members(
    members: &[ExportMember],
    format: FileFormat,
    language: HeaderLanguage,
) -> Result<Vec<u8>, FileError> {
    let extra_headers = extra_headers(members)?;
    for member in members {
        let paths = member.departments.iter().chain(&member.main_department);
        if let Some(path) = paths.into_iter().find(|p| p.contains([';', '；'])) {
            return Err(FileError::Write(format!(
                "the department path {path:?} of {:?} contains ';'",
                member.userid
            )));
        }
    }
    let mut headers: Vec<String> = MEMBER_FIELDS
        .iter()
        .map(|f| f.header(language).to_owned())
        .collect();
    headers.extend(extra_headers.iter().cloned());
    let rows = members
        .iter()
        .map(|m| {
            let mut row = vec![
                Cell::text(&m.name),
                Cell::text(&m.userid),
                Cell::opt_text(m.alias.as_deref()),
                Cell::opt_text(m.position.as_deref()),
                Cell::joined(&m.departments, ";"),
                Cell::opt_number(m.gender),
                Cell::opt_text(m.mobile.as_deref()),
                Cell::opt_text(m.telephone.as_deref()),
                Cell::opt_text(m.email.as_deref()),
                Cell::opt_text(m.address.as_deref()),
                Cell::opt_text(m.biz_mail.as_deref()),
                Cell::opt_text(m.main_department.as_deref()),
                Cell::joined(&m.is_leader_in_dept, ";"),
                Cell::joined(&m.direct_leader, ";"),
                Cell::opt_text(m.english_name.as_deref()),
                Cell::opt_text(m.external_position.as_deref()),
                Cell::joined(&m.order, ";"),
                Cell::opt_number(m.enable),
                Cell::Number(m.status),
            ];
            debug_assert_eq!(row.len(), MEMBER_FIELDS.len());
            row.extend(extra_headers.iter().map(|h| {
                let value = m
                    .extra
                    .iter()
                    .find(|(k, _)| k == h)
                    .map(|(_, v)| v.as_str());
                Cell::opt_text(value)
            }));
            row
        })
        .collect();
    let name = match language {
        HeaderLanguage::Chinese => "成员",
        HeaderLanguage::English => "Members",
    };
    Sheet {
        name,
        headers,
        rows,
    }
    .write(format)
}

/// The distinct extra headers, in order of first appearance, checked to read
/// back as extras.
fn extra_headers(members: &[ExportMember]) -> Result<Vec<String>, FileError> {
    let mut headers: Vec<String> = Vec::new();
    for (header, _) in members.iter().flat_map(|m| &m.extra) {
        if headers.contains(header) {
            continue;
        }
        let normalised = crate::text::normalise_header(header);
        if normalised.is_empty() || header.trim() != header {
            return Err(FileError::Write(format!(
                "the extra column header {header:?} is empty or has surrounding spaces"
            )));
        }
        if is_known_header(MEMBER_FIELDS, header) {
            return Err(FileError::Write(format!(
                "the extra column header {header:?} names a standard column"
            )));
        }
        if let Some(other) = headers
            .iter()
            .find(|h| crate::text::normalise_header(h) == normalised)
        {
            return Err(FileError::Write(format!(
                "the extra column headers {other:?} and {header:?} would read as one column"
            )));
        }
        headers.push(header.clone());
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_indices_match_the_table() {
        let names = [
            (NAME, "name"),
            (USERID, "userid"),
            (ALIAS, "alias"),
            (POSITION, "position"),
            (DEPARTMENTS, "department"),
            (GENDER, "gender"),
            (MOBILE, "mobile"),
            (TELEPHONE, "telephone"),
            (EMAIL, "email"),
            (ADDRESS, "address"),
            (BIZ_MAIL, "biz_mail"),
            (MAIN_DEPARTMENT, "main_department"),
            (IS_LEADER, "is_leader_in_dept"),
            (DIRECT_LEADER, "direct_leader"),
            (ENGLISH_NAME, "english_name"),
            (EXTERNAL_POSITION, "external_position"),
            (ORDER, "order"),
            (ENABLE, "enable"),
            (STATUS, "status"),
        ];
        assert_eq!(names.len(), MEMBER_FIELDS.len());
        for (index, name) in names {
            assert_eq!(MEMBER_FIELDS[index].en, name);
        }
    }

    #[test]
    fn no_header_names_two_fields() {
        let all: Vec<String> = MEMBER_FIELDS
            .iter()
            .flat_map(|f| f.aliases.iter().chain(f.inverted_aliases))
            .map(|a| crate::text::normalise_header(a))
            .collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a} is used twice");
        }
    }

    #[test]
    fn inverted_enable_values() {
        assert_eq!(invert_yes_no("是"), Some("0"));
        assert_eq!(invert_yes_no("TRUE"), Some("0"));
        assert_eq!(invert_yes_no("否"), Some("1"));
        assert_eq!(invert_yes_no("0"), Some("1"));
        assert_eq!(invert_yes_no("maybe"), None);
    }
}
