//! Secrets, access-token strings and one-time passwords: how they are made
//! and how they are kept. Secrets are stored only as SHA-256 digests (they are
//! long random strings, so a fast digest is enough); they are shown once, when
//! created or rotated.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// Characters WeCom uses in secrets and tokens.
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random_url_safe(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(URL_SAFE[rng.random_range(0..URL_SAFE.len())]))
        .collect()
}

/// A plaintext secret (`corpsecret`), shown to its owner once. `Debug` does
/// not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Length of generated secrets (WeCom's are 43 characters).
    pub const LEN: usize = 43;

    /// A fresh random secret.
    pub fn generate() -> Self {
        Self(random_url_safe(Self::LEN))
    }

    /// Wraps a secret presented by a client.
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// The plaintext, for printing once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which the secret is stored and looked up.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The stored form of a [`Secret`]: lower-case hex SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretDigest(String);

impl SecretDigest {
    /// Rebuilds a digest read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An access-token string as handed to clients.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenString(String);

impl TokenString {
    /// Length of generated tokens (WeCom allows up to 512 bytes).
    pub const LEN: usize = 64;

    /// A fresh random token.
    pub fn generate() -> Self {
        Self(random_url_safe(Self::LEN))
    }

    /// Wraps a token presented by a client or read from storage.
    pub fn from_raw(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to correlate in logs, not enough to use.
        write!(f, "TokenString({}…)", self.0.get(..6).unwrap_or(""))
    }
}

/// A one-time password for a freshly created administrator. `Debug` does not
/// print it.
#[derive(Clone)]
pub struct OneTimePassword(String);

impl OneTimePassword {
    /// A fresh 16-character password.
    pub fn generate() -> Self {
        Self(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(16)
                .map(char::from)
                .collect(),
        )
    }

    /// The plaintext, shown once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimePassword(<redacted>)")
    }
}

/// A password hash in PHC string format (the hashing itself is done outside
/// the domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_digest_stably() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), Secret::LEN);
        assert_eq!(a.digest(), Secret::presented(a.expose()).digest());
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().as_str().len(), 64);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = Secret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
        let p = OneTimePassword::generate();
        assert!(!format!("{p:?}").contains(p.expose()));
        let t = TokenString::generate();
        assert!(!format!("{t:?}").contains(t.as_str()));
    }
}
