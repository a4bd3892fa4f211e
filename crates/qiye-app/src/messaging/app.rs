//! App messages: `message/send` (recipients resolved inside the app's
//! visible range, each member's copy in their app conversation),
//! `message/recall`, and app chats (`appchat/*`).

use std::collections::HashSet;
use std::sync::Arc;

use qiye_domain::directory::Reach;
use qiye_domain::directory::{Directory, Member, MemberStatus, Range, TagId};
use qiye_domain::ids::{AgentId, DeptId, UserId};
use qiye_domain::message::{
    Content, ConvId, ConvKind, Conversation, ConversationError, Draft, Entry, EntryBody,
    MessageError, MsgId, MsgKind, NewConversation, PairKey, Priority, RECALL_WINDOW_MS, Sender,
};
use qiye_domain::ports::StoreError;

use crate::Services;
use crate::directory::DirCaller;
use crate::error::{AppError, AppResult};

/// Recipients as `message/send` names them: raw ids, so that the invalid
/// ones can be reported back as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// `touser` was `@all`: everyone in the app's visible range.
    pub all: bool,
    /// userids.
    pub users: Vec<String>,
    /// Department ids (with their subtrees).
    pub parties: Vec<String>,
    /// Tag ids.
    pub tags: Vec<String>,
}

/// A `message/send`.
#[derive(Debug, Clone)]
pub struct AppMessage {
    /// Who receives it.
    pub targets: Targets,
    /// What it says.
    pub content: Content,
    /// What it is for (statistics).
    pub kind: MsgKind,
    /// How urgent.
    pub priority: Priority,
    /// WeCom's duplicate check: the request's digest and the interval (s)
    /// within which the same request is not sent again.
    pub duplicate_check: Option<(String, u32)>,
}

/// What `message/send` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSendReport {
    /// The send's id.
    pub msgid: MsgId,
    /// Named members who do not exist, are outside the range or disabled
    /// (lower-cased, as WeCom reports them).
    pub invalid_users: Vec<String>,
    /// Named departments that do not exist or are outside the range.
    pub invalid_parties: Vec<String>,
    /// Named tags that do not exist or are outside the range.
    pub invalid_tags: Vec<String>,
    /// Members it was sent to.
    pub delivered_to: usize,
}

/// Recipients resolved against the directory.
#[derive(Debug, Default)]
struct Resolution {
    members: Vec<UserId>,
    invalid_users: Vec<String>,
    invalid_parties: Vec<String>,
    invalid_tags: Vec<String>,
}

fn receives(m: &Member) -> bool {
    !matches!(m.status, MemberStatus::Disabled | MemberStatus::Left)
}

/// Resolves `targets` inside `reach`: each named member, each named
/// department's subtree, each named tag's members and departments.
fn resolve(dir: &Directory, reach: &Reach, caller: &DirCaller, targets: &Targets) -> Resolution {
    let mut out = Resolution::default();
    let mut seen: HashSet<UserId> = HashSet::new();
    let mut take = |m: &Member, out: &mut Resolution| {
        if receives(m) && reach.member(dir, m) && seen.insert(m.userid.clone()) {
            out.members.push(m.userid.clone());
        }
    };
    if targets.all {
        for m in dir.members() {
            take(m, &mut out);
        }
        return out;
    }
    for raw in &targets.users {
        let member = UserId::parse(raw)
            .ok()
            .and_then(|u| dir.member(&u))
            .filter(|m| receives(m) && reach.member(dir, m));
        match member {
            Some(m) => take(m, &mut out),
            None => out.invalid_users.push(raw.to_lowercase()),
        }
    }
    for raw in &targets.parties {
        let dept = raw
            .parse::<i64>()
            .ok()
            .and_then(|n| DeptId::new(n).ok())
            .filter(|d| dir.dept(*d).is_some());
        match dept {
            Some(d) if reach.dept(dir, d) => {
                for m in dir.members_of(d, true) {
                    take(m, &mut out);
                }
            }
            _ => out.invalid_parties.push(raw.clone()),
        }
    }
    for raw in &targets.tags {
        let tag = raw
            .parse::<u32>()
            .ok()
            .and_then(|n| dir.tag(TagId(n)))
            .filter(|t| caller.may_read_tag(dir, t.id));
        match tag {
            Some(t) => {
                for u in &t.users {
                    if let Some(m) = dir.member(u) {
                        take(m, &mut out);
                    }
                }
                for d in &t.parties {
                    for m in dir.members_of(*d, true) {
                        take(m, &mut out);
                    }
                }
            }
            None => out.invalid_tags.push(raw.clone()),
        }
    }
    out
}

/// The members `targets` name inside the caller's reach (no `@all`).
pub(super) fn resolve_members(
    dir: &Directory,
    caller: &DirCaller,
    targets: &Targets,
) -> Vec<UserId> {
    resolve(dir, &caller.reach, caller, targets).members
}

