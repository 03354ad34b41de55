//! Corpus cases for Sprig's date family and semver: every layout element, zones with odd
//! offsets and DST, parse errors, and Masterminds' constraint language. Cases never print
//! the current time itself, only its shape, so they cannot flake.

use serde_json::{Value as Json, json};

use super::Case;

/// Data for the date cases: times and layouts as strings, as an ExternalSecret would hold.
pub fn date_data() -> Json {
    json!({
        "when": "2020-02-29T13:04:05.123456789Z",
        "layout": "2006-01-02 15:04:05",
        "stamp": "1999-12-31 23:59:59",
        "zone": "Asia/Kolkata",
        "ver": "1.2.3-beta.1+build.5",
        "range": ">= 1.2, < 2"
    })
}

fn push(cases: &mut Vec<Case>, group: &str, template: impl Into<String>) {
    let template = template.into();
    cases.push(Case {
        name: format!("{group}: {template}"),
        template,
        data: date_data(),
    });
}

/// Every date and semver case.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    layouts(&mut cases);
    zones(&mut cases);
    parsing(&mut cases);
    parse_errors(&mut cases);
    time_values(&mut cases);
    modify_and_ago(&mut cases);
    semver(&mut cases);
    constraints(&mut cases);
    round_trips(&mut cases);
    more(&mut cases);
    cases
}

/// Go's named layouts (`time.ANSIC` … `time.DateOnly`): formatted, then parsed back.
const GO_LAYOUTS: [&str; 18] = [
    "Mon Jan _2 15:04:05 2006",
    "Mon Jan _2 15:04:05 MST 2006",
    "Mon Jan 02 15:04:05 -0700 2006",
    "02 Jan 06 15:04 MST",
    "02 Jan 06 15:04 -0700",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 -0700",
    "2006-01-02T15:04:05Z07:00",
    "2006-01-02T15:04:05.999999999Z07:00",
    "3:04PM",
    "Jan _2 15:04:05",
    "Jan _2 15:04:05.000",
    "Jan _2 15:04:05.000000",
    "Jan _2 15:04:05.000000000",
    "2006-01-02 15:04:05",
    "2006-01-02",
    "15:04:05",
];

fn round_trips(cases: &mut Vec<Case>) {
    for layout in GO_LAYOUTS {
        for (instant, zone) in [("1136239445", "UTC"), ("1593615845", "America/New_York")] {
            push(
                cases,
                "round trip",
                format!(
                    "{{{{ $s := dateInZone {layout:?} {instant} {zone:?} }}}}{{{{ $s }}}}|{{{{ $t := toDate {layout:?} $s }}}}{{{{ $t }}}}|{{{{ unixEpoch $t }}}}"
                ),
            );
        }
    }
}

