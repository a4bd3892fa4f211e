//! File formats and header languages.

/// The two spreadsheet formats a directory file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Comma-separated values (RFC 4180 quoting). Read as UTF-8 (with or
    /// without a byte order mark), UTF-16 with a byte order mark, or GB18030;
    /// written as UTF-8 with a byte order mark and CRLF line ends.
    Csv,
    /// An Office Open XML workbook; the first worksheet is read.
    Xlsx,
}

impl FileFormat {
    /// The format named by a file name's extension (`.csv`, `.txt`, `.xlsx`,
    /// `.xlsm`; case-insensitive), or `None` for any other name.
    pub fn from_path_ext(path: &str) -> Option<Self> {
        let (_, ext) = path.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "csv" | "txt" => Some(Self::Csv),
            "xlsx" | "xlsm" => Some(Self::Xlsx),
            _ => None,
        }
    }

    /// The format of a file judged by its first bytes: XLSX when it starts
    /// with a ZIP local file header (`PK\x03\x04`), CSV otherwise.
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(ZIP_MAGIC) {
            Self::Xlsx
        } else {
            Self::Csv
        }
    }

    /// The usual file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }

    /// The media type to send a written file with.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// The first bytes of a ZIP archive, and so of an XLSX workbook.
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// The first bytes of an OLE compound file, and so of a legacy `.xls` workbook.
pub(crate) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// The language of the header row a writer produces. Readers accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HeaderLanguage {
    /// WeCom's Chinese template headers (`姓名`, `帐号`, ...).
    #[default]
    Chinese,
    /// English headers named like the WeCom API fields (`name`, `userid`, ...).
    English,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(FileFormat::from_path_ext("成员.CSV"), Some(FileFormat::Csv));
        assert_eq!(
            FileFormat::from_path_ext("dir/members.xlsx"),
            Some(FileFormat::Xlsx)
        );
        assert_eq!(FileFormat::from_path_ext("members.xls"), None);
        assert_eq!(FileFormat::from_path_ext("members"), None);
    }

    #[test]
    fn format_sniffing() {
        assert_eq!(FileFormat::sniff(b"PK\x03\x04rest"), FileFormat::Xlsx);
        assert_eq!(FileFormat::sniff("姓名,帐号".as_bytes()), FileFormat::Csv);
        assert_eq!(FileFormat::sniff(b""), FileFormat::Csv);
    }
}
