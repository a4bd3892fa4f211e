//! Plaintext XML documents that a WeCom-compatible server pushes to a
//! callback URL (before they are sealed with [`crate::crypto`]).
//!
//! Every document is rooted at `<xml>` (what wechatpy's `parse_message` and
//! Tencent's samples expect) and starts with the common header:
//! `ToUserName` (the CorpID), `FromUserName` (`sys` for system events),
//! `CreateTime` (Unix seconds), `MsgType` (`event`) and `Event`; contact
//! changes add `ChangeType`. Documents about a member's action
//! (`template_card_event`, a text message written to an app) carry the
//! member's userid in `FromUserName` and the app in `AgentID`. Text is
//! written as CDATA, numbers as plain text,
//! and optional fields that are absent are left out (an `update_user` event
//! carries only what changed).
//!
//! The types here are plain wire data: the application converts its domain
//! entities into them at the edge.

use std::fmt::Write as _;

/// Appends `text` as one or more CDATA sections.
///
/// A `]]>` inside the text would end the section early, so it is split
/// across two sections (`]]]]><![CDATA[>`); characters that XML 1.0 forbids
/// everywhere (most C0 controls, lone surrogates cannot occur in `str`,
/// U+FFFE and U+FFFF) are replaced by U+FFFD so that receivers can still
/// parse the document.
pub fn push_cdata(out: &mut String, text: &str) {
    out.push_str("<![CDATA[");
    let mut rest = text;
    while let Some(at) = rest.find("]]>") {
        push_xml_chars(out, &rest[..at]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[at + 3..];
    }
    push_xml_chars(out, rest);
    out.push_str("]]>");
}

/// Appends `text` as escaped character data (`&`, `<`, `>` become entity
/// references); forbidden characters are replaced as in [`push_cdata`].
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(xml_char(c)),
        }
    }
}

fn push_xml_chars(out: &mut String, text: &str) {
    if text.chars().all(is_xml_char) {
        out.push_str(text);
    } else {
        out.extend(text.chars().map(xml_char));
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn xml_char(c: char) -> char {
    if is_xml_char(c) { c } else { '\u{FFFD}' }
}

/// Builds a flat `<xml>…</xml>` document element by element, without
/// whitespace between elements.
///
/// Element names are written as given and must be valid XML names; the
/// builders in this module only use fixed WeCom names.
#[derive(Debug, Clone)]
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// Starts a document with the `<xml>` root open.
    pub fn new() -> Self {
        Self {
            out: String::from("<xml>"),
        }
    }

    /// Writes `<name><![CDATA[text]]></name>`.
    pub fn cdata(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name);
        push_cdata(&mut self.out, text);
        self.end(name)
    }

    /// Writes a CDATA element if `text` is present.
    pub fn opt_cdata(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.cdata(name, text);
        }
        self
    }

    /// Writes `<name>value</name>` with the number in decimal.
    pub fn number(&mut self, name: &str, value: i64) -> &mut Self {
        self.start(name);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{value}");
        self.end(name)
    }

    /// Writes a number element if `value` is present.
    pub fn opt_number(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        if let Some(value) = value {
            self.number(name, value);
        }
        self
    }

    /// Opens an element: `<name>`.
    pub fn start(&mut self, name: &str) -> &mut Self {
        debug_assert!(is_simple_name(name), "bad element name {name:?}");
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes an element: `</name>`.
    pub fn end(&mut self, name: &str) -> &mut Self {
        debug_assert!(is_simple_name(name), "bad element name {name:?}");
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes the root and returns the document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</xml>");
        self.out
    }
}

fn is_simple_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// One extended attribute of a member, as carried in `ExtAttr/Item`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAttrItem {
    /// The attribute's name (`Name`).
    pub name: String,
    /// Its value; the variant decides `Type`.
    pub value: ExtAttrValue,
}

/// The value of an [`ExtAttrItem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtAttrValue {
    /// `Type` 0: `<Text><Value>…</Value></Text>`.
    Text {
        /// The text (`Value`).
        value: String,
    },
    /// `Type` 1: `<Web><Title>…</Title><Url>…</Url></Web>`.
    Web {
        /// The link text (`Title`).
        title: String,
        /// The link target (`Url`).
        url: String,
    },
}

