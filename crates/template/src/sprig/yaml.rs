//! ESO's `toYaml` and `fromYaml`. ESO marshals with sigs.k8s.io/yaml: the value goes through
//! `encoding/json` first and the JSON is then re-emitted by its go-yaml v2 fork. This module
//! reproduces that emitter's choices byte for byte: key order (go-yaml's "natural" sort),
//! scalar styles (plain, single-quoted, double-quoted, literal block), quoting of strings that
//! would read back as another type (YAML 1.1 booleans, numbers, timestamps, base-60 floats)
//! and folding of long scalars at column 80. `fromYaml` lives in [`fromyaml`].

use std::cmp::Ordering;

use zeroize::Zeroizing;

use crate::gofmt;
use crate::gostring::{GoString, TextBuf};
use crate::registry::{FuncMap, Param, bytes_at};
use crate::sprig::encoding::to_json;
use crate::sprig::fromyaml;
use crate::value::Value;

/// go-yaml's preferred line width: longer scalars are folded at spaces past this column.
const BEST_WIDTH: usize = 80;
/// go-yaml's indentation step.
const BEST_INDENT: i32 = 2;
/// Longest scalar go-yaml writes as a simple (`key: value`) mapping key.
const MAX_SIMPLE_KEY: usize = 128;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("toYaml", &[Param::Any], None, |a| {
        Ok(Value::from(to_yaml(&a[0]).unwrap_or_default()))
    });
    map.add("fromYaml", &[Param::Str], None, |a| {
        fromyaml::from_yaml(bytes_at(&a, 0))
    });
}

/// `yaml.Marshal` from sigs.k8s.io/yaml with the final newline trimmed; `None` where
/// `json.Marshal` fails (NaN or infinite numbers).
pub(crate) fn to_yaml(v: &Value) -> Option<GoString> {
    to_json(v, false).ok()?;
    if !readable(v) {
        return None;
    }
    let mut e = Emitter::new();
    e.node(v, -1, Context::Root);
    e.write_indent(-1);
    let mut out = GoString::from(e.out);
    if let Some(last) = out
        .len()
        .checked_sub(1)
        .filter(|&i| out.as_bytes()[i] == b'\n')
    {
        out.truncate(last);
    }
    Some(out)
}

/// Whether go-yaml's reader accepts the JSON text of `v`: `encoding/json` escapes control
/// characters below U+0020 but writes DEL, the C1 controls and U+FFFE/U+FFFF raw, and the
/// reader rejects those, so `yaml.Marshal` fails.
fn readable(v: &Value) -> bool {
    let ok = |s: &str| {
        !s.chars().any(|c| {
            let u = c as u32;
            u == 0x7F || ((0x80..=0x9F).contains(&u) && u != 0x85) || u == 0xFFFE || u == 0xFFFF
        })
    };
    match v {
        Value::String(s) => ok(&s.to_text()),
        Value::List(items) => items.iter().all(readable),
        Value::Map(m) | Value::StringMap(m) => {
            m.iter().all(|(k, v)| ok(&k.to_text()) && readable(v))
        }
        _ => true,
    }
}

/// Where a node sits, which decides indentation and key handling.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Root,
    SequenceItem,
    MappingValue,
    SimpleKey,
    ComplexKey,
}

/// The scalar styles go-yaml chooses between.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The parts of go-yaml's emitter state that shape the output.
struct Emitter {
    /// Wiped as it grows and when dropped: it holds the values being written.
    out: TextBuf,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn new() -> Emitter {
        Emitter {
            out: TextBuf::new(),
            column: 0,
            whitespace: true,
            indention: true,
        }
    }