fn more(cases: &mut Vec<Case>) {
    for template in [
        "{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2020-01-01T00:00:00+24:00\" }}|{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2020-01-01T00:00:00+24:00\" | toJson }}",
        "{{ mustToDate \"2006-01-02T15:04:05Z07:00\" \"2020-01-01T00:00:00+25:00\" }}",
        "{{ mustToDate \"2006-01-02 -0700\" \"2020-01-01 Z\" }}",
        "{{ mustToDate \"15:04:05,000\" \"10:00:00.123\" }}",
        "{{ mustToDate \"15:04:05.999\" \"10:00:00\" }}",
        "{{ mustToDate \"15:04:05.999\" \"10:00:00.1234567891234\" }}",
        "{{ mustToDate \"15:04:05\" \"10:00:00.1234567891234\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-07-01 EST\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-01-01 EDT\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-07-01 IST\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-07-01 WITA\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-07-01 GMT-11\" }}",
        "{{ mustToDate \"2006-01-02 MST\" \"2020-07-01 +0530\" }}",
        "{{ mustToDate \"2006-01-02 15 MST\" \"2020-07-01 10 ABCDT\" }}",
        "{{ (semver \"1.2.3\").IncMajor | typeOf }}|{{ (semver \"1.2.3\").IncMajor | kindOf }}|{{ (semver \"1.2.3\").IncMajor | toJson }}",
        "{{ $v := semver \"1.0.0\" }}{{ $v.LessThan $v.IncMajor }}",
        "{{ eq (semver \"1.0.0\").IncMajor (semver \"1.0.0\").IncMajor }}",
        "{{ eq (semver \"1.0.0\").IncMajor (semver \"1.0.0\") }}",
        "{{ (semver \"1.0.0\").IncMajor.Original }}",
        "{{ (semver \"1.2.3\").Major | add1 }}|{{ eq (semver \"1.2.3\").Major 1 }}",
        "{{ semver \"1.02.3\" }}|{{ semver \"v01.2.3\" }}",
        "{{ list (semver \"1.2.3\") (semver \"v2\") | toJson }}",
        "{{ sortAlpha (list (semver \"1.2.3\") \"a\") }}|{{ quote (semver \"1.2.3\") }}|{{ toString (semver \"1.2.3\") }}",
        "{{ semver \"1.2.3\" | upper }}",
        "{{ with now }}{{ typeOf .Year }}{{ end }}",
        "{{ range $i, $t := list now now }}{{ $t.Year | typeOf }}{{ end }}",
        "{{ join \",\" (list (toDate \"2006\" \"2001\")) }}",
        "{{ typeOf (toDate \"2006\" \"2020\").UTC }}|{{ (toDate \"2006\" \"2020\").Local }}",
        "{{ (toDate \"2006\" \"2020\").Format 1 }}",
        "{{ now | date \"MST -0700\" }}|{{ now | dateInZone \"MST\" \"Asia/Tokyo\" }}",
        "{{ toDate \"2006-01-02\" \"2024-02-29\" | date \"Z07:00 MST\" }}",
        "{{ htmlDateInZone (toDate \"2006-01-02 15:04\" \"2024-02-29 23:30\") \"Asia/Tokyo\" }}",
        "{{ dateInZone \"2006-01-02 15:04:05 MST\" (toDate \"2006-01-02 15:04 MST\" \"2024-02-29 23:30 CET\") \"Europe/Paris\" }}",
        "{{ date \"2006-01-02\" (int64 -9223372036854775808) }}",
        "{{ dateInZone \"2006-01-02 15:04:05.000000000\" (dateModify \"1ns\" (toDate \"2006\" \"2000\")) \"UTC\" }}",
        "{{ dateModify \"-1ns\" (toDate \"2006\" \"2000\") }}",
        "{{ toDate \"2006-01-02 15:04:05.000000000\" \"0000-01-01 00:00:00.000000001\" }}|{{ toDate \"2006\" \"0000\" | toJson }}",
        "{{ toDate \"06\" \"-1\" }}|{{ toDate \"06\" \"+1\" }}",
        "{{ semverCompare \"  >= 1.2  \" \"1.3.0\" }}|{{ semverCompare \">=1.2,<2\" \"1.3.0\" }}|{{ semverCompare \"1.2.3 - 2.3.4 || 5\" \"5.1.0\" }}|{{ semverCompare \"~1.2.3 || ^2\" \"2.9.9\" }}|{{ semverCompare \"> 1\" \"1.0.1\" }}",
        "{{ semverCompare \">1.2.3-alpha.1 <1.2.3\" \"1.2.3-alpha.2\" }}|{{ semverCompare \"1.2.3-alpha - 1.2.3\" \"1.2.3-beta\" }}|{{ semverCompare \"^1.2.3-beta\" \"1.3.0-beta\" }}",
        "{{ semverCompare \"1.2 - 1.4 - 1.6\" \"1.3.0\" }}|{{ semverCompare \"1.2 -1.4\" \"1.3.0\" }}",
        "{{ semverCompare \"\\t>=1.0\" \"1.0.0\" }}|{{ semverCompare \">=1.0\\n\" \"1.0.0\" }}",
        "{{ semverCompare \">=1.0\u{00a0}\" \"1.0.0\" }}",
        "{{ $t := toDate .layout .stamp }}{{ $t.AddDate 0 1 0 }}|{{ $t.AddDate 0 2 0 }}|{{ $t.AddDate -2000 0 1 }}|{{ $t.AddDate 0 -14 -400 }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-01-31\" }}{{ $t.AddDate 0 1 0 }}|{{ $t.AddDate 1 1 0 }}|{{ $t.AddDate 0 0 (add 1 1 | int) }}",
        "{{ $t := toDate \"2006-01-02 15:04\" \"2021-03-13 02:30\" }}{{ $t.AddDate 0 0 1 }}|{{ ($t.AddDate 0 0 1).IsDST }}|{{ $t.IsDST }}",
        "{{ $t := toDate .layout .stamp }}{{ $t.Add 3600000000000 }}|{{ $t.Add -1 }}|{{ $t.Add 1.5 }}",
        "{{ $t := toDate .layout .stamp }}{{ $t.Truncate 3600000000000 }}|{{ $t.Round 3600000000000 }}|{{ $t.Round 0 }}|{{ $t.Truncate -5 }}",
        "{{ $t := toDate \"2006-01-02 15:04:05.000\" \"0001-01-01 00:00:00.500\" }}{{ $t.Round 1000000000 }}|{{ $t.Truncate 7000000000 }}|{{ ($t.AddDate -5 0 0).Truncate 86400000000000 }}",
        "{{ $t := toDate .layout .stamp }}{{ $u := $t.AddDate 0 0 1 }}{{ $u.Sub $t }}|{{ $t.Sub $u }}|{{ $t.Before $u }}|{{ $t.After $u }}|{{ $t.Equal $t.UTC }}|{{ $t.Compare $u }}",
        "{{ $t := now }}{{ $u := $t.Add 1 }}{{ $t.Before $u }}|{{ $t.Sub $u }}|{{ ($t.Round 0).Equal $t }}",
        "{{ (toDate .layout .stamp).Sub \"x\" }}",
        "{{ (toDate .layout .stamp).Before }}",
        "{{ (toDate .layout .stamp).AddDate 1 }}",
        "{{ (toDate .layout .stamp).GoString }}|{{ (toDate \"2006 MST\" \"2001 ABC\").GoString }}",
        "{{ (toDate .layout .stamp).Zone }}",
        "{{ (toDate .layout .stamp).Date }}",
        "{{ (toDate .layout .stamp).UnmarshalJSON \"x\" }}",
        "{{ printf \"%#v|%+v|%20v|%-12.4s|\" (toDate .layout .stamp) (toDate .layout .stamp) (toDate \"2006\" \"2001\") (toDate \"2006\" \"2001\") }}",
        "{{ printf \"%#v\" (toDate \"2006 -0700\" \"2001 +0130\") }}|{{ printf \"%#v\" (toDate \"2006 MST\" \"2001 XYZ\") }}|{{ printf \"%#v\" (toDate \"2006\" \"2001\").UTC }}",
        "{{ printf \"%#v\" (semver \"v1.2.3-rc.1+b\") }}|{{ printf \"%#v\" (semver \"1.2.3\").IncMinor }}|{{ printf \"%+v\" (semver \"1.2\") }}",
        "{{ mustToJson (toDate \"2006\" \"10000\") }}",
        "{{ $v := semver \"18446744073709551615.2.3\" }}{{ typeOf $v.Major }}|{{ kindOf $v.Minor }}|{{ printf \"%d %v %x %#v %s\" $v.Major $v.Major $v.Major $v.Major $v.Major }}|{{ toJson (list $v.Major $v.Patch) }}|{{ $v.Major | int64 }}|{{ $v.Patch | add1 }}|{{ toYaml $v.Major }}",
        "{{ $v := semver \"1.2.3\" }}{{ eq $v.Major 1 }}|{{ eq 1 $v.Major }}|{{ eq $v.Major $v.Major }}|{{ lt $v.Major 2 }}|{{ lt -1 $v.Major }}|{{ gt $v.Patch $v.Minor }}",
        "{{ eq (semver \"1.2.3\").Major 1.0 }}",
        "{{ $v := semver \"1.2.3\" }}{{ index (list 0 1 2) $v.Minor }}|{{ empty $v.Major }}|{{ if $v.Minor }}y{{ end }}|{{ float64 $v.Patch }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-02-29\" }}{{ typeOf $t.Month }}|{{ kindOf $t.Month }}|{{ typeOf $t.Weekday }}|{{ eq $t.Month 2 }}|{{ printf \"%d %v %s %q %#v %x %5.3s|\" $t.Month $t.Month $t.Month $t.Month $t.Month $t.Month $t.Month }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-02-29\" }}{{ $t.Month | add1 }}|{{ $t.Weekday | int }}|{{ $t.Month | toJson }}|{{ $t.Weekday | toString }}|{{ index (list 0 1 2) $t.Month }}|{{ lt $t.Month 3 }}|{{ $t.Month | toYaml }}",
        "{{ $t := toDate .layout .stamp }}{{ $d := ($t.AddDate 0 0 1).Sub $t }}{{ $d }}|{{ typeOf $d }}|{{ kindOf $d }}|{{ printf \"%d %v %s\" $d $d $d }}|{{ $d | add1 }}|{{ toJson $d }}|{{ durationRound $d }}|{{ duration $d }}|{{ eq $d 86400000000000 }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-02-29\" }}{{ eq $t.Month \"February\" }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-02-29\" }}{{ $t.Month | upper }}",
        "{{ $t := toDate \"2006-01-02\" \"2024-02-29\" }}{{ $t.AddDate 0 $t.Month 0 }}",
        "{{ dateInZone \"MST\" ((toDate \"2006-01-02\" \"2021-07-01\").AddDate 0 6 0) \"Europe/London\" }}",
    ] {
        push(cases, "more", template);
    }
}

