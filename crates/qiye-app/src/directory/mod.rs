//! Directory use cases: who the caller is and what they reach, reads over
//! the cached directory, and writes that are validated by the domain,
//! committed with their audit records and callback events, then applied to
//! the cache.

pub mod admin;
pub(crate) mod cache;
pub mod export_file;
pub mod import;
pub mod member_view;
pub(crate) mod render_cache;

use std::net::IpAddr;

use qiye_domain::audit::{Actor, AuditRecord};
use qiye_domain::credential::CredentialKind;
use qiye_domain::directory::{
    AdminRole, DeptPatch, DirChange, DirError, Directory, MemberFields, MemberStatus, NewDept,
    Range, Reach, TagId, TagTargetOutcome,
};
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use qiye_domain::ports::{DirectoryCommit, StoreError};
use sha2::{Digest, Sha256};

use crate::Services;
use crate::auth::AuthContext;
use crate::error::{AppError, AppResult};

/// Attempts at a write when other processes keep committing first.
const WRITE_ATTEMPTS: usize = 5;

/// Who acts on the directory and what they reach.
#[derive(Debug, Clone)]
pub struct DirCaller {
    /// The corp.
    pub corp: CorpId,
    /// For the audit log.
    pub actor: Actor,
    /// The caller's IP, for the audit log.
    pub ip: Option<IpAddr>,
    /// What they may read and change.
    pub reach: Reach,
    /// The app acting, if an app is (tags it creates are its own).
    pub app: Option<AgentId>,
}

impl DirCaller {
    /// The operator (CLI) or the system: everything, no app.
    pub fn operator(corp: CorpId, actor: Actor) -> Self {
        Self {
            corp,
            actor,
            ip: None,
            reach: Reach::Everything,
            app: None,
        }
    }

    fn check_dept(&self, dir: &Directory, dept: DeptId) -> Result<(), DirError> {
        if dir.dept(dept).is_none() {
            return Err(DirError::DeptNotFound(dept.get()));
        }
        if self.reach.dept(dir, dept) {
            Ok(())
        } else {
            Err(DirError::NoPrivilege)
        }
    }

    fn check_member(&self, dir: &Directory, userid: &UserId) -> Result<(), DirError> {
        let member = dir.member(userid).ok_or(DirError::UserNotFound)?;
        if self.reach.member(dir, member) {
            Ok(())
        } else {
            Err(DirError::NoPrivilege)
        }
    }

    /// Tags an app may change: the ones it created. Others change any tag.
    fn check_tag_owner(&self, dir: &Directory, id: TagId) -> Result<(), DirError> {
        let tag = dir.tag(id).ok_or(DirError::TagNotFound)?;
        match self.app {
            Some(app) if tag.owner != Some(app) => Err(DirError::NoPrivilege),
            _ => Ok(()),
        }
    }

    /// Tags the caller may read: any for the whole-corp reach; else the
    /// tags in its range and those it created.
    pub fn may_read_tag(&self, dir: &Directory, id: TagId) -> bool {
        match &self.reach {
            Reach::Everything => true,
            Reach::Within(range) => {
                range.covers_tag(id)
                    || dir
                        .tag(id)
                        .is_some_and(|t| t.owner.is_some() && t.owner == self.app)
            }
        }
    }
}

/// A read-only look at a corp's directory through a caller's reach.
pub struct DirView<'a> {
    /// The directory.
    pub dir: &'a Directory,
    /// The caller.
    pub caller: &'a DirCaller,
}

