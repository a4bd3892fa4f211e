//! Self-built apps (自建应用): each has an agent id, a secret and a visible
//! range that limits what its tokens may see.

use crate::clock::UnixMillis;
use crate::ids::{AgentId, CorpId};

/// Why an app field was rejected. Each maps to its own WeCom errcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppFieldError {
    /// Name empty or over 32 characters (WeCom 45022).
    #[error("app name must be 1-32 characters")]
    Name,
    /// Description not 4-120 characters (WeCom 45004).
    #[error("app description must be 4-120 characters")]
    Description,
    /// A 0/1 flag had another value (WeCom 40059 for report_location_flag).
    #[error("{0} must be 0 or 1")]
    Flag(&'static str),
    /// A URL or domain that is too long or not http(s) (WeCom 40094).
    #[error("{0} must be an http(s) URL of at most 1024 bytes")]
    Url(&'static str),
}

/// An app's name: 1-32 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName(String);

impl AppName {
    /// Validates a name from outside (trimmed).
    pub fn parse(raw: &str) -> Result<Self, AppFieldError> {
        let trimmed = raw.trim();
        if (1..=32).contains(&trimmed.chars().count()) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(AppFieldError::Name)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validates an app description: 4-120 characters.
pub fn validate_description(raw: &str) -> Result<String, AppFieldError> {
    if (4..=120).contains(&raw.chars().count()) {
        Ok(raw.to_owned())
    } else {
        Err(AppFieldError::Description)
    }
}

/// Validates a home URL: http(s), at most 1024 bytes.
pub fn validate_home_url(raw: &str) -> Result<String, AppFieldError> {
    let ok = raw.len() <= 1024 && (raw.starts_with("https://") || raw.starts_with("http://"));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppFieldError::Url("home_url"))
    }
}

/// Validates a redirect domain: a host name (optionally with port), no scheme.
pub fn validate_redirect_domain(raw: &str) -> Result<String, AppFieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 255
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(AppFieldError::Url("redirect_domain"))
    }
}

/// Converts a 0/1 flag.
pub fn parse_flag(name: &'static str, raw: i64) -> Result<bool, AppFieldError> {
    match raw {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(AppFieldError::Flag(name)),
    }
}

/// An app as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The corp it belongs to.
    pub corp_id: CorpId,
    /// Its id within the corp.
    pub agentid: AgentId,
    /// Its name.
    pub name: AppName,
    /// Its description (may be empty until set).
    pub description: String,
    /// Whether its visible range is the whole corp.
    pub all_visible: bool,
    /// Whether it is disabled (`close` = 1).
    pub closed: bool,
    /// Its home page.
    pub home_url: String,
    /// The trusted domain for OAuth redirects.
    pub redirect_domain: String,
    /// Whether it receives members' locations.
    pub report_location: bool,
    /// Whether it is told when a member enters it.
    pub report_enter: bool,
    /// When it was created.
    pub created_at: UnixMillis,
}

/// A new app, before storage assigns its agent id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApp {
    /// The corp it will belong to.
    pub corp_id: CorpId,
    /// Its name.
    pub name: AppName,
    /// Whether the whole corp can see it.
    pub all_visible: bool,
    /// Creation time.
    pub created_at: UnixMillis,
}

/// A change to an app's settings (`agent/set`); `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppSettingsChange {
    /// New name.
    pub name: Option<AppName>,
    /// New description.
    pub description: Option<String>,
    /// New home URL.
    pub home_url: Option<String>,
    /// New redirect domain.
    pub redirect_domain: Option<String>,
    /// New location-report flag.
    pub report_location: Option<bool>,
    /// New enter-report flag.
    pub report_enter: Option<bool>,
}

impl AppSettingsChange {
    /// Applies the change to an app.
    pub fn apply_to(&self, app: &mut App) {
        if let Some(name) = &self.name {
            app.name = name.clone();
        }
        if let Some(description) = &self.description {
            app.description = description.clone();
        }
        if let Some(home_url) = &self.home_url {
            app.home_url = home_url.clone();
        }
        if let Some(domain) = &self.redirect_domain {
            app.redirect_domain = domain.clone();
        }
        if let Some(flag) = self.report_location {
            app.report_location = flag;
        }
        if let Some(flag) = self.report_enter {
            app.report_enter = flag;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("OA", true)]
    #[case("", false)]
    #[case("   ", false)]
    #[case(
        "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二",
        true
    )]
    #[case(
        "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三",
        false
    )]
    fn app_names(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(AppName::parse(raw).is_ok(), ok);
    }

    #[test]
    fn field_validation() {
        assert!(validate_description("abc").is_err());
        assert!(validate_description("abcd").is_ok());
        assert!(validate_description(&"x".repeat(121)).is_err());
        assert!(validate_home_url("https://oa.example.com/home").is_ok());
        assert!(validate_home_url("javascript:alert(1)").is_err());
        assert_eq!(
            validate_redirect_domain("OA.Example.com").unwrap(),
            "oa.example.com"
        );
        assert!(validate_redirect_domain("https://x").is_err());
        assert_eq!(parse_flag("f", 1), Ok(true));
        assert_eq!(parse_flag("f", 2), Err(AppFieldError::Flag("f")));
    }

    #[test]
    fn change_applies_only_given_fields() {
        let mut app = App {
            corp_id: CorpId::generate(),
            agentid: AgentId::FIRST,
            name: AppName::parse("OA").unwrap(),
            description: String::new(),
            all_visible: true,
            closed: false,
            home_url: String::new(),
            redirect_domain: String::new(),
            report_location: false,
            report_enter: false,
            created_at: 0,
        };
        let change = AppSettingsChange {
            report_enter: Some(true),
            ..Default::default()
        };
        change.apply_to(&mut app);
        assert!(app.report_enter);
        assert_eq!(app.name.as_str(), "OA");
    }
}