/// Unix seconds chosen for their edges: epoch, a leap day, nanosecond-free noon and
/// midnight, year 0, negative years, 9999, and far beyond.
const INSTANTS: [&str; 12] = [
    "0",
    "1136239445",
    "951782400",
    "1582977600",
    "-62135596800",
    "-62167219200",
    "-62198755200",
    "253402300799",
    "253402300800",
    "-1",
    "(int64 4102444800)",
    "(int64 -99999999999)",
];

fn layouts(cases: &mut Vec<Case>) {
    let layouts = [
        "2006-01-02 15:04:05.999999999 -0700 MST",
        "Mon Monday Jan January",
        "1 01 2 02 _2 __2 002",
        "15 3 03 4 04 5 05 PM pm",
        "06 2006 _2006 Z07:00 -07:00 -0700 Z0700 Z070000 Z07 -07 -070000 -07:00:00 Z07:00:00",
        ".000 .999 ,000 ,999 .0 .9 .000000000 .999999999 .0000000000",
        "Janet Mont Mon2 January2 MST2 PMx pmx",
        "0102 150405 20060102T150405Z0700",
        "literal text with no elements",
        "",
        "2006-01-02T15:04:05Z07:00",
        "2006-01-02T15:04:05.999999999Z07:00",
        "Mon, 02 Jan 2006 15:04:05 MST",
        "3:04PM",
        "Jan _2 15:04:05.000000",
        "05.000 05,999 5.9",
    ];
    for layout in layouts {
        for instant in ["1136239445", "951825845", "-62198755200"] {
            push(
                cases,
                "layout",
                format!("{{{{ dateInZone {layout:?} {instant} \"UTC\" }}}}"),
            );
        }
    }
    for instant in INSTANTS {
        push(
            cases,
            "instant",
            format!("{{{{ dateInZone \"2006-01-02 15:04:05 Mon __2 MST\" {instant} \"UTC\" }}}}"),
        );
    }
}

