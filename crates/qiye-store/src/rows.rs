//! The shape of each table's rows and their conversion into domain types.
//! Integers and flags are `i64` (flags 0/1) so that both dialects decode them
//! alike through the `Any` driver.

use std::net::IpAddr;

use qiye_domain::app::{App, AppName};
use qiye_domain::audit::{Actor, AuditEntry, AuditRecord, Outcome};
use qiye_domain::corp::{Corp, CorpName};
use qiye_domain::credential::{CredentialKind, Principal};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::StoreError;
use qiye_domain::rate::{CorpRateOverride, RateQuota};
use qiye_domain::secret::TokenString;
use qiye_domain::token::IssuedToken;

/// Stored data that does not parse back: a bug or tampering, never user input.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("corrupt {what} row: {detail}"))
}

/// A row of `corps`.
#[derive(Debug, sqlx::FromRow)]
pub struct CorpRow {
    /// `corp_id`.
    pub corp_id: String,
    /// `name`.
    pub name: String,
    /// `plan`.
    pub plan: String,
    /// `rl_corp_per_minute`.
    pub rl_corp_per_minute: Option<i64>,
    /// `rl_corp_per_hour`.
    pub rl_corp_per_hour: Option<i64>,
    /// `rl_app_per_minute`.
    pub rl_app_per_minute: Option<i64>,
    /// `rl_app_per_hour`.
    pub rl_app_per_hour: Option<i64>,
    /// `created_at`.
    pub created_at: i64,
    /// `require_2fa`.
    pub require_2fa: i64,
    /// `watermark`.
    pub watermark: i64,
}

/// Column list matching [`CorpRow`].
pub const CORP_COLUMNS: &str = "corp_id, name, plan, rl_corp_per_minute, rl_corp_per_hour, rl_app_per_minute, rl_app_per_hour, created_at, require_2fa, watermark";

fn stored_quota(
    per_minute: Option<i64>,
    per_hour: Option<i64>,
) -> Result<Option<RateQuota>, StoreError> {
    match (per_minute, per_hour) {
        (Some(m), Some(h)) => {
            let m = u32::try_from(m).map_err(|e| corrupt("corp", e))?;
            let h = u32::try_from(h).map_err(|e| corrupt("corp", e))?;
            RateQuota::new(m, h)
                .map(Some)
                .map_err(|e| corrupt("corp", e))
        }
        _ => Ok(None),
    }
}

/// The two columns of a quota, as stored (both NULL for "no override").
pub fn quota_columns(quota: Option<RateQuota>) -> (Option<i64>, Option<i64>) {
    match quota {
        Some(q) => (Some(i64::from(q.per_minute)), Some(i64::from(q.per_hour))),
        None => (None, None),
    }
}

impl TryFrom<CorpRow> for Corp {
    type Error = StoreError;

    fn try_from(row: CorpRow) -> Result<Self, StoreError> {
        Ok(Corp {
            id: CorpId::parse(&row.corp_id).map_err(|e| corrupt("corp", e))?,
            name: CorpName::parse(&row.name).map_err(|e| corrupt("corp", e))?,
            plan: row.plan.parse::<Plan>().map_err(|e| corrupt("corp", e))?,
            rate_override: CorpRateOverride {
                corp_per_api: stored_quota(row.rl_corp_per_minute, row.rl_corp_per_hour)?,
                app_per_api: stored_quota(row.rl_app_per_minute, row.rl_app_per_hour)?,
            },
            created_at: row.created_at,
            require_2fa: row.require_2fa != 0,
            watermark: row.watermark != 0,
        })
    }
}

/// A row of `apps`.
#[derive(Debug, sqlx::FromRow)]
pub struct AppRow {
    /// `corp_id`.
    pub corp_id: String,
    /// `agentid`.
    pub agentid: i64,
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `all_visible`.
    pub all_visible: i64,
    /// `closed`.
    pub closed: i64,
    /// `home_url`.
    pub home_url: String,
    /// `redirect_domain`.
    pub redirect_domain: String,
    /// `report_location`.
    pub report_location: i64,
    /// `report_enter`.
    pub report_enter: i64,
    /// `created_at`.
    pub created_at: i64,
}

