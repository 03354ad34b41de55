//! The differential corpus: generated templates for every control structure and function,
//! over edge-value data, plus the templates of ESO's documentation snippets.

#[allow(dead_code)] // used by eso_differential.rs only
pub mod binary;
pub mod crypto;
pub mod dates;

use std::path::PathBuf;

use serde_json::{Value as Json, json};

/// One template and the JSON object it runs on.
pub struct Case {
    pub name: String,
    pub template: String,
    pub data: Json,
}

/// The data most generated cases run on: empty, nil, unicode, large numbers, nested maps.
pub fn standard_data() -> Json {
    json!({
        "s": "hello", "S": "Hello World", "u": "héllo wörld ✓ 日本", "empty": "",
        "n": 1, "f": 1.5, "neg": -3, "big": 1e21, "small": 0.000001, "tiny": 1e-7,
        "huge": 12345678901234567890u64, "million": 1000000, "zero": 0, "t": true, "fa": false,
        "nil": null, "list": ["a", "b", "c"], "nums": [3, 1, 2], "one": ["x"],
        "mixed": [1, "a", null, true, {"k": "v"}], "emptyList": [], "emptyMap": {},
        "m": {"a": 1, "b": "two", "c": [1, 2], "d": null},
        "nested": {"x": {"y": {"z": "deep"}}},
        "json": "{\"a\":1,\"b\":[true,null],\"c\":\"<&>\"}", "jsonList": "[1,\"two\",3.5]",
        "b64": "aGVsbG8gd29ybGQ=", "badb64": "aGVsbG8", "b32": "NBSWY3DP",
        "csv": "a,b,,c", "path": "/a/b/../c.txt", "pw": "s3cr3t!", "dash-key": "dv",
        "ws": "  padded \n", "html": "<a href=\"x\">'&'</a>", "num": "42", "numf": "4.0",
        "lines": "line1\nline2", "quoted": "say \"hi\"\t\\", "ctl": "a\u{1}b\u{7f}",
        "words": "the quick brown fox"
    })
}

const FIELDS: [&str; 28] = [
    ".s",
    ".S",
    ".u",
    ".empty",
    ".n",
    ".f",
    ".neg",
    ".big",
    ".small",
    ".tiny",
    ".huge",
    ".million",
    ".zero",
    ".t",
    ".fa",
    ".nil",
    ".list",
    ".nums",
    ".mixed",
    ".emptyList",
    ".emptyMap",
    ".m",
    ".nested",
    ".json",
    ".html",
    ".ctl",
    ".quoted",
    ".lines",
];

const LITERALS: [&str; 12] = [
    "1", "1.5", "-2", "0x1F", "1e3", "'a'", "\"lit\"", "`raw\\n`", "true", "false", "nil", "0",
];

fn push(cases: &mut Vec<Case>, group: &str, template: impl Into<String>) {
    let template = template.into();
    cases.push(Case {
        name: format!("{group}: {template}"),
        template,
        data: standard_data(),
    });
}

/// Every generated case.
pub fn generated() -> Vec<Case> {
    let mut cases = Vec::new();
    printing(&mut cases);
    printf(&mut cases);
    comparisons(&mut cases);
    control(&mut cases);
    variables_and_templates(&mut cases);
    syntax(&mut cases);
    builtins(&mut cases);
    sprig_strings(&mut cases);
    sprig_others(&mut cases);
    yaml(&mut cases);
    from_yaml_1_1(&mut cases);
    printf_type_verbs(&mut cases);
    aes(&mut cases);
    pem(&mut cases);
    durations(&mut cases);
    url_join(&mut cases);
    replacement_characters(&mut cases);
    printable(&mut cases);
    dot_typing(&mut cases);
    cases.extend(dates::cases());
    crypto::cases(&mut cases);
    cases
}

/// The dot's Go type: ESO hands templates a `map[string]string` (tools/esotemplate), the Go
/// reference a `map[string]interface{}` (decoded JSON); Sprig's `split` makes a
/// `map[string]string` in both. The typed map gives `""` for an absent `index`, is refused by
/// the functions over `map[string]interface{}` and has its own `typeOf`.
fn dot_typing(cases: &mut Vec<Case>) {
    for t in [
        "{{ index . \"absent\" }}",
        "{{ index . \"s\" }}",
        "{{ printf \"%q|%T\" (index . \"absent\") (index . \"absent\") }}",
        "{{ index . \"absent\" | len }}",
        "{{ with index . \"absent\" }}set{{ else }}unset{{ end }}",
        "{{ index . 1 }}",
        "{{ index . nil }}",
        "{{ keys . | len }}",
        "{{ hasKey . \"s\" }}",
        "{{ get . \"s\" }}",
        "{{ pick . \"s\" }}",
        "{{ omit . \"s\" | len }}",
        "{{ dig \"s\" \"d\" . }}",
        "{{ values . | len }}",
        "{{ pluck \"s\" . }}",
        "{{ set . \"k\" \"v\" | len }}",
        "{{ unset . \"s\" | len }}",
        "{{ merge (dict) . | len }}",
        "{{ mergeOverwrite (dict) . | len }}",
        "{{ urlJoin . }}",
        "{{ typeOf . }}",
        "{{ kindOf . }}",
        "{{ typeIs \"map[string]string\" . }}",
        "{{ printf \"%T\" . }}",
        "{{ range $k, $v := . }}{{ if eq $k \"s\" \"S\" \"empty\" }}{{ $k }}={{ typeOf $v }}:{{ $v }};{{ end }}{{ end }}",
        "{{ range . }}{{ if eq (typeOf .) \"string\" }}s{{ end }}{{ end }}",
        "{{ len . }}",
        "{{ empty . }}{{ if . }}t{{ end }}{{ not . }}",
        "{{ deepCopy . | typeOf }}",
        "{{ list . | first | typeOf }}",
        "{{ dict \"d\" . | typeOf }}",
        "{{ toJson . | len }}",
        "{{ toYaml . | len }}",
        "{{ $.s }}{{ $.empty }}",
        "{{ eq . . }}",
        "{{ split \",\" \"a,b\" | typeOf }}",
        "{{ (split \",\" \"a,b\")._1 }}",
        "{{ keys (split \",\" \"a,b\") }}",
        "{{ index (split \",\" \"a,b\") \"_9\" | printf \"%q\" }}",
        "{{ printf \"%#v|%v|%q\" (split \",\" \"a,b\") (split \",\" \"a,b\") (split \",\" \"a,b\") }}",
        "{{ hasKey (splitn \",\" 2 \"a,b,c\") \"_0\" }}",
        "{{ splitn \",\" 2 \"a,b,c\" | typeOf }}",
        "{{ range $k, $v := split \",\" \"x,y\" }}{{ $k }}{{ $v }}{{ end }}",
        "{{ split \",\" \"a,b\" | toJson }}",
        "{{ deepCopy (split \",\" \"a,b\") | typeOf }}",
    ] {
        push(cases, "dot", t);
    }
}

/// Found by the differential fuzzer: `%q`/`quote` escape code points Go's `unicode.IsPrint`
/// rejects, unassigned ones (U+FFC1) included.
fn printable(cases: &mut Vec<Case>) {
    for text in [
        "\u{ffc1}",
        "\u{378}",
        "\u{e000}",
        "\u{2028}",
        "\u{a0}",
        "\u{3000}",
        "\u{ad}",
        "\u{1f600}",
        "\u{e0001}",
        "\u{10ffff}",
        "\u{fffd}",
        "\u{0600}",
        "\u{1d173}",
        "\u{2fffe}",
    ] {
        let template = "{{ .x | quote }}|{{ printf \"%q|%+q|%#q|%x\" .x .x .x .x }}".to_owned();
        cases.push(Case {
            name: format!("printable: {template} on {text:?}"),
            template,
            data: json!({ "x": text }),
        });
    }
}

