//! Member chat over `/api/v1`: conversations, entries, sending, read
//! cursors, receipts, recall, and the one-call sync. The WebSocket gateway
//! (`super::ws`) offers the same operations and pushes.

pub mod wire;

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use qiye_app::messaging::CardClick;
use qiye_app::session::SignedInMember;
use qiye_domain::ids::UserId;
use qiye_domain::message::EntryBody;
use qiye_domain::message::{ConvId, Entry, Priority, Seq};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::message::{ContentPlace, card_replace_button, validate_content};

use super::error::{V1Error, V1Result};
use super::extract::{Member, V1Json, V1Query};
use crate::AppState;
use crate::content::content_of;
use wire::{
    CardActionRequest, CardActionResponse, ChangeConversationRequest, ConversationDetail,
    ConversationView, ConversationsResponse, EntriesQuery, EntriesResponse, EntryView,
    OpenConversationRequest, ReadRequest, ReadResponse, ReceiptsView, SendRequest, SyncRequest,
    SyncResponse, SyncedView, clicked_text,
};

/// Entries per conversation in a sync unless the client asks otherwise.
const DEFAULT_SYNC_LIMIT: u32 = 200;
/// Entries per page unless the client asks otherwise.
const DEFAULT_PAGE: u32 = 100;
/// Longest client id of a send.
const MAX_CLIENT_ID: usize = 64;

fn conv_param(raw: &str) -> Result<ConvId, V1Error> {
    ConvId::parse(raw).map_err(|_| V1Error::new(ErrCode::ChatNotFound, raw.to_owned()))
}

fn users(raw: &[String]) -> Result<Vec<UserId>, V1Error> {
    raw.iter()
        .map(|u| UserId::parse(u).map_err(|_| V1Error::new(ErrCode::InvalidChatMember, u.clone())))
        .collect()
}

/// Sends a chat message: the REST call and the WebSocket `send` frame.
pub(crate) async fn send_message(
    state: &AppState,
    who: &SignedInMember,
    conv: &ConvId,
    req: SendRequest,
) -> V1Result<Entry> {
    let payload = req.payload.get(&req.msgtype).cloned().unwrap_or_default();
    let validated = validate_content(&req.msgtype, &payload, 0, ContentPlace::MemberChat)?;
    let priority = match req.priority.as_deref() {
        None => Priority::Normal,
        Some(p) => Priority::parse(p).ok_or_else(|| {
            V1Error::new(
                ErrCode::InvalidRequestParameter,
                format!("priority \"{p}\""),
            )
        })?,
    };
    if let Some(id) = &req.client_id {
        if id.is_empty() || id.len() > MAX_CLIENT_ID {
            return Err(V1Error::new(
                ErrCode::InvalidRequestParameter,
                format!("client_id must be 1-{MAX_CLIENT_ID} bytes"),
            ));
        }
    }
    let content = content_of(validated, None);
    Ok(state
        .services
        .send_chat(who, conv, content, priority, req.client_id.as_deref())
        .await?)
}

/// Runs the sync: the REST call and the WebSocket `sync` frame.
pub(crate) async fn run_sync(
    state: &AppState,
    who: &SignedInMember,
    req: SyncRequest,
) -> V1Result<SyncResponse> {
    let mut known: HashMap<ConvId, Seq> = HashMap::with_capacity(req.known.len());
    for (id, seq) in req.known {
        // An id that cannot exist is simply nothing the member has.
        if let Ok(id) = ConvId::parse(&id) {
            known.insert(id, seq);
        }
    }
    let synced = state
        .services
        .sync(who, &known, req.limit.unwrap_or(DEFAULT_SYNC_LIMIT))
        .await?;
    Ok(SyncResponse {
        conversations: synced.iter().map(SyncedView::from).collect(),
    })
}

/// The member's conversations, with cursors and unread counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat",
    responses((status = 200, body = ConversationsResponse)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Member(who): Member,
) -> V1Result<Json<ConversationsResponse>> {
    let list = state.services.conversations(&who).await?;
    Ok(Json(ConversationsResponse {
        conversations: list.iter().map(ConversationView::from).collect(),
    }))
}

async fn detail(
    state: &AppState,
    who: &SignedInMember,
    conv: &ConvId,
) -> V1Result<ConversationDetail> {
    let (conversation, cursors) = state.services.conversation_detail(who, conv).await?;
    Ok(ConversationDetail::new(&conversation, &cursors))
}

/// Opens the one-to-one conversation with `peer` (the same one every time)
/// or creates a group.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat",
    request_body = OpenConversationRequest,
    responses((status = 200, body = ConversationDetail),
              (status = 400, description = "86006 member count, 86007 unknown or invisible member")))]
