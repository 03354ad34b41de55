//! Binary values through every function that passes a string on: ESO's templates work on a
//! Secret's bytes, so a keystore or a DER key must come out of `{{ .bin }}`, `trim`, `b64enc`
//! and the rest exactly as Go's functions leave it. The values are seeded random bytes and
//! hand-made invalid UTF-8 (truncated sequences, surrogates, overlong forms, bytes past U+10FFFF),
//! each mixed with text.

use std::collections::BTreeMap;

/// A template over data given as the bytes ESO fetched (`map[string][]byte`).
pub struct BinaryCase {
    pub name: String,
    pub template: String,
    pub data: BTreeMap<String, Vec<u8>>,
}

/// Seeded pseudo-random bytes (xorshift), so the corpus is the same on every run.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The binary values every template runs on.
pub fn values() -> Vec<(String, Vec<u8>)> {
    let mut values: Vec<(String, Vec<u8>)> = (1..=6)
        .map(|seed| (format!("random {seed}"), random_bytes(seed * 7919, 64)))
        .collect();
    for (name, bytes) in [
        ("truncated", b"a\xe2\x82b \xf0\x9f\x98".to_vec()),
        ("surrogate", b"x\xed\xa0\x80y".to_vec()),
        ("overlong", b"\xc0\x80\xc1\xbf/".to_vec()),
        ("past U+10FFFF", b"\xf4\x90\x80\x80\xf5\xff".to_vec()),
        ("lone continuation", b"\x80abc\xbf".to_vec()),
        (
            "text and bytes",
            "héllo \u{2603} "
                .bytes()
                .chain(*b"\xff\xfe\x00 end")
                .collect(),
        ),
        ("spaces and bytes", b"  \t\xa0 \x85x\xffy \n".to_vec()),
        (
            "der",
            b"\x30\x82\x01\x0a\x02\x82\x01\x01\x00\xc3\x5a".to_vec(),
        ),
    ] {
        values.push((name.to_owned(), bytes));
    }
    values
}

