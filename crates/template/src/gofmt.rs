//! Go's `fmt` and `strconv` output for template values: `Sprint`, `Sprintln`, `Sprintf` with
//! the verbs templates use, the shortest float repr of `%v`, and `strconv.Quote`.
//!
//! These format values into *output*, never into error messages.

use crate::value::{GoStruct, IntType, TypedInt, Value};

/// `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&display(arg));
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands always separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(display).collect();
    let mut out = parts.join(" ");
    out.push('\n');
    out
}

/// `fmt.Sprint` of one value (`%v`).
pub fn display(value: &Value) -> String {
    let mut out = String::new();
    Spec::default().print_value(&mut out, value, 'v');
    out
}

/// The `String()` of a value with that method (`time.Time`, `*semver.Version`).
pub fn stringer(value: &Value) -> String {
    match value {
        Value::Time(t) => t.go_string(),
        Value::Semver(v) => v.normalized(),
        Value::Typed(t) => match t.ty {
            IntType::Month => crate::gotime::month_name(t.bits),
            IntType::Weekday => crate::gotime::weekday_name(t.bits),
            IntType::Duration => crate::sprig::format_duration(t.bits),
            IntType::Uint64 => t.unsigned().to_string(),
        },
        other => display(other),
    }
}

/// `%#v` of a time (its `GoString`) or of a version (Go syntax for the struct).
fn go_syntax(value: &Value) -> String {
    match value {
        Value::Time(t) => t.go_syntax(),
        Value::Semver(v) => {
            let pointer = if v.by_value { "" } else { "&" };
            format!(
                "{pointer}semver.Version{{major:{:#x}, minor:{:#x}, patch:{:#x}, pre:{}, metadata:{}, original:{}}}",
                v.major,
                v.minor,
                v.patch,
                quote(&v.pre),
                quote(&v.metadata),
                quote(&v.original)
            )
        }
        other => display(other),
    }
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut reordered = false;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, flag)) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars, args, &mut next_arg);
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            spec.prec = Some(read_number(&mut chars, args, &mut next_arg).unwrap_or(0));
        }
        if chars.peek().map(|&(_, c)| c) == Some('[') {
            chars.next();
            let index = read_number(&mut chars, &[], &mut 0);
            if chars.peek().map(|&(_, c)| c) == Some(']') {
                chars.next();
            }
            reordered = true;
            match index {
                Some(n) if n >= 1 && n <= args.len() => next_arg = n - 1,
                _ => {
                    let verb = chars.next().map_or('?', |(_, c)| c);
                    out.push_str(&format!("%!{verb}(BADINDEX)"));
                    continue;
                }
            }
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => {
                next_arg += 1;
                spec.print_arg(&mut out, arg, verb);
            }
            None => {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(MISSING)");
            }
        }
    }
    if !reordered && next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| match a {
                Value::Nil => "<nil>".to_owned(),
                other => format!("{}={}", other.go_type(), display(other)),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn read_number(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    args: &[Value],
    next_arg: &mut usize,
) -> Option<usize> {
    if chars.peek().map(|&(_, c)| c) == Some('*') {
        chars.next();
        let width = args.get(*next_arg).and_then(Value::as_integer);
        *next_arg += 1;
        return width.and_then(|w| usize::try_from(w).ok());
    }
    let mut number: Option<usize> = None;
    while let Some(&(_, c)) = chars.peek() {
        let Some(d) = c.to_digit(10) else { break };
        number = Some(
            number
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d as usize),
        );
        chars.next();
    }
    number
}

