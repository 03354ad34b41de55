//! Render throughput of keyward's template engine: `render TEMPLATE DATA.json N` parses and
//! executes the template N times (as a reconcile does) and prints the last output, so
//! `scripts/bench-template` can time it against the Go reference doing the same.

use std::process::ExitCode;

use keyward_template::{Template, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(template_path), Some(data_path), Some(count)) =
        (args.get(1), args.get(2), args.get(3))
    else {
        eprintln!("usage: render TEMPLATE DATA.json N");
        return ExitCode::from(2);
    };
    let (Ok(text), Ok(data), Ok(count)) = (
        std::fs::read_to_string(template_path),
        std::fs::read_to_string(data_path),
        count.parse::<usize>(),
    ) else {
        eprintln!("cannot read the template, the data or the count");
        return ExitCode::from(2);
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&data) else {
        eprintln!("the data file is not JSON");
        return ExitCode::from(2);
    };
    let data = Value::from_json(&json);
    let mut output = String::new();
    for _ in 0..count {
        match Template::parse("template", &text).and_then(|t| t.render(&data)) {
            Ok(rendered) => output = rendered,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::from(1);
            }
        }
    }
    print!("{output}");
    ExitCode::SUCCESS
}
