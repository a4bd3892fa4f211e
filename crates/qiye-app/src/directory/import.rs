//! Bulk import of members and departments from a spreadsheet (WeCom's
//! member and department templates, read by `qiye-directory-file`).
//!
//! The whole file is planned against a working copy of the directory, row
//! by row, so later rows see what earlier rows created (departments made by
//! a path, a leader named further down). A bad row is reported with its line
//! and reason and skipped; the good rows are committed together in one
//! transaction (or, with `dry_run`, only reported).

use std::collections::{HashMap, HashSet};

use qiye_directory_file::{DepartmentRow, MemberRow, RowError};
use qiye_domain::directory::{
    DeptPatch, DirChange, DirError, Directory, Gender, Member, MemberFields, NewDept,
};
use qiye_domain::ids::{DeptId, UserId};
use qiye_domain::plan::{BulkOperation, Plan};

use super::DirCaller;
use crate::Services;
use crate::error::AppResult;

/// Sync (create and update) or replace (also delete what the file lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// `batch/syncuser`: members in the file are created or updated.
    Sync,
    /// `batch/replaceuser`: members not in the file are also deleted.
    Replace,
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Sync or replace.
    pub mode: ImportMode,
    /// Only report what would change.
    pub dry_run: bool,
    /// Replace refuses to delete more than this share (percent) of the
    /// members, unless it deletes at most [`DELETE_PROTECTION_FLOOR`].
    pub delete_protection_pct: u8,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            mode: ImportMode::Sync,
            dry_run: false,
            delete_protection_pct: 20,
        }
    }
}

/// Replace may always delete this many members.
pub const DELETE_PROTECTION_FLOOR: u64 = 10;

/// What happened to one row (or, for `Deleted`, one member absent from the
/// file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Already as in the file.
    Unchanged,
    /// Deleted (replace mode).
    Deleted,
    /// Refused, with the errcode and reason.
    Failed {
        /// WeCom errcode.
        errcode: i64,
        /// Why.
        reason: String,
    },
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOutcome {
    /// Line in the file (0 for deletions).
    pub line: usize,
    /// The userid (or department id / name for department files).
    pub key: String,
    /// What happened.
    pub action: RowAction,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Per row, in file order, then deletions.
    pub rows: Vec<RowOutcome>,
    /// Departments created for paths that did not exist.
    pub created_departments: Vec<String>,
    /// Whether the changes were committed (false for a dry run).
    pub committed: bool,
}

impl ImportReport {
    /// Rows with this kind of action.
    pub fn count(&self, pred: impl Fn(&RowAction) -> bool) -> usize {
        self.rows.iter().filter(|r| pred(&r.action)).count()
    }

    /// Rows that failed.
    pub fn failed(&self) -> usize {
        self.count(|a| matches!(a, RowAction::Failed { .. }))
    }
}