/// The flags, width and precision of one verb.
#[derive(Clone, Debug, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    fn print_arg(&self, out: &mut String, arg: &Value, verb: char) {
        if verb == 'T' {
            let name = if let Value::Nil = arg {
                "<nil>"
            } else {
                arg.go_type()
            };
            self.pad(out, name);
            return;
        }
        if verb == 'p' && !matches!(arg, Value::Nil) {
            self.print_pointer(out, arg);
            return;
        }
        if let Value::Nil = arg {
            if verb == 'v' {
                self.pad(out, "<nil>");
            } else {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(<nil>)");
            }
            return;
        }
        self.print_value(out, arg, verb);
    }

    fn print_value(&self, out: &mut String, value: &Value, verb: char) {
        match value {
            // A nil inside a list or map prints bare, whatever the verb and flags.
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(out, if *b { "true" } else { "false" }),
                _ => self.bad_verb(out, value, verb),
            },
            Value::Int(i) | Value::Int64(i) => self.print_integer(out, value, *i, verb),
            Value::Float(f) => self.print_float(out, value, *f, verb),
            Value::String(s) => self.print_string(out, value, s, verb),
            // keyward renders to text: binary strings print with U+FFFD replacements.
            Value::Bytes(b) => {
                let text = String::from_utf8_lossy(b);
                self.print_string(out, value, &text, verb)
            }
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.print_value(out, item, verb);
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push_str("map[");
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.print_string(out, &Value::String(key.clone()), key, verb);
                    out.push(':');
                    self.print_value(out, item, verb);
                }
                out.push(']');
            }
            Value::Struct(st) => self.print_struct(out, st, verb),
            Value::Time(_) | Value::Semver(_) => self.print_stringer(out, value, verb),
            Value::Typed(t) => self.print_typed(out, value, t, verb),
        }
    }

    /// `time.Time` and `*semver.Version` are `fmt.Stringer`s: the string verbs print
    /// `String()`. Go prints the struct's private fields (or the pointer) for other verbs;
    /// keyward reports a bad verb instead (a documented deviation).
    fn print_stringer(&self, out: &mut String, value: &Value, verb: char) {
        if verb == 'v' && self.sharp {
            self.pad(out, &go_syntax(value));
            return;
        }
        let text = stringer(value);
        match verb {
            'v' | 's' | 'q' | 'x' | 'X' => {
                self.print_string(out, &Value::String(text.clone()), &text, verb)
            }
            _ => {
                out.push_str("%!");
                out.push(verb);
                out.push('(');
                out.push_str(value.go_type());
                out.push('=');
                out.push_str(&text);
                out.push(')');
            }
        }
    }

    /// A typed integer: `time.Month`, `time.Weekday` and `time.Duration` are Stringers for
    /// the string verbs; `%#v` and the integer verbs see the number (`uint64` unsigned).
    fn print_typed(&self, out: &mut String, value: &Value, t: &TypedInt, verb: char) {
        let string_verb = matches!(verb, 's' | 'q' | 'x' | 'X') || (verb == 'v' && !self.sharp);
        if string_verb && !t.is_unsigned() {
            let text = stringer(value);
            return self.print_string(out, &Value::String(text.clone()), &text, verb);
        }
        if !t.is_unsigned() {
            return self.print_integer(out, value, t.bits, verb);
        }
        match verb {
            'v' if self.sharp => {
                let hex = Spec {
                    sharp: true,
                    ..self.clone()
                };
                hex.fmt_magnitude(out, false, t.unsigned(), 16, false)
            }
            'v' | 'd' => self.fmt_magnitude(out, false, t.unsigned(), 10, false),
            'b' => self.fmt_magnitude(out, false, t.unsigned(), 2, false),
            'o' | 'O' => self.fmt_magnitude(out, false, t.unsigned(), 8, false),
            'x' => self.fmt_magnitude(out, false, t.unsigned(), 16, false),
            'X' => self.fmt_magnitude(out, false, t.unsigned(), 16, true),
            _ => self.print_integer(out, value, t.bits, verb),
        }
    }

    /// Go's struct printing: `{a b}`, `{Name:a Name:b}` with `%+v`, and
    /// `pkg.type{Name:a, Name:b}` with `%#v`.
    fn print_struct(&self, out: &mut String, st: &GoStruct, verb: char) {
        let go_syntax = self.sharp && verb == 'v';
        if go_syntax {
            out.push_str(st.type_name);
        }
        out.push('{');
        for (i, (name, item)) in st.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(if go_syntax { ", " } else { " " });
            }
            if go_syntax || (self.plus && verb == 'v') {
                out.push_str(name);
                out.push(':');
            }
            match item {
                // Go syntax shows a string field as a double-quoted literal, i.e. `%q`.
                Value::String(_) if go_syntax => Spec::default().print_value(out, item, 'q'),
                _ => self.print_value(out, item, verb),
            }
        }
        out.push('}');
    }

    fn print_integer(&self, out: &mut String, value: &Value, i: i64, verb: char) {
        match verb {
            'v' | 'd' => self.fmt_integer(out, i, 10, false),
            'b' => self.fmt_integer(out, i, 2, false),
            'o' | 'O' => self.fmt_integer(out, i, 8, false),
            'x' => self.fmt_integer(out, i, 16, false),
            'X' => self.fmt_integer(out, i, 16, true),
            'c' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(out, &c.to_string());
            }
            'q' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(out, &quote_rune(c));
            }
            'U' => self.pad(out, &self.unicode(i)),
            _ => self.bad_verb(out, value, verb),
        }
    }

    /// `%q` of a string: backquoted under `#` when possible, ASCII-only under `+`.
    fn quote_string(&self, s: &str) -> String {
        if self.sharp && can_backquote(s) {
            return format!("`{s}`");
        }
        if self.plus {
            return quote_ascii(s);
        }
        quote(s)
    }

    /// `%U`: `U+` and at least four (or precision) upper-case hex digits of the value as a
    /// uint64; with `#`, the character itself in quotes when it is printable.
    fn unicode(&self, i: i64) -> String {
        let u = i as u64;
        let digits = self.prec.unwrap_or(4).max(4);
        let mut text = format!("U+{u:0digits$X}");
        if self.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && !c.is_control()
            && quote_rune(c).chars().nth(1) != Some('\\')
        {
            text.push_str(&format!(" '{c}'"));
        }
        text
    }

    /// `%p`: Go prints the address of a slice or map, which keyward's values do not have
    /// (they are not references), so it says so; other kinds are a bad verb as in Go.
    fn print_pointer(&self, out: &mut String, value: &Value) {
        match value {
            Value::List(_) | Value::Map(_) | Value::Semver(_) => {
                out.push_str("%!p(address unavailable in keyward)")
            }
            other => self.bad_verb(out, other, 'p'),
        }
    }

    fn fmt_integer(&self, out: &mut String, i: i64, base: u32, upper: bool) {
        self.fmt_magnitude(out, i < 0, i.unsigned_abs(), base, upper);
    }

    fn fmt_magnitude(
        &self,
        out: &mut String,
        negative: bool,
        magnitude: u64,
        base: u32,
        upper: bool,
    ) {
        let mut digits = match base {
            2 => format!("{magnitude:b}"),
            8 => format!("{magnitude:o}"),
            16 if upper => format!("{magnitude:X}"),
            16 => format!("{magnitude:x}"),
            _ => magnitude.to_string(),
        };
        let sign = if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        };
        if let Some(prec) = self.prec {
            if prec == 0 && magnitude == 0 {
                digits.clear();
            }
            while digits.len() < prec {
                digits.insert(0, '0');
            }
        } else if self.zero && !self.minus {
            let target = self.width.unwrap_or(0).saturating_sub(sign.len());
            while digits.len() < target {
                digits.insert(0, '0');
            }
        }
        let prefix = match (self.sharp, base) {
            (true, 16) if upper => "0X",
            (true, 16) => "0x",
            (true, 2) => "0b",
            (true, 8) if !digits.starts_with('0') => "0",
            _ => "",
        };
        let text = format!("{sign}{prefix}{digits}");
        Spec {
            zero: false,
            ..self.clone()
        }
        .pad(out, &text);
    }

    fn print_float(&self, out: &mut String, value: &Value, f: f64, verb: char) {
        let prec = self.prec.map(|p| p as i32);
        let text = match verb {
            'v' | 'g' => format_float(f, 'g', prec.unwrap_or(-1)),
            'G' => format_float(f, 'G', prec.unwrap_or(-1)),
            'f' | 'F' => format_float(f, 'f', prec.unwrap_or(6)),
            'e' | 'E' => format_float(f, verb, prec.unwrap_or(6)),
            'x' | 'X' => hex_float(f, verb, self.prec),
            'b' => binary_float(f),
            _ => {
                self.bad_verb(out, value, verb);
                return;
            }
        };
        self.pad_number(out, &text);
    }

    fn pad_number(&self, out: &mut String, text: &str) {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None if self.plus => ("+", text),
            None if self.space => (" ", text),
            None => ("", text),
        };
        let len = sign.len() + digits.chars().count();
        let width = self.width.unwrap_or(0);
        if self.zero && !self.minus && width > len && !digits.starts_with(['I', 'N']) {
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', width - len));
            out.push_str(digits);
            return;
        }
        Spec {
            zero: false,
            ..self.clone()
        }
        .pad(out, &format!("{sign}{digits}"));
    }

    fn print_string(&self, out: &mut String, value: &Value, s: &str, verb: char) {
        match verb {
            'v' | 's' => {
                let shown: String = match self.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_owned(),
                };
                self.pad(out, &shown);
            }
            'q' => self.pad(out, &self.quote_string(s)),
            'x' | 'X' => {
                let bytes = match self.prec {
                    Some(p) => &s.as_bytes()[..p.min(s.len())],
                    None => s.as_bytes(),
                };
                let hex: Vec<String> = bytes
                    .iter()
                    .map(|b| {
                        if verb == 'x' {
                            format!("{b:02x}")
                        } else {
                            format!("{b:02X}")
                        }
                    })
                    .collect();
                let sep = if self.space { " " } else { "" };
                self.pad(out, &hex.join(sep));
            }
            _ => self.bad_verb(out, value, verb),
        }
    }

    /// `%!verb(type=value)`, the value printed with `%v` under the same flags.
    fn bad_verb(&self, out: &mut String, value: &Value, verb: char) {
        out.push_str("%!");
        out.push(verb);
        out.push('(');
        if *value == Value::Nil {
            out.push_str("<nil>");
        } else {
            out.push_str(value.go_type());
            out.push('=');
            self.print_value(out, value, 'v');
        }
        out.push(')');
    }

    fn pad(&self, out: &mut String, text: &str) {
        let len = text.chars().count();
        let width = self.width.unwrap_or(0);
        if width <= len {
            out.push_str(text);
            return;
        }
        let fill = width - len;
        if self.minus {
            out.push_str(text);
            out.extend(std::iter::repeat_n(' ', fill));
        } else {
            let pad_char = if self.zero { '0' } else { ' ' };
            out.extend(std::iter::repeat_n(pad_char, fill));
            out.push_str(text);
        }
    }
}

