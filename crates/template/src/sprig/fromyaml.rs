//! ESO's `fromYaml`: sigs.k8s.io/yaml's `Unmarshal` into a `map[string]interface{}`, in its
//! three stages.
//!
//! 1. go-yaml v2 reads the bytes ([`read`]): UTF-16 by byte order mark, else UTF-8, and
//!    refuses invalid sequences and control characters with its own messages (`yaml:
//!    invalid leading UTF-8 octet`, `yaml: control characters are not allowed`, …).
//! 2. go-yaml v2 decodes the first document into Go values with its YAML 1.1 resolver
//!    ([`resolve`]): unquoted `y`, `yes`, `on`, `off`, … are booleans, `012` is octal,
//!    `0b101` binary, `1_000` an int, `<<` merges maps, tags (`!!str`, `!!int`, `!!binary`,
//!    …) are checked, and aliases are bounded by its aliasing ratio.
//! 3. sigs.k8s.io/yaml turns that into JSON (map keys become strings; NaN and infinities
//!    fail) and `encoding/json` decodes it into the map (every number a float64).
//!
//! A failure is written under the key `Error`, as ESO does, instead of failing the template.
//! The events come from `yaml-rust2` (a port of libyaml, as go-yaml is); its syntax errors
//! are reported as `the document is not valid YAML`, where go-yaml names the problem.

use std::collections::{BTreeMap, HashMap};

use yaml_rust2::Event;
use yaml_rust2::parser::Parser;
use yaml_rust2::scanner::TScalarStyle;
use zeroize::{Zeroize, Zeroizing};

use crate::gostring::GoString;
use crate::limits;
use crate::sprig::encoding::go_base64_decode;
use crate::value::Value;

const TAG_PREFIX: &str = "tag:yaml.org,2002:";
const STR: &str = "tag:yaml.org,2002:str";
const BOOL: &str = "tag:yaml.org,2002:bool";
const INT: &str = "tag:yaml.org,2002:int";
const FLOAT: &str = "tag:yaml.org,2002:float";
const NULL: &str = "tag:yaml.org,2002:null";
const TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
const BINARY: &str = "tag:yaml.org,2002:binary";
const MERGE: &str = "tag:yaml.org,2002:merge";

/// How deep sequences and maps may nest (go-yaml v3's bound; v2 has none). Decoding recurses,
/// so an unbounded depth could exhaust the template thread's stack.
const MAX_DEPTH: usize = 10_000;

fn too_deep() -> Failure {
    yaml_error(format!("exceeded max depth of {MAX_DEPTH}"))
}

/// `yaml.Unmarshal(bytes, &map[string]interface{}{})` as ESO calls it. `Err` only when a
/// render limit is reached (the template then fails); YAML failures are in the map.
pub(crate) fn from_yaml(bytes: &[u8]) -> Result<Value, String> {
    let mut map = BTreeMap::new();
    match unmarshal(bytes) {
        Ok(Some(json)) => match json {
            Value::Map(m) => map = m,
            Value::Nil => {}
            other => {
                let kind = match other {
                    Value::List(_) => "array",
                    Value::String(_) => "string",
                    Value::Bool(_) => "bool",
                    _ => "number",
                };
                map.insert(
                    "Error".into(),
                    Value::from(format!(
                        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
                    )),
                );
            }
        },
        Ok(None) => {}
        Err(Failure::Limit(message)) => return Err(message),
        Err(Failure::Convert(message)) => {
            map.insert(
                "Error".into(),
                Value::from(format!("error converting YAML to JSON: {message}")),
            );
        }
    }
    Ok(Value::Map(map))
}

/// Why a document did not decode.
#[derive(Debug)]
enum Failure {
    /// go-yaml's or the JSON conversion's message (without sigs.k8s.io/yaml's prefix).
    Convert(String),
    /// A render limit (size or time): the template fails.
    Limit(String),
}

fn yaml_error(problem: impl std::fmt::Display) -> Failure {
    Failure::Convert(format!("yaml: {problem}"))
}

