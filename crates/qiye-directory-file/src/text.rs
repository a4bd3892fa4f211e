//! Text-level helpers: decoding CSV bytes, header normalisation and the
//! formula-injection escape.

use encoding_rs::{GB18030, UTF_16BE, UTF_16LE};

use crate::FileError;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes a CSV file into text.
///
/// A UTF-8 byte order mark is dropped, a UTF-16 one selects UTF-16; without a
/// mark the bytes are UTF-8 when they are valid UTF-8 and GB18030 (what Excel
/// writes for "CSV" on a Chinese Windows) otherwise.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, FileError> {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        return String::from_utf8(rest.to_vec()).map_err(|_| FileError::Encoding);
    }
    let utf16 = if bytes.starts_with(b"\xFF\xFE") {
        Some(UTF_16LE)
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some(UTF_16BE)
    } else {
        None
    };
    if let Some(encoding) = utf16 {
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        return if had_errors {
            Err(FileError::Encoding)
        } else {
            Ok(text.into_owned())
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => {
            let (text, had_errors) = GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                Err(FileError::Encoding)
            } else {
                Ok(text.into_owned())
            }
        }
    }
}

/// Picks the CSV delimiter: a tab when the first non-empty line has a tab and
/// no comma (Excel's "Unicode text" export), a comma otherwise.
pub(crate) fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    if first.contains('\t') && !first.contains(',') {
        b'\t'
    } else {
        b','
    }
}

/// Normalises a header for matching: trims whitespace and a byte order mark,
/// drops a required-marker `*` and a trailing parenthesised note (`姓名（必填）`),
/// lower-cases, and removes spaces, `_`, `-` and `.` so that `User ID`,
/// `user_id` and `UserID` all match.
pub(crate) fn normalise_header(header: &str) -> String {
    let mut h = header.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    h = h.trim_matches('*').trim();
    for (open, close) in [('(', ')'), ('（', '）')] {
        if !h.ends_with(close) {
            continue;
        }
        match h.rfind(open) {
            Some(start) if start > 0 => h = h[..start].trim_end(),
            _ => {}
        }
    }
    h.trim_matches('*')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_TRIGGERS: [char; 4] = ['=', '+', '-', '@'];

/// True when `value`, after any leading apostrophes and whitespace, starts
/// with a formula trigger.
fn apostrophes_then_trigger(value: &str) -> bool {
    value
        .trim_start_matches('\'')
        .trim_start()
        .starts_with(FORMULA_TRIGGERS)
}

/// Escapes a text cell for CSV: a value that (ignoring leading whitespace
/// and apostrophes) starts with `=`, `+`, `-` or `@` gets one `'` in front.
pub(crate) fn escape_csv(value: &str) -> std::borrow::Cow<'_, str> {
    if apostrophes_then_trigger(value.trim_start()) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// Escapes a text cell for XLSX. Cells are written as strings, never as
/// formulas, so only a value that already starts with `'` before a trigger
/// gets one more `'`, so that [`unescape`] gives it back unchanged.
pub(crate) fn escape_xlsx(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with('\'') && apostrophes_then_trigger(value) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// Undoes [`escape_csv`] and [`escape_xlsx`] on a trimmed cell: a value that
/// starts with `'` and then (after any further apostrophes and whitespace) a
/// trigger loses its first `'`.
pub(crate) fn unescape(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if apostrophes_then_trigger(rest) => rest.trim(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_with_and_without_bom() {
        assert_eq!(decode("姓名".as_bytes()).unwrap(), "姓名");
        assert_eq!(decode(b"\xEF\xBB\xBFname").unwrap(), "name");
        assert_eq!(
            decode(b"\xEF\xBB\xBF\xFF").unwrap_err(),
            FileError::Encoding
        );
    }

    #[test]
    fn decodes_gb18030() {
        let (bytes, _, _) = GB18030.encode("姓名,帐号\n张三,zhangsan\n");
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(decode(&bytes).unwrap(), "姓名,帐号\n张三,zhangsan\n");
    }

    #[test]
    fn decodes_utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "姓名\t帐号".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&bytes).unwrap(), "姓名\t帐号");
    }

    #[test]
    fn rejects_bytes_that_are_not_gb18030_either() {
        assert_eq!(decode(b"ab\xFFc").unwrap_err(), FileError::Encoding);
    }

    #[test]
    fn sniffs_tab_delimiter() {
        assert_eq!(sniff_delimiter("\n姓名\t帐号\n"), b'\t');
        assert_eq!(sniff_delimiter("姓名,帐号\n"), b',');
        assert_eq!(sniff_delimiter("a\tb,c\n"), b',');
    }

    #[test]
    fn normalises_headers() {
        assert_eq!(normalise_header("  User ID "), "userid");
        assert_eq!(normalise_header("\u{feff}user_id"), "userid");
        assert_eq!(normalise_header("*姓名（必填）"), "姓名");
        assert_eq!(normalise_header("部门 (多个用;分隔)"), "部门");
        assert_eq!(normalise_header("部门ID"), "部门id");
        assert_eq!(normalise_header("Is_Leader_In_Dept"), "isleaderindept");
        assert_eq!(normalise_header("(x)"), "(x)");
    }

    #[test]
    fn formula_escape_round_trips() {
        for value in [
            "=1+1",
            "+8613800000000",
            "-",
            "@x",
            "'=x",
            "''+x",
            "' =x",
            "plain",
            "'quoted",
            "a=b",
            "",
        ] {
            assert_eq!(unescape(&escape_csv(value)), value, "csv {value:?}");
            assert_eq!(unescape(&escape_xlsx(value)), value, "xlsx {value:?}");
        }
        assert_eq!(escape_csv("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(escape_csv(" =SUM(A1)"), "' =SUM(A1)");
        assert_eq!(escape_xlsx("=SUM(A1)"), "=SUM(A1)");
        assert_eq!(escape_xlsx("'=x"), "''=x");
        assert_eq!(unescape("'quoted"), "'quoted");
        assert_eq!(unescape("'-5"), "-5");
    }
}
