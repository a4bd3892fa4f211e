//! `appchat/create|update|get|send`: groups an app creates and writes into.

use axum::extract::State;
use qiye_domain::ids::UserId;
use qiye_domain::message::ConvId;
use qiye_wecom::ErrCode;
use qiye_wecom::wire::message::{
    AppChatInfo, AppChatSendRequest, CreateAppChatRequest, CreateAppChatResponse, GetAppChatQuery,
    GetAppChatResponse, UpdateAppChatRequest, check_chatid,
};
use qiye_wecom::wire::{Empty, Envelope};

use super::directory::dir_caller;
use crate::AppState;
use crate::content::content_of;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody, WecomQuery};

fn chat_id(raw: &str) -> Result<ConvId, ApiError> {
    check_chatid(raw)?;
    ConvId::parse(raw).map_err(|_| ApiError::new(ErrCode::InvalidChatId))
}

fn members(raw: &[String]) -> Result<Vec<UserId>, ApiError> {
    raw.iter()
        .map(|u| {
            UserId::parse(u)
                .map_err(|_| ApiError::with_detail(ErrCode::InvalidChatMember, u.clone()))
        })
        .collect()
}

fn owner_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| ApiError::with_detail(ErrCode::InvalidChatOwner, raw.to_owned()))
}

/// `POST appchat/create`.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<CreateAppChatRequest>,
) -> Result<Reply<CreateAppChatResponse>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "appchat/create").await?;
    let new = body.validate()?;
    let id = new.chatid.as_deref().map(chat_id).transpose()?;
    let owner = owner_id(&new.owner)?;
    let id = state
        .services
        .create_app_chat(&dir, id, &new.name, owner, members(&new.userlist)?)
        .await?;
    Ok(Reply(Envelope::ok(CreateAppChatResponse {
        chatid: id.to_string(),
    })))
}

/// `POST appchat/update`.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<UpdateAppChatRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "appchat/update").await?;
    let id = chat_id(body.chatid()?)?;
    let owner = body
        .owner
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .map(owner_id)
        .transpose()?;
    let name = body.name.clone().filter(|n| !n.is_empty());
    let add = members(body.add_user_list.as_deref().unwrap_or_default())?;
    let remove = members(body.del_user_list.as_deref().unwrap_or_default())?;
    state
        .services
        .update_app_chat(&dir, &id, name, owner, add, remove)
        .await?;
    Ok(Reply(Envelope::ok(Empty {})))
}

/// `GET appchat/get?chatid=`.
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<GetAppChatQuery>,
) -> Result<Reply<GetAppChatResponse>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "appchat/get").await?;
    let raw = query
        .chatid
        .as_deref()
        .ok_or_else(|| ApiError::with_detail(ErrCode::InvalidChatId, "chatid missing"))?;
    let chat = state.services.app_chat(&dir, &chat_id(raw)?).await?;
    Ok(Reply(Envelope::ok(GetAppChatResponse {
        chat_info: AppChatInfo {
            chatid: chat.id.to_string(),
            name: chat.name.clone(),
            owner: chat
                .owner
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            userlist: chat.members.iter().map(ToString::to_string).collect(),
            chat_type: 0,
        },
    })))
}

/// `POST appchat/send`.
#[tracing::instrument(skip_all)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<AppChatSendRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "appchat/send").await?;
    let id = chat_id(body.chatid()?)?;
    let content = content_of(body.content()?, None);
    state.services.send_app_chat(&dir, &id, content).await?;
    Ok(Reply(Envelope::ok(Empty {})))
}