/// The three stages; `None` for an empty stream.
fn unmarshal(bytes: &[u8]) -> Result<Option<Value>, Failure> {
    let text = Zeroizing::new(read(bytes).map_err(yaml_error)?);
    let Some(document) = parse(&text)? else {
        return Ok(None);
    };
    let mut decoder = Decoder::new(&document.nodes);
    let decoded = decoder.document(document.root)?;
    let json = to_json_value(decoded)?;
    check_json_numbers(&json)?;
    Ok(Some(json))
}

/// go-yaml v2's reader: the text of `bytes`, or its problem.
fn read(bytes: &[u8]) -> Result<String, &'static str> {
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return read_utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return read_utf16(rest, false);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut text = String::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let (value, width) = utf8_char(&bytes[pos..])?;
        text.push(allowed(value)?);
        pos += width;
    }
    Ok(text)
}

/// One UTF-8 character as go-yaml's reader decodes it (RFC 3629), with its errors.
fn utf8_char(raw: &[u8]) -> Result<(u32, usize), &'static str> {
    let octet = raw[0];
    let (width, lead) = match octet {
        o if o & 0x80 == 0x00 => (1, o & 0x7F),
        o if o & 0xE0 == 0xC0 => (2, o & 0x1F),
        o if o & 0xF0 == 0xE0 => (3, o & 0x0F),
        o if o & 0xF8 == 0xF0 => (4, o & 0x07),
        _ => return Err("invalid leading UTF-8 octet"),
    };
    if width > raw.len() {
        return Err("incomplete UTF-8 octet sequence");
    }
    let mut value = u32::from(lead);
    for &trailing in &raw[1..width] {
        if trailing & 0xC0 != 0x80 {
            return Err("invalid trailing UTF-8 octet");
        }
        value = (value << 6) + u32::from(trailing & 0x3F);
    }
    let shortest = match width {
        1 => true,
        2 => value >= 0x80,
        3 => value >= 0x800,
        _ => value >= 0x10000,
    };
    if !shortest {
        return Err("invalid length of a UTF-8 sequence");
    }
    if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
        return Err("invalid Unicode character");
    }
    Ok((value, width))
}

/// go-yaml's reader on UTF-16 (after its byte order mark), with its errors.
fn read_utf16(raw: &[u8], little_endian: bool) -> Result<String, &'static str> {
    let unit = |i: usize| {
        let (low, high) = if little_endian {
            (raw[i], raw[i + 1])
        } else {
            (raw[i + 1], raw[i])
        };
        u32::from(low) + (u32::from(high) << 8)
    };
    let mut text = String::with_capacity(raw.len() / 2);
    let mut pos = 0;
    while pos < raw.len() {
        if raw.len() - pos < 2 {
            return Err("incomplete UTF-16 character");
        }
        let mut value = unit(pos);
        if value & 0xFC00 == 0xDC00 {
            return Err("unexpected low surrogate area");
        }
        let mut width = 2;
        if value & 0xFC00 == 0xD800 {
            if raw.len() - pos < 4 {
                return Err("incomplete UTF-16 surrogate pair");
            }
            let low = unit(pos + 2);
            if low & 0xFC00 != 0xDC00 {
                return Err("expected low surrogate area");
            }
            value = 0x10000 + ((value & 0x3FF) << 10) + (low & 0x3FF);
            width = 4;
        }
        text.push(allowed(value)?);
        pos += width;
    }
    Ok(text)
}

/// The characters go-yaml's reader lets through.
fn allowed(value: u32) -> Result<char, &'static str> {
    let ok = matches!(value, 0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    match char::from_u32(value) {
        Some(c) if ok => Ok(c),
        _ => Err("control characters are not allowed"),
    }
}

