//! Writing then reading gives back the same rows, in both formats and both
//! header languages; the writers neutralise formulas and refuse what would
//! not read back.

use qiye_directory_file::{
    DepartmentRow, ExportDepartment, ExportMember, FileError, FileFormat, HeaderLanguage,
    MemberRow, RowReport, read_departments, read_members, write_departments, write_members,
    write_report,
};

const FORMATS: [FileFormat; 2] = [FileFormat::Csv, FileFormat::Xlsx];
const LANGUAGES: [HeaderLanguage; 2] = [HeaderLanguage::Chinese, HeaderLanguage::English];

fn members() -> Vec<ExportMember> {
    vec![
        ExportMember {
            userid: "zhangsan".into(),
            name: "张三".into(),
            alias: Some("小张".into()),
            position: Some("=HYPERLINK(\"http://x\")".into()),
            departments: vec!["销售部/华东".into(), "人事部".into()],
            main_department: Some("销售部/华东".into()),
            is_leader_in_dept: vec![1, 0],
            order: vec![10, 20],
            direct_leader: vec!["lisi".into(), "wangwu".into()],
            gender: Some(1),
            mobile: Some("+86 13800000000".into()),
            telephone: Some("010-12345678".into()),
            email: Some("zhangsan@example.com".into()),
            biz_mail: Some("zhangsan@corp.example".into()),
            address: Some("北京市, 朝阳区\n3 号楼".into()),
            english_name: Some("Zhang San".into()),
            external_position: Some("@sales".into()),
            enable: Some(1),
            status: 1,
            extra: vec![
                ("工号".into(), "00123".into()),
                ("爱好".into(), "-".into()),
                ("+备注".into(), "note".into()),
            ],
        },
        ExportMember {
            userid: "lisi".into(),
            name: "'=already quoted".into(),
            departments: vec!["Sales".into()],
            status: 4,
            extra: vec![("爱好".into(), "chess".into())],
            ..ExportMember::default()
        },
        ExportMember {
            userid: "0012".into(),
            name: "Numbers".into(),
            mobile: Some("13800000000".into()),
            gender: Some(0),
            enable: Some(0),
            status: 2,
            ..ExportMember::default()
        },
    ]
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/').map(str::to_owned).collect()
}

fn joined(values: &[i64]) -> Option<String> {
    let parts: Vec<String> = values.iter().map(ToString::to_string).collect();
    (!parts.is_empty()).then(|| parts.join(";"))
}

/// What reading back `member`, written on `line`, must give.
fn expected(member: &ExportMember, line: usize) -> MemberRow {
    MemberRow {
        line,
        userid: member.userid.clone(),
        name: member.name.clone(),
        alias: member.alias.clone(),
        position: member.position.clone(),
        departments: member.departments.iter().map(|p| split_path(p)).collect(),
        gender: member.gender.map(|g| g.to_string()),
        mobile: member.mobile.clone(),
        telephone: member.telephone.clone(),
        email: member.email.clone(),
        biz_mail: member.biz_mail.clone(),
        address: member.address.clone(),
        main_department: member.main_department.as_deref().map(split_path),
        is_leader: joined(&member.is_leader_in_dept),
        direct_leader: member.direct_leader.clone(),
        enable: member.enable.map(|e| e.to_string()),
        english_name: member.english_name.clone(),
        external_position: member.external_position.clone(),
        order: joined(&member.order),
        status: Some(member.status.to_string()),
        extra: member.extra.clone(),
    }
}

#[test]
fn members_round_trip() {
    let members = members();
    for format in FORMATS {
        for language in LANGUAGES {
            let bytes = write_members(&members, format, language).unwrap();
            assert_eq!(FileFormat::sniff(&bytes), format);
            let rows: Vec<MemberRow> = read_members(&bytes, format)
                .unwrap()
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(rows.len(), members.len(), "{format:?} {language:?}");
            // The address spans two lines in CSV, so line numbers come from
            // the reader's own count there; in XLSX each member is one row.
            for (index, (row, member)) in rows.iter().zip(&members).enumerate() {
                let line = match (format, index) {
                    (FileFormat::Csv, 0) => 2,
                    (FileFormat::Csv, i) => i + 3,
                    (FileFormat::Xlsx, i) => i + 2,
                };
                assert_eq!(row, &expected(member, line), "{format:?} {language:?}");
            }
        }
    }
}

#[test]
fn empty_member_list_writes_a_header_only_file() {
    for format in FORMATS {
        let bytes = write_members(&[], format, HeaderLanguage::English).unwrap();
        assert!(read_members(&bytes, format).unwrap().is_empty());
    }
}