impl Services {
    /// The app a token acts as; the contacts-sync secret sends nothing.
    pub(super) fn sending_app(caller: &DirCaller, agentid: AgentId) -> AppResult<AgentId> {
        match caller.app {
            Some(app) if app == agentid => Ok(app),
            Some(_) => Err(AppError::OtherApp(agentid.get())),
            None => Err(AppError::Forbidden("contacts-sync secret".into())),
        }
    }

    /// `message/send`: resolves the recipients inside the app's visible
    /// range and commits one entry per member in the member's conversation
    /// with the app, all together. Invalid recipients are reported; if
    /// none is valid, [`MessageError::NoRecipient`] (81013).
    pub async fn send_app_message(
        &self,
        caller: &DirCaller,
        agentid: AgentId,
        message: AppMessage,
    ) -> AppResult<AppSendReport> {
        let app = Self::sending_app(caller, agentid)?;
        let corp = &caller.corp;
        let resolution = self
            .dir_read(caller, |view| {
                resolve(view.dir, &caller.reach, caller, &message.targets)
            })
            .await?;
        if resolution.members.is_empty() {
            return Err(MessageError::NoRecipient.into());
        }
        self.check_media(corp, &message.content.media).await?;
        let msgid = MsgId::generate();
        if let Some((digest, interval)) = &message.duplicate_check {
            let now = self.clock.now_millis();
            let until = now + i64::from(*interval) * 1000;
            if let Some(earlier) = self
                .store
                .remember_send(corp, app, digest, &msgid, now, until)
                .await?
            {
                return Ok(AppSendReport {
                    msgid: earlier,
                    invalid_users: resolution.invalid_users,
                    invalid_parties: resolution.invalid_parties,
                    invalid_tags: resolution.invalid_tags,
                    delivered_to: 0,
                });
            }
        }
        let at = self.clock.now_millis();
        let mut drafts = Vec::with_capacity(resolution.members.len());
        let mut recipients = Vec::with_capacity(resolution.members.len());
        for member in &resolution.members {
            let conv = self
                .pair_conversation(corp, &PairKey::App(app, member.clone()))
                .await?;
            drafts.push(Draft {
                corp: corp.clone(),
                conv,
                msgid: msgid.clone(),
                sender: Sender::App(app),
                kind: message.kind,
                priority: message.priority,
                body: EntryBody::Message(message.content.clone()),
                at,
            });
            recipients.push(Arc::from(vec![member.clone()]));
        }
        let delivered_to = drafts.len();
        self.commit_entries(corp, drafts, recipients).await?;
        Ok(AppSendReport {
            msgid,
            invalid_users: resolution.invalid_users,
            invalid_parties: resolution.invalid_parties,
            invalid_tags: resolution.invalid_tags,
            delivered_to,
        })
    }

    /// `message/recall`: recalls every copy of an app's message sent in
    /// the last 24 hours.
    pub async fn recall_app_message(&self, caller: &DirCaller, msgid: &str) -> AppResult<usize> {
        let app = caller
            .app
            .ok_or_else(|| AppError::Forbidden("contacts-sync secret".into()))?;
        let corp = &caller.corp;
        let id = MsgId::parse(msgid).ok_or(MessageError::UnknownMessage)?;
        let copies: Vec<Entry> = self
            .store
            .entries_by_msgid(corp, &id)
            .await?
            .into_iter()
            .filter(|e| e.sender == Sender::App(app) && e.body.is_message())
            .collect();
        let first = copies.first().ok_or(MessageError::UnknownMessage)?;
        if self.clock.now_millis() - first.at > RECALL_WINDOW_MS {
            return Err(MessageError::RecallWindowPassed.into());
        }
        let live: Vec<&Entry> = copies.iter().filter(|e| e.recalled_at.is_none()).collect();
        if live.is_empty() {
            return Err(MessageError::NotRecallable.into());
        }
        let at = self.clock.now_millis();
        let mut drafts = Vec::with_capacity(live.len());
        let mut recipients = Vec::with_capacity(live.len());
        for e in &live {
            let conv = self.cached_conversation(corp, &e.conv).await?;
            drafts.push(Draft {
                corp: corp.clone(),
                conv: e.conv.clone(),
                msgid: MsgId::generate(),
                sender: Sender::App(app),
                kind: e.kind,
                priority: Priority::Normal,
                body: EntryBody::Recall { target: e.seq },
                at,
            });
            recipients.push(Arc::from(conv.members.clone()));
        }
        let n = drafts.len();
        self.commit_entries(corp, drafts, recipients).await?;
        Ok(n)
    }

    /// Apps may run chats only when visible to the whole corp (WeCom's
    /// rule); their members must be in the corp.
    async fn check_app_chat_app(&self, caller: &DirCaller) -> AppResult<AgentId> {
        let app = caller
            .app
            .ok_or_else(|| AppError::Forbidden("contacts-sync secret".into()))?;
        let whole_corp = match &caller.reach {
            Reach::Everything => true,
            Reach::Within(Range { depts, .. }) => depts.contains(&DeptId::ROOT),
        };
        if whole_corp {
            Ok(app)
        } else {
            Err(MessageError::AppChatNeedsWholeCorp.into())
        }
    }