/// Found by the differential fuzzer: xstrings glues U+FFFD (Go's `RuneError`) to the next
/// rune when splitting words, so `snakecase "!\u{FFFD}C"` is `!\u{FFFD}c`.
fn replacement_characters(cases: &mut Vec<Case>) {
    for text in [
        "!\u{FFFD}C",
        "\u{FFFD}",
        "a\u{FFFD}",
        "\u{FFFD}\u{FFFD}Ab",
        "AB\u{FFFD}Cd",
        "x\u{FFFD}1y",
        "HTTP\u{FFFD}",
        "1\u{FFFD}a",
        "_\u{FFFD}_",
        "a \u{FFFD}B",
        "日\u{FFFD}本Z",
        "G\u{1082}\u{FFFD}",
        "x\u{5BF}Y",
        "a¡b",
        "a«B»c",
        "ʰA",
    ] {
        for f in [
            "snakecase",
            "kebabcase",
            "camelcase",
            "title",
            "swapcase",
            "initials",
        ] {
            let template = format!("{{{{ .x | {f} }}}}");
            cases.push(Case {
                name: format!("case: {template} on {text:?}"),
                template,
                data: json!({ "x": text }),
            });
        }
    }
}

/// Sprig's `urlJoin` over dictionaries of every part, with characters each part must escape.
fn url_join(cases: &mut Vec<Case>) {
    for args in [
        "\"scheme\" \"https\" \"host\" \"example.com\" \"path\" \"/a b\" \"query\" \"x=1&y=2\"",
        "\"scheme\" \"https\" \"host\" \"example.com:8443\" \"path\" \"rel/p?q\" \"fragment\" \"f g!(*)/?\"",
        "\"host\" \"h\" \"userinfo\" \"user:p@ss/word\"",
        "\"host\" \"h\" \"userinfo\" \"us er\"",
        "\"scheme\" \"s3\" \"userinfo\" \"u\" \"path\" \"k\"",
        "\"scheme\" \"mailto\" \"opaque\" \"a@b.c\" \"query\" \"s=1\"",
        "\"path\" \"a:b/c\"",
        "\"path\" \"*\"",
        "\"path\" \"é/ü;,$&+=@\"",
        "\"host\" \"héllo [::1]\" \"path\" \"x\"",
        "\"scheme\" \"file\" \"path\" \"/etc/hosts\"",
        "\"scheme\" \"x\"",
        "\"fragment\" \"#%\" \"query\" \"q r\"",
        "\"host\" 1",
        "\"userinfo\" \"a%zz\" \"host\" \"h\"",
        "",
    ] {
        push(cases, "urlJoin", format!("{{{{ urlJoin (dict {args}) }}}}"));
    }
    push(
        cases,
        "urlJoin",
        "{{ urlParse \"https://u:p@h:1/p?q#f\" | urlJoin }}",
    );
    push(cases, "urlJoin", "{{ urlJoin .m }}");
}

/// `duration` and `durationRound` (the clock-free date functions) over strings, `int64`
/// values from Sprig arithmetic, template `int`s and floats (both count as zero in Sprig).
fn durations(cases: &mut Vec<Case>) {
    for arg in [
        "0",
        "95",
        "-95",
        "3661",
        "86400",
        "\"95\"",
        "\"-3661\"",
        "\"x\"",
        "\"\"",
        "(int64 95)",
        "(int64 -1)",
        "(int64 31536001)",
        "(add 1 0)",
        "(int64 9223372036)",
        "(int64 9223372037)",
        "(int64 -9223372037)",
        ".n",
        ".f",
        ".nil",
        ".s",
    ] {
        push(cases, "duration", format!("{{{{ duration {arg} }}}}"));
    }
    for arg in [
        "\"1h30m\"",
        "\"1.5h\"",
        "\"-300ms\"",
        "\"2562047h47m16.854775807s\"",
        "\"2562047h47m16.854775808s\"",
        "\"-2562047h47m16.854775808s\"",
        "\"1x\"",
        "\"\"",
        "\"0\"",
        "\"+5m\"",
        "\"1.h\"",
        "\".5m\"",
        "\".m\"",
        "\"3µs3us3μs\"",
        "\"1h1h\"",
        "\"24h1ns\"",
        "\"721h\"",
        "\"8761h\"",
        "\"61s\"",
        "\"1m\"",
        "\"1.0000000000000000001s\"",
        "(int64 1000000001)",
        "(int64 -120000000001)",
        "5",
        ".n",
        "\"100000000000000000000ns\"",
    ] {
        push(cases, "duration", format!("{{{{ durationRound {arg} }}}}"));
    }
}

/// ESO's `filterPEM` over PEM made by the openssl CLI (tests/fixtures), whole and mangled.
fn pem(cases: &mut Vec<Case>) {
    let bundle = include_str!("../fixtures/bundle.pem");
    let encrypted = include_str!("../fixtures/enc-key.pem");
    let cert = include_str!("../fixtures/cert.pem");
    let data = json!({
        "bundle": bundle,
        "crlf": bundle.replace('\n', "\r\n"),
        "indented": bundle.replace("\n", "\n \t"),
        "enc": encrypted,
        "cert": cert,
        "truncated": &cert[..cert.len() / 2],
        "wrongEnd": cert.replace("END CERTIFICATE", "END KEY"),
        "badBase64": cert.replacen('M', "!", 2),
        "noNewline": cert.trim_end(),
        "glued": cert.replace("-----\n", "-----"),
        "junk": "no pem here",
        "empty": "",
        "emptyBlock": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        "headerOnly": "-----BEGIN X-----\nA: b\n",
    });
    let fields = [
        "bundle",
        "crlf",
        "indented",
        "enc",
        "cert",
        "truncated",
        "wrongEnd",
        "badBase64",
        "noNewline",
        "glued",
        "junk",
        "empty",
        "emptyBlock",
        "headerOnly",
    ];
    for field in fields {
        for kind in [
            "CERTIFICATE",
            "certificate",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "X",
        ] {
            let template = format!("{{{{ .{field} | filterPEM \"{kind}\" }}}}");
            cases.push(Case {
                name: format!("pem: {template}"),
                template,
                data: data.clone(),
            });
        }
    }
}

