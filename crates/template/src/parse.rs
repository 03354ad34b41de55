//! The parser: tokens to a tree of [`Node`]s, with Go's parse-time checks (functions must
//! exist, variables must be declared, `break`/`continue` only inside `range`, one non-empty
//! definition per template name).

use std::collections::HashMap;

use crate::lex::{LexError, MAX_CONTROL_DEPTH, Tok, Token, lex};

/// A list of nodes: a template body or a branch of a control structure.
pub(crate) type List = Vec<Node>;

/// One element of a template body.
#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The parts of `if`, `with` and `range`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

/// A pipeline, with the variables it declares or assigns.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline: a function, field or value and its arguments.
#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand, with its position.
#[derive(Debug)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

/// The kinds of operand.
#[derive(Debug)]
pub(crate) enum ArgKind {
    /// `.a.b`
    Field(Vec<String>),
    /// `$x.a.b`: the variable name, then fields.
    Variable(String, Vec<String>),
    /// `(pipeline).a.b`
    Chain(Box<Arg>, Vec<String>),
    Dot,
    Nil,
    Bool(bool),
    Number(Number),
    Str(Vec<u8>),
    /// A function name.
    Ident(String),
    Pipe(Box<Pipe>),
}

/// A numeric constant, with every interpretation Go's parser found valid.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    pub is_rune: bool,
}

/// A parse failure: byte position and message (built from the template text only).
#[derive(Debug)]
pub(crate) struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        ParseError {
            pos: e.pos,
            message: e.message,
        }
    }
}

/// Parses `text` into its named trees: the main template under `name` and one per
/// `define`/`block`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    check_function: &dyn Fn(&str) -> Result<(), String>,
) -> Result<HashMap<String, List>, ParseError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        control_depth: 0,
        trees: HashMap::new(),
        check_function,
    };
    let root = parser.parse_top()?;
    parser.add(name, root, 0)?;
    Ok(parser.trees)
}

/// Go's `IsEmptyTree`: only whitespace text.
fn is_empty_tree(list: &List) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    vars: Vec<String>,
    range_depth: usize,
    control_depth: usize,
    trees: HashMap<String, List>,
    check_function: &'a dyn Fn(&str) -> Result<(), String>,
}

enum End {
    End,
    Else(usize),
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::LeftDelim => "\"{{\"".into(),
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Ident(n) => format!("<{n}>"),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Variable(v) => format!("<{v}>"),
        Tok::Str(_) => "quoted string".into(),
        Tok::Char(_) => "character constant".into(),
        Tok::Number(n) => format!("number {n}"),
        Tok::Bool(b) => format!("<{b}>"),
        Tok::Nil => "<nil>".into(),
        Tok::Dot => "<.>".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LeftParen => "\"(\"".into(),
        Tok::RightParen => "\")\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Space => "space".into(),
        Tok::Eof => "EOF".into(),
    }
}

