//! Property: any trimmed text survives a write and a read, in both formats.

use proptest::prelude::*;
use qiye_directory_file::{ExportMember, FileFormat, HeaderLanguage, read_members, write_members};

/// Non-empty text without surrounding whitespace, rich in the characters
/// that matter: formula triggers, apostrophes, quotes, separators, newlines.
fn text() -> impl Strategy<Value = String> {
    "[=+@'\\-a-zA-Z0-9,;\"/ \n\t张三销售部]{1,12}"
        .prop_filter("trimmed and non-empty", |s| !s.is_empty() && s.trim() == s)
}

fn member() -> impl Strategy<Value = ExportMember> {
    (text(), text(), text(), text(), text(), text()).prop_map(
        |(userid, name, alias, position, address, extra)| ExportMember {
            userid,
            name,
            alias: Some(alias),
            position: Some(position),
            address: Some(address),
            status: 1,
            extra: vec![("备注".to_owned(), extra)],
            ..ExportMember::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn text_fields_round_trip(members in prop::collection::vec(member(), 1..5)) {
        for format in [FileFormat::Csv, FileFormat::Xlsx] {
            let bytes = write_members(&members, format, HeaderLanguage::Chinese).unwrap();
            let rows = read_members(&bytes, format).unwrap();
            prop_assert_eq!(rows.len(), members.len());
            for (row, member) in rows.iter().zip(&members) {
                let row = row.as_ref().unwrap();
                prop_assert_eq!(&row.userid, &member.userid);
                prop_assert_eq!(&row.name, &member.name);
                prop_assert_eq!(&row.alias, &member.alias);
                prop_assert_eq!(&row.position, &member.position);
                prop_assert_eq!(&row.address, &member.address);
                prop_assert_eq!(&row.extra, &member.extra);
            }
        }
    }
}
