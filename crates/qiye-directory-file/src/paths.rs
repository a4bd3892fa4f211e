//! Department paths (`Sales/East;HR`) and userid lists.

/// The longest department name a path segment may have, in characters.
pub const MAX_SEGMENT_CHARS: usize = 64;

/// Separators between the paths of a cell: `;` and the full-width `；`.
const PATH_LIST_SEPARATORS: [char; 2] = [';', '；'];

/// Separators between the userids of a cell: `;`, `,` and their full-width forms.
const USERID_LIST_SEPARATORS: [char; 4] = [';', '；', ',', '，'];

/// Parses one department path such as `Sales/East` into its names.
///
/// Paths are relative to the root department: `Sales/East` is the department
/// `East` inside the root's child `Sales`, and the root's own name is never
/// written. A leading `/` is accepted (`/Sales/East` is the same path).
/// Names are trimmed and empty names dropped (`Sales//East` is `Sales/East`).
///
/// Errors, as a reason for a row error: a path with no name at all (`/`, or
/// an empty string), or a name longer than [`MAX_SEGMENT_CHARS`] characters.
pub fn parse_department_path(path: &str) -> Result<Vec<String>, String> {
    let segments: Vec<String> = path
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if segments.is_empty() {
        return Err(format!(
            "the department path {:?} names no department",
            path.trim()
        ));
    }
    if let Some(long) = segments
        .iter()
        .find(|s| s.chars().count() > MAX_SEGMENT_CHARS)
    {
        return Err(format!(
            "the department name {long:?} is longer than {MAX_SEGMENT_CHARS} characters"
        ));
    }
    Ok(segments)
}

/// Parses a cell of department paths separated by `;` (or `；`), such as
/// `Sales/East;HR`, with [`parse_department_path`] for each path.
///
/// Empty items between separators are skipped (`Sales;;HR;` is two paths);
/// an empty cell gives no path. The order of the cell is kept and duplicates
/// are kept: the caller decides what they mean.
pub fn parse_department_paths(cell: &str) -> Result<Vec<Vec<String>>, String> {
    cell.split(PATH_LIST_SEPARATORS)
        .filter(|item| !item.trim().is_empty())
        .map(parse_department_path)
        .collect()
}

/// Splits a cell of userids separated by `;`, `,` (or their full-width
/// forms), trimming each and dropping empty items.
pub fn split_userids(cell: &str) -> Vec<String> {
    cell.split(USERID_LIST_SEPARATORS)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse_department_paths("Sales/East;HR").unwrap(),
            vec![strings(&["Sales", "East"]), strings(&["HR"])]
        );
        assert_eq!(
            parse_department_paths(" /销售部 / 华东 ；人事部 ; ").unwrap(),
            vec![strings(&["销售部", "华东"]), strings(&["人事部"])]
        );
        assert_eq!(
            parse_department_paths("Sales//East/").unwrap(),
            vec![strings(&["Sales", "East"])]
        );
        assert_eq!(
            parse_department_paths("").unwrap(),
            Vec::<Vec<String>>::new()
        );
        assert_eq!(
            parse_department_paths(";;").unwrap(),
            Vec::<Vec<String>>::new()
        );
    }

    #[test]
    fn rejects_empty_paths_and_long_names() {
        assert!(
            parse_department_paths("Sales;/")
                .unwrap_err()
                .contains("\"/\"")
        );
        assert!(parse_department_path(" / / ").is_err());
        assert!(parse_department_path("").is_err());
        let name = "部".repeat(MAX_SEGMENT_CHARS);
        assert!(parse_department_path(&name).is_ok());
        let long = "部".repeat(MAX_SEGMENT_CHARS + 1);
        assert!(
            parse_department_path(&format!("Sales/{long}"))
                .unwrap_err()
                .contains("longer than 64")
        );
    }

    #[test]
    fn splits_userids() {
        assert_eq!(
            split_userids("lisi; wangwu，zhaoliu,,"),
            strings(&["lisi", "wangwu", "zhaoliu"])
        );
        assert!(split_userids(" ; ").is_empty());
    }
}
