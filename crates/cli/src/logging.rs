//! Logging with tracing: `--log-level`, `--log-format`, always on stderr.
//!
//! Logs are for operators and may be shipped anywhere, so nothing logged may contain a secret
//! value; `SecretValue` prints as `[redacted]`, and canary tests run at trace level.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

use crate::output::Output;

/// `--log-level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// No logs at all.
    Off,
    /// Failures only.
    Error,
    /// Failures and things worth a look (the default).
    Warn,
    /// What keyward does, step by step.
    Info,
    /// Details for a bug report.
    Debug,
    /// Everything, including each store call.
    Trace,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Installs the global tracing subscriber.
pub fn init(log_level: LogLevel, log_format: LogFormat, output: &Output) -> anyhow::Result<()> {
    // keyward's own crates (targets keyward, keyward_*: directives match by prefix) log at the
    // chosen level; the libraries under them (HTTP clients,
    // TLS) only at warn, because their debug output can include request bodies.
    let level = log_level.directive();
    let filter = match log_level {
        LogLevel::Off | LogLevel::Error | LogLevel::Warn => EnvFilter::new(level),
        _ => EnvFilter::new(format!("warn,keyward={level}")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let installed = match log_format {
        LogFormat::Text => builder.with_ansi(output.color_stderr).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
}
