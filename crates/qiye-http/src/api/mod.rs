//! The native API, `/api/v1`: member sign-in and sessions, the
//! member-facing directory (filtered by visibility and field rules), and the
//! admin API (scoped administrators confined to their subtrees). A folder
//! per resource; wire shapes in [`wire`], described in the OpenAPI document
//! served at `GET /api/v1/openapi.json`.
//!
//! Errors are `{"errcode": N, "errmsg": "..."}` with the `/cgi-bin` errcodes
//! and a fitting HTTP status ([`error::status_of`]). Handlers parse, call one
//! use case and convert; the rules live in `qiye-app` and `qiye-domain`.

pub mod admin;
pub mod chat;
pub mod directory;
pub mod error;
pub mod extract;
pub mod me;
pub mod media;
pub mod session;
pub mod wire;
pub mod ws;

use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use qiye_wecom::ErrCode;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::AppState;
use error::V1Error;

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "qiye native API", description = "Member sessions (CSRF, TOTP second factor, devices), the member-facing directory and the admin API. Errors: {\"errcode\", \"errmsg\"} with the HTTP status given per endpoint; see docs/API.md and docs/ERRCODES.md."),
    paths(
        session::create, session::second_factor, session::delete, me::get, me::change_password,
        me::totp::enroll, me::totp::confirm, me::totp::disable, me::totp::regenerate_recovery_codes,
        me::devices::list, me::devices::sign_out_one, me::devices::sign_out_all,
        admin::sessions::list, admin::sessions::revoke_all, admin::corp::get, admin::corp::patch,
        admin::audit::list, admin::audit::export,
        directory::departments, directory::members, directory::profile, directory::search,
        admin::departments::list, admin::departments::create, admin::departments::update, admin::departments::delete,
        admin::members::list, admin::members::get, admin::members::create, admin::members::update,
        admin::members::delete, admin::members::reset_password,
        admin::rules::list, admin::rules::get_visibility, admin::rules::put_visibility, admin::rules::delete_visibility,
        admin::rules::get_field, admin::rules::put_field, admin::rules::delete_field,
        admin::escalation::get, admin::escalation::put,
        chat::list, chat::open, chat::get, chat::change, chat::entries, chat::send, chat::read,
        chat::receipts, chat::recall, chat::ack, chat::sync, chat::card_action, ws::connect, admin::stats::message_stats,
        media::upload, media::download,
    ),
    modifiers(&SessionAuth),
    security(("bearer" = []), ("cookie" = [])),
)]
pub struct ApiDoc;

/// Declares the two ways to present a session.
struct SessionAuth;

impl utoipa::Modify for SessionAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(extract::SESSION_COOKIE))),
        );
    }
}

/// Names every operation after its method and path (`get_admin_members_userid`):
/// handlers share function names across modules (`list`, `get`), and
/// OpenAPI requires operation ids to be unique (generators rely on it).
struct UniqueOperationIds;

impl utoipa::Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let stem: String = path
                .trim_start_matches("/api/v1")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
                .split('_')
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    operation.operation_id = Some(format!("{method}_{stem}"));
                }
            }
        }
    }
}

/// The whole OpenAPI document: [`ApiDoc`] and the admin console's
/// endpoints ([`admin::ConsoleApiDoc`]), every operation id unique.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::Modify;
    let mut doc = ApiDoc::openapi();
    doc.merge(admin::ConsoleApiDoc::openapi());
    UniqueOperationIds.modify(&mut doc);
    doc
}

async fn openapi_json() -> Response {
    match openapi_document().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(err) => {
            tracing::error!(%err, "OpenAPI document does not serialise");
            V1Error::new(ErrCode::SystemBusy, "").into_response()
        }
    }
}

/// Unknown paths under `/api/v1`.
pub async fn not_found(req: Request) -> Response {
    V1Error::new(ErrCode::ApiNotFound, req.uri().path().to_owned()).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    let detail = format!("{} not allowed on {}", req.method(), req.uri().path());
    let mut response = V1Error::new(ErrCode::ApiNotFound, detail).into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    use admin::{departments as depts, members, rules};
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/session", post(session::create).delete(session::delete))
        .route("/session/second-factor", post(session::second_factor))
        .route("/me", get(me::get))
        .route("/me/password", post(me::change_password))
        .route("/me/totp", axum::routing::delete(me::totp::disable))
        .route("/me/totp/enroll", post(me::totp::enroll))
        .route("/me/totp/confirm", post(me::totp::confirm))
        .route(
            "/me/recovery-codes",
            post(me::totp::regenerate_recovery_codes),
        )
        .route(
            "/me/sessions",
            get(me::devices::list).delete(me::devices::sign_out_all),
        )
        .route(
            "/me/sessions/{id}",
            axum::routing::delete(me::devices::sign_out_one),
        )
        .route(
            "/admin/members/{userid}/sessions",
            get(admin::sessions::list).delete(admin::sessions::revoke_all),
        )
        .route(
            "/admin/corp",
            get(admin::corp::get).patch(admin::corp::patch),
        )
        .route("/admin/audit", get(admin::audit::list))
        .route("/admin/audit/export", get(admin::audit::export))
        .route("/directory/departments", get(directory::departments))
        .route(
            "/directory/departments/{id}/members",
            get(directory::members),
        )
        .route("/directory/members/{userid}", get(directory::profile))
        .route("/directory/search", get(directory::search))
        .route("/admin/departments", get(depts::list).post(depts::create))
        .route(
            "/admin/departments/{id}",
            axum::routing::patch(depts::update).delete(depts::delete),
        )
        .route("/admin/members", get(members::list).post(members::create))
        .route(
            "/admin/members/{userid}",
            get(members::get)
                .patch(members::update)
                .delete(members::delete),
        )
        .route(
            "/admin/members/{userid}/reset-password",
            post(members::reset_password),
        )
        .route(
            "/admin/escalation",
            get(admin::escalation::get).put(admin::escalation::put),
        )
        .route("/admin/rules", get(rules::list))
        .route("/admin/message-stats", get(admin::stats::message_stats))
        .route(
            "/admin/visibility-rules/{dept}",
            get(rules::get_visibility)
                .put(rules::put_visibility)
                .delete(rules::delete_visibility),
        )
        .route(
            "/admin/field-rules/{field}",
            get(rules::get_field)
                .put(rules::put_field)
                .delete(rules::delete_field),
        )
        .route("/conversations", get(chat::list).post(chat::open))
        .route("/conversations/{id}", get(chat::get).patch(chat::change))
        .route("/conversations/{id}/entries", get(chat::entries))
        .route("/conversations/{id}/messages", post(chat::send))
        .route("/conversations/{id}/read", post(chat::read))
        .route(
            "/conversations/{id}/entries/{seq}/receipts",
            get(chat::receipts),
        )
        .route(
            "/conversations/{id}/entries/{seq}/recall",
            post(chat::recall),
        )
        .route(
            "/conversations/{id}/entries/{seq}/card-action",
            post(chat::card_action),
        )
        .route("/conversations/{id}/entries/{seq}/ack", post(chat::ack))
        .route("/sync", post(chat::sync))
        .route("/media", post(media::upload))
        .route("/media/{media_id}", get(media::download))
        .route("/ws", get(ws::connect))
        .merge(admin::console_routes())
        .method_not_allowed_fallback(method_not_allowed)
}
