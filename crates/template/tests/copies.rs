//! Copies of a value that the template engine frees without wiping (issue 15: values are
//! zeroized wherever they are copied). Each template below renders an ExternalSecret's data,
//! holding a canary, the way the sync engine does (a Go `map[string]string`, bytes out); the
//! global allocator of this binary ([`WipeCheck`], installed in `tests.rs`) counts every block
//! freed while it still held the canary.
//!
//! The canary is digits and dashes, so that case changes, quoting and indentation keep it
//! whole in what they copy: a function that copies the value is seen, whatever it does to it.

use keyward_template::{Template, Value};
use keyward_test_support::wipe_check::count_unwiped;

const CANARY: &str = "4711-0815-2264-9977-3141";

/// Templates over `.password` (the canary) and `.user`, one per way a value travels through
/// the engine: plain output, pipelines, printf, string functions, encodings, lists and dicts,
/// variables, ranges, sub-templates and JSON/YAML.
const TEMPLATES: [&str; 34] = [
    "{{ .password }}",
    "{{ index . \"password\" }}",
    "{{ $p := .password }}{{ $p }}",
    "{{ printf \"%s:%s\" .user .password }}",
    "{{ printf \"%q\" .password }}",
    "{{ print .user .password }}",
    "{{ .password | quote }}",
    "{{ .password | squote }}",
    "{{ .password | upper }}",
    "{{ .password | lower }}",
    "{{ .password | title }}",
    "{{ .password | trim }}",
    "{{ .password | trimPrefix \"4711\" }}",
    "{{ .password | replace \"-\" \"\" }}",
    "{{ .password | indent 4 }}",
    "{{ .password | nindent 2 }}",
    "{{ .password | cat \"x\" }}",
    "{{ .password | repeat 2 }}",
    "{{ .password | b64enc }}",
    "{{ .password | b64enc | b64dec }}",
    "{{ .password | b32enc | b32dec }}",
    "{{ .password | sha256sum }}",
    "{{ list .user .password | join \",\" }}",
    "{{ dict \"p\" .password | toJson }}",
    "{{ .password | toJson }}",
    "{{ . | toJson }}",
    "{{ dict \"p\" .password | toYaml }}",
    "{{ (printf \"{\\\"p\\\":\\\"%s\\\"}\" .password | fromJson).p }}",
    "{{ (printf \"p: %s\" .password | fromYaml).p }}",
    "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
    "{{ define \"x\" }}{{ .password }}{{ end }}{{ template \"x\" . }}",
    "{{ if eq .password \"other\" }}no{{ else }}{{ .password }}{{ end }}",
    "{{ .password | htpasswd .user }}",
    "{{ .password | urlquery }}",
];

#[test]
fn rendering_leaves_no_unwiped_copy_of_a_value() {
    let mut leaks = Vec::new();
    for text in TEMPLATES {
        let template = Template::parse("copies", text).expect("the template parses");
        let (rendered, unwiped) = count_unwiped(CANARY.as_bytes(), || {
            let data = Value::from_string_map([("user", "admin"), ("password", CANARY)]);
            let out = template.render_bytes(&data).map(|out| out.len());
            drop(data);
            out
        });
        rendered.unwrap_or_else(|e| panic!("{text}: {e}"));
        if unwiped.blocks > 0 {
            leaks.push(format!(
                "{text}: {} unwiped block(s), {} bytes, sizes {:?}",
                unwiped.blocks, unwiped.bytes, unwiped.sizes
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {} templates freed the value unwiped:\n{}",
        leaks.len(),
        TEMPLATES.len(),
        leaks.join("\n")
    );
}
