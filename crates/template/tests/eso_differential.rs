//! Differential tests against ESO's own template package: every corpus case is rendered by
//! keyward and by ESO, and outputs must be byte-identical and both must agree on failures.
//!
//! The reference is ESO's own template package (`pkg/template/v2` of the version pinned in
//! scripts/peers.versions, through tools/esotemplate), fed the data as ESO types it: a
//! Secret's `map[string][]byte`, which its templates see as `map[string]string` (so a corpus
//! value that is not a string reaches both engines as its JSON text, as `keyward template
//! render --data` passes it). Binary values (tests/corpus/binary.rs) go through too.
//!
//! tools/gotemplate (text/template with ESO's Sprig fork) stays the reference only for what
//! ESO's package cannot do: data of other Go types (numbers, lists and maps, as `fromJson`
//! and `dict` make them) and the functions later ESO versions added.

#[allow(dead_code)] // the gotemplate helpers of the shared corpus module are not used here
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use base64::Engine;
use keyward_template::{Template, Value};
use keyward_test_support::{Peer, peer_path};
use serde_json::{Value as Json, json};

use crate::corpus::Case;
use crate::corpus::binary::BinaryCase;

const MINIMUM_CASES: usize = 500;

/// A case to compare: its name, its template and the bytes ESO would have fetched.
type NamedCase = (String, String, BTreeMap<String, Vec<u8>>);