fn zones(cases: &mut Vec<Case>) {
    let zones = [
        "UTC",
        "Local",
        "",
        "America/New_York",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/St_Johns",
        "America/Sao_Paulo",
        "Europe/London",
        "Etc/GMT+5",
        "EST5EDT",
        "Not/AZone",
        "america/new_york",
        "../zoneinfo/UTC",
        "/etc/localtime",
        "Europe/Dublin",
    ];
    for zone in zones {
        for instant in [
            "1136239445",
            "1162100000",
            "-2208988800",
            "-3786825600",
            "(int64 3093527980800)",
            "(int64 9223372036854775807)",
        ] {
            push(
                cases,
                "zone",
                format!(
                    "{{{{ dateInZone \"2006-01-02 15:04:05 -07:00:00 MST\" {instant} {zone:?} }}}}"
                ),
            );
        }
        push(
            cases,
            "zone",
            format!("{{{{ htmlDateInZone 1136239445 {zone:?} }}}}"),
        );
    }
    for template in [
        "{{ date \"2006-01-02 15:04\" 1136239445 }}",
        "{{ date \"2006\" (int64 1136239445) }}",
        "{{ htmlDate 1136239445 }}",
        "{{ htmlDate (toDate \"2006-01-02\" \"2024-02-29\") }}",
        "{{ dateInZone .layout (toDate .layout .stamp) .zone }}",
        "{{ date_in_zone \"15:04 MST\" 0 \"Asia/Kathmandu\" }}",
        "{{ date .layout 0 }}",
    ] {
        push(cases, "zone", template);
    }
}

