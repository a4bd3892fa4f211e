//! A reader over one JSON object of a message payload that checks each
//! field's type as it is read, names it by its full path in errors
//! (`template_card.button_list[2].key`), and copies what it read into the
//! canonical output: only fields that were read survive, so unknown and
//! legacy fields (`show_cover_pic`) are dropped.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::ErrCode;
use crate::wire::WireError;

/// One object being read.
pub(super) struct Fields<'a> {
    path: String,
    src: Option<&'a Map<String, Value>>,
    out: BTreeMap<String, Value>,
}

/// 40058 with a detail.
pub(super) fn invalid(detail: impl Into<String>) -> WireError {
    WireError::new(ErrCode::InvalidRequestParameter, detail)
}

impl<'a> Fields<'a> {
    /// The object at `path`; `null` counts as `{}`.
    pub(super) fn root(path: &str, value: &'a Value) -> Result<Self, WireError> {
        Self::at(path.to_owned(), value)
    }

    fn at(path: String, value: &'a Value) -> Result<Self, WireError> {
        let src = match value {
            Value::Null => None,
            Value::Object(map) => Some(map),
            _ => return Err(invalid(format!("{path} must be an object"))),
        };
        Ok(Self {
            path,
            src,
            out: BTreeMap::new(),
        })
    }

    /// The full name of this object (`template_card.source`).
    pub(super) fn path(&self) -> &str {
        &self.path
    }

    /// The full name of a field of this object.
    pub(super) fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        match self.src?.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether the field is present (and not `null`).
    pub(super) fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// Puts a value into the output.
    pub(super) fn put(&mut self, key: &str, value: Value) {
        self.out.insert(key.to_owned(), value);
    }

    /// A text field (a number is taken as its decimal text).
    pub(super) fn text(&mut self, key: &str) -> Result<Option<String>, WireError> {
        let text = match self.raw(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(invalid(format!("{} must be a string", self.name(key)))),
        };
        self.put(key, Value::String(text.clone()));
        Ok(Some(text))
    }

    /// A text field that must be present and not blank; `code` otherwise.
    pub(super) fn required_text(&mut self, key: &str, code: ErrCode) -> Result<String, WireError> {
        match self.text(key)? {
            Some(t) if !t.trim().is_empty() => Ok(t),
            _ => Err(WireError::new(
                code,
                format!("{} is required", self.name(key)),
            )),
        }
    }

    /// A text field with a default put in the output when absent.
    pub(super) fn text_or(&mut self, key: &str, default: &str) -> Result<String, WireError> {
        match self.text(key)? {
            Some(t) if !t.trim().is_empty() => Ok(t),
            _ => {
                self.put(key, Value::String(default.to_owned()));
                Ok(default.to_owned())
            }
        }
    }