fn failed(line: usize, key: String, err: &DirError) -> RowOutcome {
    RowOutcome {
        line,
        key,
        action: RowAction::Failed {
            errcode: err.errcode(),
            reason: err.to_string(),
        },
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DirError {
    DirError::FieldInvalid {
        field,
        reason: reason.into(),
    }
}

/// A working copy of the directory with the changes planned so far.
struct WorkingCopy<'a> {
    dir: Directory,
    changes: Vec<DirChange>,
    plan: Plan,
    caller: &'a DirCaller,
    created_departments: Vec<String>,
    /// Where each member this import creates has its `CreateMember` in
    /// `changes`, so a later change of theirs can be folded into it.
    created_members: HashMap<UserId, usize>,
}

impl WorkingCopy<'_> {
    fn push(&mut self, change: DirChange) {
        self.dir.apply(&change);
        self.changes.push(change);
    }

    /// The department at `path` under the root, created (with its missing
    /// ancestors) when absent.
    fn department(&mut self, path: &[String]) -> Result<DeptId, DirError> {
        let mut cursor = DeptId::ROOT;
        for (i, segment) in path.iter().enumerate() {
            cursor = match self.dir.child_named(cursor, segment) {
                Some(existing) => existing,
                None => {
                    self.caller.check_dept(&self.dir, cursor)?;
                    let change = self.dir.create_dept(
                        NewDept {
                            id: None,
                            name: segment.clone(),
                            name_en: None,
                            parent: cursor,
                            order: None,
                        },
                        self.plan,
                    )?;
                    let DirChange::CreateDept(d) = &change else {
                        unreachable!("create_dept plans a creation")
                    };
                    let id = d.id;
                    self.created_departments.push(path[..=i].join("/"));
                    self.push(change);
                    id
                }
            };
        }
        Ok(cursor)
    }

    fn fields_of(&mut self, row: &MemberRow) -> Result<MemberFields, DirError> {
        let mut depts = Vec::new();
        for path in &row.departments {
            depts.push(self.department(path)?);
        }
        let main = match &row.main_department {
            Some(path) => Some(self.department(path)?),
            None => None,
        };
        let gender = match row.gender.as_deref() {
            Some(label) => Some(
                Gender::from_label(label)
                    .ok_or_else(|| invalid("gender", format!("unknown gender '{label}'")))?,
            ),
            None => None,
        };
        let enable = match row.enable.as_deref().map(str::trim) {
            None => None,
            Some("1" | "是" | "启用" | "true" | "yes") => Some(true),
            Some("0" | "否" | "禁用" | "false" | "no") => Some(false),
            Some(other) => return Err(invalid("enable", format!("'{other}' is not 1 or 0"))),
        };
        let is_leader = match row.is_leader.as_deref() {
            None => None,
            Some(raw) => {
                let flags: Result<Vec<bool>, DirError> = raw
                    .split([';', ',', '；', '，'])
                    .map(str::trim)
                    .map(|f| match f {
                        "1" | "是" | "yes" | "true" => Ok(true),
                        "0" | "否" | "no" | "false" | "" => Ok(false),
                        other => Err(invalid(
                            "is_leader_in_dept",
                            format!("'{other}' is not 1 or 0"),
                        )),
                    })
                    .collect();
                let mut flags = flags?;
                flags.resize(depts.len(), false);
                Some(flags)
            }
        };
        let order = match row.order.as_deref() {
            None => None,
            Some(raw) => {
                let values: Result<Vec<u32>, DirError> = raw
                    .split([';', ','])
                    .map(|v| {
                        v.trim()
                            .parse::<u32>()
                            .map_err(|_| invalid("order", format!("'{v}' is not a number")))
                    })
                    .collect();
                let mut values = values?;
                values.resize(depts.len(), 0);
                Some(values)
            }
        };
        let opt = |v: &Option<String>| v.clone();
        let has_depts = !depts.is_empty();
        Ok(MemberFields {
            name: Some(row.name.clone()),
            alias: opt(&row.alias),
            mobile: opt(&row.mobile),
            position: opt(&row.position),
            gender,
            email: opt(&row.email),
            biz_mail: opt(&row.biz_mail),
            telephone: opt(&row.telephone),
            address: opt(&row.address),
            english_name: opt(&row.english_name),
            avatar_mediaid: None,
            departments: has_depts.then_some(depts),
            order: order.filter(|_| has_depts),
            is_leader_in_dept: is_leader.filter(|_| has_depts),
            main_department: main,
            direct_leader: None,
            enable,
            extattr: None,
            external_position: opt(&row.external_position),
            external_profile: None,
        })
    }

    /// Plans one member row; returns what it does.
    fn member_row(&mut self, userid: &UserId, row: &MemberRow) -> Result<RowAction, DirError> {
        let fields = self.fields_of(row)?;
        if let Some(depts) = &fields.departments {
            for d in depts {
                self.caller.check_dept(&self.dir, *d)?;
            }
        }
        if self.dir.member(userid).is_some() {
            self.caller.check_member(&self.dir, userid)?;
            let change = self.dir.update_member(userid, None, fields)?;
            if let DirChange::UpdateMember { before, after } = &change
                && before == after
            {
                return Ok(RowAction::Unchanged);
            }
            self.push(change);
            Ok(RowAction::Updated)
        } else {
            if fields.departments.is_none() {
                self.caller.check_dept(&self.dir, DeptId::ROOT)?;
            }
            let change = self.dir.create_member(userid.clone(), fields, self.plan)?;
            self.created_members
                .insert(userid.clone(), self.changes.len());
            self.push(change);
            Ok(RowAction::Created)
        }
    }

    fn leaders_row(&mut self, userid: &UserId, row: &MemberRow) -> Result<(), DirError> {
        let leaders = row
            .direct_leader
            .iter()
            .map(|l| UserId::parse(l).map_err(|_| DirError::UserListInvalid))
            .collect::<Result<Vec<_>, _>>()?;
        let change = self.dir.update_member(
            userid,
            None,
            MemberFields {
                direct_leader: Some(leaders),
                ..Default::default()
            },
        )?;
        let DirChange::UpdateMember { before, after } = change else {
            unreachable!("update_member plans an update")
        };
        if before != after {
            self.push_member_update(before, after);
        }
        Ok(())
    }

    /// Records a member's update. A member this import creates gets its
    /// final state in its one `CreateMember` (one write, one `create_user`
    /// event) instead of a creation followed by an update.
    fn push_member_update(&mut self, before: Box<Member>, after: Box<Member>) {
        let created_at = self.created_members.get(&before.userid).copied();
        let change = DirChange::UpdateMember { before, after };
        let Some(at) = created_at else {
            return self.push(change);
        };
        self.dir.apply(&change);
        let DirChange::UpdateMember { after, .. } = change else {
            unreachable!("built as an update above")
        };
        debug_assert!(
            matches!(&self.changes[at], DirChange::CreateMember(m) if m.userid == after.userid)
        );
        self.changes[at] = DirChange::CreateMember(after);
    }
}

