//! `media/upload` and `media/get` (§3.7): uploads stream to the media
//! directory in chunks and stop as soon as they pass their type's limit;
//! downloads answer the bytes with WeCom's headers, or an errcode as JSON.

use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use qiye_domain::media::{MediaError, MediaKind, MediaRecord, UPLOADIMG_MAX_BYTES, is_jpeg_or_png};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::Envelope;
use qiye_wecom::wire::directory::MediaUploaded;
use serde::Deserialize;

use super::trace_corp;
use crate::AppState;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomQuery};

/// Largest request body of an upload: the largest type's limit plus room
/// for the multipart framing.
pub const MAX_UPLOAD_BODY: usize = 20 * 1024 * 1024 + 64 * 1024;

/// `media/upload?type=` and `media/get?media_id=`.
#[derive(Debug, Default, Deserialize)]
pub struct MediaQuery {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `media_id`.
    pub media_id: Option<String>,
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from(qiye_app::AppError::Media(MediaError::Size {
            kind: "upload",
            size: MAX_UPLOAD_BODY as u64,
            min: 0,
            max: MAX_UPLOAD_BODY as u64,
        }))
    } else {
        ApiError::with_detail(ErrCode::InvalidRequestParameter, err.body_text())
    }
}

/// `POST media/upload?type=TYPE`, multipart with the file in the part named
/// `media` (other parts are ignored).
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<MediaQuery>,
    mut multipart: Multipart,
) -> Result<Reply<MediaUploaded>, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "media/upload", caller.ip)
        .await?;
    trace_corp(&context);
    let raw_kind = query.kind.unwrap_or_default();
    let kind = MediaKind::parse(raw_kind.trim())
        .ok_or_else(|| qiye_app::AppError::Media(MediaError::BadKind(raw_kind.clone())))?;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("media") {
            continue;
        }
        let filename = field.file_name().unwrap_or("media").to_owned();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut upload = state.services.begin_upload(context.corp_id(), kind).await?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            upload.write(&chunk).await?;
        }
        let record = upload
            .finish(&state.services, &filename, &content_type)
            .await?;
        return Ok(Reply(Envelope::ok(MediaUploaded {
            kind: record.kind.as_str().to_owned(),
            media_id: record.media_id,
            created_at: (record.created_at / 1000).to_string(),
        })));
    }
    Err(qiye_app::AppError::Media(MediaError::NoFile).into())
}

/// `media/uploadimg` reply.
#[derive(Debug, serde::Serialize)]
pub struct ImageUploaded {
    /// The picture's permanent address.
    pub url: String,
}

/// The address clients reached this server at: `X-Forwarded-Proto` (else
/// http) and the `Host` header.
fn public_base(headers: &axum::http::HeaderMap) -> String {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match value("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = value("host").unwrap_or("127.0.0.1");
    format!("{scheme}://{host}")
}

/// `POST media/uploadimg`: a JPG or PNG picture (5 bytes to 2 MB) kept for
/// good, answered with its permanent URL (served without a token at
/// `/cgi-bin/media/img/<corp>/<id>`; the id is 64 random characters).
pub async fn upload_img(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    mut multipart: Multipart,
) -> Result<Reply<ImageUploaded>, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "media/uploadimg", caller.ip)
        .await?;
    trace_corp(&context);
    let corp = context.corp_id();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("media") {
            continue;
        }
        let filename = field.file_name().unwrap_or("image").to_owned();
        let content_type = field.content_type().unwrap_or("image/png").to_owned();
        let mut upload = state.services.begin_upload(corp, MediaKind::Image).await?;
        let mut size = 0_u64;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if size == 0 && !is_jpeg_or_png(&chunk) {
                return Err(qiye_app::AppError::Media(MediaError::NotJpegOrPng).into());
            }
            size += chunk.len() as u64;
            if size > UPLOADIMG_MAX_BYTES {
                return Err(qiye_app::AppError::Media(MediaError::Size {
                    kind: "uploadimg",
                    size,
                    min: MediaKind::Image.min_bytes(),
                    max: UPLOADIMG_MAX_BYTES,
                })
                .into());
            }
            upload.write(&chunk).await?;
        }
        let record = upload
            .finish(&state.services, &filename, &content_type)
            .await?;
        state
            .services
            .keep_media(corp, std::slice::from_ref(&record.media_id))
            .await?;
        return Ok(Reply(Envelope::ok(ImageUploaded {
            url: format!(
                "{}/cgi-bin/media/img/{}/{}",
                public_base(&headers),
                corp,
                record.media_id
            ),
        })));
    }
    Err(qiye_app::AppError::Media(MediaError::NoFile).into())
}

/// `GET /cgi-bin/media/img/<corp>/<id>`: a picture from `media/uploadimg`
/// (no token: the address is what `uploadimg` gave out).
pub async fn image(
    State(state): State<AppState>,
    axum::extract::Path((corp, media_id)): axum::extract::Path<(String, String)>,
) -> Result<Response, ApiError> {
    let corp = qiye_domain::ids::CorpId::parse(&corp)
        .map_err(|_| ApiError::from(qiye_app::AppError::Media(MediaError::UnknownId)))?;
    let (record, path) = state.services.media(&corp, &media_id).await?;
    if record.kind != MediaKind::Image || record.expires_at != i64::MAX {
        return Err(qiye_app::AppError::Media(MediaError::UnknownId).into());
    }
    file_response(&record, &path).await
}

/// `attachment` with the name twice: an ASCII fallback, and the exact
/// UTF-8 name percent-encoded (RFC 6266 / 8187), so header values stay
/// ASCII whatever the name.
fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::new();
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The bytes of a media file with WeCom's download headers.
pub(crate) async fn file_response(
    record: &MediaRecord,
    path: &std::path::Path,
) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(path).await.map_err(|err| {
        tracing::error!(%err, path = %path.display(), "media file missing");
        ApiError::new(ErrCode::SystemBusy)
    })?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let disposition = content_disposition(&record.filename);
    Ok((
        [
            (header::CONTENT_TYPE, record.content_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, record.size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `GET media/get?media_id=`: the bytes, or an errcode as JSON.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<MediaQuery>,
) -> Result<Response, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "media/get", caller.ip)
        .await?;
    trace_corp(&context);
    let media_id = query.media_id.unwrap_or_default();
    let (record, path) = state
        .services
        .media(context.corp_id(), media_id.trim())
        .await?;
    file_response(&record, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_stay_ascii_and_keep_the_exact_name() {
        let d = content_disposition("成员 \"a\".csv");
        assert!(d.is_ascii(), "{d}");
        assert!(d.starts_with("attachment; filename=\"__ _a_.csv\""), "{d}");
        assert!(
            d.ends_with("filename*=UTF-8''%E6%88%90%E5%91%98%20%22a%22.csv"),
            "{d}"
        );
    }
}
