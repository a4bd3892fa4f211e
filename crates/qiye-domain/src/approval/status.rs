//! Every WeCom number of the approval API, in one place (§3 of the
//! anchors). The engine keeps its own enums; the edge maps them here and
//! nowhere else. Mind the pitfalls:
//!
//! - `sp_status` of an instance: 1 审批中, 2 已通过, 3 已驳回, 4 已撤销,
//!   6 通过后撤销, 7 已删除, 10 已支付 (5, 8, 9 unused);
//! - `sp_status` of a record and `sp_yj` of a sub-node: 1 审批中, 2 同意,
//!   3 驳回, 4 转审, 11 退回, 12 加签, 13 同意并加签, 14 办理, 15 转交;
//! - `apv_rel` (process_list, applyevent): 1 会签, 2 或签, 3 依次, but the
//!   legacy `approverattr` and applyevent `approver[].attr`: 1 或签, 2 会签;
//! - `StatuChangeEvent` of the `sys_approval_change` callback.

use super::flow::SignMode;
use super::instance::{ActivationStatus, CancelReason, EventBody, InstanceStatus, RecordStatus};

/// WeCom's instance `sp_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpStatus {
    /// 1 审批中.
    Pending,
    /// 2 已通过.
    Approved,
    /// 3 已驳回.
    Rejected,
    /// 4 已撤销.
    Withdrawn,
    /// 6 通过后撤销 (not produced by this engine yet).
    RevokedAfterApproval,
    /// 7 已删除 (not produced by this engine yet).
    Deleted,
    /// 10 已支付 (not produced by this engine yet).
    Paid,
}

impl SpStatus {
    /// All seven codes.
    pub const ALL: [SpStatus; 7] = [
        SpStatus::Pending,
        SpStatus::Approved,
        SpStatus::Rejected,
        SpStatus::Withdrawn,
        SpStatus::RevokedAfterApproval,
        SpStatus::Deleted,
        SpStatus::Paid,
    ];

    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            SpStatus::Pending => 1,
            SpStatus::Approved => 2,
            SpStatus::Rejected => 3,
            SpStatus::Withdrawn => 4,
            SpStatus::RevokedAfterApproval => 6,
            SpStatus::Deleted => 7,
            SpStatus::Paid => 10,
        }
    }

    /// From the wire (a `getapprovalinfo` filter); 5, 8, 9 are not codes.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| i64::from(s.code()) == code)
    }

    /// An instance's status on the wire; `None` before submission (a draft
    /// is not a WeCom instance).
    pub fn of(status: InstanceStatus) -> Option<Self> {
        match status {
            InstanceStatus::NotStarted => None,
            InstanceStatus::Running => Some(SpStatus::Pending),
            InstanceStatus::Approved => Some(SpStatus::Approved),
            InstanceStatus::Rejected => Some(SpStatus::Rejected),
            InstanceStatus::Withdrawn => Some(SpStatus::Withdrawn),
        }
    }
}

/// A record's `sp_status` / `sp_yj`. A superseded record shows its node's
/// outcome (Appendix B's proposal: the app layer sends `sptime` 0 for it);
/// a record left out by dedup or the applicant skip shows 2 with the reason
/// as speech.
pub fn record_code(status: &RecordStatus, node: ActivationStatus) -> u8 {
    match status {
        RecordStatus::Pending | RecordStatus::Waiting => {
            if matches!(status, RecordStatus::Waiting) {
                12
            } else {
                1
            }
        }
        RecordStatus::Approving => 13,
        RecordStatus::Approved | RecordStatus::Skipped(_) => 2,
        RecordStatus::Auto { approved, .. } => {
            if *approved {
                2
            } else {
                3
            }
        }
        RecordStatus::Rejected => 3,
        RecordStatus::Transferred(_) => 4,
        RecordStatus::Returned(_) => 11,
        RecordStatus::Handled => 14,
        RecordStatus::HandedOver(_) => 15,
        RecordStatus::Superseded => node_code(node),
    }
}

/// A node's (`sp_record`, `process_list.node_list`) `sp_status`: 1 while
/// active, 2 passed, 3 rejected; a node cancelled by a return shows 11, by
/// a withdrawal or a rejection elsewhere 1 (it was pending when it ended).
pub fn node_code(status: ActivationStatus) -> u8 {
    match status {
        ActivationStatus::Active => 1,
        ActivationStatus::Passed => 2,
        ActivationStatus::Rejected => 3,
        ActivationStatus::Cancelled(CancelReason::Returned) => 11,
        ActivationStatus::Cancelled(_) => 1,
    }
}

/// `apv_rel` of `process_list` and of applyevent's `process`: 1 会签
/// (all, ratio and vote), 2 或签, 3 依次.
pub fn apv_rel(mode: SignMode) -> u8 {
    match mode {
        SignMode::All | SignMode::Ratio { .. } | SignMode::Vote { .. } => 1,
        SignMode::Any => 2,
        SignMode::Sequential => 3,
    }
}

/// The mode an applyevent `process.node_list[].apv_rel` asks for.
pub fn mode_from_apv_rel(code: i64) -> Option<SignMode> {
    match code {
        1 => Some(SignMode::All),
        2 => Some(SignMode::Any),
        3 => Some(SignMode::Sequential),
        _ => None,
    }
}