    async fn check_members_exist(&self, caller: &DirCaller, members: &[UserId]) -> AppResult<()> {
        let unknown = self
            .dir_read(caller, |view| {
                members
                    .iter()
                    .find(|u| view.dir.member(u).is_none_or(|m| !receives(m)))
                    .map(|u| u.to_string())
            })
            .await?;
        match unknown {
            Some(u) => Err(ConversationError::UnknownMember(u).into()),
            None => Ok(()),
        }
    }

    /// `appchat/create`: a group the app writes into. `id` is the
    /// requested chatid or a fresh one.
    pub async fn create_app_chat(
        &self,
        caller: &DirCaller,
        id: Option<ConvId>,
        name: &str,
        owner: UserId,
        members: Vec<UserId>,
    ) -> AppResult<ConvId> {
        let app = self.check_app_chat_app(caller).await?;
        let mut all = members.clone();
        all.push(owner.clone());
        self.check_members_exist(caller, &all).await?;
        let id = id.unwrap_or_else(ConvId::generate);
        let new = NewConversation::group(id.clone(), ConvKind::AppChat(app), name, owner, members)?;
        match self
            .store
            .create_conversation(&caller.corp, &new, self.clock.now_millis())
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::Conflict(_)) => Err(ConversationError::Exists(id.to_string()).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// An app chat of this app.
    pub async fn app_chat(&self, caller: &DirCaller, id: &ConvId) -> AppResult<Arc<Conversation>> {
        let app = self.check_app_chat_app(caller).await?;
        let conv = self.cached_conversation(&caller.corp, id).await?;
        match conv.kind {
            ConvKind::AppChat(owner) if owner == app => Ok(conv),
            ConvKind::AppChat(_) => Err(MessageError::OtherAppsChat.into()),
            _ => Err(ConversationError::NotFound.into()),
        }
    }

    /// `appchat/update`: renames, changes the owner, adds and removes
    /// members.
    pub async fn update_app_chat(
        &self,
        caller: &DirCaller,
        id: &ConvId,
        name: Option<String>,
        owner: Option<UserId>,
        add: Vec<UserId>,
        remove: Vec<UserId>,
    ) -> AppResult<()> {
        let app = self.check_app_chat_app(caller).await?;
        let conv = self.app_chat(caller, id).await?;
        self.check_members_exist(caller, &add).await?;
        let roster = conv.changed_roster(&add, &remove)?;
        if let Some(o) = &owner {
            if !roster.contains(o) {
                return Err(ConversationError::UnknownMember(o.to_string()).into());
            }
        }
        let added: Vec<UserId> = roster
            .iter()
            .filter(|m| !conv.has_member(m))
            .cloned()
            .collect();
        let removed: Vec<UserId> = conv
            .members
            .iter()
            .filter(|m| !roster.contains(m))
            .cloned()
            .collect();
        let owner = owner.or_else(|| {
            conv.owner
                .as_ref()
                .is_some_and(|o| removed.contains(o))
                .then(|| roster[0].clone())
        });
        let mut bodies = Vec::new();
        if !added.is_empty() || !removed.is_empty() {
            bodies.push(EntryBody::RosterChanged {
                added: added.clone(),
                removed,
            });
        }
        let name = name.map(|n| {
            n.chars()
                .take(qiye_domain::message::GROUP_NAME_MAX_CHARS)
                .collect()
        });
        if name.is_some() || owner.is_some() {
            bodies.push(EntryBody::Updated { name, owner });
        }
        if bodies.is_empty() {
            return Ok(());
        }
        let mut audience = conv.members.clone();
        audience.extend(added);
        let audience: Arc<[UserId]> = audience.into();
        let at = self.clock.now_millis();
        let drafts: Vec<Draft> = bodies
            .into_iter()
            .map(|body| Draft {
                corp: caller.corp.clone(),
                conv: id.clone(),
                msgid: MsgId::generate(),
                sender: Sender::App(app),
                kind: MsgKind::Chat,
                priority: Priority::Normal,
                body,
                at,
            })
            .collect();
        let recipients = vec![audience; drafts.len()];
        self.commit_entries(&caller.corp, drafts, recipients)
            .await?;
        Ok(())
    }

    /// `appchat/send`: the app writes into its chat.
    pub async fn send_app_chat(
        &self,
        caller: &DirCaller,
        id: &ConvId,
        content: Content,
    ) -> AppResult<Entry> {
        let app = self.check_app_chat_app(caller).await?;
        let conv = self.app_chat(caller, id).await?;
        self.check_media(&caller.corp, &content.media).await?;
        let draft = Draft {
            corp: caller.corp.clone(),
            conv: id.clone(),
            msgid: MsgId::generate(),
            sender: Sender::App(app),
            kind: MsgKind::Notice,
            priority: Priority::Normal,
            body: EntryBody::Message(content),
            at: self.clock.now_millis(),
        };
        let mut done = self
            .commit_entries(&caller.corp, vec![draft], vec![conv.members.clone().into()])
            .await?;
        Ok(done.remove(0))
    }
}
