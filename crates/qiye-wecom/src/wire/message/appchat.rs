//! App group chats (§3.5): `appchat/create`, `appchat/update`,
//! `appchat/get`, `appchat/send`.
//!
//! Errcodes (WeCom's 86xxx): 86001 a malformed `chatid`, 86005 an owner
//! that is malformed or not a member, 86006 fewer than 2 or more than 2000
//! members, 86007 a malformed userid in a member list. 86003 (no such chat)
//! and 86008 (another app's chat) are the server's to answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::content::{ContentPlace, ValidatedContent, validate_content};
use super::fields::is_userid;
use super::split_pipes;
use crate::ErrCode;
use crate::wire::{WireError, lenient};

/// Longest chat name, in characters (longer names are cut, not refused).
pub const MAX_CHAT_NAME_CHARS: usize = 50;
/// Fewest members of a chat.
pub const MIN_CHAT_MEMBERS: usize = 2;
/// Most members of a chat.
pub const MAX_CHAT_MEMBERS: usize = 2000;
/// Longest `chatid`, in characters.
pub const MAX_CHATID_CHARS: usize = 32;

/// `POST appchat/create`.
#[derive(Debug, Default, Deserialize)]
pub struct CreateAppChatRequest {
    /// The chat's name (cut to 50 characters).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// The owner's userid (qiye picks the first member when absent).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub owner: Option<String>,
    /// Members' userids (2-2000).
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub userlist: Option<Vec<String>>,
    /// The chat id to use (1-32 of `[0-9a-zA-Z]`; generated when absent).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub chatid: Option<String>,
}

/// A chat to create, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppChat {
    /// Name, trimmed and cut to 50 characters (may be empty).
    pub name: String,
    /// Owner: the given one, else the first member.
    pub owner: String,
    /// Members, trimmed, without repeats, in the given order.
    pub userlist: Vec<String>,
    /// The requested chat id, if any.
    pub chatid: Option<String>,
}

/// A chat name trimmed and cut to [`MAX_CHAT_NAME_CHARS`] characters.
pub fn chat_name(name: &str) -> String {
    name.trim().chars().take(MAX_CHAT_NAME_CHARS).collect()
}

/// Checks a `chatid`: 1-32 of `[0-9a-zA-Z]`, else 86001.
pub fn check_chatid(chatid: &str) -> Result<(), WireError> {
    let ok = !chatid.is_empty()
        && chatid.len() <= MAX_CHATID_CHARS
        && chatid.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(WireError::new(
            ErrCode::InvalidChatId,
            format!("chatid \"{chatid}\" must be 1-{MAX_CHATID_CHARS} of [0-9a-zA-Z]"),
        ))
    }
}

fn members(field: &str, list: Option<&[String]>) -> Result<Vec<String>, WireError> {
    let users = split_pipes(list.map(|l| l.join("|")).as_deref());
    if let Some(bad) = users.iter().find(|u| !is_userid(u)) {
        return Err(WireError::new(
            ErrCode::InvalidChatMember,
            format!("{field} has an invalid userid \"{bad}\""),
        ));
    }
    Ok(users)
}

fn check_members(owner: &str, users: &[String]) -> Result<(), WireError> {
    if !(MIN_CHAT_MEMBERS..=MAX_CHAT_MEMBERS).contains(&users.len()) {
        return Err(WireError::new(
            ErrCode::InvalidChatMemberCount,
            format!(
                "a chat has {MIN_CHAT_MEMBERS}-{MAX_CHAT_MEMBERS} members, got {}",
                users.len()
            ),
        ));
    }
    if !users.iter().any(|u| u == owner) {
        return Err(WireError::new(
            ErrCode::InvalidChatOwner,
            format!("owner \"{owner}\" is not a member of the chat"),
        ));
    }
    Ok(())
}

fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

impl CreateAppChatRequest {
    /// Checks the request: `chatid` (86001), members (86007 malformed,
    /// 86006 fewer than 2 or more than 2000 after removing repeats), the
    /// owner a member (86005); the name is cut, never refused.
    pub fn validate(&self) -> Result<NewAppChat, WireError> {
        let chatid = given(self.chatid.as_deref());
        if let Some(id) = chatid {
            check_chatid(id)?;
        }
        let userlist = members("userlist", self.userlist.as_deref())?;
        let owner = match given(self.owner.as_deref()) {
            Some(o) if !is_userid(o) => {
                return Err(WireError::new(
                    ErrCode::InvalidChatOwner,
                    format!("owner \"{o}\" is not a userid"),
                ));
            }
            Some(o) => o.to_owned(),
            None => userlist.first().cloned().unwrap_or_default(),
        };
        check_members(&owner, &userlist)?;
        Ok(NewAppChat {
            name: chat_name(self.name.as_deref().unwrap_or("")),
            owner,
            userlist,
            chatid: chatid.map(str::to_owned),
        })
    }
}