/// A syntax error as go-yaml words it: the problem without its context, after `line N: `
/// where the problem is past the first line (the 0-based line for the parser's errors, the
/// 1-based for the scanner's). yaml-rust2 is a port of libyaml, as go-yaml is: most
/// problems read the same, and the few it words differently are translated.
fn syntax_error(error: &yaml_rust2::ScanError, text: &str) -> Failure {
    let info = error.info();
    let parser_error = info.starts_with("while parsing");
    let problem = match info.strip_prefix("while ") {
        Some(rest) => rest.split_once(", ").map_or(rest, |(_, problem)| problem),
        None => info,
    };
    // yaml-rust2 counts lines from 1.
    let mut line = error.marker().line().saturating_sub(1);
    let problem = match problem {
        "found unknown anchor" => {
            // go-yaml's parser names the anchor, and gives no line.
            let name: String = text
                .get(error.marker().index()..)
                .unwrap_or("")
                .trim_start_matches('*')
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
                .collect();
            return yaml_error(format!("unknown anchor '{name}' referenced"));
        }
        "found unexpected end of stream" => {
            // go-yaml marks the end of the stream.
            line = text.matches('\n').count();
            problem.to_owned()
        }
        "found a tab" => {
            // yaml-rust2 marks the scalar; go-yaml the tab after it.
            let from = error.marker().index().min(text.len());
            if let Some(tab) = text.get(from..).and_then(|rest| rest.find('\t')) {
                line = text[..from + tab].matches('\n').count();
            }
            "found a tab character that violates indentation".to_owned()
        }
        p if p.starts_with("unexpected character: ") => {
            "found character that cannot start any token".to_owned()
        }
        p if p.starts_with("expected ") => format!("did not find {p}"),
        p => p.to_owned(),
    };
    if line == 0 {
        return yaml_error(problem);
    }
    let shown = if parser_error { line } else { line + 1 };
    yaml_error(format!("line {shown}: {problem}"))
}

/// A node of the first document, as go-yaml's parser builds them.
enum Node {
    Scalar {
        value: String,
        /// The resolved tag (`tag:yaml.org,2002:str`, `!custom`, `!`), empty when none.
        tag: String,
        /// A plain scalar without a tag (or with the non-specific `!`): resolved by content.
        implicit: bool,
    },
    Sequence(Vec<usize>),
    Mapping(Vec<usize>),
    /// An alias, by the index of the node its anchor names.
    Alias(usize),
}

struct Document {
    nodes: Vec<Node>,
    root: usize,
}

impl Drop for Node {
    /// A scalar's text is a value (the reader hands it over as a `String`): wiped.
    fn drop(&mut self) {
        if let Node::Scalar { value, .. } = self {
            value.zeroize();
        }
    }
}

/// The first document's nodes; `None` for a stream without one.
fn parse(text: &str) -> Result<Option<Document>, Failure> {
    let invalid = || yaml_error("unknown anchor referenced");
    let mut parser = Parser::new_from_str(text);
    let mut nodes: Vec<Node> = Vec::new();
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let mut open: Vec<usize> = Vec::new();
    let mut root = None;
    loop {
        let (event, _) = parser.next_token().map_err(|e| syntax_error(&e, text))?;
        let (node, anchor, opens) = match event {
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::SequenceEnd | Event::MappingEnd => {
                open.pop();
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map_or_else(String::new, |t| format!("{}{}", t.handle, t.suffix));
                let implicit = (style == TScalarStyle::Plain && tag.is_empty()) || tag == "!";
                (
                    Node::Scalar {
                        value,
                        tag,
                        implicit,
                    },
                    anchor,
                    false,
                )
            }
            Event::Alias(id) => {
                let target = *anchors.get(&id).ok_or_else(invalid)?;
                (Node::Alias(target), 0, false)
            }
            Event::SequenceStart(anchor, _) => (Node::Sequence(Vec::new()), anchor, true),
            Event::MappingStart(anchor, _) => (Node::Mapping(Vec::new()), anchor, true),
            Event::Nothing | Event::StreamStart | Event::DocumentStart => continue,
        };
        let index = nodes.len();
        nodes.push(node);
        // go-yaml names a node by its anchor before reading its children: an alias inside
        // refers to the node itself.
        if anchor != 0 {
            anchors.insert(anchor, index);
        }
        match open.last().map(|&parent| &mut nodes[parent]) {
            Some(Node::Sequence(children) | Node::Mapping(children)) => children.push(index),
            _ => root = root.or(Some(index)),
        }
        if opens {
            open.push(index);
            if open.len() > MAX_DEPTH {
                return Err(too_deep());
            }
        }
        limits::reserve(nodes.len()).map_err(Failure::Limit)?;
    }
    Ok(root.map(|root| Document { nodes, root }))
}

