//! Reading member files: headers, encodings, CSV quoting, row errors.

use qiye_directory_file::{FileError, FileFormat, MemberRow, RowError, read_members};

fn read_csv(text: &str) -> Vec<Result<MemberRow, RowError>> {
    read_members(text.as_bytes(), FileFormat::Csv).expect("the file is readable")
}

fn ok_rows(rows: Vec<Result<MemberRow, RowError>>) -> Vec<MemberRow> {
    rows.into_iter()
        .map(|r| r.expect("the row is good"))
        .collect()
}

fn path(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn chinese_template_headers() {
    let rows = ok_rows(read_csv(
        "姓名,帐号,别名,职务,部门,性别,手机,座机,个人邮箱,地址\n\
         张三,zhangsan,小张,工程师,销售部/华东;人事部,男,13800000000,010-1234,z@example.com,北京\n",
    ));
    assert_eq!(
        rows,
        vec![MemberRow {
            line: 2,
            userid: "zhangsan".into(),
            name: "张三".into(),
            alias: Some("小张".into()),
            position: Some("工程师".into()),
            departments: vec![path(&["销售部", "华东"]), path(&["人事部"])],
            gender: Some("男".into()),
            mobile: Some("13800000000".into()),
            telephone: Some("010-1234".into()),
            email: Some("z@example.com".into()),
            address: Some("北京".into()),
            ..MemberRow::default()
        }]
    );
}

#[test]
fn english_headers_any_case_and_spacing() {
    let rows = ok_rows(read_csv(
        " UserID , Name ,Department,Mobile,Biz_Mail,Main Department,IS_LEADER_IN_DEPT,direct_leader,Enable,English_Name,External_Position,Order,Telephone\n\
         lisi,Li Si,/Sales/East,+86 138,l@corp.example,Sales/East,1;0,\"zhangsan, wangwu\",1,Lee,Rep,5;6,tel\n",
    ));
    let row = &rows[0];
    assert_eq!(row.userid, "lisi");
    assert_eq!(row.name, "Li Si");
    assert_eq!(row.departments, vec![path(&["Sales", "East"])]);
    assert_eq!(row.mobile.as_deref(), Some("+86 138"));
    assert_eq!(row.biz_mail.as_deref(), Some("l@corp.example"));
    assert_eq!(row.main_department, Some(path(&["Sales", "East"])));
    assert_eq!(row.is_leader.as_deref(), Some("1;0"));
    assert_eq!(row.direct_leader, path(&["zhangsan", "wangwu"]));
    assert_eq!(row.enable.as_deref(), Some("1"));
    assert_eq!(row.english_name.as_deref(), Some("Lee"));
    assert_eq!(row.external_position.as_deref(), Some("Rep"));
    assert_eq!(row.order.as_deref(), Some("5;6"));
    assert_eq!(row.telephone.as_deref(), Some("tel"));
}

#[test]
fn variant_spellings() {
    let rows = ok_rows(read_csv(
        "*账号,*姓名（必填）,所在部门,邮箱,部门负责人,tel,account_note\n\
         a,A,X,a@example.com,是,1,n\n",
    ));
    assert_eq!(rows[0].userid, "a");
    assert_eq!(rows[0].departments, vec![path(&["X"])]);
    assert_eq!(rows[0].email.as_deref(), Some("a@example.com"));
    assert_eq!(rows[0].is_leader.as_deref(), Some("是"));
    assert_eq!(rows[0].telephone.as_deref(), Some("1"));
    assert_eq!(rows[0].extra, vec![("account_note".into(), "n".into())]);
}

#[test]
fn disabled_column_is_read_inverted() {
    let rows = read_csv("帐号,姓名,禁用\na,A,是\nb,B,否\nc,C,\nd,D,也许\n");
    let enable: Vec<Option<String>> = rows
        .iter()
        .take(3)
        .map(|r| r.as_ref().unwrap().enable.clone())
        .collect();
    assert_eq!(enable, vec![Some("0".into()), Some("1".into()), None]);
    let err = rows[3].as_ref().unwrap_err();
    assert_eq!(err.line, 5);
    assert!(err.reason.contains("禁用"), "{}", err.reason);
}

#[test]
fn utf8_bom_is_ignored() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice("帐号,姓名\r\nzhangsan,张三\r\n".as_bytes());
    let rows = ok_rows(read_members(&bytes, FileFormat::Csv).unwrap());
    assert_eq!(rows[0].userid, "zhangsan");
    assert_eq!(rows[0].line, 2);
}

