//! The examples in docs/IMPORT_FORMAT.md read without errors.

use qiye_directory_file::{FileFormat, read_departments, read_members};

const DOC: &str = include_str!("../../../docs/IMPORT_FORMAT.md");

fn csv_blocks() -> Vec<&'static str> {
    DOC.split("```csv\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .collect()
}

#[test]
fn documented_examples_read_cleanly() {
    let blocks = csv_blocks();
    assert_eq!(blocks.len(), 3);
    for block in &blocks[..2] {
        let rows = read_members(block.as_bytes(), FileFormat::Csv).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(Result::is_ok), "{rows:?}");
    }
    let english = read_members(blocks[1].as_bytes(), FileFormat::Csv).unwrap();
    let lisi = english[1].as_ref().unwrap();
    assert_eq!(lisi.direct_leader, ["zhangsan"]);
    assert_eq!(lisi.extra, [("Employee No.".to_owned(), "1002".to_owned())]);
    let departments = read_departments(blocks[2].as_bytes(), FileFormat::Csv).unwrap();
    assert_eq!(departments.len(), 4);
    assert!(departments.iter().all(Result::is_ok), "{departments:?}");
}
