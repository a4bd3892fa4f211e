//! Administrators acting through the native API, and the member-facing
//! rules (visibility and field permissions).
//!
//! Permissions as types: [`Services::admin`] turns a signed-in member into an
//! [`AdminCaller`] only if they hold a role; its [`DirCaller`] carries their
//! reach (super: everything, scoped: their subtrees), which every directory
//! use case enforces (60011). Rules change only through a [`RuleEditor`],
//! which exists for the operator (CLI) and, via
//! [`AdminCaller::rule_editor`], for super administrators alone.

use std::net::IpAddr;

use qiye_domain::audit::Actor;
use qiye_domain::directory::{
    AdminRole, DirError, Directory, FieldRule, Policy, ProtectedField, Range, Reach, VisibilityRule,
};
use qiye_domain::ids::{CorpId, DeptId};

use crate::Services;
use crate::corps::corp_not_found;
use crate::directory::DirCaller;
use crate::directory::cache::DirectoryCache;
use crate::error::{AppResult, SessionError};
use crate::session::SignedInMember;

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    caller: DirCaller,
    is_super: bool,
}

impl AdminCaller {
    /// The directory caller with the administrator's reach.
    pub fn dir(&self) -> &DirCaller {
        &self.caller
    }

    /// Whether they administer the whole corp.
    pub fn is_super(&self) -> bool {
        self.is_super
    }

    /// The handle of super-administrator-only use cases (tags, apps,
    /// imports); a scoped administrator gets 60011.
    pub fn as_super(&self) -> AppResult<SuperAdmin> {
        if self.is_super {
            Ok(SuperAdmin {
                caller: self.caller.clone(),
            })
        } else {
            Err(DirError::NoPrivilege.into())
        }
    }

    /// The handle that changes rules: super administrators only.
    pub fn rule_editor(&self) -> AppResult<RuleEditor> {
        if self.is_super {
            Ok(RuleEditor {
                corp: self.caller.corp.clone(),
                actor: self.caller.actor.clone(),
                ip: self.caller.ip,
            })
        } else {
            Err(DirError::NoPrivilege.into())
        }
    }
}

/// A super administrator, checked: only [`AdminCaller::as_super`] makes
/// one, so a scoped administrator's path cannot reach the use cases that
/// take it.
#[derive(Debug, Clone)]
pub struct SuperAdmin {
    caller: DirCaller,
}

impl SuperAdmin {
    /// The directory caller (reach: the whole corp).
    pub fn dir(&self) -> &DirCaller {
        &self.caller
    }

    /// The corp they administer.
    pub fn corp(&self) -> &CorpId {
        &self.caller.corp
    }

    /// Who acts, for the audit record (`admin:<userid>`).
    pub fn actor(&self) -> Actor {
        self.caller.actor.clone()
    }

    /// Their userid.
    pub fn userid(&self) -> Option<&qiye_domain::ids::UserId> {
        match &self.caller.actor {
            Actor::Admin(userid) => Some(userid),
            _ => None,
        }
    }
}

/// Who may change a corp's visibility and field rules.
#[derive(Debug, Clone)]
pub struct RuleEditor {
    corp: CorpId,
    actor: Actor,
    ip: Option<IpAddr>,
}

impl RuleEditor {
    /// The operator (CLI).
    pub fn operator(corp: CorpId, actor: Actor) -> Self {
        Self {
            corp,
            actor,
            ip: None,
        }
    }

    /// The corp whose rules it changes.
    pub fn corp(&self) -> &CorpId {
        &self.corp
    }

    /// Who acts, for the audit record.
    pub(crate) fn actor(&self) -> &Actor {
        &self.actor
    }

    /// From where, for the audit record.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
}

/// Checks that everything a range names exists.
pub(crate) fn check_range(dir: &Directory, range: &Range) -> Result<(), DirError> {
    if let Some(d) = range.depts.iter().find(|d| dir.dept(**d).is_none()) {
        return Err(DirError::DeptNotFound(d.get()));
    }
    if range.users.iter().any(|u| dir.member(u).is_none()) {
        return Err(DirError::UserNotFound);
    }
    if range.tags.iter().any(|t| dir.tag(*t).is_none()) {
        return Err(DirError::TagNotFound);
    }
    Ok(())
}