#[test]
fn csv_export_headers_and_formula_escape() {
    let bytes = write_members(&members(), FileFormat::Csv, HeaderLanguage::Chinese).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with(
        "\u{feff}姓名,帐号,别名,职务,部门,性别,手机,座机,个人邮箱,地址,企业邮箱,主部门,\
         是否部门负责人,直属上级,英文名,对外职务,排序,启用状态,激活状态,工号,爱好,'+备注\r\n"
    ));
    // Every text cell starting with a trigger has a `'` in front.
    assert!(
        text.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{text}"
    );
    assert!(text.contains(",'+86 13800000000,"), "{text}");
    assert!(text.contains(",'@sales,"), "{text}");
    assert!(text.contains(",'-,note\r\n"), "{text}");
    assert!(text.contains("\r\n''=already quoted,lisi,"), "{text}");
    // No cell of the file starts with a trigger.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell:?}");
        }
    }

    let english = write_members(&members(), FileFormat::Csv, HeaderLanguage::English).unwrap();
    let english = std::str::from_utf8(&english).unwrap();
    assert!(english.starts_with(
        "\u{feff}name,userid,alias,position,department,gender,mobile,telephone,email,address,\
         biz_mail,main_department,is_leader_in_dept,direct_leader,english_name,\
         external_position,order,enable,status,工号,爱好,'+备注\r\n"
    ));
}

#[test]
fn export_refuses_what_would_not_read_back() {
    let with_extra = |header: &str| ExportMember {
        userid: "a".into(),
        name: "A".into(),
        extra: vec![(header.into(), "v".into())],
        ..ExportMember::default()
    };
    for header in ["手机", "Mobile", "", " note"] {
        let err = write_members(
            &[with_extra(header)],
            FileFormat::Csv,
            HeaderLanguage::English,
        );
        assert!(
            matches!(err, Err(FileError::Write(_))),
            "{header:?}: {err:?}"
        );
    }
    let err = write_members(
        &[with_extra("Note"), with_extra("note")],
        FileFormat::Xlsx,
        HeaderLanguage::Chinese,
    );
    assert!(matches!(err, Err(FileError::Write(_))), "{err:?}");

    let semicolon = ExportMember {
        userid: "a".into(),
        name: "A".into(),
        departments: vec!["Sales;East".into()],
        ..ExportMember::default()
    };
    let err = write_members(&[semicolon], FileFormat::Csv, HeaderLanguage::Chinese);
    assert!(matches!(err, Err(FileError::Write(_))), "{err:?}");
}

#[test]
fn departments_round_trip() {
    let departments = vec![
        ExportDepartment {
            name: "企业".into(),
            name_en: Some("Corp".into()),
            id: 1,
            parent_id: 0,
            order: 100_000_000,
        },
        ExportDepartment {
            name: "销售部".into(),
            name_en: None,
            id: 2,
            parent_id: 1,
            order: 0,
        },
        ExportDepartment {
            name: "-研发-".into(),
            name_en: Some("R&D".into()),
            id: 4_294_967_295,
            parent_id: 1,
            order: 3,
        },
    ];
    for format in FORMATS {
        for language in LANGUAGES {
            let bytes = write_departments(&departments, format, language).unwrap();
            let rows: Vec<DepartmentRow> = read_departments(&bytes, format)
                .unwrap()
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            let expected: Vec<DepartmentRow> = departments
                .iter()
                .enumerate()
                .map(|(i, d)| DepartmentRow {
                    line: i + 2,
                    name: d.name.clone(),
                    name_en: d.name_en.clone(),
                    id: Some(d.id.to_string()),
                    parent_id: Some(d.parent_id.to_string()),
                    order: Some(d.order.to_string()),
                    extra: Vec::new(),
                })
                .collect();
            assert_eq!(rows, expected, "{format:?} {language:?}");
        }
    }
    let csv = write_departments(&departments, FileFormat::Csv, HeaderLanguage::Chinese).unwrap();
    assert!(std::str::from_utf8(&csv).unwrap().starts_with(
        "\u{feff}部门名称,部门ID,父部门ID,排序,英文名称\r\n企业,1,0,100000000,Corp\r\n"
    ));
}

#[test]
fn report_files() {
    let reports = vec![
        RowReport {
            line: 2,
            key: "zhangsan".into(),
            result: "created".into(),
            reason: String::new(),
        },
        RowReport::from(&qiye_directory_file::RowError {
            line: 3,
            reason: "=bad".into(),
        }),
    ];
    let csv = write_report(&reports, FileFormat::Csv, HeaderLanguage::English).unwrap();
    assert_eq!(
        std::str::from_utf8(&csv).unwrap(),
        "\u{feff}line,key,result,reason\r\n2,zhangsan,created,\r\n3,,failed,'=bad\r\n"
    );
    let xlsx = write_report(&reports, FileFormat::Xlsx, HeaderLanguage::Chinese).unwrap();
    assert_eq!(FileFormat::sniff(&xlsx), FileFormat::Xlsx);
}