fn parsing(cases: &mut Vec<Case>) {
    let pairs = [
        ("2006-01-02", "2024-02-29"),
        ("2006-01-02 15:04:05", "1999-12-31 23:59:59"),
        ("2006-01-02T15:04:05Z07:00", "2020-02-29T13:04:05Z"),
        ("2006-01-02T15:04:05Z07:00", "2020-02-29T13:04:05+05:30"),
        ("2006-01-02T15:04:05Z07:00", "2020-02-29T13:04:05-00:00"),
        (
            "2006-01-02T15:04:05.999999999Z07:00",
            "2020-02-29T13:04:05.123456789Z",
        ),
        ("2006-01-02T15:04:05Z07:00", "2020-02-29T13:04:05.5Z"),
        ("2006-01-02 15:04:05.000", "2020-01-01 00:00:00,250"),
        ("2006-01-02 15:04:05 MST", "2020-07-01 12:00:00 EDT"),
        ("2006-01-02 15:04:05 MST", "2020-07-01 12:00:00 UTC"),
        ("2006-01-02 15:04:05 MST", "2020-07-01 12:00:00 GMT+3"),
        ("2006-01-02 15:04:05 MST", "2020-07-01 12:00:00 ChST"),
        (
            "2006-01-02 15:04:05 -0700 MST",
            "2020-07-01 12:00:00 +0200 CEST",
        ),
        ("2006-01-02 15:04:05 -0700", "2020-07-01 12:00:00 +0000"),
        ("Jan 2, 2006 at 3:04pm (MST)", "Feb 3, 2013 at 7:54pm (PST)"),
        ("Monday, 02-Jan-06 15:04:05", "friday, 03-FEB-23 07:54:00"),
        ("06 002", "24 060"),
        ("2006 __2", "2023 365"),
        ("2006 002", "2024 366"),
        ("01/02/06 03:04:05 PM", "12/31/68 12:00:00 AM"),
        ("01/02/06 03:04:05 PM", "01/01/69 12:30:00 PM"),
        ("2006-01-02 15:04", "2021-03-14 02:30"),
        ("2006-01-02 15:04", "2021-11-07 01:30"),
        ("2006-01-02", "0000-01-01"),
        ("2006-01-02", "9999-12-31"),
        ("2006-1-2 3:4:5", "2020-2-9 1:2:3"),
        ("_2 Jan 2006", " 9 Mar 2021"),
        ("2006-01-02 15:04:05 Z07", "2020-07-01 12:00:00 +05"),
        (
            "2006-01-02 15:04:05 -07:00:00",
            "2020-07-01 12:00:00 +01:02:03",
        ),
        ("2006-01-02 15:04:05 Z070000", "2020-07-01 12:00:00 Z"),
        ("15:04:05", "23:59:59.999"),
        ("2006  01", "2020 \t 02"),
        ("2006  01", "2020    02"),
    ];
    for (layout, value) in pairs {
        push(
            cases,
            "toDate",
            format!(
                "{{{{ $t := toDate {layout:?} {value:?} }}}}{{{{ $t }}}}|{{{{ unixEpoch $t }}}}|{{{{ $t.Format \"Z07:00:00 MST\" }}}}"
            ),
        );
        push(
            cases,
            "mustToDate",
            format!(
                "{{{{ mustToDate {layout:?} {value:?} | date \"2006-01-02T15:04:05.000000000 -0700 MST\" }}}}"
            ),
        );
    }
}

