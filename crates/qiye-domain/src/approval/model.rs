//! Identifiers of the approval engine. Each is validated once, at the edge,
//! by its `parse`; code holding one knows it is well formed.

use std::fmt;

/// Why an approval identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    /// Which identifier.
    pub kind: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

fn check_token(raw: &str, kind: &'static str, max: usize, extra: &[u8]) -> Result<(), IdError> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > max {
        return Err(IdError {
            kind,
            reason: "wrong length",
        });
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(b))
    {
        return Err(IdError {
            kind,
            reason: "unexpected character",
        });
    }
    Ok(())
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $extra:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates an identifier from outside.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                check_token(raw, $kind, $max, $extra)?;
                Ok(Self(raw.to_string()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

text_id!(
    /// A template's id (WeCom's are about 40 letters and digits).
    TemplateId, "template_id", 64, b"_-"
);
text_id!(
    /// A control's id, unique within its template; WeCom's shape is
    /// `Control-NN` (`Text-01`). A `.` is not allowed: formulas use it to
    /// name a table column (`Table-01.Money-02`).
    ControlId, "control id", 64, b"_-"
);
text_id!(
    /// A flow node's key, stable across template versions.
    NodeKey, "node key", 64, b"_-"
);
text_id!(
    /// The client's key for one action; a repeated key is a retry.
    IdempotencyKey, "idempotency key", 128, b"_-.:"
);

/// An instance's number, WeCom's `sp_no`: the date and a sequence, all
/// digits (`201909270001`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpNo(String);

impl SpNo {
    /// Validates an `sp_no` from outside: 1 to 32 digits.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() || raw.len() > 32 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError {
                kind: "sp_no",
                reason: "must be 1 to 32 digits",
            });
        }
        Ok(Self(raw.to_string()))
    }

    /// The number for a day (`YYYYMMDD`) and the day's sequence, as WeCom
    /// shapes them: `20190927` and 1 give `201909270001`.
    pub fn for_day(yyyymmdd: u32, seq: u32) -> Self {
        Self(format!("{yyyymmdd:08}{seq:04}"))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SpNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A template version: 1 for the first publication, then 2, 3, ...
/// An instance keeps the version it started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateVersion(pub u32);

/// One activation of a node in an instance (a node reached twice, e.g.
/// after a return, has two). Numbered 1, 2, ... per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActivationId(pub u32);

/// One participant's record in an activation (WeCom's `sub_node`).
/// Numbered 1, 2, ... per instance; every action names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);

/// Text in one language (`{text, lang}`); WeCom writes `zh_CN`, `en`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangText {
    /// The text.
    pub text: String,
    /// The language tag.
    pub lang: String,
}

impl LangText {
    /// Text in Simplified Chinese, the default language.
    pub fn zh(text: &str) -> Self {
        Self {
            text: text.to_string(),
            lang: "zh_CN".to_string(),
        }
    }
}

/// The text to show for a list of translations: the `zh_CN` one, else the
/// first, else empty.
pub fn display_text(texts: &[LangText]) -> &str {
    texts
        .iter()
        .find(|t| t.lang == "zh_CN")
        .or_else(|| texts.first())
        .map_or("", |t| t.text.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("Text-01", true)]
    #[case("Table_2", true)]
    #[case("Table.01", false)]
    #[case("", false)]
    #[case("has space", false)]
    fn control_ids(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(ControlId::parse(raw).is_ok(), ok);
    }

    #[test]
    fn sp_no_shape() {
        assert_eq!(SpNo::for_day(20190927, 1).as_str(), "201909270001");
        assert!(SpNo::parse("201909270001").is_ok());
        assert!(SpNo::parse("2019x").is_err());
    }

    #[test]
    fn display_text_prefers_chinese() {
        let t = vec![
            LangText {
                text: "Amount".into(),
                lang: "en".into(),
            },
            LangText::zh("金额"),
        ];
        assert_eq!(display_text(&t), "金额");
        assert_eq!(display_text(&t[..1]), "Amount");
        assert_eq!(display_text(&[]), "");
    }
}