/// The member fields of a `create_user` or `update_user` event.
///
/// `None` fields are omitted from the document. For `update_user` only the
/// changed fields need to be set; for `create_user` the sender should set
/// every field it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// `UserID`: the member's userid (the old one if it changed).
    pub userid: String,
    /// `NewUserID`: the new userid when an update renamed the member; only
    /// written for `update_user`, ignored for `create_user`.
    pub new_userid: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Department`: department ids, written comma-separated.
    pub department: Option<Vec<i64>>,
    /// `MainDepartment`.
    pub main_department: Option<i64>,
    /// `IsLeaderInDept`: 0/1 per department, written comma-separated.
    pub is_leader_in_dept: Option<Vec<i64>>,
    /// `DirectLeader`: userids, written comma-separated.
    pub direct_leader: Option<Vec<String>>,
    /// `Position`.
    pub position: Option<String>,
    /// `Mobile`.
    pub mobile: Option<String>,
    /// `Gender` (1 male, 2 female, 0 unset).
    pub gender: Option<i64>,
    /// `Email`.
    pub email: Option<String>,
    /// `BizMail`.
    pub biz_mail: Option<String>,
    /// `Status` (1 active, 2 disabled, 4 not yet active, 5 left).
    pub status: Option<i64>,
    /// `Avatar` URL.
    pub avatar: Option<String>,
    /// `Alias`.
    pub alias: Option<String>,
    /// `Telephone`.
    pub telephone: Option<String>,
    /// `Address`.
    pub address: Option<String>,
    /// `ExtAttr`: extended attributes.
    pub extattr: Option<Vec<ExtAttrItem>>,
}

impl UserChange {
    /// A change that names only the member, all other fields absent.
    pub fn new(userid: impl Into<String>) -> Self {
        Self {
            userid: userid.into(),
            ..Self::default()
        }
    }
}

/// A `change_contact` event: one change to the address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactChange {
    /// `create_user`: a member was added (boxed: the member is large).
    CreateUser(Box<UserChange>),
    /// `update_user`: a member changed (only changed fields are set).
    UpdateUser(Box<UserChange>),
    /// `delete_user`: a member was removed.
    DeleteUser {
        /// `UserID`.
        userid: String,
    },
    /// `create_party`: a department was created.
    CreateParty {
        /// `Id`.
        id: i64,
        /// `Name`.
        name: String,
        /// `ParentId`.
        parent_id: i64,
        /// `Order`.
        order: i64,
    },
    /// `update_party`: a department was renamed or moved.
    UpdateParty {
        /// `Id`.
        id: i64,
        /// `Name`, if it changed.
        name: Option<String>,
        /// `ParentId`, if it changed.
        parent_id: Option<i64>,
    },
    /// `delete_party`: a department was removed.
    DeleteParty {
        /// `Id`.
        id: i64,
    },
    /// `update_tag`: members or departments were added to or removed from a
    /// tag. Empty lists are omitted from the document.
    UpdateTag {
        /// `TagId`.
        tag_id: i64,
        /// `AddUserItems`: userids added.
        add_users: Vec<String>,
        /// `DelUserItems`: userids removed.
        del_users: Vec<String>,
        /// `AddPartyItems`: department ids added.
        add_parties: Vec<i64>,
        /// `DelPartyItems`: department ids removed.
        del_parties: Vec<i64>,
    },
}

impl ContactChange {
    /// The `ChangeType` text of this change.
    pub fn change_type(&self) -> &'static str {
        match self {
            Self::CreateUser(_) => "create_user",
            Self::UpdateUser(_) => "update_user",
            Self::DeleteUser { .. } => "delete_user",
            Self::CreateParty { .. } => "create_party",
            Self::UpdateParty { .. } => "update_party",
            Self::DeleteParty { .. } => "delete_party",
            Self::UpdateTag { .. } => "update_tag",
        }
    }
}

/// The kind of an asynchronous batch job (`JobType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchJobType {
    /// `sync_user`: incremental member import.
    SyncUser,
    /// `replace_user`: full member replacement.
    ReplaceUser,
    /// `invite_user`: batch invitation.
    InviteUser,
    /// `replace_party`: full department replacement.
    ReplaceParty,
}

impl BatchJobType {
    /// The wire text of this job type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncUser => "sync_user",
            Self::ReplaceUser => "replace_user",
            Self::InviteUser => "invite_user",
            Self::ReplaceParty => "replace_party",
        }
    }
}

/// A `batch_job_result` event: an asynchronous job finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJobResult {
    /// `JobId`.
    pub job_id: String,
    /// `JobType`.
    pub job_type: BatchJobType,
    /// `ErrCode`: 0 on success.
    pub errcode: i64,
    /// `ErrMsg`.
    pub errmsg: String,
}

/// A system event the server can push to a callback URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackEvent {
    /// `Event` = `change_contact`.
    Contact(ContactChange),
    /// `Event` = `batch_job_result`.
    BatchJobResult(BatchJobResult),
}

impl CallbackEvent {
    /// The `Event` text of this event.
    pub fn event(&self) -> &'static str {
        match self {
            Self::Contact(_) => "change_contact",
            Self::BatchJobResult(_) => "batch_job_result",
        }
    }
}

impl From<ContactChange> for CallbackEvent {
    fn from(change: ContactChange) -> Self {
        Self::Contact(change)
    }
}

impl From<BatchJobResult> for CallbackEvent {
    fn from(result: BatchJobResult) -> Self {
        Self::BatchJobResult(result)
    }
}

/// The plaintext XML document of `event`, addressed to `corp_id` and stamped
/// with `create_time` (Unix seconds).
pub fn event_xml(corp_id: &str, create_time: i64, event: &CallbackEvent) -> String {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", corp_id)
        .cdata("FromUserName", "sys")
        .number("CreateTime", create_time)
        .cdata("MsgType", "event")
        .cdata("Event", event.event());
    match event {
        CallbackEvent::Contact(change) => {
            w.cdata("ChangeType", change.change_type());
            write_contact_change(&mut w, change);
        }
        CallbackEvent::BatchJobResult(result) => {
            w.start("BatchJob")
                .cdata("JobId", &result.job_id)
                .cdata("JobType", result.job_type.as_str())
                .number("ErrCode", result.errcode)
                .cdata("ErrMsg", &result.errmsg)
                .end("BatchJob");
        }
    }
    w.finish()
}