/// A Go value as go-yaml v2 decodes into `interface{}`.
#[derive(Clone, Debug)]
enum Go {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// A `GoString`: a value, wiped when dropped.
    Str(GoString),
    Seq(Vec<Go>),
    Map(GoMap),
}

/// A `map[interface{}]interface{}`: keys compare as Go compares interfaces.
#[derive(Clone, Debug, Default)]
struct GoMap {
    entries: Vec<(Go, Go)>,
    index: HashMap<KeyIdentity, usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyIdentity {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    Str(Vec<u8>),
}

impl GoMap {
    /// `SetMapIndex`: an equal key is replaced in place (NaN equals nothing).
    fn set(&mut self, key: Go, value: Go) {
        let identity = match &key {
            Go::Nil => Some(KeyIdentity::Nil),
            Go::Bool(b) => Some(KeyIdentity::Bool(*b)),
            Go::Int(i) => Some(KeyIdentity::Int(*i)),
            Go::Uint(u) => Some(KeyIdentity::Uint(*u)),
            // +0 and -0 are the same key in Go.
            Go::Float(f) if !f.is_nan() => Some(KeyIdentity::Float((f + 0.0).to_bits())),
            Go::Str(s) => Some(KeyIdentity::Str(s.as_bytes().to_vec())),
            _ => None,
        };
        match identity.as_ref().and_then(|id| self.index.get(id)) {
            Some(&at) => self.entries[at].1 = value,
            None => {
                if let Some(id) = identity {
                    self.index.insert(id, self.entries.len());
                }
                self.entries.push((key, value));
            }
        }
    }
}

/// go-yaml v2's decoder into `interface{}`.
struct Decoder<'n> {
    nodes: &'n [Node],
    decode_count: usize,
    alias_count: usize,
    alias_depth: usize,
    /// The aliases being expanded (go-yaml refuses an anchor that contains itself).
    expanding: Vec<usize>,
    /// What the decoded values weigh so far, against the render's size cap.
    weight: usize,
    /// How many sequences and maps enclose the node being decoded (aliases included).
    depth: usize,
}

/// go-yaml v2's `allowedAliasRatio`: the share of decoding that may come from aliases.
fn allowed_alias_ratio(decode_count: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    match decode_count {
        n if n <= LOW => 0.99,
        n if n >= HIGH => 0.10,
        n => 0.99 - 0.89 * ((n - LOW) as f64 / (HIGH - LOW) as f64),
    }
}