impl Services {
    /// Imports members from parsed rows. `progress` is told the number of
    /// rows handled so far.
    pub async fn import_members(
        &self,
        caller: &DirCaller,
        rows: &[Result<MemberRow, RowError>],
        options: ImportOptions,
        progress: &(dyn Fn(usize) + Sync),
    ) -> AppResult<ImportReport> {
        let corp_plan = self.store.get_corp(&caller.corp).await?.plan;
        corp_plan.check_bulk(BulkOperation::Import)?;
        let summary = match options.mode {
            ImportMode::Sync => "directory.import.sync",
            ImportMode::Replace => "directory.import.replace",
        };
        let mut report = ImportReport::default();
        let target = format!("rows:{}", rows.len());
        let dry_run = options.dry_run;
        let outcome = self
            .dir_write(caller, Some((summary, target)), |dir, plan| {
                let (r, changes) = plan_members(dir, plan, caller, rows, options, progress)?;
                report = r;
                Ok((if dry_run { Vec::new() } else { changes }, ()))
            })
            .await;
        outcome?;
        report.committed = !dry_run;
        Ok(report)
    }

    /// Imports the department tree of a file: listed departments are
    /// created or updated; with [`ImportMode::Replace`]
    /// (`batch/replaceparty`) unlisted ones are deleted, their members
    /// moving to the root.
    pub async fn import_departments(
        &self,
        caller: &DirCaller,
        rows: &[Result<DepartmentRow, RowError>],
        mode: ImportMode,
        dry_run: bool,
    ) -> AppResult<ImportReport> {
        let corp_plan = self.store.get_corp(&caller.corp).await?.plan;
        corp_plan.check_bulk(BulkOperation::Import)?;
        let mut report = ImportReport::default();
        let target = format!("rows:{}", rows.len());
        self.dir_write(
            caller,
            Some(("directory.import.departments", target)),
            |dir, plan| {
                let (r, changes) = plan_departments(dir, plan, caller, rows, mode)?;
                report = r;
                Ok((if dry_run { Vec::new() } else { changes }, ()))
            },
        )
        .await?;
        report.committed = !dry_run;
        Ok(report)
    }
}

