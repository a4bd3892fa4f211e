//! Call-frequency limits per API: per corp, per app (credential) and per
//! client IP, each over a minute and over an hour, answered with 45009 like
//! WeCom. Built on `governor` (GCRA): a quota of N per minute allows a burst
//! of N and then one call every 60/N seconds, which approximates WeCom's
//! fixed windows without their cliff at the window edge.
//!
//! A corp's own limits (its override) get limiters of their own; all other
//! corps share keyed limiters with the server defaults.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use qiye_domain::credential::Principal;
use qiye_domain::ids::CorpId;
use qiye_domain::rate::{EffectiveCorpLimits, RateQuota};

use crate::error::{AppError, LimitScope};

/// The server-wide defaults (configurable; WeCom's published numbers by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDefaults {
    /// Per corp, per API.
    pub corp_per_api: RateQuota,
    /// Per app (credential), per API.
    pub app_per_api: RateQuota,
    /// Per client IP, per API.
    pub ip_per_api: RateQuota,
}

impl Default for RateLimitDefaults {
    fn default() -> Self {
        Self {
            corp_per_api: RateQuota::WECOM_CORP_PER_API,
            // WeCom publishes no general per-app limit; an app may use its corp's whole budget.
            app_per_api: RateQuota::WECOM_CORP_PER_API,
            ip_per_api: RateQuota::WECOM_IP_PER_API,
        }
    }
}

impl RateLimitDefaults {
    /// The corp-level part of the defaults.
    pub fn corp_limits(&self) -> EffectiveCorpLimits {
        EffectiveCorpLimits {
            corp_per_api: self.corp_per_api,
            app_per_api: self.app_per_api,
        }
    }
}