impl<'n> Decoder<'n> {
    fn new(nodes: &'n [Node]) -> Decoder<'n> {
        Decoder {
            nodes,
            decode_count: 0,
            alias_count: 0,
            alias_depth: 0,
            expanding: Vec::new(),
            weight: 0,
            depth: 0,
        }
    }

    /// The document node counts as one decode, as in go-yaml.
    fn document(&mut self, root: usize) -> Result<Go, Failure> {
        self.count()?;
        self.decode(root)
    }

    fn count(&mut self) -> Result<(), Failure> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err(yaml_error("document contains excessive aliasing"));
        }
        if self.decode_count.is_multiple_of(1024) {
            limits::check_deadline().map_err(Failure::Limit)?;
        }
        Ok(())
    }

    fn weigh(&mut self, bytes: usize) -> Result<(), Failure> {
        self.weight = self.weight.saturating_add(bytes.max(1));
        limits::reserve(self.weight).map_err(Failure::Limit)
    }

    fn decode(&mut self, index: usize) -> Result<Go, Failure> {
        self.count()?;
        match &self.nodes[index] {
            Node::Alias(target) => self.alias(index, *target),
            Node::Scalar {
                value,
                tag,
                implicit,
            } => {
                let decoded = scalar(value, tag, *implicit)?;
                self.weigh(match &decoded {
                    Go::Str(s) => s.len(),
                    _ => 1,
                })?;
                Ok(decoded)
            }
            Node::Sequence(children) => {
                self.weigh(1)?;
                self.enter()?;
                let items = children
                    .iter()
                    .map(|&child| self.decode(child))
                    .collect::<Result<Vec<_>, _>>();
                self.depth -= 1;
                items.map(Go::Seq)
            }
            Node::Mapping(_) => {
                self.weigh(1)?;
                self.enter()?;
                let mut map = GoMap::default();
                let decoded = self.mapping_into(index, &mut map);
                self.depth -= 1;
                decoded.map(|()| Go::Map(map))
            }
        }
    }

    fn enter(&mut self) -> Result<(), Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(())
    }

    fn alias(&mut self, alias: usize, target: usize) -> Result<Go, Failure> {
        if self.expanding.contains(&alias) {
            return Err(yaml_error("anchor value contains itself"));
        }
        self.expanding.push(alias);
        self.alias_depth += 1;
        let decoded = self.decode(target);
        self.alias_depth -= 1;
        self.expanding.pop();
        decoded
    }

    /// go-yaml's `mapping` into an existing map: `<<` merges (the merged values replace
    /// keys set before it, later keys replace merged ones), other keys are set in order.
    fn mapping_into(&mut self, index: usize, map: &mut GoMap) -> Result<(), Failure> {
        let Node::Mapping(children) = &self.nodes[index] else {
            return Err(yaml_error(
                "map merge requires map or sequence of maps as the value",
            ));
        };
        for pair in children.chunks(2) {
            let [key, value] = *pair else {
                break;
            };
            if self.is_merge(key) {
                self.merge(value, map)?;
                continue;
            }
            let key = self.decode(key)?;
            if matches!(key, Go::Seq(_) | Go::Map(_)) {
                return Err(yaml_error("invalid map key"));
            }
            let value = self.decode(value)?;
            map.set(key, value);
        }
        Ok(())
    }

    fn is_merge(&self, index: usize) -> bool {
        matches!(&self.nodes[index], Node::Scalar { value, tag, implicit }
            if value == "<<" && (*implicit || tag == MERGE))
    }

    fn merge(&mut self, index: usize, map: &mut GoMap) -> Result<(), Failure> {
        let want_map = || yaml_error("map merge requires map or sequence of maps as the value");
        match &self.nodes[index] {
            Node::Mapping(_) => {
                self.count()?;
                self.mapping_into(index, map)
            }
            Node::Alias(target) => {
                if !matches!(self.nodes[*target], Node::Mapping(_)) {
                    return Err(want_map());
                }
                self.merge_alias(index, *target, map)
            }
            Node::Sequence(children) => {
                // Earlier maps take precedence: merge from the last.
                for &child in children.iter().rev() {
                    match &self.nodes[child] {
                        Node::Alias(target) if matches!(self.nodes[*target], Node::Mapping(_)) => {
                            self.merge_alias(child, *target, map)?;
                        }
                        Node::Mapping(_) => {
                            self.count()?;
                            self.mapping_into(child, map)?;
                        }
                        _ => return Err(want_map()),
                    }
                }
                Ok(())
            }
            Node::Scalar { .. } => Err(want_map()),
        }
    }

    fn merge_alias(&mut self, alias: usize, target: usize, map: &mut GoMap) -> Result<(), Failure> {
        self.count()?;
        if self.expanding.contains(&alias) {
            return Err(yaml_error("anchor value contains itself"));
        }
        self.expanding.push(alias);
        self.alias_depth += 1;
        let merged = self.count().and_then(|()| self.mapping_into(target, map));
        self.alias_depth -= 1;
        self.expanding.pop();
        merged
    }
}

/// go-yaml's `d.scalar` into `interface{}`.
fn scalar(value: &str, tag: &str, implicit: bool) -> Result<Go, Failure> {
    if tag.is_empty() && !implicit {
        return Ok(Go::Str(GoString::from(value)));
    }
    if tag == BINARY {
        return go_base64_decode(value.as_bytes())
            .map(|bytes| Go::Str(GoString::from(bytes)))
            .map_err(|_| yaml_error("!!binary value contains invalid base64 data"));
    }
    resolve(tag, value)
}

/// The tags go-yaml resolves by content; any other keeps the text as a string.
fn resolvable(tag: &str) -> bool {
    matches!(tag, "" | STR | BOOL | INT | FLOAT | NULL | TIMESTAMP)
}

fn short_tag(tag: &str) -> String {
    match tag.strip_prefix(TAG_PREFIX) {
        Some(rest) => format!("!!{rest}"),
        None => tag.to_owned(),
    }
}