fn plan_members(
    dir: &Directory,
    plan: Plan,
    caller: &DirCaller,
    rows: &[Result<MemberRow, RowError>],
    options: ImportOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> AppResult<(ImportReport, Vec<DirChange>)> {
    let mut work = WorkingCopy {
        dir: dir.clone(),
        changes: Vec::new(),
        plan,
        caller,
        created_departments: Vec::new(),
        created_members: HashMap::new(),
    };
    let mut report = ImportReport::default();
    let mut in_file: HashSet<UserId> = HashSet::new();
    let mut leaders: Vec<(UserId, &MemberRow)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let outcome = match row {
            Err(e) => RowOutcome {
                line: e.line,
                key: String::new(),
                action: RowAction::Failed {
                    errcode: 40092,
                    reason: e.reason.clone(),
                },
            },
            Ok(row) => match UserId::parse(&row.userid) {
                Err(_) => failed(row.line, row.userid.clone(), &DirError::UserIdInvalid),
                Ok(userid) if !in_file.insert(userid.clone()) => failed(
                    row.line,
                    row.userid.clone(),
                    &invalid("userid", "appears twice in the file"),
                ),
                Ok(userid) => {
                    // A failed row must leave no trace: plan it on a
                    // checkpoint and roll back on error.
                    let mark = work.changes.len();
                    let created_mark = work.created_departments.len();
                    match work.member_row(&userid, row) {
                        Ok(action) => {
                            if !row.direct_leader.is_empty() {
                                leaders.push((userid.clone(), row));
                            }
                            RowOutcome {
                                line: row.line,
                                key: userid.as_str().to_owned(),
                                action,
                            }
                        }
                        Err(err) => {
                            // Only department creations precede the
                            // member's own change; undo them, newest first.
                            let undo: Vec<DirChange> = work.changes.drain(mark..).collect();
                            for change in undo.into_iter().rev() {
                                if let DirChange::CreateDept(d) = change {
                                    work.dir.apply(&DirChange::DeleteDept(d));
                                }
                            }
                            work.created_departments.truncate(created_mark);
                            failed(row.line, userid.as_str().to_owned(), &err)
                        }
                    }
                }
            },
        };
        report.rows.push(outcome);
        if i % 1000 == 999 {
            progress(i + 1);
        }
    }
    for (userid, row) in leaders {
        if let Err(err) = work.leaders_row(&userid, row)
            && let Some(r) = report.rows.iter_mut().find(|r| r.line == row.line)
        {
            r.action = RowAction::Failed {
                errcode: err.errcode(),
                reason: format!("direct_leader: {err}"),
            };
        }
    }
    if options.mode == ImportMode::Replace {
        let current = dir.member_count() as u64;
        let doomed: Vec<UserId> = work
            .dir
            .members()
            .filter(|m| !in_file.contains(&m.userid) && caller.reach.member(&work.dir, m))
            .map(|m| m.userid.clone())
            .collect();
        let would_delete = doomed.len() as u64;
        let allowed =
            (current * u64::from(options.delete_protection_pct) / 100).max(DELETE_PROTECTION_FLOOR);
        if would_delete > allowed {
            return Err(DirError::DeleteProtection {
                would_delete,
                current,
            }
            .into());
        }
        let mut doomed = doomed;
        doomed.sort();
        for userid in doomed {
            let change = work.dir.delete_member(&userid)?;
            work.push(change);
            report.rows.push(RowOutcome {
                line: 0,
                key: userid.as_str().to_owned(),
                action: RowAction::Deleted,
            });
        }
    }
    progress(rows.len());
    report.created_departments = work.created_departments;
    Ok((report, work.changes))
}