/// A minute limiter and an hour limiter over the same keys.
struct Windows<K: Hash + Eq + Clone> {
    minute: DefaultKeyedRateLimiter<K>,
    hour: DefaultKeyedRateLimiter<K>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl<K: Hash + Eq + Clone> Windows<K> {
    fn new(quota: RateQuota) -> Self {
        Self {
            minute: RateLimiter::keyed(Quota::per_minute(nonzero(quota.per_minute))),
            hour: RateLimiter::keyed(Quota::per_hour(nonzero(quota.per_hour))),
        }
    }

    fn allow(&self, key: &K) -> bool {
        self.minute.check_key(key).is_ok() && self.hour.check_key(key).is_ok()
    }

    fn forget_idle(&self) {
        for limiter in [&self.minute, &self.hour] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn tracked_keys(&self) -> usize {
        self.minute.len().max(self.hour.len())
    }
}

/// The limiters of one set of corp limits.
struct CorpWindows {
    limits: EffectiveCorpLimits,
    corp: Windows<(CorpId, &'static str)>,
    app: Windows<(Principal, &'static str)>,
}

impl CorpWindows {
    fn new(limits: EffectiveCorpLimits) -> Self {
        Self {
            limits,
            corp: Windows::new(limits.corp_per_api),
            app: Windows::new(limits.app_per_api),
        }
    }
}

/// All limiters of a server.
pub struct RateLimiters {
    defaults: RateLimitDefaults,
    shared: CorpWindows,
    overridden: DashMap<CorpId, Arc<CorpWindows>>,
    ip: Windows<(IpAddr, &'static str)>,
}

impl std::fmt::Debug for RateLimiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiters")
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl RateLimiters {
    /// Limiters with these defaults.
    pub fn new(defaults: RateLimitDefaults) -> Self {
        Self {
            defaults,
            shared: CorpWindows::new(defaults.corp_limits()),
            overridden: DashMap::new(),
            ip: Windows::new(defaults.ip_per_api),
        }
    }

    /// The defaults in force.
    pub fn defaults(&self) -> RateLimitDefaults {
        self.defaults
    }

    /// Counts a call of `api` from `ip`.
    pub fn check_ip(&self, ip: IpAddr, api: &'static str) -> Result<(), AppError> {
        if self.ip.allow(&(ip, api)) {
            Ok(())
        } else {
            Err(AppError::RateLimited {
                scope: LimitScope::Ip,
                api,
            })
        }
    }

    /// Counts a call of `api` by `corp`, under the corp's limits.
    pub fn check_corp(
        &self,
        corp: &CorpId,
        limits: EffectiveCorpLimits,
        api: &'static str,
    ) -> Result<(), AppError> {
        let allowed = self.with_windows(corp, limits, |w| w.corp.allow(&(corp.clone(), api)));
        if allowed {
            Ok(())
        } else {
            Err(AppError::RateLimited {
                scope: LimitScope::Corp,
                api,
            })
        }
    }

    /// Counts a call of `api` by a principal: its app's limit, then its corp's.
    pub fn check_principal(
        &self,
        principal: &Principal,
        limits: EffectiveCorpLimits,
        api: &'static str,
    ) -> Result<(), AppError> {
        let app_ok = self.with_windows(&principal.corp_id, limits, |w| {
            w.app.allow(&(principal.clone(), api))
        });
        if !app_ok {
            return Err(AppError::RateLimited {
                scope: LimitScope::App,
                api,
            });
        }
        self.check_corp(&principal.corp_id, limits, api)
    }

    fn with_windows<T>(
        &self,
        corp: &CorpId,
        limits: EffectiveCorpLimits,
        f: impl FnOnce(&CorpWindows) -> T,
    ) -> T {
        if limits == self.shared.limits {
            self.overridden.remove(corp);
            return f(&self.shared);
        }
        let windows = {
            let mut entry = self
                .overridden
                .entry(corp.clone())
                .or_insert_with(|| Arc::new(CorpWindows::new(limits)));
            if entry.limits != limits {
                // The corp's limits changed: start its counting afresh under the new ones.
                *entry = Arc::new(CorpWindows::new(limits));
            }
            Arc::clone(&entry)
        };
        f(&windows)
    }

    /// Drops the state of keys that are back to a full budget.
    pub fn forget_idle(&self) {
        self.ip.forget_idle();
        self.shared.corp.forget_idle();
        self.shared.app.forget_idle();
        for entry in &self.overridden {
            entry.corp.forget_idle();
            entry.app.forget_idle();
        }
    }

    /// How many keys are tracked (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.ip.tracked_keys()
            + self.shared.corp.tracked_keys()
            + self.shared.app.tracked_keys()
            + self
                .overridden
                .iter()
                .map(|e| e.corp.tracked_keys() + e.app.tracked_keys())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_domain::credential::CredentialKind;
    use qiye_domain::ids::AgentId;

    fn small(per_minute: u32) -> RateQuota {
        RateQuota::new(per_minute, per_minute * 10).unwrap()
    }

    #[test]
    fn corp_limit_is_per_api_and_per_corp() {
        let limiters = RateLimiters::new(RateLimitDefaults {
            corp_per_api: small(2),
            ..Default::default()
        });
        let limits = limiters.defaults().corp_limits();
        let a = CorpId::generate();
        let b = CorpId::generate();
        assert!(limiters.check_corp(&a, limits, "agent/get").is_ok());
        assert!(limiters.check_corp(&a, limits, "agent/get").is_ok());
        assert_eq!(
            limiters.check_corp(&a, limits, "agent/get"),
            Err(AppError::RateLimited {
                scope: LimitScope::Corp,
                api: "agent/get"
            })
        );
        assert!(
            limiters.check_corp(&a, limits, "agent/list").is_ok(),
            "another API has its own budget"
        );
        assert!(
            limiters.check_corp(&b, limits, "agent/get").is_ok(),
            "another corp has its own budget"
        );
    }

    #[test]
    fn app_limit_comes_before_corp_limit() {
        let limiters = RateLimiters::new(RateLimitDefaults {
            app_per_api: small(1),
            ..Default::default()
        });
        let limits = limiters.defaults().corp_limits();
        let corp = CorpId::generate();
        let app1 = Principal {
            corp_id: corp.clone(),
            credential: CredentialKind::App(AgentId::FIRST),
        };
        let app2 = Principal {
            corp_id: corp,
            credential: CredentialKind::App(AgentId::FIRST.next()),
        };
        assert!(limiters.check_principal(&app1, limits, "agent/get").is_ok());
        assert_eq!(
            limiters.check_principal(&app1, limits, "agent/get"),
            Err(AppError::RateLimited {
                scope: LimitScope::App,
                api: "agent/get"
            })
        );
        assert!(limiters.check_principal(&app2, limits, "agent/get").is_ok());
    }

    #[test]
    fn an_override_gets_its_own_budget() {
        let limiters = RateLimiters::new(RateLimitDefaults {
            corp_per_api: small(1),
            ..Default::default()
        });
        let defaults = limiters.defaults().corp_limits();
        let big = EffectiveCorpLimits {
            corp_per_api: small(5),
            ..defaults
        };
        let corp = CorpId::generate();
        for _ in 0..5 {
            assert!(limiters.check_corp(&corp, big, "agent/get").is_ok());
        }
        assert!(limiters.check_corp(&corp, big, "agent/get").is_err());
        // Back to defaults: the override's state is dropped.
        assert!(limiters.check_corp(&corp, defaults, "agent/get").is_ok());
        assert!(limiters.check_corp(&corp, defaults, "agent/get").is_err());
    }

    #[test]
    fn ip_limit() {
        let limiters = RateLimiters::new(RateLimitDefaults {
            ip_per_api: small(1),
            ..Default::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiters.check_ip(ip, "gettoken").is_ok());
        assert_eq!(
            limiters.check_ip(ip, "gettoken"),
            Err(AppError::RateLimited {
                scope: LimitScope::Ip,
                api: "gettoken"
            })
        );
        assert!(
            limiters
                .check_ip("10.0.0.2".parse().unwrap(), "gettoken")
                .is_ok()
        );
        assert!(limiters.tracked_keys() >= 2);
    }
}