fn write_contact_change(w: &mut XmlWriter, change: &ContactChange) {
    match change {
        ContactChange::CreateUser(user) => write_user(w, user, false),
        ContactChange::UpdateUser(user) => write_user(w, user, true),
        ContactChange::DeleteUser { userid } => {
            w.cdata("UserID", userid);
        }
        ContactChange::CreateParty {
            id,
            name,
            parent_id,
            order,
        } => {
            w.number("Id", *id)
                .cdata("Name", name)
                .number("ParentId", *parent_id)
                .number("Order", *order);
        }
        ContactChange::UpdateParty {
            id,
            name,
            parent_id,
        } => {
            w.number("Id", *id)
                .opt_cdata("Name", name.as_deref())
                .opt_number("ParentId", *parent_id);
        }
        ContactChange::DeleteParty { id } => {
            w.number("Id", *id);
        }
        ContactChange::UpdateTag {
            tag_id,
            add_users,
            del_users,
            add_parties,
            del_parties,
        } => {
            w.number("TagId", *tag_id);
            let lists = [
                ("AddUserItems", add_users.join(",")),
                ("DelUserItems", del_users.join(",")),
                ("AddPartyItems", join_numbers(add_parties)),
                ("DelPartyItems", join_numbers(del_parties)),
            ];
            for (name, items) in lists {
                if !items.is_empty() {
                    w.cdata(name, &items);
                }
            }
        }
    }
}

fn write_user(w: &mut XmlWriter, user: &UserChange, is_update: bool) {
    w.cdata("UserID", &user.userid);
    if is_update {
        w.opt_cdata("NewUserID", user.new_userid.as_deref());
    }
    w.opt_cdata("Name", user.name.as_deref())
        .opt_cdata(
            "Department",
            user.department.as_deref().map(join_numbers).as_deref(),
        )
        .opt_number("MainDepartment", user.main_department)
        .opt_cdata(
            "IsLeaderInDept",
            user.is_leader_in_dept
                .as_deref()
                .map(join_numbers)
                .as_deref(),
        )
        .opt_cdata(
            "DirectLeader",
            user.direct_leader.as_ref().map(|l| l.join(",")).as_deref(),
        )
        .opt_cdata("Position", user.position.as_deref())
        .opt_cdata("Mobile", user.mobile.as_deref())
        .opt_number("Gender", user.gender)
        .opt_cdata("Email", user.email.as_deref())
        .opt_cdata("BizMail", user.biz_mail.as_deref())
        .opt_number("Status", user.status)
        .opt_cdata("Avatar", user.avatar.as_deref())
        .opt_cdata("Alias", user.alias.as_deref())
        .opt_cdata("Telephone", user.telephone.as_deref())
        .opt_cdata("Address", user.address.as_deref());
    if let Some(items) = &user.extattr {
        w.start("ExtAttr");
        for item in items {
            w.start("Item").cdata("Name", &item.name);
            match &item.value {
                ExtAttrValue::Text { value } => {
                    w.number("Type", 0)
                        .start("Text")
                        .cdata("Value", value)
                        .end("Text");
                }
                ExtAttrValue::Web { title, url } => {
                    w.number("Type", 1)
                        .start("Web")
                        .cdata("Title", title)
                        .cdata("Url", url)
                        .end("Web");
                }
            }
            w.end("Item");
        }
        w.end("ExtAttr");
    }
}

fn join_numbers(numbers: &[i64]) -> String {
    let mut out = String::new();
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{n}");
    }
    out
}

/// One answered question of a `template_card_event` (`SelectedItem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedItem {
    /// `QuestionKey`.
    pub question_key: String,
    /// `OptionIds/OptionId`: the chosen options.
    pub option_ids: Vec<String>,
}

/// A `template_card_event`: a member clicked a button of (or submitted) a
/// template card an app sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCardEvent {
    /// `FromUserName`: the member's userid.
    pub userid: String,
    /// `AgentID`: the app that sent the card.
    pub agent_id: i64,
    /// `EventKey`: the key of the button (or submit button, or menu item).
    pub event_key: String,
    /// `TaskId`: the card's `task_id`.
    pub task_id: String,
    /// `CardType`: the card's `card_type`.
    pub card_type: String,
    /// `ResponseCode`: lets the app update this member's card once.
    pub response_code: String,
    /// `SelectedItems`: the answers; the element is left out when empty.
    pub selected: Vec<SelectedItem>,
}

