//! `message/send` and `message/recall`.

use axum::extract::State;
use qiye_app::messaging::{AppMessage, Targets};
use qiye_domain::ids::AgentId;
use qiye_domain::message::{MsgKind, Priority};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::message::{
    AppStatistics, CardUpdate, ContentPlace, GetStatisticsRequest, InvalidUsersResponse,
    RecallRequest, SendMessageRequest, SendMessageResponse, StatisticsResponse,
    UpdateTemplateCardRequest, card_replace_button,
};
use qiye_wecom::wire::{Empty, Envelope};
use sha2::{Digest, Sha256};

use super::directory::dir_caller;
use crate::AppState;
use crate::content::content_of;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody};

fn agent_id(raw: i64) -> Result<AgentId, ApiError> {
    AgentId::new(raw).map_err(|_| ApiError::new(ErrCode::InvalidAgentId))
}

/// The digest WeCom's duplicate check compares: everything that makes two
/// sends the same message to the same people.
fn send_digest(
    msgtype: &str,
    targets: &qiye_wecom::wire::message::Targets,
    body: &str,
    safe: i64,
) -> String {
    let mut h = Sha256::new();
    for part in [
        msgtype,
        &targets.users.join("|"),
        &targets.parties.join("|"),
        &targets.tags.join("|"),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update([u8::from(targets.all), u8::try_from(safe).unwrap_or(0)]);
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// `POST message/send`.
#[tracing::instrument(skip_all)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<SendMessageRequest>,
) -> Result<Reply<SendMessageResponse>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "message/send").await?;
    let agentid = agent_id(body.agentid()?)?;
    let targets = body.targets()?;
    let validated = body.content(ContentPlace::AppMessage)?;
    let safe = body.safe()?;
    let duplicate_check = if body.enable_duplicate_check()? {
        let interval = u32::try_from(body.duplicate_check_interval()?).unwrap_or(u32::MAX);
        Some((
            send_digest(&validated.msgtype, &targets, &validated.body, safe),
            interval,
        ))
    } else {
        None
    };
    let kind = MsgKind::parse(body.kind()?.as_str()).unwrap_or(MsgKind::Notice);
    let priority = Priority::parse(body.priority()?.as_str()).unwrap_or_default();
    let interactive = validated.card.as_ref().is_some_and(|c| c.interactive);
    let code = interactive.then(qiye_domain::message::new_response_code);
    let content = content_of(validated, code.clone());
    let report = state
        .services
        .send_app_message(
            &dir,
            agentid,
            AppMessage {
                targets: Targets {
                    all: targets.all,
                    users: targets.users,
                    parties: targets.parties,
                    tags: targets.tags,
                },
                content,
                kind,
                priority,
                duplicate_check,
            },
        )
        .await?;
    Ok(Reply(Envelope::ok(SendMessageResponse {
        invaliduser: report.invalid_users,
        invalidparty: report.invalid_parties,
        invalidtag: report.invalid_tags,
        unlicenseduser: Vec::new(),
        msgid: report.msgid.to_string(),
        response_code: code,
    })))
}

/// `POST message/recall`.
#[tracing::instrument(skip_all)]
pub async fn recall(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<RecallRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "message/recall").await?;
    state
        .services
        .recall_app_message(&dir, body.msgid()?)
        .await?;
    Ok(Reply(Envelope::ok(Empty {})))
}

/// `POST message/update_template_card`: changes the cards a
/// `response_code` names, for the members targeted.
#[tracing::instrument(skip_all)]
pub async fn update_template_card(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<UpdateTemplateCardRequest>,
) -> Result<Reply<InvalidUsersResponse>, ApiError> {
    let (_context, dir) = dir_caller(&state, &caller, "message/update_template_card").await?;
    let agentid = agent_id(body.agentid()?)?;
    let code = body.response_code()?;
    let targets = body.targets()?;
    let update = body.update()?;
    let invalid = state
        .services
        .update_cards(
            &dir,
            agentid,
            code,
            &Targets {
                all: targets.all,
                users: targets.users,
                parties: targets.parties,
                tags: targets.tags,
            },
            |entry| {
                let qiye_domain::message::EntryBody::Message(content) = &entry.body else {
                    return Err("not a card".to_owned());
                };
                match &update {
                    CardUpdate::ReplaceButton(name) => {
                        card_replace_button(&content.body, name).map_err(|e| e.detail)
                    }
                    CardUpdate::Replace(card) => Ok(card.body.clone()),
                }
            },
        )
        .await?;
    Ok(Reply(Envelope::ok(InvalidUsersResponse {
        invaliduser: invalid,
    })))
}

/// `POST message/get_statistics`: person-messages per app today
/// (`time_type` 0) or yesterday (1), China time.
#[tracing::instrument(skip_all)]
pub async fn get_statistics(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<GetStatisticsRequest>,
) -> Result<Reply<StatisticsResponse>, ApiError> {
    let (context, _dir) = dir_caller(&state, &caller, "message/get_statistics").await?;
    let days_ago = body.time_type()?;
    let per_app = state
        .services
        .sent_per_app(context.corp_id(), days_ago)
        .await?;
    Ok(Reply(Envelope::ok(StatisticsResponse {
        statistics: per_app
            .into_iter()
            .map(|(agentid, app_name, count)| AppStatistics {
                agentid: agentid.get(),
                app_name,
                count: i64::try_from(count).unwrap_or(i64::MAX),
            })
            .collect(),
    })))
}
