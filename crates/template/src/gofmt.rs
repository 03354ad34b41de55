//! Go's `fmt` and `strconv` output for template values: `Sprint`, `Sprintln`, `Sprintf` with
//! the verbs templates use, the shortest float repr of `%v`, and `strconv.Quote`.
//!
//! These format values into *output*, never into error messages. Strings are bytes, as in
//! Go: `%s` copies them, `%q` escapes each invalid byte as `\xNN`, widths and precisions
//! count runes the way Go decodes them.

use zeroize::Zeroizing;

use crate::gostring::{self, GoString, decode_rune};
use crate::value::{GoStruct, IntType, TypedInt, Value};

/// `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> GoString {
    let mut out = Buf::new(usize::MAX);
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        Spec::default().print_value(&mut out, arg, 'v');
        prev_string = is_string;
    }
    out.finish().unwrap_or_default()
}

/// `fmt.Sprintln`: operands always separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> GoString {
    let mut out = Buf::new(usize::MAX);
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        Spec::default().print_value(&mut out, arg, 'v');
    }
    out.push('\n');
    out.finish().unwrap_or_default()
}

/// `fmt.Sprint` of one value (`%v`).
pub fn display(value: &Value) -> GoString {
    let mut out = Buf::new(usize::MAX);
    Spec::default().print_value(&mut out, value, 'v');
    out.finish().unwrap_or_default()
}

/// The `String()` of a value with that method (`time.Time`, `*semver.Version`).
pub fn stringer(value: &Value) -> String {
    match value {
        Value::Time(t) => t.go_string(),
        Value::Semver(v) => v.normalized(),
        Value::Typed(t) => match t.ty {
            IntType::Month => crate::gotime::month_name(t.bits),
            IntType::Weekday => crate::gotime::weekday_name(t.bits),
            IntType::Duration => crate::gotime::format_duration(t.bits),
            IntType::Uint64 => t.unsigned().to_string(),
        },
        other => display(other).to_text().into_owned(),
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
                quote_str(&v.pre),
                quote_str(&v.metadata),
                quote_str(&v.original)
            )
        }
        other => display(other).to_text().into_owned(),
    }
}

/// Go's `fmt` bound on a width, precision or argument index written in a format (`tooLarge`):
/// a larger number makes the verb malformed, as in Go.
const MAX_FORMAT_NUMBER: usize = 1_000_000;

/// `fmt.Sprintf`, following Go's `doPrintf` step by step (flags, argument index, width,
/// precision, verb), so that malformed formats print Go's `%!(NOVERB)`, `%!(BADWIDTH)`,
/// `%!v(BADINDEX)` and friends. The output is built within the active size cap
/// ([`crate::limits`]): a result that would exceed it is an error, before it is allocated.
pub fn sprintf(format: &[u8], args: &[Value]) -> Result<GoString, String> {
    let mut out = Buf::new(crate::limits::max_bytes());
    Printf {
        format,
        args,
        arg_num: 0,
        reordered: false,
        good_arg_num: true,
    }
    .run(&mut out);
    out.finish()
}

/// The state of one `Sprintf` (Go's `pp` fields that `doPrintf` uses).
struct Printf<'a> {
    format: &'a [u8],
    args: &'a [Value],
    arg_num: usize,
    reordered: bool,
    good_arg_num: bool,
}