#[test]
fn gb18030_file_from_excel() {
    let (bytes, _, _) =
        encoding_rs::GB18030.encode("姓名,帐号,部门\r\n张三,zhangsan,销售部/华东\r\n");
    let rows = ok_rows(read_members(&bytes, FileFormat::Csv).unwrap());
    assert_eq!(rows[0].name, "张三");
    assert_eq!(rows[0].departments, vec![path(&["销售部", "华东"])]);
}

#[test]
fn tab_separated_utf16_text() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "姓名\t帐号\r\n张三\tzhangsan\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let rows = ok_rows(read_members(&bytes, FileFormat::Csv).unwrap());
    assert_eq!(
        (rows[0].userid.as_str(), rows[0].name.as_str()),
        ("zhangsan", "张三")
    );
}

#[test]
fn quoted_fields_keep_commas_newlines_and_record_start_lines() {
    let rows = ok_rows(read_csv(
        "帐号,姓名,地址\r\n\
         a,A,\"Room 1, Building 2\"\r\n\
         b,B,\"line one\r\nline two\r\nline three\"\r\n\
         c,\"C \"\"the third\"\"\",x\r\n",
    ));
    assert_eq!(rows[0].address.as_deref(), Some("Room 1, Building 2"));
    assert_eq!(
        rows[1].address.as_deref(),
        Some("line one\r\nline two\r\nline three")
    );
    assert_eq!(rows[2].name, "C \"the third\"");
    let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3, 6]);
}

#[test]
fn blank_rows_are_skipped_but_counted() {
    let rows = read_csv("帐号,姓名\n\na,A\n,\n  ,  \nb,B\n\n");
    let lines: Vec<usize> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
    assert_eq!(lines, vec![3, 6]);
}

#[test]
fn unknown_columns_become_extras() {
    let rows = ok_rows(read_csv(
        "帐号,姓名,工号,Hobby\na,A,1001,\nb,B,1002,chess\n",
    ));
    assert_eq!(rows[0].extra, vec![("工号".into(), "1001".into())]);
    assert_eq!(
        rows[1].extra,
        vec![
            ("工号".into(), "1002".into()),
            ("Hobby".into(), "chess".into())
        ]
    );
}

#[test]
fn missing_required_column_refuses_the_file() {
    let err = read_members("姓名,部门\n张三,X\n".as_bytes(), FileFormat::Csv).unwrap_err();
    assert!(matches!(
        err,
        FileError::MissingColumn {
            line: 1,
            column: "userid",
            ..
        }
    ));
    assert!(err.to_string().contains("帐号"), "{err}");

    let err = read_members("帐号,部门\na,X\n".as_bytes(), FileFormat::Csv).unwrap_err();
    assert!(matches!(
        err,
        FileError::MissingColumn { column: "name", .. }
    ));
}

#[test]
fn duplicate_header_refuses_the_file() {
    let err = read_members("帐号,姓名,账号\na,A,b\n".as_bytes(), FileFormat::Csv).unwrap_err();
    assert_eq!(
        err,
        FileError::DuplicateColumn {
            line: 1,
            column: "userid".into(),
            first: "帐号".into(),
            second: "账号".into(),
        }
    );
    let err = read_members("帐号,姓名,工号,工号\n".as_bytes(), FileFormat::Csv).unwrap_err();
    assert!(matches!(err, FileError::DuplicateColumn { column, .. } if column == "工号"));
}

#[test]
fn empty_file_is_refused() {
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n,,\n"] {
        assert_eq!(
            read_members(bytes, FileFormat::Csv).unwrap_err(),
            FileError::Empty
        );
    }
}

