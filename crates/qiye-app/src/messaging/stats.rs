//! Message statistics: WeCom's `message/get_statistics` (person-messages per
//! app, today or yesterday) and qiye's per-kind figures for administrators
//! (delivery rate, read rate, median response time per day).

use std::collections::BTreeMap;

use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::message::{DAY_MS, KindStats, day_start, summarize};

use crate::Services;
use crate::directory::admin::AdminCaller;
use crate::error::{AppResult, SessionError};

/// Longest window of the per-kind statistics.
pub const MAX_STATS_DAYS: i64 = 92;

impl Services {
    /// Person-messages each app of the corp sent on the China-time day
    /// `days_ago` days back (0 today, 1 yesterday): WeCom's
    /// `message/get_statistics`. Apps that sent nothing are left out.
    pub async fn sent_per_app(
        &self,
        corp: &CorpId,
        days_ago: i64,
    ) -> AppResult<Vec<(AgentId, String, u64)>> {
        let start = day_start(self.clock.now_millis()) - days_ago * DAY_MS;
        let deliveries = self
            .store
            .app_deliveries(corp, start, start + DAY_MS)
            .await?;
        let mut counts: BTreeMap<AgentId, u64> = BTreeMap::new();
        for d in &deliveries {
            *counts.entry(d.agentid).or_default() += 1;
        }
        let mut out = Vec::with_capacity(counts.len());
        for (agentid, count) in counts {
            let name = self
                .store
                .get_app(corp, agentid)
                .await
                .map(|a| a.name.as_str().to_owned())
                .unwrap_or_default();
            out.push((agentid, name, count));
        }
        Ok(out)
    }

    /// Per kind and per day in `[from, to)` (ms, clamped to
    /// [`MAX_STATS_DAYS`] before `to`): sent, delivered, read and the median
    /// response time. Super administrators only.
    pub async fn message_statistics(
        &self,
        admin: &AdminCaller,
        from: i64,
        to: i64,
    ) -> AppResult<Vec<KindStats>> {
        if !admin.is_super() {
            return Err(SessionError::NotAdmin.into());
        }
        let from = from.max(to - MAX_STATS_DAYS * DAY_MS);
        let deliveries = self
            .store
            .app_deliveries(&admin.dir().corp, from, to)
            .await?;
        Ok(summarize(&deliveries))
    }
}