#[tracing::instrument(skip_all)]
pub async fn open(
    State(state): State<AppState>,
    Member(who): Member,
    V1Json(body): V1Json<OpenConversationRequest>,
) -> V1Result<Json<ConversationDetail>> {
    let conv = match body.kind.as_str() {
        "direct" => {
            let peer = body
                .peer
                .as_deref()
                .ok_or_else(|| V1Error::new(ErrCode::InvalidRequestParameter, "peer missing"))?;
            let peer = users(&[peer.to_owned()])?.remove(0);
            state.services.open_direct(&who, &peer).await?
        }
        "group" => {
            let members = users(&body.members)?;
            let name = body.name.as_deref().unwrap_or("");
            state.services.create_group(&who, name, members).await?
        }
        other => {
            return Err(V1Error::new(
                ErrCode::InvalidRequestParameter,
                format!("kind \"{other}\": direct or group"),
            ));
        }
    };
    Ok(Json(detail(&state, &who, &conv.id).await?))
}

/// A conversation with its members and their read cursors.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationDetail), (status = 404, description = "86003")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Member(who): Member,
    Path(id): Path<String>,
) -> V1Result<Json<ConversationDetail>> {
    Ok(Json(detail(&state, &who, &conv_param(&id)?).await?))
}

/// Adds or removes members of a group, or renames it.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "chat",
    params(("id" = String, Path)), request_body = ChangeConversationRequest,
    responses((status = 200, body = EntriesResponse), (status = 403, description = "86008 not the owner")))]
#[tracing::instrument(skip_all)]
pub async fn change(
    State(state): State<AppState>,
    Member(who): Member,
    Path(id): Path<String>,
    V1Json(body): V1Json<ChangeConversationRequest>,
) -> V1Result<Json<EntriesResponse>> {
    let conv = conv_param(&id)?;
    let entries = state
        .services
        .change_group(
            &who,
            &conv,
            users(&body.add)?,
            users(&body.remove)?,
            body.name,
        )
        .await?;
    Ok(Json(EntriesResponse {
        entries: entries.iter().map(EntryView::from).collect(),
    }))
}

/// Entries after a sequence, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/entries", tag = "chat",
    params(("id" = String, Path), ("after" = Option<u64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = EntriesResponse)))]
#[tracing::instrument(skip_all)]
pub async fn entries(
    State(state): State<AppState>,
    Member(who): Member,
    Path(id): Path<String>,
    V1Query(q): V1Query<EntriesQuery>,
) -> V1Result<Json<EntriesResponse>> {
    let conv = conv_param(&id)?;
    let list = state
        .services
        .entries(
            &who,
            &conv,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(DEFAULT_PAGE),
        )
        .await?;
    Ok(Json(EntriesResponse {
        entries: list.iter().map(EntryView::from).collect(),
    }))
}

/// Sends a message. The reply means it is committed.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat",
    params(("id" = String, Path)), request_body = SendRequest,
    responses((status = 201, body = EntryView), (status = 400, description = "payload errors as message/send")))]
#[tracing::instrument(skip_all)]
pub async fn send(
    State(state): State<AppState>,
    Member(who): Member,
    Path(id): Path<String>,
    V1Json(body): V1Json<SendRequest>,
) -> V1Result<(StatusCode, Json<EntryView>)> {
    let conv = conv_param(&id)?;
    let entry = send_message(&state, &who, &conv, body).await?;
    Ok((StatusCode::CREATED, Json(EntryView::from(&entry))))
}

/// Moves the read cursor forward (never back); other members see a receipt.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "chat",
    params(("id" = String, Path)), request_body = ReadRequest,
    responses((status = 200, body = ReadResponse)))]
#[tracing::instrument(skip_all)]
pub async fn read(
    State(state): State<AppState>,
    Member(who): Member,
    Path(id): Path<String>,
    V1Json(body): V1Json<ReadRequest>,
) -> V1Result<Json<ReadResponse>> {
    let conv = conv_param(&id)?;
    let read_seq = state.services.mark_read(&who, &conv, body.seq).await?;
    Ok(Json(ReadResponse { read_seq }))
}

/// Acknowledges an urgent message: its escalation by e-mail and SMS stops
/// for this member, and their read cursor moves to it (others see a
/// receipt). Answers the read cursor.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/entries/{seq}/ack", tag = "chat",
    params(("id" = String, Path), ("seq" = u64, Path)),
    responses((status = 200, body = ReadResponse),
        (status = 400, description = "40058 no such entry, or not an urgent message"),
        (status = 404, description = "not a conversation of the member")))]
