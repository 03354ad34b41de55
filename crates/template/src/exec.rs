//! The executor: walks a parsed template against data, following Go's `text/template`
//! `exec.go` (variables and scopes, `missingkey=error` field access, the argument type checks
//! of function calls, `and`/`or` short-circuiting, `range` over lists, maps and integers).
//!
//! Operands are `Option<Value>`: `None` is Go's invalid `reflect.Value` (printed as
//! `<no value>`), `Some(Value::Nil)` is a nil inside an `interface{}`.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::gofmt;
use crate::gostring::GoString;
use crate::limits;
use crate::methods::{self, Method};
use crate::parse::{Arg, ArgKind, Branch, Command, List, Node, Number, Pipe};
use crate::registry::{FuncMap, Function, Param};
use crate::value::Value;

/// Go's template recursion limit (`maxExecDepth`). The executor runs on a thread with a 1 GiB
/// stack (see `lib.rs`), which this depth fits in with room to spare.
const MAX_TEMPLATE_DEPTH: usize = 100_000;

/// Bound on nested bodies being walked at once (template calls times the control structures
/// inside them), so that the stack is never exhausted whatever the mix.
const MAX_WALK_NESTING: usize = 200_000;

type Operand = Option<Value>;

/// Sprig functions that change the map they are given, in Go.
const MAP_MUTATORS: [&str; 6] = [
    "set",
    "unset",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
];

/// An execution failure: byte position, the template being executed and a message without
/// data values.
#[derive(Debug)]
pub(crate) struct ExecError {
    pub pos: usize,
    pub template: String,
    pub message: String,
    /// The failure is a limit of [`crate::Limits`] being reached.
    pub limit: bool,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    trees: &'a HashMap<String, List>,
    funcs: &'a FuncMap,
    template: String,
    vars: Vec<(String, Operand)>,
    depth: usize,
    nesting: usize,
    /// How much output this render may still write.
    output_left: usize,
    /// The rendered bytes (a Go template writes bytes, whatever its strings hold).
    pub out: GoString,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(
        trees: &'a HashMap<String, List>,
        funcs: &'a FuncMap,
        name: &str,
        data: &Value,
        output_left: usize,
    ) -> Self {
        Exec {
            trees,
            funcs,
            template: name.to_owned(),
            vars: vec![("$".to_owned(), Some(data.clone()))],
            depth: 0,
            nesting: 0,
            output_left,
            out: GoString::new(),
        }
    }

