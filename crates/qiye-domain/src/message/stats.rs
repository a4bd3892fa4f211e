//! Message statistics, the brief's table as measured figures: per kind of
//! message and per day, how many person-messages went out, how many
//! reached the member's client, how many were read, and the median time
//! from sending to reading.

use std::collections::BTreeMap;

use super::entry::MsgKind;
use crate::ports::AppDelivery;

/// One day in China Standard Time (UTC+8), which is WeCom's day for
/// `message/get_statistics` and the brief's tables.
pub const DAY_MS: i64 = 24 * 3600 * 1000;
/// UTC+8 in milliseconds.
pub const CHINA_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// The start (ms) of the China-time day that holds `at` (ms).
pub fn day_start(at: i64) -> i64 {
    (at + CHINA_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - CHINA_OFFSET_MS
}

/// Figures for one kind of message on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct KindStats {
    /// The kind.
    pub kind: MsgKind,
    /// The day's start (ms, China time midnight).
    pub day: i64,
    /// Person-messages sent (one per recipient).
    pub sent: u64,
    /// Of those, received by the member's client.
    pub delivered: u64,
    /// Of those, read.
    pub read: u64,
    /// Median time from sending to reading, of those read (ms).
    pub median_response_ms: Option<i64>,
}

impl KindStats {
    /// Delivered / sent (0 when nothing was sent).
    pub fn delivery_rate(&self) -> f64 {
        ratio(self.delivered, self.sent)
    }

    /// Read / sent (0 when nothing was sent).
    pub fn read_rate(&self) -> f64 {
        ratio(self.read, self.sent)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The median of `values` (the lower middle for an even count).
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

/// Figures per (day, kind) of deliveries, in day then kind order.
pub fn summarize(deliveries: &[AppDelivery]) -> Vec<KindStats> {
    let mut groups: BTreeMap<(i64, MsgKind), (u64, u64, Vec<i64>)> = BTreeMap::new();
    for d in deliveries {
        let g = groups.entry((day_start(d.sent_at), d.kind)).or_default();
        g.0 += 1;
        if d.delivered_at.is_some() || d.read_at.is_some() {
            g.1 += 1;
        }
        if let Some(read) = d.read_at {
            g.2.push((read - d.sent_at).max(0));
        }
    }
    groups
        .into_iter()
        .map(|((day, kind), (sent, delivered, mut reads))| KindStats {
            kind,
            day,
            sent,
            delivered,
            read: reads.len() as u64,
            median_response_ms: median(&mut reads),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgentId;

    fn d(kind: MsgKind, sent: i64, delivered: Option<i64>, read: Option<i64>) -> AppDelivery {
        AppDelivery {
            agentid: AgentId::new(1).unwrap(),
            kind,
            sent_at: sent,
            delivered_at: delivered,
            read_at: read,
        }
    }

    #[test]
    fn days_are_china_days() {
        // 2026-11-24 16:00 UTC is 2026-11-25 00:00 in China.
        let midnight_cst =
            1_764_000_000_000 - (1_764_000_000_000 + CHINA_OFFSET_MS) % DAY_MS + DAY_MS;
        assert_eq!(day_start(midnight_cst), midnight_cst);
        assert_eq!(day_start(midnight_cst - 1), midnight_cst - DAY_MS);
        assert_eq!(day_start(midnight_cst + DAY_MS - 1), midnight_cst);
    }

    #[test]
    fn rates_and_median_response_per_kind() {
        let day = day_start(1_764_000_000_000);
        let stats = summarize(&[
            d(
                MsgKind::Announcement,
                day + 10,
                Some(day + 20),
                Some(day + 1_010),
            ),
            d(
                MsgKind::Announcement,
                day + 10,
                Some(day + 20),
                Some(day + 3_010),
            ),
            d(MsgKind::Announcement, day + 10, Some(day + 20), None),
            d(MsgKind::Announcement, day + 10, None, None),
            d(MsgKind::Approval, day + 10, None, Some(day + 510)),
        ]);
        assert_eq!(stats.len(), 2);
        let a = &stats[0];
        assert_eq!(
            (a.kind, a.sent, a.delivered, a.read),
            (MsgKind::Announcement, 4, 3, 2)
        );
        assert_eq!(a.median_response_ms, Some(1_000));
        assert!((a.delivery_rate() - 0.75).abs() < 1e-9);
        assert!((a.read_rate() - 0.5).abs() < 1e-9);
        let b = &stats[1];
        assert_eq!(
            (b.kind, b.delivered, b.read),
            (MsgKind::Approval, 1, 1),
            "read implies delivered"
        );
        assert_eq!(b.median_response_ms, Some(500));
        assert!(summarize(&[]).is_empty());
        assert_eq!(
            KindStats {
                sent: 0,
                ..a.clone()
            }
            .read_rate(),
            0.0
        );
    }
}
