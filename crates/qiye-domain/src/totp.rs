//! The second factor: time-based one-time passwords (RFC 6238 over RFC 4226
//! HOTP, HMAC-SHA-1, 6 digits, 30-second steps, one step of clock skew
//! either way) and single-use recovery codes.
//!
//! A TOTP secret must be kept in the clear (the server recomputes codes from
//! it); recovery codes are stored only as SHA-256 digests. A code is
//! accepted at most once: the store remembers the last step used and refuses
//! a step that is not newer (a replayed code within its window).

use std::fmt;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::secret::SecretDigest;

/// Seconds per step.
pub const TOTP_STEP_SECS: i64 = 30;
/// Digits of a code.
pub const TOTP_DIGITS: u32 = 6;
/// Steps accepted either side of the current one (clock skew).
pub const TOTP_SKEW_STEPS: i64 = 1;
/// Bytes of a generated secret (160 bits, RFC 4226's recommendation).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Recovery codes in a set.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// A member's TOTP secret. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; TOTP_SECRET_BYTES];
        rand::rng().fill(bytes.as_mut_slice());
        Self(bytes)
    }

    /// Wraps raw secret bytes (tests, RFC vectors).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret in RFC 4648 base32 without padding, as authenticator apps
    /// take it (and as it is stored).
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(self.0.len().div_ceil(5) * 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for byte in &self.0 {
            buffer = (buffer << 8) | u32::from(*byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(
                    BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
                ));
            }
        }
        if bits > 0 {
            out.push(char::from(
                BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
            ));
        }
        out
    }

    /// Reads a base32 secret back (case-insensitive, padding and spaces
    /// ignored); `None` when it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.chars().filter(|c| !matches!(c, '=' | ' ')) {
            let upper = c.to_ascii_uppercase() as u8;
            let value = BASE32_ALPHABET.iter().position(|a| *a == upper)? as u32;
            buffer = (buffer << 5) | value;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    /// The HOTP value (RFC 4226) of a counter, with `digits` digits.
    pub fn hotp(&self, counter: u64, digits: u32) -> u32 {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&counter.to_be_bytes());
        let hash = mac.finalize().into_bytes();
        let offset = usize::from(hash[hash.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            hash[offset] & 0x7f,
            hash[offset + 1],
            hash[offset + 2],
            hash[offset + 3],
        ]);
        binary % 10u32.pow(digits)
    }

    /// The step a Unix time falls in.
    pub fn step_of(unix_secs: i64) -> i64 {
        unix_secs.div_euclid(TOTP_STEP_SECS)
    }

    /// The code of a step, zero-padded to [`TOTP_DIGITS`].
    pub fn code_for_step(&self, step: i64) -> String {
        let value = self.hotp(u64::try_from(step).unwrap_or(0), TOTP_DIGITS);
        format!("{value:0width$}", width = TOTP_DIGITS as usize)
    }

    /// The step whose code `code` is, within the skew around `unix_secs`
    /// (checked in constant time per candidate); `None` when it matches none.
    pub fn matching_step(&self, code: &str, unix_secs: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = Self::step_of(unix_secs);
        (now - TOTP_SKEW_STEPS..=now + TOTP_SKEW_STEPS)
            .find(|step| constant_time_eq(self.code_for_step(*step).as_bytes(), code.as_bytes()))
    }

    /// The `otpauth://` URI authenticator apps read from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }
}

/// Compares two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A recovery code as shown to its member once: `xxxx-xxxx`, lower-case
/// letters and digits without look-alikes (about 40 bits).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

impl RecoveryCode {
    /// A fresh set of [`RECOVERY_CODE_COUNT`] codes.
    pub fn generate_set() -> Vec<Self> {
        let mut rng = rand::rng();
        (0..RECOVERY_CODE_COUNT)
            .map(|_| {
                let mut pick = || {
                    (0..4)
                        .map(|_| {
                            char::from(
                                RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())],
                            )
                        })
                        .collect::<String>()
                };
                let first = pick();
                Self(format!("{first}-{}", pick()))
            })
            .collect()
    }

    /// A code a member typed: case, spaces and the dash do not matter.
    pub fn presented(raw: &str) -> Self {
        let chars: String = raw
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if chars.len() == 8 {
            Self(format!("{}-{}", &chars[..4], &chars[4..]))
        } else {
            Self(chars)
        }
    }

    /// The text, for showing once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which it is stored.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::from_stored(hex::encode(Sha256::digest(
            format!("qiye recovery code\0{}", self.0).as_bytes(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the 20-byte ASCII seed, 8 digits).
    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890");
        for (time, expected) in [
            (59_i64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let step = u64::try_from(TotpSecret::step_of(time)).unwrap();
            assert_eq!(secret.hotp(step, 8), expected, "T = {time}");
        }
    }

    /// RFC 4226 appendix D: the six-digit HOTP values of counters 0-9.
    #[test]
    fn rfc4226_hotp_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890");
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(secret.hotp(counter as u64, 6), *value);
        }
    }

    #[test]
    fn codes_match_within_one_step_of_skew() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let step = TotpSecret::step_of(now);
        for offset in [-1, 0, 1] {
            let code = secret.code_for_step(step + offset);
            assert_eq!(secret.matching_step(&code, now), Some(step + offset));
        }
        assert_eq!(
            secret.matching_step(&secret.code_for_step(step + 2), now),
            None
        );
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        assert_eq!(TotpSecret::from_bytes(b"foobar").to_base32(), "MZXW6YTBOI");
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text.to_lowercase()), Some(secret));
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let secret = TotpSecret::from_bytes(b"foobar");
        assert_eq!(
            secret.otpauth_uri("Acme Corp", "alice"),
            "otpauth://totp/Acme%20Corp:alice?secret=MZXW6YTBOI&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised() {
        let set = RecoveryCode::generate_set();
        assert_eq!(set.len(), RECOVERY_CODE_COUNT);
        let first = &set[0];
        assert_eq!(first.expose().len(), 9);
        assert_eq!(first.expose().as_bytes()[4], b'-');
        let typed = first.expose().to_uppercase().replace('-', " ");
        assert_eq!(RecoveryCode::presented(&typed).digest(), first.digest());
        let distinct: std::collections::HashSet<_> = set.iter().map(|c| c.digest()).collect();
        assert_eq!(distinct.len(), RECOVERY_CODE_COUNT);
        assert!(!format!("{first:?}").contains(first.expose()));
    }
}