    pub(crate) fn run(&mut self, data: &Value) -> Result<(), ExecError> {
        let Some(root) = self.trees.get(&self.template) else {
            return Err(self.error(0, "incomplete or empty template"));
        };
        self.walk(&Some(data.clone()), root)?;
        Ok(())
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> ExecError {
        ExecError {
            pos,
            template: self.template.clone(),
            message: message.into(),
            limit: false,
        }
    }

    /// An error for a limit reached at `pos`; `message` says which.
    fn limit_error(&self, pos: usize, message: impl Into<String>) -> ExecError {
        ExecError {
            limit: true,
            ..self.error(pos, message)
        }
    }

    /// The deadline check of loops and template calls.
    fn check_deadline(&self, pos: usize) -> Result<(), ExecError> {
        limits::check_deadline().map_err(|message| self.limit_error(pos, message))
    }

    /// Appends to the output, within what the budget has left.
    fn write(&mut self, pos: usize, bytes: &[u8]) -> Result<(), ExecError> {
        if self.out.len().saturating_add(bytes.len()) > self.output_left {
            let max = limits::human_size(limits::max_bytes());
            return Err(self.limit_error(pos, format!("output exceeds {max}")));
        }
        self.out.push_bytes(bytes);
        Ok(())
    }

    fn walk(&mut self, dot: &Operand, list: &List) -> Result<Flow, ExecError> {
        if self.nesting >= MAX_WALK_NESTING {
            return Err(self.error(0, "templates and control structures nested too deeply"));
        }
        self.nesting += 1;
        let flow = self.walk_nodes(dot, list);
        self.nesting -= 1;
        flow
    }

    fn walk_nodes(&mut self, dot: &Operand, list: &List) -> Result<Flow, ExecError> {
        for node in list {
            let flow = match node {
                Node::Text(text) => {
                    self.write(0, text.as_bytes())?;
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let value = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.print(pipe.pos, &value)?;
                    }
                    Flow::Normal
                }
                Node::If(branch) => self.walk_if_or_with(dot, branch, false)?,
                Node::With(branch) => self.walk_if_or_with(dot, branch, true)?,
                Node::Range(branch) => self.walk_range(dot, branch)?,
                Node::Template { pos, name, pipe } => {
                    self.walk_template(dot, *pos, name, pipe.as_ref())?
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, pos: usize, value: &Operand) -> Result<(), ExecError> {
        match value {
            None => self.write(pos, b"<no value>"),
            Some(v) => {
                let text = gofmt::display(v);
                self.write(pos, text.as_bytes())
            }
        }
    }

    fn walk_if_or_with(
        &mut self,
        dot: &Operand,
        branch: &Branch,
        is_with: bool,
    ) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let truth = value.as_ref().is_some_and(Value::is_true);
        let flow = if truth {
            let new_dot = if is_with { value } else { dot.clone() };
            self.walk(&new_dot, &branch.list)
        } else if let Some(else_list) = &branch.else_list {
            self.walk(dot, else_list)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        flow
    }

    fn walk_range(&mut self, dot: &Operand, branch: &Branch) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let result = self.walk_range_inner(dot, branch);
        self.vars.truncate(mark);
        result
    }

    fn walk_range_inner(&mut self, dot: &Operand, branch: &Branch) -> Result<Flow, ExecError> {
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let pos = branch.pipe.pos;
        let items: Box<dyn Iterator<Item = (Operand, Value)>> = match value {
            None => Box::new(std::iter::empty()),
            Some(Value::List(items)) => Box::new(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Some(Value::Int(i as i64)), v)),
            ),
            Some(Value::Map(map) | Value::StringMap(map)) => {
                Box::new(map.into_iter().map(|(k, v)| (Some(Value::from(k)), v)))
            }
            Some(Value::Int(n) | Value::Int64(n)) => {
                if branch.pipe.decl.len() > 1 {
                    return Err(self.error(
                        pos,
                        "can't use an integer to iterate over more than one variable",
                    ));
                }
                // Counted lazily: `range 2000000000` runs until the deadline stops it.
                Box::new((0..n.max(0)).map(|i| (None, Value::Int(i))))
            }
            Some(other) => {
                return Err(self.error(
                    pos,
                    format!(
                        "range can't iterate over a value of type {}",
                        other.go_type()
                    ),
                ));
            }
        };
        let mut items = items.peekable();
        if items.peek().is_none() {
            if let Some(else_list) = &branch.else_list {
                return self.walk(dot, else_list);
            }
            return Ok(Flow::Normal);
        }
        let mark = self.vars.len();
        for (index, elem) in items {
            self.check_deadline(pos)?;
            self.set_range_vars(&branch.pipe, index, &elem, pos)?;
            let flow = self.walk(&Some(elem), &branch.list);
            self.vars.truncate(mark);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn set_range_vars(
        &mut self,
        pipe: &Pipe,
        index: Operand,
        elem: &Value,
        pos: usize,
    ) -> Result<(), ExecError> {
        let elem = Some(elem.clone());
        match (pipe.decl.as_slice(), pipe.is_assign) {
            ([], _) => Ok(()),
            ([one], true) => self.set_var(one, elem, pos),
            ([index_var, elem_var], true) => {
                self.set_var(index_var, index, pos)?;
                self.set_var(elem_var, elem, pos)
            }
            ([_], false) => self.set_top_var(1, elem),
            (_, false) => {
                self.set_top_var(1, elem)?;
                self.set_top_var(2, index)
            }
            _ => Err(self.error(pos, "too many range variables")),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Operand) -> Result<(), ExecError> {
        let len = self.vars.len();
        match self.vars.get_mut(len.wrapping_sub(n)) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.error(0, "internal error: no range variable")),
        }
    }

    fn set_var(&mut self, name: &str, value: Operand, pos: usize) -> Result<(), ExecError> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.error(pos, format!("undefined variable: {name}"))),
        }
    }

    fn var_ref(&self, name: &str, pos: usize) -> Result<&Operand, ExecError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| self.error(pos, format!("undefined variable: {name}")))
    }

    fn var_value(&self, name: &str, pos: usize) -> Result<Operand, ExecError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(pos, format!("undefined variable: {name}")))
    }

    fn walk_template(
        &mut self,
        dot: &Operand,
        pos: usize,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> Result<Flow, ExecError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(self.error(pos, format!("no such template {name:?}")));
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => None,
        };
        self.check_deadline(pos)?;
        if self.depth + 1 >= MAX_TEMPLATE_DEPTH {
            return Err(self.error(
                pos,
                format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
            ));
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.template, name.to_owned());
        self.depth += 1;
        let result = self.walk(&new_dot, tree);
        self.depth -= 1;
        self.vars = saved_vars;
        self.template = saved_name;
        result.map(|_| Flow::Normal)
    }

    fn eval_pipeline(&mut self, dot: &Operand, pipe: &Pipe) -> Result<Operand, ExecError> {
        let mut value: Operand = None;
        for (i, cmd) in pipe.cmds.iter().enumerate() {
            let final_arg = if i == 0 { None } else { Some(value.take()) };
            value = self.eval_command(dot, cmd, final_arg)?;
            if value == Some(Value::Nil) {
                value = None;
            }
        }
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone(), pipe.pos)?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(
        &mut self,
        dot: &Operand,
        cmd: &Command,
        final_arg: Option<Operand>,
    ) -> Result<Operand, ExecError> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || final_arg.is_some();
        match &first.kind {
            ArgKind::Field(idents) => {
                if has_args {
                    return self.eval_chain_call(dot, dot, idents, cmd, final_arg);
                }
                return self.eval_field_chain(dot, idents, has_args, first.pos);
            }
            ArgKind::Chain(node, fields) => {
                if let ArgKind::Nil = node.kind {
                    return Err(self.error(first.pos, "indirection through explicit nil"));
                }
                let receiver = self.eval_untyped(dot, node)?;
                if has_args {
                    return self.eval_chain_call(dot, &receiver, fields, cmd, final_arg);
                }
                return self.eval_field_chain(&receiver, fields, has_args, first.pos);
            }
            ArgKind::Ident(name) => {
                return self.eval_function(dot, name, &cmd.args, final_arg, first.pos);
            }
            ArgKind::Pipe(pipe) => {
                self.not_a_function(cmd, &final_arg)?;
                return self.eval_pipeline(dot, pipe);
            }
            ArgKind::Variable(name, fields) => {
                if fields.is_empty() {
                    self.not_a_function(cmd, &final_arg)?;
                    return self.var_value(name, first.pos);
                }
                if has_args {
                    let receiver = self.var_value(name, first.pos)?;
                    return self.eval_chain_call(dot, &receiver, fields, cmd, final_arg);
                }
                let value = self.var_ref(name, first.pos)?;
                return self.eval_field_chain(value, fields, has_args, first.pos);
            }
            _ => {}
        }
        self.not_a_function(cmd, &final_arg)?;
        match &first.kind {
            ArgKind::Bool(b) => Ok(Some(Value::Bool(*b))),
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => Err(self.error(first.pos, "nil is not a command")),
            ArgKind::Number(n) => self.ideal_constant(n, first.pos).map(Some),
            ArgKind::Str(s) => Ok(Some(Value::from(s.clone()))),
            _ => Err(self.error(first.pos, "can't evaluate command")),
        }
    }

    /// A field chain given arguments: a method call on a time or version value, else the
    /// error Go gives for arguments to a field.
    fn eval_chain_call(
        &mut self,
        dot: &Operand,
        receiver: &Operand,
        idents: &[String],
        cmd: &Command,
        final_arg: Option<Operand>,
    ) -> Result<Operand, ExecError> {
        let pos = cmd.args[0].pos;
        let call = (&cmd.args[1..], final_arg);
        if let Some(result) = self.eval_method_call(dot, receiver, idents, call, pos)? {
            return Ok(result);
        }
        self.eval_field_chain(receiver, idents, true, pos)
    }

    fn not_a_function(&self, cmd: &Command, final_arg: &Option<Operand>) -> Result<(), ExecError> {
        if cmd.args.len() > 1 || final_arg.is_some() {
            return Err(self.error(cmd.pos, "can't give argument to non-function"));
        }
        Ok(())
    }

    /// Evaluates an operand with no expected type (the receiver of a chain).
    fn eval_untyped(&mut self, dot: &Operand, arg: &Arg) -> Result<Operand, ExecError> {
        match &arg.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Field(idents) => self.eval_field_chain(dot, idents, false, arg.pos),
            ArgKind::Variable(name, fields) => {
                if fields.is_empty() {
                    return self.var_value(name, arg.pos);
                }
                let value = self.var_ref(name, arg.pos)?;
                self.eval_field_chain(value, fields, false, arg.pos)
            }
            ArgKind::Pipe(pipe) => self.eval_pipeline(dot, pipe),
            ArgKind::Ident(name) => {
                let args = [Arg {
                    pos: arg.pos,
                    kind: ArgKind::Ident(name.clone()),
                }];
                self.eval_function(dot, name, &args, None, arg.pos)
            }
            ArgKind::Chain(node, fields) => {
                let receiver = self.eval_untyped(dot, node)?;
                self.eval_field_chain(&receiver, fields, false, arg.pos)
            }
            _ => self.eval_literal(dot, Param::Any, arg).map(Some),
        }
    }

    /// Walks `.a.b.c` from `receiver` by reference, cloning only the value found (methods
    /// of time and version values produce new values).
    fn eval_field_chain(
        &self,
        receiver: &Operand,
        idents: &[String],
        has_args: bool,
        pos: usize,
    ) -> Result<Operand, ExecError> {
        let last = idents.len().saturating_sub(1);
        let mut current: Option<Cow<'_, Value>> = receiver.as_ref().map(Cow::Borrowed);
        for (i, name) in idents.iter().enumerate() {
            let has_args = i == last && has_args;
            current = Some(match current {
                Some(Cow::Owned(v)) => {
                    Cow::Owned(self.eval_field(Some(&v), name, has_args, pos)?.into_owned())
                }
                Some(Cow::Borrowed(v)) => self.eval_field(Some(v), name, has_args, pos)?,
                None => self.eval_field(None, name, has_args, pos)?,
            });
        }
        Ok(current.map(Cow::into_owned))
    }

    fn eval_field<'v>(
        &self,
        receiver: Option<&'v Value>,
        name: &str,
        has_args: bool,
        pos: usize,
    ) -> Result<Cow<'v, Value>, ExecError> {
        match receiver {
            None => Err(self.error(pos, format!("nil data; no entry for key {name:?}"))),
            Some(Value::Nil) => {
                Err(self.error(pos, format!("nil pointer evaluating interface {{}}.{name}")))
            }
            Some(Value::Map(map) | Value::StringMap(map)) => {
                if has_args {
                    return Err(
                        self.error(pos, format!("{name} is not a method but has arguments"))
                    );
                }
                map.get(name.as_bytes())
                    .map(Cow::Borrowed)
                    .ok_or_else(|| self.error(pos, format!("map has no entry for key {name:?}")))
            }
            Some(Value::Struct(st)) => match st.field(name) {
                Some(value) if !has_args => Ok(Cow::Borrowed(value)),
                Some(_) => Err(self.error(
                    pos,
                    format!("{name} has arguments but cannot be invoked as function"),
                )),
                None => Err(self.error(
                    pos,
                    format!("can't evaluate field {name} in type {}", st.type_name),
                )),
            },
            Some(other) => match methods::lookup(other, name) {
                Some(method) => self
                    .call_method(other, name, &method, Vec::new(), pos)
                    .map(Cow::Owned),
                None => Err(self.error(
                    pos,
                    format!("can't evaluate field {name} in type {}", other.go_type()),
                )),
            },
        }
    }

    fn call_method(
        &self,
        receiver: &Value,
        name: &str,
        method: &Method,
        args: Vec<Value>,
        pos: usize,
    ) -> Result<Value, ExecError> {
        if args.len() != method.params.len() {
            return Err(self.error(
                pos,
                format!(
                    "wrong number of args for {name}: want {} got {}",
                    method.params.len(),
                    args.len()
                ),
            ));
        }
        (method.call)(receiver, &args)
            .map_err(|e| self.error(pos, format!("error calling {name}: {e}")))
    }

    /// `.Format "2006"` and other method calls with arguments on a time or version value:
    /// `None` when the chain does not end in such a method (the caller reports it).
    fn eval_method_call(
        &mut self,
        dot: &Operand,
        receiver: &Operand,
        idents: &[String],
        call: (&[Arg], Option<Operand>),
        pos: usize,
    ) -> Result<Option<Operand>, ExecError> {
        let Some((name, path)) = idents.split_last() else {
            return Ok(None);
        };
        let Some(target) = self.eval_field_chain(receiver, path, false, pos)? else {
            return Ok(None);
        };
        let Some(method) = methods::lookup(&target, name) else {
            return Ok(None);
        };
        let (args, final_arg) = call;
        let count = args.len() + usize::from(final_arg.is_some());
        if count != method.params.len() {
            return Err(self.error(
                pos,
                format!(
                    "wrong number of args for {name}: want {} got {count}",
                    method.params.len()
                ),
            ));
        }
        let mut argv = Vec::with_capacity(count);
        for (arg, param) in args.iter().zip(method.params) {
            argv.push(self.eval_arg(dot, *param, arg)?);
        }
        if let (Some(last), Some(param)) = (final_arg, method.params.last()) {
            argv.push(self.validate(last, *param, pos)?);
        }
        self.call_method(&target, name, &method, argv, pos)
            .map(|v| Some(Some(v)))
    }

    fn eval_function(
        &mut self,
        dot: &Operand,
        name: &str,
        args: &[Arg],
        final_arg: Option<Operand>,
        pos: usize,
    ) -> Result<Operand, ExecError> {
        if name == "and" || name == "or" {
            return self.eval_and_or(dot, name == "or", &args[1..], final_arg, pos);
        }
        let funcs = self.funcs;
        let Some(function) = funcs.get(name) else {
            return Err(self.error(pos, format!("function {name:?} not defined")));
        };
        self.eval_call(dot, name, function, &args[1..], final_arg, pos)
    }

    fn eval_and_or(
        &mut self,
        dot: &Operand,
        is_or: bool,
        args: &[Arg],
        final_arg: Option<Operand>,
        pos: usize,
    ) -> Result<Operand, ExecError> {
        let name = if is_or { "or" } else { "and" };
        if args.is_empty() && final_arg.is_none() {
            return Err(self.error(
                pos,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut value = Value::Nil;
        for arg in args {
            value = self.eval_arg(dot, Param::Reflect, arg)?;
            if value.is_true() == is_or {
                return Ok(Some(value));
            }
        }
        if let Some(last) = final_arg {
            value = self.validate(last, Param::Reflect, pos)?;
        }
        Ok(Some(value))
    }

    fn eval_call(
        &mut self,
        dot: &Operand,
        name: &str,
        function: &Function,
        args: &[Arg],
        final_arg: Option<Operand>,
        pos: usize,
    ) -> Result<Operand, ExecError> {
        let count = args.len() + usize::from(final_arg.is_some());
        let fixed = function.params.len();
        match function.variadic {
            Some(_) if count < fixed => {
                return Err(self.error(
                    pos,
                    format!("wrong number of args for {name}: want at least {fixed} got {count}"),
                ));
            }
            None if count != fixed => {
                return Err(self.error(
                    pos,
                    format!("wrong number of args for {name}: want {fixed} got {count}"),
                ));
            }
            _ => {}
        }
        let param_at = |i: usize| {
            function
                .params
                .get(i)
                .copied()
                .or(function.variadic)
                .unwrap_or(Param::Any)
        };
        let mut argv = Vec::with_capacity(count);
        for (i, arg) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, param_at(i), arg)?);
        }
        if let Some(last) = final_arg {
            argv.push(self.validate(last, param_at(count - 1), pos)?);
        }
        let result = (function.call)(argv)
            .and_then(|value| limits::check_weight(&value).map(|()| value))
            .map_err(|e| {
                let error = self.error(pos, format!("error calling {name}: {e}"));
                ExecError {
                    limit: limits::exceeded().is_some(),
                    ..error
                }
            })?;
        self.write_back_mutated_map(name, args.first(), &result, pos)?;
        Ok(Some(result))
    }

    /// Go maps are shared references, so Sprig's `set`, `unset` and `merge*` change the map a
    /// variable holds (`{{ $_ := set $d "k" "v" }}`). keyward's values are copies: when the
    /// map argument is a plain variable, the changed map is stored back into it.
    fn write_back_mutated_map(
        &mut self,
        name: &str,
        first: Option<&Arg>,
        result: &Value,
        pos: usize,
    ) -> Result<(), ExecError> {
        if !MAP_MUTATORS.contains(&name) || !matches!(result, Value::Map(_)) {
            return Ok(());
        }
        match first.map(|a| &a.kind) {
            Some(ArgKind::Variable(var, fields)) if fields.is_empty() => {
                self.set_var(var, Some(result.clone()), pos)
            }
            _ => Ok(()),
        }
    }

    fn eval_arg(&mut self, dot: &Operand, param: Param, arg: &Arg) -> Result<Value, ExecError> {
        let value =
            match &arg.kind {
                ArgKind::Dot => dot.clone(),
                ArgKind::Nil => {
                    return match param {
                        Param::Any | Param::Map | Param::Reflect => Ok(Value::Nil),
                        _ => Err(self
                            .error(arg.pos, format!("cannot assign nil to {}", param.go_type()))),
                    };
                }
                ArgKind::Field(_)
                | ArgKind::Variable(..)
                | ArgKind::Pipe(_)
                | ArgKind::Ident(_)
                | ArgKind::Chain(..) => self.eval_untyped(dot, arg)?,
                _ => return self.eval_literal(dot, param, arg),
            };
        self.validate(value, param, arg.pos)
    }

    fn eval_literal(&self, dot: &Operand, param: Param, arg: &Arg) -> Result<Value, ExecError> {
        let found = |what: &str| {
            self.error(
                arg.pos,
                format!("expected {what}; found a different constant"),
            )
        };
        match (param, &arg.kind) {
            (Param::Bool, ArgKind::Bool(b)) => Ok(Value::Bool(*b)),
            (Param::Bool, _) => Err(found("bool")),
            (Param::Int, ArgKind::Number(n)) if n.int.is_some() => {
                Ok(Value::Int(n.int.unwrap_or(0)))
            }
            (Param::Int, _) => Err(found("integer")),
            (Param::Str, ArgKind::Str(s)) => Ok(Value::from(s.clone())),
            (Param::Str, _) => Err(found("string")),
            (Param::Any | Param::Reflect, ArgKind::Bool(b)) => Ok(Value::Bool(*b)),
            (Param::Any | Param::Reflect, ArgKind::Str(s)) => Ok(Value::from(s.clone())),
            (Param::Any | Param::Reflect, ArgKind::Number(n)) => self.ideal_constant(n, arg.pos),
            (Param::Any | Param::Reflect, ArgKind::Dot) => Ok(dot.clone().unwrap_or(Value::Nil)),
            (Param::Map | Param::Time | Param::Struct(_), _) => Err(self.error(
                arg.pos,
                format!(
                    "can't handle a constant for arg of type {}",
                    param.go_type()
                ),
            )),
            _ => Err(self.error(arg.pos, "can't handle argument")),
        }
    }

    fn ideal_constant(&self, n: &Number, pos: usize) -> Result<Value, ExecError> {
        let text = n.text.as_str();
        let is_hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        if let Some(f) = n.float
            && !is_hex_int
            && !n.is_rune
            && text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        Err(self.error(pos, format!("{text} overflows int")))
    }

    /// Go's `validateType`: may `value` be passed where `param` is expected?
    fn validate(&self, value: Operand, param: Param, pos: usize) -> Result<Value, ExecError> {
        let Some(value) = value else {
            return match param {
                Param::Any | Param::Map | Param::Reflect => Ok(Value::Nil),
                _ => Err(self.error(pos, format!("invalid value; expected {}", param.go_type()))),
            };
        };
        let fits = matches!(
            (param, &value),
            (Param::Any | Param::Reflect, _)
                | (Param::Str, Value::String(_))
                | (Param::Int, Value::Int(_))
                | (Param::Bool, Value::Bool(_))
                | (Param::Map, Value::Map(_))
                | (Param::Time, Value::Time(_))
        );
        let fits = fits
            || matches!((param, &value), (Param::Struct(name), Value::Struct(st)) if st.type_name == name);
        if !fits {
            return Err(self.error(
                pos,
                format!(
                    "wrong type for value; expected {}; got {}",
                    param.go_type(),
                    go_type_of_interface(&value)
                ),
            ));
        }
        Ok(value)
    }
}

fn go_type_of_interface(value: &Value) -> &'static str {
    match value {
        Value::Nil => "interface {}",
        other => other.go_type(),
    }
}
