//! Differential test: every corpus case is rendered by keyward and by Go (tools/gotemplate,
//! text/template + Sprig v3 as ESO configures it, in one batch process); outputs must be
//! byte-identical and both must agree on which cases fail.

mod corpus;

use std::process::Command;

use base64::Engine;
use keyward_template::{Template, Value};
use keyward_test_support::Tools;
use serde_json::{Value as Json, json};

use corpus::Case;

const MINIMUM_CASES: usize = 500;

/// What one engine made of one case.
#[derive(Debug, PartialEq)]
enum Outcome {
    Output(Vec<u8>),
    Error(String),
}

fn render_with_keyward(case: &Case) -> Outcome {
    let data = Value::from_json(&case.data);
    match Template::parse("template", &case.template).and_then(|t| t.render(&data)) {
        Ok(out) => Outcome::Output(out.into_bytes()),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

fn render_with_go(cases: &[Case]) -> Vec<Outcome> {
    let tools =
        Tools::find().expect("the Go reference renderer is installed (scripts/peers install)");
    let batch: Vec<Json> = cases
        .iter()
        .map(|c| json!({"template": c.template, "data": c.data}))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&batch).expect("cases serialise"))
        .expect("write cases");
    let output = Command::new(&tools.gotemplate)
        .arg("-batch")
        .arg(&path)
        .output()
        .expect("gotemplate runs");
    assert!(
        output.status.success(),
        "gotemplate -batch failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Json> =
        serde_json::from_slice(&output.stdout).expect("gotemplate prints a JSON array");
    assert_eq!(results.len(), cases.len(), "one result per case");
    results.iter().map(go_outcome).collect()
}

fn go_outcome(result: &Json) -> Outcome {
    if let Some(encoded) = result.get("output_b64").and_then(Json::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("gotemplate output is base64");
        return Outcome::Output(bytes);
    }
    Outcome::Error(
        result
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned(),
    )
}

fn agree(ours: &Outcome, go: &Outcome) -> bool {
    match (ours, go) {
        (Outcome::Output(a), Outcome::Output(b)) => a == b,
        (Outcome::Error(_), Outcome::Error(_)) => true,
        _ => false,
    }
}

fn uses_unsupported_function(case: &Case) -> bool {
    matches!(
        Template::parse("template", &case.template),
        Err(e) if e.message.contains("not implemented by keyward")
    )
}

fn corpus_cases() -> Vec<Case> {
    let mut cases = corpus::generated();
    match corpus::eso_snippets() {
        Ok(snippets) => cases.extend(snippets),
        Err(reason) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the ESO corpus is missing under CI: {reason}"
            );
            eprintln!("ESO corpus missing ({reason}); running the generated cases only");
        }
    }
    cases
}