impl Printf<'_> {
    fn run(&mut self, out: &mut Buf) {
        let end = self.format.len();
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let start = i;
            while i < end && self.format[i] != b'%' {
                i += 1;
            }
            out.push_bytes(&self.format[start..i]);
            if i >= end {
                break;
            }
            i += 1;
            let mut spec = Spec::default();
            while i < end {
                match self.format[i] {
                    b'#' => spec.sharp = true,
                    b'0' => spec.zero = true,
                    b'+' => spec.plus = true,
                    b'-' => spec.minus = true,
                    b' ' => spec.space = true,
                    _ => break,
                }
                i += 1;
            }
            let mut after_index;
            (i, after_index) = self.arg_number(i);
            if i < end && self.format[i] == b'*' {
                i += 1;
                let (width, ok) = self.int_from_arg();
                if !ok {
                    out.push_str("%!(BADWIDTH)");
                }
                // A negative width means left-justified.
                spec.width = ok.then_some(width.unsigned_abs() as usize);
                if width < 0 {
                    spec.minus = true;
                    spec.zero = false;
                }
                after_index = false;
            } else {
                let (width, present, next) = parse_number(self.format, i, end);
                i = next;
                spec.width = present.then_some(width);
                if after_index && present {
                    self.good_arg_num = false;
                }
            }
            if i + 1 < end && self.format[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (i, after_index) = self.arg_number(i);
                if i < end && self.format[i] == b'*' {
                    i += 1;
                    let (prec, ok) = self.int_from_arg();
                    // A negative precision means no precision, and is reported too.
                    spec.prec = (ok && prec >= 0).then_some(prec as usize);
                    if spec.prec.is_none() {
                        out.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (prec, present, next) = parse_number(self.format, i, end);
                    i = next;
                    spec.prec = Some(if present { prec } else { 0 });
                }
            }
            if !after_index {
                (i, _) = self.arg_number(i);
            }
            if i >= end {
                out.push_str("%!(NOVERB)");
                break;
            }
            let (verb, size) = decode_rune(&self.format[i..]);
            i += size;
            self.print_verb(out, spec, verb);
        }
        self.print_extra(out);
    }

    fn print_verb(&mut self, out: &mut Buf, spec: Spec, verb: char) {
        if verb == '%' {
            // A percent sign takes no operand and ignores width and precision.
            out.push('%');
        } else if !self.good_arg_num {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(BADINDEX)");
        } else if let Some(arg) = self.args.get(self.arg_num) {
            self.arg_num += 1;
            spec.for_verb(verb).print_arg(out, arg, verb);
        } else {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(MISSING)");
        }
    }

    /// `%!(EXTRA type=value, …)` for unused operands, unless the format used indexes.
    fn print_extra(&self, out: &mut Buf) {
        if self.reordered || self.arg_num >= self.args.len() {
            return;
        }
        out.push_str("%!(EXTRA ");
        for (i, arg) in self.args[self.arg_num..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match arg {
                Value::Nil => out.push_str("<nil>"),
                other => {
                    out.push_str(other.go_type());
                    out.push('=');
                    Spec::default().print_arg(out, other, 'v');
                }
            }
        }
        out.push(')');
    }

    /// Go's `argNumber`: an explicit `[n]` operand index at `i`; returns the next position
    /// and whether an index was found.
    fn arg_number(&mut self, i: usize) -> (usize, bool) {
        if self.format.get(i) != Some(&b'[') {
            return (i, false);
        }
        self.reordered = true;
        let (index, width, ok) = parse_arg_number(&self.format[i..]);
        if ok && index.is_some_and(|n| n < self.args.len()) {
            self.arg_num = index.unwrap_or(0);
            return (i + width, true);
        }
        self.good_arg_num = false;
        (i + width, ok)
    }

    /// Go's `intFromArg`: the operand for a `*` width or precision, as an int within
    /// [`MAX_FORMAT_NUMBER`]; `ok` is false for anything else.
    fn int_from_arg(&mut self) -> (i64, bool) {
        let Some(arg) = self.args.get(self.arg_num) else {
            return (0, false);
        };
        self.arg_num += 1;
        let number = match arg {
            Value::Int(n) | Value::Int64(n) => Some(*n),
            Value::Typed(t) if t.is_unsigned() => i64::try_from(t.unsigned()).ok(),
            Value::Typed(t) => Some(t.bits),
            _ => None,
        };
        match number {
            Some(n) if n.unsigned_abs() <= MAX_FORMAT_NUMBER as u64 => (n, true),
            _ => (0, false),
        }
    }
}

/// Go's `parsenum`: the decimal number at `start`, whether there was one, and the position
/// after it; a number past [`MAX_FORMAT_NUMBER`] makes the rest of the format unusable (Go
/// returns `end`), which then prints `%!(NOVERB)`.
fn parse_number(format: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut number = 0usize;
    let mut present = false;
    let mut i = start;
    while i < end && format[i].is_ascii_digit() {
        if number > MAX_FORMAT_NUMBER {
            return (0, false, end);
        }
        number = number * 10 + usize::from(format[i] - b'0');
        present = true;
        i += 1;
    }
    (number, present, i)
}

/// Go's `parseArgNumber`: `[n]` at the start of `format` as a 0-based index (`None` for
/// `[0]`), the bytes it spans and whether it was well formed.
fn parse_arg_number(format: &[u8]) -> (Option<usize>, usize, bool) {
    if format.len() < 3 {
        return (None, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (number, ok, next) = parse_number(format, 1, i);
            if !ok || next != i {
                return (None, i + 1, false);
            }
            return (number.checked_sub(1), i + 1, true);
        }
    }
    (None, 1, false)
}