    fn node(&mut self, v: &Value, indent: i32, ctx: Context) {
        match v {
            Value::Map(m) | Value::StringMap(m) if !m.is_empty() => self.mapping(m, indent),
            Value::List(l) if !l.is_empty() => self.sequence(l, indent, ctx),
            Value::Map(_) | Value::StringMap(_) => self.empty_flow("{", "}"),
            Value::List(_) => self.empty_flow("[", "]"),
            Value::Nil => self.scalar("null", Style::Plain, indent, ctx),
            Value::Bool(b) => {
                self.scalar(if *b { "true" } else { "false" }, Style::Plain, indent, ctx)
            }
            Value::Int(i) | Value::Int64(i) => {
                self.scalar(&i.to_string(), Style::Plain, indent, ctx)
            }
            Value::Float(f) => self.scalar(&yaml_number(*f), Style::Plain, indent, ctx),
            // json.Marshal first: each invalid byte becomes U+FFFD.
            Value::String(s) => self.string(&s.to_text(), indent, ctx),
            // sigs.k8s.io/yaml goes through JSON, where both are strings.
            Value::Time(t) => self.string(&t.rfc3339_nano().unwrap_or_default(), indent, ctx),
            Value::Semver(v) => self.string(&v.normalized(), indent, ctx),
            Value::Typed(t) if t.is_unsigned() => {
                self.scalar(&t.unsigned().to_string(), Style::Plain, indent, ctx)
            }
            Value::Typed(t) => self.scalar(&t.bits.to_string(), Style::Plain, indent, ctx),
            // sigs.k8s.io/yaml goes through JSON, so a struct becomes a mapping of its
            // fields by sorted name.
            Value::Struct(st) => {
                let fields: std::collections::BTreeMap<GoString, Value> = st
                    .fields
                    .iter()
                    .map(|(name, v)| (GoString::from(*name), v.clone()))
                    .collect();
                self.node(&Value::Map(fields), indent, ctx)
            }
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn mapping(&mut self, m: &std::collections::BTreeMap<GoString, Value>, indent: i32) {
        let indent = if indent < 0 { 0 } else { indent + BEST_INDENT };
        // json.Marshal first: each invalid byte of a key becomes U+FFFD.
        let mut entries: Vec<(std::borrow::Cow<'_, str>, &Value)> =
            m.iter().map(|(k, v)| (k.to_text(), v)).collect();
        entries.sort_by(|(a, _), (b, _)| natural_order(a, b));
        for (key, value) in entries {
            self.write_indent(indent);
            let simple = key.len() <= MAX_SIMPLE_KEY && !key.chars().any(is_break);
            if simple {
                self.string(&key, indent, Context::SimpleKey);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.string(&key, indent, Context::ComplexKey);
                self.write_indent(indent);
                self.write_indicator(":", true, false, true);
            }
            self.node(value, indent, Context::MappingValue);
        }
    }

    fn sequence(&mut self, items: &[Value], indent: i32, ctx: Context) {
        let indentless = ctx == Context::MappingValue && !self.indention;
        let indent = if indent < 0 {
            0
        } else if indentless {
            indent
        } else {
            indent + BEST_INDENT
        };
        for item in items {
            self.write_indent(indent);
            self.write_indicator("-", true, false, true);
            self.node(item, indent, Context::SequenceItem);
        }
    }

    fn string(&mut self, s: &str, indent: i32, ctx: Context) {
        let requested = if s.contains('\n') {
            Style::Literal
        } else if resolves_to_string(s) && !is_base60_float(s) {
            Style::Plain
        } else {
            Style::Double
        };
        self.scalar(s, requested, indent, ctx);
    }

    fn scalar(&mut self, s: &str, requested: Style, indent: i32, ctx: Context) {
        let simple_key = ctx == Context::SimpleKey;
        let style = select_style(&analyze(s), requested, simple_key, s.is_empty());
        let indent = if indent < 0 {
            BEST_INDENT
        } else {
            indent + BEST_INDENT
        };
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, indent, allow_breaks),
            Style::Single => self.write_single(s, indent, allow_breaks),
            Style::Double => self.write_double(s, indent, allow_breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self, indent: i32) {
        let indent = usize::try_from(indent).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, text: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in text.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn write_plain(&mut self, s: &str, indent: i32, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, indent: i32, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let inner = i != 0 && i + 1 != chars.len() && chars.get(i + 1) != Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                if c == '\'' {
                    self.put('\'');
                }
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double(&mut self, s: &str, indent: i32, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                for e in double_escape(c).chars() {
                    self.put(e);
                }
                spaces = false;
            } else if c == ' ' {
                let inner = i != 0 && i + 1 != chars.len();
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, s: &str, indent: i32) {
        self.write_indicator("|", true, false, false);
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_indicator("2", false, false, false);
        }
        if let Some(chomp) = chomp_hint(s) {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// The block chomping indicator: `-` without a final line break, `+` with more than one.
fn chomp_hint(s: &str) -> Option<&'static str> {
    let mut rev = s.chars().rev();
    match (rev.next(), rev.next()) {
        (None, _) => Some("-"),
        (Some(last), _) if !is_break(last) => Some("-"),
        (Some(_), None) => Some("+"),
        (Some(_), Some(before)) if is_break(before) => Some("+"),
        _ => None,
    }
}

fn double_escape(c: char) -> String {
    match c {
        '\0' => "\\0".to_owned(),
        '\u{7}' => "\\a".to_owned(),
        '\u{8}' => "\\b".to_owned(),
        '\t' => "\\t".to_owned(),
        '\n' => "\\n".to_owned(),
        '\u{b}' => "\\v".to_owned(),
        '\u{c}' => "\\f".to_owned(),
        '\r' => "\\r".to_owned(),
        '\u{1b}' => "\\e".to_owned(),
        '"' => "\\\"".to_owned(),
        '\\' => "\\\\".to_owned(),
        '\u{85}' => "\\N".to_owned(),
        '\u{a0}' => "\\_".to_owned(),
        '\u{2028}' => "\\L".to_owned(),
        '\u{2029}' => "\\P".to_owned(),
        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
        c => format!("\\U{:08X}", c as u32),
    }
}

/// The `json.Marshal` text of a float as go-yaml re-reads and re-emits it.
fn yaml_number(f: f64) -> String {
    let text = crate::sprig::encoding::json_number(f).unwrap_or_default();
    if let Ok(i) = text.parse::<i64>() {
        return i.to_string();
    }
    if let Ok(u) = text.parse::<u64>() {
        return u.to_string();
    }
    let value = text.parse::<f64>().unwrap_or(f);
    gofmt::format_float(value, 'g', -1)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

/// What go-yaml's `yaml_emitter_analyze_scalar` finds out about a scalar.
#[derive(Default)]
struct Analysis {
    flow_plain: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

#[derive(Default)]
struct Scan {
    flow_indicators: bool,
    block_indicators: bool,
    line_breaks: bool,
    special: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            flow_plain: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let scan = scan(s);
    let mut a = Analysis {
        flow_plain: true,
        block_plain: true,
        single: true,
        block: true,
    };
    if scan.leading_space || scan.leading_break || scan.trailing_space || scan.trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if scan.trailing_space {
        a.block = false;
    }
    if scan.break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
    }
    if scan.space_break || scan.special {
        a = Analysis::default();
    }
    if scan.line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if scan.flow_indicators {
        a.flow_plain = false;
    }
    if scan.block_indicators {
        a.block_plain = false;
    }
    a
}

fn scan(s: &str) -> Scan {
    let chars: Vec<char> = s.chars().collect();
    let mut r = Scan::default();
    if s.starts_with("---") || s.starts_with("...") {
        r.flow_indicators = true;
        r.block_indicators = true;
    }
    let mut preceded_by_ws = true;
    let (mut previous_space, mut previous_break) = (false, false);
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = is_blankz(chars.get(i + 1).copied());
        scan_indicator(&mut r, c, i == 0, preceded_by_ws, followed_by_ws);
        if !is_printable(c) {
            r.special = true;
        }
        if is_break(c) {
            r.line_breaks = true;
        }
        if c == ' ' {
            r.leading_space |= i == 0;
            r.trailing_space |= i == last;
            r.break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if is_break(c) {
            r.leading_break |= i == 0;
            r.trailing_break |= i == last;
            r.space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
        preceded_by_ws = is_blankz(Some(c));
    }
    r
}

fn scan_indicator(r: &mut Scan, c: char, first: bool, preceded_ws: bool, followed_ws: bool) {
    let both = |r: &mut Scan| {
        r.flow_indicators = true;
        r.block_indicators = true;
    };
    if first {
        match c {
            '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
            | '@' | '`' => both(r),
            '?' | ':' => {
                r.flow_indicators = true;
                r.block_indicators |= followed_ws;
            }
            '-' if followed_ws => both(r),
            _ => {}
        }
        return;
    }
    match c {
        ',' | '?' | '[' | ']' | '{' | '}' => r.flow_indicators = true,
        ':' => {
            r.flow_indicators = true;
            r.block_indicators |= followed_ws;
        }
        '#' if preceded_ws => both(r),
        _ => {}
    }
}

fn select_style(a: &Analysis, requested: Style, simple_key: bool, empty: bool) -> Style {
    let mut style = requested;
    if style == Style::Plain && (!a.block_plain || (empty && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block || simple_key) {
        style = Style::Double;
    }
    style
}

/// Whether go-yaml's resolver reads the plain scalar `s` back as a string.
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let hinted = first.is_ascii_digit() || "+-.yYnNtTfFoO~".contains(first);
    if !hinted {
        return true;
    }
    if SPECIAL.contains(&s) {
        return false;
    }
    match first {
        '.' => go_parse_float(s).is_none(),
        c if c.is_ascii_digit() || c == '+' || c == '-' => !resolves_to_number(s),
        _ => true,
    }
}

fn resolves_to_number(s: &str) -> bool {
    if is_timestamp(s) {
        return true;
    }
    // A value's text: built in one buffer of its full size and wiped after.
    let mut plain = Zeroizing::new(String::with_capacity(s.len()));
    plain.extend(s.chars().filter(|&c| c != '_'));
    if go_parse_int(&plain) {
        return true;
    }
    if is_yaml_style_float(&plain) && go_parse_float(&plain).is_some() {
        return true;
    }
    let binary = plain
        .strip_prefix("0b")
        .or_else(|| plain.strip_prefix("-0b"));
    binary.is_some_and(|digits| {
        !digits.is_empty()
            && digits.chars().all(|c| c == '0' || c == '1')
            && u64::from_str_radix(digits, 2).is_ok()
    })
}

/// `strconv.ParseInt(s, 0, 64)` or `strconv.ParseUint(s, 0, 64)` succeeds.
fn go_parse_int(s: &str) -> bool {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = Zeroizing::new(body.to_ascii_lowercase());
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    let Ok(magnitude) = u128::from_str_radix(digits, radix) else {
        return false;
    };
    if negative {
        magnitude <= 1u128 << 63
    } else {
        magnitude <= u128::from(u64::MAX)
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal text, `None` on a syntax or range error.
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['+', '-']);
    if s.len() - body.len() > 1 {
        return None;
    }
    let lower = Zeroizing::new(body.to_ascii_lowercase());
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return Some(0.0);
    }
    let valid = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !valid {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn is_yaml_style_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// go-yaml's timestamp formats: `YYYY-M-D`, optionally followed by a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let Some((month, rest)) = take_number(rest, 2) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((day, rest)) = take_number(rest, 2) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    is_timestamp_time(rest)
}

fn is_timestamp_time(rest: &str) -> bool {
    let (zoned, time) = match rest.as_bytes().first() {
        Some(b'T') | Some(b't') => (true, &rest[1..]),
        Some(b' ') => (false, &rest[1..]),
        _ => return false,
    };
    let Some((hour, t)) = take_number(time, 2) else {
        return false;
    };
    let Some((minute, t)) = t.strip_prefix(':').and_then(|t| take_number(t, 2)) else {
        return false;
    };
    let Some((second, mut t)) = t.strip_prefix(':').and_then(|t| take_number(t, 2)) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    if let Some(frac) = t.strip_prefix('.') {
        let n = frac.chars().take_while(char::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        t = &frac[n..];
    }
    if !zoned {
        return t.is_empty();
    }
    t == "Z" || is_zone_offset(t)
}

fn is_zone_offset(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
}

fn take_number(s: &str, max: usize) -> Option<(u32, &str)> {
    let n = s.chars().take(max).take_while(char::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml's `isBase60Float`: `[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?`.
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let sixties: Vec<&str> = parts.collect();
    head_ok
        && !sixties.is_empty()
        && sixties.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

/// go-yaml's key order: letters after other characters, runs of digits compared by value.
fn natural_order(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if natural_less(a, b) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn natural_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (is_letter(ar[i]), is_letter(br[i]));
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        return digits_less(&ar, &br, i);
    }
    ar.len() < br.len()
}

/// Go's `unicode.IsLetter`: the L general categories (marks such as U+0654 are not letters).
fn is_letter(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
    )
}

fn digits_less(ar: &[char], br: &[char], i: usize) -> bool {
    let (mut an, mut bn) = (0i64, 0i64);
    if ar[i] == '0' || br[i] == '0' {
        for j in (0..i).rev() {
            if !ar[j].is_ascii_digit() {
                break;
            }
            if ar[j] != '0' {
                (an, bn) = (1, 1);
                break;
            }
        }
    }
    let run = |r: &[char], n: &mut i64| {
        let mut k = i;
        while k < r.len() && r[k].is_ascii_digit() {
            *n = n
                .wrapping_mul(10)
                .wrapping_add(i64::from(r[k] as u8 - b'0'));
            k += 1;
        }
        k
    };
    let ai = run(ar, &mut an);
    let bi = run(br, &mut bn);
    if an != bn {
        return an < bn;
    }
    if ai != bi {
        return ai < bi;
    }
    ar[i] < br[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(json: &str) -> String {
        let v = Value::from_json(&serde_json::from_str(json).expect("test JSON"));
        let out = to_yaml(&v).expect("marshals");
        out.as_str().expect("UTF-8").to_owned()
    }

    #[test]
    fn strings_are_quoted_like_go_yaml() {
        assert_eq!(yaml(r#""abc""#), "abc");
        assert_eq!(yaml(r#""""#), r#""""#);
        assert_eq!(yaml(r#""yes""#), r#""yes""#);
        assert_eq!(yaml(r#""a: b""#), "'a: b'");
        assert_eq!(yaml(r#""tab\there""#), r#""tab\there""#);
        assert_eq!(yaml(r#""1:20""#), r#""1:20""#);
        assert_eq!(yaml(r#""2001-01-01""#), r#""2001-01-01""#);
        assert_eq!(yaml(r#""line1\nline2\n\n""#), "|+\n  line1\n  line2\n");
        assert_eq!(yaml(r#"" x\ny""#), "|2-\n   x\n  y");
    }

    #[test]
    fn collections_follow_go_yaml_layout() {
        assert_eq!(
            yaml(r#"{"a10":1,"a9":2,"b":[1,[2,3],{"x":{}}],"c":[]}"#),
            "a9: 2\na10: 1\nb:\n- 1\n- - 2\n  - 3\n- x: {}\nc: []"
        );
        assert_eq!(yaml(r#"{"multi\nkey":1}"#), "? |-\n  multi\n  key\n: 1");
        assert_eq!(yaml("1e20"), "1e+20");
        assert_eq!(yaml("0.000001"), "1e-06");
    }
}