impl<'a> DirView<'a> {
    /// A reachable department, or why not.
    pub fn dept(&self, id: DeptId) -> Result<&'a qiye_domain::directory::Department, DirError> {
        self.caller.check_dept(self.dir, id)?;
        self.dir.dept(id).ok_or(DirError::DeptNotFound(id.get()))
    }

    /// The reachable departments: `id` and its subtree, or with `None` every
    /// reachable subtree, in tree order.
    pub fn depts(
        &self,
        id: Option<DeptId>,
    ) -> Result<Vec<&'a qiye_domain::directory::Department>, DirError> {
        let roots = match id {
            Some(id) => {
                self.caller.check_dept(self.dir, id)?;
                vec![id]
            }
            None => self.caller.reach.top_depts(self.dir),
        };
        Ok(roots
            .into_iter()
            .flat_map(|r| self.dir.subtree(r))
            .filter_map(|d| self.dir.dept(d))
            .collect())
    }

    /// A reachable member.
    pub fn member(&self, userid: &UserId) -> Result<&'a qiye_domain::directory::Member, DirError> {
        self.caller.check_member(self.dir, userid)?;
        self.dir.member(userid).ok_or(DirError::UserNotFound)
    }

    /// Members of a department (with `recursive` its subtree) that the caller
    /// reaches, filtered by WeCom's legacy status bits (0 = all).
    pub fn members_of(
        &self,
        dept: DeptId,
        recursive: bool,
        status_bits: i64,
    ) -> Result<Vec<&'a qiye_domain::directory::Member>, DirError> {
        if self.dir.dept(dept).is_none() {
            return Err(DirError::DeptNotFound(dept.get()));
        }
        let dept_reached = self.caller.reach.dept(self.dir, dept);
        let members = self.dir.members_of(dept, recursive);
        let status_ok = |s: MemberStatus| status_bits == 0 || s.code() & status_bits != 0;
        if dept_reached {
            return Ok(members
                .into_iter()
                .filter(|m| status_ok(m.status))
                .collect());
        }
        // An app whose range names members (not this department) sees those.
        let visible: Vec<_> = members
            .into_iter()
            .filter(|m| self.caller.reach.member(self.dir, m) && status_ok(m.status))
            .collect();
        if visible.is_empty() {
            Err(DirError::NoPrivilege)
        } else {
            Ok(visible)
        }
    }

    /// Every reachable member with each of their departments that `keep`
    /// accepts, ordered by userid, starting after `after`; at most `limit`
    /// members.
    pub fn member_page(
        &self,
        after: Option<&UserId>,
        limit: usize,
        keep: impl Fn(&qiye_domain::directory::Member) -> bool,
    ) -> (Vec<&'a qiye_domain::directory::Member>, bool) {
        let mut all: Vec<_> = self
            .dir
            .members()
            .filter(|m| after.is_none_or(|a| &m.userid > a))
            .filter(|m| self.caller.reach.member(self.dir, m))
            .filter(|m| keep(m))
            .collect();
        all.sort_unstable_by(|a, b| a.userid.cmp(&b.userid));
        let more = all.len() > limit;
        all.truncate(limit);
        (all, more)
    }

    /// The reachable member with this mobile.
    pub fn member_by_mobile(
        &self,
        mobile: &str,
    ) -> Result<&'a qiye_domain::directory::Member, DirError> {
        let m = self
            .dir
            .member_by_mobile(mobile)
            .ok_or(DirError::UserNotFound)?;
        self.member(&m.userid)
    }

    /// The reachable member with this e-mail.
    pub fn member_by_email(
        &self,
        email: &str,
    ) -> Result<&'a qiye_domain::directory::Member, DirError> {
        let m = self
            .dir
            .member_by_email(email)
            .ok_or(DirError::UserNotFound)?;
        self.member(&m.userid)
    }

    /// A readable tag.
    pub fn tag(&self, id: TagId) -> Result<&'a qiye_domain::directory::Tag, DirError> {
        let tag = self.dir.tag(id).ok_or(DirError::TagNotFound)?;
        if self.caller.may_read_tag(self.dir, id) {
            Ok(tag)
        } else {
            Err(DirError::NoPrivilege)
        }
    }

    /// The readable tags.
    pub fn tags(&self) -> Vec<&'a qiye_domain::directory::Tag> {
        self.dir
            .tags()
            .filter(|t| self.caller.may_read_tag(self.dir, t.id))
            .collect()
    }
}

/// A member's `open_userid`-style opaque id for this corp: stable, not
/// reversible without the directory.
pub fn openid_of(corp: &CorpId, userid: &UserId) -> String {
    let digest = Sha256::digest(format!("{corp}/{userid}").as_bytes());
    format!("o{}", &hex::encode(digest)[..27])
}