/// An output buffer with a size cap: writes past the cap are dropped and remembered, so a
/// format with a huge width or a long list fails before it allocates.
pub(crate) struct Buf {
    /// A `GoString`, so the output (a value, often) is wiped when it grows and when dropped.
    bytes: GoString,
    max: usize,
    over: bool,
}

impl Buf {
    pub(crate) fn new(max: usize) -> Buf {
        Buf {
            bytes: GoString::new(),
            max,
            over: false,
        }
    }

    fn room_for(&mut self, len: usize) -> bool {
        if self.over || self.bytes.len().saturating_add(len) > self.max {
            self.over = true;
            return false;
        }
        true
    }

    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if self.room_for(bytes.len()) {
            self.bytes.push_bytes(bytes);
        }
    }

    pub(crate) fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    pub(crate) fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// `count` copies of the ASCII byte `b`.
    pub(crate) fn fill(&mut self, b: u8, count: usize) {
        if self.room_for(count) {
            let chunk = [b; 64];
            let mut left = count;
            while left > 0 {
                let now = left.min(chunk.len());
                self.bytes.push_bytes(&chunk[..now]);
                left -= now;
            }
        }
    }

    /// The bytes written, or the size-limit error when the cap was hit.
    pub(crate) fn finish(self) -> Result<GoString, String> {
        let bytes = self.bytes;
        if self.over {
            return Err(crate::limits::reserve(usize::MAX)
                .err()
                .unwrap_or_else(|| "the result is too large".to_owned()));
        }
        Ok(bytes)
    }
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
    /// `%#v`: Go syntax (Go moves `#` here for the verb `v`).
    sharp_v: bool,
    /// `%+v`: struct field names (Go moves `+` here for the verb `v`).
    plus_v: bool,
}

impl Spec {
    /// Go's `doPrintf` for the verb `v`: `#` and `+` become `sharpV` and `plusV`.
    fn for_verb(mut self, verb: char) -> Spec {
        if verb == 'v' {
            self.sharp_v = std::mem::take(&mut self.sharp);
            self.plus_v = std::mem::take(&mut self.plus);
        }
        self
    }

    fn print_arg(&self, out: &mut Buf, arg: &Value, verb: char) {
        if verb == 'T' {
            let name = if let Value::Nil = arg {
                "<nil>"
            } else {
                arg.go_type()
            };
            self.pad(out, name.as_bytes());
            return;
        }
        if verb == 'p' && !matches!(arg, Value::Nil) {
            self.print_pointer(out, arg);
            return;
        }
        if let Value::Nil = arg {
            if verb == 'v' {
                self.pad(out, b"<nil>");
            } else {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(<nil>)");
            }
            return;
        }
        self.print_value(out, arg, verb);
    }