fn parse_errors(cases: &mut Vec<Case>) {
    let pairs = [
        ("2006-01-02", "2021-02-29"),
        ("2006-01-02", "2021-13-01"),
        ("2006-01-02", "2021-01-32"),
        ("2006-01-02", "21-01-01"),
        ("2006-01-02", "2021-01-01 extra"),
        ("15:04", "24:00"),
        ("15:04:05", "12:60:00"),
        ("15:04:05", "12:00:60"),
        ("3PM", "13PM"),
        ("3PM", "1XM"),
        ("2006 002", "2023 366"),
        ("2006 002 01", "2023 032 01"),
        ("2006 002 01-02", "2023 032 02-02"),
        ("2006 002", "2023 000"),
        ("MST", "Mountain"),
        ("-0700", "+2500"),
        ("-07:00", "+0100"),
        ("Z07:00", "z"),
        (".000", ".12"),
        ("05.000", "01.-12"),
        ("2006", "20x1"),
        ("Jan", "Foo"),
        ("Monday", "Mon"),
        ("", "x"),
        ("2006-01-02", ""),
    ];
    for (layout, value) in pairs {
        push(
            cases,
            "toDate error",
            format!("{{{{ toDate {layout:?} {value:?} }}}}"),
        );
        push(
            cases,
            "mustToDate error",
            format!("{{{{ mustToDate {layout:?} {value:?} }}}}"),
        );
    }
    push(
        cases,
        "toDate error",
        "{{ (toDate \"2006\" \"x\").IsZero }}|{{ toDate \"2006\" \"x\" | unixEpoch }}",
    );
}

fn time_values(cases: &mut Vec<Case>) {
    for template in [
        "{{ typeOf now }}|{{ kindOf now }}|{{ typeIs \"time.Time\" now }}",
        "{{ if now }}true{{ end }}|{{ empty now }}|{{ not now }}",
        "{{ now | date \"2006\" | len }}",
        "{{ regexMatch `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)? [+-]\\d{4} \\S+ m=\\+\\d+\\.\\d{9}$` (toString now) }}",
        "{{ regexMatch `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)? [+-]\\d{4} \\S+$` (now.UTC | toString) }}",
        "{{ $t := now }}{{ eq $t $t }}|{{ eq now now }}|{{ ne $t $t }}",
        "{{ $t := toDate .layout .stamp }}{{ eq $t (toDate .layout .stamp) }}",
        "{{ eq (toDate \"-0700\" \"+0900\") (toDate \"-0700\" \"+0900\") }}",
        "{{ eq now nil }}",
        "{{ eq now \"x\" }}",
        "{{ eq now 1 }}",
        "{{ lt now now }}",
        "{{ eq now (semver \"1.0.0\") }}",
        "{{ now.IsZero }}|{{ typeOf now.Year }}|{{ typeOf now.Unix }}",
        "{{ toDate .layout .stamp | toJson }}",
        "{{ toDate .layout .stamp | toPrettyJson }}",
        "{{ toDate \"2006-01-02T15:04:05.999999999Z07:00\" .when | toJson }}",
        "{{ dict \"t\" (toDate \"2006-01-02T15:04:05.999999999Z07:00\" .when) | toJson }}",
        "{{ toDate \"2006-01-02T15:04:05.999999999Z07:00\" .when | toYaml }}",
        "{{ list (toDate \"2006\" \"2001\") (semver \"1.2\") }}",
        "{{ print (toDate \"2006\" \"2001\") (toDate \"2006\" \"2002\") }}",
        "{{ printf \"%v|%s|%q|%T\" (toDate \"2006\" \"2001\") (toDate \"2006\" \"2001\") (toDate \"2006\" \"2001\") (toDate \"2006\" \"2001\") }}",
        "{{ toString (toDate \"2006\" \"2001\") }}|{{ cat (toDate \"2006\" \"2001\") \"x\" }}",
        "{{ default \"d\" (toDate \"2006\" \"2001\") }}",
        "{{ $t := toDate \"2006-01-02T15:04:05.999999999Z07:00\" .when }}{{ $t.Year }} {{ $t.Month }} {{ $t.Day }} {{ $t.Hour }} {{ $t.Minute }} {{ $t.Second }} {{ $t.Nanosecond }} {{ $t.YearDay }} {{ $t.Weekday }}",
        "{{ $t := toDate \"2006-01-02T15:04:05.999999999Z07:00\" .when }}{{ $t.Unix }} {{ $t.UnixMilli }} {{ $t.UnixMicro }} {{ $t.UnixNano }}",
        "{{ (toDate \"2006-01-02T15:04:05Z07:00\" \"2020-02-29T13:04:05+05:30\").UTC }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Format \"Monday 2 January 2006\" }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Format }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Format \"a\" \"b\" }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Nope }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Year.Foo }}",
        "{{ (toDate \"2006-01-02\" \"2020-02-29\").Year 1 }}",
        "{{ $t := toDate \"2006-01-02\" \"2020-02-29\" }}{{ $t.Format .layout }}",
        "{{ (toDate \"2006\" \"2001\").String }}",
        "{{ unixEpoch \"2001\" }}",
        "{{ unixEpoch 5 }}",
        "{{ unixEpoch nil }}",
        "{{ unixEpoch .when }}",
        "{{ date \"2006\" }}",
        "{{ len now }}",
        "{{ index now 0 }}",
        "{{ range now }}{{ end }}",
        "{{ toDate \"2006\" \"10000\" }}",
        "{{ dateInZone \"2006-01-02\" (toDate \"2006-01-02\" \"2020-02-29\") \"Pacific/Kiritimati\" }}",
        "{{ (dateModify \"8760000h\" (toDate \"2006\" \"9999\")) | toJson }}",
        "{{ deepEqual (toDate \"2006\" \"2001\") (toDate \"2006\" \"2001\") }}",
    ] {
        push(cases, "time", template);
    }
}