impl Services {
    /// The directory caller behind an API token: the contacts secret reaches
    /// everything, an app its visible range.
    pub async fn dir_caller(&self, auth: &AuthContext, ip: Option<IpAddr>) -> AppResult<DirCaller> {
        let corp = auth.corp_id().clone();
        let (actor, reach, app) = match auth.principal.credential {
            CredentialKind::ContactSync => (Actor::ContactSync, Reach::Everything, None),
            CredentialKind::App(agentid) => {
                let reach = match self.store.app_range(&corp, agentid).await? {
                    None => Reach::Everything,
                    Some(range) => Reach::Within(range),
                };
                (Actor::App(agentid), reach, Some(agentid))
            }
        };
        Ok(DirCaller {
            corp,
            actor,
            ip,
            reach,
            app,
        })
    }

    /// The caller for an administrator: a super admin reaches everything, a
    /// scoped admin their departments' subtrees; a member who is not an
    /// admin reaches nothing (60011 on every write).
    pub async fn admin_caller(
        &self,
        corp: &CorpId,
        userid: &UserId,
        ip: Option<IpAddr>,
    ) -> AppResult<DirCaller> {
        let reach = match self.store.admin_role(corp, userid).await? {
            Some(AdminRole::Super) => Reach::Everything,
            Some(AdminRole::Scoped(depts)) => Reach::Within(Range {
                depts,
                ..Default::default()
            }),
            None => Reach::Within(Range::default()),
        };
        Ok(DirCaller {
            corp: corp.clone(),
            actor: Actor::Admin(userid.clone()),
            ip,
            reach,
            app: None,
        })
    }

