//! `keyward template render`: renders an ExternalSecret's `spec.target.template` offline
//! against key/value data from a JSON file, like ESO's `esoctl template`. Rendered values are
//! secrets: they print as `[redacted]` unless `--reveal` asks for them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use keyward_api::ExternalSecretTemplate;
use keyward_core::{ErrorKind, ExitCode, REDACTED, SecretValue};
use serde_json::Value as Json;

use crate::args::TemplateRenderArgs;
use crate::failure::Failure;
use crate::output::{Output, OutputFormat};

/// Renders every template key of the manifest and prints the results.
pub fn render(args: &TemplateRenderArgs, output: &Output) -> Result<ExitCode, Failure> {
    let manifest = read_manifest(&args.file)?;
    let data = read_data(&args.data)?;
    let template = manifest
        .pointer("/spec/target/template")
        .ok_or_else(|| invalid(anyhow!("{}: no spec.target.template", args.file.display())))?;
    let rendered = render_template(template, data)?;
    let report = match output.format {
        OutputFormat::Json => json_report(&manifest, &rendered, args.reveal),
        OutputFormat::Text => text_report(&rendered, args.reveal),
    };
    write_stdout(report.as_bytes())?;
    Ok(ExitCode::Success)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
        .map_err(|error| Failure::new(ErrorKind::Write, error))
}

fn invalid(error: anyhow::Error) -> Failure {
    Failure::new(ErrorKind::InvalidConfig, error)
}

/// A file that cannot be read is a missing input (exit 12); one that is not UTF-8 text is
/// invalid input (exit 11), named without quoting its bytes.
fn read_file(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(|error| Failure::new(ErrorKind::MissingDependency, error))?;
    String::from_utf8(bytes).map_err(|error| {
        invalid(anyhow!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
    })
}

/// The first YAML document that is an ExternalSecret.
fn read_manifest(path: &Path) -> Result<Json, Failure> {
    let text = read_file(path)?;
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Json = serde::Deserialize::deserialize(document)
            .with_context(|| format!("{}: not valid YAML", path.display()))
            .map_err(invalid)?;
        if value.get("kind").and_then(Json::as_str) == Some("ExternalSecret") {
            return Ok(value);
        }
    }
    Err(invalid(anyhow!(
        "{}: no ExternalSecret document",
        path.display()
    )))
}

/// The template data: a JSON object of key → value. ESO hands templates the store's values
/// as strings (a Secret's bytes), so a non-string value is given as its JSON text.
fn read_data(path: &Path) -> Result<BTreeMap<String, SecretValue>, Failure> {
    let text = read_file(path)?;
    // serde_json's error names a position, never the text it failed on.
    let json: Json = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))
        .map_err(invalid)?;
    let Json::Object(entries) = json else {
        return Err(invalid(anyhow!(
            "{}: the data must be a JSON object",
            path.display()
        )));
    };
    Ok(entries
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Json::String(s) => s,
                other => other.to_string(),
            };
            (key, SecretValue::from(text))
        })
        .collect())
}

/// Renders the template the way `keyward sync` does, showing only the rendered keys (as
/// `esoctl template` does): the merge policy does not apply here.
fn render_template(
    template: &Json,
    data: BTreeMap<String, SecretValue>,
) -> Result<BTreeMap<String, SecretValue>, Failure> {
    let mut template: ExternalSecretTemplate = serde_json::from_value(template.clone())
        .map_err(|error| invalid(anyhow!("spec.target.template: {error}")))?;
    template.merge_policy = None;
    keyward_sync::template::render(&template, data, &Default::default())
        .map(|rendered| rendered.data)
        .map_err(|(field, message)| invalid(anyhow!("{field}: {message}")))
}

fn shown(value: &SecretValue, reveal: bool) -> String {
    if !reveal {
        return REDACTED.to_owned();
    }
    String::from_utf8_lossy(value.expose_bytes()).into_owned()
}

fn text_report(rendered: &BTreeMap<String, SecretValue>, reveal: bool) -> String {
    let mut out = String::new();
    for (key, value) in rendered {
        let text = shown(value, reveal);
        if text.contains('\n') {
            out.push_str(&format!("{key}: |\n"));
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        } else {
            out.push_str(&format!("{key}: {text}\n"));
        }
    }
    out
}

fn json_report(manifest: &Json, rendered: &BTreeMap<String, SecretValue>, reveal: bool) -> String {
    let data: serde_json::Map<String, Json> = rendered
        .iter()
        .map(|(key, value)| (key.clone(), Json::String(shown(value, reveal))))
        .collect();
    let name = manifest
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Json::Null);
    format!(
        "{}\n",
        serde_json::json!({ "name": name, "revealed": reveal, "data": data })
    )
}