/// `decryptAES` of a ciphertext made by `openssl enc -aes-256-cbc` (key "mykey" zero-padded,
/// IV 00..0f) and of malformed input; `encryptAES` only through a round trip (its IV is random).
fn aes(cases: &mut Vec<Case>) {
    for t in [
        "{{ decryptAES \"mykey\" \"AAECAwQFBgcICQoLDA0OD/il6WBMQPjsMC7BuCzzEOUOr56RmvqQICnD5DmcE5zi\" }}",
        "{{ encryptAES \"mykey\" .s | decryptAES \"mykey\" }}",
        "{{ encryptAES \"mykey\" .u | decryptAES \"mykey\" }}",
        "{{ encryptAES \"mykey\" .empty | decryptAES \"mykey\" }}",
        "{{ encryptAES \"a-key-longer-than-thirty-two-bytes-in-total\" .words | decryptAES \"a-key-longer-than-thirty-two-bytes-in-total\" }}",
        "{{ encryptAES \"k\" \"0123456789abcdef\" | len }}",
        "{{ encryptAES \"k\" .s | len }}",
        "{{ decryptAES \"mykey\" \"not base64!\" }}",
        "{{ derivePassword 1 \"long\" \"password\" \"user\" \"example.com\" }}",
        "{{ derivePassword 2 \"maximum\" .pw .s \"site\" }}",
        "{{ derivePassword 0 \"pin\" .u .u .u }}",
        "{{ derivePassword 7 \"basic\" \"\" \"\" \"\" }}",
        "{{ derivePassword 3 \"medium\" \"p\" \"u\" \"s\" }}{{ derivePassword 3 \"short\" \"p\" \"u\" \"s\" }}",
        "{{ derivePassword 1 \"nope\" \"p\" \"u\" \"s\" }}",
        "{{ derivePassword -1 \"pin\" \"p\" \"u\" \"s\" }}",
        "{{ htpasswd \"a:b\" \"pw\" }}",
        "{{ bcrypt .s | len }}{{ bcrypt .s | substr 0 7 }}",
        "{{ htpasswd \"admin\" .pw | len }}{{ htpasswd \"admin\" .pw | substr 0 13 }}",
        "{{ bcrypt (repeat 73 \"x\") }}",
        "{{ decryptAES \"mykey\" \"AAAA\" }}",
        "{{ decryptAES \"mykey\" \"AAECAwQFBgcICQoLDA0ODw==\" }}",
        "{{ decryptAES \"mykey\" \"AAECAwQFBgcICQoLDA0OD/il6WBMQPjsMC7BuCzz\" }}",
    ] {
        push(cases, "aes", t);
    }
}

/// `%T`, `%U` and `%p` on every standard field (`%p` only where Go prints no address).
fn printf_type_verbs(cases: &mut Vec<Case>) {
    for field in FIELDS {
        push(
            cases,
            "printf",
            format!("{{{{ printf \"%T|%10T|%-8T|\" {field} }}}}"),
        );
        push(cases, "printf", format!("{{{{ printf \"%U\" {field} }}}}"));
    }
    for t in [
        "{{ printf \"%T %T %T\" 1 1.5 nil }}",
        "{{ printf \"%T\" (add 1 2) }}",
        "{{ printf \"%U|%#U|%8U|%-8U|%.6U|%#U\" 65 65 65 65 65 10 }}",
        "{{ printf \"%U %#U\" 128512 128512 }}",
        "{{ printf \"%U\" -1 }}",
        "{{ printf \"%U\" 1.5 }}",
        "{{ printf \"%p\" .s }}",
        "{{ printf \"%p\" 1 }}",
        "{{ printf \"%p\" nil }}",
        "{{ printf \"%p\" true }}",
    ] {
        push(cases, "printf", t);
    }
}

/// Strings that go-yaml must quote, fold or write as block scalars.
fn yaml_data() -> Json {
    let long = "this is a very long string that should be folded by the yaml emitter because it exceeds eighty columns";
    json!({
        "strings": ["abc", "", "true", "yes", "Y", "off", "~", "null", "1.5", "0x1F", "012", "09",
            "1_000", "1:20", "1e999", ".5", ".inf", "-", "- x", "a: b", "a:b", "#x", "a #b", "a#b",
            " lead", "trail ", "q'uote", "say \"hi\"", "tab\there", "emoji 😀", "café", "日本",
            "<<", "=", "---x", "...", "?", "? x", "@at", "`tick", "%p", "!bang", "&a", "*b",
            "line1\nline2", "line1\nline2\n", "line1\nline2\n\n", " x\ny", "trail\n ", "a\n b",
            "a \nb", "a\r\nb", "2001-01-01", "2001-1-1", "2001-02-30", "2001-01-01T10:00:00Z",
            "2001-01-01 10:00:00", "+1", "-1", "+.inf", "0b101", "-0b1", "0o17", "1e3", "1E+3",
            "99999999999999999999", "\u{a0}nbsp", "bell\u{7}", long, format!("{long} {long}"),
            format!("{long}:  {long}"), format!("'{long}'"), format!("{long}\t{long}")],
        "keys": {"a10": 1, "a9": 2, "a09": 3, "b": 4, "B": 5, "_": 6, "-x": 7, "1": 8, "10": 9,
            "2": 10, "": 11, "yes": 12, "a b": 13, "multi\nline": 14, "x:y": 15, "é": 16,
            "ab1c": 17, "ab01c": 18, "ab001": 19, "\u{654}\u{FFFD}": 20, "k": 21, "ʰ": 22},
        "nums": [0, -0.0, 1, -1, 1.5, 1e20, 1e21, 1e-7, 0.000001, 123456789.5, 12345678901234567890u64,
            9007199254740993u64, 100000, 1e6, 3.0],
        "nested": {"list": [[1, [2, []]], {"a": {"b": [{"c": "d", "e": [1]}]}}, {}], "m": {"k": {}}},
        "cfg": "{\"server\":{\"host\":\"db.local\",\"port\":5432,\"tls\":true},\"users\":[\"a\",\"b\"],\"motd\":\"hello\\nworld\\n\"}",
        "doc": "a: 1\nb: [x, z]\nc:\n  d: true\n  e: null\nf: 'q'\n",
        "bad": "a: [",
        "list": "- a\n- b\n",
    })
}

fn yaml(cases: &mut Vec<Case>) {
    for field in FIELDS {
        push(cases, "yaml", format!("{{{{ {field} | toYaml }}}}"));
    }
    let mut push_yaml = |template: String| {
        cases.push(Case {
            name: format!("yaml: {template}"),
            template,
            data: yaml_data(),
        });
    };
    for i in 0..80 {
        push_yaml(format!("{{{{ index .strings {i} | toYaml }}}}"));
    }
    for i in 0..15 {
        push_yaml(format!("{{{{ index .nums {i} | toYaml }}}}"));
    }
    for t in [
        "{{ .strings | toYaml }}",
        "{{ dict \"k\" .strings | toYaml }}",
        "{{ list (dict \"k\" .strings) | toYaml }}",
        "{{ .keys | toYaml }}",
        "{{ .nums | toYaml }}",
        "{{ .nested | toYaml }}",
        "{{ .cfg | fromJson | toYaml }}",
        "{{ .cfg | fromJson | toYaml | nindent 4 }}",
        "{{ toYaml nil }}",
        "{{ toYaml 5 }}",
        "{{ toYaml (add 1 2) }}",
        "{{ toYaml true }}",
        "{{ toYaml (list) }}",
        "{{ toYaml (dict) }}",
        "{{ (fromYaml .doc).a }}",
        "{{ (fromYaml .doc).b }}",
        "{{ (fromYaml .doc).c.d }}",
        "{{ (fromYaml .doc).c.e }}",
        "{{ (fromYaml .doc).f }}",
        "{{ fromYaml .doc | toJson }}",
        "{{ fromYaml .doc | toYaml }}",
        "{{ hasKey (fromYaml .bad) \"Error\" }}",
        "{{ hasKey (fromYaml .list) \"Error\" }}",
        "{{ len (fromYaml \"\") }}",
        "{{ fromYaml (.cfg | fromJson | toYaml) | toJson }}",
        "{{ fromYaml .doc }}",
    ] {
        push_yaml(t.to_owned());
    }
}

