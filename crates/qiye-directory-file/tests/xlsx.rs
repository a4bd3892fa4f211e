//! Reading workbooks made by hand: numeric cells, where the table starts,
//! which worksheet is read, error cells.

use qiye_directory_file::{FileError, FileFormat, read_departments, read_members};
use rust_xlsxwriter::{Formula, Workbook};

fn workbook(build: impl FnOnce(&mut Workbook)) -> Vec<u8> {
    let mut workbook = Workbook::new();
    build(&mut workbook);
    workbook.save_to_buffer().unwrap()
}

#[test]
fn numeric_cells_come_out_as_integer_strings() {
    let bytes = workbook(|wb| {
        let sheet = wb.add_worksheet();
        for (col, header) in ["帐号", "姓名", "手机", "性别", "排序", "工号", "启用"]
            .into_iter()
            .enumerate()
        {
            sheet.write_string(0, col as u16, header).unwrap();
        }
        sheet.write_number(1, 0, 1001.0).unwrap();
        sheet.write_string(1, 1, "张三").unwrap();
        sheet.write_number(1, 2, 13_800_000_000.0).unwrap();
        sheet.write_number(1, 3, 1.0).unwrap();
        sheet.write_number(1, 4, 2.5).unwrap();
        sheet.write_number(1, 5, -7.0).unwrap();
        sheet.write_boolean(1, 6, true).unwrap();
    });
    let rows = read_members(&bytes, FileFormat::Xlsx).unwrap();
    let row = rows[0].as_ref().unwrap();
    assert_eq!(row.line, 2);
    assert_eq!(row.userid, "1001");
    assert_eq!(row.mobile.as_deref(), Some("13800000000"));
    assert_eq!(row.gender.as_deref(), Some("1"));
    assert_eq!(row.order.as_deref(), Some("2.5"));
    assert_eq!(row.extra, vec![("工号".to_owned(), "-7".to_owned())]);
    assert_eq!(row.enable.as_deref(), Some("TRUE"));
}

#[test]
fn table_may_start_below_and_right_of_a1_and_lines_are_row_numbers() {
    let bytes = workbook(|wb| {
        let sheet = wb.add_worksheet();
        sheet.write_string(1, 2, "部门名称").unwrap();
        sheet.write_string(1, 3, "部门ID").unwrap();
        sheet.write_string(1, 4, "父部门ID").unwrap();
        sheet.write_string(2, 2, "销售部").unwrap();
        sheet.write_number(2, 3, 2.0).unwrap();
        sheet.write_number(2, 4, 1.0).unwrap();
        // Row 4 is blank; row 5 lacks a name.
        sheet.write_number(4, 3, 3.0).unwrap();
        sheet.write_string(5, 2, " 人事部 ").unwrap();
    });
    let rows = read_departments(&bytes, FileFormat::Xlsx).unwrap();
    assert_eq!(rows.len(), 3);
    let first = rows[0].as_ref().unwrap();
    assert_eq!(
        (
            first.line,
            first.name.as_str(),
            first.id.as_deref(),
            first.parent_id.as_deref()
        ),
        (3, "销售部", Some("2"), Some("1"))
    );
    let err = rows[1].as_ref().unwrap_err();
    assert_eq!((err.line, err.reason.as_str()), (5, "部门名称 is empty"));
    let last = rows[2].as_ref().unwrap();
    assert_eq!(
        (last.line, last.name.as_str(), last.id.as_deref()),
        (6, "人事部", None)
    );
}

#[test]
fn only_the_first_worksheet_is_read() {
    let bytes = workbook(|wb| {
        let first = wb.add_worksheet();
        first.write_string(0, 0, "userid").unwrap();
        first.write_string(0, 1, "name").unwrap();
        first.write_string(1, 0, "a").unwrap();
        first.write_string(1, 1, "A").unwrap();
        let second = wb.add_worksheet();
        second.write_string(0, 0, "userid").unwrap();
        second.write_string(0, 1, "name").unwrap();
        second.write_string(1, 0, "b").unwrap();
        second.write_string(1, 1, "B").unwrap();
    });
    let rows = read_members(&bytes, FileFormat::Xlsx).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].as_ref().unwrap().userid, "a");
}

#[test]
fn formula_results_are_read_and_error_cells_are_row_errors() {
    let bytes = workbook(|wb| {
        let sheet = wb.add_worksheet();
        sheet.write_string(0, 0, "userid").unwrap();
        sheet.write_string(0, 1, "name").unwrap();
        sheet.write_string(0, 2, "mobile").unwrap();
        sheet.write_string(1, 0, "a").unwrap();
        sheet
            .write_formula(1, 1, Formula::new("=\"A\"").set_result("A"))
            .unwrap();
        sheet.write_string(2, 0, "b").unwrap();
        sheet.write_string(2, 1, "B").unwrap();
        sheet
            .write_formula(2, 2, Formula::new("=1/0").set_result("#DIV/0!"))
            .unwrap();
    });
    let rows = read_members(&bytes, FileFormat::Xlsx).unwrap();
    assert_eq!(rows[0].as_ref().unwrap().name, "A");
    let err = rows[1].as_ref().unwrap_err();
    assert_eq!(err.line, 3);
    assert!(
        err.reason.contains("mobile") && err.reason.contains("#DIV/0!"),
        "{}",
        err.reason
    );
}

#[test]
fn header_problems_are_file_errors_in_workbooks_too() {
    let bytes = workbook(|wb| {
        let sheet = wb.add_worksheet();
        sheet.write_string(0, 0, "name").unwrap();
        sheet.write_string(1, 0, "A").unwrap();
    });
    assert!(matches!(
        read_members(&bytes, FileFormat::Xlsx).unwrap_err(),
        FileError::MissingColumn {
            column: "userid",
            ..
        }
    ));
    let empty = workbook(|wb| {
        wb.add_worksheet();
    });
    assert_eq!(
        read_members(&empty, FileFormat::Xlsx).unwrap_err(),
        FileError::Empty
    );
}