#[tracing::instrument(skip_all)]
pub async fn ack(
    State(state): State<AppState>,
    Member(who): Member,
    Path((id, seq)): Path<(String, u64)>,
) -> V1Result<Json<ReadResponse>> {
    let conv = conv_param(&id)?;
    let read_seq = state.services.acknowledge_urgent(&who, &conv, seq).await?;
    Ok(Json(ReadResponse { read_seq }))
}

/// Who has and has not read an entry.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/entries/{seq}/receipts", tag = "chat",
    params(("id" = String, Path), ("seq" = u64, Path)),
    responses((status = 200, body = ReceiptsView)))]
#[tracing::instrument(skip_all)]
pub async fn receipts(
    State(state): State<AppState>,
    Member(who): Member,
    Path((id, seq)): Path<(String, u64)>,
) -> V1Result<Json<ReceiptsView>> {
    let conv = conv_param(&id)?;
    Ok(Json(
        state.services.receipts(&who, &conv, seq).await?.into(),
    ))
}

/// Recalls the member's own message (within 24 hours).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/entries/{seq}/recall", tag = "chat",
    params(("id" = String, Path), ("seq" = u64, Path)),
    responses((status = 200, body = EntryView), (status = 403, description = "60011 not the sender")))]
#[tracing::instrument(skip_all)]
pub async fn recall(
    State(state): State<AppState>,
    Member(who): Member,
    Path((id, seq)): Path<(String, u64)>,
) -> V1Result<Json<EntryView>> {
    let conv = conv_param(&id)?;
    let entry = state.services.recall_chat(&who, &conv, seq).await?;
    Ok(Json(EntryView::from(&entry)))
}

/// Everything the member missed, in every conversation, in one call.
#[utoipa::path(post, path = "/api/v1/sync", tag = "chat",
    request_body = SyncRequest, responses((status = 200, body = SyncResponse)))]
#[tracing::instrument(skip_all)]
pub async fn sync(
    State(state): State<AppState>,
    Member(who): Member,
    V1Json(body): V1Json<SyncRequest>,
) -> V1Result<Json<SyncResponse>> {
    Ok(Json(run_sync(&state, &who, body).await?))
}

/// Clicks a button of (or submits) an app's template card: the app gets a
/// `template_card_event` callback and the card changes (a task card for
/// everyone it went to; a vote or form for the clicker only).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/entries/{seq}/card-action", tag = "chat",
    params(("id" = String, Path), ("seq" = u64, Path)), request_body = CardActionRequest,
    responses((status = 200, body = CardActionResponse),
              (status = 400, description = "40058 a key or answer the card does not have")))]
#[tracing::instrument(skip_all)]
pub async fn card_action(
    State(state): State<AppState>,
    Member(who): Member,
    Path((id, seq)): Path<(String, u64)>,
    V1Json(body): V1Json<CardActionRequest>,
) -> V1Result<Json<CardActionResponse>> {
    let conv = conv_param(&id)?;
    let entry = state.services.card_entry(&who, &conv, seq).await?;
    let EntryBody::Message(content) = &entry.body else {
        return Err(V1Error::new(ErrCode::InvalidRequestParameter, "not a card"));
    };
    let payload: serde_json::Value = serde_json::from_str(&content.body)
        .map_err(|_| V1Error::new(ErrCode::InvalidRequestParameter, "not a card"))?;
    let validated = validate_content(&content.msgtype, &payload, 0, ContentPlace::AppMessage)?;
    let spec = validated.card.filter(|c| c.interactive).ok_or_else(|| {
        V1Error::new(ErrCode::InvalidRequestParameter, "the card takes no action")
    })?;
    if !spec.knows_key(&body.key) {
        return Err(V1Error::new(
            ErrCode::InvalidRequestParameter,
            format!("the card has no key \"{}\"", body.key),
        ));
    }
    let selected: Vec<(String, Vec<String>)> = body
        .selected
        .into_iter()
        .map(|s| (s.question_key, s.option_ids))
        .collect();
    spec.check_selection(&selected)?;
    let new_body = card_replace_button(&content.body, &clicked_text(&content.body, &body.key))?;
    state
        .services
        .card_action(
            &who,
            &conv,
            seq,
            CardClick {
                card_type: spec.card_type,
                key: body.key,
                selected,
                new_body: new_body.clone(),
            },
        )
        .await?;
    let content = serde_json::value::RawValue::from_string(new_body)
        .map_err(|_| V1Error::new(ErrCode::SystemBusy, ""))?;
    Ok(Json(CardActionResponse { content }))
}