fn plan_departments(
    dir: &Directory,
    plan: Plan,
    caller: &DirCaller,
    rows: &[Result<DepartmentRow, RowError>],
    mode: ImportMode,
) -> AppResult<(ImportReport, Vec<DirChange>)> {
    let mut work = WorkingCopy {
        dir: dir.clone(),
        changes: Vec::new(),
        plan,
        caller,
        created_departments: Vec::new(),
        created_members: HashMap::new(),
    };
    let mut report = ImportReport::default();
    let mut listed: HashSet<DeptId> = HashSet::from([DeptId::ROOT]);
    // Parents may come after children in the file: retry rows until no
    // progress is made.
    let mut pending: Vec<&DepartmentRow> = Vec::new();
    for row in rows {
        match row {
            Ok(r) => pending.push(r),
            Err(e) => report.rows.push(RowOutcome {
                line: e.line,
                key: String::new(),
                action: RowAction::Failed {
                    errcode: 40092,
                    reason: e.reason.clone(),
                },
            }),
        }
    }
    let parse_id =
        |raw: &Option<String>, field: &'static str| -> Result<Option<DeptId>, DirError> {
            match raw.as_deref() {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| DeptId::new(n).ok())
                    .map(Some)
                    .ok_or_else(|| invalid(field, format!("'{v}' is not a department id"))),
            }
        };
    let mut results: HashMap<usize, RowOutcome> = HashMap::new();
    loop {
        let mut progressed = false;
        let mut still = Vec::new();
        for row in pending {
            let attempt = (|| -> Result<RowAction, DirError> {
                let id = parse_id(&row.id, "id")?.ok_or_else(|| invalid("id", "missing"))?;
                // The root has no parent (an exported file writes 0).
                let parent = if id == DeptId::ROOT {
                    DeptId::ROOT
                } else {
                    parse_id(&row.parent_id, "parentid")?.unwrap_or(DeptId::ROOT)
                };
                let order = match row.order.as_deref() {
                    Some(o) => Some(
                        o.trim()
                            .parse::<u32>()
                            .map_err(|_| invalid("order", format!("'{o}' is not a number")))?,
                    ),
                    None => None,
                };
                if work.dir.dept(parent).is_none() {
                    return Err(DirError::ParentNotFound(parent.get()));
                }
                listed.insert(id);
                if work.dir.dept(id).is_some() {
                    caller.check_dept(&work.dir, id)?;
                    let change = work.dir.update_dept(
                        id,
                        DeptPatch {
                            name: Some(row.name.clone()),
                            name_en: row.name_en.clone(),
                            parent: (id != DeptId::ROOT).then_some(parent),
                            order,
                        },
                        work.plan,
                    )?;
                    if let DirChange::UpdateDept { before, after } = &change
                        && before == after
                    {
                        return Ok(RowAction::Unchanged);
                    }
                    work.push(change);
                    Ok(RowAction::Updated)
                } else {
                    caller.check_dept(&work.dir, parent)?;
                    let change = work.dir.create_dept(
                        NewDept {
                            id: Some(id),
                            name: row.name.clone(),
                            name_en: row.name_en.clone(),
                            parent,
                            order,
                        },
                        work.plan,
                    )?;
                    work.push(change);
                    Ok(RowAction::Created)
                }
            })();
            match attempt {
                Err(DirError::ParentNotFound(_)) => still.push(row),
                other => {
                    progressed = true;
                    let key = row.id.clone().unwrap_or_else(|| row.name.clone());
                    let outcome = match other {
                        Ok(action) => RowOutcome {
                            line: row.line,
                            key,
                            action,
                        },
                        Err(err) => failed(row.line, key, &err),
                    };
                    results.insert(row.line, outcome);
                }
            }
        }
        pending = still;
        if !progressed || pending.is_empty() {
            break;
        }
    }
    for row in pending {
        let key = row.id.clone().unwrap_or_else(|| row.name.clone());
        let parent = row.parent_id.clone().unwrap_or_default();
        results.insert(
            row.line,
            failed(
                row.line,
                key,
                &DirError::ParentNotFound(parent.parse().unwrap_or(0)),
            ),
        );
    }
    report.rows.extend(results.into_values());
    report.rows.sort_by_key(|r| r.line);
    if mode == ImportMode::Sync {
        return Ok((report, work.changes));
    }
    // Unlisted departments go, deepest first; their members move to the root.
    let mut unlisted: Vec<DeptId> = work
        .dir
        .all_depts()
        .into_iter()
        .filter(|d| !listed.contains(d) && caller.reach.dept(&work.dir, *d))
        .collect();
    unlisted.sort_by_key(|d| std::cmp::Reverse(work.dir.depth(*d)));
    for dept in unlisted {
        let movers: Vec<UserId> = work
            .dir
            .direct_members(dept)
            .map(|m| m.userid.clone())
            .collect();
        for userid in movers {
            let member = work.dir.member(&userid).cloned();
            if let Some(member) = member {
                let mut remaining: Vec<DeptId> = member
                    .departments
                    .iter()
                    .map(|m| m.dept)
                    .filter(|d| *d != dept)
                    .collect();
                if remaining.is_empty() {
                    remaining.push(DeptId::ROOT);
                }
                let change = work.dir.update_member(
                    &userid,
                    None,
                    MemberFields {
                        departments: Some(remaining),
                        ..Default::default()
                    },
                )?;
                work.push(change);
            }
        }
        if work.dir.children(dept).next().is_none() {
            let change = work.dir.delete_dept(dept)?;
            work.push(change);
            report.rows.push(RowOutcome {
                line: 0,
                key: dept.to_string(),
                action: RowAction::Deleted,
            });
        }
    }
    Ok((report, work.changes))
}
