//! Editions (plans) and the limits each one enforces, from the product brief:
//!
//! | | Basic | Professional | Flagship |
//! |---|---|---|---|
//! | max members | 1000 | unlimited | unlimited |
//! | department depth | 3 | 10 | unlimited |
//! | bulk operations | import only | import and export | sync from an HR system |
//!
//! "Unlimited" depth is still capped by WeCom's own hard limit of 15 levels
//! (errcode 81002), so that data created here stays importable into WeCom.

use std::fmt;
use std::str::FromStr;

/// WeCom refuses department trees deeper than this whatever the edition.
pub const WECOM_MAX_DEPTH: u32 = 15;

/// A corp's edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// 1000 members, 3 department levels, bulk import only.
    Basic,
    /// Unlimited members, 10 levels, import and export.
    Professional,
    /// Unlimited members and levels, import, export and HR sync.
    Flagship,
}

/// A bulk operation a plan may or may not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkOperation {
    /// Importing members or departments from a file (`batch/*`).
    Import,
    /// Exporting the directory (`export/*`).
    Export,
    /// Continuous synchronisation from an HR system.
    HrSync,
}

impl fmt::Display for BulkOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BulkOperation::Import => "bulk import",
            BulkOperation::Export => "export",
            BulkOperation::HrSync => "HR system sync",
        })
    }
}

/// A plan limit that an operation would exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The corp would have more members than its plan allows.
    #[error("the {plan} plan allows at most {limit} members; the corp would have {would_have}")]
    MemberLimit {
        /// The corp's plan.
        plan: Plan,
        /// The plan's member limit.
        limit: u64,
        /// How many members the operation would leave.
        would_have: u64,
    },
    /// A department would sit deeper than the plan allows.
    #[error(
        "the {plan} plan allows at most {limit} department levels; this would make {would_have}"
    )]
    DepthLimit {
        /// The corp's plan.
        plan: Plan,
        /// The plan's depth limit.
        limit: u32,
        /// The depth the operation would create.
        would_have: u32,
    },
    /// The plan does not include the bulk operation.
    #[error("the {plan} plan does not include {operation}; upgrade the corp's plan")]
    NotInPlan {
        /// The corp's plan.
        plan: Plan,
        /// The refused operation.
        operation: BulkOperation,
    },
}

/// An unknown plan name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan '{0}': expected basic, professional or flagship")]
pub struct UnknownPlan(pub String);

impl Plan {
    /// Every plan, cheapest first.
    pub const ALL: [Plan; 3] = [Plan::Basic, Plan::Professional, Plan::Flagship];

