//! Password hashing (Argon2id, PHC strings).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use qiye_domain::ports::StoreError;
use qiye_domain::secret::PasswordHash;

/// Hashes a password with Argon2id and a random salt.
pub(crate) fn hash(password: &str) -> Result<PasswordHash, StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| StoreError::Other(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| PasswordHash(h.to_string()))
        .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
}

/// Whether `password` matches `stored`. With no stored hash (unknown
/// member, or one who never had a password) a fixed dummy hash is checked
/// instead, so the answer takes about as long either way; it is then false.
pub(crate) fn verify(password: &str, stored: Option<&PasswordHash>, dummy: &PasswordHash) -> bool {
    use argon2::PasswordVerifier;
    let (phc, real) = match stored {
        Some(hash) => (hash.0.as_str(), true),
        None => (dummy.0.as_str(), false),
    };
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        tracing::error!("stored password hash does not parse");
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// Runs [`verify`] off the async workers (Argon2 takes tens of milliseconds).
pub(crate) async fn verify_blocking(
    password: &str,
    stored: Option<PasswordHash>,
    dummy: PasswordHash,
) -> Result<bool, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify(&password, stored.as_ref(), &dummy))
        .await
        .map_err(|e| StoreError::Other(format!("password check: {e}")))
}

/// Runs [`hash`] off the async workers.
pub(crate) async fn hash_blocking(password: &str) -> Result<PasswordHash, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| StoreError::Other(format!("password hashing: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.0.starts_with("$argon2id$"));
        let parsed = argon2::PasswordHash::new(&a.0).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }

    #[test]
    fn verify_is_false_without_a_stored_hash_even_for_the_dummy_password() {
        let dummy = hash("dummy").unwrap();
        let real = hash("correct horse").unwrap();
        assert!(verify("correct horse", Some(&real), &dummy));
        assert!(!verify("wrong", Some(&real), &dummy));
        assert!(!verify("dummy", None, &dummy));
        assert!(!verify("x", Some(&PasswordHash("garbage".into())), &dummy));
    }
}
