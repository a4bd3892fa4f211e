//! The corp's audit log for super administrators (scoped ones: 60011):
//! `GET /api/v1/admin/audit` (a page, newest first, with filters and a
//! cursor) and `GET /api/v1/admin/audit/export` (the same filters, every
//! matching record up to [`EXPORT_MAX_ROWS`], as a CSV attachment).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use qiye_app::directory::admin::AdminCaller;
use qiye_domain::audit::{AUDIT_PAGE_MAX, AuditEntry, AuditQuery, Outcome, OutcomeFilter};
use qiye_wecom::ErrCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Query};

/// Records an export holds at most.
pub const EXPORT_MAX_ROWS: usize = 100_000;
/// Records a page holds by default.
const DEFAULT_PAGE: u32 = 50;
/// Records read per round while exporting.
const EXPORT_BATCH: u32 = AUDIT_PAGE_MAX;

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditFilters {
    /// `member:alice`, `admin:bob`, `cli:root`, ... or a bare id (any kind).
    pub actor: Option<String>,
    /// An action (`session.create`) or a prefix ending in `*` (`session.*`).
    pub action: Option<String>,
    /// `ok` or `failed`.
    pub outcome: Option<String>,
    /// At or after (Unix ms).
    pub from: Option<i64>,
    /// Before (Unix ms).
    pub to: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1-500, default 50).
    pub limit: Option<u32>,
}

impl AuditFilters {
    fn query(&self) -> Result<AuditQuery, V1Error> {
        let bad = |field: &str, detail: &str| {
            V1Error::new(
                ErrCode::InvalidRequestParameter,
                format!("{field}: {detail}"),
            )
        };
        let outcome = match self.outcome.as_deref().filter(|o| !o.is_empty()) {
            None => None,
            Some("ok") => Some(OutcomeFilter::Succeeded),
            Some("failed") => Some(OutcomeFilter::Failed),
            Some(_) => return Err(bad("outcome", "ok or failed")),
        };
        let before_seq = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| bad("cursor", "not a cursor"))?,
            ),
        };
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Ok(AuditQuery {
            actor: non_empty(&self.actor),
            action: non_empty(&self.action),
            outcome,
            from: self.from,
            to: self.to,
            before_seq,
            limit: self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, AUDIT_PAGE_MAX),
        })
    }
}

/// One audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Position in the log (increasing).
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// Who: `member:alice`, `admin:bob`, `app:1000002`, `cli:root`, `system`.
    pub actor: String,
    /// What, as `area.verb`.
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or `failed`.
    pub outcome: String,
    /// From where.
    pub ip: Option<String>,
    /// Why it failed.
    pub detail: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        let record = entry.record;
        let (outcome, detail) = match record.outcome {
            Outcome::Succeeded => ("ok", None),
            Outcome::Failed(reason) => ("failed", Some(reason)),
        };
        Self {
            id: entry.seq,
            at: record.at,
            actor: record.actor.to_string(),
            action: record.action,
            target: record.target,
            outcome: outcome.to_owned(),
            ip: record.client_ip.map(|ip| ip.to_string()),
            detail,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageResponse {
    /// Newest first.
    pub entries: Vec<AuditEntryView>,
    /// Pass back as `cursor` for the next (older) page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page and whether more records match.
async fn page(
    state: &AppState,
    admin: &AdminCaller,
    query: &AuditQuery,
) -> V1Result<(Vec<AuditEntry>, bool)> {
    let probe = AuditQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut entries = state.services.audit_page(admin, &probe).await?;
    let more = entries.len() > query.limit as usize;
    entries.truncate(query.limit as usize);
    Ok((entries, more))
}

/// A page of the corp's audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditFilters),
    responses((status = 200, body = AuditPageResponse),
        (status = 400, description = "40058 a malformed filter"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(filters): V1Query<AuditFilters>,
) -> V1Result<Json<AuditPageResponse>> {
    let query = filters.query()?;
    let (entries, more) = page(&state, &admin, &query).await?;
    let next_cursor = more
        .then(|| entries.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(AuditPageResponse {
        entries: entries.into_iter().map(AuditEntryView::from).collect(),
        next_cursor,
    }))
}

/// A CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@` (a
/// spreadsheet formula) neutralised with a `'`.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_line(view: &AuditEntryView) -> String {
    let fields = [
        view.id.to_string(),
        view.at.to_string(),
        view.actor.clone(),
        view.action.clone(),
        view.target.clone(),
        view.outcome.clone(),
        view.ip.clone().unwrap_or_default(),
        view.detail.clone().unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Every matching record, newest first, as CSV.
#[utoipa::path(get, path = "/api/v1/admin/audit/export", tag = "admin", params(AuditFilters),
    responses((status = 200, content_type = "text/csv", description = "id,at,actor,action,target,outcome,ip,detail"),
        (status = 400, description = "40058 a malformed filter"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn export(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(filters): V1Query<AuditFilters>,
) -> V1Result<Response> {
    let mut query = filters.query()?;
    query.limit = EXPORT_BATCH;
    let mut csv = String::from("id,at,actor,action,target,outcome,ip,detail\r\n");
    let mut rows = 0;
    loop {
        let (entries, more) = page(&state, &admin, &query).await?;
        query.before_seq = entries.last().map(|e| e.seq);
        for entry in entries {
            if rows == EXPORT_MAX_ROWS {
                break;
            }
            csv.push_str(&csv_line(&AuditEntryView::from(entry)));
            rows += 1;
        }
        if !more || rows == EXPORT_MAX_ROWS {
            break;
        }
    }
    let disposition = format!("attachment; filename=\"audit-{}.csv\"", admin.dir().corp);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-x,y"), "\"'-x,y\"");
    }
}
