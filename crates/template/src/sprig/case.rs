//! xstrings' word splitting for Sprig's `snakecase` and `kebabcase`
//! (`camelCaseToLowerCase`): `HTTPServer2xx` → `http_server_2xx`. It works on a Go
//! string's bytes: words that need no change are copied as the bytes they were, invalid
//! UTF-8 included.

use unicode_general_category::{GeneralCategory as G, get_general_category};

use crate::gostring::{decode_rune, runes};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// Go's `unicode.IsPunct`: the P general categories.
fn is_punct(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
    )
}

/// Go's `unicode.IsUpper`: the Lu general category.
pub(crate) fn is_upper(c: char) -> bool {
    get_general_category(c) == G::UppercaseLetter
}

/// Go's `unicode.IsLetter`: the L general categories.
fn is_letter(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
    )
}

fn is_alphabet(c: char) -> bool {
    if !is_letter(c) {
        return false;
    }
    let v = c as u32;
    !(0x4E00..=0x9FCC).contains(&v)
        && !(0x3400..=0x4D85).contains(&v)
        && !(0x20000..=0x2B81D).contains(&v)
}

/// xstrings' `nextValidRune`: U+FFFD (Go's `utf8.RuneError`: an invalid byte or a real
/// U+FFFD) is skipped and its bytes are counted with the next rune; a trailing run of them
/// counts as `prev`.
fn valid_rune(s: &[u8], prev: char) -> (char, usize) {
    let mut size = 0;
    for (_, c, width) in runes(s) {
        size += width;
        if c != '\u{FFFD}' {
            return (c, size);
        }
    }
    (prev, size)
}

/// The end of the run from `start` whose runes satisfy `keep`, `prev` being the rune before.
fn take_while(s: &[u8], start: usize, prev: char, keep: impl Fn(char) -> bool) -> usize {
    let (mut pos, mut prev) = (start, prev);
    while pos < s.len() {
        let (r, size) = valid_rune(&s[pos..], prev);
        if !keep(r) {
            break;
        }
        pos += size;
        prev = r;
    }
    pos
}

/// The next word of `s`: its type, the word and the rest.
fn next_word(s: &[u8]) -> (Word, &[u8], &[u8]) {
    if s.is_empty() {
        return (Word::Invalid, b"", b"");
    }
    let (first, after) = valid_rune(s, '\u{FFFD}');
    let (kind, end) = if first == '\u{FFFD}' {
        (Word::Invalid, after)
    } else if is_connector(first) {
        (Word::Connector, take_while(s, after, first, is_connector))
    } else if is_punct(first) {
        (Word::Punct, take_while(s, after, first, is_punct))
    } else if is_upper(first) {
        (Word::Upper, upper_word_end(s, after, first))
    } else if is_alphabet(first) {
        let lower = |c: char| is_alphabet(c) && !is_upper(c);
        (Word::Alphabet, take_while(s, after, first, lower))
    } else if first.is_numeric() {
        (Word::Number, take_while(s, after, first, char::is_numeric))
    } else {
        let other = |c: char| !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c));
        (Word::Other, take_while(s, after, first, other))
    };
    (kind, &s[..end], &s[end..])
}

/// An upper-case word: `HTTP` in `HTTPStatus` (the `S` starts the next word), or `Status`.
fn upper_word_end(s: &[u8], after: usize, first: char) -> usize {
    if after >= s.len() {
        return after;
    }
    let (second, second_size) = valid_rune(&s[after..], first);
    if is_upper(second) {
        let (mut end, mut last_size, mut prev) = (after + second_size, second_size, second);
        while end < s.len() {
            let (r, size) = valid_rune(&s[end..], prev);
            if !is_upper(r) {
                if is_alphabet(r) {
                    end -= last_size;
                }
                return end;
            }
            end += size;
            last_size = size;
            prev = r;
        }
        return end;
    }
    if is_alphabet(second) {
        let lower = |c: char| is_alphabet(c) && !is_upper(c);
        return take_while(s, after, first, lower);
    }
    after
}

fn push_rune(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

fn write_lower(out: &mut Vec<u8>, kind: Word, word: &[u8], connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.extend_from_slice(word);
        return;
    }
    let mut rest = word;
    while !rest.is_empty() {
        let (c, width) = decode_rune(rest);
        rest = &rest[width..];
        if is_connector(c) {
            push_rune(out, connector);
        } else if is_upper(c) {
            let mut lower = c.to_lowercase();
            push_rune(
                out,
                if lower.len() == 1 {
                    lower.next().unwrap_or(c)
                } else {
                    c
                },
            );
        } else {
            push_rune(out, c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase`.
pub(crate) fn to_lower_case(s: &[u8], connector: char) -> Vec<u8> {
    let mut out = Vec::new();
    if s.is_empty() {
        return out;
    }
    let (mut kind, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if kind != Word::Connector {
            write_lower(&mut out, kind, word, connector);
        }
        let (prev, last) = (kind, word);
        (kind, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while kind == Word::Alphabet || kind == Word::Number {
                    write_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Punct | Word::Connector) {
                    push_rune(&mut out, connector);
                }
            }
            Word::Connector => write_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        push_rune(&mut out, connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, rest) = next_word(rest);
                if kind != Word::Alphabet {
                    write_lower(&mut out, Word::Number, number, connector);
                    if kind != Word::Connector && kind != Word::Punct {
                        push_rune(&mut out, connector);
                    }
                    continue;
                }
                push_rune(&mut out, connector);
                write_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    write_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Connector | Word::Punct) {
                    push_rune(&mut out, connector);
                }
            }
        }
    }
    write_lower(&mut out, kind, word, connector);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_xstrings() {
        assert_eq!(to_lower_case(b"HTTPStatus", '_'), b"http_status");
        assert_eq!(to_lower_case(b"Bld4Floor", '_'), b"bld4_floor");
        assert_eq!(to_lower_case(b"HTTP2xx", '_'), b"http_2xx");
        assert_eq!(to_lower_case(b"FirstName", '-'), b"first-name");
        // Words that need no change keep their bytes, invalid UTF-8 included.
        assert_eq!(to_lower_case(b"ab\xff", '_'), b"ab\xff");
    }
}
