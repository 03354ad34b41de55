//! Go `text/template` with the Sprig v3 function map, as External Secrets Operator renders
//! `ExternalSecret.spec.target.template`: the same bytes out, or an error where ESO fails.
//!
//! This crate owns the template language (lexer, parser and executor following Go's
//! `text/template`, `missingkey=error`), Go's `fmt` output for values, and the Sprig
//! functions: all of those ESO gives templates. It does no I/O and knows
//! nothing about Kubernetes: callers hand it a template text and a [`Value`].
//!
//! Errors ([`TemplateError`]) name the template and a line:column and never contain a data
//! value: data are secrets. Rendered output of course does; callers decide who sees it.
//!
//! Proven against Go: `tests/differential.rs` renders a corpus (generated cases for every
//! construct and function, plus ESO's documentation snippets) with both engines and requires
//! identical bytes and agreement on failures; `fuzz/` (cargo-fuzz, its own workspace) compares
//! generated templates and data with Go the same way. `docs/template.md` lists the supported
//! functions. Known deviations from Go, by design or not yet
//! closed:
//!
//! - Random keys, serials and salts (Sprig's certificate generators, `pemToPkcs12*`) are
//!   proven by round trips and by Go reading keyward's output, not byte for byte.
//! - Maps are values, not shared references: `set`, `unset` and `merge*` write their result
//!   back only into a plain variable argument (`{{ $_ := set $d "k" "v" }}`), not into a map
//!   reached through a field or held by two variables.
//! - Every render is bounded ([`Limits`]): no string, list or output past 1 MiB (a Secret's
//!   size), no work past a deadline; Go has no such bounds. Control structures nest at most
//!   10,000 deep (Go: no bound); parentheses (10,000) and template recursion (100,000) stop
//!   where Go's do. Complex-number literals are refused;
//!   `printf "%p"` of a list or map prints `%!p(address unavailable in keyward)` where Go
//!   prints a heap address (`%T` and `%U` follow Go); Go's `[]string` (Sprig's `splitList`,
//!   `keys`, `sortAlpha`, … results) is modelled as `[]interface {}`, so `typeOf` and `%#v`
//!   differ there. The `map[string]string` of ESO's data ([`Value::StringMap`], as
//!   [`Value::from_string_map`] builds it) and of `split` is typed as in Go.
//! - `time.Time` and `*semver.Version` values (from Sprig's date functions and `semver`)
//!   support the methods templates commonly call, not all of Go's (docs/template.md lists
//!   them).
//! - ESO's `toYaml` matches sigs.k8s.io/yaml byte for byte (quoting, block scalars, folding at
//!   column 80, go-yaml's key order); `fromYaml` reads YAML 1.1 as go-yaml v2 does (unquoted
//!   `y`, `yes`, `on`, `off` are booleans). Its syntax errors come from yaml-rust2, a libyaml
//!   port like go-yaml: the common ones read as go-yaml's, rarer ones may be worded
//!   differently; sequences and maps nest at most 10,000 deep, flow collections 255 (go-yaml
//!   v2: no bound).
//!
//! ```
//! use keyward_template::{Template, Value};
//!
//! let data = Value::from_string_map([("user", "admin"), ("password", "s3cret")]);
//! let template = Template::parse("auth", r#"{{ printf "%s:%s" .user .password | b64enc }}"#)?;
//! assert_eq!(template.render(&data)?, "YWRtaW46czNjcmV0");
//!
//! let failing = Template::parse("auth", "{{ .missing }}")?;
//! let error = failing.render(&data).unwrap_err();
//! assert_eq!(error.to_string(), r#"template "auth" 1:4: executing: map has no entry for key "missing""#);
//! # Ok::<(), keyward_template::TemplateError>(())
//! ```

mod error;
mod exec;
mod funcs;
mod gofmt;
mod gostring;
mod gotime;
mod lex;
mod limits;
mod methods;
mod parse;
mod registry;
mod semver;
mod sprig;
mod value;

use std::collections::HashMap;

pub use error::{Stage, TemplateError};
pub use gostring::GoString;
pub use gotime::GoTime;
pub use limits::{Budget, DEFAULT_MAX_BYTES, DEFAULT_TIME_BUDGET, Limits};
pub use semver::Version as SemverVersion;
pub use value::{GoStruct, IntType, TypedInt, Value};

use error::line_column;
use parse::List;
use registry::FuncMap;

/// The stack of the thread a template is parsed and executed on. Go grows a goroutine's
/// stack up to 1 GiB, so templates nest and recurse far deeper than a default 2 MiB thread
/// stack allows; this much address space is reserved, and only the pages a deep template
/// touches are ever backed by memory.
const STACK_SIZE: usize = 1 << 30;

