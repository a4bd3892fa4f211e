//! `POST /api/v1/media` and `GET /api/v1/media/{media_id}`: a member's
//! uploads for chat (images, files, voice, video), in the same storage and
//! with the same limits and three-day life as WeCom's `media/upload`. A
//! message that names the media keeps it (see `Services::keep_media`).
//!
//! The file is the raw request body (no multipart: a browser sends a `File`
//! as it is), streamed to disk and refused as soon as it passes its type's
//! limit. Downloads are confined to the member's corp.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use qiye_app::AppError;
use qiye_domain::media::{MediaError, MediaKind};
use qiye_wecom::ErrCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{V1Error, V1Result};
use super::extract::{Member, V1Query};
use crate::AppState;

/// `POST /api/v1/media?type=&filename=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadMediaQuery {
    /// `image`, `voice`, `video` or `file` (WeCom's types and limits).
    #[serde(rename = "type")]
    pub kind: String,
    /// The file's name, shown to whoever downloads it (default `media`).
    pub filename: Option<String>,
}

/// An upload, ready to be sent in a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaUploadedView {
    /// Name it in a message: `{"msgtype": "image", "image": {"media_id": ...}}`.
    pub media_id: String,
    /// The type it was uploaded as.
    #[serde(rename = "type")]
    pub kind: String,
    /// Upload time (ms).
    pub created_at: i64,
}

/// Uploads a file for chat (the request body is the file).
#[utoipa::path(post, path = "/api/v1/media", tag = "chat", params(UploadMediaQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = MediaUploadedView),
              (status = 400, description = "40005 unknown type, 44001 empty file"),
              (status = 413, description = "40006 over the type's limit")))]
#[tracing::instrument(skip_all)]
pub async fn upload(
    State(state): State<AppState>,
    Member(member): Member,
    V1Query(query): V1Query<UploadMediaQuery>,
    headers: HeaderMap,
    body: Body,
) -> V1Result<(StatusCode, Json<MediaUploadedView>)> {
    let kind = MediaKind::parse(query.kind.trim())
        .ok_or_else(|| AppError::Media(MediaError::BadKind(query.kind.clone())))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let filename = query
        .filename
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or("media");
    let mut upload = state.services.begin_upload(member.corp(), kind).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            V1Error::new(ErrCode::InvalidRequestParameter, "request body unreadable")
        })?;
        upload.write(&chunk).await?;
    }
    let record = upload
        .finish(&state.services, filename, content_type)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(MediaUploadedView {
            media_id: record.media_id,
            kind: record.kind.as_str().to_owned(),
            created_at: record.created_at,
        }),
    ))
}

/// Downloads a file uploaded in the member's corp.
#[utoipa::path(get, path = "/api/v1/media/{media_id}", tag = "chat",
    params(("media_id" = String, Path)),
    responses((status = 200, description = "the file, with its content type and name"),
              (status = 400, description = "40007 unknown or expired media (also another corp's)")))]
#[tracing::instrument(skip_all)]
pub async fn download(
    State(state): State<AppState>,
    Member(member): Member,
    Path(media_id): Path<String>,
) -> V1Result<Response> {
    let (record, path) = state.services.media(member.corp(), media_id.trim()).await?;
    crate::cgi::media::file_response(&record, &path)
        .await
        .map_err(|_| V1Error::new(ErrCode::SystemBusy, ""))
}
