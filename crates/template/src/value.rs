//! [`Value`]: the data a template sees, modelled on the Go types that `encoding/json` and
//! Sprig produce (`map[string]interface{}`, `[]interface{}`, `string`, `float64`, `int`,
//! `int64`, `bool`, `nil`), plus the two Sprig results that carry methods: `time.Time` and
//! `*semver.Version`. Strings are Go's: bytes ([`GoString`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::gostring::GoString;
use crate::gotime::GoTime;
use crate::semver::Version;

/// One piece of template data, with the Go type it stands for.
///
/// Numbers keep their Go type because Go's template rules depend on it: `eq 1 1.0` is an
/// error, and JSON numbers are always `float64`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Go's untyped `nil` inside an `interface{}`.
    Nil,
    /// A Go `bool`.
    Bool(bool),
    /// A Go `int` (template integer literals, `len`, Sprig's `int`).
    Int(i64),
    /// A Go `int64` (Sprig arithmetic such as `add`, `int64`).
    Int64(i64),
    /// A Go `float64` (every JSON number).
    Float(f64),
    /// A Go `string`: bytes, UTF-8 or not (a keystore, a DER key, `b64dec` output), which
    /// every function sees and passes on as Go's do.
    String(GoString),
    /// A Go `[]interface{}`.
    List(Vec<Value>),
    /// A Go `map[string]interface{}`; ordered, as Go prints and ranges maps by sorted key.
    Map(BTreeMap<GoString, Value>),
    /// A Go `map[string]string`: every value is a [`Value::String`]. This is the type of
    /// the data ESO hands a template (the fetched keys, [`Value::from_string_map`]) and of
    /// Sprig's `split` results. Go tells the two map types apart: `index` of an absent key
    /// gives `""` here (`<no value>` for the other), and the Sprig functions declared over
    /// `map[string]interface{}` (`keys`, `hasKey`, `get`, `pick`, `set`, …) refuse it.
    StringMap(BTreeMap<GoString, Value>),
    /// A Go `time.Time` (from `now`, `toDate`, `dateModify`).
    Time(Box<GoTime>),
    /// A Go `*semver.Version` (from `semver`); shared, as Go compares pointers with `eq`.
    Semver(Arc<Version>),
    /// A Go integer of another type, as methods return them: `uint64`, `time.Month`,
    /// `time.Weekday`, `time.Duration`.
    Typed(TypedInt),
    /// A Go struct value with exported fields and no methods (Sprig's `certificate`).
    Struct(Box<GoStruct>),
}

/// The Go type of a [`Value::Typed`] integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntType {
    /// `uint64` (semver's `.Major`, `.Minor`, `.Patch`).
    Uint64,
    /// `time.Month`: an `int` that prints as `January`.
    Month,
    /// `time.Weekday`: an `int` that prints as `Sunday`.
    Weekday,
    /// `time.Duration`: an `int64` of nanoseconds that prints as `1h2m3s`.
    Duration,
}

/// An integer with its Go type; a `uint64` keeps its bits in `bits` (read with
/// [`TypedInt::unsigned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypedInt {
    pub(crate) ty: IntType,
    pub(crate) bits: i64,
}

impl TypedInt {
    /// A `uint64`.
    pub(crate) fn uint64(u: u64) -> Value {
        Value::Typed(TypedInt {
            ty: IntType::Uint64,
            bits: u as i64,
        })
    }

    /// A signed integer of type `ty`.
    pub(crate) fn signed(ty: IntType, value: i64) -> Value {
        Value::Typed(TypedInt { ty, bits: value })
    }

    /// The value of a `uint64`.
    pub(crate) fn unsigned(&self) -> u64 {
        self.bits as u64
    }

    pub(crate) fn is_unsigned(&self) -> bool {
        self.ty == IntType::Uint64
    }
}

/// A Go struct: its type name as `%T` prints it and its fields in declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct GoStruct {
    /// The qualified type name, such as `sprig.certificate`.
    pub type_name: &'static str,
    /// The fields, in declaration order.
    pub fields: Vec<(&'static str, Value)>,
}