/// Runs `work` on a thread with a [`STACK_SIZE`] stack, so that deep nesting and recursion
/// (bounded by the parser and executor at Go's own limits) cannot overflow the caller's
/// stack; a panic inside it (a bug) becomes an error of this template alone.
fn on_template_thread<T: Send>(
    name: &str,
    work: impl FnOnce() -> Result<T, TemplateError> + Send,
) -> Result<T, TemplateError> {
    let internal = |message: &str| TemplateError {
        stage: Stage::Execute,
        template: name.to_owned(),
        line: 1,
        column: 1,
        message: message.to_owned(),
    };
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("keyward-template".to_owned())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, work)
            .map_err(|_| internal("could not start the template thread"))?;
        handle
            .join()
            .map_err(|_| internal("internal error: the template engine failed (a bug)"))?
    })
}

/// A parsed template: the main body and every `define`d or `block` sub-template.
#[derive(Debug)]
pub struct Template {
    name: String,
    source: String,
    trees: HashMap<String, List>,
}

/// Nesting beyond which a parse tree is dropped on the template thread: dropping recurses
/// once per level, and the caller's stack may be small.
const SHALLOW_NESTING: usize = 256;

impl Drop for Template {
    fn drop(&mut self) {
        // Every level of nesting needs an action (`{{`) or a parenthesis: their count bounds
        // the depth without walking the tree.
        let bound = self.source.matches("{{").count() + self.source.matches('(').count();
        if bound > SHALLOW_NESTING {
            let trees = std::mem::take(&mut self.trees);
            let _ = on_template_thread(&self.name, move || {
                drop(trees);
                Ok(())
            });
        }
    }
}

impl Template {
    /// Parses `text` as the template called `name`.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        on_template_thread(name, || Template::parse_here(name, text))
    }

    fn parse_here(name: &str, text: &str) -> Result<Template, TemplateError> {
        let funcs = FuncMap::global();
        let trees = parse::parse(name, text, &|f| funcs.check(f)).map_err(|e| {
            let (line, column) = line_column(text, e.pos);
            TemplateError {
                stage: Stage::Parse,
                template: name.to_owned(),
                line,
                column,
                message: e.message,
            }
        })?;
        Ok(Template {
            name: name.to_owned(),
            source: text.to_owned(),
            trees,
        })
    }

    /// Executes the template with `data` as its dot, within the default [`Limits`] (1 MiB,
    /// [`DEFAULT_TIME_BUDGET`]), for a caller that needs text (a key name, a label): output
    /// that is not UTF-8 fails. [`Template::render_bytes`] gives any output.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let out = self.render_bytes(data)?;
        match out.as_str() {
            Some(text) => Ok(text.to_owned()),
            None => Err(TemplateError {
                stage: Stage::Execute,
                template: self.name.clone(),
                line: 1,
                column: 1,
                message: "the output is not UTF-8 text".to_owned(),
            }),
        }
    }

    /// Executes the template with `data` as its dot, within the default [`Limits`]: the
    /// bytes it writes, as Go's `Execute` writes them (a binary value comes out unchanged).
    pub fn render_bytes(&self, data: &Value) -> Result<GoString, TemplateError> {
        self.render_within(data, &mut Budget::new(Limits::default()))
    }

    /// Executes the template with `data` as its dot within what is left of `budget`: no
    /// string or list larger than its `max_bytes`, no more output than it has left (which is
    /// then spent), no work past its deadline. Exceeding one fails with
    /// [`Stage::Limit`].
    pub fn render_within(
        &self,
        data: &Value,
        budget: &mut Budget,
    ) -> Result<GoString, TemplateError> {
        let (limits, output_left) = (budget.limits(), budget.output_left());
        let out = on_template_thread(&self.name, || self.execute(data, limits, output_left))?;
        budget.spend(out.len());
        Ok(out)
    }

    fn execute(
        &self,
        data: &Value,
        limits: Limits,
        output_left: usize,
    ) -> Result<GoString, TemplateError> {
        let _active = limits::activate(limits);
        let mut exec = exec::Exec::new(
            &self.trees,
            FuncMap::global(),
            &self.name,
            data,
            output_left,
        );
        match exec.run(data) {
            Ok(()) => Ok(std::mem::take(&mut exec.out)),
            Err(e) => {
                let (line, column) = line_column(&self.source, e.pos);
                let stage = if e.limit {
                    Stage::Limit
                } else {
                    Stage::Execute
                };
                Err(TemplateError {
                    stage,
                    template: e.template,
                    line,
                    column,
                    message: e.message,
                })
            }
        }
    }
}

/// Parses and renders in one step, within the default [`Limits`].
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse(name, text)?.render(data)
}

/// Every function name a template may call, sorted.
pub fn function_names() -> Vec<&'static str> {
    FuncMap::global().names()
}
