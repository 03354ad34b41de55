//! [`GoString`]: a Go `string`, which is a sequence of bytes, not necessarily UTF-8. ESO's
//! templates work on a Secret's bytes, so a keystore or a DER key passes through a template
//! unchanged, `len` counts bytes and `b64dec` can produce any byte. This module owns that
//! type and Go's way of reading runes out of bytes ([`runes`], [`to_text`]): an invalid or
//! truncated sequence is one U+FFFD per byte, as `for range` over a Go string and
//! `utf8.DecodeRune` give it.
//!
//! Template strings hold secrets: a [`GoString`] prints only its length in `Debug` and wipes
//! its bytes when dropped.

use std::borrow::{Borrow, Cow};
use std::fmt;

use zeroize::Zeroize;

/// A Go string: bytes, compared and ordered byte by byte as Go compares strings.
///
/// `Debug` shows only the length (the bytes are secret data) and the bytes are zeroed on
/// drop and when [`GoString::push_bytes`] moves them to a larger buffer
/// (`crates/template/tests/copies.rs` counts what is freed unwiped).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoString(Vec<u8>);

impl GoString {
    /// The empty string.
    pub fn new() -> GoString {
        GoString(Vec::new())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes (Go's `len`).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text, when the bytes are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The runes as Go reads them, as text: each byte that does not start a valid UTF-8
    /// sequence becomes U+FFFD.
    pub fn to_text(&self) -> Cow<'_, str> {
        to_text(&self.0)
    }

    /// The bytes, moved out (this string is left empty, so nothing is left to wipe).
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }

    /// Appends bytes. When the buffer must grow, the bytes move to a larger one and the old
    /// one is wiped before it is freed (a plain `Vec` would leave its old block as it was).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let needed = self.0.len().saturating_add(bytes.len());
        if needed > self.0.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
            grown.extend_from_slice(&self.0);
            self.0.zeroize();
            self.0 = grown;
        }
        self.0.extend_from_slice(bytes);
    }

    /// Shortens the string to `len` bytes (the bytes cut off stay in the buffer, which is
    /// wiped whole when dropped).
    pub fn truncate(&mut self, len: usize) {
        let kept = len.min(self.0.len());
        self.0[kept..].zeroize();
        self.0.truncate(kept);
    }

    /// `parts` one after the other, in one buffer of exactly their length (no growth, so no
    /// unwiped copy is left behind).
    pub fn concat(parts: &[&[u8]]) -> GoString {
        let mut bytes = Vec::with_capacity(parts.iter().map(|part| part.len()).sum());
        for part in parts {
            bytes.extend_from_slice(part);
        }
        GoString(bytes)
    }
}

/// Text being built that holds values (JSON or YAML output): grows like a `String`, but
/// wipes the buffer it leaves when it grows and the text when dropped.
#[derive(Default)]
pub(crate) struct TextBuf(String);

impl TextBuf {
    /// Empty text.
    pub(crate) fn new() -> TextBuf {
        TextBuf(String::new())
    }

    /// Appends `text`.
    pub(crate) fn push_str(&mut self, text: &str) {
        let needed = self.0.len().saturating_add(text.len());
        if needed > self.0.capacity() {
            let mut grown = String::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
            grown.push_str(&self.0);
            self.0.zeroize();
            self.0 = grown;
        }
        self.0.push_str(text);
    }

    /// Appends `c`.
    pub(crate) fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl std::ops::Deref for TextBuf {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TextBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TextBuf([redacted; {} bytes])", self.0.len())
    }
}

impl Drop for TextBuf {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<TextBuf> for GoString {
    fn from(mut text: TextBuf) -> Self {
        GoString(std::mem::take(&mut text.0).into_bytes())
    }
}

impl Drop for GoString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for GoString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoString([redacted; {} bytes])", self.0.len())
    }
}

impl From<Vec<u8>> for GoString {
    fn from(bytes: Vec<u8>) -> Self {
        GoString(bytes)
    }
}

impl From<&[u8]> for GoString {
    fn from(bytes: &[u8]) -> Self {
        GoString(bytes.to_vec())
    }
}