/// go-yaml v2's `resolve`: the YAML 1.1 reading of a scalar, checked against its tag.
fn resolve(tag: &str, value: &str) -> Result<Go, Failure> {
    if !resolvable(tag) {
        return Ok(Go::Str(GoString::from(value)));
    }
    let (rtag, out) = resolve_content(tag, value);
    if tag.is_empty() || tag == rtag || tag == STR {
        return Ok(out);
    }
    if tag == FLOAT
        && let Go::Int(i) = out
    {
        return Ok(Go::Float(i as f64));
    }
    Err(yaml_error(format!(
        "cannot decode {} `{value}` as a {}",
        short_tag(rtag),
        short_tag(tag)
    )))
}

/// What a scalar's content reads as, and that type's tag.
fn resolve_content(tag: &str, value: &str) -> (&'static str, Go) {
    let string = || (STR, Go::Str(GoString::from(value)));
    if tag == STR {
        return string();
    }
    let hint = match value.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return string(),
    };
    if let Some(known) = known_value(value) {
        return known;
    }
    match hint {
        b'.' => match go_parse_float(value) {
            Some(f) => (FLOAT, Go::Float(f)),
            None => string(),
        },
        b'D' | b'S' => {
            if (tag.is_empty() || tag == TIMESTAMP) && is_timestamp(value) {
                // Decoded into interface{}, a timestamp stays its text.
                return (TIMESTAMP, Go::Str(GoString::from(value)));
            }
            number(value).unwrap_or_else(string)
        }
        _ => string(),
    }
}