fn modify_and_ago(cases: &mut Vec<Case>) {
    for d in [
        "1h",
        "-90m",
        "1.5h",
        "1h2m3.5s",
        "1ns",
        "-1us",
        "2µs",
        "+10s",
        "0",
        "",
        "1d",
        "x",
        "9223372036s",
        "-2562047h",
    ] {
        push(
            cases,
            "dateModify",
            format!(
                "{{{{ toDate .layout .stamp | dateModify {d:?} }}}}|{{{{ toDate .layout .stamp | date_modify {d:?} | unixEpoch }}}}"
            ),
        );
        push(
            cases,
            "mustDateModify",
            format!(
                "{{{{ toDate .layout .stamp | mustDateModify {d:?} }}}}|{{{{ toDate .layout .stamp | must_date_modify {d:?} | unixEpoch }}}}"
            ),
        );
    }
    for template in [
        "{{ dateModify \"1h\" \"2020\" }}",
        "{{ dateModify \"1h\" nil }}",
        "{{ dateModify \"1h\" 5 }}",
        "{{ mustDateModify \"1h\" .when }}",
        "{{ ago now }}",
        "{{ now | dateModify \"-90m\" | ago }}",
        "{{ now | dateModify \"2h\" | ago }}",
        "{{ now | dateModify \"-1500ms\" | ago }}",
        "{{ regexMatch `^[0-9]+h[0-9]+m[0-9]+s$` (ago 0) }}",
        "{{ regexMatch `^[0-9]+h[0-9]+m[0-9]+s$` (ago (int64 86400)) }}",
        "{{ ago \"x\" }}|{{ ago nil }}",
        "{{ now | dateModify \"-49h\" | durationRound }}",
        "{{ now | dateModify \"-400d\" | durationRound }}",
        "{{ durationRound (toDate \"2006\" \"1990\") }}",
        "{{ toDate .layout .stamp | dateModify \"-2562047h\" | dateModify \"-2562047h\" }}",
    ] {
        push(cases, "ago", template);
    }
}

