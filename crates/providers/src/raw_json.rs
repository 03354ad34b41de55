//! [`RawJson`]: a JSON text read without re-encoding it, so that a selected node keeps the
//! exact characters the store holds (`1.50`, the spacing inside a nested object).
//!
//! ESO selects properties with gjson and extracts maps through `json.RawMessage`; both hand
//! back slices of the original text. serde_json's `Value` would normalise numbers and
//! compact objects, so the providers' shared [`crate::value`] rules walk the text with this
//! small scanner instead. A text is validated once by serde_json ([`RawJson::parse`]); the
//! scanner then only has to find where each node starts and ends.

use serde::de::IgnoredAny;

/// What kind of JSON node a [`RawJson`] is, by its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// A valid JSON node: a slice of the text it was read from, without surrounding whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// `text` as a JSON node, or `None` when it is not one valid JSON text.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str::<IgnoredAny>(text).ok()?;
        Some(Self(text.trim_matches(is_space)))
    }

    /// The node's exact text.
    pub(crate) fn text(self) -> &'a str {
        self.0
    }

    /// The node's kind.
    pub(crate) fn kind(self) -> Kind {
        match self.0.as_bytes().first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't') => Kind::True,
            Some(b'f') => Kind::False,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// A string node's text with its escapes resolved; `None` for other kinds.
    pub(crate) fn string(self) -> Option<String> {
        match self.kind() {
            Kind::String => serde_json::from_str(self.0).ok(),
            _ => None,
        }
    }

    /// An object's members in order, keys unescaped; empty for other kinds.
    pub(crate) fn members(self) -> Vec<(String, RawJson<'a>)> {
        let mut members = Vec::new();
        if self.kind() != Kind::Object {
            return members;
        }
        let mut scanner = Scanner::inside(self.0);
        while let Some(key) = scanner.next_node() {
            let Some(key) = key.string() else { break };
            let Some(value) = scanner.next_node() else {
                break;
            };
            members.push((key, value));
        }
        members
    }

    /// The node's text with every number replaced by `number(its text)`; strings, keys and
    /// spacing are copied as they are.
    pub(crate) fn map_numbers(self, number: impl Fn(&str) -> String) -> String {
        let bytes = self.0.as_bytes();
        let mut out = String::with_capacity(self.0.len());
        let mut at = 0;
        while let Some(&byte) = bytes.get(at) {
            let end = match byte {
                b'"' => string_end(bytes, at),
                b'-' | b'0'..=b'9' => node_end(bytes, at),
                _ => None,
            };
            let Some(end) = end.filter(|&end| end > at) else {
                // One character of structure or a literal; `at` is on a char boundary
                // because everything before it was copied whole.
                let c = self
                    .0
                    .get(at..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(' ');
                out.push(c);
                at += c.len_utf8();
                continue;
            };
            let token = self.0.get(at..end).unwrap_or("");
            if byte == b'"' {
                out.push_str(token);
            } else {
                out.push_str(&number(token));
            }
            at = end;
        }
        out
    }

    /// The first member named `key` (gjson takes the first of duplicate keys).
    pub(crate) fn member(self, key: &str) -> Option<RawJson<'a>> {
        self.members()
            .into_iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// An array's `index`th element; `None` for other kinds or past the end.
    pub(crate) fn element(self, index: usize) -> Option<RawJson<'a>> {
        if self.kind() != Kind::Array {
            return None;
        }
        let mut scanner = Scanner::inside(self.0);
        (0..=index).map(|_| scanner.next_node()).last().flatten()
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Walks the nodes directly inside one object or array of valid JSON: keys and values in
/// turn, skipping the `:` and `,` between them.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner over the inside of `container` (its first and last characters are the
    /// brackets).
    fn inside(container: &'a str) -> Self {
        let end = container.len().saturating_sub(1);
        Self {
            text: container.get(..end).unwrap_or(""),
            at: 1,
        }
    }

    fn next_node(&mut self) -> Option<RawJson<'a>> {
        let bytes = self.text.as_bytes();
        while bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b':' | b','))
        {
            self.at += 1;
        }
        let start = self.at;
        let end = node_end(bytes, start)?;
        self.at = end;
        self.text.get(start..end).map(RawJson)
    }
}

/// Where the node starting at `start` ends (exclusive), in valid JSON.
fn node_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = start;
            while let Some(&byte) = bytes.get(at) {
                match byte {
                    b'"' => {
                        at = string_end(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            None
        }
        _ => {
            let length = bytes[start..]
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - start);
            Some(start + length)
        }
    }
}

/// Where the string starting with the quote at `start` ends (after its closing quote).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_exact_text() {
        let json = RawJson::parse(
            " {\"price\": 1.50, \"nested\": { \"a\" : [1, 2 ,3] }, \"s\":\"x\\\"}y\", \"n\":null} ",
        )
        .expect("valid");
        let members = json.members();
        let texts: Vec<(&str, &str)> = members
            .iter()
            .map(|(k, v)| (k.as_str(), v.text()))
            .collect();
        assert_eq!(
            texts,
            [
                ("price", "1.50"),
                ("nested", "{ \"a\" : [1, 2 ,3] }"),
                ("s", "\"x\\\"}y\""),
                ("n", "null")
            ]
        );
        assert_eq!(
            json.member("s").and_then(RawJson::string).as_deref(),
            Some("x\"}y")
        );
        let array = json
            .member("nested")
            .and_then(|n| n.member("a"))
            .expect("a");
        assert_eq!(array.element(2).map(RawJson::text), Some("3"));
        assert_eq!(array.element(3), None);
    }

    #[test]
    fn escaped_keys_are_compared_unescaped_and_the_first_duplicate_wins() {
        let json =
            RawJson::parse(r#"{"a\u002eb": 1, "k": "first", "k": "second"}"#).expect("valid");
        assert_eq!(json.member("a.b").map(RawJson::text), Some("1"));
        assert_eq!(json.member("k").map(RawJson::text), Some("\"first\""));
    }

    #[test]
    fn numbers_are_replaced_outside_strings_only() {
        let json =
            RawJson::parse(r#"{ "a-1": [1.50, -2], "é": "3.0", "t": true }"#).expect("valid");
        assert_eq!(
            json.map_numbers(|n| format!("<{n}>")),
            r#"{ "a-1": [<1.50>, <-2>], "é": "3.0", "t": true }"#
        );
    }

    #[test]
    fn invalid_json_is_refused() {
        assert!(RawJson::parse("{\"a\": }").is_none());
        assert!(RawJson::parse("{} trailing").is_none());
        assert!(RawJson::parse("").is_none());
    }
}
