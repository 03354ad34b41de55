//! xstrings' word splitting for Sprig's `snakecase` and `kebabcase`
//! (`camelCaseToLowerCase`): `HTTPServer2xx` → `http_server_2xx`.

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

/// Go's `unicode.IsPunct` for ASCII (symbols such as `$+<=>^`|~` are not punctuation);
/// other scripts' punctuation is treated as "other".
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c)
}

fn is_alphabet(c: char) -> bool {
    if !c.is_alphabetic() {
        return false;
    }
    let v = c as u32;
    !(0x4E00..=0x9FCC).contains(&v)
        && !(0x3400..=0x4D85).contains(&v)
        && !(0x20000..=0x2B81D).contains(&v)
}

fn take_while(s: &str, start: usize, keep: impl Fn(char) -> bool) -> usize {
    s[start..]
        .char_indices()
        .find(|(_, c)| !keep(*c))
        .map_or(s.len(), |(i, _)| start + i)
}

/// The next word of `s`: its type, the word and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let Some(first) = s.chars().next() else {
        return (Word::Invalid, "", "");
    };
    let after = first.len_utf8();
    let (kind, end) = if is_connector(first) {
        (Word::Connector, take_while(s, after, is_connector))
    } else if is_punct(first) {
        (Word::Punct, take_while(s, after, is_punct))
    } else if first.is_uppercase() {
        (Word::Upper, upper_word_end(s, after))
    } else if is_alphabet(first) {
        (
            Word::Alphabet,
            take_while(s, after, |c| is_alphabet(c) && !c.is_uppercase()),
        )
    } else if first.is_numeric() {
        (Word::Number, take_while(s, after, char::is_numeric))
    } else {
        let other = |c: char| !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c));
        (Word::Other, take_while(s, after, other))
    };
    (kind, &s[..end], &s[end..])
}

/// An upper-case word: `HTTP` in `HTTPStatus` (the `S` starts the next word), or `Status`.
fn upper_word_end(s: &str, after: usize) -> usize {
    let Some(second) = s[after..].chars().next() else {
        return after;
    };
    if second.is_uppercase() {
        let mut end = after;
        let mut last_size = 0;
        for c in s[after..].chars() {
            if !c.is_uppercase() {
                if is_alphabet(c) {
                    end -= last_size;
                }
                return end;
            }
            end += c.len_utf8();
            last_size = c.len_utf8();
        }
        return end;
    }
    if is_alphabet(second) {
        return take_while(s, after, |c| is_alphabet(c) && !c.is_uppercase());
    }
    after
}

fn write_lower(out: &mut String, kind: Word, word: &str, connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            let mut lower = c.to_lowercase();
            out.push(if lower.len() == 1 {
                lower.next().unwrap_or(c)
            } else {
                c
            });
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase`.
pub(crate) fn to_lower_case(s: &str, connector: char) -> String {
    let mut out = String::new();
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
                    out.push(connector);
                }
            }
            Word::Connector => write_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
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
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                write_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    write_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(connector);
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
        assert_eq!(to_lower_case("HTTPStatus", '_'), "http_status");
        assert_eq!(to_lower_case("Bld4Floor", '_'), "bld4_floor");
        assert_eq!(to_lower_case("HTTP2xx", '_'), "http_2xx");
        assert_eq!(to_lower_case("FirstName", '-'), "first-name");
    }
}