/// What one engine made of one case.
#[derive(Debug, PartialEq)]
enum Outcome {
    Output(Vec<u8>),
    Error(String),
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Fetched bytes as ESO's templates see them: a Go `map[string]string`.
fn eso_typed(data: &BTreeMap<String, Vec<u8>>) -> Value {
    Value::StringMap(
        data.iter()
            .map(|(k, v)| (k.as_str().into(), Value::from_bytes(v.clone())))
            .collect(),
    )
}

/// keyward over data typed as ESO types them.
fn render_with_keyward_as_eso(template: &str, data: &BTreeMap<String, Vec<u8>>) -> Outcome {
    outcome_of(template, &eso_typed(data))
}

fn outcome_of(template: &str, data: &Value) -> Outcome {
    // ESO's templates write bytes: the byte-level render is the one to compare.
    match Template::parse("template", template).and_then(|t| t.render_bytes(data)) {
        Ok(out) => Outcome::Output(out.into_bytes()),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// The bytes ESO would have fetched for a corpus data object: strings as they are, anything
/// else as its JSON text.
fn eso_data(json: &Json) -> BTreeMap<String, Vec<u8>> {
    let Json::Object(entries) = json else {
        return BTreeMap::new();
    };
    entries
        .iter()
        .map(|(key, value)| {
            let bytes = match value {
                Json::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            (key.clone(), bytes)
        })
        .collect()
}

fn esotemplate() -> std::path::PathBuf {
    peer_path(Peer::EsoTemplate)
        .expect("ESO's template engine wrapper is installed (scripts/peers install eso_template)")
}

/// Runs `tool` in batch mode over `batch` (a JSON array) and reads its outcomes.
fn run_batch(tool: &std::path::Path, batch: &[Json], extra_args: &[&str]) -> Vec<Outcome> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(batch).expect("cases serialise"))
        .expect("write cases");
    let output = Command::new(tool)
        .arg("-batch")
        .arg(&path)
        .args(extra_args)
        .output()
        .expect("the reference runs");
    assert!(
        output.status.success(),
        "{} -batch failed: {}",
        tool.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Json> =
        serde_json::from_slice(&output.stdout).expect("the reference prints a JSON array");
    assert_eq!(results.len(), batch.len(), "one result per case");
    results.iter().map(reference_outcome).collect()
}

fn render_with_eso(cases: &[(&str, &BTreeMap<String, Vec<u8>>)]) -> Vec<Outcome> {
    let batch: Vec<Json> = cases
        .iter()
        .map(|(template, data)| {
            let data: serde_json::Map<String, Json> = data
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(base64(v))))
                .collect();
            json!({ "template": template, "data": data })
        })
        .collect();
    run_batch(&esotemplate(), &batch, &[])
}

/// The names of ESO's template functions.
fn eso_functions() -> BTreeSet<String> {
    let output = Command::new(esotemplate())
        .arg("-functions")
        .output()
        .expect("esotemplate runs");
    assert!(output.status.success(), "esotemplate -functions failed");
    serde_json::from_slice(&output.stdout).expect("a JSON array of names")
}

/// keyward's functions that this ESO version does not offer (added by later versions):
/// cases calling them are compared with gotemplate instead.
fn functions_eso_lacks() -> Vec<String> {
    const GO_BUILTINS: [&str; 18] = [
        "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not",
        "or", "print", "printf", "println", "urlquery",
    ];
    let eso = eso_functions();
    keyward_template::function_names()
        .into_iter()
        .filter(|name| !eso.contains(*name) && !GO_BUILTINS.contains(name) && *name != "slice")
        .map(str::to_owned)
        .collect()
}

fn calls_any(template: &str, names: &[String]) -> bool {
    names.iter().any(|name| {
        template.match_indices(name.as_str()).any(|(i, _)| {
            let before = template[..i].chars().next_back();
            let after = template[i + name.len()..].chars().next();
            let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            boundary(before) && boundary(after)
        })
    })
}

fn reference_outcome(result: &Json) -> Outcome {
    if let Some(encoded) = result.get("output_b64").and_then(Json::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("the reference's output is base64");
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

fn corpus_cases() -> Vec<Case> {
    let mut cases = crate::corpus::generated();
    match crate::corpus::eso_snippets() {
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

/// A disagreement, shown without more than a few hundred bytes of either output.
fn describe(name: &str, ours: &Outcome, theirs: &Outcome) -> String {
    let show = |o: &Outcome| match o {
        Outcome::Output(bytes) => {
            let text = format!("{:?}", String::from_utf8_lossy(bytes));
            format!("output {}", text.chars().take(300).collect::<String>())
        }
        Outcome::Error(e) => format!("error {e}"),
    };
    format!(
        "{name}\n    keyward: {}\n    ref:     {}",
        show(ours),
        show(theirs)
    )
}

/// Compares keyward with ESO over `(name, template, data)` cases; returns the counts of
/// cases, reference errors and the disagreements.
fn compare_with_eso(cases: &[NamedCase]) -> (usize, usize, Vec<String>) {
    let inputs: Vec<(&str, &BTreeMap<String, Vec<u8>>)> =
        cases.iter().map(|(_, t, d)| (t.as_str(), d)).collect();
    let eso = render_with_eso(&inputs);
    let mut errors = 0;
    let mut disagreements = Vec::new();
    for ((name, template, data), theirs) in cases.iter().zip(&eso) {
        if matches!(theirs, Outcome::Error(_)) {
            errors += 1;
        }
        let ours = render_with_keyward_as_eso(template, data);
        if !agree(&ours, theirs) {
            disagreements.push(describe(name, &ours, theirs));
        }
    }
    (cases.len(), errors, disagreements)
}

#[test]
fn keyward_renders_every_corpus_case_like_eso() {
    let lacking = functions_eso_lacks();
    let cases: Vec<NamedCase> = corpus_cases()
        .into_iter()
        .filter(|c| !calls_any(&c.template, &lacking))
        .map(|c| (c.name, c.template, eso_data(&c.data)))
        .collect();
    let (compared, errors, disagreements) = compare_with_eso(&cases);
    eprintln!(
        "differential (ESO pkg/template/v2): {compared} cases compared ({errors} of them errors in ESO), {} disagreements",
        disagreements.len()
    );
    assert!(compared >= MINIMUM_CASES, "only {compared} cases compared");
    report_against_ratchet(&disagreements, KNOWN_CORPUS_DISAGREEMENTS);
}

/// ESO's dot is a Go `map[string]string`: the functions declared over
/// `map[string]interface{}` refuse it, and keyward's message is the one Go ends ESO's with.
#[test]
fn dot_typing_errors_read_like_eso() {
    let cases: Vec<Case> = crate::corpus::generated()
        .into_iter()
        .filter(|c| c.name.starts_with("dot: "))
        .collect();
    let data: Vec<BTreeMap<String, Vec<u8>>> = cases.iter().map(|c| eso_data(&c.data)).collect();
    let inputs: Vec<(&str, &BTreeMap<String, Vec<u8>>)> = cases
        .iter()
        .zip(&data)
        .map(|(c, d)| (c.template.as_str(), d))
        .collect();
    let mut refused = 0;
    for ((case, data), theirs) in cases.iter().zip(&data).zip(render_with_eso(&inputs)) {
        let Outcome::Error(theirs) = theirs else {
            continue;
        };
        // Go's `eq` quotes the values it cannot compare; keyward's errors never hold data.
        let quotes_data = data
            .values()
            .any(|v| v.len() >= 5 && theirs.contains(&*String::from_utf8_lossy(v)));
        if quotes_data {
            continue;
        }
        refused += 1;
        let ours = eso_typed(data);
        let message = Template::parse("template", &case.template)
            .and_then(|t| t.render(&ours))
            .expect_err(&case.name)
            .message;
        assert!(
            theirs.ends_with(&message),
            "{}\n    keyward: {message}\n    ESO:     {theirs}",
            case.name
        );
    }
    assert!(refused >= 12, "only {refused} dot cases fail in ESO");
}

#[test]
fn binary_values_pass_through_like_eso() {
    let (compared, errors, disagreements) = compare_binary(crate::corpus::binary::cases());
    eprintln!(
        "differential (ESO pkg/template/v2, binary values): {compared} cases compared ({errors} of them errors in ESO), {} disagreements",
        disagreements.len()
    );
    report_against_ratchet(&disagreements, KNOWN_BINARY_DISAGREEMENTS);
}

fn compare_binary(cases: Vec<BinaryCase>) -> (usize, usize, Vec<String>) {
    let cases: Vec<NamedCase> = cases
        .into_iter()
        .map(
            |BinaryCase {
                 name,
                 template,
                 data,
             }| (name, template, data),
        )
        .collect();
    compare_with_eso(&cases)
}

/// Disagreements with ESO still open: none since issue 13 item 2 (ESO's `map[string]string`
/// typing, byte strings end to end, map keys and URLs included, `fromYaml` as go-yaml v2
/// reads YAML 1.1). A ratchet that may only fall: any new disagreement fails the test.
const KNOWN_CORPUS_DISAGREEMENTS: usize = 0;
const KNOWN_BINARY_DISAGREEMENTS: usize = 0;

fn report_against_ratchet(disagreements: &[String], known: usize) {
    if std::env::var_os("KEYWARD_DIFF_SHOW").is_some() {
        eprintln!("{}", disagreements.join("\n"));
    }
    assert!(
        disagreements.len() <= known,
        "{} disagreements (known: {known}):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
