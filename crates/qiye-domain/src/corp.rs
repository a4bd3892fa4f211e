//! Corps (tenants). Every row of every table belongs to exactly one corp, and
//! nothing a corp's credential does can reach another corp's rows.

use crate::clock::UnixMillis;
use crate::ids::CorpId;
use crate::plan::Plan;
use crate::rate::CorpRateOverride;

/// A corp name that was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a corp name must be 1-64 characters and not blank")]
pub struct InvalidCorpName;

/// A corp's display name: 1-64 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpName(String);

impl CorpName {
    /// Validates a name from outside (trimmed).
    pub fn parse(raw: &str) -> Result<Self, InvalidCorpName> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if (1..=64).contains(&chars) && !trimmed.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidCorpName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A corp as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corp {
    /// Its id (`ww` + 16 hex).
    pub id: CorpId,
    /// Its display name; also the name of its root department.
    pub name: CorpName,
    /// Its edition.
    pub plan: Plan,
    /// Its own API rate limits, if granted.
    pub rate_override: CorpRateOverride,
    /// When it was created.
    pub created_at: UnixMillis,
    /// Every member must sign in with a second factor (TOTP).
    pub require_2fa: bool,
    /// The web app overlays the viewer's name on what it shows.
    pub watermark: bool,
}

/// A change of a corp's settings by one of its super administrators; what is
/// `None` stays. The plan is not here: only the operator changes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpSettingsChange {
    /// A new display name.
    pub name: Option<CorpName>,
    /// Require a second factor of every member.
    pub require_2fa: Option<bool>,
    /// Show the watermark.
    pub watermark: Option<bool>,
    /// New rate-limit overrides.
    pub rate_override: Option<CorpRateOverride>,
}

impl CorpSettingsChange {
    /// What it changes, as `field=value` pairs for the audit record.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name={}", name.as_str()));
        }
        if let Some(v) = self.require_2fa {
            parts.push(format!("require_2fa={v}"));
        }
        if let Some(v) = self.watermark {
            parts.push(format!("watermark={v}"));
        }
        if self.rate_override.is_some() {
            parts.push("rate_limits".to_owned());
        }
        parts.join(",")
    }
}

/// How big a corp is, for plan checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpSize {
    /// Members (in any status but "left").
    pub members: u64,
    /// Depth of the deepest department, root = 1.
    pub deepest_department: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corp_names() {
        assert_eq!(
            CorpName::parse("  Acme 公司 ").unwrap().as_str(),
            "Acme 公司"
        );
        assert!(CorpName::parse("   ").is_err());
        assert!(CorpName::parse(&"名".repeat(64)).is_ok());
        assert!(CorpName::parse(&"名".repeat(65)).is_err());
        assert!(CorpName::parse("bad\nname").is_err());
    }
}
