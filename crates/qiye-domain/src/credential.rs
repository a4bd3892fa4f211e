//! Credentials: which secret a token was obtained with decides what the token
//! may do (WeCom's "principal = corp + app or system app").

use std::fmt;

use crate::ids::{AgentId, CorpId};

/// Which secret of a corp a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// The contacts-sync (通讯录同步) secret: reads and writes the whole directory.
    ContactSync,
    /// A self-built app's secret: limited to the app's visible range.
    App(AgentId),
}

/// A credential key that storage could not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential key '{0}'")]
pub struct UnknownCredentialKey(pub String);

impl CredentialKind {
    /// The stable text key used in storage: `contact` or `app:<agentid>`.
    pub fn storage_key(self) -> String {
        match self {
            CredentialKind::ContactSync => "contact".to_owned(),
            CredentialKind::App(agentid) => format!("app:{agentid}"),
        }
    }

    /// Parses a key written by [`CredentialKind::storage_key`].
    pub fn from_storage_key(key: &str) -> Result<Self, UnknownCredentialKey> {
        if key == "contact" {
            return Ok(CredentialKind::ContactSync);
        }
        key.strip_prefix("app:")
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|n| AgentId::new(n).ok())
            .map(CredentialKind::App)
            .ok_or_else(|| UnknownCredentialKey(key.to_owned()))
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialKind::ContactSync => f.write_str("contacts-sync secret"),
            CredentialKind::App(agentid) => write!(f, "app {agentid}"),
        }
    }
}

/// Who a token acts as: one credential of one corp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The corp the token belongs to; every request it makes is confined to it.
    pub corp_id: CorpId,
    /// The secret the token was obtained with.
    pub credential: CredentialKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_round_trip() {
        for kind in [
            CredentialKind::ContactSync,
            CredentialKind::App(AgentId::FIRST),
        ] {
            assert_eq!(
                CredentialKind::from_storage_key(&kind.storage_key()).unwrap(),
                kind
            );
        }
        assert!(CredentialKind::from_storage_key("app:x").is_err());
        assert!(CredentialKind::from_storage_key("app:-3").is_err());
        assert!(CredentialKind::from_storage_key("root").is_err());
    }
}