/// `strconv.FormatFloat(f, 'b', -1, 64)`: decimal mantissa and binary exponent.
fn binary_float(f: f64) -> String {
    let bits = f.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64;
    let mut mantissa = bits & ((1 << 52) - 1);
    if exponent == 0 {
        exponent = 1;
    } else {
        mantissa |= 1 << 52;
    }
    exponent -= 1023 + 52;
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let exp_sign = if exponent >= 0 { "+" } else { "" };
    format!("{sign}{mantissa}p{exp_sign}{exponent}")
}

/// `strconv.FormatFloat(f, 'x', prec, 64)`: `-0x1.8p+01`.
fn hex_float(f: f64, verb: char, prec: Option<usize>) -> String {
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let bits = f.to_bits();
    let raw_exponent = ((bits >> 52) & 0x7ff) as i64;
    let mut mantissa = bits & ((1 << 52) - 1);
    let mut exponent = raw_exponent - 1023;
    if f == 0.0 {
        exponent = 0;
    } else if raw_exponent == 0 {
        exponent = -1022;
        while mantissa & (1 << 52) == 0 {
            mantissa <<= 1;
            exponent -= 1;
        }
        mantissa &= (1 << 52) - 1;
    }
    let lead: u8 = if f == 0.0 { 0 } else { 1 };
    let mut digits = format!("{mantissa:013x}");
    match prec {
        Some(p) if p < 13 => {
            let full = (u64::from(lead) << 52) | mantissa;
            let shift = 52 - 4 * p as u32;
            let half = 1u64 << (shift - 1);
            let rest = full & ((1u64 << shift) - 1);
            let mut kept = full >> shift;
            if rest > half || (rest == half && kept & 1 == 1) {
                kept += 1;
            }
            let (lead_digit, frac) = if kept >> (4 * p) >= 2 {
                exponent += 1;
                (1, (kept >> 1) & ((1u64 << (4 * p)) - 1))
            } else {
                (kept >> (4 * p), kept & ((1u64 << (4 * p)) - 1))
            };
            digits = if p == 0 {
                String::new()
            } else {
                format!("{frac:0width$x}", width = p)
            };
            return finish_hex(sign, lead_digit as u8, &digits, exponent, verb);
        }
        Some(p) => digits.extend(std::iter::repeat_n('0', p - 13)),
        None => {
            while digits.ends_with('0') {
                digits.pop();
            }
        }
    }
    finish_hex(sign, lead, &digits, exponent, verb)
}