impl Services {
    /// The administrator behind a session, or [`SessionError::NotAdmin`].
    pub async fn admin(&self, who: &SignedInMember) -> AppResult<AdminCaller> {
        let role = self.store.admin_role(who.corp(), who.userid()).await?;
        let is_super = match role {
            Some(AdminRole::Super) => true,
            Some(AdminRole::Scoped(_)) => false,
            None => return Err(SessionError::NotAdmin.into()),
        };
        let caller = self
            .admin_caller(who.corp(), who.userid(), who.ip())
            .await?;
        debug_assert_eq!(is_super, caller.reach == Reach::Everything);
        Ok(AdminCaller { caller, is_super })
    }

    /// A member's administrator role, if any.
    pub async fn admin_role_of(
        &self,
        corp: &CorpId,
        userid: &qiye_domain::ids::UserId,
    ) -> AppResult<Option<AdminRole>> {
        Ok(self.store.admin_role(corp, userid).await?)
    }

    /// A corp's visibility and field rules (through the policy cache).
    pub async fn policy(&self, corp: &CorpId) -> AppResult<Policy> {
        self.store.get_corp(corp).await.map_err(corp_not_found)?;
        let entry = self.directories.entry(corp);
        Ok((*DirectoryCache::fresh_policy(&*self.store, corp, &entry).await?).clone())
    }

    async fn check_rule_targets(
        &self,
        editor: &RuleEditor,
        check: impl FnOnce(&Directory) -> Result<(), DirError>,
    ) -> AppResult<()> {
        self.store
            .get_corp(&editor.corp)
            .await
            .map_err(corp_not_found)?;
        let caller = DirCaller::operator(editor.corp.clone(), editor.actor.clone());
        self.dir_read(&caller, |view| check(view.dir)).await??;
        Ok(())
    }

    /// Hides department `dept` (with its subtree) from all but `audience`;
    /// `None` removes the rule.
    pub async fn set_visibility_rule(
        &self,
        editor: &RuleEditor,
        dept: DeptId,
        audience: Option<Range>,
    ) -> AppResult<()> {
        self.check_rule_targets(editor, |dir| {
            if dir.dept(dept).is_none() {
                return Err(DirError::DeptNotFound(dept.get()));
            }
            audience.as_ref().map_or(Ok(()), |r| check_range(dir, r))
        })
        .await?;
        let action = if audience.is_some() {
            "directory.hide"
        } else {
            "directory.unhide"
        };
        let record = self.audit_record(
            editor.actor.clone(),
            &editor.corp,
            editor.ip,
            action,
            &format!("department:{dept}"),
        );
        self.store
            .set_visibility_rule(&editor.corp, dept, audience.as_ref(), &record)
            .await?;
        Ok(())
    }

    /// Restricts who reads `field` to administrators (if `admins`) and
    /// `readers`; `None` removes the rule.
    pub async fn set_field_rule(
        &self,
        editor: &RuleEditor,
        field: &ProtectedField,
        readers: Option<(bool, Range)>,
    ) -> AppResult<()> {
        self.check_rule_targets(editor, |dir| {
            readers
                .as_ref()
                .map_or(Ok(()), |(_, range)| check_range(dir, range))
        })
        .await?;
        let action = if readers.is_some() {
            "directory.protect_field"
        } else {
            "directory.unprotect_field"
        };
        let record = self.audit_record(
            editor.actor.clone(),
            &editor.corp,
            editor.ip,
            action,
            &format!("field:{}", field.as_config()),
        );
        self.store
            .set_field_rule(
                &editor.corp,
                field,
                readers.as_ref().map(|(admins, range)| (*admins, range)),
                &record,
            )
            .await?;
        Ok(())
    }

    /// The visibility rule of one department, if any.
    pub async fn visibility_rule(
        &self,
        corp: &CorpId,
        dept: DeptId,
    ) -> AppResult<Option<VisibilityRule>> {
        Ok(self
            .policy(corp)
            .await?
            .visibility
            .into_iter()
            .find(|r| r.dept == dept))
    }

    /// The rule of one field, if any.
    pub async fn field_rule(
        &self,
        corp: &CorpId,
        field: &ProtectedField,
    ) -> AppResult<Option<FieldRule>> {
        Ok(self
            .policy(corp)
            .await?
            .fields
            .into_iter()
            .find(|r| &r.field == field))
    }
}