    fn print_value(&self, out: &mut Buf, value: &Value, verb: char) {
        match value {
            // A nil inside a list or map prints bare, whatever the verb and flags, except in
            // Go syntax.
            Value::Nil if self.sharp_v => out.push_str("interface {}(nil)"),
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(out, if *b { b"true" } else { b"false" }),
                _ => self.bad_verb(out, value, verb),
            },
            Value::Int(i) | Value::Int64(i) => self.print_integer(out, value, *i, verb),
            Value::Float(f) => self.print_float(out, value, *f, verb),
            Value::String(s) => self.print_string(out, value, s.as_bytes(), verb),
            Value::List(items) => {
                let (open, separator) = if self.sharp_v {
                    out.push_str(value.go_type());
                    ('{', ", ")
                } else {
                    ('[', " ")
                };
                out.push(open);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    self.print_value(out, item, verb);
                }
                out.push(if self.sharp_v { '}' } else { ']' });
            }
            Value::Map(map) | Value::StringMap(map) => {
                let separator = if self.sharp_v {
                    out.push_str(value.go_type());
                    out.push('{');
                    ", "
                } else {
                    out.push_str("map[");
                    " "
                };
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    self.print_string(out, &Value::String(key.clone()), key.as_bytes(), verb);
                    out.push(':');
                    self.print_value(out, item, verb);
                }
                out.push(if self.sharp_v { '}' } else { ']' });
            }
            Value::Struct(st) => self.print_struct(out, st, verb),
            Value::Time(_) | Value::Semver(_) => self.print_stringer(out, value, verb),
            Value::Typed(t) => self.print_typed(out, value, t, verb),
        }
    }

    /// `time.Time` and `*semver.Version` are `fmt.Stringer`s: the string verbs print
    /// `String()`. Go prints the struct's private fields (or the pointer) for other verbs;
    /// keyward reports a bad verb instead (a documented deviation).
    fn print_stringer(&self, out: &mut Buf, value: &Value, verb: char) {
        if verb == 'v' && self.sharp_v {
            self.pad(out, go_syntax(value).as_bytes());
            return;
        }
        let text = stringer(value);
        match verb {
            'v' | 's' | 'q' | 'x' | 'X' => {
                self.print_string(out, &Value::from(text.as_str()), text.as_bytes(), verb)
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
    fn print_typed(&self, out: &mut Buf, value: &Value, t: &TypedInt, verb: char) {
        let string_verb = matches!(verb, 's' | 'q' | 'x' | 'X') || (verb == 'v' && !self.sharp_v);
        if string_verb && !t.is_unsigned() {
            let text = stringer(value);
            return self.print_string(out, &Value::from(text.as_str()), text.as_bytes(), verb);
        }
        if !t.is_unsigned() {
            return self.print_integer(out, value, t.bits, verb);
        }
        match verb {
            'v' if self.sharp_v => {
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
    fn print_struct(&self, out: &mut Buf, st: &GoStruct, verb: char) {
        let go_syntax = self.sharp_v && verb == 'v';
        if go_syntax {
            out.push_str(st.type_name);
        }
        out.push('{');
        for (i, (name, item)) in st.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(if go_syntax { ", " } else { " " });
            }
            if go_syntax || (self.plus_v && verb == 'v') {
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

    fn print_integer(&self, out: &mut Buf, value: &Value, i: i64, verb: char) {
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
                self.pad(out, c.to_string().as_bytes());
            }
            'q' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                let quoted = if self.plus {
                    quote_rune_ascii(c)
                } else {
                    quote_rune(c)
                };
                self.pad(out, quoted.as_bytes());
            }
            'U' => self.pad(out, self.unicode(i).as_bytes()),
            _ => self.bad_verb(out, value, verb),
        }
    }

    /// `%q` of a string: backquoted under `#` when possible, ASCII-only under `+`.
    fn quote_string(&self, s: &[u8]) -> Vec<u8> {
        if self.sharp && can_backquote(s) {
            return [b"`", s, b"`"].concat();
        }
        if self.plus {
            return quote_ascii(s).into_bytes();
        }
        quote(s).into_bytes()
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
    fn print_pointer(&self, out: &mut Buf, value: &Value) {
        match value {
            Value::List(_) | Value::Map(_) | Value::StringMap(_) | Value::Semver(_) => {
                out.push_str("%!p(address unavailable in keyward)")
            }
            other => self.bad_verb(out, other, 'p'),
        }
    }

    fn fmt_integer(&self, out: &mut Buf, i: i64, base: u32, upper: bool) {
        self.fmt_magnitude(out, i < 0, i.unsigned_abs(), base, upper);
    }

    fn fmt_magnitude(&self, out: &mut Buf, negative: bool, magnitude: u64, base: u32, upper: bool) {
        let digits = match base {
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
        // Leading zeros: up to the precision, or (with the 0 flag) the width less the sign.
        let mut zeros = 0;
        if let Some(prec) = self.prec {
            if prec == 0 && magnitude == 0 {
                // Go prints nothing but the padding.
                out.fill(b' ', self.width.unwrap_or(0));
                return;
            }
            zeros = prec.saturating_sub(digits.len());
        } else if self.zero && !self.minus {
            let target = self.width.unwrap_or(0).saturating_sub(sign.len());
            zeros = target.saturating_sub(digits.len());
        }
        let prefix = match (self.sharp, base) {
            (true, 16) if upper => "0X",
            (true, 16) => "0x",
            (true, 2) => "0b",
            (true, 8) if zeros == 0 && !digits.starts_with('0') => "0",
            _ => "",
        };
        let len = sign.len() + prefix.len() + zeros + digits.len();
        let fill = self.width.unwrap_or(0).saturating_sub(len);
        if !self.minus {
            out.fill(b' ', fill);
        }
        out.push_str(sign);
        out.push_str(prefix);
        out.fill(b'0', zeros);
        out.push_str(&digits);
        if self.minus {
            out.fill(b' ', fill);
        }
    }

    fn print_float(&self, out: &mut Buf, value: &Value, f: f64, verb: char) {
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
        let text = if self.sharp && verb != 'b' && f.is_finite() {
            sharp_float(&text, verb, self.prec)
        } else {
            text
        };
        self.pad_number(out, &text);
    }

    fn pad_number(&self, out: &mut Buf, text: &str) {
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
            out.fill(b'0', width - len);
            out.push_str(digits);
            return;
        }
        Spec {
            zero: false,
            ..self.clone()
        }
        .pad(out, format!("{sign}{digits}").as_bytes());
    }

    fn print_string(&self, out: &mut Buf, value: &Value, s: &[u8], verb: char) {
        match verb {
            'v' if self.sharp_v => self.pad(out, quote(self.truncated(s)).as_bytes()),
            'v' | 's' => self.pad(out, self.truncated(s)),
            // Go's `fmtQ` truncates before quoting: `%.2q` of "héllo" is `"hé"`.
            'q' => self.pad(out, &Zeroizing::new(self.quote_string(self.truncated(s)))),
            'x' | 'X' => self.print_hex_bytes(out, s, verb == 'X'),
            _ => self.bad_verb(out, value, verb),
        }
    }

    /// Go's `truncateString`: at most the precision's count of runes, as `for range` counts
    /// them (each invalid byte one rune).
    fn truncated<'s>(&self, s: &'s [u8]) -> &'s [u8] {
        match self.prec {
            Some(p) => &s[..gostring::runes(s).nth(p).map_or(s.len(), |(i, _, _)| i)],
            None => s,
        }
    }

    /// Go's `fmtSbx`: `%x` of a string, two digits a byte; `#` adds `0x` (before each byte
    /// with the space flag, which also separates them); at most `prec` bytes.
    fn print_hex_bytes(&self, out: &mut Buf, bytes: &[u8], upper: bool) {
        let bytes = &bytes[..self.prec.map_or(bytes.len(), |p| p.min(bytes.len()))];
        let width = self.width.unwrap_or(0);
        if bytes.is_empty() {
            out.fill(b' ', width);
            return;
        }
        let mut encoded = 2 * bytes.len();
        if self.space {
            if self.sharp {
                encoded *= 2;
            }
            encoded += bytes.len() - 1;
        } else if self.sharp {
            encoded += 2;
        }
        let fill = width.saturating_sub(encoded);
        if !self.minus {
            out.fill(if self.zero { b'0' } else { b' ' }, fill);
        }
        let prefix = if upper { "0X" } else { "0x" };
        if self.sharp {
            out.push_str(prefix);
        }
        for (i, b) in bytes.iter().enumerate() {
            if self.space && i > 0 {
                out.push(' ');
                if self.sharp {
                    out.push_str(prefix);
                }
            }
            if upper {
                out.push_str(&format!("{b:02X}"));
            } else {
                out.push_str(&format!("{b:02x}"));
            }
        }
        if self.minus {
            out.fill(b' ', fill);
        }
    }

    /// `%!verb(type=value)`, the value printed with `%v` under the same flags.
    fn bad_verb(&self, out: &mut Buf, value: &Value, verb: char) {
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

    /// Go's `pad`: the width counts runes (`utf8.RuneCount`).
    fn pad(&self, out: &mut Buf, text: &[u8]) {
        let width = self.width.unwrap_or(0);
        let len = if width == 0 {
            0
        } else {
            gostring::rune_count(text)
        };
        if width <= len {
            out.push_bytes(text);
            return;
        }
        let fill = width - len;
        if self.minus {
            out.push_bytes(text);
            out.fill(b' ', fill);
        } else {
            out.fill(if self.zero { b'0' } else { b' ' }, fill);
            out.push_bytes(text);
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

/// More significant decimal digits than any float64 has (767 at most).
const EXACT_DIGITS: usize = 800;

/// More fractional decimal digits than any float64 has (1074 at most, for 2^-1074).
const EXACT_FRACTION_DIGITS: usize = 1100;

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
        // A float64 has at most 767 significant decimal digits: asking for more only adds
        // zeros, which `digit` supplies (and the formatter refuses precisions past u16).
        let significant = significant.min(EXACT_DIGITS);
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

/// Go's `#` flag on a float (`fmt.fmtFloat`): the decimal point is always written, and `%g`,
/// `%v` and `%x` keep trailing zeros up to the precision's count of significant digits (6
/// without a precision): `%#.4v` of 3.25 is `3.250`.
fn sharp_float(text: &str, verb: char, prec: Option<usize>) -> String {
    let (sign, num) = match text.strip_prefix(['-', '+']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        _ => 0,
    };
    let mut has_point = false;
    let mut saw_nonzero = false;
    let mut tail_at = num.len();
    for (i, c) in num.char_indices() {
        match c {
            '.' => has_point = true,
            'p' | 'P' => {
                tail_at = i;
                break;
            }
            'e' | 'E' if verb != 'x' && verb != 'X' => {
                tail_at = i;
                break;
            }
            _ => {
                saw_nonzero |= c != '0';
                if saw_nonzero {
                    digits -= 1;
                }
            }
        }
    }
    let (body, tail) = num.split_at(tail_at);
    let mut out = format!("{sign}{body}");
    if !has_point {
        // A lone leading zero counts once.
        if body == "0" {
            digits -= 1;
        }
        out.push('.');
    }
    for _ in 0..digits.clamp(0, 1 << 16) {
        out.push('0');
    }
    out.push_str(tail);
    out
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
            // Past 1074 fractional digits a float64's expansion is all zeros.
            let exact = (prec as usize).min(EXACT_FRACTION_DIGITS);
            let mut text = format!("{:.*}", exact, f.abs());
            text.extend(std::iter::repeat_n('0', prec as usize - exact));
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

/// `strconv.Quote`: always UTF-8 text, each byte that is not valid UTF-8 as `\xNN`.
pub fn quote(s: &[u8]) -> String {
    quote_with(s, '"')
}

/// `strconv.Quote` of text.
pub fn quote_str(s: &str) -> String {
    quote_with(s.as_bytes(), '"')
}

fn quote_rune(c: char) -> String {
    quote_with(c.to_string().as_bytes(), '\'')
}

/// `strconv.QuoteRuneToASCII`: `quote_rune` with a non-ASCII character escaped.
fn quote_rune_ascii(c: char) -> String {
    if c.is_ascii() {
        return quote_rune(c);
    }
    match c as u32 {
        v @ 0x80..=0xFFFF => format!("'\\u{v:04x}'"),
        v => format!("'\\U{v:08x}'"),
    }
}

/// `strconv.CanBackquote`: valid UTF-8 without control characters but tab, backquote or BOM.
fn can_backquote(s: &[u8]) -> bool {
    !gostring::runes(s).any(|(_, c, width)| {
        gostring::is_invalid(c, width)
            || (c < ' ' && c != '\t')
            || c == '`'
            || c == '\u{7f}'
            || c == '\u{feff}'
    })
}

/// `strconv.QuoteToASCII`: like `quote`, with every non-ASCII character escaped.
fn quote_ascii(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for (i, c, width) in gostring::runes(s) {
        match c as u32 {
            _ if gostring::is_invalid(c, width) => out.push_str(&format!("\\x{:02x}", s[i])),
            0..=0x7F => push_escaped(&mut out, c, '"'),
            v @ 0x80..=0xFFFF => out.push_str(&format!("\\u{v:04x}")),
            v => out.push_str(&format!("\\U{v:08x}")),
        }
    }
    out.push('"');
    out
}

fn quote_with(s: &[u8], delimiter: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(delimiter);
    for (i, c, width) in gostring::runes(s) {
        if gostring::is_invalid(c, width) {
            out.push_str(&format!("\\x{:02x}", s[i]));
        } else {
            push_escaped(&mut out, c, delimiter);
        }
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
            [("b".into(), Value::Float(2.0)), ("a".into(), Value::Nil)]
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
        assert_eq!(
            sprintf(b"%5s|%-4d|%.2f", &args)
                .map(|s| s.to_text().into_owned())
                .as_deref(),
            Ok("   ab|7   |1.50")
        );
        assert_eq!(
            sprintf(b"%d", &[Value::from("x")])
                .map(|s| s.to_text().into_owned())
                .as_deref(),
            Ok("%!d(string=x)")
        );
        assert_eq!(
            sprintf(b"%s %s", &[Value::from("x")])
                .map(|s| s.to_text().into_owned())
                .as_deref(),
            Ok("x %!s(MISSING)")
        );
        assert_eq!(
            sprintf(b"%s", &[Value::from("x"), Value::Int(1)])
                .map(|s| s.to_text().into_owned())
                .as_deref(),
            Ok("x%!(EXTRA int=1)")
        );
        assert_eq!(
            sprintf(
                b"%q|%x|%05d|%t",
                &[
                    Value::from("a\"\n"),
                    Value::Int(255),
                    Value::Int(-42),
                    Value::Bool(true)
                ]
            )
            .map(|s| s.to_text().into_owned())
            .as_deref(),
            Ok("\"a\\\"\\n\"|ff|-0042|true")
        );
    }
}
