//! Randomised differential test: templates assembled from fragments by a seeded generator
//! (the same corpus on every run), rendered by keyward and by Go, which must agree.

#[allow(dead_code)] // this test uses only the standard data of the shared corpus module
use std::process::Command;

use keyward_template::{Template, Value};
use keyward_test_support::Tools;
use serde_json::{Value as Json, json};

const CASES: usize = 10000;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const OPERANDS: &[&str] = &[
    ".s",
    ".n",
    ".f",
    ".neg",
    ".nil",
    ".list",
    ".m",
    ".u",
    ".empty",
    ".t",
    ".zero",
    ".big",
    ".mixed",
    ".nested.x",
    ".m.b",
    "1",
    "2.5",
    "-3",
    "\"x\"",
    "\"\"",
    "true",
    "$",
    "$v",
    "(list 1 \"a\")",
    "(dict \"k\" 1)",
    ".json",
    ".csv",
    ".ws",
];

const FUNCTIONS: &[&str] = &[
    "print",
    "printf \"%v\"",
    "printf \"%s|%d\"",
    "len",
    "not",
    "and",
    "or",
    "eq",
    "ne",
    "lt",
    "ge",
    "index",
    "upper",
    "lower",
    "trim",
    "quote",
    "squote",
    "toString",
    "toJson",
    "default",
    "empty",
    "coalesce",
    "b64enc",
    "b64dec",
    "join \",\"",
    "splitList \",\"",
    "first",
    "last",
    "rest",
    "reverse",
    "uniq",
    "compact",
    "add",
    "sub 1",
    "mul 2",
    "max",
    "min",
    "int",
    "float64",
    "toStrings",
    "sortAlpha",
    "hasKey",
    "list",
    "append",
    "has",
    "without",
    "repeat 2",
    "indent 2",
    "nindent 1",
    "replace \"a\" \"b\"",
    "trunc 2",
    "contains \"l\"",
    "hasPrefix \"h\"",
    "typeOf",
    "kindOf",
    "fromJson",
    "ternary 1 2",
    "html",
    "js",
    "urlquery",
    "sha256sum",
    "nospace",
    "cat",
    "dict \"a\"",
    "pick",
    "omit",
    "until",
    "seq",
    "atoi",
    "title",
    "abbrev 5",
    "semver",
    "semverCompare \">=1\"",
    "toDate \"2006\"",
    "mustToDate \"06\"",
    "unixEpoch",
    "htmlDateInZone",
    "dateModify \"1h\"",
];

fn expression(rng: &mut Rng, depth: u32) -> String {
    let operand = if depth > 0 && rng.next().is_multiple_of(3) {
        format!("({})", expression(rng, depth - 1))
    } else {
        rng.pick(OPERANDS).to_owned()
    };
    match rng.next() % 4 {
        0 => operand,
        1 => format!("{} {operand}", rng.pick(FUNCTIONS)),
        2 => format!("{operand} | {}", rng.pick(FUNCTIONS)),
        _ => format!("{} {operand} {}", rng.pick(FUNCTIONS), rng.pick(OPERANDS)),
    }
}

fn template(rng: &mut Rng) -> String {
    let e = expression(rng, 2);
    let body = format!("{{{{ {} }}}}", expression(rng, 1));
    match rng.next() % 6 {
        0 => format!("{{{{ {e} }}}}"),
        1 => format!("{{{{ if {e} }}}}T{body}{{{{ else }}}}F{{{{ end }}}}"),
        2 => format!("{{{{ with $v := {e} }}}}[{{{{ $v }}}}]{body}{{{{ else }}}}none{{{{ end }}}}"),
        3 => format!(
            "{{{{ range $i, $v := {e} }}}}{{{{ $i }}}}={body};{{{{ else }}}}empty{{{{ end }}}}"
        ),
        4 => format!("{{{{ $v := {e} }}}}{body}"),
        _ => format!("{{{{- {e} -}}}} {{{{ printf \"%q\" ({e}) }}}}"),
    }
}

#[test]
fn random_templates_render_like_go() {
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    let data = crate::corpus::standard_data();
    let templates: Vec<String> = (0..CASES).map(|_| template(&mut rng)).collect();
    let (disagreements, binary) = compare_with_go(&templates, &data);
    eprintln!(
        "random: {CASES} templates, {binary} skipped for non-UTF-8 Go output, {} disagreements",
        disagreements.len()
    );
    assert!(binary < CASES / 10, "too many skipped cases: {binary}");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Renders `templates` on `data` with keyward and Go: the disagreements, and how many cases
/// were skipped because Go's output is not UTF-8.
fn compare_with_go(templates: &[String], data: &Json) -> (Vec<String>, usize) {
    let batch: Vec<Json> = templates
        .iter()
        .map(|t| json!({"template": t, "data": data}))
        .collect();
    let tools = Tools::find().expect("the Go reference renderer is installed");
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&batch).expect("serialise")).expect("write");
    let output = Command::new(&tools.gotemplate)
        .arg("-batch")
        .arg(&path)
        .output()
        .expect("gotemplate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Json> = serde_json::from_slice(&output.stdout).expect("JSON array");
    let value = Value::from_json(data);
    let mut disagreements = Vec::new();
    let mut binary = 0;
    for (text, go) in templates.iter().zip(&results) {
        let ours = Template::parse("template", text).and_then(|t| t.render(&value));
        let go_output = go.get("output_b64").and_then(Json::as_str).map(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("base64")
        });
        if go_output
            .as_ref()
            .is_some_and(|b| std::str::from_utf8(b).is_err())
        {
            // Raw bytes (a cut inside a UTF-8 character): keyward renders text. Known limitation.
            binary += 1;
            continue;
        }
        let agree = match (&ours, &go_output) {
            (Ok(a), Some(b)) => a.as_bytes() == b.as_slice(),
            (Err(_), None) => true,
            _ => false,
        };
        if !agree {
            disagreements.push(format!(
                "{text}\n    keyward: {ours:?}\n    go: {:?}",
                go_output
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or(go.get("error"))
            ));
        }
    }
    (disagreements, binary)
}

