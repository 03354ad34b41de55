//! The calling convention of template functions: Go parameter types ([`Param`]), the
//! registry ([`FuncMap`]) and the helpers that read checked arguments. The builtins
//! (`funcs`) and the Sprig modules (`sprig`) both register here, so neither imports the
//! other.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::gostring::{self, GoString};
use crate::value::Value;

/// The Go type of a function parameter, which decides what an argument may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}`: anything, nil included.
    Any,
    /// `reflect.Value` (the builtins): anything, but not a missing value.
    Reflect,
    /// `string`.
    Str,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `map[string]interface{}`.
    Map,
    /// `time.Time`.
    Time,
    /// A struct type, by its qualified name (Sprig's `sprig.certificate`).
    Struct(&'static str),
}

impl Param {
    /// Go's spelling of the type, for error messages.
    pub(crate) fn go_type(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Reflect => "reflect.Value",
            Param::Str => "string",
            Param::Int => "int",
            Param::Bool => "bool",
            Param::Map => "map[string]interface {}",
            Param::Time => "time.Time",
            Param::Struct(name) => name,
        }
    }
}

/// A function's result: a value, or a message that must not contain data values.
pub(crate) type FuncResult = Result<Value, String>;

/// An implementation; its arguments were already checked against the signature.
pub(crate) type Impl = fn(Vec<Value>) -> FuncResult;

/// A function with its Go signature.
pub(crate) struct Function {
    pub params: &'static [Param],
    pub variadic: Option<Param>,
    pub call: Impl,
}

/// Every function a template may call, by name.
pub(crate) struct FuncMap {
    functions: HashMap<&'static str, Function>,
}

impl FuncMap {
    /// An empty map.
    pub(crate) fn new() -> Self {
        Self {
            functions: HashMap::new(),
        }
    }

    pub(crate) fn add(
        &mut self,
        name: &'static str,
        params: &'static [Param],
        variadic: Option<Param>,
        call: Impl,
    ) {
        self.functions.insert(
            name,
            Function {
                params,
                variadic,
                call,
            },
        );
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// Whether `name` may appear in a template: implemented, or `and`/`or` (Go's message
    /// otherwise).
    pub(crate) fn check(&self, name: &str) -> Result<(), String> {
        if self.functions.contains_key(name) || name == "and" || name == "or" {
            return Ok(());
        }
        Err(format!("function {name:?} not defined"))
    }

    /// The names of every implemented function, sorted.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .functions
            .keys()
            .copied()
            .chain(["and", "or"])
            .collect();
        names.sort_unstable();
        names
    }
}

/// The string argument at `i`, as the bytes it is (the signature guarantees a string).
pub(crate) fn bytes_at(args: &[Value], i: usize) -> &[u8] {
    match args.get(i) {
        Some(Value::String(s)) => s.as_bytes(),
        _ => &[],
    }
}

/// The string argument at `i` as text, read as Go reads runes (each byte that does not
/// start a valid UTF-8 sequence is U+FFFD): for the functions whose Go code walks runes or
/// parses text.
pub(crate) fn text_at(args: &[Value], i: usize) -> Cow<'_, str> {
    gostring::to_text(bytes_at(args, i))
}

/// A string result.
pub(crate) fn string(s: impl Into<GoString>) -> FuncResult {
    Ok(Value::String(s.into()))
}

/// The argument at `i` as an integer (the signature guarantees it).
pub(crate) fn int_at(args: &[Value], i: usize) -> i64 {
    args.get(i).and_then(Value::as_integer).unwrap_or(0)
}
