//! No input may panic the engine: the fuzz input is split at the first NUL into a template and
//! a JSON data object; parsing and rendering must return `Ok` or `Err`.
#![no_main]

use std::time::Duration;

use keyward_template::{Budget, Limits, Template, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (template, data) = text.split_once('\0').unwrap_or((&text, "{}"));
    let json = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
    let data = match json {
        serde_json::Value::Object(_) => Value::from_json(&json),
        _ => Value::from_json(&serde_json::json!({"s": data, "l": [data], "m": {data: data}})),
    };
    if let Ok(t) = Template::parse("fuzz", template) {
        // A short time budget: generated loops may run until their deadline.
        let mut budget = Budget::new(Limits::with_time_budget(Duration::from_millis(500)));
        let _ = t.render_within(&data, &mut budget);
    }
});