/// `fromYaml` as go-yaml v2 reads YAML 1.1 (through sigs.k8s.io/yaml): unquoted
/// `y`/`yes`/`on`/`off` are booleans, octal and binary ints, merge keys, aliases, tags, the
/// JSON round trip (string keys, float64 numbers) and its errors.
fn from_yaml_1_1(cases: &mut Vec<Case>) {
    let documents = [
        "a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: Y\nh: N\ni: Yes\nj: NO\nk: On\nl: OFF\nm: True\nn2: FALSE\n",
        "q1: 'yes'\nq2: \"on\"\nq3: !!str off\nq4: ! y\nq5: !!bool yes\nq6: !!bool 'no'\nq7: yes please\n",
        "yes: 1\nno: 2\non: 3\noff: 4\nY: 5\n",
        "o: 012\nb: 0b101\nnb: -0b11\nu: 1_000\nh: 0x1F\nho: 0o17\nn9: 09\nf: 1.5\ne: 1e3\nbig: 1e400\nneg: -12\nplus: +7\nhuge: 18446744073709551615\nover: 18446744073709551616\nfl: .5\nsex: 190:20:30\nver: 1.2.3\n",
        "inf: .inf\n",
        "nan: .NaN\nx: 1\n",
        "list: [1, -.Inf]\n",
        "d: 2001-12-14\nt: 2001-12-14t21:59:43.10-05:00\ns: 2001-12-14 21:59:43.10 -5\nbad: 2001-13-45\nts: !!timestamp 2001-12-14\n",
        "base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\n  z: 4\nlist:\n  <<: [*b, {w: 5, x: 9}]\n",
        "before:\n  y: 0\n  <<: {y: 1}\nafter:\n  <<: {y: 1}\n  y: 0\n",
        "a: &a [1, 2]\nb: *a\nc: [*a, *a]\nd: &s text\ne: *s\n",
        "1: one\n1.5: f\n-2: neg\ntrue: t\n0x10: hex\n3.0: three\n1e20: big\n0.1: tenth\n3.14159265358979: pi\n",
        "- a\n- b\n",
        "just a string\n",
        "42\n",
        "true\n",
        "~\n",
        "",
        "# only a comment\n",
        "a: 1\na: 2\n",
        "a: 1\n---\nb: 2\n",
        "i: !!int '12'\nf: !!float 3\n",
        "bad: !!int abc\n",
        "bin: !!binary aGVsbG8=\n",
        "bin: !!binary |\n  aGVs\n  bG8=\n",
        "badbin: !!binary '@@'\n",
        "custom: !foo bar\nnothing: !!null ~\nplain: !!str 12\n",
        "empty:\nquoted: ''\ntilde: ~\nnul: null\nNul: Null\nNULL: x\n",
        "\u{feff}a: bom\n",
        "a: \"tab\\there\"\nb: 'it''s'\nc: |\n  line1\n  line2\nd: >\n  folded\n  text\n",
        "nested: {a: [1, {b: yes}], c: {d: off}}\n",
        "merge: {<<: 1}\n",
        "a: [\n",
        "ctl: \"\u{1}\"\n",
        "a: b: c\n",
        "a: 'unterminated\n",
        "[1, 2\n",
        "a:\n  - b\n  c: d\n",
        "key: value\n\tbad: tab\n",
        "{a: 1\n",
        "a: *unknown\n",
        "- a\nb: c\n",
        "x: 1\ny: 2\nz: [\n",
        "a: \"\\q\"\n",
        "x: 1\n  y: 2\n",
        "a: @b\n",
        "a: `b\n",
        "%YAML 1.1\n---\na: b\n",
        "a: |\n  x\n y\n",
    ];
    for (i, document) in documents.iter().enumerate() {
        for template in [
            "{{ fromYaml .doc | toJson }}",
            "{{ fromYaml .doc }}",
            "{{ hasKey (fromYaml .doc) \"Error\" }}",
        ] {
            cases.push(Case {
                name: format!("fromYaml 1.1 #{i}: {template}"),
                template: template.to_owned(),
                data: json!({ "doc": document }),
            });
        }
    }
    // A nil key fails in sigs.k8s.io/yaml with Go's %#v of the value in its message: only
    // whether it fails is compared.
    cases.push(Case {
        name: "fromYaml 1.1: a null key".to_owned(),
        template: "{{ hasKey (fromYaml .doc) \"Error\" }}|{{ len (fromYaml .doc) }}".to_owned(),
        data: json!({ "doc": "~: 4\n" }),
    });
}

fn printing(cases: &mut Vec<Case>) {
    for x in FIELDS.iter().chain(LITERALS.iter()) {
        push(cases, "print", format!("{{{{ {x} }}}}"));
    }
    for t in [
        "{{ .m.a }}",
        "{{ .m.b }}",
        "{{ .m.d }}",
        "{{ .nested.x.y.z }}",
        "{{ .nested.x }}",
        "{{ .missing }}",
        "{{ .m.missing }}",
        "{{ .s.x }}",
        "{{ .nil.x }}",
        "{{ .list.x }}",
        "{{ . }}",
        "{{ $ }}",
        "{{ $.s }}",
        "{{ (.nested).x.y }}",
        "{{ (.m).b }}",
        "{{ .m.c }}",
        "{{ (\"x\").y }}",
        "{{ index . \"dash-key\" }}",
        "{{ .dash-key }}",
    ] {
        push(cases, "field", t);
    }
}

fn printf(cases: &mut Vec<Case>) {
    let verbs = [
        "%s", "%d", "%v", "%q", "%x", "%X", "%f", "%t", "%5s", "%-5s|", "%05d", "%.2f", "%8.3f",
        "%+d", "%e", "%g", "%c", "%.1s", "%6.2v", "%o", "%b", "%%", "%.2q", "%-7.3q|", "%#.2v",
        "%+.1q", "%#.4q",
    ];
    let args = [
        ".s", ".n", ".f", ".neg", ".t", ".nil", ".list", ".m", ".u", ".big", "42", "-7", "3.25",
        "\"lit\"", ".small", ".mixed",
    ];
    for verb in verbs {
        for arg in args {
            push(
                cases,
                "printf",
                format!("{{{{ printf \"{verb}\" {arg} }}}}"),
            );
        }
    }
    for t in [
        "{{ printf \"%s-%d\" .s }}",
        "{{ printf \"%s\" .s .n }}",
        "{{ printf \"no verbs\" }}",
        "{{ printf \"%*d\" 5 3 }}",
        "{{ printf \"%[1]s\" .s }}",
        "{{ printf .s }}",
        "{{ printf .n }}",
        "{{ printf \"%s:%s\" .s .pw | b64enc }}",
        "{{ printf \"%v %v\" .emptyList .emptyMap }}",
        "{{ printf \"%x\" .u }}",
        "{{ printf \"% x\" .s }}",
        "{{ printf \"%q\" .ctl }}",
        "{{ printf \"%q\" .quoted }}",
        "{{ printf \"%+v %#v\" (list 1) \"x\" }}",
        "{{ printf \"%#g|%#.3g|%#e|%#.0f|%#v|%#x\" 3.0 100000.0 2.0 5.0 1.5 1.0 }}",
        "{{ printf \"%+q|%+.2q|%q\" 233 \"é\" 128512 }}",
    ] {
        push(cases, "printf", t);
    }
}