/// The plaintext XML of a `template_card_event` addressed to `corp_id`,
/// stamped with `create_time` (Unix seconds). Elements in WeCom's order:
/// `ToUserName`, `FromUserName`, `CreateTime`, `MsgType` (`event`),
/// `Event`, `EventKey`, `TaskId`, `CardType`, `ResponseCode`, `AgentID`,
/// `SelectedItems/SelectedItem/{QuestionKey, OptionIds/OptionId}`.
pub fn template_card_event_xml(
    corp_id: &str,
    create_time: i64,
    event: &TemplateCardEvent,
) -> String {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", corp_id)
        .cdata("FromUserName", &event.userid)
        .number("CreateTime", create_time)
        .cdata("MsgType", "event")
        .cdata("Event", "template_card_event")
        .cdata("EventKey", &event.event_key)
        .cdata("TaskId", &event.task_id)
        .cdata("CardType", &event.card_type)
        .cdata("ResponseCode", &event.response_code)
        .number("AgentID", event.agent_id);
    if !event.selected.is_empty() {
        w.start("SelectedItems");
        for item in &event.selected {
            w.start("SelectedItem")
                .cdata("QuestionKey", &item.question_key)
                .start("OptionIds");
            for option in &item.option_ids {
                w.cdata("OptionId", option);
            }
            w.end("OptionIds").end("SelectedItem");
        }
        w.end("SelectedItems");
    }
    w.finish()
}

/// One approver's line of a `sys_approval_change` record (`Details`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDetail {
    /// `Approver/UserId`.
    pub userid: String,
    /// `Speech`: their opinion.
    pub speech: String,
    /// `SpStatus`: their record's code (1 pending, 2 agreed, 3 rejected, ...).
    pub sp_status: u8,
    /// `SpTime`: when they acted (0 while pending).
    pub sp_time: i64,
}

/// One node of a `sys_approval_change` (`SpRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalNodeRecord {
    /// `SpStatus`: the node's code.
    pub sp_status: u8,
    /// `ApproverAttr`: 1 或签, 2 会签.
    pub approver_attr: u8,
    /// `Details`.
    pub details: Vec<ApprovalDetail>,
}

/// A comment of a `sys_approval_change` (`Comments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalComment {
    /// `CommentUserInfo/UserId`.
    pub userid: String,
    /// `CommentTime`.
    pub time: i64,
    /// `CommentContent`.
    pub content: String,
    /// `CommentId`.
    pub id: String,
}

/// A `sys_approval_change` event: an instance changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalChange {
    /// `AgentID`: the app told.
    pub agent_id: i64,
    /// `SpNo`.
    pub sp_no: String,
    /// `SpName`: the template's name.
    pub sp_name: String,
    /// `SpStatus`: the instance's code.
    pub sp_status: u8,
    /// `TemplateId`.
    pub template_id: String,
    /// `ApplyTime`.
    pub apply_time: i64,
    /// `Applyer/UserId`.
    pub applyer: String,
    /// `Applyer/Party`: the submit-as department.
    pub applyer_party: i64,
    /// `SpRecord`, one per node reached.
    pub records: Vec<ApprovalNodeRecord>,
    /// `Notifyer/UserId`: the CC'd members.
    pub notifyer: Vec<String>,
    /// `Comments`.
    pub comments: Vec<ApprovalComment>,
    /// `StatuChangeEvent`: what happened (1 submitted, 2 agreed, ...).
    pub change: u8,
}

/// The plaintext XML of a `sys_approval_change` addressed to `corp_id`,
/// from `sys`, stamped with `create_time`. Elements in WeCom's order:
/// `ToUserName`, `FromUserName`, `CreateTime`, `MsgType`, `Event`,
/// `AgentID`, `ApprovalInfo{SpNo, SpName, SpStatus, TemplateId, ApplyTime,
/// Applyer{UserId, Party}, SpRecord*{SpStatus, ApproverAttr,
/// Details*{Approver{UserId}, Speech, SpStatus, SpTime}}, Notifyer*{UserId},
/// Comments*{CommentUserInfo{UserId}, CommentTime, CommentContent,
/// CommentId}, StatuChangeEvent}`.
pub fn approval_change_xml(corp_id: &str, create_time: i64, event: &ApprovalChange) -> String {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", corp_id)
        .cdata("FromUserName", "sys")
        .number("CreateTime", create_time)
        .cdata("MsgType", "event")
        .cdata("Event", "sys_approval_change")
        .number("AgentID", event.agent_id)
        .start("ApprovalInfo")
        .cdata("SpNo", &event.sp_no)
        .cdata("SpName", &event.sp_name)
        .number("SpStatus", i64::from(event.sp_status))
        .cdata("TemplateId", &event.template_id)
        .number("ApplyTime", event.apply_time)
        .start("Applyer")
        .cdata("UserId", &event.applyer)
        .number("Party", event.applyer_party)
        .end("Applyer");
    for r in &event.records {
        w.start("SpRecord")
            .number("SpStatus", i64::from(r.sp_status))
            .number("ApproverAttr", i64::from(r.approver_attr));
        for d in &r.details {
            w.start("Details")
                .start("Approver")
                .cdata("UserId", &d.userid)
                .end("Approver")
                .cdata("Speech", &d.speech)
                .number("SpStatus", i64::from(d.sp_status))
                .number("SpTime", d.sp_time)
                .end("Details");
        }
        w.end("SpRecord");
    }
    for n in &event.notifyer {
        w.start("Notifyer").cdata("UserId", n).end("Notifyer");
    }
    for c in &event.comments {
        w.start("Comments")
            .start("CommentUserInfo")
            .cdata("UserId", &c.userid)
            .end("CommentUserInfo")
            .number("CommentTime", c.time)
            .cdata("CommentContent", &c.content)
            .cdata("CommentId", &c.id)
            .end("Comments");
    }
    w.number("StatuChangeEvent", i64::from(event.change))
        .end("ApprovalInfo");
    w.finish()
}

