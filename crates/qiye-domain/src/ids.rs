//! Validated identifiers. Each newtype can only be built through `parse` (for
//! input from outside) or a generator, so code holding one knows it is well
//! formed.

use std::fmt;

use rand::Rng;

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A corp id must be `ww` followed by 16 lowercase hex digits.
    #[error("corpid must be 'ww' followed by 16 hex digits")]
    CorpId,
    /// A userid is 1-64 bytes of letters, digits and `_-@.`, starting with a letter or digit.
    #[error("userid must be 1-64 letters, digits or _-@. and start with a letter or digit")]
    UserId,
    /// A department id is a positive 32-bit integer.
    #[error("department id must be a positive 32-bit integer")]
    DeptId,
    /// An agent id is a positive integer.
    #[error("agentid must be a positive integer")]
    AgentId,
}

/// A corp (tenant) identifier, shaped like WeCom's: `ww` + 16 hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorpId(String);

impl CorpId {
    /// Validates an identifier that came from outside. Upper-case hex is
    /// accepted and normalised, since WeCom treats corp ids case-insensitively.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let valid = raw.len() == 18
            && raw.is_ascii()
            && raw[..2].eq_ignore_ascii_case("ww")
            && raw[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(IdError::CorpId)
        }
    }

    /// A fresh random corp id.
    pub fn generate() -> Self {
        let bytes: [u8; 8] = rand::rng().random();
        Self(format!("ww{}", hex::encode(bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CorpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorpId({})", self.0)
    }
}

/// A member's userid, unique per corp, compared case-insensitively (stored
/// in lower case, as WeCom's uniqueness check ignores case).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Validates a userid from outside.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let bytes = raw.as_bytes();
        let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.');
        let valid = (1..=64).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes.iter().all(allowed);
        if valid {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(IdError::UserId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// A department id. Department 1 is the root of every corp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeptId(u32);

impl DeptId {
    /// The root department every corp has.
    pub const ROOT: DeptId = DeptId(1);

    /// Validates a department id from outside.
    pub fn new(raw: i64) -> Result<Self, IdError> {
        u32::try_from(raw)
            .ok()
            .filter(|v| *v >= 1 && i32::try_from(*v).is_ok())
            .map(Self)
            .ok_or(IdError::DeptId)
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for DeptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An app's id inside its corp. Self-built apps are numbered from
/// [`AgentId::FIRST`], as WeCom numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(i64);

impl AgentId {
    /// The first agent id handed out in a corp.
    pub const FIRST: AgentId = AgentId(1_000_002);

    /// Validates an agent id from outside.
    pub fn new(raw: i64) -> Result<Self, IdError> {
        if raw > 0 {
            Ok(Self(raw))
        } else {
            Err(IdError::AgentId)
        }
    }

    /// The numeric value.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The id after this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[test]
    fn generated_corp_ids_parse_back() {
        for _ in 0..100 {
            let id = CorpId::generate();
            assert_eq!(CorpId::parse(id.as_str()).unwrap(), id);
            assert!(id.as_str().starts_with("ww"));
            assert_eq!(id.as_str().len(), 18);
        }
    }

    #[rstest]
    #[case("ww0123456789abcdef", true)]
    #[case("WW0123456789ABCDEF", true)]
    #[case("wx0123456789abcdef", false)]
    #[case("ww0123456789abcde", false)]
    #[case("ww0123456789abcdeg", false)]
    #[case("", false)]
    #[case("ww0123456789abcdef0", false)]
    #[case("中000000000000000", false)]
    #[case("w中0000000000000000", false)]
    fn corp_id_shapes(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(CorpId::parse(raw).is_ok(), ok, "{raw}");
    }

    #[rstest]
    #[case("zhangsan", true)]
    #[case("Zhang.San@corp-1_x", true)]
    #[case("_lead", false)]
    #[case("", false)]
    #[case("has space", false)]
    #[case("中文", false)]
    fn user_id_shapes(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(UserId::parse(raw).is_ok(), ok, "{raw}");
    }

    #[test]
    fn user_id_is_case_insensitive() {
        assert_eq!(
            UserId::parse("ZhangSan").unwrap(),
            UserId::parse("zhangsan").unwrap()
        );
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
    }

    #[rstest]
    #[case(1, true)]
    #[case(0, false)]
    #[case(-5, false)]
    #[case(i64::from(i32::MAX), true)]
    #[case(i64::from(i32::MAX) + 1, false)]
    fn dept_id_range(#[case] raw: i64, #[case] ok: bool) {
        assert_eq!(DeptId::new(raw).is_ok(), ok);
    }

    proptest! {
        #[test]
        fn corp_id_parse_accepts_exactly_ww_hex16(s in "[a-zA-Z0-9]{0,20}") {
            let expected = s.len() == 18
                && s[..2].eq_ignore_ascii_case("ww")
                && s[2..].chars().all(|c| c.is_ascii_hexdigit());
            prop_assert_eq!(CorpId::parse(&s).is_ok(), expected);
        }

        #[test]
        fn user_id_parse_never_panics(s in "\\PC{0,80}") {
            let _ = UserId::parse(&s);
        }
    }
}
