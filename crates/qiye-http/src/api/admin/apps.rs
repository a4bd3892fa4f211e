//! Apps, for super administrators (60011 / 403 for scoped ones):
//! `GET/POST /api/v1/admin/apps`, `GET/PATCH /api/v1/admin/apps/{agentid}`,
//! `POST .../rotate-secret`, `POST .../callback/verify` (the live echostr
//! handshake, nothing saved) and `GET .../deliveries` (the callback
//! delivery log, newest first). Saving callback settings verifies them
//! first: a failed handshake is 40057 and changes nothing.

use axum::Json;
use axum::extract::{Path, State};
use qiye_app::apps::{AdminAppChange, AppDetails};
use qiye_domain::app::{AppName, AppSettingsChange, validate_description};
use qiye_domain::callback::{CallbackConfig, CallbackConfigError, OutboxItem};
use qiye_domain::directory::Range;
use qiye_domain::ids::{AgentId, DeptId};
use qiye_wecom::ErrCode;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Json, V1Query};
use crate::api::wire::RangeView;

/// An app's callback settings (WeCom's URL, Token and EncodingAESKey).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackView {
    /// The receiver (http or https).
    pub url: String,
    /// 1-32 letters and digits.
    pub token: String,
    /// 43 characters of the base64 alphabet.
    pub encoding_aes_key: String,
}

impl From<&CallbackConfig> for CallbackView {
    fn from(c: &CallbackConfig) -> Self {
        Self {
            url: c.url.clone(),
            token: c.token.clone(),
            encoding_aes_key: c.aes_key.clone(),
        }
    }
}

impl CallbackView {
    fn into_config(self) -> Result<CallbackConfig, V1Error> {
        CallbackConfig::new(&self.url, &self.token, &self.encoding_aes_key).map_err(|e| {
            let code = match e {
                CallbackConfigError::Url => ErrCode::InvalidCallbackUrl,
                CallbackConfigError::Token | CallbackConfigError::AesKey => {
                    ErrCode::InvalidParameter
                }
            };
            V1Error::new(code, e.to_string())
        })
    }
}

/// An app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// Its id.
    pub agentid: i64,
    /// Name.
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// Who sees it; the whole corp is `{"depts": [1]}`.
    pub visible: RangeView,
    /// Callback settings, or null.
    pub callback: Option<CallbackView>,
    /// When it was created (ms).
    pub created_at: i64,
}

impl From<&AppDetails> for AppView {
    fn from(d: &AppDetails) -> Self {
        let visible = match &d.range {
            Some(range) => RangeView::from(range),
            None => RangeView {
                depts: vec![DeptId::ROOT.get()],
                ..Default::default()
            },
        };
        Self {
            agentid: d.app.agentid.get(),
            name: d.app.name.as_str().to_owned(),
            description: d.app.description.clone(),
            visible,
            callback: d.callback.as_ref().map(CallbackView::from),
            created_at: d.app.created_at,
        }
    }
}

/// `GET /api/v1/admin/apps`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppsResponse {
    /// By agentid.
    pub apps: Vec<AppView>,
}

/// A new app and its secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAppResponse {
    /// The app.
    #[serde(flatten)]
    pub app: AppView,
    /// Its secret: not shown again.
    pub secret: String,
}