/// Column list matching [`AppRow`].
pub const APP_COLUMNS: &str = "corp_id, agentid, name, description, all_visible, closed, home_url, \
                               redirect_domain, report_location, report_enter, created_at";

impl TryFrom<AppRow> for App {
    type Error = StoreError;

    fn try_from(row: AppRow) -> Result<Self, StoreError> {
        Ok(App {
            corp_id: CorpId::parse(&row.corp_id).map_err(|e| corrupt("app", e))?,
            agentid: AgentId::new(row.agentid).map_err(|e| corrupt("app", e))?,
            name: AppName::parse(&row.name).map_err(|e| corrupt("app", e))?,
            description: row.description,
            all_visible: row.all_visible != 0,
            closed: row.closed != 0,
            home_url: row.home_url,
            redirect_domain: row.redirect_domain,
            report_location: row.report_location != 0,
            report_enter: row.report_enter != 0,
            created_at: row.created_at,
        })
    }
}

/// A row of `access_tokens`.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    /// `token`.
    pub token: String,
    /// `corp_id`.
    pub corp_id: String,
    /// `credential_key`.
    pub credential_key: String,
    /// `issued_at`.
    pub issued_at: i64,
    /// `expires_at`.
    pub expires_at: i64,
}

/// Column list matching [`TokenRow`].
pub const TOKEN_COLUMNS: &str = "token, corp_id, credential_key, issued_at, expires_at";

impl TryFrom<TokenRow> for IssuedToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(IssuedToken {
            token: TokenString::from_raw(&row.token),
            principal: Principal {
                corp_id: CorpId::parse(&row.corp_id).map_err(|e| corrupt("token", e))?,
                credential: CredentialKind::from_storage_key(&row.credential_key)
                    .map_err(|e| corrupt("token", e))?,
            },
            issued_at: row.issued_at,
            expires_at: row.expires_at,
        })
    }
}

/// A row of `audit_log`.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    /// `seq`.
    pub seq: i64,
    /// `at`.
    pub at: i64,
    /// `corp_id`.
    pub corp_id: String,
    /// `actor_kind`.
    pub actor_kind: String,
    /// `actor_id`.
    pub actor_id: String,
    /// `client_ip`.
    pub client_ip: Option<String>,
    /// `action`.
    pub action: String,
    /// `target`.
    pub target: String,
    /// `result`.
    pub result: String,
}

/// Column list matching [`AuditRow`].
pub const AUDIT_COLUMNS: &str =
    "seq, at, corp_id, actor_kind, actor_id, client_ip, action, target, result";

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let client_ip = match row.client_ip.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<IpAddr>().map_err(|e| corrupt("audit", e))?),
        };
        Ok(AuditEntry {
            seq: row.seq,
            record: AuditRecord {
                at: row.at,
                corp_id: CorpId::parse(&row.corp_id).map_err(|e| corrupt("audit", e))?,
                actor: Actor::from_storage_parts(&row.actor_kind, &row.actor_id)
                    .map_err(|e| corrupt("audit", e))?,
                client_ip,
                action: row.action,
                target: row.target,
                outcome: Outcome::from_storage_text(&row.result),
            },
        })
    }
}

/// The values of an audit record in `audit_log` column order (without `seq`).
pub struct AuditValues {
    /// `at`.
    pub at: i64,
    /// `corp_id`.
    pub corp_id: String,
    /// `actor_kind`.
    pub actor_kind: &'static str,
    /// `actor_id`.
    pub actor_id: String,
    /// `client_ip`.
    pub client_ip: Option<String>,
    /// `action`.
    pub action: String,
    /// `target`.
    pub target: String,
    /// `result`.
    pub result: String,
}

impl From<&AuditRecord> for AuditValues {
    fn from(r: &AuditRecord) -> Self {
        let (actor_kind, actor_id) = r.actor.storage_parts();
        Self {
            at: r.at,
            corp_id: r.corp_id.to_string(),
            actor_kind,
            actor_id,
            client_ip: r.client_ip.map(|ip| ip.to_string()),
            action: r.action.clone(),
            target: r.target.clone(),
            result: r.outcome.storage_text().to_owned(),
        }
    }
}

/// Fails with `NotFound` when an update or delete touched no row.
pub fn expect_one_row(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