/// go-yaml v2's table of YAML 1.1 words.
fn known_value(value: &str) -> Option<(&'static str, Go)> {
    Some(match value {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (BOOL, Go::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (BOOL, Go::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (NULL, Go::Nil),
        ".nan" | ".NaN" | ".NAN" => (FLOAT, Go::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => (FLOAT, Go::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => (FLOAT, Go::Float(f64::NEG_INFINITY)),
        _ => return None,
    })
}

/// Ints (`strconv.ParseInt(s, 0, 64)` after removing underscores, then unsigned), YAML-style
/// floats and `0b`/`-0b` binaries, as go-yaml v2 tries them.
fn number(value: &str) -> Option<(&'static str, Go)> {
    // The value's text without underscores: a copy of a value, wiped after.
    let plain = Zeroizing::new(value.replace('_', ""));
    if let Some(i) = go_parse_int(&plain) {
        return Some((INT, Go::Int(i)));
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Some((INT, Go::Uint(u)));
    }
    if is_yaml_style_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Some((FLOAT, Go::Float(f)));
    }
    if let Some(digits) = plain.strip_prefix("0b") {
        if let Some(i) = parse_digits(digits, 2).and_then(|u| i64::try_from(u).ok()) {
            return Some((INT, Go::Int(i)));
        }
        return parse_digits(digits, 2).map(|u| (INT, Go::Uint(u)));
    }
    if let Some(digits) = plain.strip_prefix("-0b") {
        let magnitude = parse_digits(digits, 2)?;
        let i = 0i64.checked_sub_unsigned(magnitude)?;
        return Some((INT, Go::Int(i)));
    }
    None
}

/// `strconv.ParseUint` digits in `radix` (no sign, no underscores), within u64.
fn parse_digits(digits: &str, radix: u32) -> Option<u64> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `strconv.ParseUint(s, 0, 64)`: base prefixes `0x`, `0o`, `0b`, a leading `0` for octal.
fn go_parse_uint(s: &str) -> Option<u64> {
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    match lower.as_deref() {
        Some("0x") => parse_digits(&s[2..], 16),
        Some("0o") => parse_digits(&s[2..], 8),
        Some("0b") => parse_digits(&s[2..], 2),
        _ if s.len() > 1 && s.starts_with('0') => parse_digits(&s[1..], 8),
        _ => parse_digits(s, 10),
    }
}

/// `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(digits)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` for decimal text, `None` on a syntax or range error (an
/// infinite result from finite digits).
fn go_parse_float(s: &str) -> Option<f64> {
    let digits_only = s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !digits_only {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml v2's `parseTimestamp`: `YYYY-` and one of its four layouts.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let year_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_digits != 4 || b.get(4) != Some(&b'-') {
        return false;
    }
    [
        "2006-1-2T15:4:5.999999999Z07:00",
        "2006-1-2t15:4:5.999999999Z07:00",
        "2006-1-2 15:4:5.999999999",
        "2006-1-2",
    ]
    .iter()
    .any(|layout| crate::gotime::parse_in_local(layout, s).is_ok())
}

/// sigs.k8s.io/yaml's `convertToJSONableObject` and the JSON round trip: map keys become
/// strings, numbers float64, strings valid UTF-8.
fn to_json_value(go: Go) -> Result<Value, Failure> {
    Ok(match go {
        Go::Nil => Value::Nil,
        Go::Bool(b) => Value::Bool(b),
        Go::Int(i) => Value::Float(i as f64),
        Go::Uint(u) => Value::Float(u as f64),
        Go::Float(f) => Value::Float(f),
        Go::Str(s) => Value::from(s.to_text().into_owned()),
        Go::Seq(items) => Value::List(
            items
                .into_iter()
                .map(to_json_value)
                .collect::<Result<_, _>>()?,
        ),
        Go::Map(map) => {
            let mut out = BTreeMap::new();
            for (key, value) in map.entries {
                let key =
                    json_key(&key).map_err(|key_type| unsupported_key(key_type, &key, &value))?;
                out.insert(key, to_json_value(value)?);
            }
            Value::Map(out)
        }
    })
}

/// A map key as sigs.k8s.io/yaml writes it; `Err` with Go's `%s` of the key's type for the
/// keys it refuses.
fn json_key(key: &Go) -> Result<GoString, &'static str> {
    Ok(GoString::from(match key {
        Go::Str(s) => return Ok(s.clone()),
        Go::Int(i) => i.to_string(),
        Go::Float(f) => match format_float32_shortest(*f).as_str() {
            "+Inf" => ".inf".to_owned(),
            "-Inf" => "-.inf".to_owned(),
            "NaN" => ".nan".to_owned(),
            other => other.to_owned(),
        },
        Go::Bool(b) => b.to_string(),
        Go::Nil => return Err("%!s(<nil>)"),
        Go::Uint(_) => return Err("uint64"),
        // go-yaml refuses list and map keys before.
        Go::Seq(_) => return Err("[]interface {}"),
        Go::Map(_) => return Err("map[interface {}]interface {}"),
    }))
}

/// sigs.k8s.io/yaml's message for a refused key, with Go's `%+#v` of the key and value.
fn unsupported_key(key_type: &str, key: &Go, value: &Go) -> Failure {
    Failure::Convert(format!(
        "unsupported map key of type: {key_type}, key: {}, value: {}",
        go_syntax(key),
        go_syntax(value)
    ))
}

/// Go's `%#v` of a decoded value.
fn go_syntax(value: &Go) -> String {
    match value {
        Go::Nil => "<nil>".to_owned(),
        Go::Bool(b) => b.to_string(),
        Go::Int(i) => i.to_string(),
        Go::Uint(u) => format!("{u:#x}"),
        Go::Float(f) => crate::gofmt::display(&Value::Float(*f))
            .to_text()
            .into_owned(),
        Go::Str(s) => crate::gofmt::quote(s.as_bytes()),
        Go::Seq(items) => format!(
            "[]interface {{}}{{{}}}",
            items.iter().map(go_syntax).collect::<Vec<_>>().join(", ")
        ),
        Go::Map(map) => {
            let mut entries: Vec<String> = map
                .entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_syntax(k), go_syntax(v)))
                .collect();
            entries.sort();
            format!(
                "map[interface {{}}]interface {{}}{{{}}}",
                entries.join(", ")
            )
        }
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that read back as the same
/// float32, in `%e` form when the exponent is below -4 or at least 6.
fn format_float32_shortest(f: f64) -> String {
    let single = f as f32;
    if single.is_nan() {
        return "NaN".to_owned();
    }
    if single.is_infinite() {
        return if single > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` writes the shortest round-trip digits: `-1.2345e-7`.
    let formatted = format!("{single:e}");
    let (sign, rest) = match formatted.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", formatted.as_str()),
    };
    let (mantissa, exponent) = rest.split_once('e').unwrap_or((rest, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let (first, more) = digits.split_at(1);
        let point = if more.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}{more}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{text}")
}

/// `json.Marshal` refuses NaN and infinities; the first one in its order (maps by sorted
/// key) is the error.
fn check_json_numbers(value: &Value) -> Result<(), Failure> {
    match value {
        Value::Float(f) if !f.is_finite() => Err(Failure::Convert(format!(
            "json: unsupported value: {}",
            crate::gofmt::format_float(*f, 'g', -1)
        ))),
        Value::List(items) => items.iter().try_for_each(check_json_numbers),
        Value::Map(map) => map.values().try_for_each(check_json_numbers),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Value {
        from_yaml(text.as_bytes()).expect("no limit in force")
    }

    #[test]
    fn yaml_1_1_words_are_booleans_unless_quoted() {
        let Value::Map(map) = decoded("a: yes\nb: Off\nc: 'on'\nd: y\ne: NO\nf: ~\n") else {
            panic!("a map");
        };
        assert_eq!(map[b"a".as_slice()], Value::Bool(true));
        assert_eq!(map[b"b".as_slice()], Value::Bool(false));
        assert_eq!(map[b"c".as_slice()], Value::from("on"));
        assert_eq!(map[b"d".as_slice()], Value::Bool(true));
        assert_eq!(map[b"e".as_slice()], Value::Bool(false));
        assert_eq!(map[b"f".as_slice()], Value::Nil);
    }

    #[test]
    fn numbers_read_as_go_yaml_v2_reads_them() {
        let Value::Map(map) =
            decoded("o: 012\nb: 0b101\nu: 1_000\nh: 0x1F\nnine: 09\nf: 1.5\nbig: 1e400\nn: key\n")
        else {
            panic!("a map");
        };
        assert_eq!(map[b"o".as_slice()], Value::Float(10.0));
        assert_eq!(map[b"b".as_slice()], Value::Float(5.0));
        assert_eq!(map[b"u".as_slice()], Value::Float(1000.0));
        assert_eq!(map[b"h".as_slice()], Value::Float(31.0));
        assert_eq!(map[b"nine".as_slice()], Value::Float(9.0));
        // An unquoted `n` is false, as a key too.
        assert_eq!(map[b"false".as_slice()], Value::from("key"));
        assert_eq!(map[b"f".as_slice()], Value::Float(1.5));
        assert_eq!(map[b"big".as_slice()], Value::from("1e400"));
    }

    #[test]
    fn reader_errors_are_go_yamls() {
        let error = |bytes: &[u8]| match from_yaml(bytes) {
            Ok(Value::Map(map)) => map.get(b"Error".as_slice()).cloned(),
            _ => None,
        };
        assert_eq!(
            error(b"a: \xff"),
            Some(Value::from(
                "error converting YAML to JSON: yaml: invalid leading UTF-8 octet"
            ))
        );
        assert_eq!(
            error(b"a: \x01"),
            Some(Value::from(
                "error converting YAML to JSON: yaml: control characters are not allowed"
            ))
        );
        assert_eq!(
            error(b"a: \xe2\x82"),
            Some(Value::from(
                "error converting YAML to JSON: yaml: incomplete UTF-8 octet sequence"
            ))
        );
    }

    #[test]
    fn syntax_errors_are_reported_in_the_map() {
        let Value::Map(map) = decoded("a: [") else {
            panic!("fromYaml returns a map");
        };
        assert!(map.contains_key(b"Error".as_slice()));
    }

    #[test]
    fn float_keys_print_as_float32() {
        assert_eq!(format_float32_shortest(1.5), "1.5");
        assert_eq!(format_float32_shortest(std::f64::consts::PI), "3.1415927");
        assert_eq!(format_float32_shortest(1e20), "1e+20");
        assert_eq!(format_float32_shortest(0.0001), "0.0001");
        assert_eq!(format_float32_shortest(0.00001), "1e-05");
        assert_eq!(format_float32_shortest(123456.0), "123456");
        assert_eq!(format_float32_shortest(1234567.0), "1.234567e+06");
        assert_eq!(format_float32_shortest(-0.0), "-0");
    }
}
