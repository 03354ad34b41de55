//! Differential fuzzing against Go: each input becomes one template and one data object,
//! rendered by keyward and by the Go reference (`$KEYWARD_PEER_GOTEMPLATE -batch`). Outputs
//! must be byte-identical and both engines must agree on failure; a disagreement panics with
//! the case so libFuzzer saves it.
//!
//! The first input byte picks a mode: data-driven modes put the rest of the input (as text)
//! into the data and run a fixed template over it (`toYaml`, `printf` verbs, string
//! functions); the template mode assembles a template from fragments chosen by the bytes.
#![no_main]

use std::process::Command;

use base64::Engine;
use keyward_template::{Template, Value};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};

const DATA_TEMPLATES: &[&str] = &[
    "{{ .v | toYaml }}",
    "{{ .m | toYaml }}",
    "{{ .l | toYaml }}",
    "{{ .n | toYaml }}",
    "{{ printf \"%T|%U|%q|%v|%x|%5.2s\" .v .r .v .v .v .v }}",
    "{{ .v | quote }}|{{ .v | squote }}|{{ .v | upper }}|{{ .v | title }}",
    "{{ .v | toJson }}|{{ .m | toPrettyJson }}",
    "{{ .v | b64enc | b64dec }}|{{ .v | sha256sum }}|{{ .v | trunc 5 }}",
    "{{ .v | splitList \",\" | toYaml }}",
    "{{ .v | camelcase }}|{{ .v | snakecase }}|{{ .v | kebabcase }}",
];

const OPERANDS: &[&str] = &[
    ".v", ".m", ".l", ".n", ".r", "1", "2.5", "-3", "\"x\"", "\"\"", "true", "nil", "$",
    "(list 1 \"a\")", "(dict \"k\" 1)", ".m.k",
];

/// Fragments; `%T` and `typeOf` are left out: Sprig's typed slices (`[]string`) are a documented
/// deviation (keyward models every list as `[]interface {}`).
const FUNCTIONS: &[&str] = &[
    "print", "printf \"%v\"", "printf \"%U\"", "len", "not", "and", "or", "eq",
    "ne", "lt", "index", "upper", "quote", "toString", "toJson", "toYaml", "default", "empty",
    "coalesce", "b64enc", "join \",\"", "first", "rest", "add", "max", "int", "toStrings",
    "hasKey", "list", "append", "repeat 2", "indent 2", "trunc 2", "fromJson",
    "ternary 1 2", "semverCompare \">1\"", "urlJoin", "sha1sum", "adler32sum", "title",
    "derivePassword 1 \"pin\" \"p\" \"u\"", "semver", "toDate \"2006-01-02 MST\"",
    "htmlDateInZone", "unixEpoch", "dateModify \"-1h\"", "date \"Jan _2 06 Z07:00\"",
];

const SHAPES: &[&str] = &[
    "{{ F A }}", "{{ A | F }}", "{{ F A A }}", "{{ if A }}x{{ else }}y{{ end }}",
    "{{ range $i, $e := A }}[{{ $i }}={{ $e }}]{{ end }}", "{{ with A }}{{ . }}{{ end }}",
    "{{ $v := A }}{{ F $v }}", "{{ A | F | F }}", "{{ (F A) | toYaml }}",
];

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let (template, data) = if mode % 2 == 0 {
        data_case(mode, rest)
    } else {
        template_case(rest)
    };
    compare(&template, &data);
});

fn data_case(mode: u8, rest: &[u8]) -> (String, Json) {
    let text = String::from_utf8_lossy(rest).into_owned();
    let number = text.trim().parse::<f64>().ok().filter(|f| f.is_finite()).unwrap_or(0.0);
    let rune = text.chars().next().map_or(0, u32::from);
    let template = DATA_TEMPLATES[usize::from(mode / 2) % DATA_TEMPLATES.len()];
    let data = json!({
        "v": text, "m": {text.clone(): text, "k": [text, {"n": number}]},
        "l": [text, number, null, true, [], {}], "n": number, "r": rune,
    });
    (template.to_owned(), data)
}

fn template_case(rest: &[u8]) -> (String, Json) {
    let mut bytes = rest.iter().copied();
    let mut next = |items: &[&'static str]| {
        let b = bytes.next().unwrap_or(0);
        items[usize::from(b) % items.len()]
    };
    let mut template = String::new();
    for _ in 0..3 {
        let shape = next(SHAPES);
        let mut piece = String::new();
        for c in shape.chars() {
            match c {
                'F' => piece.push_str(next(FUNCTIONS)),
                'A' => piece.push_str(next(OPERANDS)),
                c => piece.push(c),
            }
        }
        template.push_str(&piece);
    }
    let data = json!({
        "v": "héllo, wörld: 1.2.3", "m": {"k": "v", "a10": 1, "a9": [1, 2]},
        "l": ["b", "a", 3], "n": 1.5, "r": 65,
    });
    (template, data)
}

fn render_with_keyward(template: &str, data: &Json) -> Result<Vec<u8>, ()> {
    let data = Value::from_json(data);
    Template::parse("template", template)
        .and_then(|t| t.render(&data))
        .map(String::into_bytes)
        .map_err(|_| ())
}

fn unsupported(template: &str) -> bool {
    matches!(Template::parse("template", template),
        Err(e) if e.message.contains("not implemented by keyward"))
}

fn render_with_go(template: &str, data: &Json) -> Option<Result<Vec<u8>, ()>> {
    let go = std::env::var("KEYWARD_PEER_GOTEMPLATE").ok()?;
    let path = std::env::temp_dir().join(format!("keyward-fuzz-{}.json", std::process::id()));
    let batch = json!([{"template": template, "data": data}]);
    std::fs::write(&path, batch.to_string()).ok()?;
    let output = Command::new(go).arg("-batch").arg(&path).output().ok()?;
    let results: Json = serde_json::from_slice(&output.stdout).ok()?;
    let result = results.get(0)?;
    if let Some(encoded) = result.get("output_b64").and_then(Json::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        return Some(Ok(bytes));
    }
    Some(Err(()))
}

fn compare(template: &str, data: &Json) {
    if unsupported(template) {
        return;
    }
    let ours = render_with_keyward(template, data);
    let Some(go) = render_with_go(template, data) else {
        panic!("the Go reference could not be run: set KEYWARD_PEER_GOTEMPLATE");
    };
    if let Ok(bytes) = &go
        && std::str::from_utf8(bytes).is_err()
    {
        return; // keyward renders UTF-8 text only (documented limitation)
    }
    if ours != go {
        panic!(
            "disagreement\ntemplate: {template:?}\ndata: {data}\nkeyward: {:?}\ngo: {:?}",
            ours.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
            go.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
        );
    }
}