fn comparisons(cases: &mut Vec<Case>) {
    let pairs = [
        (".n", ".n"),
        (".n", ".f"),
        (".n", "1"),
        (".n", "1.0"),
        (".s", "\"hello\""),
        (".s", ".S"),
        ("1", "2"),
        ("2", "1"),
        (".t", "true"),
        (".nil", ".nil"),
        (".nil", ".s"),
        (".list", ".list"),
        (".m", ".m"),
        (".s", "1"),
        ("1", "1.5"),
        ("\"a\"", "\"b\""),
        (".zero", "0.0"),
        (".neg", ".f"),
        (".t", ".fa"),
        ("(len .s)", "5"),
        ("(add 1 1)", "2"),
    ];
    for op in ["eq", "ne", "lt", "le", "gt", "ge"] {
        for (a, b) in pairs {
            push(cases, "compare", format!("{{{{ {op} {a} {b} }}}}"));
        }
    }
    for t in [
        "{{ eq .s \"a\" \"hello\" \"b\" }}",
        "{{ eq .s \"a\" \"b\" }}",
        "{{ eq .s }}",
        "{{ eq nil nil }}",
        "{{ eq .nil nil }}",
        "{{ lt .nil 1 }}",
        "{{ eq .m.d .nil }}",
    ] {
        push(cases, "compare", t);
    }
}

fn control(cases: &mut Vec<Case>) {
    for x in FIELDS {
        push(
            cases,
            "if",
            format!("{{{{ if {x} }}}}T{{{{ else }}}}F{{{{ end }}}}"),
        );
        push(
            cases,
            "with",
            format!("{{{{ with {x} }}}}[{{{{ . }}}}]{{{{ else }}}}none{{{{ end }}}}"),
        );
        push(
            cases,
            "range",
            format!(
                "{{{{ range $i, $e := {x} }}}}{{{{ $i }}}}={{{{ $e }}}};{{{{ else }}}}empty{{{{ end }}}}"
            ),
        );
    }
    for t in [
        "{{ range .list }}{{ . }}{{ end }}",
        "{{ range $e := .nums }}<{{ $e }}>{{ end }}",
        "{{ range $k, $v := .m }}{{ $k }}:{{ $v }} {{ end }}",
        "{{ range 3 }}{{ . }}{{ end }}",
        "{{ range $i := 3 }}{{ $i }}{{ end }}",
        "{{ range $i, $e := 3 }}{{ end }}",
        "{{ range .n }}x{{ end }}",
        "{{ range 0 }}x{{ else }}none{{ end }}",
        "{{ range .list }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
        "{{ range .list }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}",
        "{{ range .list }}{{ range $.nums }}{{ . }}{{ end }}|{{ end }}",
        "{{ range .mixed }}[{{ . }}]{{ end }}",
        "{{ if .t }}a{{ else if .n }}b{{ else }}c{{ end }}",
        "{{ if .fa }}a{{ else if .zero }}b{{ else }}c{{ end }}",
        "{{ if .fa }}a{{ else if .n }}b{{ end }}",
        "{{ with .missing }}x{{ end }}",
        "{{ with .m }}{{ .b }}{{ end }}",
        "{{ with .nil }}x{{ else with .s }}{{ . }}{{ end }}",
        "{{ with $x := .s }}{{ $x }}{{ end }}",
        "{{ if and .t .n }}yes{{ end }}",
        "{{ if or .fa .zero }}yes{{ else }}no{{ end }}",
        "{{ break }}",
        "{{ if 1 }}{{ continue }}{{ end }}",
        "{{ range .list }}{{ else }}{{ end }}",
        "{{ if }}x{{ end }}",
        "{{ if .t }}unclosed",
        "{{ end }}",
        "{{ else }}",
        "{{ range .m }}{{ . }},{{ end }}",
        "{{ range $i, $e := .list }}{{ if $i }},{{ end }}{{ $e }}{{ end }}",
    ] {
        push(cases, "control", t);
    }
}

fn variables_and_templates(cases: &mut Vec<Case>) {
    for t in [
        "{{ $x := .s }}{{ $x }}",
        "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
        "{{ $x }}",
        "{{ $x = 1 }}",
        "{{ $x := .s }}{{ if .t }}{{ $x := \"inner\" }}{{ $x }}{{ end }}{{ $x }}",
        "{{ $x := .s }}{{ if .t }}{{ $x = \"changed\" }}{{ end }}{{ $x }}",
        "{{ $x := .nil }}{{ $x }}",
        "{{ $x := .nil }}{{ print $x }}",
        "{{ $x := .m }}{{ $x.b }}",
        "{{ $l := list }}{{ range .list }}{{ $l = append $l . }}{{ end }}{{ $l }}",
        "{{ range $i, $e := .list }}{{ end }}{{ $i }}",
        "{{ $a, $b := 1 }}",
        "{{ define \"t\" }}T{{ . }}{{ end }}{{ template \"t\" .s }}",
        "{{ define \"t\" }}{{ .b }}{{ end }}{{ template \"t\" .m }}{{ template \"t\" .m }}",
        "{{ template \"nope\" }}",
        "{{ block \"b\" .s }}[{{ . }}]{{ end }}",
        "{{ define \"t\" }}{{ $ }}{{ end }}{{ template \"t\" 5 }}",
        "{{ define \"t\" }}x{{ end }}",
        "{{ define \"t\" }}a{{ end }}{{ define \"t\" }}b{{ end }}",
        "{{ template \"t\" }}{{ define \"t\" }}{{ . }}{{ end }}",
        "{{ define \"r\" }}{{ if . }}{{ . }}{{ template \"r\" (sub . 1) }}{{ end }}{{ end }}{{ template \"r\" 5 }}",
        "{{ define \"x\" }}{{ .missing }}{{ end }}{{ template \"x\" . }}",
        "{{ $d := dict }}{{ $_ := set $d \"k\" \"v\" }}{{ $d | toJson }}",
        "{{ $d := dict \"a\" 1 }}{{ $_ := unset $d \"a\" }}{{ $d }}",
        "{{ $d := dict \"a\" 1 }}{{ $_ := merge $d (dict \"b\" 2) }}{{ $d }}",
        "{{ $d := dict }}{{ range $i, $e := .list }}{{ $_ := set $d $e $i }}{{ end }}{{ toJson $d }}",
    ] {
        push(cases, "vars", t);
    }
}

fn syntax(cases: &mut Vec<Case>) {
    for t in [
        "a  {{- .s -}}  b",
        "a {{- .s }} b",
        "a {{ .s -}} b",
        "x\n  {{- /* c */ -}}\n  y",
        "{{/* c */}}z",
        "{{ /* c */ }}",
        "{{/* unclosed",
        "{{ .s",
        "{{ \"unterminated }}",
        "{{ 'ab' }}",
        "{{ .s | }}",
        "{{ | .s }}",
        "{{ (.s }}",
        "{{ .s) }}",
        "{{ 3 | printf \"%d\" }}",
        "{{ .s | 3 }}",
        "{{ nil }}",
        "{{ .s .n }}",
        "{{ $ := 1 }}",
        "{{ 1.5.x }}",
        "{{ 1_000 }}",
        "{{ 0b101 }}",
        "{{ 0o17 }}",
        "{{ 017 }}",
        "{{ 99999999999999999999 }}",
        "{{ 1e400 }}",
        "{{ .s|upper|lower }}",
        "{{- .s -}}",
        "{{-.s}}",
        "{{ .s -}}\n\n\tafter",
        "plain text only",
        "",
        "{{ \"\\u00e9\\x41\\101\" }}",
        "{{ \"\\q\" }}",
        "{{ `multi\nline` }}",
        "{{\n.s\n}}",
        "{{ print \"a\" \"b\" 1 2 \"c\" }}",
        "{{ .S.x }}",
        "{{ 'x' }}{{ '\\n' }}",
        "{{ printf \"%v\" (list 1 2) }}",
        "{{ $.m.b }}",
        "{{ true.x }}",
        "{{ nosuchfunc }}",
        "{{ .s | nosuchfunc }}",
        "{{ define \"a\" }}{{ break }}{{ end }}",
        "{{ 1 2 }}",
        "{{ (1) }}",
        "{{ (print 1) 2 }}",
        "{{ and }}",
        "{{ or 0 \"\" }}",
        "{{ and 1 0 \"x\" }}",
    ] {
        push(cases, "syntax", t);
    }
}

