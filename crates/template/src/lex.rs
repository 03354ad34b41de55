//! The lexer: template text to tokens, following Go's `text/template/parse` lexer (delimiters
//! `{{ }}`, trim markers `{{- ` and ` -}}`, comments, and the tokens inside actions).

/// One token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub pos: usize,
}

/// The kinds of token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Ident(String),
    Keyword(&'static str),
    Field(String),
    Variable(String),
    /// A quoted string's bytes: `\xff` and `\377` are single bytes, as in Go.
    Str(Vec<u8>),
    Char(char),
    Number(String),
    Bool(bool),
    Nil,
    Dot,
    Pipe,
    LeftParen,
    RightParen,
    Assign,
    Declare,
    Comma,
    Space,
    Eof,
}

/// A lexing failure: where, and what (from the template text only).
#[derive(Debug)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

const KEYWORDS: [&str; 9] = [
    "block", "break", "continue", "define", "else", "end", "if", "range", "template",
];
const WITH: &str = "with";

/// Deepest nesting of parentheses: Go's `maxStackDepth`. The parser and executor recurse on a
/// thread with a 1 GiB stack (see `lib.rs`), which this depth fits in many times over.
pub(crate) const MAX_PAREN_DEPTH: usize = 10_000;

/// Deepest nesting of control structures (`if`, `range`, `with`, …). Go has no limit of its
/// own (its stack grows to 1 GiB); keyward's keeps the parse tree's recursive drop and walk
/// well inside the template thread's stack.
pub(crate) const MAX_CONTROL_DEPTH: usize = 10_000;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `input` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(input: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        tokens: Vec::new(),
        trim_next_text: false,
        paren_depth: 0,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    trim_next_text: bool,
    paren_depth: usize,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn emit(&mut self, kind: Tok, pos: usize) {
        self.tokens.push(Token { kind, pos });
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            pos: self.pos,
            message: message.into(),
        })
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            let start = self.pos;
            let Some(found) = self.rest().find("{{") else {
                let text = self.take_text(start, self.input.len(), false);
                self.push_text(text, start);
                self.emit(Tok::Eof, self.input.len());
                return Ok(());
            };
            let delim = start + found;
            let after = &self.input[delim + 2..];
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            let text = self.take_text(start, delim, trim_left);
            self.push_text(text, start);
            self.pos = delim + 2 + if trim_left { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                self.lex_comment(delim)?;
            } else {
                self.emit(Tok::LeftDelim, delim);
                self.lex_action()?;
            }
        }
    }

    fn take_text(&mut self, start: usize, end: usize, trim_right: bool) -> String {
        let mut text = &self.input[start..end];
        if std::mem::take(&mut self.trim_next_text) {
            text = text.trim_start_matches(is_space);
        }
        if trim_right {
            text = text.trim_end_matches(is_space);
        }
        text.to_owned()
    }

    fn push_text(&mut self, text: String, pos: usize) {
        if !text.is_empty() {
            self.emit(Tok::Text(text), pos);
        }
    }

    fn lex_comment(&mut self, start: usize) -> Result<(), LexError> {
        let Some(end) = self.rest().find("*/") else {
            return self.error("unclosed comment");
        };
        self.pos += end + 2;
        match self.at_right_delim() {
            Some((len, trim)) => {
                self.pos += len;
                self.trim_next_text = trim;
                let _ = start;
                Ok(())
            }
            None => self.error("comment ends before closing delimiter"),
        }
    }

    /// The length of the right delimiter here (with its trim marker) and whether it trims.
    fn at_right_delim(&self) -> Option<(usize, bool)> {
        let rest = self.rest();
        let mut chars = rest.chars();
        if let (Some(c), Some('-')) = (chars.next(), chars.next())
            && is_space(c)
            && rest[c.len_utf8() + 1..].starts_with("}}")
        {
            return Some((c.len_utf8() + 3, true));
        }
        rest.starts_with("}}").then_some((2, false))
    }

    fn lex_action(&mut self) -> Result<(), LexError> {
        loop {
            if let Some((len, trim)) = self.at_right_delim() {
                if self.paren_depth > 0 {
                    return self.error("unclosed left paren");
                }
                let pos = self.pos;
                if trim {
                    self.emit(Tok::Space, pos);
                }
                self.emit(Tok::RightDelim, pos);
                self.pos += len;
                self.trim_next_text = trim;
                return Ok(());
            }
            let start = self.pos;
            let Some(c) = self.peek() else {
                return self.error("unclosed action");
            };
            if is_space(c) {
                self.take_while(is_space);
                // A space right before `-}}` belongs to the trim-marked right delimiter.
                if self.input[self.pos - 1..].len() > 1 && self.input[self.pos..].starts_with("-}}")
                {
                    self.pos -= 1;
                }
                if self.pos > start {
                    self.emit(Tok::Space, start);
                }
                continue;
            }
            self.lex_action_token(c, start)?;
        }
    }

    fn lex_action_token(&mut self, c: char, start: usize) -> Result<(), LexError> {
        match c {
            '=' => self.single(Tok::Assign, start),
            ':' => {
                if !self.rest().starts_with(":=") {
                    return self.error("expected :=");
                }
                self.pos += 2;
                self.emit(Tok::Declare, start);
            }
            '|' => self.single(Tok::Pipe, start),
            ',' => self.single(Tok::Comma, start),
            '"' => self.lex_quote(start)?,
            '`' => self.lex_raw_quote(start)?,
            '\'' => self.lex_char(start)?,
            '$' => {
                self.pos += 1;
                let name = self.take_while(is_alphanumeric).to_owned();
                self.emit(Tok::Variable(format!("${name}")), start);
            }
            '.' => self.lex_dot(start)?,
            '(' => {
                self.paren_depth += 1;
                if self.paren_depth > MAX_PAREN_DEPTH {
                    return self.error("max expression depth exceeded");
                }
                self.single(Tok::LeftParen, start);
            }
            ')' => {
                if self.paren_depth == 0 {
                    return self.error("unexpected right paren");
                }
                self.paren_depth -= 1;
                self.single(Tok::RightParen, start);
            }
            '+' | '-' | '0'..='9' => self.lex_number(start)?,
            c if is_alphanumeric(c) => self.lex_identifier(start)?,
            _ => return self.error("unrecognized character in action"),
        }
        Ok(())
    }

    fn single(&mut self, kind: Tok, start: usize) {
        self.pos += 1;
        self.emit(kind, start);
    }

    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        let len = self.rest().len() - self.rest().trim_start_matches(accept).len();
        self.pos += len;
        &self.input[start..self.pos]
    }

    fn check_terminator(&self) -> Result<(), LexError> {
        let Some(c) = self.peek() else { return Ok(()) };
        if is_space(c)
            || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '=')
            || self.at_right_delim().is_some()
        {
            return Ok(());
        }
        self.error("bad character in action")
    }

    fn lex_dot(&mut self, start: usize) -> Result<(), LexError> {
        let next = self.rest()[1..].chars().next();
        if next.is_some_and(|c| c.is_ascii_digit()) {
            return self.lex_number(start);
        }
        self.pos += 1;
        let name = self.take_while(is_alphanumeric).to_owned();
        if name.is_empty() {
            self.emit(Tok::Dot, start);
        } else {
            self.emit(Tok::Field(name), start);
        }
        self.check_terminator()
    }

    fn lex_identifier(&mut self, start: usize) -> Result<(), LexError> {
        let word = self.take_while(is_alphanumeric).to_owned();
        self.check_terminator()?;
        let kind = match word.as_str() {
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            "nil" => Tok::Nil,
            WITH => Tok::Keyword(WITH),
            w => match KEYWORDS.iter().find(|k| **k == w) {
                Some(k) => Tok::Keyword(k),
                None => Tok::Ident(word),
            },
        };
        self.emit(kind, start);
        Ok(())
    }

    fn lex_number(&mut self, start: usize) -> Result<(), LexError> {
        if !self.scan_number() {
            return self.error("bad number syntax");
        }
        let text = self.input[start..self.pos].to_owned();
        self.emit(Tok::Number(text), start);
        Ok(())
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Go's `scanNumber`: accepts the longest number-looking run; false if it is followed by
    /// a letter or digit.
    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        !self.peek().is_some_and(is_alphanumeric)
    }

    fn lex_quote(&mut self, start: usize) -> Result<(), LexError> {
        let mut chars = self.rest().char_indices().skip(1);
        let mut value = Vec::new();
        loop {
            let Some((i, c)) = chars.next() else {
                return self.error("unterminated quoted string");
            };
            match c {
                '"' => {
                    self.pos += i + 1;
                    break;
                }
                '\n' => return self.error("unterminated quoted string"),
                '\\' => {
                    let Some((_, e)) = chars.next() else {
                        return self.error("unterminated quoted string");
                    };
                    let c = self.unescape(e, &mut chars, '"')?;
                    match u8::try_from(u32::from(c)) {
                        // `\x` and octal escapes are bytes, never characters (Go's Unquote).
                        Ok(byte) if e == 'x' || e.is_digit(8) => value.push(byte),
                        _ => value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                c => value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        self.check_terminator()?;
        self.emit(Tok::Str(value), start);
        Ok(())
    }

    fn unescape(
        &self,
        e: char,
        chars: &mut impl Iterator<Item = (usize, char)>,
        quote: char,
    ) -> Result<char, LexError> {
        let hex = |chars: &mut dyn Iterator<Item = (usize, char)>, n: usize| -> Option<u32> {
            let digits: String = chars.take(n).map(|(_, c)| c).collect();
            (digits.len() == n)
                .then(|| u32::from_str_radix(&digits, 16).ok())
                .flatten()
        };
        let c = match e {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            q if q == quote => q,
            'x' => hex(chars, 2)
                .and_then(char::from_u32)
                .ok_or_else(|| self.bad_escape())?,
            'u' => hex(chars, 4)
                .and_then(char::from_u32)
                .ok_or_else(|| self.bad_escape())?,
            'U' => hex(chars, 8)
                .and_then(char::from_u32)
                .ok_or_else(|| self.bad_escape())?,
            '0'..='7' => {
                let rest: String = chars.take(2).map(|(_, c)| c).collect();
                let octal = format!("{e}{rest}");
                u32::from_str_radix(&octal, 8)
                    .ok()
                    .filter(|v| *v < 256 && octal.len() == 3)
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.bad_escape())?
            }
            _ => return Err(self.bad_escape()),
        };
        Ok(c)
    }

    fn bad_escape(&self) -> LexError {
        LexError {
            pos: self.pos,
            message: "invalid syntax in quoted string".to_owned(),
        }
    }

    fn lex_raw_quote(&mut self, start: usize) -> Result<(), LexError> {
        let Some(end) = self.rest()[1..].find('`') else {
            return self.error("unterminated raw quoted string");
        };
        let value = self.rest()[1..1 + end].replace('\r', "").into_bytes();
        self.pos += end + 2;
        self.check_terminator()?;
        self.emit(Tok::Str(value), start);
        Ok(())
    }

    fn lex_char(&mut self, start: usize) -> Result<(), LexError> {
        let mut chars = self.rest().char_indices().skip(1);
        let value = match chars.next() {
            Some((_, '\\')) => {
                let Some((_, e)) = chars.next() else {
                    return self.error("unterminated character constant");
                };
                self.unescape(e, &mut chars, '\'')?
            }
            Some((_, '\'')) | Some((_, '\n')) | None => {
                return self.error("unterminated character constant");
            }
            Some((_, c)) => c,
        };
        match chars.next() {
            Some((i, '\'')) => self.pos += i + 1,
            _ => return self.error("unterminated character constant"),
        }
        self.check_terminator()?;
        self.emit(Tok::Char(value), start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<Tok> {
        lex(input)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| *k != Tok::Space)
            .collect()
    }

    #[test]
    fn trim_markers_eat_surrounding_space() {
        assert_eq!(
            kinds("a  {{- .x -}}\n b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Field("x".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments_vanish_and_must_close_the_action() {
        assert_eq!(
            kinds("a{{/* c */}}b"),
            vec![Tok::Text("a".into()), Tok::Text("b".into()), Tok::Eof]
        );
        assert!(lex("{{/* c */ .x}}").is_err());
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            kinds(r#"{{"a\n\"b" `r\n`}}"#)[1..3],
            [Tok::Str(b"a\n\"b".to_vec()), Tok::Str(b"r\\n".to_vec())]
        );
    }
}