/// Layout pieces for the date generator: every element of Go's layout language, near-misses
/// of them, and separators.
const LAYOUT_PIECES: &[&str] = &[
    "2006",
    "06",
    "01",
    "1",
    "Jan",
    "January",
    "02",
    "2",
    "_2",
    "__2",
    "002",
    "15",
    "3",
    "03",
    "4",
    "04",
    "5",
    "05",
    "PM",
    "pm",
    "MST",
    "Z07:00",
    "-07:00",
    "-0700",
    "Z0700",
    "Z07",
    "-07",
    "Z070000",
    "-070000",
    "Z07:00:00",
    "-07:00:00",
    ".000",
    ".999",
    ",000",
    ",999",
    ".9",
    ".0",
    "Mon",
    "Monday",
    "-",
    ":",
    " ",
    "  ",
    "T",
    ".",
    ",",
    "/",
    "x",
    "Z",
    "_",
    "0",
    "9",
    "Janu",
    "Mond",
    "M",
    "J",
    "P",
    "p",
];

const DATE_ZONES: &[&str] = &[
    "UTC",
    "Local",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Europe/Dublin",
    "Pacific/Kiritimati",
    "Africa/Casablanca",
];

/// Strings for `toDate` to parse: digits, names, zones, signs and separators.
const VALUE_PIECES: &[&str] = &[
    "2024",
    "1999",
    "0000",
    "24",
    "69",
    "68",
    "1",
    "12",
    "13",
    "31",
    "29",
    "00",
    "60",
    "59",
    "366",
    "060",
    "Feb",
    "FEB",
    "february",
    "Mon",
    "monday",
    "PM",
    "am",
    "UTC",
    "EST",
    "EDT",
    "GMT+2",
    "CEST",
    "+05:30",
    "-0800",
    "+24",
    "Z",
    ".5",
    ",123456789",
    ".1234567891",
    "-",
    ":",
    " ",
    "T",
    "x",
];

fn random_layout(rng: &mut Rng) -> String {
    let n = 1 + rng.next() % 6;
    let pieces: String = (0..n).map(|_| rng.pick(LAYOUT_PIECES)).collect();
    // Half the layouts carry a whole date, so parses land on real days across the years.
    let date = rng.pick(&[
        "",
        "",
        "2006-01-02 15:04:05 ",
        "Jan _2 06 3:04PM ",
        "2006 002 ",
    ]);
    format!("{date}{pieces}")
}

fn random_instant(rng: &mut Rng) -> String {
    let raw = rng.next() as i64;
    let value = match rng.next() % 4 {
        0 => raw % (1 << 31),
        1 => raw % (1 << 36),
        2 => raw % 400_000_000_000,
        _ => raw,
    };
    format!("(int64 {value})")
}

fn date_template(rng: &mut Rng) -> String {
    let layout = format!("{:?}", random_layout(rng));
    let instant = random_instant(rng);
    let zone = rng.pick(DATE_ZONES);
    let formatted = format!("(dateInZone {layout} {instant} {zone:?})");
    match rng.next() % 4 {
        0 => format!("{{{{ {formatted} }}}}"),
        1 => format!(
            "{{{{ $t := toDate {layout} {formatted} }}}}{{{{ $t }}}}|{{{{ unixEpoch $t }}}}"
        ),
        2 => {
            let cut = rng.next() % 12;
            format!("{{{{ mustToDate {layout} (substr 0 {cut} {formatted}) }}}}")
        }
        _ => {
            let n = 1 + rng.next() % 5;
            let value: String = (0..n).map(|_| rng.pick(VALUE_PIECES)).collect();
            format!("{{{{ mustToDate {layout} {value:?} }}}}")
        }
    }
}

/// Seeded random layouts, instants, zones and parse inputs for Sprig's date functions.
#[test]
fn random_date_templates_render_like_go() {
    const DATE_CASES: usize = 10000;
    let mut rng = Rng(0x00DA_7E0F_2006_0102);
    let templates: Vec<String> = (0..DATE_CASES).map(|_| date_template(&mut rng)).collect();
    let (disagreements, _) = compare_with_go(&templates, &json!({}));
    eprintln!(
        "random dates: {DATE_CASES} templates, {} disagreements",
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