impl GoStruct {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl Value {
    /// Converts decoded JSON the way Go's `encoding/json` decodes into `interface{}`.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::from(s.as_str()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (GoString::from(k.as_str()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// [`Value::from_json`] taking the JSON apart: its strings move into the [`GoString`]s
    /// (which wipe them) instead of being copied and left behind unwiped.
    pub fn from_json_owned(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::String(s) => Value::String(GoString::from(s)),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from_json_owned).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (GoString::from(k), Value::from_json_owned(v)))
                    .collect(),
            ),
            scalar => Value::from_json(&scalar),
        }
    }

    /// A Go `map[string]string`, the type of an ExternalSecret's template data.
    pub fn from_string_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::StringMap(
            entries
                .into_iter()
                .map(|(k, v)| (GoString::from(k), Value::from(v)))
                .collect(),
        )
    }

    /// Go's name of this value's type, as it appears in type errors and `%!verb(type=…)`.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::StringMap(_) => "map[string]string",
            Value::Time(_) => "time.Time",
            Value::Semver(v) if v.by_value => "semver.Version",
            Value::Semver(_) => "*semver.Version",
            Value::Typed(t) => match t.ty {
                IntType::Uint64 => "uint64",
                IntType::Month => "time.Month",
                IntType::Weekday => "time.Weekday",
                IntType::Duration => "time.Duration",
            },
            Value::Struct(s) => s.type_name,
        }
    }

    /// Go's reflect kind name (`kindOf`).
    pub fn go_kind(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::List(_) => "slice",
            Value::Map(_) | Value::StringMap(_) => "map",
            Value::Time(_) => "struct",
            Value::Semver(v) if v.by_value => "struct",
            Value::Semver(_) => "ptr",
            Value::Typed(t) => match t.ty {
                IntType::Uint64 => "uint64",
                IntType::Month | IntType::Weekday => "int",
                IntType::Duration => "int64",
            },
            Value::Struct(_) => "struct",
            other => other.go_type(),
        }
    }

    /// Go template truthiness: false, 0, nil and empty strings, lists and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) | Value::StringMap(m) => !m.is_empty(),
            // A struct is always true, a non-nil pointer too.
            Value::Time(_) | Value::Semver(_) => true,
            Value::Typed(t) => t.bits != 0,
            // Go's `truth`: a struct is always true.
            Value::Struct(_) => true,
        }
    }

    /// The integer inside an `int`, `int64` or another signed integer type.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            Value::Typed(t) if !t.is_unsigned() => Some(t.bits),
            _ => None,
        }
    }
}

impl Value {
    /// A Go string made of `bytes`, whatever they are.
    pub fn from_bytes(bytes: Vec<u8>) -> Value {
        Value::String(GoString::from(bytes))
    }

    /// A Go string holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Value {
        Value::String(GoString::from(bytes))
    }

    /// The bytes of a string, `None` for any other value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(GoString::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(GoString::from(s))
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        Value::String(GoString::from(bytes))
    }
}

impl From<crate::gostring::TextBuf> for Value {
    fn from(text: crate::gostring::TextBuf) -> Self {
        Value::String(GoString::from(text))
    }
}

impl From<GoString> for Value {
    fn from(s: GoString) -> Self {
        Value::String(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_become_float64() {
        let json: serde_json::Value =
            serde_json::from_str(r#"{"n":1,"l":[true,null]}"#).expect("json");
        let value = Value::from_json(&json);
        let Value::Map(map) = value else {
            panic!("not a map")
        };
        assert_eq!(map[b"n".as_slice()], Value::Float(1.0));
        assert_eq!(
            map[b"l".as_slice()],
            Value::List(vec![Value::Bool(true), Value::Nil])
        );
    }

    #[test]
    fn truthiness_follows_go() {
        assert!(!Value::Float(0.0).is_true());
        assert!(!Value::List(vec![]).is_true());
        assert!(Value::from("x").is_true());
        assert!(!Value::Nil.is_true());
    }
}
