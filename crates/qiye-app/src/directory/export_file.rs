//! The directory as import files (`docs/IMPORT_FORMAT.md`): the members
//! and the departments a caller reaches, written so that import reads them
//! back to the same values. Used by `qiye directory export` and by the
//! admin console's export (a scoped administrator gets their subtrees).

use qiye_directory_file::{ExportDepartment, ExportMember, write_departments, write_members};
/// The file formats and header languages (re-exported for the HTTP edge).
pub use qiye_directory_file::{FileFormat, HeaderLanguage};
use qiye_domain::directory::{Directory, Member, MemberStatus};
use qiye_domain::ids::DeptId;
use qiye_domain::plan::BulkOperation;
use qiye_domain::ports::StoreError;

use super::DirCaller;
use crate::Services;
use crate::corps::corp_not_found;
use crate::error::{AppError, AppResult};

/// A written file and how many rows it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// The file.
    pub bytes: Vec<u8>,
    /// Data rows.
    pub rows: usize,
}

/// A department's path below the root (`Sales/East`).
fn dept_path(dir: &Directory, dept: DeptId) -> String {
    dir.path_names(dept).join("/")
}

/// A member as a row of the member file. The root department has no path,
/// so a membership of the root is not written (a member only in the root
/// has an empty department cell, which import reads as the root).
fn export_member(dir: &Directory, m: &Member) -> ExportMember {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let memberships: Vec<_> = m
        .departments
        .iter()
        .filter(|ms| ms.dept != DeptId::ROOT)
        .collect();
    ExportMember {
        userid: m.userid.as_str().to_owned(),
        name: m.name.clone(),
        alias: text(&m.alias),
        position: text(&m.position),
        departments: memberships
            .iter()
            .map(|ms| dept_path(dir, ms.dept))
            .collect(),
        main_department: (m.main_department != DeptId::ROOT)
            .then(|| dept_path(dir, m.main_department)),
        is_leader_in_dept: memberships
            .iter()
            .map(|ms| i64::from(ms.is_leader))
            .collect(),
        order: memberships.iter().map(|ms| i64::from(ms.order)).collect(),
        direct_leader: m
            .direct_leader
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        gender: Some(m.gender.code()),
        mobile: text(&m.mobile),
        telephone: text(&m.telephone),
        email: text(&m.email),
        biz_mail: text(&m.biz_mail),
        address: text(&m.address),
        english_name: text(&m.english_name),
        external_position: text(&m.external_position),
        enable: Some(i64::from(m.status != MemberStatus::Disabled)),
        status: m.status.code(),
        extra: Vec::new(),
    }
}

fn write_error(err: qiye_directory_file::FileError) -> AppError {
    AppError::Store(StoreError::Other(format!("cannot write the export: {err}")))
}

impl Services {
    async fn check_export_plan(&self, caller: &DirCaller) -> AppResult<()> {
        let plan = self
            .store
            .get_corp(&caller.corp)
            .await
            .map_err(corp_not_found)?
            .plan;
        Ok(plan.check_bulk(BulkOperation::Export)?)
    }

    /// The members the caller reaches, as a member file.
    pub async fn export_members_file(
        &self,
        caller: &DirCaller,
        format: FileFormat,
        language: HeaderLanguage,
    ) -> AppResult<ExportedFile> {
        self.check_export_plan(caller).await?;
        let members = self
            .dir_read(caller, |view| {
                view.dir
                    .members_of(DeptId::ROOT, true)
                    .into_iter()
                    .filter(|m| caller.reach.member(view.dir, m))
                    .map(|m| export_member(view.dir, m))
                    .collect::<Vec<_>>()
            })
            .await?;
        let bytes = write_members(&members, format, language).map_err(write_error)?;
        Ok(ExportedFile {
            bytes,
            rows: members.len(),
        })
    }

    /// The departments the caller reaches (each subtree in tree order), as
    /// a department file.
    pub async fn export_departments_file(
        &self,
        caller: &DirCaller,
        format: FileFormat,
        language: HeaderLanguage,
    ) -> AppResult<ExportedFile> {
        self.check_export_plan(caller).await?;
        let departments = self
            .dir_read(caller, |view| {
                view.depts(None).map(|depts| {
                    depts
                        .into_iter()
                        .map(|d| ExportDepartment {
                            name: d.name.clone(),
                            name_en: (!d.name_en.is_empty()).then(|| d.name_en.clone()),
                            id: i64::from(d.id.get()),
                            parent_id: d.parent.map_or(0, |p| i64::from(p.get())),
                            order: i64::from(d.order),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .await??;
        let bytes = write_departments(&departments, format, language).map_err(write_error)?;
        Ok(ExportedFile {
            bytes,
            rows: departments.len(),
        })
    }
}