/// The legacy `approverattr` (detail `sp_record`, callback `ApproverAttr`):
/// 1 或签, 2 会签 (everything that is not or-sign).
pub fn approver_attr(mode: SignMode) -> u8 {
    match mode {
        SignMode::Any => 1,
        _ => 2,
    }
}

/// The mode a legacy applyevent `approver[].attr` asks for.
pub fn mode_from_approver_attr(code: i64) -> Option<SignMode> {
    match code {
        1 => Some(SignMode::Any),
        2 => Some(SignMode::All),
        _ => None,
    }
}

/// The `StatuChangeEvent` a callback reports for an event, if it reports
/// one: 1 submitted, 2 approved, 3 rejected, 4 transferred, 5 urged, 6
/// withdrawn, 10 comment, 11 returned, 12 signers added, 13 approved and
/// added, 14 handled, 15 handed over.
pub fn status_change_event(body: &EventBody) -> Option<u8> {
    match body {
        EventBody::Submitted { .. } => Some(1),
        EventBody::RecordChanged { status, .. } => match status {
            RecordStatus::Approved | RecordStatus::Auto { approved: true, .. } => Some(2),
            RecordStatus::Rejected
            | RecordStatus::Auto {
                approved: false, ..
            } => Some(3),
            RecordStatus::Transferred(_) => Some(4),
            RecordStatus::Waiting => Some(12),
            RecordStatus::Approving => Some(13),
            RecordStatus::Handled => Some(14),
            RecordStatus::HandedOver(_) => Some(15),
            _ => None,
        },
        EventBody::Urged { .. } => Some(5),
        EventBody::Finished {
            status: InstanceStatus::Withdrawn,
        } => Some(6),
        EventBody::Commented { .. } => Some(10),
        EventBody::Returned { .. } => Some(11),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::instance::AutoReason;
    use crate::approval::model::{NodeKey, RecordId};

    #[test]
    fn sp_status_codes_round_trip_and_skip_unused() {
        for s in SpStatus::ALL {
            assert_eq!(SpStatus::from_code(i64::from(s.code())), Some(s));
        }
        for unused in [0, 5, 8, 9, 11] {
            assert_eq!(SpStatus::from_code(unused), None);
        }
        assert_eq!(SpStatus::of(InstanceStatus::NotStarted), None);
        assert_eq!(
            SpStatus::of(InstanceStatus::Running).map(SpStatus::code),
            Some(1)
        );
        assert_eq!(
            SpStatus::of(InstanceStatus::Approved).map(SpStatus::code),
            Some(2)
        );
        assert_eq!(
            SpStatus::of(InstanceStatus::Rejected).map(SpStatus::code),
            Some(3)
        );
        assert_eq!(
            SpStatus::of(InstanceStatus::Withdrawn).map(SpStatus::code),
            Some(4)
        );
    }

    #[test]
    fn record_codes() {
        let node = ActivationStatus::Active;
        let cases = [
            (RecordStatus::Pending, 1),
            (RecordStatus::Approved, 2),
            (RecordStatus::Rejected, 3),
            (RecordStatus::Transferred(RecordId(2)), 4),
            (RecordStatus::Returned(NodeKey::parse("n1").unwrap()), 11),
            (RecordStatus::Waiting, 12),
            (RecordStatus::Approving, 13),
            (RecordStatus::Handled, 14),
            (RecordStatus::HandedOver(RecordId(2)), 15),
            (RecordStatus::Skipped(AutoReason::ApplicantSkipped), 2),
            (
                RecordStatus::Auto {
                    approved: false,
                    why: AutoReason::Timeout,
                },
                3,
            ),
        ];
        for (status, code) in cases {
            assert_eq!(record_code(&status, node), code, "{status:?}");
        }
        assert_eq!(
            record_code(&RecordStatus::Superseded, ActivationStatus::Passed),
            2
        );
        assert_eq!(
            record_code(&RecordStatus::Superseded, ActivationStatus::Rejected),
            3
        );
        assert_eq!(
            node_code(ActivationStatus::Cancelled(CancelReason::Returned)),
            11
        );
    }

    #[test]
    fn the_two_multi_approver_numberings_disagree() {
        // apv_rel: 1 会签, 2 或签, 3 依次; approverattr: 1 或签, 2 会签.
        assert_eq!(apv_rel(SignMode::All), 1);
        assert_eq!(apv_rel(SignMode::Any), 2);
        assert_eq!(apv_rel(SignMode::Sequential), 3);
        assert_eq!(approver_attr(SignMode::Any), 1);
        assert_eq!(approver_attr(SignMode::All), 2);
        for code in 1..=3 {
            assert_eq!(mode_from_apv_rel(code).map(apv_rel), Some(code as u8));
        }
        for code in 1..=2 {
            assert_eq!(
                mode_from_approver_attr(code).map(approver_attr),
                Some(code as u8)
            );
        }
        assert_eq!(mode_from_apv_rel(1), mode_from_approver_attr(2));
        assert_eq!(mode_from_apv_rel(2), mode_from_approver_attr(1));
        assert_eq!(mode_from_apv_rel(4), None);
    }
}