fn builtins(cases: &mut Vec<Case>) {
    for x in FIELDS {
        push(cases, "len", format!("{{{{ len {x} }}}}"));
        push(cases, "not", format!("{{{{ not {x} }}}}"));
        push(cases, "html", format!("{{{{ html {x} }}}}"));
        push(cases, "js", format!("{{{{ js {x} }}}}"));
        push(cases, "urlquery", format!("{{{{ urlquery {x} }}}}"));
    }
    for t in [
        "{{ index .list 1 }}",
        "{{ index .list 5 }}",
        "{{ index .list -1 }}",
        "{{ index .list .n }}",
        "{{ index .m \"b\" }}",
        "{{ index .m \"zz\" }}",
        "{{ index .m 1 }}",
        "{{ index .nested \"x\" \"y\" \"z\" }}",
        "{{ index .s 1 }}",
        "{{ index .nil 1 }}",
        "{{ index .m.c 0 }}",
        "{{ index . }}",
        "{{ index .mixed 4 \"k\" }}",
        "{{ print .s .n .f .nil .t }}",
        "{{ print 1 2 \"a\" 3 }}",
        "{{ println .s .n }}",
        "{{ print }}",
        "{{ html .s .n .nil }}",
        "{{ js \"\\u2028\" }}",
        "{{ urlquery \"a b&c=d/é\" }}",
        "{{ call .s }}",
        "{{ call .nil }}",
        "{{ len 3 }}",
        "{{ len nil }}",
        "{{ not 1 2 }}",
        "{{ or .nil .s }}",
        "{{ and .s .nil }}",
        "{{ .s | printf \"%s!\" }}",
        "{{ .s | len }}",
        "{{ .nil | len }}",
        "{{ slice .list 1 2 }}",
        "{{ slice .list 1 }}",
        "{{ slice .s 1 3 }}",
        "{{ slice .list 2 1 }}",
        "{{ slice .emptyList 0 }}",
    ] {
        push(cases, "builtin", t);
    }
}

const UNARY_STRING_FUNCS: [&str; 27] = [
    "upper",
    "lower",
    "trim",
    "nospace",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "quote",
    "squote",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "cat",
    "atoi",
];

const UNARY_ARGS: [&str; 16] = [
    ".s",
    ".u",
    ".empty",
    ".ws",
    ".n",
    ".nil",
    ".json",
    ".jsonList",
    ".b64",
    ".badb64",
    ".b32",
    ".path",
    ".list",
    ".m",
    ".html",
    ".num",
];

fn sprig_strings(cases: &mut Vec<Case>) {
    for f in UNARY_STRING_FUNCS {
        for x in UNARY_ARGS {
            push(cases, "sprig", format!("{{{{ {x} | {f} }}}}"));
        }
    }
    for t in [
        "{{ replace \"l\" \"L\" .s }}",
        "{{ .s | replace \"\" \"-\" }}",
        "{{ contains \"ell\" .s }}",
        "{{ hasPrefix \"he\" .s }}",
        "{{ hasSuffix \"lo\" .s }}",
        "{{ trimAll \"ho\" .s }}",
        "{{ trimPrefix \"he\" .s }}",
        "{{ trimSuffix \"lo\" .s }}",
        "{{ repeat 3 .s }}",
        "{{ repeat -1 .s }}",
        "{{ indent 2 .lines }}",
        "{{ nindent 4 .lines }}",
        "{{ trunc 3 .s }}",
        "{{ trunc -2 .s }}",
        "{{ trunc 10 .s }}",
        "{{ substr 1 3 .s }}",
        "{{ substr -1 2 .s }}",
        "{{ substr 2 99 .s }}",
        "{{ substr 4 2 .s }}",
        "{{ split \",\" .csv }}",
        "{{ (split \",\" .csv)._1 }}",
        "{{ splitList \",\" .csv }}",
        "{{ splitn \",\" 2 .csv }}",
        "{{ splitn \",\" 0 .csv }}",
        "{{ join \"-\" .list }}",
        "{{ join \"-\" .mixed }}",
        "{{ join \",\" .s }}",
        "{{ join \",\" .nil }}",
        "{{ toStrings .nums }}",
        "{{ sortAlpha .list }}",
        "{{ sortAlpha (list \"b\" \"a\" \"C\") }}",
        "{{ sortAlpha .s }}",
        "{{ quote .s .n .nil \"x\" }}",
        "{{ squote .s .n }}",
        "{{ cat .s .nil .n \"z\" }}",
        "{{ plural \"one\" \"many\" 1 }}",
        "{{ plural \"one\" \"many\" (len .list) }}",
        "{{ regexMatch \"^h.l+o$\" .s }}",
        "{{ regexMatch \"(\" .s }}",
        "{{ mustRegexMatch \"(\" .s }}",
        "{{ regexFind \"[aeiou]\" .s }}",
        "{{ regexFindAll \"[aeiou]\" .words -1 }}",
        "{{ regexFindAll \"[aeiou]\" .words 2 }}",
        "{{ regexReplaceAll \"(o)\" .words \"<$1>\" }}",
        "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
        "{{ regexReplaceAllLiteral \"o\" .words \"$1\" }}",
        "{{ regexSplit \" \" .words -1 }}",
        "{{ regexSplit \" \" .words 2 }}",
        "{{ regexQuoteMeta \"a.b*c\" }}",
        "{{ .s | upper | replace \"L\" \"_\" }}",
        "{{ upper .u }}",
        "{{ lower .S }}",
        "{{ b64enc .u | b64dec }}",
        "{{ .nil | upper }}",
        "{{ upper 1 }}",
        "{{ upper }}",
        "{{ upper .s .s }}",
        "{{ hello }}",
        "{{ trim \"\\t x \\n\" }}",
        "{{ clean \"\" }}",
        "{{ base \"\" }}",
        "{{ dir \"/\" }}",
        "{{ ext \"a.b/c\" }}",
    ] {
        push(cases, "sprig", t);
    }
}

