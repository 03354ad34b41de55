//! Input from manifests must never panic the engine (STYLE: no panic on input): seeded
//! random strings over the template alphabet are parsed and rendered; each must return
//! `Ok` or `Err`, never unwind.

#[allow(dead_code)] // this test uses only the standard data of the shared corpus module
use std::time::Duration;

use keyward_template::{Budget, Limits, Template, Value};

/// A short time budget per render: generated loops may run until their deadline.
fn quick() -> Budget {
    Budget::new(Limits::with_time_budget(Duration::from_millis(200)))
}

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    ".",
    ".s",
    ".m",
    ".list",
    ".nil",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"",
    "\"a\"",
    "`",
    "'",
    "'a'",
    "1",
    "-1",
    "1.5",
    "0x",
    "1e",
    "e",
    ",",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "/*",
    "*/",
    "printf",
    "\"%",
    "%d",
    "index",
    "slice",
    "len",
    "and",
    "or",
    "eq",
    "lt",
    "trunc",
    "substr",
    "b64dec",
    "toJson",
    "fromJson",
    "split",
    "now",
    "toDate",
    "\"2006-01-02 Z07:00 .999\"",
    "date",
    "dateInZone",
    "\"Asia/Kathmandu\"",
    "dateModify",
    "ago",
    ".Format",
    ".Unix",
    "semver",
    "semverCompare",
    "\"^1.x || 2 - 3\"",
    ".Major",
    ".Original",
    "é",
    "\\",
    "_",
    "0",
    "9999999999999999999999",
    // Hostile sizes and formats (issue 12): huge counts, widths and precisions.
    "repeat",
    "100000",
    "2000000000",
    "\"%.65536f\"",
    "\"%2000000000d\"",
    "\"%*d\"",
    "\"%[3]*.[2]*[1]f\"",
    "randAlphaNum",
    "until",
    "untilStep",
    "indent",
    "replace",
    "list",
    "print",
];

#[test]
fn arbitrary_templates_never_panic() {
    let data = Value::from_json(&crate::corpus::standard_data());
    let mut state: u64 = 0x1234_5678_9ABC_DEF0;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut parsed, mut rendered) = (0, 0);
    for _ in 0..50_000 {
        let len = next() % 12 + 1;
        let text: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        if let Ok(template) = Template::parse("fuzz", &text) {
            parsed += 1;
            if template.render_within(&data, &mut quick()).is_ok() {
                rendered += 1;
            }
        }
    }
    assert!(
        parsed > 1_000,
        "the generator should produce valid templates too ({parsed})"
    );
    assert!(rendered > 500, "and some that render ({rendered})");
}

#[test]
fn unbounded_recursion_is_an_error_not_a_stack_overflow() {
    let text = "{{ define \"a\" }}{{ if . }}{{ template \"a\" (list (index . 0) 1) }}{{ end }}{{ end }}{{ template \"a\" (list 1) }}";
    let error =
        keyward_template::render("deep", text, &Value::Nil).expect_err("recursion must stop");
    assert!(error.message.contains("maximum template depth"), "{error}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(50_000), ")".repeat(50_000));
    let ifs = format!(
        "{}x{}",
        "{{ if 1 }}".repeat(50_000),
        "{{ end }}".repeat(50_000)
    );
    for text in [parens, ifs] {
        let error = Template::parse("deep", &text).expect_err("nesting must be bounded");
        assert!(
            error.message.contains("nested too deeply")
                || error.message.contains("max expression depth exceeded"),
            "{error}"
        );
    }
}

#[test]
fn recursion_through_nested_control_structures_is_bounded() {
    let nested = "{{ if 1 }}".repeat(5_000);
    let ends = "{{ end }}".repeat(5_000);
    let text = format!(
        "{{{{ define \"a\" }}}}{nested}{{{{ template \"a\" . }}}}{ends}{{{{ end }}}}{{{{ template \"a\" 1 }}}}"
    );
    let error =
        keyward_template::render("deep", &text, &Value::Nil).expect_err("recursion must stop");
    assert!(
        error.message.contains("too deeply") || error.message.contains("maximum template depth"),
        "{error}"
    );
}
