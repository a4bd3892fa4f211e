//! The admin API, `/api/v1/admin/...`: signed-in administrators manage the
//! directory within their reach (super: the corp; scoped: their subtrees,
//! 60011 / HTTP 403 outside, nothing changed) and super administrators
//! change the member-facing rules. Every change is audited with the
//! administrator as actor; refused ones too.

pub mod apps;
pub mod audit;
pub mod corp;
pub mod departments;
pub mod escalation;
pub mod imports;
pub mod members;
pub mod rules;
pub mod sessions;
pub mod stats;
pub mod tags;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use qiye_app::directory::admin::AdminCaller;
use utoipa::OpenApi;

use super::error::V1Error;
use crate::AppState;

/// The OpenAPI document of the admin console's endpoints (tags, apps,
/// imports and exports), merged into the API's document.
#[derive(OpenApi)]
#[openapi(paths(
    tags::list,
    tags::create,
    tags::update,
    tags::delete,
    tags::members,
    tags::add_members,
    tags::remove_members,
    apps::list,
    apps::create,
    apps::get,
    apps::update,
    apps::rotate_secret,
    apps::verify_callback,
    apps::deliveries,
    imports::start,
    imports::get,
    imports::export_members,
    imports::export_departments,
))]
pub struct ConsoleApiDoc;

/// The admin console's routes (tags, apps, imports and exports).
pub fn console_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tags", get(tags::list).post(tags::create))
        .route(
            "/admin/tags/{tagid}",
            patch(tags::update).delete(tags::delete),
        )
        .route(
            "/admin/tags/{tagid}/members",
            get(tags::members)
                .post(tags::add_members)
                .delete(tags::remove_members),
        )
        .route("/admin/apps", get(apps::list).post(apps::create))
        .route("/admin/apps/{agentid}", get(apps::get).patch(apps::update))
        .route(
            "/admin/apps/{agentid}/rotate-secret",
            post(apps::rotate_secret),
        )
        .route(
            "/admin/apps/{agentid}/callback/verify",
            post(apps::verify_callback),
        )
        .route("/admin/apps/{agentid}/deliveries", get(apps::deliveries))
        .route(
            "/admin/imports",
            // Room for the largest file; the handler refuses more than
            // MAX_IMPORT_BODY with 40006.
            post(imports::start).layer(DefaultBodyLimit::max(imports::MAX_IMPORT_BODY)),
        )
        .route("/admin/imports/{job_id}", get(imports::get))
        .route("/admin/export/members", get(imports::export_members))
        .route(
            "/admin/export/departments",
            get(imports::export_departments),
        )
}

/// Runs an admin mutation and, when it is refused, appends the refusal to
/// the audit log (a success is recorded with the change itself).
async fn audited<T>(
    state: &AppState,
    admin: &AdminCaller,
    action: &str,
    target: &str,
    mutation: impl Future<Output = Result<T, V1Error>>,
) -> Result<T, V1Error> {
    let result = mutation.await;
    if let Err(error) = &result {
        let caller = admin.dir();
        state
            .services
            .record_failure(
                caller.actor.clone(),
                &caller.corp,
                caller.ip,
                action,
                target,
                format!("errcode {}", error.0.code.code()),
            )
            .await;
    }
    result
}
