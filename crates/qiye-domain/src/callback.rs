//! Callbacks: where an app wants to be told of events, and the durable
//! outbox events wait in until its URL accepts them.

use crate::ids::{AgentId, CorpId};

/// An app's callback settings (WeCom's "接收消息" URL, Token, EncodingAESKey).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackConfig {
    /// The receiver's URL (http or https).
    pub url: String,
    /// Token used in signatures (1..=32 ASCII letters and digits).
    pub token: String,
    /// EncodingAESKey (43 characters).
    pub aes_key: String,
}

/// Why callback settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackConfigError {
    /// Not an http(s) URL.
    #[error("callback URL must be an http or https URL")]
    Url,
    /// Token not 1..=32 letters and digits.
    #[error("token must be 1 to 32 ASCII letters or digits")]
    Token,
    /// Key not 43 base64 characters.
    #[error("EncodingAESKey must be 43 characters of the base64 alphabet")]
    AesKey,
}

impl CallbackConfig {
    /// Validates the three values.
    pub fn new(url: &str, token: &str, aes_key: &str) -> Result<Self, CallbackConfigError> {
        let url = url.trim();
        let has_host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !has_host || url.len() > 1024 || url.chars().any(char::is_whitespace) {
            return Err(CallbackConfigError::Url);
        }
        if token.is_empty() || token.len() > 32 || !token.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(CallbackConfigError::Token);
        }
        let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
        if aes_key.len() != 43 || !aes_key.chars().all(b64) {
            return Err(CallbackConfigError::AesKey);
        }
        Ok(Self {
            url: url.to_owned(),
            token: token.to_owned(),
            aes_key: aes_key.to_owned(),
        })
    }
}

/// An event to queue for one app, in the same transaction as the change
/// that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The queue: the receiving app, or `None` for the contacts-sync
    /// credential (a batch job it started). Events of one queue are
    /// delivered in order.
    pub agentid: Option<AgentId>,
    /// Event name for the log, e.g. `change_contact/create_user`.
    pub event: String,
    /// Plaintext XML document.
    pub payload: String,
    /// Where to send it when not to the app's configured callback (a batch
    /// job's own `callback{...}`).
    pub destination: Option<CallbackConfig>,
}

/// A queued event, as the deliverer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Position in the outbox; delivery per app follows it.
    pub seq: i64,
    /// The corp.
    pub corp_id: CorpId,
    /// The queue (see [`OutboxEntry::agentid`]).
    pub agentid: Option<AgentId>,
    /// The destination, when not the app's configured callback.
    pub destination: Option<CallbackConfig>,
    /// Event name.
    pub event: String,
    /// Plaintext XML.
    pub payload: String,
    /// When it was queued (ms).
    pub created_at: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was delivered (ms), if it was.
    pub delivered_at: Option<i64>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Delay before retry number `attempts` (1-based): 1 s doubling up to 10
/// minutes.
pub fn retry_delay_ms(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (1000i64 << exp).min(600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let key = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
        assert!(CallbackConfig::new("http://127.0.0.1:9000/cb", "123456", key).is_ok());
        assert_eq!(
            CallbackConfig::new("ftp://x", "t", key),
            Err(CallbackConfigError::Url)
        );
        assert_eq!(
            CallbackConfig::new("http://", "t", key),
            Err(CallbackConfigError::Url)
        );
        assert_eq!(
            CallbackConfig::new("https://a.example/cb", "bad token", key),
            Err(CallbackConfigError::Token)
        );
        assert_eq!(
            CallbackConfig::new("https://a.example/cb", "t", "short"),
            Err(CallbackConfigError::AesKey)
        );
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay_ms(1), 1000);
        assert_eq!(retry_delay_ms(2), 2000);
        assert_eq!(retry_delay_ms(5), 16_000);
        assert_eq!(retry_delay_ms(40), 600_000);
    }
}