fn sprig_others(cases: &mut Vec<Case>) {
    for t in [
        "{{ default \"d\" .empty }}",
        "{{ default \"d\" .s }}",
        "{{ default \"d\" .nil }}",
        "{{ default \"d\" .zero }}",
        "{{ default \"d\" .emptyList }}",
        "{{ .missingx | default \"d\" }}",
        "{{ .nil | default \"d\" }}",
        "{{ default \"d\" }}",
        "{{ empty .s }}",
        "{{ empty .emptyMap }}",
        "{{ empty .fa }}",
        "{{ empty .nil }}",
        "{{ coalesce .nil .empty .s }}",
        "{{ coalesce .nil .zero }}",
        "{{ all .s .n }}",
        "{{ all .s .zero }}",
        "{{ any .empty .n }}",
        "{{ any .empty .nil }}",
        "{{ ternary \"y\" \"n\" .t }}",
        "{{ ternary \"y\" \"n\" .n }}",
        "{{ .t | ternary \"y\" \"n\" }}",
        "{{ fail \"boom\" }}",
        "{{ add 1 2 3 }}",
        "{{ add .n .f \"2\" }}",
        "{{ add1 .f }}",
        "{{ sub 5 .n }}",
        "{{ div 7 2 }}",
        "{{ div 1 0 }}",
        "{{ mod 7 3 }}",
        "{{ mod 1 0 }}",
        "{{ mul 2 3 .f }}",
        "{{ max 1 5 3 }}",
        "{{ min 4 .neg }}",
        "{{ biggest .n 9 }}",
        "{{ int .f }}",
        "{{ int \"12\" }}",
        "{{ int64 \"0x10\" }}",
        "{{ int64 \"1.00\" }}",
        "{{ int \"abc\" }}",
        "{{ float64 \"2.5\" }}",
        "{{ float64 .n }}",
        "{{ atoi \"42\" }}",
        "{{ atoi \"4.2\" }}",
        "{{ until 4 }}",
        "{{ until -3 }}",
        "{{ untilStep 0 10 3 }}",
        "{{ untilStep 10 0 -4 }}",
        "{{ seq 4 }}",
        "{{ seq 2 5 }}",
        "{{ seq 5 2 }}",
        "{{ seq 0 3 9 }}",
        "{{ seq .n }}",
        "{{ typeOf .s }}",
        "{{ typeOf .n }}",
        "{{ typeOf .m }}",
        "{{ typeOf .list }}",
        "{{ typeOf .nil }}",
        "{{ typeOf 1 }}",
        "{{ typeOf (add 1 1) }}",
        "{{ kindOf .list }}",
        "{{ kindOf .m }}",
        "{{ kindOf .nil }}",
        "{{ kindIs \"string\" .s }}",
        "{{ typeIs \"float64\" .n }}",
        "{{ deepEqual .list .list }}",
        "{{ deepEqual 1 (add 0 1) }}",
        "{{ list 1 \"a\" .nil }}",
        "{{ list }}",
        "{{ tuple 1 2 }}",
        "{{ append .list \"d\" }}",
        "{{ append .s \"d\" }}",
        "{{ prepend .list \"z\" }}",
        "{{ first .list }}",
        "{{ first .emptyList }}",
        "{{ first .nil }}",
        "{{ last .list }}",
        "{{ rest .list }}",
        "{{ rest .emptyList }}",
        "{{ initial .list }}",
        "{{ reverse .nums }}",
        "{{ uniq (list 1 2 1 \"a\" \"a\") }}",
        "{{ without .list \"b\" }}",
        "{{ has \"b\" .list }}",
        "{{ has \"z\" .list }}",
        "{{ has 1 .nil }}",
        "{{ has 1 .s }}",
        "{{ compact .mixed }}",
        "{{ compact (list 0 \"\" 1 nil false) }}",
        "{{ concat .list .nums }}",
        "{{ concat .list .s }}",
        "{{ chunk 2 .list }}",
        "{{ chunk 0 .list }}",
        "{{ dict \"a\" 1 \"b\" }}",
        "{{ dict }}",
        "{{ dict 1 2 }}",
        "{{ get .m \"b\" }}",
        "{{ get .m \"zz\" }}",
        "{{ get .s \"b\" }}",
        "{{ set .m \"e\" 5 }}",
        "{{ unset .m \"a\" }}",
        "{{ hasKey .m \"a\" }}",
        "{{ hasKey .m \"q\" }}",
        "{{ hasKey .nil \"q\" }}",
        "{{ pluck \"a\" .m (dict \"a\" 2) }}",
        "{{ keys .m | sortAlpha }}",
        "{{ keys .m .nested | sortAlpha }}",
        "{{ values .nested }}",
        "{{ pick .m \"a\" \"c\" }}",
        "{{ omit .m \"a\" \"c\" }}",
        "{{ merge (dict \"a\" 1) (dict \"a\" 2 \"b\" 3) }}",
        "{{ mergeOverwrite (dict \"a\" 1) (dict \"a\" 2 \"b\" 3) }}",
        "{{ merge (dict \"a\" 1) (dict \"a\" nil \"b\" nil) }}",
        "{{ mergeOverwrite (dict \"a\" 1) (dict \"a\" nil \"b\" nil) }}",
        "{{ dig \"x\" \"y\" \"z\" \"none\" .nested }}",
        "{{ dig \"x\" \"q\" \"none\" .nested }}",
        "{{ dig \"x\" .nested }}",
        "{{ (fromJson .json).a }}",
        "{{ (fromJson .json).b }}",
        "{{ fromJson .json | toJson }}",
        "{{ fromJson .jsonList | toPrettyJson }}",
        "{{ toJson .m }}",
        "{{ toPrettyJson .m }}",
        "{{ toRawJson .m }}",
        "{{ toJson .big }}",
        "{{ toJson .tiny }}",
        "{{ toJson .huge }}",
        "{{ toJson .html }}",
        "{{ toRawJson .html }}",
        "{{ toJson .ctl }}",
        "{{ toJson .emptyMap }}",
        "{{ toPrettyJson .emptyList }}",
        "{{ toJson (list 1 1.5 -0.0) }}",
        "{{ mustToJson .nil }}",
        "{{ toJson (dict \"k\" (list 1 (dict))) }}",
        "{{ mustFromJson \"{bad\" }}",
        "{{ fromJson \"{bad\" }}",
        "{{ title .words }}",
        "{{ title \"hello_world-foo bar.baz\" }}",
        "{{ title .u }}",
        "{{ abbrev 5 .words }}",
        "{{ abbrev 3 .words }}",
        "{{ abbrev 50 .words }}",
        "{{ abbrevboth 5 10 .words }}",
        "{{ abbrevboth 0 8 .words }}",
        "{{ abbrevboth 1 5 .words }}",
        "{{ floor 1.5 }}",
        "{{ ceil .f }}",
        "{{ floor \"-2.5\" }}",
        "{{ round 3.14159 2 }}",
        "{{ round 2.5 0 }}",
        "{{ round 1.234 1 0.3 }}",
        "{{ maxf 1 2.5 .n }}",
        "{{ minf .neg 2 }}",
        "{{ osBase .path }}",
        "{{ deepCopy .m }}",
        "{{ mustDeepCopy .list }}",
        "{{ deepCopy .nil }}",
        "{{ typeIsLike \"string\" .s }}",
        "{{ typeIsLike \"int\" .n }}",
        "{{ addf 0.1 0.2 }}",
        "{{ addf 1 2.5 .f \"0.25\" }}",
        "{{ add1f .f }}",
        "{{ subf 1 0.9 }}",
        "{{ mulf 1.1 1.1 }}",
        "{{ mulf .big 3 }}",
        "{{ divf 1 3 }}",
        "{{ divf 2 3 }}",
        "{{ divf 10 4 2 }}",
        "{{ divf 1 0 }}",
        "{{ divf -2 3 }}",
        "{{ addf }}",
        "{{ subf .small .tiny }}",
        "{{ mulf .huge 2 }}",
        "{{ untitle .S }}",
        "{{ untitle \"ABC  Déf\\tGHI\" }}",
        "{{ swapcase .S }}",
        "{{ swapcase .u }}",
        "{{ initials .words }}",
        "{{ initials .u }}",
        "{{ initials \"  x\" }}",
        "{{ urlParse \"postgres://user:p%40ss@db.example.com:5432/app?sslmode=require#frag\" | toJson }}",
        "{{ urlParse \"https://example.com\" | toJson }}",
        "{{ urlParse \"https://example.com/a%20b/c?x=1&y=2\" | toJson }}",
        "{{ urlParse \"mailto:someone@example.com\" | toJson }}",
        "{{ urlParse \"//host.only/path\" | toJson }}",
        "{{ urlParse \"/just/a/path?q\" | toJson }}",
        "{{ urlParse \"relative/path\" | toJson }}",
        "{{ urlParse \"http://[::1]:8080/x\" | toJson }}",
        "{{ urlParse \"http://host:port/\" | toJson }}",
        "{{ urlParse \"http://user@host/\" | toJson }}",
        "{{ urlParse \"http://us er:p!w@host/\" | toJson }}",
        "{{ urlParse \"http://host/%zz\" | toJson }}",
        "{{ urlParse \"HTTPS://Example.COM/\" | toJson }}",
        "{{ urlParse \"1http://x\" | toJson }}",
        "{{ urlParse \"http://a b.com/\" | toJson }}",
        "{{ urlParse \"file:///etc/passwd\" | toJson }}",
        "{{ urlParse \"redis://:secret@cache:6379/0\" | toJson }}",
        "{{ urlParse \"\" | toJson }}",
        "{{ camelcase \"http_server-name here\" }}",
        "{{ camelcase \"__a__b\" }}",
        "{{ camelcase \"ABC_def\" }}",
        "{{ camelcase \"HTTPServer\" }}",
        "{{ camelcase .u }}",
        "{{ camelcase .empty }}",
        "{{ camelcase \"_\" }}",
        "{{ camelcase \"x\" }}",
        "{{ camelcase \"a--b  c\" }}",
        "{{ camelcase .words }}",
        "{{ snakecase \"HTTPStatus\" }}",
        "{{ kebabcase \"HTTPStatus\" }}",
        "{{ snakecase \"Bld4Floor\" }}",
        "{{ kebabcase \"Bld4Floor\" }}",
        "{{ snakecase \"HTTP2xx\" }}",
        "{{ kebabcase \"HTTP2xx\" }}",
        "{{ snakecase \"FirstName\" }}",
        "{{ kebabcase \"FirstName\" }}",
        "{{ snakecase \"firstName\" }}",
        "{{ kebabcase \"firstName\" }}",
        "{{ snakecase \"first_name\" }}",
        "{{ kebabcase \"first_name\" }}",
        "{{ snakecase \"  lead trail  \" }}",
        "{{ kebabcase \"  lead trail  \" }}",
        "{{ snakecase \"a.b-c_d e\" }}",
        "{{ kebabcase \"a.b-c_d e\" }}",
        "{{ snakecase \"ABC\" }}",
        "{{ kebabcase \"ABC\" }}",
        "{{ snakecase \"aBC\" }}",
        "{{ kebabcase \"aBC\" }}",
        "{{ snakecase \"v1.2.3\" }}",
        "{{ kebabcase \"v1.2.3\" }}",
        "{{ snakecase \"x99y\" }}",
        "{{ kebabcase \"x99y\" }}",
        "{{ snakecase \"Ünïcode Wörds\" }}",
        "{{ kebabcase \"Ünïcode Wörds\" }}",
        "{{ snakecase \"日本語テキスト\" }}",
        "{{ kebabcase \"日本語テキスト\" }}",
        "{{ snakecase \"$price+tax\" }}",
        "{{ kebabcase \"$price+tax\" }}",
        "{{ snakecase \"foo--bar__baz\" }}",
        "{{ kebabcase \"foo--bar__baz\" }}",
        "{{ snakecase \"ID\" }}",
        "{{ kebabcase \"ID\" }}",
        "{{ snakecase \"getHTTPResponseCode\" }}",
        "{{ kebabcase \"getHTTPResponseCode\" }}",
        "{{ snakecase \"already_snake\" }}",
        "{{ kebabcase \"already_snake\" }}",
        "{{ snakecase \"Hello World!\" }}",
        "{{ kebabcase \"Hello World!\" }}",
        "{{ snakecase .u }}",
        "{{ kebabcase .words }}",
        "{{ toDecimal \"0777\" }}",
        "{{ toDecimal 755 }}",
        "{{ toDecimal \"-17\" }}",
        "{{ toDecimal \"89\" }}",
        "{{ toDecimal .f }}",
        "{{ toDecimal .nil }}",
        "{{ toDecimal \"+7\" }}",
        "{{ wrap 5 .words }}",
        "{{ wrap 3 \"abcdefgh ij\" }}",
        "{{ wrap 0 .words }}",
        "{{ wrap 80 .words }}",
        "{{ wrap 4 \"   a  b   \" }}",
        "{{ wrapWith 5 \"<br>\" .words }}",
        "{{ wrapWith 3 \"|\" \"abcdefgh ij\" }}",
        "{{ wrapWith 4 \"\" .words }}",
        "{{ wrap 2 .u }}",
        "{{ wrap 5 .empty }}",
        "{{ (urlParse .path).path }}",
        "{{ urlParse .n }}",
        "{{ osDir .path }}",
        "{{ osClean .path }}",
        "{{ osExt .path }}",
        "{{ osIsAbs .path }}",
        "{{ fromJson \"1e400\" }}",
        "{{ toString (fromJson \"[1,2]\") }}",
    ] {
        push(cases, "sprig", t);
    }
}

