//! Invariant 1 (no value escapes): data hold a planted canary, in values, keys, lists and
//! nested maps, plus a planted private key and password for the certificate and key
//! functions; every template below fails, and no error message may contain the canary or a
//! fragment of the key.

use keyward_template::{Template, Value};

const CANARY: &str = "CANARY-7f3a9e-do-not-print";

fn canary_data() -> Value {
    let json = serde_json::json!({
        "secret": CANARY,
        "pattern": format!("({CANARY}"),
        "json": format!("{{\"{CANARY}\": "),
        "list": [CANARY, 1],
        "map": { CANARY: CANARY, "inner": { "deep": CANARY } },
        "number": 1.5,
        "key": CANARY,
        "privateKey": PLANTED_KEY,
        "jwk": format!("{{\"kty\":\"{CANARY}\",\"{CANARY}\":\"{CANARY}\"}}"),
        "rsaJwk": format!("{{\"kty\":\"RSA\",\"n\":\"{CANARY}\",\"e\":\"AQAB\"}}"),
    });
    Value::from_json(&json)
}

/// A test-only RSA key (tests/fixtures/crypto/other-rsa.key): no fragment of it may appear
/// in an error.
const PLANTED_KEY: &str = include_str!("fixtures/crypto/other-rsa.key");

/// Fragments of the planted key's base64 body: any of them in an error is a leak.
fn key_fragments() -> Vec<&'static str> {
    PLANTED_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(|l| &l[..l.len().min(24)])
        .collect()
}

const FAILING_TEMPLATES: &[&str] = &[
    "{{ pkcs12keyPass .secret .secret }}",
    "{{ pkcs12certPass .secret .privateKey }}",
    "{{ pkcs12key .privateKey }}",
    "{{ pemToPkcs12Pass .secret .privateKey .secret }}",
    "{{ pemToPkcs12 .privateKey .privateKey }}",
    "{{ fullPemToPkcs12Pass .privateKey .secret .secret }}",
    "{{ pemTruststoreToPKCS12Pass .privateKey .secret }}",
    "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" .secret .privateKey }}",
    "{{ rsaDecrypt .secret .secret .secret .privateKey }}",
    "{{ rsaDecrypt \"RSA-OAEP\" .secret .secret .secret }}",
    "{{ jwkPrivateKeyPem .jwk }}",
    "{{ jwkPublicKeyPem .jwk }}",
    "{{ jwkPublicKeyPem .rsaJwk }}",
    "{{ jwkPrivateKeyPem .secret }}",
    "{{ certSANs .privateKey }}",
    "{{ certSANs .secret }}",
    "{{ filterCertChain .secret .privateKey }}",
    "{{ genSelfSignedCert \"x\" (list .secret) nil 1 }}",
    "{{ genSelfSignedCert \"x\" nil (list (printf \"ü%s\" .secret)) 1 }}",
    "{{ genCAWithKey .secret 1 .secret }}",
    "{{ genCAWithKey .secret 1 (.privateKey | replace \"RSA\" \"EC\") }}",
    "{{ buildCustomCert .secret .secret }}",
    "{{ buildCustomCert (b64enc .privateKey) (b64enc .privateKey) }}",
    "{{ .missing }}",
    "{{ .secret.field }}",
    "{{ .map.nothere }}",
    "{{ index .map .number }}",
    "{{ index .list 7 }}",
    "{{ index .secret \"x\" }}",
    "{{ index .map 3 }}",
    "{{ .secret | add1 | upper }}",
    "{{ .number | upper }}",
    "{{ upper .list }}",
    "{{ eq .secret 1 }}",
    "{{ lt .secret .list }}",
    "{{ eq .list .list }}",
    "{{ len .number }}",
    "{{ call .secret }}",
    "{{ fail .secret }}",
    "{{ fail (printf \"%s\" .secret) }}",
    "{{ mustRegexMatch .pattern \"x\" }}",
    "{{ regexFind .pattern .secret }}",
    "{{ mustFromJson .json }}",
    "{{ mustFromJson .secret }}",
    "{{ range .secret }}{{ end }}",
    "{{ range .number }}{{ end }}",
    "{{ template \"nope\" .secret }}",
    "{{ repeat -1 .secret }}",
    "{{ substr 5 1 .secret }}",
    "{{ div 1 0 }}",
    "{{ first .secret }}",
    "{{ append .secret 1 }}",
    "{{ slice .list 5 9 }}",
    "{{ chunk 0 .list }}",
    "{{ dig \"a\" \"b\" .secret }}",
    "{{ .secret .secret }}",
    "{{ $x := .secret }}{{ $x.y }}",
    "{{ with .map }}{{ .inner.deep.deeper }}{{ end }}",
    "{{ range $k, $v := .map }}{{ $v.nope }}{{ end }}",
    "{{ define \"t\" }}{{ .nope }}{{ end }}{{ template \"t\" .map }}",
    "{{ toRawJson .number | int | upper }}",
    "{{ set .secret \"k\" 1 }}",
    "{{ nindent .secret .secret }}",
    "{{ mustToDate .secret \"x\" }}",
    "{{ mustToDate \"2006\" .secret }}",
    "{{ mustDateModify .secret now }}",
    "{{ dateModify \"1h\" .secret }}",
    "{{ unixEpoch .secret }}",
    "{{ semver .secret }}",
    "{{ semverCompare .secret \"1.0.0\" }}",
    "{{ semverCompare \">1\" .secret }}",
    "{{ (semver \"1.0.0\").LessThan .secret }}",
    "{{ (toDate \"2006\" \"2020\").Format .secret .secret }}",
    "{{ (semver \"1.0.0\").Original.x }}",
    "{{ eq (toDate .secret .secret) .secret }}",
    "{{ (fromYaml .secret).Error.x }}",
    "{{ (fromYaml (printf \"%s: [\" .secret)).x.y }}",
    // Aliases of a large string past the size cap: fromYaml's limit error.
    "{{ fromYaml (printf \"s: &s %s\\nl: [%s*s]\" (repeat 20000 .secret) (repeat 100 \"*s, \")) }}",
];

#[test]
fn no_error_message_contains_a_data_value() {
    let data = canary_data();
    let mut failures = 0;
    for text in FAILING_TEMPLATES {
        let template = Template::parse("canary", text).expect("every canary template parses");
        let error = template
            .render(&data)
            .expect_err(&format!("{text} must fail"));
        failures += 1;
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(CANARY), "{text} leaked the canary: {shown}");
            assert!(
                !shown.contains("7f3a9e"),
                "{text} leaked part of the canary: {shown}"
            );
            for fragment in key_fragments() {
                assert!(
                    !shown.contains(fragment),
                    "{text} leaked key material: {shown}"
                );
            }
        }
        assert!(
            error.line >= 1 && error.column >= 1,
            "{text}: position {}:{}",
            error.line,
            error.column
        );
        assert!(!error.template.is_empty(), "{text}: template named");
    }
    assert_eq!(failures, FAILING_TEMPLATES.len());
}

#[test]
fn a_successful_render_does_show_the_value() {
    let rendered =
        keyward_template::render("ok", "{{ .secret }}", &canary_data()).expect("renders");
    assert_eq!(
        rendered, CANARY,
        "the canary test would be vacuous if values never rendered"
    );
}