/// A text message a member wrote to an app (`MsgType` `text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    /// `FromUserName`: the member's userid.
    pub userid: String,
    /// `AgentID`: the app written to.
    pub agent_id: i64,
    /// `Content`: the text.
    pub content: String,
    /// `MsgId`: a 64-bit message id.
    pub msg_id: i64,
}

/// The plaintext XML of a member's text message to an app, addressed to
/// `corp_id`: `ToUserName`, `FromUserName`, `CreateTime`, `MsgType`
/// (`text`), `Content`, `MsgId`, `AgentID`.
pub fn text_message_xml(corp_id: &str, create_time: i64, message: &TextMessage) -> String {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", corp_id)
        .cdata("FromUserName", &message.userid)
        .number("CreateTime", create_time)
        .cdata("MsgType", "text")
        .cdata("Content", &message.content)
        .number("MsgId", message.msg_id)
        .number("AgentID", message.agent_id);
    w.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    use super::*;

    /// Parses a document into `path → [text, …]` (paths like
    /// `xml/BatchJob/JobId`, one entry per leaf occurrence, in order).
    fn parse(xml: &str) -> BTreeMap<String, Vec<String>> {
        let mut reader = Reader::from_str(xml);
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut leaves: BTreeMap<String, Vec<String>> = BTreeMap::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    path.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.unescape().expect("valid escapes")),
                Event::CData(c) => text.push_str(std::str::from_utf8(&c).expect("UTF-8")),
                Event::End(_) => {
                    let key = path.join("/");
                    path.pop();
                    leaves
                        .entry(key)
                        .or_default()
                        .push(std::mem::take(&mut text));
                }
                Event::Eof => break,
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert!(path.is_empty(), "unclosed elements: {path:?}");
        leaves
    }

    fn one<'a>(doc: &'a BTreeMap<String, Vec<String>>, path: &str) -> &'a str {
        match doc.get(path).map(Vec::as_slice) {
            Some([value]) => value,
            other => panic!("{path}: expected one value, got {other:?}"),
        }
    }

    fn full_user() -> UserChange {
        UserChange {
            userid: "zhangsan".into(),
            new_userid: Some("zhangsan001".into()),
            name: Some("张三".into()),
            department: Some(vec![1, 2, 3]),
            main_department: Some(1),
            is_leader_in_dept: Some(vec![1, 0, 0]),
            direct_leader: Some(vec!["lisi".into(), "wangwu".into()]),
            position: Some("产品经理".into()),
            mobile: Some("13800000000".into()),
            gender: Some(1),
            email: Some("zhangsan@example.com".into()),
            biz_mail: Some("zhangsan@corp.example.com".into()),
            status: Some(1),
            avatar: Some("http://example.com/a.png".into()),
            alias: Some("san".into()),
            telephone: Some("020-123456".into()),
            address: Some("广州市".into()),
            extattr: Some(vec![
                ExtAttrItem {
                    name: "爱好".into(),
                    value: ExtAttrValue::Text {
                        value: "旅游".into(),
                    },
                },
                ExtAttrItem {
                    name: "卡号".into(),
                    value: ExtAttrValue::Web {
                        title: "企业微信".into(),
                        url: "https://work.example.com".into(),
                    },
                },
            ]),
        }
    }

    fn every_event() -> Vec<CallbackEvent> {
        vec![
            ContactChange::CreateUser(Box::new(full_user())).into(),
            ContactChange::UpdateUser(Box::new(full_user())).into(),
            ContactChange::DeleteUser {
                userid: "zhangsan".into(),
            }
            .into(),
            ContactChange::CreateParty {
                id: 2,
                name: "研发".into(),
                parent_id: 1,
                order: 100,
            }
            .into(),
            ContactChange::UpdateParty {
                id: 2,
                name: Some("研发部".into()),
                parent_id: Some(3),
            }
            .into(),
            ContactChange::DeleteParty { id: 2 }.into(),
            ContactChange::UpdateTag {
                tag_id: 7,
                add_users: vec!["zhangsan".into(), "lisi".into()],
                del_users: vec!["wangwu".into()],
                add_parties: vec![1, 2],
                del_parties: vec![3],
            }
            .into(),
            BatchJobResult {
                job_id: "S0Mrnndv".into(),
                job_type: BatchJobType::ReplaceParty,
                errcode: 0,
                errmsg: "ok".into(),
            }
            .into(),
        ]
    }

    #[test]
    fn cdata_splits_the_terminator() {
        let mut out = String::new();
        push_cdata(&mut out, "a]]>b");
        assert_eq!(out, "<![CDATA[a]]]]><![CDATA[>b]]>");

        let mut out = String::new();
        push_cdata(&mut out, "]]>]]>");
        assert_eq!(out, "<![CDATA[]]]]><![CDATA[>]]]]><![CDATA[>]]>");

        let mut out = String::new();
        push_cdata(&mut out, "");
        assert_eq!(out, "<![CDATA[]]>");
    }

    #[test]
    fn cdata_replaces_characters_xml_forbids() {
        let mut out = String::new();
        push_cdata(&mut out, "a\u{0}b\tc\u{1b}");
        assert_eq!(out, "<![CDATA[a\u{FFFD}b\tc\u{FFFD}]]>");
    }

    #[test]
    fn escaped_text() {
        let mut out = String::new();
        push_escaped(&mut out, "a<b>&c");
        assert_eq!(out, "a&lt;b&gt;&amp;c");
    }

    #[test]
    fn delete_user_exact() {
        let event = ContactChange::DeleteUser {
            userid: "zhangsan".into(),
        }
        .into();
        assert_eq!(
            event_xml("wwcorp", 1403610513, &event),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>1403610513</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[change_contact]]></Event>\
             <ChangeType><![CDATA[delete_user]]></ChangeType>\
             <UserID><![CDATA[zhangsan]]></UserID></xml>"
        );
    }

    #[test]
    fn update_user_exact_omits_absent_fields() {
        let user = UserChange {
            new_userid: Some("zs2".into()),
            department: Some(vec![1, 2]),
            status: Some(2),
            extattr: Some(vec![ExtAttrItem {
                name: "hobby".into(),
                value: ExtAttrValue::Text {
                    value: "x]]>y".into(),
                },
            }]),
            ..UserChange::new("zs")
        };
        let event = ContactChange::UpdateUser(Box::new(user)).into();
        assert_eq!(
            event_xml("wwcorp", 1, &event),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>1</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[change_contact]]></Event>\
             <ChangeType><![CDATA[update_user]]></ChangeType>\
             <UserID><![CDATA[zs]]></UserID>\
             <NewUserID><![CDATA[zs2]]></NewUserID>\
             <Department><![CDATA[1,2]]></Department>\
             <Status>2</Status>\
             <ExtAttr><Item><Name><![CDATA[hobby]]></Name><Type>0</Type>\
             <Text><Value><![CDATA[x]]]]><![CDATA[>y]]></Value></Text></Item></ExtAttr>\
             </xml>"
        );
    }

    #[test]
    fn batch_job_result_exact() {
        let event = BatchJobResult {
            job_id: "job1".into(),
            job_type: BatchJobType::SyncUser,
            errcode: 0,
            errmsg: "ok".into(),
        }
        .into();
        assert_eq!(
            event_xml("wwcorp", 1425284517, &event),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>1425284517</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[batch_job_result]]></Event>\
             <BatchJob><JobId><![CDATA[job1]]></JobId>\
             <JobType><![CDATA[sync_user]]></JobType>\
             <ErrCode>0</ErrCode><ErrMsg><![CDATA[ok]]></ErrMsg></BatchJob></xml>"
        );
    }

    #[test]
    fn create_user_ignores_new_userid() {
        let event = ContactChange::CreateUser(Box::new(full_user())).into();
        let doc = parse(&event_xml("wwcorp", 1, &event));
        assert!(!doc.contains_key("xml/NewUserID"));
    }

    #[test]
    fn update_tag_omits_empty_lists() {
        let event = ContactChange::UpdateTag {
            tag_id: 1,
            add_users: vec!["a".into()],
            del_users: vec![],
            add_parties: vec![],
            del_parties: vec![4, 5],
        }
        .into();
        let doc = parse(&event_xml("wwcorp", 1, &event));
        assert_eq!(one(&doc, "xml/AddUserItems"), "a");
        assert_eq!(one(&doc, "xml/DelPartyItems"), "4,5");
        assert!(!doc.contains_key("xml/DelUserItems"));
        assert!(!doc.contains_key("xml/AddPartyItems"));
    }

    #[test]
    fn every_variant_parses_back() {
        for event in every_event() {
            let xml = event_xml("ww<corp>&]]>", 1_700_000_000, &event);
            let doc = parse(&xml);
            assert!(xml.starts_with("<xml>") && xml.ends_with("</xml>"));
            assert_eq!(one(&doc, "xml/ToUserName"), "ww<corp>&]]>");
            assert_eq!(one(&doc, "xml/FromUserName"), "sys");
            assert_eq!(one(&doc, "xml/CreateTime"), "1700000000");
            assert_eq!(one(&doc, "xml/MsgType"), "event");
            assert_eq!(one(&doc, "xml/Event"), event.event());
            match &event {
                CallbackEvent::Contact(change) => {
                    assert_eq!(one(&doc, "xml/ChangeType"), change.change_type());
                    check_contact(&doc, change);
                }
                CallbackEvent::BatchJobResult(result) => {
                    assert!(!doc.contains_key("xml/ChangeType"));
                    assert_eq!(one(&doc, "xml/BatchJob/JobId"), result.job_id);
                    assert_eq!(one(&doc, "xml/BatchJob/JobType"), "replace_party");
                    assert_eq!(one(&doc, "xml/BatchJob/ErrCode"), "0");
                    assert_eq!(one(&doc, "xml/BatchJob/ErrMsg"), "ok");
                }
            }
        }
    }

    fn check_contact(doc: &BTreeMap<String, Vec<String>>, change: &ContactChange) {
        match change {
            ContactChange::CreateUser(_) | ContactChange::UpdateUser(_) => {
                assert_eq!(one(doc, "xml/UserID"), "zhangsan");
                if matches!(change, ContactChange::UpdateUser(_)) {
                    assert_eq!(one(doc, "xml/NewUserID"), "zhangsan001");
                }
                let expected = [
                    ("Name", "张三"),
                    ("Department", "1,2,3"),
                    ("MainDepartment", "1"),
                    ("IsLeaderInDept", "1,0,0"),
                    ("DirectLeader", "lisi,wangwu"),
                    ("Position", "产品经理"),
                    ("Mobile", "13800000000"),
                    ("Gender", "1"),
                    ("Email", "zhangsan@example.com"),
                    ("BizMail", "zhangsan@corp.example.com"),
                    ("Status", "1"),
                    ("Avatar", "http://example.com/a.png"),
                    ("Alias", "san"),
                    ("Telephone", "020-123456"),
                    ("Address", "广州市"),
                ];
                for (name, value) in expected {
                    assert_eq!(one(doc, &format!("xml/{name}")), value, "{name}");
                }
                assert_eq!(doc["xml/ExtAttr/Item/Name"], ["爱好", "卡号"]);
                assert_eq!(doc["xml/ExtAttr/Item/Type"], ["0", "1"]);
                assert_eq!(one(doc, "xml/ExtAttr/Item/Text/Value"), "旅游");
                assert_eq!(one(doc, "xml/ExtAttr/Item/Web/Title"), "企业微信");
                assert_eq!(
                    one(doc, "xml/ExtAttr/Item/Web/Url"),
                    "https://work.example.com"
                );
            }
            ContactChange::DeleteUser { userid } => {
                assert_eq!(one(doc, "xml/UserID"), userid);
            }
            ContactChange::CreateParty { .. } => {
                assert_eq!(one(doc, "xml/Id"), "2");
                assert_eq!(one(doc, "xml/Name"), "研发");
                assert_eq!(one(doc, "xml/ParentId"), "1");
                assert_eq!(one(doc, "xml/Order"), "100");
            }
            ContactChange::UpdateParty { .. } => {
                assert_eq!(one(doc, "xml/Id"), "2");
                assert_eq!(one(doc, "xml/Name"), "研发部");
                assert_eq!(one(doc, "xml/ParentId"), "3");
                assert!(!doc.contains_key("xml/Order"));
            }
            ContactChange::DeleteParty { .. } => {
                assert_eq!(one(doc, "xml/Id"), "2");
            }
            ContactChange::UpdateTag { .. } => {
                assert_eq!(one(doc, "xml/TagId"), "7");
                assert_eq!(one(doc, "xml/AddUserItems"), "zhangsan,lisi");
                assert_eq!(one(doc, "xml/DelUserItems"), "wangwu");
                assert_eq!(one(doc, "xml/AddPartyItems"), "1,2");
                assert_eq!(one(doc, "xml/DelPartyItems"), "3");
            }
        }
    }

    #[test]
    fn update_party_with_nothing_changed_has_only_id() {
        let event = ContactChange::UpdateParty {
            id: 9,
            name: None,
            parent_id: None,
        }
        .into();
        let doc = parse(&event_xml("c", 0, &event));
        assert_eq!(one(&doc, "xml/Id"), "9");
        assert!(!doc.contains_key("xml/Name"));
        assert!(!doc.contains_key("xml/ParentId"));
    }

    fn card_event() -> TemplateCardEvent {
        TemplateCardEvent {
            userid: "zhangsan".into(),
            agent_id: 1000002,
            event_key: "submit".into(),
            task_id: "task-1".into(),
            card_type: "multiple_interaction".into(),
            response_code: "rc<&>".into(),
            selected: vec![
                SelectedItem {
                    question_key: "q1".into(),
                    option_ids: vec!["a".into(), "b".into()],
                },
                SelectedItem {
                    question_key: "q2".into(),
                    option_ids: vec!["c".into()],
                },
            ],
        }
    }

    #[test]
    fn template_card_event_exact() {
        let mut event = card_event();
        event.selected.truncate(1);
        assert_eq!(
            template_card_event_xml("wwcorp", 1_700_000_000, &event),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <FromUserName><![CDATA[zhangsan]]></FromUserName>\
             <CreateTime>1700000000</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event>\
             <EventKey><![CDATA[submit]]></EventKey>\
             <TaskId><![CDATA[task-1]]></TaskId>\
             <CardType><![CDATA[multiple_interaction]]></CardType>\
             <ResponseCode><![CDATA[rc<&>]]></ResponseCode>\
             <AgentID>1000002</AgentID>\
             <SelectedItems><SelectedItem><QuestionKey><![CDATA[q1]]></QuestionKey>\
             <OptionIds><OptionId><![CDATA[a]]></OptionId><OptionId><![CDATA[b]]></OptionId>\
             </OptionIds></SelectedItem></SelectedItems></xml>"
        );
    }

    #[test]
    fn template_card_event_parses_back() {
        let doc = parse(&template_card_event_xml("wwcorp", 5, &card_event()));
        assert_eq!(one(&doc, "xml/FromUserName"), "zhangsan");
        assert_eq!(one(&doc, "xml/MsgType"), "event");
        assert_eq!(one(&doc, "xml/Event"), "template_card_event");
        assert_eq!(one(&doc, "xml/EventKey"), "submit");
        assert_eq!(one(&doc, "xml/TaskId"), "task-1");
        assert_eq!(one(&doc, "xml/CardType"), "multiple_interaction");
        assert_eq!(one(&doc, "xml/ResponseCode"), "rc<&>");
        assert_eq!(one(&doc, "xml/AgentID"), "1000002");
        assert_eq!(
            doc["xml/SelectedItems/SelectedItem/QuestionKey"],
            ["q1", "q2"]
        );
        assert_eq!(
            doc["xml/SelectedItems/SelectedItem/OptionIds/OptionId"],
            ["a", "b", "c"]
        );
        assert_eq!(doc["xml/SelectedItems/SelectedItem/OptionIds"].len(), 2);
    }

    #[test]
    fn template_card_event_without_answers_has_no_selected_items() {
        let mut event = card_event();
        event.selected.clear();
        let doc = parse(&template_card_event_xml("wwcorp", 5, &event));
        assert!(!doc.contains_key("xml/SelectedItems"));
        assert_eq!(one(&doc, "xml/EventKey"), "submit");
    }

    #[test]
    fn text_message_exact_and_parses_back() {
        let message = TextMessage {
            userid: "lisi".into(),
            agent_id: 1000002,
            content: "你好 ]]> <b>".into(),
            msg_id: 1_234_567_890_123_456,
        };
        let xml = text_message_xml("wwcorp", 1348831860, &message);
        assert_eq!(
            xml,
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <FromUserName><![CDATA[lisi]]></FromUserName>\
             <CreateTime>1348831860</CreateTime>\
             <MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[你好 ]]]]><![CDATA[> <b>]]></Content>\
             <MsgId>1234567890123456</MsgId><AgentID>1000002</AgentID></xml>"
        );
        let doc = parse(&xml);
        assert_eq!(one(&doc, "xml/Content"), "你好 ]]> <b>");
        assert_eq!(one(&doc, "xml/MsgType"), "text");
        assert!(!doc.contains_key("xml/Event"));
    }

    fn xml_text() -> impl Strategy<Value = String> {
        // Any XML 1.0 characters, with the CDATA terminator and markup
        // characters well represented.
        proptest::collection::vec(
            prop_oneof![
                Just("]]>".to_string()),
                Just("]".to_string()),
                Just("<&>".to_string()),
                any::<char>()
                    .prop_filter("XML 1.0 character", |c| is_xml_char(*c) && *c != '\r')
                    .prop_map(String::from),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn cdata_round_trips(text in xml_text()) {
            let mut w = XmlWriter::new();
            w.cdata("Value", &text);
            let doc = parse(&w.finish());
            prop_assert_eq!(one(&doc, "xml/Value"), text.as_str());
        }

        #[test]
        fn user_names_round_trip(userid in xml_text(), name in xml_text()) {
            let user = UserChange { name: Some(name.clone()), ..UserChange::new(userid.clone()) };
            let doc = parse(&event_xml("corp", 1, &ContactChange::CreateUser(Box::new(user)).into()));
            prop_assert_eq!(one(&doc, "xml/UserID"), userid.as_str());
            prop_assert_eq!(one(&doc, "xml/Name"), name.as_str());
        }
    }

    #[test]
    fn approval_change_follows_wecom_order() {
        let xml = approval_change_xml(
            "wwcorp",
            1_700_000_000,
            &ApprovalChange {
                agent_id: 1000002,
                sp_no: "202701150001".into(),
                sp_name: "采购".into(),
                sp_status: 1,
                template_id: "purchase".into(),
                apply_time: 1_699_999_000,
                applyer: "alice".into(),
                applyer_party: 1,
                records: vec![ApprovalNodeRecord {
                    sp_status: 2,
                    approver_attr: 1,
                    details: vec![ApprovalDetail {
                        userid: "bob".into(),
                        speech: "同意 <ok>".into(),
                        sp_status: 2,
                        sp_time: 1_700_000_000,
                    }],
                }],
                notifyer: vec!["carol".into()],
                comments: vec![],
                change: 2,
            },
        );
        assert_eq!(
            xml,
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[sys_approval_change]]></Event><AgentID>1000002</AgentID>\
             <ApprovalInfo><SpNo><![CDATA[202701150001]]></SpNo><SpName><![CDATA[采购]]></SpName>\
             <SpStatus>1</SpStatus><TemplateId><![CDATA[purchase]]></TemplateId>\
             <ApplyTime>1699999000</ApplyTime><Applyer><UserId><![CDATA[alice]]></UserId><Party>1</Party></Applyer>\
             <SpRecord><SpStatus>2</SpStatus><ApproverAttr>1</ApproverAttr><Details><Approver>\
             <UserId><![CDATA[bob]]></UserId></Approver><Speech><![CDATA[同意 <ok>]]></Speech>\
             <SpStatus>2</SpStatus><SpTime>1700000000</SpTime></Details></SpRecord>\
             <Notifyer><UserId><![CDATA[carol]]></UserId></Notifyer>\
             <StatuChangeEvent>2</StatuChangeEvent></ApprovalInfo></xml>"
        );
    }
}