fn semver(cases: &mut Vec<Case>) {
    for v in [
        "1.2.3",
        "v1.2.3",
        "1.2",
        "v1",
        "1.2.3-beta.1+build.5",
        "1.2.3+meta-data",
        "1.2.3-0",
        "1.2.3-01",
        "1.2.3-alpha..1",
        "1.2.3+meta..x",
        "01.2.3",
        "1.2.3.4",
        "",
        "v",
        "x.y.z",
        " 1.2.3",
        "18446744073709551615.0.0",
        "18446744073709551616.0.0",
        "1.2-rc.1",
        "1-2",
    ] {
        push(
            cases,
            "semver",
            format!(
                "{{{{ $v := semver {v:?} }}}}{{{{ $v }}}}|{{{{ $v.Major }}}}.{{{{ $v.Minor }}}}.{{{{ $v.Patch }}}}|{{{{ $v.Prerelease }}}}|{{{{ $v.Metadata }}}}|{{{{ $v.Original }}}}"
            ),
        );
    }
    for template in [
        "{{ typeOf (semver \"1.2.3\") }}|{{ kindOf (semver \"1.2.3\") }}",
        "{{ semver .ver | toJson }}",
        "{{ semver .ver | toString }}|{{ printf \"%v %s\" (semver .ver) (semver .ver) }}",
        "{{ if semver \"1.0.0\" }}yes{{ end }}|{{ empty (semver \"1.0.0\") }}",
        "{{ $v := semver \"1.0.0\" }}{{ eq $v $v }}|{{ eq (semver \"1.0.0\") (semver \"1.0.0\") }}|{{ eq $v nil }}",
        "{{ deepEqual (semver \"1.0.0\") (semver \"1.0.0\") }}",
        "{{ (semver \"v1.2.3-rc.1\").IncPatch }}|{{ (semver \"v1.2.3\").IncPatch.Original }}|{{ (semver \"1.2.3\").IncMinor }}|{{ (semver \"1.2.3\").IncMajor }}",
        "{{ (semver \"1.2.3\").LessThan (semver \"1.2.4\") }}|{{ (semver \"1.2.3\").GreaterThan (semver \"1.2.3-rc\") }}|{{ (semver \"1.2.3\").Equal (semver \"v1.2.3+x\") }}",
        "{{ (semver \"1.2.3\").Compare (semver \"1.2.4\") }}",
        "{{ (semver \"1.2.3\").Nope }}",
        "{{ (semver \"1.2.3\").Major 1 }}",
        "{{ semver 1 }}",
        "{{ semver nil }}",
        "{{ semver .ver | semver }}",
        "{{ semverCompare .range \"1.5.0\" }}",
        "{{ semverCompare .range .ver }}",
        "{{ semverCompare 1 \"1.0.0\" }}",
        "{{ semverCompare \"1.0.0\" }}",
    ] {
        push(cases, "semver", template);
    }
    for (a, b) in [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-1", "1.0.0-01"),
        ("1.0.0-a.b", "1.0.0-a"),
        ("1.0.0+a", "1.0.0+b"),
    ] {
        push(
            cases,
            "semver order",
            format!(
                "{{{{ (semver {a:?}).LessThan (semver {b:?}) }}}}|{{{{ (semver {b:?}).LessThan (semver {a:?}) }}}}"
            ),
        );
    }
}

fn constraints(cases: &mut Vec<Case>) {
    let constraints = [
        "1.2.3",
        "=1.2.3",
        "!=1.2.3",
        ">1.2.3",
        "<1.2.3",
        ">=1.2.3",
        "=>1.2.3",
        "<=1.2.3",
        "=<1.2.3",
        "~1.2.3",
        "~>1.2",
        "~1",
        "^1.2.3",
        "^0.2.3",
        "^0.0.3",
        "^0.0",
        "^0",
        "1.x",
        "1.2.x",
        "*",
        "x",
        "X.x",
        "1.2.*",
        ">1.x",
        ">1.2.x",
        "<=1.2.x",
        "<=1.x",
        "!=1.x",
        "!=1.2.x",
        "~0",
        "~0.0.0",
        ">= 1.2, < 2.0",
        ">=1.2 <2.0",
        "<1.0 || >=2.0",
        "1.2 - 1.4.5",
        "1.2.3 - 2",
        "v1.2.3",
        ">= 1.0.0-beta",
        "^1.2.3-alpha",
        "~1.2.3-rc.1",
        "!=1.2.3-beta.1",
        "!=1.2.x-beta",
        ">1.2.3-alpha",
        "<1.2.3-rc",
        "",
        " ",
        "||",
        ">>1",
        "1.2.3.4",
        "a.b.c",
        ">=1.0.0,",
        "1||2",
        "1 || 2",
        "=1.2|3",
        ">= 1.2 , <= 1.4",
        "~ 1.2",
        "^v1.2",
        "1.2.3+meta",
        ">=01.0",
    ];
    let versions = [
        "1.2.3",
        "1.2.4",
        "1.3.0",
        "2.0.0",
        "0.2.5",
        "1.2.3-beta.1",
        "1.2.3-rc.2",
        "0.0.3",
        "v1.4.5",
        "1.0.0-beta.2",
    ];
    for c in constraints {
        let checks: Vec<String> = versions
            .iter()
            .map(|v| format!("{{{{ semverCompare {c:?} {v:?} }}}}"))
            .collect();
        push(cases, "semverCompare", checks.join(","));
    }
    for v in ["", "x", "1.2.3-01", "v"] {
        push(
            cases,
            "semverCompare bad version",
            format!("{{{{ semverCompare \"*\" {v:?} }}}}"),
        );
    }
}
