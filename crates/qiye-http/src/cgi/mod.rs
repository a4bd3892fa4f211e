//! The WeCom-compatible API under `/cgi-bin`: a folder per resource, a file
//! per verb. Every handler checks the token first (as WeCom does), then its
//! input, then calls one use case.

mod agent;
mod appchat;
pub(crate) mod directory;
pub(crate) mod media;
mod message;
mod token;

use std::future::Future;
use std::net::IpAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodRouter, get, post};
use qiye_app::AuthContext;
use qiye_domain::audit::Actor;
use qiye_wecom::ErrCode;

use crate::AppState;
use crate::error::ApiError;

/// A GET endpoint; any other method is answered with 43001.
fn cgi_get<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(|| async { ApiError::new(ErrCode::RequireGet) })
}

/// A POST endpoint; any other method is answered with 43002.
fn cgi_post<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(|| async { ApiError::new(ErrCode::RequirePost) })
}

/// The `/cgi-bin` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/gettoken", cgi_get(token::get_token))
        .route("/agent/get", cgi_get(agent::get::get_agent))
        .route("/agent/list", cgi_get(agent::list::list_agents))
        .route("/agent/set", cgi_post(agent::set::set_agent))
        .route(
            "/department/create",
            cgi_post(directory::department::create),
        )
        .route(
            "/department/update",
            cgi_post(directory::department::update),
        )
        .route("/department/delete", cgi_get(directory::department::delete))
        .route("/department/list", cgi_get(directory::department::list))
        .route(
            "/department/simplelist",
            cgi_get(directory::department::simplelist),
        )
        .route("/department/get", cgi_get(directory::department::get))
        .route("/user/create", cgi_post(directory::user::create))
        .route("/user/update", cgi_post(directory::user::update))
        .route("/user/delete", cgi_get(directory::user::delete))
        .route("/user/batchdelete", cgi_post(directory::user::batch_delete))
        .route("/user/get", cgi_get(directory::user::get))
        .route("/user/simplelist", cgi_get(directory::user::simplelist))
        .route("/user/list", cgi_get(directory::user::list))
        .route("/user/list_id", cgi_post(directory::user::list_id))
        .route("/user/getuserid", cgi_post(directory::user::by_mobile))
        .route(
            "/user/get_userid_by_email",
            cgi_post(directory::user::by_email),
        )
        .route(
            "/user/convert_to_openid",
            cgi_post(directory::user::convert_to_openid),
        )
        .route("/user/authsucc", cgi_get(directory::user::authsucc))
        .route("/tag/create", cgi_post(directory::tag::create))
        .route("/tag/update", cgi_post(directory::tag::update))
        .route("/tag/delete", cgi_get(directory::tag::delete))
        .route("/tag/get", cgi_get(directory::tag::get))
        .route("/tag/list", cgi_get(directory::tag::list))
        .route("/tag/addtagusers", cgi_post(directory::tag::add_users))
        .route("/tag/deltagusers", cgi_post(directory::tag::del_users))
        .route("/batch/syncuser", cgi_post(directory::jobs::sync_user))
        .route(
            "/batch/replaceuser",
            cgi_post(directory::jobs::replace_user),
        )
        .route(
            "/batch/replaceparty",
            cgi_post(directory::jobs::replace_party),
        )
        .route("/batch/getresult", cgi_get(directory::jobs::get_result))
        .route(
            "/export/simple_user",
            cgi_post(directory::jobs::export_simple_user),
        )
        .route("/export/user", cgi_post(directory::jobs::export_user))
        .route(
            "/export/department",
            cgi_post(directory::jobs::export_department),
        )
        .route(
            "/export/taguser",
            cgi_post(directory::jobs::export_tag_user),
        )
        .route(
            "/export/get_result",
            cgi_get(directory::jobs::export_result),
        )
        .route(
            "/export/download/{corpid}/{media_id}",
            cgi_get(directory::jobs::download),
        )
        .route(
            "/media/upload",
            cgi_post(media::upload).layer(DefaultBodyLimit::max(media::MAX_UPLOAD_BODY)),
        )
        .route("/media/get", cgi_get(media::get))
        .route(
            "/media/uploadimg",
            cgi_post(media::upload_img).layer(DefaultBodyLimit::max(media::MAX_UPLOAD_BODY)),
        )
        .route("/media/img/{corp}/{media_id}", cgi_get(media::image))
        .route("/message/send", cgi_post(message::send))
        .route("/message/recall", cgi_post(message::recall))
        .route("/message/get_statistics", cgi_post(message::get_statistics))
        .route(
            "/message/update_template_card",
            cgi_post(message::update_template_card),
        )
        .route("/appchat/create", cgi_post(appchat::create))
        .route("/appchat/update", cgi_post(appchat::update))
        .route("/appchat/get", cgi_get(appchat::get))
        .route("/appchat/send", cgi_post(appchat::send))
}

/// Runs a mutation and, when it fails, appends the failure to the audit log
/// (a success is recorded by the store in the mutation's own transaction).
async fn audited<T>(
    state: &AppState,
    context: &AuthContext,
    ip: IpAddr,
    action: &str,
    target: &str,
    mutation: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let result = mutation.await;
    if let Err(error) = &result {
        let actor = Actor::for_credential(context.principal.credential);
        let reason = format!("errcode {}", error.code.code());
        state
            .services
            .record_failure(actor, context.corp_id(), Some(ip), action, target, reason)
            .await;
    }
    result
}

/// Marks the request's span with the corp it acts for.
fn trace_corp(context: &AuthContext) {
    tracing::Span::current().record("corp", context.corp_id().as_str());
}
