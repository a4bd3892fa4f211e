//! `GET /api/v1/admin/message-stats`: the brief's table of message figures
//! (delivery rate, read rate, median response time) per kind and day.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::error::V1Result;
use super::super::extract::{Admin, V1Query};
use crate::AppState;

/// The window; both default to the last 30 days.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatsQuery {
    /// From (Unix ms, inclusive); at most 92 days before `to`.
    #[serde(default)]
    pub from: Option<i64>,
    /// To (Unix ms, exclusive); default now.
    #[serde(default)]
    pub to: Option<i64>,
}

/// One kind of message on one day (China time).
#[derive(Debug, Serialize, ToSchema)]
pub struct KindStatsView {
    /// `notice`, `announcement`, `approval`, `survey`, `task` (app messages).
    pub kind: &'static str,
    /// The day's start (Unix ms, midnight UTC+8).
    pub day: i64,
    /// Person-messages sent (one per recipient).
    pub sent: u64,
    /// Received by the member's client.
    pub delivered: u64,
    /// Read.
    pub read: u64,
    /// delivered / sent.
    pub delivery_rate: f64,
    /// read / sent.
    pub read_rate: f64,
    /// Median time from sending to reading, of those read (ms).
    pub median_response_ms: Option<i64>,
}

/// The figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    /// Day then kind order.
    pub stats: Vec<KindStatsView>,
}

const DEFAULT_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// Message figures per kind and day (super administrators).
#[utoipa::path(get, path = "/api/v1/admin/message-stats", tag = "admin",
    params(("from" = Option<i64>, Query), ("to" = Option<i64>, Query)),
    responses((status = 200, body = StatsResponse), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn message_stats(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(q): V1Query<StatsQuery>,
) -> V1Result<Json<StatsResponse>> {
    let to = q.to.unwrap_or_else(|| state.services.clock().now_millis());
    let from = q.from.unwrap_or(to - DEFAULT_WINDOW_MS);
    let stats = state.services.message_statistics(&admin, from, to).await?;
    Ok(Json(StatsResponse {
        stats: stats
            .iter()
            .map(|s| KindStatsView {
                kind: s.kind.name(),
                day: s.day,
                sent: s.sent,
                delivered: s.delivered,
                read: s.read,
                delivery_rate: s.delivery_rate(),
                read_rate: s.read_rate(),
                median_response_ms: s.median_response_ms,
            })
            .collect(),
    }))
}