fn finish_hex(sign: &str, lead: u8, digits: &str, exponent: i64, verb: char) -> String {
    let exp_sign = if exponent >= 0 { '+' } else { '-' };
    let magnitude = exponent.unsigned_abs();
    let point = if digits.is_empty() { "" } else { "." };
    let text = format!("{sign}0x{lead}{point}{digits}p{exp_sign}{magnitude:02}");
    if verb == 'X' {
        text.to_uppercase()
    } else {
        text
    }
}

/// Decimal digits of a float and the position of its decimal point, as Go's strconv keeps
/// them: `digits` has no trailing zeros, and the value is `0.digits × 10^point`.
struct Digits {
    digits: Vec<u8>,
    point: i32,
}

impl Digits {
    fn from_exponent_form(text: &str) -> Digits {
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
        let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        let exponent: i32 = exponent.parse().unwrap_or(0);
        if digits.is_empty() {
            return Digits { digits, point: 0 };
        }
        Digits {
            digits,
            point: exponent + 1,
        }
    }

    fn shortest(f: f64) -> Digits {
        Digits::from_exponent_form(&format!("{:e}", f.abs()))
    }

    fn rounded(f: f64, significant: usize) -> Digits {
        Digits::from_exponent_form(&format!("{:.*e}", significant.saturating_sub(1), f.abs()))
    }

