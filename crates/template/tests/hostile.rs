//! Hostile templates: each must fail alone with a clear error (or render as Go does), never
//! panic, abort the process, overflow the stack or run without end. Regression tests for the
//! engine's bounds ([`Limits`]: 1 MiB for any string, list and the output, and a deadline).

use std::time::{Duration, Instant};

use keyward_template::{Budget, Limits, Stage, Template, TemplateError, Value};

fn render(text: &str) -> Result<String, TemplateError> {
    keyward_template::render("hostile", text, &Value::Nil)
}

fn limit_error(text: &str) -> TemplateError {
    let error = render(text).expect_err("the template must be refused");
    assert_eq!(error.stage, Stage::Limit, "{text}: {error}");
    error
}

#[test]
fn printf_with_a_huge_precision_renders_like_go_instead_of_panicking() {
    let out = render(r#"{{ printf "%.65536f" 1.0 }}"#).expect("Go prints 1. and 65536 zeros");
    assert_eq!(out.len(), 65538);
    assert!(out.starts_with("1.000") && out.bytes().skip(2).all(|b| b == b'0'));
    let out = render(r#"{{ printf "%.70000e|%.70000g" 1.5 1.5 }}"#).expect("renders");
    assert!(out.ends_with("e+00|1.5"), "{}", &out[out.len() - 20..]);
}

#[test]
fn printf_widths_past_go_bound_print_noverb_like_go() {
    assert_eq!(
        render(r#"{{ printf "%2000000000d" 1 }}"#).expect("renders"),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
    assert_eq!(
        render(r#"{{ printf "%*d|%.*d" 2000000000 1 -1 2 }}"#).expect("renders"),
        "%!(BADWIDTH)1|%!(BADPREC)2"
    );
}

#[test]
fn nested_repeat_fails_alone_instead_of_aborting() {
    let error = limit_error(r#"{{ repeat 100000 (repeat 100000 "x") }}"#);
    assert_eq!(error.message, "error calling repeat: result exceeds 1 MiB");
}

#[test]
fn string_builders_refuse_before_allocating_past_the_cap() {
    for text in [
        "{{ randAlphaNum 2000000000 }}",
        "{{ randBytes 2000000000 }}",
        "{{ until 2000000000 }}",
        "{{ untilStep 0 2000000000 1 }}",
        "{{ seq 2000000000 }}",
        r#"{{ indent 2000000000 "x" }}"#,
        r#"{{ nindent 600000 "a\nb" }}"#,
        r#"{{ replace "" (repeat 1000 "y") (repeat 2000 "x") }}"#,
        r#"{{ regexReplaceAll "" (repeat 2000 "x") (repeat 1000 "y") }}"#,
        r#"{{ join (repeat 1000 "-") (until 2000) }}"#,
        r#"{{ wrapWith 1 (repeat 1000 "-") (repeat 2000 "x") }}"#,
        r#"{{ printf "%1000000d%1000000d" 1 2 }}"#,
        r#"{{ printf "%900000v" (list 1 2) }}"#,
        r#"{{ $s := "xxxxxxxx" }}{{ range until 20 }}{{ $s = print $s $s }}{{ end }}"#,
        r#"{{ $l := list 1 }}{{ range until 25 }}{{ $l = concat $l $l }}{{ end }}"#,
    ] {
        let error = limit_error(text);
        assert!(error.message.contains("exceeds 1 MiB"), "{text}: {error}");
    }
}

#[test]
fn an_empty_step_range_is_empty_as_in_go_not_refused() {
    assert_eq!(
        render("{{ untilStep 0 2000000000 -1 }}").expect("renders"),
        "[]"
    );
}

#[test]
fn output_past_the_cap_is_refused() {
    let error =
        limit_error(r#"{{ $x := repeat 1000 "x" }}{{ range until 2000 }}{{ $x }}{{ end }}"#);
    assert_eq!(error.message, "output exceeds 1 MiB");
}

#[test]
fn renders_sharing_a_budget_share_its_output_and_deadline() {
    let data = Value::Nil;
    let half = Template::parse("half", r#"{{ repeat 600000 "x" }}"#).expect("parses");
    let mut budget = Budget::new(Limits::default());
    assert_eq!(
        half.render_within(&data, &mut budget).expect("fits").len(),
        600_000
    );
    let error = half
        .render_within(&data, &mut budget)
        .expect_err("the second half does not fit");
    assert_eq!(error.stage, Stage::Limit);
    assert_eq!(error.message, "output exceeds 1 MiB");

    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let error = half
        .render_within(&data, &mut Budget::new(small))
        .expect_err("over a 100-byte cap");
    assert!(error.message.contains("exceeds 100 bytes"), "{error}");
}

#[test]
fn endless_loops_stop_at_the_deadline() {
    let passed = Limits {
        deadline: Instant::now() - Duration::from_millis(1),
        ..Limits::default()
    };
    for text in [
        "{{ range 2000000000 }}x{{ end }}",
        "{{ range $i, $e := until 1000000 }}{{ end }}",
        r#"{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" 1 }}"#,
        "{{ until 1000000 | uniq | len }}",
    ] {
        let template = Template::parse("loop", text).expect("parses");
        let error = template
            .render_within(&Value::Nil, &mut Budget::new(passed))
            .expect_err("the deadline has passed");
        assert_eq!(error.stage, Stage::Limit, "{text}: {error}");
        assert!(error.message.contains("deadline"), "{text}: {error}");
    }
}

#[test]
fn control_structures_nest_ten_thousand_deep() {
    let depth = 10_000;
    let ifs = format!(
        "{}x{}",
        "{{ if 1 }}".repeat(depth),
        "{{ end }}".repeat(depth)
    );
    assert_eq!(render(&ifs).expect("Go renders this"), "x");
    let ranges = format!(
        "{}x{}",
        "{{ range list 1 }}".repeat(depth),
        "{{ end }}".repeat(depth)
    );
    assert_eq!(render(&ranges).expect("Go renders this"), "x");
    let deeper = format!("{{{{ if 1 }}}}{ifs}{{{{ end }}}}");
    let error = Template::parse("deep", &deeper).expect_err("past keyward's bound");
    assert!(error.message.contains("nested too deeply"), "{error}");
}

#[test]
fn parentheses_nest_to_go_bound() {
    let depth = 10_000;
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(render(&parens).expect("within Go's maxStackDepth"), "1");
    let deeper = format!(
        "{{{{ {}1{} }}}}",
        "(".repeat(depth + 1),
        ")".repeat(depth + 1)
    );
    let error = Template::parse("deep", &deeper).expect_err("past Go's maxStackDepth");
    assert!(
        error.message.contains("max expression depth exceeded"),
        "{error}"
    );
}

#[test]
fn template_recursion_stops_at_go_depth() {
    let text = r#"{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" 1 }}"#;
    let error = render(text).expect_err("recursion must stop");
    assert!(
        error
            .message
            .contains("exceeded maximum template depth (100000)"),
        "{error}"
    );
}

#[test]
fn deeply_nested_values_print_and_drop_without_overflow() {
    let depth = 9_000;
    let text = format!(
        "{{{{ {}list{} }}}}",
        "list (".repeat(depth),
        ")".repeat(depth)
    );
    let out = render(&text).expect("renders");
    assert_eq!(out.len(), 2 * (depth + 1));
    let looped = "{{ $x := list }}{{ range until 1000 }}{{ $x = list $x }}{{ end }}{{ $x }}";
    assert_eq!(render(looped).expect("renders").len(), 2 * 1001);
}

/// `fromYaml` of a data value with `key` = `document`, under the default limits.
fn from_yaml_of(document: &str, template: &str) -> Result<String, TemplateError> {
    let data = Value::from_string_map([("doc", document)]);
    Template::parse("hostile", template)?.render(&data)
}

#[test]
fn from_yaml_alias_bombs_stop_at_go_yamls_aliasing_ratio() {
    // The "billion laughs": nine levels of ten aliases each. go-yaml v2 refuses it as
    // excessive aliasing; keyward must too, quickly and without expanding it.
    let mut document =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
            .to_owned();
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let (previous, next) = (pair[0], pair[1]);
        let aliases = vec![format!("*{previous}"); 10].join(",");
        document.push_str(&format!("{next}: &{next} [{aliases}]\n"));
    }
    let started = Instant::now();
    let out = from_yaml_of(&document, "{{ (fromYaml .doc).Error }}").expect("renders");
    assert_eq!(
        out,
        "error converting YAML to JSON: yaml: document contains excessive aliasing"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn from_yaml_aliases_of_a_large_string_stop_at_the_size_cap() {
    // A 100 KiB string aliased 100 times is 10 MiB of decoded text: Go shares the string,
    // keyward would copy it, so the 1 MiB cap stops the render instead.
    let big = "x".repeat(100 * 1024);
    let aliases = vec!["*s"; 100].join(", ");
    let document = format!("s: &s {big}\nl: [{aliases}]\n");
    let error = from_yaml_of(&document, "{{ len (fromYaml .doc) }}")
        .expect_err("the decoded document exceeds 1 MiB");
    assert_eq!(error.stage, Stage::Limit, "{error}");
}

#[test]
fn from_yaml_nesting_stops_at_ten_thousand_instead_of_overflowing_the_stack() {
    // Block sequences nested on one line: `- - - … x`.
    let nested = |depth: usize| format!("a:\n  {}x\n", "- ".repeat(depth));
    let out = from_yaml_of(&nested(200_000), "{{ (fromYaml .doc).Error }}").expect("renders");
    assert_eq!(
        out,
        "error converting YAML to JSON: yaml: exceeded max depth of 10000"
    );
    let out =
        from_yaml_of(&nested(9_000), "{{ hasKey (fromYaml .doc) \"Error\" }}").expect("renders");
    assert_eq!(out, "false");
    // Flow collections nest at most 255 deep in yaml-rust2 (a documented deviation):
    // deeper ones fail in the map, without harm.
    let flow = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let out = from_yaml_of(&flow, "{{ hasKey (fromYaml .doc) \"Error\" }}").expect("renders");
    assert_eq!(out, "true");
}

#[test]
fn from_yaml_of_an_anchor_that_contains_itself_fails_in_the_map() {
    let out = from_yaml_of("a: &x [1, *x]\n", "{{ (fromYaml .doc).Error }}").expect("renders");
    assert!(out.contains("contains itself"), "{out}");
}
