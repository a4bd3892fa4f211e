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
}
