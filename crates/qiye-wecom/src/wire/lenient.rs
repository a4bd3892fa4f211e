//! Deserializers that accept what real clients send: integers as JSON
//! numbers or as numeric strings (`"1000002"`), integral floats (`1.0`),
//! booleans for 0/1 flags.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

struct LenientI64;

impl Visitor<'_> for LenientI64 {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // Only integral values within i64 range; `as` is then exact.
        if v.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&v) {
            #[allow(clippy::cast_possible_truncation)]
            Ok(v as i64)
        } else {
            Err(E::custom("expected an integer"))
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
        Ok(i64::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::custom(format!("expected an integer, got \"{v}\"")))
    }
}

/// An optional integer that may arrive as a number or a numeric string;
/// `null` is `None`. Use with `#[serde(default, deserialize_with = ...)]`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, a string holding one, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(LenientI64).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// An optional list of integers: a JSON array of numbers or numeric
/// strings, or a single number or string (`"1|2"` and `"1,2"` split too);
/// `null` is `None`.
pub fn opt_i64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    let one = |v: &serde_json::Value| -> Result<Vec<i64>, D::Error> {
        match v {
            serde_json::Value::String(s) => s
                .split(['|', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse()
                        .map_err(|_| de::Error::custom(format!("expected an integer, got \"{p}\"")))
                })
                .collect(),
            other => serde_json::from_value::<LenientValue>(other.clone())
                .map(|x| vec![x.0])
                .map_err(de::Error::custom),
        }
    };
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                out.extend(one(item)?);
            }
            Ok(Some(out))
        }
        Some(other) => one(&other).map(Some),
    }
}

struct LenientValue(i64);

impl<'de> serde::Deserialize<'de> for LenientValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientI64).map(LenientValue)
    }
}

/// An optional text that may arrive as a string or a number (a mobile sent
/// as `13800000000`); `null` is `None`.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(de::Error::custom("expected a string")),
    }
}

/// An optional list of texts: an array of strings (or numbers), or one
/// string split on `|` and `,`; `null` is `None`.
pub fn opt_text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    let text = |v: serde_json::Value| -> Result<String, D::Error> {
        match v {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            _ => Err(de::Error::custom("expected a list of strings")),
        }
    };
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(text)
            .collect::<Result<_, _>>()
            .map(Some),
        Some(serde_json::Value::String(s)) => Ok(Some(
            s.split(['|', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        Some(_) => Err(de::Error::custom("expected a list of strings")),
    }
}

/// An optional flag: `true`/`false`, `0`/`1` (as numbers or strings) or
/// `"true"`/`"false"`; `null` is `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(0.0) => Ok(Some(false)),
            Some(1.0) => Ok(Some(true)),
            _ => Err(de::Error::custom("expected true, false, 0 or 1")),
        },
        Some(serde_json::Value::String(s)) => match s.trim() {
            "0" | "false" => Ok(Some(false)),
            "1" | "true" => Ok(Some(true)),
            _ => Err(de::Error::custom(format!(
                "expected true, false, 0 or 1, got \"{s}\""
            ))),
        },
        Some(_) => Err(de::Error::custom("expected true, false, 0 or 1")),
    }
}

/// An optional number with a fraction (`1.3`), as a JSON number or a
/// numeric string; `null` is `None`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected a number")),
        Some(serde_json::Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(de::Error::custom(format!("expected a number, got \"{s}\""))),
        },
        Some(_) => Err(de::Error::custom("expected a number")),
    }
}

/// An optional `|`-joined list kept as text: a string as given, a number
/// as its decimal text (`"toparty": 1`), or an array of strings / numbers
/// joined with `|` (some SDKs send arrays); `null` is `None`.
pub fn opt_pipe_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    let item = |v: serde_json::Value| -> Result<String, D::Error> {
        match v {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            _ => Err(de::Error::custom("expected a string or a list of strings")),
        }
    };
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => {
            let items: Vec<String> = items.into_iter().map(item).collect::<Result<_, _>>()?;
            Ok(Some(items.join("|")))
        }
        Some(other) => item(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "opt_f64")]
        ratio: Option<f64>,
        #[serde(default, deserialize_with = "opt_pipe_text")]
        to: Option<String>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn flags_accept_bools_numbers_and_strings() {
        for (json, want) in [
            (r#"{"flag": true}"#, Some(true)),
            (r#"{"flag": 0}"#, Some(false)),
            (r#"{"flag": "1"}"#, Some(true)),
            (r#"{"flag": "false"}"#, Some(false)),
            (r#"{"flag": null}"#, None),
            ("{}", None),
        ] {
            assert_eq!(probe(json).unwrap().flag, want, "{json}");
        }
        assert!(probe(r#"{"flag": 2}"#).is_err());
        assert!(probe(r#"{"flag": "yes"}"#).is_err());
    }

    #[test]
    fn ratios_accept_numbers_and_strings() {
        assert_eq!(probe(r#"{"ratio": 1.3}"#).unwrap().ratio, Some(1.3));
        assert_eq!(probe(r#"{"ratio": "2"}"#).unwrap().ratio, Some(2.0));
        assert!(probe(r#"{"ratio": "x"}"#).is_err());
        assert!(probe(r#"{"ratio": "NaN"}"#).is_err());
    }

    #[test]
    fn pipe_text_joins_arrays() {
        assert_eq!(
            probe(r#"{"to": "a|b"}"#).unwrap().to.as_deref(),
            Some("a|b")
        );
        assert_eq!(probe(r#"{"to": 1}"#).unwrap().to.as_deref(), Some("1"));
        assert_eq!(
            probe(r#"{"to": ["a", 2]}"#).unwrap().to.as_deref(),
            Some("a|2")
        );
        assert!(probe(r#"{"to": {"a": 1}}"#).is_err());
    }
}