    fn digit(&self, i: i32) -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.digits.get(i))
            .map_or('0', |&d| d as char)
    }

    fn format_e(&self, negative: bool, prec: i32, e: char) -> String {
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push(self.digit(0));
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(self.digit(i));
            }
        }
        let exponent = if self.digits.is_empty() {
            0
        } else {
            self.point - 1
        };
        out.push(e);
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
        out
    }

    fn format_f(&self, negative: bool, prec: i32) -> String {
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        if self.point > 0 {
            for i in 0..self.point {
                out.push(self.digit(i));
            }
        } else {
            out.push('0');
        }
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(self.digit(self.point + i - 1));
            }
        }
        out
    }
}

/// `strconv.FormatFloat(f, fmt, prec, 64)` for the formats `e`, `E`, `f`, `g` and `G`.
pub fn format_float(f: f64, fmt: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let negative = f.is_sign_negative();
    match fmt {
        'f' if prec >= 0 => {
            let text = format!("{:.*}", prec as usize, f.abs());
            if negative { format!("-{text}") } else { text }
        }
        'e' | 'E' => {
            let digits = if prec < 0 {
                Digits::shortest(f)
            } else {
                Digits::rounded(f, prec as usize + 1)
            };
            let prec = if prec < 0 {
                digits.digits.len() as i32 - 1
            } else {
                prec
            };
            digits.format_e(negative, prec.max(0), fmt)
        }
        'f' => {
            let digits = Digits::shortest(f);
            let prec = (digits.digits.len() as i32 - digits.point).max(0);
            digits.format_f(negative, prec)
        }
        _ => format_g(f, negative, prec, if fmt == 'G' { 'E' } else { 'e' }),
    }
}

