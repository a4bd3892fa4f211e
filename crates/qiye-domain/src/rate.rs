//! API call-frequency limits: WeCom's published defaults and a corp's
//! override (the brief: a large customer can be granted a higher limit).
//!
//! The limiter that enforces them lives in `qiye-app`; this module only says
//! what the numbers are.

/// A limit over a minute and over an hour. Both must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateQuota {
    /// Calls allowed per minute.
    pub per_minute: u32,
    /// Calls allowed per hour.
    pub per_hour: u32,
}

/// A quota that cannot be enforced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateQuotaError {
    /// Zero calls per minute or per hour.
    #[error("a rate limit must allow at least one call per minute and per hour")]
    Zero,
    /// More per minute than per hour.
    #[error("the per-hour limit ({per_hour}) must be at least the per-minute limit ({per_minute})")]
    HourBelowMinute {
        /// Calls per minute asked for.
        per_minute: u32,
        /// Calls per hour asked for.
        per_hour: u32,
    },
    /// A corp's administrator asked for more than the server grants by
    /// default (only the operator raises a corp's limits).
    #[error(
        "at most {ceiling} calls per minute (the server default); higher limits are granted by the operator"
    )]
    AboveDefault {
        /// The server default per minute.
        ceiling: u32,
    },
}

impl RateQuota {
    /// WeCom's published limit per corp per API (doc 90454).
    pub const WECOM_CORP_PER_API: RateQuota = RateQuota {
        per_minute: 10_000,
        per_hour: 150_000,
    };
    /// WeCom's published limit per client IP per API (doc 90454).
    pub const WECOM_IP_PER_API: RateQuota = RateQuota {
        per_minute: 20_000,
        per_hour: 600_000,
    };

    /// Validates a quota.
    pub fn new(per_minute: u32, per_hour: u32) -> Result<Self, RateQuotaError> {
        if per_minute == 0 || per_hour == 0 {
            Err(RateQuotaError::Zero)
        } else if per_hour < per_minute {
            Err(RateQuotaError::HourBelowMinute {
                per_minute,
                per_hour,
            })
        } else {
            Ok(Self {
                per_minute,
                per_hour,
            })
        }
    }
}

/// A corp's own limits, replacing the server defaults where set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CorpRateOverride {
    /// Limit per API for the whole corp.
    pub corp_per_api: Option<RateQuota>,
    /// Limit per API for each app (each credential) of the corp.
    pub app_per_api: Option<RateQuota>,
}

/// The limits that apply to one corp once defaults and override are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EffectiveCorpLimits {
    /// Limit per API for the whole corp.
    pub corp_per_api: RateQuota,
    /// Limit per API for each app (each credential) of the corp.
    pub app_per_api: RateQuota,
}

impl EffectiveCorpLimits {
    /// Applies a corp's override on top of the server defaults.
    pub fn resolve(defaults: EffectiveCorpLimits, corp: &CorpRateOverride) -> Self {
        Self {
            corp_per_api: corp.corp_per_api.unwrap_or(defaults.corp_per_api),
            app_per_api: corp.app_per_api.unwrap_or(defaults.app_per_api),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_validation() {
        assert!(RateQuota::new(1, 1).is_ok());
        assert_eq!(RateQuota::new(0, 5), Err(RateQuotaError::Zero));
        assert_eq!(
            RateQuota::new(10, 5),
            Err(RateQuotaError::HourBelowMinute {
                per_minute: 10,
                per_hour: 5
            })
        );
    }

    #[test]
    fn override_replaces_only_what_it_sets() {
        let defaults = EffectiveCorpLimits {
            corp_per_api: RateQuota::WECOM_CORP_PER_API,
            app_per_api: RateQuota::WECOM_CORP_PER_API,
        };
        let bigger = RateQuota::new(50_000, 1_000_000).unwrap();
        let merged = EffectiveCorpLimits::resolve(
            defaults,
            &CorpRateOverride {
                corp_per_api: Some(bigger),
                app_per_api: None,
            },
        );
        assert_eq!(merged.corp_per_api, bigger);
        assert_eq!(merged.app_per_api, RateQuota::WECOM_CORP_PER_API);
        assert_eq!(
            EffectiveCorpLimits::resolve(defaults, &CorpRateOverride::default()),
            defaults
        );
    }
}