#[test]
fn instruction_rows_above_the_header_are_skipped() {
    let rows = ok_rows(read_csv(
        "\"填写说明：帐号、姓名必填\",,\n\n姓名,帐号,部门\n张三,zhangsan,X\n",
    ));
    assert_eq!(rows[0].line, 4);
}

#[test]
fn row_errors_name_the_column_and_do_not_stop_other_rows() {
    let long = "部".repeat(65);
    let text = format!(
        "帐号,姓名,部门,主部门\n\
         ,张三,,\n\
         b,,,\n\
         c,C,Sales;/,\n\
         d,D,Sales/{long},\n\
         e,E,,A;B\n\
         f,F,Sales,Sales\n\
         g,G,,,extra\n"
    );
    let rows = read_csv(&text);
    let errors: Vec<(usize, String)> = rows
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| (e.line, e.reason.clone()))
        .collect();
    assert_eq!(errors.len(), 6, "{errors:?}");
    assert_eq!(errors[0], (2, "帐号 is empty".into()));
    assert_eq!(errors[1], (3, "姓名 is empty".into()));
    assert_eq!(errors[2].0, 4);
    assert!(errors[2].1.starts_with("部门: "), "{}", errors[2].1);
    assert!(errors[3].1.contains("longer than 64"), "{}", errors[3].1);
    assert_eq!(
        errors[4],
        (6, "主部门: names more than one department".into())
    );
    assert_eq!(
        errors[5],
        (8, "column 5 has the value \"extra\" but no header".into())
    );
    let good = rows.iter().find_map(|r| r.as_ref().ok()).unwrap();
    assert_eq!((good.line, good.userid.as_str()), (7, "f"));
}

#[test]
fn several_problems_are_reported_together() {
    let rows = read_csv("帐号,姓名,工号\n,,7\n");
    let err = rows[0].as_ref().unwrap_err();
    assert_eq!(err.reason, "帐号 is empty; 姓名 is empty");
    assert_eq!(err.to_string(), "line 2: 帐号 is empty; 姓名 is empty");
}

#[test]
fn formula_escape_is_removed_only_where_a_writer_adds_it() {
    let rows = ok_rows(read_csv(
        "帐号,姓名,手机,别名,职务\na,'=SUM(1),'+8613800000000,'quoted,''-x\n",
    ));
    assert_eq!(rows[0].name, "=SUM(1)");
    assert_eq!(rows[0].mobile.as_deref(), Some("+8613800000000"));
    assert_eq!(rows[0].alias.as_deref(), Some("'quoted"));
    assert_eq!(rows[0].position.as_deref(), Some("'-x"));
}

#[test]
fn thousand_rows_with_three_bad_ones() {
    let mut text = String::from("姓名,帐号,部门,手机\n");
    let bad = [17_usize, 500, 999];
    for i in 0..1000 {
        if i == bad[0] {
            text.push_str(&format!("Name {i},,Sales,1380000{i:04}\n"));
        } else if i == bad[1] {
            text.push_str(&format!(",user{i},Sales,1380000{i:04}\n"));
        } else if i == bad[2] {
            text.push_str(&format!("Name {i},user{i},/ ,1380000{i:04}\n"));
        } else {
            text.push_str(&format!(
                "Name {i},user{i},Sales/Team {},1380000{i:04}\n",
                i % 7
            ));
        }
    }
    let rows = read_csv(&text);
    assert_eq!(rows.len(), 1000);
    let ok = rows.iter().filter(|r| r.is_ok()).count();
    let err_lines: Vec<usize> = rows
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.line)
        .collect();
    assert_eq!(ok, 997);
    // Data row i is on line i + 2 (the header is line 1).
    assert_eq!(err_lines, vec![19, 502, 1001]);
    for (i, row) in rows.iter().enumerate() {
        if let Ok(row) = row {
            assert_eq!(row.line, i + 2);
            assert_eq!(row.userid, format!("user{i}"));
            assert_eq!(
                row.departments,
                vec![path(&["Sales", &format!("Team {}", i % 7)])]
            );
        }
    }
}