/// `POST /api/v1/admin/apps`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateAppRequest {
    /// 1-32 characters.
    pub name: String,
    /// 4-120 characters.
    pub description: Option<String>,
    /// Who sees it (default: the whole corp).
    pub visible: Option<RangeView>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/admin/apps/{agentid}`: absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateAppRequest {
    /// 1-32 characters.
    pub name: Option<String>,
    /// 4-120 characters.
    pub description: Option<String>,
    /// Who sees it.
    pub visible: Option<RangeView>,
    /// New callback settings (verified by the echostr handshake first), or
    /// null to remove them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CallbackView>)]
    pub callback: Option<Option<CallbackView>>,
}

/// A new secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretResponse {
    /// The secret; tokens of the old one no longer work.
    pub secret: String,
}

/// The outcome of a handshake.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// Whether the URL answered the echostr correctly.
    pub ok: bool,
    /// What happened.
    pub detail: String,
}

/// Paging of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1-200, default 50).
    pub limit: Option<u32>,
}

/// One callback event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Its position in the app's queue.
    pub id: i64,
    /// e.g. `change_contact/create_user`.
    pub event: String,
    /// When it was queued (ms).
    pub at: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// `delivered`; `failed` (the last attempt failed, it is retried with
    /// backoff); `pending` (not tried yet).
    pub status: &'static str,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The receiver's HTTP status of the last failed attempt, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

impl From<&OutboxItem> for DeliveryView {
    fn from(item: &OutboxItem) -> Self {
        let status = match (item.delivered_at, &item.last_error) {
            (Some(_), _) => "delivered",
            (None, Some(_)) => "failed",
            (None, None) => "pending",
        };
        let http_status = item
            .last_error
            .as_deref()
            .and_then(|e| e.strip_prefix("HTTP "))
            .and_then(|code| code.get(..3))
            .and_then(|code| code.parse().ok());
        Self {
            id: item.seq,
            event: item.event.clone(),
            at: item.created_at,
            attempts: item.attempts,
            status,
            last_error: item.last_error.clone(),
            http_status,
        }
    }
}

/// `GET /api/v1/admin/apps/{agentid}/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesResponse {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for older events; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn agent_param(raw: &str) -> Result<AgentId, V1Error> {
    raw.parse::<i64>()
        .ok()
        .and_then(|n| AgentId::new(n).ok())
        .ok_or_else(|| V1Error::new(ErrCode::InvalidAgentId, raw.to_owned()))
}

/// The range a request names; `{"depts": [1]}` alone is the whole corp.
fn visible_range(view: RangeView) -> Result<Option<Range>, V1Error> {
    let whole_corp =
        view.depts == [DeptId::ROOT.get()] && view.users.is_empty() && view.tags.is_empty();
    if whole_corp {
        Ok(None)
    } else {
        view.into_range().map(Some)
    }
}

/// Every app of the corp.
#[utoipa::path(get, path = "/api/v1/admin/apps", tag = "admin",
    responses((status = 200, body = AppsResponse), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<AppsResponse>> {
    let admin = admin.as_super()?;
    let apps = state.services.admin_apps(&admin).await?;
    Ok(Json(AppsResponse {
        apps: apps.iter().map(AppView::from).collect(),
    }))
}

/// Creates an app; its secret is shown once.
#[utoipa::path(post, path = "/api/v1/admin/apps", tag = "admin",
    request_body = CreateAppRequest,
    responses((status = 200, body = CreatedAppResponse),
        (status = 400, description = "45022 name, 45004 description, 60123/40003/40068 range"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<CreateAppRequest>,
) -> V1Result<Json<CreatedAppResponse>> {
    let target = format!("app:{}", body.name);
    audited(&state, &admin, "app.create", &target, async {
        let editor = admin.as_super()?;
        let range = body.visible.map(visible_range).transpose()?.flatten();
        let (details, secret) = state
            .services
            .admin_create_app(&editor, &body.name, body.description.as_deref(), range)
            .await?;
        Ok(Json(CreatedAppResponse {
            app: AppView::from(&details),
            secret: secret.expose().to_owned(),
        }))
    })
    .await
}

/// One app.
#[utoipa::path(get, path = "/api/v1/admin/apps/{agentid}", tag = "admin",
    params(("agentid" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, description = "40056 no such app"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(agentid): Path<String>,
) -> V1Result<Json<AppView>> {
    let admin = admin.as_super()?;
    let agentid = agent_param(&agentid)?;
    let details = state.services.admin_app(&admin, agentid).await?;
    Ok(Json(AppView::from(&details)))
}

/// Changes an app's name, description, visible range or callback.
#[utoipa::path(patch, path = "/api/v1/admin/apps/{agentid}", tag = "admin",
    params(("agentid" = i64, Path)), request_body = UpdateAppRequest,
    responses((status = 200, body = AppView),
        (status = 400, description = "40057 the callback URL failed the handshake (nothing changed)"),
        (status = 404, description = "40056 no such app"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(agentid): Path<String>,
    V1Json(body): V1Json<UpdateAppRequest>,
) -> V1Result<Json<AppView>> {
    let target = format!("app:{agentid}");
    audited(&state, &admin, "app.update", &target, async {
        let editor = admin.as_super()?;
        let agentid = agent_param(&agentid)?;
        let change = AdminAppChange {
            settings: AppSettingsChange {
                name: body
                    .name
                    .as_deref()
                    .map(AppName::parse)
                    .transpose()
                    .map_err(qiye_app::AppError::from)?,
                description: body
                    .description
                    .as_deref()
                    .map(validate_description)
                    .transpose()
                    .map_err(qiye_app::AppError::from)?,
                ..Default::default()
            },
            range: body.visible.map(visible_range).transpose()?,
            callback: body
                .callback
                .map(|c| c.map(CallbackView::into_config).transpose())
                .transpose()?,
        };
        let details = state
            .services
            .admin_update_app(&editor, agentid, change)
            .await?;
        Ok(Json(AppView::from(&details)))
    })
    .await
}

/// Gives an app a new secret.
#[utoipa::path(post, path = "/api/v1/admin/apps/{agentid}/rotate-secret", tag = "admin",
    params(("agentid" = i64, Path)),
    responses((status = 200, body = SecretResponse), (status = 404, description = "40056 no such app"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(agentid): Path<String>,
) -> V1Result<Json<SecretResponse>> {
    let target = format!("app:{agentid}");
    audited(&state, &admin, "secret.rotate", &target, async {
        let editor = admin.as_super()?;
        let agentid = agent_param(&agentid)?;
        let secret = state
            .services
            .admin_rotate_app_secret(&editor, agentid)
            .await?;
        Ok(Json(SecretResponse {
            secret: secret.expose().to_owned(),
        }))
    })
    .await
}

/// Tries the echostr handshake against callback settings (nothing saved).
#[utoipa::path(post, path = "/api/v1/admin/apps/{agentid}/callback/verify", tag = "admin",
    params(("agentid" = i64, Path)), request_body = CallbackView,
    responses((status = 200, body = VerifyResponse),
        (status = 400, description = "40057 not an http(s) URL, 40035 bad token or key"),
        (status = 404, description = "40056 no such app"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn verify_callback(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(agentid): Path<String>,
    V1Json(body): V1Json<CallbackView>,
) -> V1Result<Json<VerifyResponse>> {
    let target = format!("app:{agentid}");
    audited(&state, &admin, "app.callback.verify", &target, async {
        let editor = admin.as_super()?;
        let agentid = agent_param(&agentid)?;
        let config = body.into_config()?;
        let outcome = state
            .services
            .admin_verify_callback(&editor, agentid, &config)
            .await?;
        Ok(Json(match outcome {
            Ok(()) => VerifyResponse {
                ok: true,
                detail: "the URL answered the echostr handshake".to_owned(),
            },
            Err(detail) => VerifyResponse { ok: false, detail },
        }))
    })
    .await
}

/// An app's callback events, newest first.
#[utoipa::path(get, path = "/api/v1/admin/apps/{agentid}/deliveries", tag = "admin",
    params(("agentid" = i64, Path), DeliveriesQuery),
    responses((status = 200, body = DeliveriesResponse), (status = 404, description = "40056 no such app"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn deliveries(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(agentid): Path<String>,
    V1Query(query): V1Query<DeliveriesQuery>,
) -> V1Result<Json<DeliveriesResponse>> {
    let admin = admin.as_super()?;
    let agentid = agent_param(&agentid)?;
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            V1Error::new(ErrCode::InvalidRequestParameter, format!("cursor '{raw}'"))
        })?),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let mut items = state
        .services
        .admin_deliveries(&admin, agentid, before, limit + 1)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok(Json(DeliveriesResponse {
        next_cursor: more
            .then(|| items.last().map(|i| i.seq.to_string()))
            .flatten(),
        deliveries: items.iter().map(DeliveryView::from).collect(),
    }))
}
