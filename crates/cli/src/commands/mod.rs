//! One module per subcommand; each turns parsed arguments into library calls.

pub mod audit;
pub mod bundle;
pub mod check;
pub mod convert;
mod docs;
pub mod evidence;
pub mod operator;
pub mod rotate;
pub mod scan;
pub mod sync;
mod template;

use keyward_core::ExitCode;

use crate::args::{Command, TemplateCommand};
use crate::failure::Failure;
use crate::output::Output;

/// How a command that did not fail ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// With one of keyward's exit codes.
    Exit(ExitCode),
    /// With a child's exit code (`bundle exec-file`).
    Child(u8),
}

impl From<Done> for std::process::ExitCode {
    fn from(done: Done) -> Self {
        match done {
            Done::Exit(exit) => exit.into(),
            Done::Child(code) => std::process::ExitCode::from(code),
        }
    }
}

/// The multi-threaded runtime a command runs its cluster and store calls on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                keyward_core::ErrorKind::Internal,
                anyhow::Error::new(e).context("starting the async runtime"),
            )
        })
}

/// A client for the cluster of KUBECONFIG, ~/.kube/config or the pod; exit 20 without one.
pub(crate) async fn cluster_client() -> Result<kube::Client, Failure> {
    kube::Client::try_default().await.map_err(|e| {
        Failure::new(
            keyward_core::ErrorKind::Store,
            anyhow::Error::new(e)
                .context("connecting to the cluster (KUBECONFIG, ~/.kube/config or in-cluster)"),
        )
    })
}

/// Runs a parsed subcommand and returns how a run that did not fail ends.
pub fn run(command: Command, output: &Output) -> Result<Done, Failure> {
    match command {
        Command::Bundle(args) => bundle::run(args, output),
        Command::Scan(args) => scan::run(&args, output).map(Done::Exit),
        Command::Check(args) => check::run(&args, output).map(Done::Exit),
        Command::Evidence(args) => evidence::run(&args, output).map(Done::Exit),
        Command::Audit(command) => audit::run(&command, output).map(Done::Exit),
        Command::Convert(args) => convert::run(&args).map(Done::Exit),
        Command::Sync(args) => sync::run(args, output),
        Command::Rotate(args) => rotate::run(args, output),
        Command::Operator(args) => operator::run(args),
        Command::Template(TemplateCommand::Render(args)) => {
            template::render(&args, output).map(Done::Exit)
        }
        Command::Completions { shell } => docs::completions(shell).map(Done::Exit),
        Command::Man { out_dir } => docs::man(out_dir.as_deref(), output).map(Done::Exit),
    }
}