    /// The stable lower-case name used in storage, the CLI and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Professional => "professional",
            Plan::Flagship => "flagship",
        }
    }

    /// Most members the corp may have, `None` for unlimited.
    pub fn max_members(self) -> Option<u64> {
        match self {
            Plan::Basic => Some(1000),
            Plan::Professional | Plan::Flagship => None,
        }
    }

    /// Deepest department level allowed, counting the root as level 1.
    pub fn max_depth(self) -> u32 {
        match self {
            Plan::Basic => 3,
            Plan::Professional => 10,
            Plan::Flagship => WECOM_MAX_DEPTH,
        }
    }

    /// Whether the plan includes a bulk operation.
    pub fn allows(self, operation: BulkOperation) -> bool {
        match (self, operation) {
            (_, BulkOperation::Import) => true,
            (Plan::Basic, _) => false,
            (Plan::Professional, BulkOperation::Export) => true,
            (Plan::Professional, BulkOperation::HrSync) => false,
            (Plan::Flagship, _) => true,
        }
    }

    /// Checks that a corp holding `current` members may add `adding` more.
    pub fn check_member_count(self, current: u64, adding: u64) -> Result<(), PlanError> {
        let would_have = current.saturating_add(adding);
        match self.max_members() {
            Some(limit) if would_have > limit => Err(PlanError::MemberLimit {
                plan: self,
                limit,
                would_have,
            }),
            _ => Ok(()),
        }
    }

    /// Checks that a department at `depth` (root = 1) is allowed.
    pub fn check_depth(self, depth: u32) -> Result<(), PlanError> {
        let limit = self.max_depth();
        if depth > limit {
            Err(PlanError::DepthLimit {
                plan: self,
                limit,
                would_have: depth,
            })
        } else {
            Ok(())
        }
    }

    /// Checks that the plan includes a bulk operation.
    pub fn check_bulk(self, operation: BulkOperation) -> Result<(), PlanError> {
        if self.allows(operation) {
            Ok(())
        } else {
            Err(PlanError::NotInPlan {
                plan: self,
                operation,
            })
        }
    }

    /// Checks that a corp of the given size fits this plan (used when a corp
    /// changes plan: a downgrade must not leave it over the new limits).
    pub fn check_fits(self, members: u64, deepest_department: u32) -> Result<(), PlanError> {
        self.check_member_count(members, 0)?;
        self.check_depth(deepest_department)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownPlan(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Plan::Basic, 999, 1, true)]
    #[case(Plan::Basic, 1000, 0, true)]
    #[case(Plan::Basic, 1000, 1, false)]
    #[case(Plan::Basic, 0, 1001, false)]
    #[case(Plan::Professional, 1_000_000, 1, true)]
    #[case(Plan::Flagship, u64::MAX, 1, true)]
    fn member_limits(
        #[case] plan: Plan,
        #[case] current: u64,
        #[case] adding: u64,
        #[case] ok: bool,
    ) {
        assert_eq!(plan.check_member_count(current, adding).is_ok(), ok);
    }

    #[test]
    fn member_limit_error_says_what_and_how_many() {
        let err = Plan::Basic.check_member_count(1000, 5).unwrap_err();
        assert_eq!(
            err,
            PlanError::MemberLimit {
                plan: Plan::Basic,
                limit: 1000,
                would_have: 1005
            }
        );
        assert_eq!(
            err.to_string(),
            "the basic plan allows at most 1000 members; the corp would have 1005"
        );
    }

    #[rstest]
    #[case(Plan::Basic, 3, true)]
    #[case(Plan::Basic, 4, false)]
    #[case(Plan::Professional, 10, true)]
    #[case(Plan::Professional, 11, false)]
    #[case(Plan::Flagship, 15, true)]
    #[case(Plan::Flagship, 16, false)]
    fn depth_limits(#[case] plan: Plan, #[case] depth: u32, #[case] ok: bool) {
        assert_eq!(plan.check_depth(depth).is_ok(), ok);
    }

    #[rstest]
    #[case(Plan::Basic, BulkOperation::Import, true)]
    #[case(Plan::Basic, BulkOperation::Export, false)]
    #[case(Plan::Basic, BulkOperation::HrSync, false)]
    #[case(Plan::Professional, BulkOperation::Import, true)]
    #[case(Plan::Professional, BulkOperation::Export, true)]
    #[case(Plan::Professional, BulkOperation::HrSync, false)]
    #[case(Plan::Flagship, BulkOperation::Import, true)]
    #[case(Plan::Flagship, BulkOperation::Export, true)]
    #[case(Plan::Flagship, BulkOperation::HrSync, true)]
    fn bulk_operations(#[case] plan: Plan, #[case] op: BulkOperation, #[case] ok: bool) {
        assert_eq!(plan.check_bulk(op).is_ok(), ok);
    }

    #[test]
    fn downgrade_must_fit() {
        assert!(Plan::Basic.check_fits(1000, 3).is_ok());
        assert!(matches!(
            Plan::Basic.check_fits(1001, 2),
            Err(PlanError::MemberLimit { .. })
        ));
        assert!(matches!(
            Plan::Basic.check_fits(10, 4),
            Err(PlanError::DepthLimit { .. })
        ));
    }

    #[test]
    fn plan_names_round_trip() {
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().unwrap(), plan);
        }
        assert_eq!(" Flagship ".parse::<Plan>().unwrap(), Plan::Flagship);
        assert!("gold".parse::<Plan>().is_err());
    }
}
