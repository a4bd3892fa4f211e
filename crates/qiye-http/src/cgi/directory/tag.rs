//! `tag/*`.

use axum::extract::State;
use qiye_domain::directory::{DirError, TagId};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::directory::{
    DirQuery, TagCreated, TagGet, TagList, TagOut, TagRequest, TagTargetsReply, TagUser,
};
use qiye_wecom::wire::{Empty, Envelope};

use super::{dir_caller, query_int};
use crate::AppState;
use crate::cgi::audited;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody, WecomQuery};

pub(super) fn tag_id(raw: Option<i64>) -> Result<TagId, ApiError> {
    raw.and_then(|t| u32::try_from(t).ok())
        .filter(|t| *t > 0)
        .map(TagId)
        .ok_or_else(|| ApiError::from(DirError::TagNotFound))
}

/// `POST tag/create`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<TagRequest>,
) -> Result<Reply<TagCreated>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "tag/create").await?;
    audited(&state, &context, caller.ip, "tag.create", "tag", async {
        let name = body
            .tagname
            .ok_or_else(|| ApiError::from(DirError::TagNameLength))?;
        let id = body.tagid.map(|t| tag_id(Some(t))).transpose()?;
        let id = state.services.create_tag(&dir, id, name).await?;
        Ok(Reply(Envelope::ok_with(
            "created",
            TagCreated {
                tagid: i64::from(id.0),
            },
        )))
    })
    .await
}

/// `POST tag/update`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<TagRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "tag/update").await?;
    let target = format!("tag:{}", body.tagid.unwrap_or(0));
    audited(&state, &context, caller.ip, "tag.update", &target, async {
        let id = tag_id(body.tagid)?;
        let name = body
            .tagname
            .ok_or_else(|| ApiError::from(DirError::TagNameLength))?;
        state.services.rename_tag(&dir, id, name).await?;
        Ok(Reply(Envelope::ok_with("updated", Empty {})))
    })
    .await
}

/// `GET tag/delete?tagid=`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "tag/delete").await?;
    let target = format!("tag:{}", query.tagid.as_deref().unwrap_or(""));
    audited(&state, &context, caller.ip, "tag.delete", &target, async {
        let id = tag_id(query_int(query.tagid.as_deref(), ErrCode::InvalidTagId)?)?;
        state.services.delete_tag(&dir, id).await?;
        Ok(Reply(Envelope::ok_with("deleted", Empty {})))
    })
    .await
}

/// `GET tag/get?tagid=`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<TagGet>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "tag/get").await?;
    let id = tag_id(query_int(query.tagid.as_deref(), ErrCode::InvalidTagId)?)?;
    let reply = state
        .services
        .dir_read(&dir, |view| {
            view.tag(id).map(|t| TagGet {
                tagname: t.name.clone(),
                userlist: t
                    .users
                    .iter()
                    .filter_map(|u| view.dir.member(u))
                    .map(|m| TagUser {
                        userid: m.userid.as_str().to_owned(),
                        name: m.name.clone(),
                    })
                    .collect(),
                partylist: t.parties.iter().map(|d| i64::from(d.get())).collect(),
            })
        })
        .await??;
    Ok(Reply(Envelope::ok(reply)))
}

/// `GET tag/list`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Reply<TagList>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "tag/list").await?;
    let taglist = state
        .services
        .dir_read(&dir, |view| {
            view.tags()
                .into_iter()
                .map(|t| TagOut {
                    tagid: i64::from(t.id.0),
                    tagname: t.name.clone(),
                })
                .collect()
        })
        .await?;
    Ok(Reply(Envelope::ok(TagList { taglist })))
}

async fn targets(
    state: AppState,
    caller: Caller,
    body: TagRequest,
    add: bool,
) -> Result<Reply<TagTargetsReply>, ApiError> {
    let api = if add {
        "tag/addtagusers"
    } else {
        "tag/deltagusers"
    };
    let (context, dir) = dir_caller(&state, &caller, api).await?;
    let target = format!("tag:{}", body.tagid.unwrap_or(0));
    audited(&state, &context, caller.ip, "tag.members", &target, async {
        let id = tag_id(body.tagid)?;
        let users = body.userlist.unwrap_or_default();
        let parties = body.partylist.unwrap_or_default();
        if users.is_empty() && parties.is_empty() {
            return Err(ApiError::with_detail(
                ErrCode::InvalidRequestParameter,
                "userlist and partylist are both empty",
            ));
        }
        let outcome = state
            .services
            .tag_targets(&dir, id, &users, &parties, add)
            .await?;
        let reply = TagTargetsReply {
            invalidlist: (!outcome.invalid_users.is_empty())
                .then(|| outcome.invalid_users.join("|")),
            invalidparty: (!outcome.invalid_parties.is_empty()).then_some(outcome.invalid_parties),
        };
        Ok(Reply(Envelope::ok_with(
            if add { "ok" } else { "deleted" },
            reply,
        )))
    })
    .await
}

/// `POST tag/addtagusers`.
pub async fn add_users(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<TagRequest>,
) -> Result<Reply<TagTargetsReply>, ApiError> {
    targets(state, caller, body, true).await
}

/// `POST tag/deltagusers`.
pub async fn del_users(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<TagRequest>,
) -> Result<Reply<TagTargetsReply>, ApiError> {
    targets(state, caller, body, false).await
}