/// Where the ESO corpus lives: `KEYWARD_ESO_CORPUS`, else `../shared/eso-compat` from the
/// repository root.
pub fn eso_corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KEYWARD_ESO_CORPUS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eso-compat")
}

/// The templates of every ExternalSecret in ESO's documentation snippets
/// (`spec.target.template.data` values), each with data holding every key it reads.
pub fn eso_snippets() -> Result<Vec<Case>, String> {
    let dir = eso_corpus_dir().join("docs/snippets");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let Ok(raw) = std::fs::read_to_string(&path) else {
            continue;
        };
        // The snippets are mkdocs includes wrapped in `{% raw %}` … `{% endraw %}` lines.
        let text: String = raw
            .lines()
            .filter(|l| !matches!(l.trim(), "{% raw %}" | "{% endraw %}"))
            .map(|l| format!("{l}\n"))
            .collect();
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let Ok(doc) = <Json as serde::Deserialize>::deserialize(document) else {
                break;
            };
            let Some(data) = doc
                .pointer("/spec/target/template/data")
                .and_then(Json::as_object)
            else {
                continue;
            };
            for (key, template) in data {
                let Some(template) = template.as_str() else {
                    continue;
                };
                cases.push(Case {
                    name: format!("eso snippet {file} key {key}"),
                    template: template.to_owned(),
                    data: snippet_data(template),
                });
            }
        }
    }
    Ok(cases)
}

/// String data for every `.key` and `index . "key"` a template reads.
fn snippet_data(template: &str) -> Json {
    let mut data = serde_json::Map::new();
    let bytes = template.as_bytes();
    for (i, _) in template.match_indices('.') {
        let name: String = template[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let preceded_by_word =
            i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b')');
        if !name.is_empty() && !preceded_by_word {
            data.insert(name.clone(), Json::String(format!("value-of-{name}")));
        }
    }
    for (i, _) in template.match_indices("index . \"") {
        let rest = &template[i + 9..];
        if let Some(end) = rest.find('"') {
            data.insert(
                rest[..end].to_owned(),
                Json::String("value-of-index".to_owned()),
            );
        }
    }
    Json::Object(data)
}