#[test]
fn keyward_renders_every_corpus_case_like_go() {
    let (unsupported, cases): (Vec<Case>, Vec<Case>) = corpus_cases()
        .into_iter()
        .partition(uses_unsupported_function);
    let go = render_with_go(&cases);
    let mut disagreements = Vec::new();
    let mut binary = Vec::new();
    let mut errors = 0;
    for (case, go_outcome) in cases.iter().zip(&go) {
        if let Outcome::Output(bytes) = go_outcome
            && std::str::from_utf8(bytes).is_err()
        {
            // keyward renders to UTF-8 text; Go's output here holds raw bytes (a decoded
            // binary value). Reported, not compared: a known limitation.
            binary.push(case.name.clone());
            continue;
        }
        let ours = render_with_keyward(case);
        if matches!(go_outcome, Outcome::Error(_)) {
            errors += 1;
        }
        if !agree(&ours, go_outcome) {
            disagreements.push(format!(
                "{}\n    keyward: {ours:?}\n    go:      {go_outcome:?}",
                case.name
            ));
        }
    }
    let compared = cases.len() - binary.len();
    eprintln!(
        "differential: {compared} cases compared ({errors} of them errors in Go), {} skipped for unsupported functions, {} skipped for binary output, {} disagreements",
        unsupported.len(),
        binary.len(),
        disagreements.len()
    );
    for name in &binary {
        eprintln!("  skipped (Go output is not UTF-8): {name}");
    }
    for case in &unsupported {
        eprintln!("  skipped (unsupported function): {}", case.name);
    }
    assert!(compared >= MINIMUM_CASES, "only {compared} cases compared");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// The random functions (`randAlpha`, `uuidv4`, …) cannot agree on bytes; keyward and Go must
/// agree on their shape: length, character set, and which calls fail.
#[test]
fn random_functions_have_go_shape() {
    let cases: Vec<Case> = [
        ("{{ randAlpha 20 }}", "alpha"),
        ("{{ randAlphaNum 33 }}", "alnum"),
        ("{{ randNumeric 7 }}", "digits"),
        ("{{ randAscii 50 }}", "ascii"),
        ("{{ randAlpha 0 }}{{ randAlpha -2 }}", "alpha"),
        ("{{ randInt 3 9 }}", "digits"),
        ("{{ randInt -5 -4 }}", "any"),
        ("{{ randInt 5 5 }}", "any"),
        ("{{ randBytes 24 }}", "base64"),
        ("{{ randBytes 0 }}", "base64"),
        ("{{ randBytes -1 }}", "any"),
        ("{{ uuidv4 }}", "uuid"),
        ("{{ shuffle \"hello wörld\" | len }}", "digits"),
    ]
    .iter()
    .map(|(t, shape)| Case {
        name: (*shape).to_owned(),
        template: (*t).to_owned(),
        data: json!({}),
    })
    .collect();
    let go = render_with_go(&cases);
    for (case, go_outcome) in cases.iter().zip(&go) {
        let ours = render_with_keyward(case);
        match (&ours, go_outcome) {
            (Outcome::Output(a), Outcome::Output(b)) => {
                let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
                assert_eq!(
                    a.chars().count(),
                    b.chars().count(),
                    "{}: length",
                    case.template
                );
                assert!(
                    has_shape(&a, &case.name),
                    "{}: keyward {a:?}",
                    case.template
                );
                assert!(has_shape(&b, &case.name), "{}: go {b:?}", case.template);
            }
            (Outcome::Error(_), Outcome::Error(_)) => {}
            _ => panic!("{}: keyward {ours:?}, go {go_outcome:?}", case.template),
        }
    }
}

/// Set in the child processes of [`date_cases_agree_in_other_local_zones`].
const TZ_CHILD: &str = "KEYWARD_TEMPLATE_TZ_CHILD";

/// Local zones the date cases are also run in: DST both ways, half-hour and 30-minute-DST
/// offsets, `TZ=""` (Go: UTC) and a zone Go cannot load (Go: UTC too).
const OTHER_LOCAL_ZONES: [&str; 6] = [
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    ":Europe/Dublin",
    "",
    "Nowhere/Special",
];

/// Sprig's `date`, `toDate` and `now` use Go's `time.Local`. keyward reads the process's
/// `TZ` once, so each zone runs in a child process of this test binary (and its Go
/// renderer inherits the same `TZ`).
#[test]
fn date_cases_agree_in_other_local_zones() {
    if std::env::var_os(TZ_CHILD).is_some() {
        let cases = corpus::dates::cases();
        let go = render_with_go(&cases);
        let disagreements: Vec<String> = cases
            .iter()
            .zip(&go)
            .filter_map(|(case, go_outcome)| {
                let ours = render_with_keyward(case);
                (!agree(&ours, go_outcome)).then(|| {
                    format!(
                        "{}\n    keyward: {:?}\n    go:      {go_outcome:?}",
                        case.name,
                        String::from_utf8_lossy(match &ours {
                            Outcome::Output(b) => b,
                            Outcome::Error(e) => e.as_bytes(),
                        })
                    )
                })
            })
            .collect();
        eprintln!(
            "date corpus: {} cases, {} disagreements with TZ={:?}",
            cases.len(),
            disagreements.len(),
            std::env::var("TZ").unwrap_or_default()
        );
        assert!(
            disagreements.is_empty(),
            "TZ={:?}: {} disagreements:\n{}",
            std::env::var("TZ").unwrap_or_default(),
            disagreements.len(),
            disagreements.join("\n")
        );
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    for zone in OTHER_LOCAL_ZONES {
        let output = Command::new(&exe)
            .args([
                "date_cases_agree_in_other_local_zones",
                "--exact",
                "--nocapture",
            ])
            .env("TZ", zone)
            .env(TZ_CHILD, "1")
            .output()
            .expect("the test binary runs");
        eprint!(
            "{}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .filter(|l| l.starts_with("date corpus:"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
        assert!(
            output.status.success(),
            "TZ={zone:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn has_shape(s: &str, shape: &str) -> bool {
    match shape {
        "alpha" => s.chars().all(|c| c.is_ascii_alphabetic()),
        "alnum" => s.chars().all(|c| c.is_ascii_alphanumeric()),
        "digits" => s.chars().all(|c| c.is_ascii_digit() || c == '-'),
        "ascii" => s.chars().all(|c| (' '..='~').contains(&c)),
        "base64" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "uuid" => {
            s.len() == 36
                && s.chars().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    14 => c == '4',
                    _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
                })
        }
        _ => true,
    }
}