impl Parser<'_> {
    fn error<T>(&self, pos: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            pos,
            message: message.into(),
        })
    }

    fn unexpected<T>(&self, token: &Token, context: &str) -> Result<T, ParseError> {
        self.error(
            token.pos,
            format!("unexpected {} in {context}", describe(&token.kind)),
        )
    }

    fn peek(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn skip_space(&mut self) {
        while self.peek().kind == Tok::Space {
            self.pos += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn add(&mut self, name: &str, root: List, pos: usize) -> Result<(), ParseError> {
        match self.trees.get(name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return self.error(pos, format!("multiple definition of template {name:?}"));
                }
                Ok(())
            }
            _ => {
                self.trees.insert(name.to_owned(), root);
                Ok(())
            }
        }
    }

    fn parse_top(&mut self) -> Result<List, ParseError> {
        let mut root = List::new();
        while self.peek().kind != Tok::Eof {
            if self.peek().kind == Tok::LeftDelim {
                let mark = self.pos;
                self.next();
                if self.peek_non_space().kind == Tok::Keyword("define") {
                    self.next();
                    self.parse_definition()?;
                    continue;
                }
                self.pos = mark;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End(pos) => return self.error(pos, "unexpected {{end}}"),
                Item::Else(pos) => return self.error(pos, "unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    fn template_name(&mut self, context: &str) -> Result<(String, usize), ParseError> {
        let token = self.next_non_space();
        match token.kind {
            // Template names are Go strings too; names that are not UTF-8 are read as text.
            Tok::Str(name) => Ok((String::from_utf8_lossy(&name).into_owned(), token.pos)),
            _ => self.unexpected(&token, context),
        }
    }

    fn parse_definition(&mut self) -> Result<(), ParseError> {
        let (name, pos) = self.template_name("define clause")?;
        let close = self.next_non_space();
        if close.kind != Tok::RightDelim {
            return self.unexpected(&close, "define clause");
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_depth = std::mem::take(&mut self.range_depth);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if let End::Else(p) = end {
            return self.error(p, "unexpected {{else}} in define clause");
        }
        self.add(&name, list, pos)
    }

    fn item_list(&mut self) -> Result<(List, End), ParseError> {
        let mut list = List::new();
        while self.peek().kind != Tok::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(_) => return Ok((list, End::End)),
                Item::Else(p) => return Ok((list, End::Else(p))),
            }
        }
        let pos = self.peek().pos;
        self.error(pos, "unexpected EOF")
    }

    fn text_or_action(&mut self) -> Result<Item, ParseError> {
        let token = self.next_non_space();
        match token.kind {
            Tok::Text(text) => Ok(Item::Node(Node::Text(text))),
            Tok::LeftDelim => self.action(),
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> Result<Item, ParseError> {
        let token = self.next_non_space();
        let node = match token.kind {
            Tok::Keyword("block") => self.block_control()?,
            Tok::Keyword("break") => self.loop_control(token.pos, "break")?,
            Tok::Keyword("continue") => self.loop_control(token.pos, "continue")?,
            Tok::Keyword("else") => return self.else_control(token.pos),
            Tok::Keyword("end") => {
                self.expect_right_delim("end")?;
                return Ok(Item::End(token.pos));
            }
            Tok::Keyword("if") => Node::If(self.parse_control("if")?),
            Tok::Keyword("range") => Node::Range(self.parse_control("range")?),
            Tok::Keyword("with") => Node::With(self.parse_control("with")?),
            Tok::Keyword("template") => self.template_control()?,
            _ => {
                self.pos -= 1;
                Node::Action(self.pipeline("command", &Tok::RightDelim)?)
            }
        };
        Ok(Item::Node(node))
    }

    fn expect_right_delim(&mut self, context: &str) -> Result<usize, ParseError> {
        let token = self.next_non_space();
        if token.kind != Tok::RightDelim {
            return self.unexpected(&token, context);
        }
        Ok(token.pos)
    }

    fn loop_control(&mut self, pos: usize, word: &str) -> Result<Node, ParseError> {
        let token = self.next_non_space();
        if token.kind != Tok::RightDelim {
            return self.unexpected(&token, &format!("{{{{{word}}}}}"));
        }
        if self.range_depth == 0 {
            return self.error(pos, format!("{{{{{word}}}}} outside {{{{range}}}}"));
        }
        Ok(if word == "break" {
            Node::Break
        } else {
            Node::Continue
        })
    }

    fn else_control(&mut self, pos: usize) -> Result<Item, ParseError> {
        let peek = self.peek_non_space().kind.clone();
        if peek == Tok::Keyword("if") || peek == Tok::Keyword("with") {
            return Ok(Item::Else(pos));
        }
        self.expect_right_delim("else")?;
        Ok(Item::Else(pos))
    }

    fn parse_control(&mut self, context: &str) -> Result<Branch, ParseError> {
        if self.control_depth >= MAX_CONTROL_DEPTH {
            let pos = self.peek().pos;
            return self.error(pos, "control structures nested too deeply");
        }
        let mark = self.vars.len();
        self.control_depth += 1;
        let result = self.parse_control_inner(context);
        self.control_depth -= 1;
        self.vars.truncate(mark);
        result
    }

    fn parse_control_inner(&mut self, context: &str) -> Result<Branch, ParseError> {
        let pipe = self.pipeline(context, &Tok::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let parsed = self.item_list();
        if is_range {
            self.range_depth -= 1;
        }
        let (list, end) = parsed?;
        let else_list = match end {
            End::End => None,
            End::Else(pos) => Some(self.else_branch(context, pos)?),
        };
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn else_branch(&mut self, context: &str, pos: usize) -> Result<List, ParseError> {
        let peek = self.peek().kind.clone();
        if context == "if" && peek == Tok::Keyword("if") {
            self.next();
            return Ok(vec![Node::If(self.parse_control("if")?)]);
        }
        if context == "with" && peek == Tok::Keyword("with") {
            self.next();
            return Ok(vec![Node::With(self.parse_control("with")?)]);
        }
        let (list, end) = self.item_list()?;
        if let End::Else(_) = end {
            return self.error(pos, "expected end; found {{else}}");
        }
        Ok(list)
    }

    fn template_control(&mut self) -> Result<Node, ParseError> {
        let (name, pos) = self.template_name("template clause")?;
        let pipe = if self.peek_non_space().kind == Tok::RightDelim {
            self.next();
            None
        } else {
            Some(self.pipeline("template clause", &Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block_control(&mut self) -> Result<Node, ParseError> {
        let (name, pos) = self.template_name("block clause")?;
        let pipe = self.pipeline("block clause", &Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_depth = std::mem::take(&mut self.range_depth);
        let parsed = self.item_list();
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        let (list, end) = parsed?;
        if let End::Else(p) = end {
            return self.error(p, "unexpected {{else}} in block clause");
        }
        self.add(&name, list, pos)?;
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: &Tok) -> Result<Pipe, ParseError> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        self.declarations(&mut pipe, context)?;
        loop {
            let token = self.next_non_space();
            match &token.kind {
                k if k == end => {
                    self.check_pipeline(&pipe, context, token.pos)?;
                    return Ok(pipe);
                }
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.pos -= 1;
                    let command = self.command()?;
                    pipe.cmds.push(command);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> Result<(), ParseError> {
        loop {
            let Tok::Variable(name) = self.peek_non_space().kind.clone() else {
                return Ok(());
            };
            let mark = self.pos;
            self.next();
            let next = self.peek_non_space().clone();
            match next.kind {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.kind == Tok::Assign;
                    self.next();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    return Ok(());
                }
                Tok::Comma => {
                    self.next();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Tok::Variable(_) | Tok::RightDelim | Tok::RightParen => continue,
                            _ => {
                                return self.error(next.pos, "range can only initialize variables");
                            }
                        }
                    }
                    return self.error(next.pos, format!("too many declarations in {context}"));
                }
                _ => {
                    self.pos = mark;
                    return Ok(());
                }
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str, pos: usize) -> Result<(), ParseError> {
        if pipe.cmds.is_empty() {
            return self.error(pos, format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(first) = cmd.args.first()
                && matches!(
                    first.kind,
                    ArgKind::Bool(_)
                        | ArgKind::Dot
                        | ArgKind::Nil
                        | ArgKind::Number(_)
                        | ArgKind::Str(_)
                )
            {
                return self.error(
                    cmd.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.skip_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.pos -= 1,
                Tok::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.error(pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if !matches!(self.peek().kind, Tok::Field(_)) {
            return Ok(Some(term));
        }
        let mut fields = Vec::new();
        while let Tok::Field(name) = &self.peek().kind {
            fields.push(name.clone());
            self.pos += 1;
        }
        let kind = match term.kind {
            ArgKind::Field(mut base) => {
                base.extend(fields);
                ArgKind::Field(base)
            }
            ArgKind::Variable(name, mut base) => {
                base.extend(fields);
                ArgKind::Variable(name, base)
            }
            ArgKind::Bool(_)
            | ArgKind::Str(_)
            | ArgKind::Number(_)
            | ArgKind::Nil
            | ArgKind::Dot => {
                return self.error(term.pos, "unexpected . after term");
            }
            other => ArgKind::Chain(
                Box::new(Arg {
                    pos: term.pos,
                    kind: other,
                }),
                fields,
            ),
        };
        Ok(Some(Arg {
            pos: term.pos,
            kind,
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let token = self.next_non_space();
        let pos = token.pos;
        let kind = match token.kind {
            Tok::Ident(name) => {
                if let Err(message) = (self.check_function)(&name) {
                    return self.error(pos, message);
                }
                ArgKind::Ident(name)
            }
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return self.error(pos, format!("undefined variable {name:?}"));
                }
                ArgKind::Variable(name, Vec::new())
            }
            Tok::Field(name) => ArgKind::Field(vec![name]),
            Tok::Bool(b) => ArgKind::Bool(b),
            Tok::Number(text) => {
                ArgKind::Number(parse_number(&text).ok_or_else(|| ParseError {
                    pos,
                    message: format!("illegal number syntax: {text:?}"),
                })?)
            }
            Tok::Char(c) => ArgKind::Number(Number {
                text: format!("{c:?}"),
                int: Some(c as i64),
                float: Some(c as u32 as f64),
                is_rune: true,
            }),
            Tok::LeftParen => ArgKind::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", &Tok::RightParen)?,
            )),
            Tok::Str(s) => ArgKind::Str(s),
            _ => {
                self.pos -= 1;
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos, kind }))
    }
}

enum Item {
    Node(Node),
    End(usize),
    Else(usize),
}

/// Go's `newNumber`: every valid interpretation of a numeric literal.
fn parse_number(text: &str) -> Option<Number> {
    if text.ends_with('i') {
        return None;
    }
    let uint = parse_go_uint(text);
    let int = go_parse_int(text);
    let mut number = Number {
        text: text.to_owned(),
        int,
        float: int.map(|i| i as f64).or(uint.map(|u| u as f64)),
        is_rune: false,
    };
    if number.float.is_none() {
        let f = parse_go_float(text)?;
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return None;
        }
        number.float = Some(f);
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            number.int = Some(f as i64);
        }
    }
    Some(number)
}

fn strip_underscores(digits: &str, prefixed: bool) -> Option<String> {
    if digits.contains('_') {
        let valid = !digits.ends_with('_')
            && !digits.contains("__")
            && (prefixed || !digits.starts_with('_'));
        if !valid {
            return None;
        }
    }
    Some(digits.replace('_', ""))
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest, true)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    let digits = strip_underscores(digits, prefixed)?;
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

pub(crate) fn go_parse_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_go_uint(body)?;
    if negative {
        if magnitude == 1 << 63 {
            return Some(i64::MIN);
        }
        i64::try_from(magnitude).ok().map(|m| -m)
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn parse_go_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("0x") || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let cleaned = strip_underscores(&lower, false)?;
    let value: f64 = cleaned.parse().ok()?;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(text: &str) -> Result<HashMap<String, List>, ParseError> {
        parse("t", text, &|name| {
            if name == "printf" {
                Ok(())
            } else {
                Err("undefined".to_owned())
            }
        })
    }

    #[test]
    fn numbers_keep_go_interpretations() {
        let n = parse_number("1e3").expect("number");
        assert_eq!((n.int, n.float), (Some(1000), Some(1000.0)));
        assert_eq!(parse_number("0x1F").and_then(|n| n.int), Some(31));
        assert_eq!(parse_number("017").and_then(|n| n.int), Some(15));
        assert!(parse_number("99999999999999999999").is_none());
    }

    #[test]
    fn parse_time_checks_match_go() {
        assert!(parses("{{ nosuch 1 }}").is_err());
        assert!(parses("{{ $x }}").is_err());
        assert!(parses("{{ break }}").is_err());
        assert!(parses("{{ if 1 }}").is_err());
        assert!(parses("{{ .a | 1 }}").is_err());
        assert!(parses("{{ $x := 1 }}{{ $x }}{{ printf \"%d\" 1 }}").is_ok());
        assert!(parses("{{ range $i, $e := . }}{{ $i }}{{ break }}{{ end }}").is_ok());
        assert!(parses("{{ if 1 }}a{{ else if 2 }}b{{ else }}c{{ end }}").is_ok());
        let trees =
            parses("{{ define \"x\" }}X{{ end }}{{ block \"y\" . }}Y{{ end }}").expect("parses");
        assert!(trees.contains_key("x") && trees.contains_key("y") && trees.contains_key("t"));
    }
}