impl From<String> for GoString {
    fn from(text: String) -> Self {
        GoString(text.into_bytes())
    }
}

impl From<&str> for GoString {
    fn from(text: &str) -> Self {
        GoString(text.as_bytes().to_vec())
    }
}

impl From<Cow<'_, str>> for GoString {
    fn from(text: Cow<'_, str>) -> Self {
        GoString(text.into_owned().into_bytes())
    }
}

impl AsRef<[u8]> for GoString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for GoString {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for GoString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for GoString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Go's `utf8.DecodeRune`: the first rune of `bytes` and its width; an invalid or
/// truncated sequence is U+FFFD of width 1, and empty input U+FFFD of width 0.
pub(crate) fn decode_rune(bytes: &[u8]) -> (char, usize) {
    let len = match bytes.first() {
        None => return ('\u{FFFD}', 0),
        Some(b) if *b < 0x80 => return (char::from(*b), 1),
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(_) => 2,
    };
    match bytes.get(..len).and_then(|b| std::str::from_utf8(b).ok()) {
        Some(s) => (s.chars().next().unwrap_or('\u{FFFD}'), len),
        None => ('\u{FFFD}', 1),
    }
}

/// Go's `utf8.DecodeLastRune`: the last rune of `bytes` and its width.
pub(crate) fn decode_last_rune(bytes: &[u8]) -> (char, usize) {
    let Some(&last) = bytes.last() else {
        return ('\u{FFFD}', 0);
    };
    if last < 0x80 {
        return (char::from(last), 1);
    }
    // A rune is at most 4 bytes: look for its start among the last four.
    let end = bytes.len();
    let lowest = end.saturating_sub(4);
    let mut start = end - 1;
    while start > lowest && bytes[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    let (rune, width) = decode_rune(&bytes[start..end]);
    if start + width != end {
        return ('\u{FFFD}', 1);
    }
    (rune, width)
}

/// The runes of `bytes` as Go's `for i, r := range s` yields them: `(byte offset, rune,
/// width)`, with U+FFFD of width 1 for each byte that does not start a valid sequence.
pub(crate) fn runes(bytes: &[u8]) -> impl Iterator<Item = (usize, char, usize)> + '_ {
    let mut offset = 0;
    std::iter::from_fn(move || {
        if offset >= bytes.len() {
            return None;
        }
        let (rune, width) = decode_rune(&bytes[offset..]);
        let item = (offset, rune, width);
        offset += width;
        Some(item)
    })
}

/// Whether the rune at this position is an invalid byte (U+FFFD of width 1), not a real
/// U+FFFD.
pub(crate) fn is_invalid(rune: char, width: usize) -> bool {
    rune == '\u{FFFD}' && width == 1
}

/// `bytes` as text the way Go converts a string to runes (`[]rune(s)`): valid UTF-8 is
/// borrowed, else every byte that does not start a valid sequence becomes U+FFFD.
pub(crate) fn to_text(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(runes(bytes).map(|(_, rune, _)| rune).collect())
}

/// Go's `utf8.RuneCount`.
pub(crate) fn rune_count(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.chars().count(),
        Err(_) => runes(bytes).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_bytes_are_one_replacement_each_as_in_go() {
        // Go: []rune("a\xe2\x82b") is [a U+FFFD U+FFFD b]; Rust's lossy decoding gives one.
        assert_eq!(to_text(b"a\xe2\x82b"), "a\u{FFFD}\u{FFFD}b");
        assert_eq!(to_text(b"\xed\xa0\x80"), "\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(rune_count(b"\xf0\x9f\x98"), 3);
        assert_eq!(decode_last_rune("a\u{e9}".as_bytes()), ('\u{e9}', 2));
        assert_eq!(decode_last_rune(b"a\xa9"), ('\u{FFFD}', 1));
    }

    #[test]
    fn debug_shows_no_bytes() {
        let secret = GoString::from("canary-gostring-77a1");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(shown, "GoString([redacted; 20 bytes])");
    }
}