    /// An integer field (numeric strings and integral floats accepted).
    pub(super) fn int(&mut self, key: &str) -> Result<Option<i64>, WireError> {
        let bad = || invalid(format!("{} must be an integer", self.name(key)));
        let value = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i,
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    i
                }
                _ => return Err(bad()),
            },
            Some(Value::String(s)) => s.trim().parse().map_err(|_| bad())?,
            Some(Value::Bool(b)) => i64::from(*b),
            Some(_) => return Err(bad()),
        };
        self.put(key, Value::from(value));
        Ok(Some(value))
    }

    /// An integer field that must lie in `range` when present.
    pub(super) fn int_in(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, WireError> {
        match self.int(key)? {
            Some(v) if !range.contains(&v) => Err(invalid(format!(
                "{} must be {}-{}, got {v}",
                self.name(key),
                range.start(),
                range.end()
            ))),
            v => Ok(v),
        }
    }

    /// A flag: `true`/`false` or 0/1 (as numbers or strings), written as a
    /// JSON boolean.
    pub(super) fn flag(&mut self, key: &str) -> Result<Option<bool>, WireError> {
        let bad = || invalid(format!("{} must be true or false", self.name(key)));
        let value = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(0.0) => false,
                Some(1.0) => true,
                _ => return Err(bad()),
            },
            Some(Value::String(s)) => match s.trim() {
                "0" | "false" => false,
                "1" | "true" => true,
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        self.put(key, Value::Bool(value));
        Ok(Some(value))
    }

    /// A number with a fraction.
    pub(super) fn float(&mut self, key: &str) -> Result<Option<f64>, WireError> {
        let bad = || invalid(format!("{} must be a number", self.name(key)));
        let value = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
            Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
        };
        let number = serde_json::Number::from_f64(value).ok_or_else(bad)?;
        self.put(key, Value::Number(number));
        Ok(Some(value))
    }

    /// A list of texts (an array of strings or numbers).
    pub(super) fn text_list(&mut self, key: &str) -> Result<Option<Vec<String>>, WireError> {
        let bad = || invalid(format!("{} must be a list of strings", self.name(key)));
        let items = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(bad()),
        };
        self.put(
            key,
            Value::Array(items.iter().cloned().map(Value::String).collect()),
        );
        Ok(Some(items))
    }

    /// A nested object; the caller reads it and puts it back with
    /// [`Fields::put_object`].
    pub(super) fn object(&self, key: &str) -> Result<Option<Fields<'a>>, WireError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => Self::at(self.name(key), v).map(Some),
        }
    }

    /// A nested object, `{}` when absent.
    pub(super) fn object_or_empty(&self, key: &str) -> Result<Fields<'a>, WireError> {
        Ok(self.object(key)?.unwrap_or_else(|| Fields {
            path: self.name(key),
            src: None,
            out: BTreeMap::new(),
        }))
    }

    /// Puts a nested object that was read back into the output.
    pub(super) fn put_object(&mut self, key: &str, child: Fields<'_>) {
        self.put(key, child.finish());
    }

    /// A list of objects; the caller reads each and puts them back with
    /// [`Fields::put_objects`].
    pub(super) fn objects(&self, key: &str) -> Result<Option<Vec<Fields<'a>>>, WireError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Self::at(format!("{}[{i}]", self.name(key)), v))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(format!("{} must be a list", self.name(key)))),
        }
    }

    /// A list of objects whose length must lie in `range` (0 when absent).
    pub(super) fn objects_in(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<Vec<Fields<'a>>, WireError> {
        let items = self.objects(key)?.unwrap_or_default();
        if !range.contains(&items.len()) {
            let name = self.name(key);
            return Err(if items.is_empty() {
                invalid(format!("{name} is required"))
            } else {
                invalid(format!(
                    "{name} must have {}-{} items, got {}",
                    range.start(),
                    range.end(),
                    items.len()
                ))
            });
        }
        Ok(items)
    }

    /// Puts a list of objects that were read back into the output.
    pub(super) fn put_objects(&mut self, key: &str, children: Vec<Fields<'_>>) {
        let items = children.into_iter().map(Fields::finish).collect();
        self.put(key, Value::Array(items));
    }

    /// The canonical object: the fields read, keys sorted.
    pub(super) fn finish(self) -> Value {
        Value::Object(self.out.into_iter().collect())
    }
}

/// 45002 when `text` is longer than `max` bytes.
pub(super) fn max_bytes(name: &str, text: &str, max: usize) -> Result<(), WireError> {
    if text.len() > max {
        return Err(WireError::new(
            ErrCode::MessageTooLong,
            format!("{name} is longer than {max} bytes"),
        ));
    }
    Ok(())
}

/// 45002 when `text` has more than `max` characters.
pub(super) fn max_chars(name: &str, text: &str, max: usize) -> Result<(), WireError> {
    if text.chars().count() > max {
        return Err(WireError::new(
            ErrCode::MessageTooLong,
            format!("{name} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// Whether `id` is a userid: 1-64 of `[A-Za-z0-9_-@.]`.
pub(super) fn is_userid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.'))
}