/// `appchat/create` reply.
#[derive(Debug, Clone, Serialize)]
pub struct CreateAppChatResponse {
    /// The chat's id.
    pub chatid: String,
}

/// `POST appchat/update`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateAppChatRequest {
    /// The chat.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub chatid: Option<String>,
    /// New name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// New owner.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub owner: Option<String>,
    /// Members to add.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub add_user_list: Option<Vec<String>>,
    /// Members to remove.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub del_user_list: Option<Vec<String>>,
}

impl UpdateAppChatRequest {
    /// The chat; 86001 when absent or malformed.
    pub fn chatid(&self) -> Result<&str, WireError> {
        let id = given(self.chatid.as_deref()).unwrap_or("");
        check_chatid(id)?;
        Ok(id)
    }

    /// The chat after this update: name cut to 50 characters (an empty or
    /// absent name keeps the old one), members removed then added, the
    /// owner changed; 86007 for a malformed userid, 86006 when the chat
    /// would have fewer than 2 or more than 2000 members, 86005 when the
    /// owner would not be a member (removing the owner without naming a new
    /// one hands the chat to the first remaining member).
    pub fn apply(&self, current: &AppChatInfo) -> Result<AppChatInfo, WireError> {
        let add = members("add_user_list", self.add_user_list.as_deref())?;
        let del = members("del_user_list", self.del_user_list.as_deref())?;
        let mut userlist: Vec<String> = current
            .userlist
            .iter()
            .filter(|u| !del.contains(u))
            .cloned()
            .collect();
        for u in add {
            if !userlist.contains(&u) {
                userlist.push(u);
            }
        }
        let owner = match given(self.owner.as_deref()) {
            Some(o) if !is_userid(o) => {
                return Err(WireError::new(
                    ErrCode::InvalidChatOwner,
                    format!("owner \"{o}\" is not a userid"),
                ));
            }
            Some(o) => o.to_owned(),
            None if userlist.contains(&current.owner) => current.owner.clone(),
            None => userlist.first().cloned().unwrap_or_default(),
        };
        check_members(&owner, &userlist)?;
        let name = match given(self.name.as_deref()) {
            Some(n) => chat_name(n),
            None => current.name.clone(),
        };
        Ok(AppChatInfo {
            chatid: current.chatid.clone(),
            name,
            owner,
            userlist,
            chat_type: current.chat_type,
        })
    }
}

/// `GET appchat/get?chatid=..`
#[derive(Debug, Default, Deserialize)]
pub struct GetAppChatQuery {
    /// The chat.
    pub chatid: Option<String>,
}

/// A chat in `appchat/get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppChatInfo {
    /// Its id.
    pub chatid: String,
    /// Its name.
    pub name: String,
    /// The owner's userid.
    pub owner: String,
    /// Members' userids.
    pub userlist: Vec<String>,
    /// 0 normal chat, 1 class chat.
    pub chat_type: i64,
}

/// `appchat/get` reply.
#[derive(Debug, Clone, Serialize)]
pub struct GetAppChatResponse {
    /// The chat.
    pub chat_info: AppChatInfo,
}

/// `POST appchat/send`.
#[derive(Debug, Default, Deserialize)]
pub struct AppChatSendRequest {
    /// The chat.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub chatid: Option<String>,
    /// The message type; the payload is the field of the same name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub msgtype: Option<String>,
    /// 0 or 1 (2 for mpnews).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub safe: Option<i64>,
    /// Every other field, among them the payload keyed by `msgtype`.
    #[serde(flatten)]
    pub others: BTreeMap<String, serde_json::Value>,
}

impl AppChatSendRequest {
    /// The chat; 86001 when absent or malformed.
    pub fn chatid(&self) -> Result<&str, WireError> {
        let id = given(self.chatid.as_deref()).unwrap_or("");
        check_chatid(id)?;
        Ok(id)
    }

    /// The raw payload: the field named by `msgtype`, if present.
    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.others.get(self.msgtype.as_deref()?.trim())
    }

    /// The payload checked for `appchat/send` (40008 for a missing msgtype
    /// or one chats do not take; see [`validate_content`]).
    pub fn content(&self) -> Result<ValidatedContent, WireError> {
        let msgtype = given(self.msgtype.as_deref())
            .ok_or_else(|| WireError::new(ErrCode::InvalidMsgType, "msgtype is required"))?;
        let null = serde_json::Value::Null;
        validate_content(
            msgtype,
            self.payload().unwrap_or(&null),
            super::check_safe(self.safe)?,
            ContentPlace::AppChat,
        )
    }
}