    /// Runs `f` over the caller's view of the current directory.
    pub async fn dir_read<R>(
        &self,
        caller: &DirCaller,
        f: impl FnOnce(DirView<'_>) -> R,
    ) -> AppResult<R> {
        let entry = self.directories.fresh(&*self.store, &caller.corp).await?;
        let state = entry.state.read().unwrap_or_else(|e| e.into_inner());
        Ok(f(DirView {
            dir: &state.dir,
            caller,
        }))
    }

    /// Like [`Services::dir_read`] for a read whose answer is a whole
    /// rendered reply (e.g. every member of the corp): the bytes are kept
    /// per (corp, directory version, caller's reach, `query`) and served
    /// again while the directory stands at that version, so the cost of a
    /// large listing is paid once per change, not once per request.
    /// Concurrent first requests for one key render it once. A refusal
    /// (`Err`) is never kept.
    pub async fn dir_read_rendered<E: Clone + Send + Sync + 'static>(
        &self,
        caller: &DirCaller,
        query: &str,
        render: impl FnOnce(DirView<'_>) -> Result<Vec<u8>, E>,
    ) -> AppResult<Result<bytes::Bytes, E>> {
        let entry = self.directories.fresh(&*self.store, &caller.corp).await?;
        let state = entry.state.read().unwrap_or_else(|e| e.into_inner());
        let view = DirView {
            dir: &state.dir,
            caller,
        };
        let Some(version) = state.version else {
            return Ok(render(view).map(bytes::Bytes::from));
        };
        let key = render_cache::RenderKey::new(&caller.corp, version, &caller.reach, query);
        Ok(self
            .rendered
            .get_or_render(key, || render(view).map(bytes::Bytes::from)))
    }

    /// Plans changes with `plan` against the current directory, commits them
    /// with their audit records (one per change, or `summary` for bulk work)
    /// and callback events, and applies them. Retries when another process
    /// committed first.
    pub(crate) async fn dir_write<T>(
        &self,
        caller: &DirCaller,
        summary: Option<(&str, String)>,
        mut plan: impl FnMut(&Directory, qiye_domain::plan::Plan) -> AppResult<(Vec<DirChange>, T)>,
    ) -> AppResult<T> {
        let corp = &caller.corp;
        let corp_plan = self
            .store
            .get_corp(corp)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::CorpNotFound,
                other => other.into(),
            })?
            .plan;
        let listeners = self.listeners(corp).await?;
        let entry = self.directories.entry(corp);
        let _writer = entry.writer.lock().await;
        for _ in 0..WRITE_ATTEMPTS {
            let stored = cache::DirectoryCache::catch_up(&*self.store, corp, &entry).await?;
            let (version, changes, out, outbox) = {
                let state = entry.state.read().unwrap_or_else(|e| e.into_inner());
                let (changes, out) = plan(&state.dir, corp_plan)?;
                let outbox = self.contact_outbox(corp, &listeners, &state.dir, &changes);
                (state.version.unwrap_or(stored), changes, out, outbox)
            };
            if changes.is_empty() {
                return Ok(out);
            }
            let audit: Vec<AuditRecord> = match &summary {
                Some((action, target)) => {
                    vec![self.audit_record(caller.actor.clone(), corp, caller.ip, action, target)]
                }
                None => changes
                    .iter()
                    .map(|c| {
                        self.audit_record(
                            caller.actor.clone(),
                            corp,
                            caller.ip,
                            c.action(),
                            &c.target(),
                        )
                    })
                    .collect(),
            };
            let commit = DirectoryCommit {
                corp,
                expected_version: version,
                changes: &changes,
                at: self.clock.now_millis(),
                audit: &audit,
                outbox: &outbox,
            };
            match self.store.commit_directory(commit).await {
                Ok(new_version) => {
                    let mut state = entry.state.write().unwrap_or_else(|e| e.into_inner());
                    for change in changes {
                        state.dir.apply_owned(change);
                    }
                    state.version = Some(new_version);
                    return Ok(out);
                }
                Err(StoreError::Conflict(_)) => {
                    cache::DirectoryCache::reload(&*self.store, corp, &entry).await?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Store(StoreError::Unavailable(
            "directory kept changing; retry".into(),
        )))
    }

    /// `department/create`.
    pub async fn create_department(&self, caller: &DirCaller, new: NewDept) -> AppResult<DeptId> {
        self.dir_write(caller, None, |dir, plan| {
            caller.check_dept(dir, new.parent).map_err(|e| match e {
                DirError::DeptNotFound(id) => DirError::ParentNotFound(id),
                other => other,
            })?;
            let change = dir.create_dept(new.clone(), plan)?;
            let id = match &change {
                DirChange::CreateDept(d) => d.id,
                _ => unreachable!("create_dept plans a creation"),
            };
            Ok((vec![change], id))
        })
        .await
    }

    /// `department/update`.
    pub async fn update_department(
        &self,
        caller: &DirCaller,
        id: DeptId,
        patch: DeptPatch,
    ) -> AppResult<()> {
        self.dir_write(caller, None, |dir, plan| {
            caller.check_dept(dir, id)?;
            if let Some(parent) = patch.parent {
                caller.check_dept(dir, parent).map_err(|e| match e {
                    DirError::DeptNotFound(id) => DirError::ParentNotFound(id),
                    other => other,
                })?;
            }
            Ok((vec![dir.update_dept(id, patch.clone(), plan)?], ()))
        })
        .await
    }

    /// `department/delete`.
    pub async fn delete_department(&self, caller: &DirCaller, id: DeptId) -> AppResult<()> {
        self.dir_write(caller, None, |dir, _| {
            if id != DeptId::ROOT {
                caller.check_dept(dir, id)?;
            }
            Ok((vec![dir.delete_dept(id)?], ()))
        })
        .await
    }

    fn check_target_depts(
        caller: &DirCaller,
        dir: &Directory,
        fields: &MemberFields,
    ) -> Result<(), DirError> {
        match &fields.departments {
            Some(depts) if !depts.is_empty() => {
                depts.iter().try_for_each(|d| caller.check_dept(dir, *d))
            }
            _ => Ok(()),
        }
    }

    /// `user/create`.
    pub async fn create_member(
        &self,
        caller: &DirCaller,
        userid: UserId,
        fields: MemberFields,
    ) -> AppResult<()> {
        fields.check_shape()?;
        self.dir_write(caller, None, |dir, plan| {
            Self::check_target_depts(caller, dir, &fields)?;
            if fields.departments.as_ref().is_none_or(Vec::is_empty) {
                caller.check_dept(dir, DeptId::ROOT)?;
            }
            Ok((
                vec![dir.create_member(userid.clone(), fields.clone(), plan)?],
                (),
            ))
        })
        .await
    }

    /// `user/update`.
    pub async fn update_member(
        &self,
        caller: &DirCaller,
        userid: &UserId,
        new_userid: Option<UserId>,
        fields: MemberFields,
    ) -> AppResult<()> {
        fields.check_shape()?;
        self.dir_write(caller, None, |dir, _| {
            caller.check_member(dir, userid)?;
            Self::check_target_depts(caller, dir, &fields)?;
            Ok((
                vec![dir.update_member(userid, new_userid.clone(), fields.clone())?],
                (),
            ))
        })
        .await
    }

    /// `user/delete` and `user/batchdelete`: all or nothing.
    pub async fn delete_members(&self, caller: &DirCaller, userids: &[UserId]) -> AppResult<()> {
        if userids.is_empty() || userids.len() > 200 {
            return Err(DirError::ListTooLong.into());
        }
        self.dir_write(caller, None, |dir, _| {
            let mut changes = Vec::with_capacity(userids.len());
            for u in userids {
                caller.check_member(dir, u)?;
                if !changes
                    .iter()
                    .any(|c| matches!(c, DirChange::DeleteMember(m) if &m.userid == u))
                {
                    changes.push(dir.delete_member(u)?);
                }
            }
            Ok((changes, ()))
        })
        .await
    }

    /// `user/authsucc`: the member passed second-factor verification and is
    /// now active.
    pub async fn member_verified(&self, caller: &DirCaller, userid: &UserId) -> AppResult<()> {
        self.dir_write(caller, None, |dir, _| {
            caller.check_member(dir, userid)?;
            let member = dir.member(userid).ok_or(DirError::UserNotFound)?;
            if member.status != MemberStatus::NotActivated {
                return Ok((Vec::new(), ()));
            }
            let mut after = member.clone();
            after.status = MemberStatus::Active;
            Ok((
                vec![DirChange::UpdateMember {
                    before: Box::new(member.clone()),
                    after: Box::new(after),
                }],
                (),
            ))
        })
        .await
    }

    /// `tag/create`: an app's tags are its own.
    pub async fn create_tag(
        &self,
        caller: &DirCaller,
        id: Option<TagId>,
        name: String,
    ) -> AppResult<TagId> {
        self.dir_write(caller, None, |dir, _| {
            let change = dir.create_tag(id, name.clone(), caller.app)?;
            let id = match &change {
                DirChange::CreateTag(t) => t.id,
                _ => unreachable!("create_tag plans a creation"),
            };
            Ok((vec![change], id))
        })
        .await
    }

    /// `tag/update`.
    pub async fn rename_tag(&self, caller: &DirCaller, id: TagId, name: String) -> AppResult<()> {
        self.dir_write(caller, None, |dir, _| {
            caller.check_tag_owner(dir, id)?;
            Ok((vec![dir.rename_tag(id, name.clone())?], ()))
        })
        .await
    }

    /// `tag/delete`.
    pub async fn delete_tag(&self, caller: &DirCaller, id: TagId) -> AppResult<()> {
        self.dir_write(caller, None, |dir, _| {
            caller.check_tag_owner(dir, id)?;
            Ok((vec![dir.delete_tag(id)?], ()))
        })
        .await
    }

    /// `tag/addtagusers` (`add`) and `tag/deltagusers`. Targets outside the
    /// caller's reach count as invalid.
    pub async fn tag_targets(
        &self,
        caller: &DirCaller,
        id: TagId,
        users: &[String],
        parties: &[i64],
        add: bool,
    ) -> AppResult<TagTargetOutcome> {
        self.dir_write(caller, None, |dir, _| {
            caller.check_tag_owner(dir, id)?;
            let mut outcome = TagTargetOutcome::default();
            let mut reach_users = Vec::new();
            for raw in users {
                match UserId::parse(raw)
                    .ok()
                    .filter(|u| caller.check_member(dir, u).is_ok())
                {
                    Some(_) => reach_users.push(raw.clone()),
                    None => outcome.invalid_users.push(raw.clone()),
                }
            }
            let mut reach_parties = Vec::new();
            for raw in parties {
                match DeptId::new(*raw)
                    .ok()
                    .filter(|d| caller.check_dept(dir, *d).is_ok())
                {
                    Some(_) => reach_parties.push(*raw),
                    None => outcome.invalid_parties.push(*raw),
                }
            }
            if users.len() > 1000 || parties.len() > 100 {
                return Err(DirError::ListTooLong.into());
            }
            let (change, more) = dir.tag_targets(id, &reach_users, &reach_parties, add)?;
            outcome.invalid_users.extend(more.invalid_users);
            outcome.invalid_parties.extend(more.invalid_parties);
            Ok((vec![change], outcome))
        })
        .await
    }

    /// Makes a member an administrator (CLI).
    pub async fn grant_admin(
        &self,
        actor: Actor,
        corp: &CorpId,
        userid: &UserId,
        role: AdminRole,
    ) -> AppResult<()> {
        if let AdminRole::Scoped(depts) = &role {
            let caller = DirCaller::operator(corp.clone(), actor.clone());
            self.dir_read(&caller, |view| {
                depts.iter().try_for_each(|d| view.dept(*d).map(|_| ()))
            })
            .await??;
            if depts.is_empty() {
                return Err(DirError::FieldInvalid {
                    field: "scope",
                    reason: "a scoped administrator needs at least one department".into(),
                }
                .into());
            }
        }
        let record = self.audit_record(
            actor,
            corp,
            None,
            "admin.grant",
            &format!("member:{userid}"),
        );
        self.store
            .grant_admin(corp, userid, &role, &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DirError::UserNotFound.into(),
                other => other.into(),
            })
    }