/// Templates reading `.bin` (binary) and `.s` (text).
const TEMPLATES: &[&str] = &[
    "{{ .bin }}",
    "{{ .bin | len }}",
    "{{ index .bin 0 }}|{{ slice .bin 1 3 }}",
    "{{ print .bin .bin }}|{{ println .bin }}",
    "{{ printf \"%s|%v|%q|%x|%X|% x|%#v|%+q|%#q\" .bin .bin .bin .bin .bin .bin .bin .bin .bin }}",
    "{{ printf \"%.3s|%10.5s|%-8.2q|%.4x\" .bin .bin .bin .bin }}",
    "{{ printf \"%v\" (list .bin .s) }}|{{ printf \"%#v\" (list .bin) }}",
    "{{ printf \"%v|%#v\" (dict \"k\" .bin) (dict \"k\" .bin) }}",
    "{{ printf \"%c|%U\" (index .bin 0) (index .bin 0) }}",
    "{{ .bin | toString }}|{{ toStrings (list .bin) }}",
    "{{ .bin | quote }}|{{ .bin | squote }}",
    "{{ cat .bin .s .bin }}",
    "{{ .bin | trim }}|{{ trimAll \"a\" .bin }}|{{ trimPrefix \"a\" .bin }}|{{ trimSuffix \"b\" .bin }}",
    "{{ .bin | upper }}|{{ .bin | lower }}",
    "{{ .bin | title }}|{{ .bin | untitle }}",
    "{{ repeat 2 .bin }}",
    "{{ substr 1 5 .bin }}|{{ trunc 5 .bin }}|{{ trunc -3 .bin }}",
    "{{ abbrev 10 .bin }}|{{ abbrevboth 5 10 .bin }}",
    "{{ .bin | nospace }}|{{ .bin | initials }}",
    "{{ wrap 10 .bin }}|{{ wrapWith 5 \"|\" .bin }}",
    "{{ indent 2 .bin }}|{{ nindent 2 .bin }}",
    "{{ replace \"a\" \"b\" .bin }}|{{ replace \"\" \"-\" .bin }}",
    "{{ plural .bin .s 1 }}{{ plural .s .bin 2 }}",
    "{{ .bin | snakecase }}|{{ .bin | kebabcase }}",
    "{{ .bin | camelcase }}|{{ .bin | swapcase }}",
    "{{ .bin | shuffle | len }}",
    "{{ contains \"a\" .bin }}{{ hasPrefix \"a\" .bin }}{{ hasSuffix \"b\" .bin }}",
    "{{ split \"a\" .bin }}|{{ splitList \"\" .bin }}|{{ splitn \"b\" 2 .bin }}",
    "{{ join .bin (list .s .s) }}|{{ join \",\" (list .bin .s) }}",
    "{{ sortAlpha (list .bin .s \"a\") }}|{{ list .bin .s | uniq | len }}",
    "{{ .bin | b64enc }}|{{ .bin | b64enc | b64dec }}",
    "{{ .bin | b32enc }}|{{ .bin | b32enc | b32dec }}",
    "{{ .bin | sha1sum }}|{{ .bin | sha256sum }}|{{ .bin | adler32sum }}",
    "{{ .bin | toJson }}|{{ .bin | toRawJson }}|{{ list .bin | toPrettyJson }}",
    "{{ dict \"k\" .bin | toYaml }}",
    "{{ .bin | fromJson }}|{{ .bin | fromYaml }}",
    "{{ html .bin }}|{{ js .bin }}|{{ urlquery .bin }}",
    "{{ eq .bin .bin }}{{ lt .bin .s }}{{ ne .bin .s }}{{ ge .s .bin }}",
    "{{ default \"x\" .bin }}|{{ coalesce \"\" .bin }}|{{ ternary .bin .s true }}",
    "{{ list .bin .s | first }}|{{ list .s .bin | last }}|{{ dict \"k\" .bin | values | first }}",
    "{{ regexMatch \"a\" .bin }}|{{ regexFind \"[a-z]+\" .bin }}|{{ regexReplaceAllLiteral \"a\" .bin \"_\" }}",
    "{{ base .bin }}|{{ dir .bin }}|{{ ext .bin }}|{{ clean .bin }}",
    "{{ encryptAES \"key\" .bin | decryptAES \"key\" }}",
    "{{ $m := dict .bin 1 }}{{ len $m }}",
    "{{ .bin | typeOf }}|{{ .bin | kindOf }}|{{ empty .bin }}",
    "{{ .bin | atoi }}|{{ .bin | int }}|{{ .bin | float64 }}",
    "{{ \"/w==\" | b64dec | len }}|{{ \"/w==\" | b64dec | b64enc }}",
    "{{ .bin | b64enc | b64dec | sha256sum }}",
    "{{ range $i, $c := list .bin .s }}{{ $i }}={{ $c }};{{ end }}",
    "{{ with .bin }}{{ . }}{{ end }}{{ if .bin }}t{{ end }}",
    "{{ regexReplaceAll \"[a-z]\" .bin \"<$0>\" }}|{{ regexFindAll \".\" .bin 3 }}|{{ regexSplit \"a\" .bin -1 | len }}",
    "{{ regexQuoteMeta .bin }}|{{ mustRegexMatch \"^.\" .bin }}",
    "{{ derivePassword 1 \"long\" .bin \"user\" \"example.com\" }}",
    "{{ htpasswd \"user\" .bin | len }}|{{ bcrypt .bin | len }}",
    "{{ semver .bin }}",
    "{{ toDate \"2006\" .bin }}",
    "{{ .bin | b64enc | fromJson }}|{{ printf \"{\\\"k\\\": %q}\" .bin | fromJson }}",
    "{{ list .bin | toYaml | fromYaml }}|{{ dict \"k\" .bin | toYaml | fromYaml }}",
    "{{ filterPEM \"CERTIFICATE\" .bin }}",
    "{{ .bin | mustToJson }}|{{ .bin | mustToRawJson }}",
    "{{ until 2 }}{{ .bin | trimAll .bin }}|{{ .bin | mustFromJson }}",
    // Map keys are bytes too: a binary `dict` key stays itself, and prints, ranges, sorts
    // and marshals as Go's does.
    "{{ keys (dict .bin 1) | first | len }}|{{ range $k, $v := dict .bin 1 }}{{ $k }}{{ end }}",
    "{{ dict .bin .bin | toJson }}|{{ get (dict .bin 1) .bin }}|{{ hasKey (dict .bin 1) .bin }}",
    "{{ printf \"%v|%#v\" (dict .bin .s \"a\" 1) (dict .bin .s) }}|{{ dict .bin .s | toYaml }}",
    "{{ $d := dict .bin 1 }}{{ $_ := set $d .s 2 }}{{ $_ := unset $d .bin }}{{ keys $d | sortAlpha }}",
    "{{ pick (dict .bin 1 .s 2) .bin | len }}|{{ omit (dict .bin 1 .s 2) .bin }}|{{ dig .bin \"d\" (dict .bin \"x\") }}",
    // URLs are bytes: percent-escapes may decode to any byte, and a binary URL keeps its own.
    "{{ urlParse .bin }}",
    "{{ urlParse (print \"https://u:p@h/\" .bin \"?q#f\") }}",
    "{{ (urlParse \"http://h/a%ffb\").path | len }}|{{ (urlParse \"http://h/#%fe\").fragment | b64enc }}",
    "{{ urlJoin (dict \"scheme\" \"https\" \"host\" .bin \"path\" .bin \"fragment\" .bin) }}",
];

/// Every binary value through every template of [`TEMPLATES`].
pub fn cases() -> Vec<BinaryCase> {
    cases_of(TEMPLATES)
}

fn cases_of(templates: &[&str]) -> Vec<BinaryCase> {
    let mut cases = Vec::new();
    for (value_name, bytes) in values() {
        for template in templates {
            let data = BTreeMap::from([
                ("bin".to_owned(), bytes.clone()),
                ("s".to_owned(), b"text".to_vec()),
            ]);
            cases.push(BinaryCase {
                name: format!("binary {value_name}: {template}"),
                template: (*template).to_owned(),
                data,
            });
        }
    }
    cases
}
