//! The admin API, `/api/v1/admin/...`: signed-in administrators manage the
//! directory within their reach (super: the corp; scoped: their subtrees,
//! 60011 / HTTP 403 outside, nothing changed) and super administrators
//! change the member-facing rules. Every change is audited with the
//! administrator as actor; refused ones too.

pub mod audit;
pub mod corp;
pub mod departments;
pub mod escalation;
pub mod members;
pub mod rules;
pub mod sessions;
pub mod stats;

use std::future::Future;

use qiye_app::directory::admin::AdminCaller;

use super::error::V1Error;
use crate::AppState;

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