    /// Removes a member's administrator role (CLI).
    pub async fn revoke_admin(
        &self,
        actor: Actor,
        corp: &CorpId,
        userid: &UserId,
    ) -> AppResult<()> {
        let record = self.audit_record(
            actor,
            corp,
            None,
            "admin.revoke",
            &format!("member:{userid}"),
        );
        self.store
            .revoke_admin(corp, userid, &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DirError::UserNotFound.into(),
                other => other.into(),
            })
    }

    /// Sets an app's visible range (`None`: the whole corp).
    pub async fn set_app_range(
        &self,
        actor: Actor,
        corp: &CorpId,
        agentid: AgentId,
        range: Option<Range>,
    ) -> AppResult<()> {
        let record = self.audit_record(actor, corp, None, "app.range", &format!("app:{agentid}"));
        self.store
            .set_app_range(corp, agentid, range.as_ref(), &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::UnknownAgent,
                other => other.into(),
            })?;
        self.forget_cached_app(&(corp.clone(), agentid));
        Ok(())
    }

    /// The name of a current or former member (history stays attributable).
    pub async fn member_name(&self, corp: &CorpId, userid: &UserId) -> AppResult<Option<String>> {
        let caller = DirCaller::operator(corp.clone(), Actor::System);
        if let Some(name) = self
            .dir_read(&caller, |v| v.dir.member(userid).map(|m| m.name.clone()))
            .await?
        {
            return Ok(Some(name));
        }
        Ok(self.store.former_member_name(corp, userid).await?)
    }

    /// A corp's administrators and their roles, by userid (CLI).
    pub async fn list_admins(&self, corp: &CorpId) -> AppResult<Vec<(UserId, AdminRole)>> {
        self.store.get_corp(corp).await.map_err(|e| match e {
            StoreError::NotFound => AppError::CorpNotFound,
            other => other.into(),
        })?;
        let mut admins = self.store.list_admins(corp).await?;
        admins.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(admins)
    }
}