fn format_g(f: f64, negative: bool, prec: i32, e: char) -> String {
    let shortest = prec < 0;
    let digits = if shortest {
        Digits::shortest(f)
    } else {
        Digits::rounded(f, prec.max(1) as usize)
    };
    let nd = digits.digits.len() as i32;
    let mut prec = if shortest { nd } else { prec.max(1) };
    let mut eprec = prec;
    if eprec > nd && nd >= digits.point {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exponent = digits.point - 1;
    if exponent < -4 || exponent >= eprec {
        if prec > nd {
            prec = nd;
        }
        return digits.format_e(negative, (prec - 1).max(0), e);
    }
    if prec > digits.point {
        prec = nd;
    }
    digits.format_f(negative, (prec - digits.point).max(0))
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space,
/// by Unicode general category (unassigned code points are not printable).
pub fn is_go_printable(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    if c == ' ' {
        return true;
    }
    !matches!(
        get_general_category(c),
        G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
            | G::SpaceSeparator
            | G::LineSeparator
            | G::ParagraphSeparator
    )
}

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, '"')
}

fn quote_rune(c: char) -> String {
    quote_with(&c.to_string(), '\'')
}

/// `strconv.CanBackquote`: no control characters but tab, no backquote, no BOM.
fn can_backquote(s: &str) -> bool {
    !s.chars()
        .any(|c| (c < ' ' && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}')
}

/// `strconv.QuoteToASCII`: like `quote`, with every non-ASCII character escaped.
fn quote_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c as u32 {
            0..=0x7F => push_escaped(&mut out, c, '"'),
            v @ 0x80..=0xFFFF => out.push_str(&format!("\\u{v:04x}")),
            v => out.push_str(&format!("\\U{v:08x}")),
        }
    }
    out.push('"');
    out
}

fn quote_with(s: &str, delimiter: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(delimiter);
    for c in s.chars() {
        push_escaped(&mut out, c, delimiter);
    }
    out.push(delimiter);
    out
}

fn push_escaped(out: &mut String, c: char, delimiter: char) {
    if c == delimiter || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_go_printable(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(display(&Value::Float(1.0)), "1");
        assert_eq!(display(&Value::Float(1e21)), "1e+21");
        assert_eq!(display(&Value::Float(1e6)), "1e+06");
        assert_eq!(display(&Value::Float(123456.0)), "123456");
        assert_eq!(display(&Value::Float(0.0001)), "0.0001");
        assert_eq!(display(&Value::Float(0.00001)), "1e-05");
        assert_eq!(display(&Value::Float(-2.5)), "-2.5");
        assert_eq!(format_float(1.23456, 'f', 2), "1.23");
        assert_eq!(format_float(1234.5678, 'e', 3), "1.235e+03");
        assert_eq!(format_float(100.0, 'g', 2), "1e+02");
        assert_eq!(format_float(0.0, 'e', 6), "0.000000e+00");
    }

    #[test]
    fn containers_print_like_go() {
        let map = Value::Map(
            [
                ("b".to_owned(), Value::Float(2.0)),
                ("a".to_owned(), Value::Nil),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(display(&map), "map[a:<nil> b:2]");
        assert_eq!(
            display(&Value::List(vec!["a".into(), Value::Bool(true)])),
            "[a true]"
        );
    }

    #[test]
    fn sprintf_handles_verbs_width_and_mistakes() {
        let args = [Value::from("ab"), Value::Int(7), Value::Float(1.5)];
        assert_eq!(sprintf("%5s|%-4d|%.2f", &args), "   ab|7   |1.50");
        assert_eq!(sprintf("%d", &[Value::from("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s %s", &[Value::from("x")]), "x %!s(MISSING)");
        assert_eq!(
            sprintf("%s", &[Value::from("x"), Value::Int(1)]),
            "x%!(EXTRA int=1)"
        );
        assert_eq!(
            sprintf(
                "%q|%x|%05d|%t",
                &[
                    Value::from("a\"\n"),
                    Value::Int(255),
                    Value::Int(-42),
                    Value::Bool(true)
                ]
            ),
            "\"a\\\"\\n\"|ff|-0042|true"
        );
    }
}
