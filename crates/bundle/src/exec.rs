//! Handing a bundle's values to exactly one child process, and editing them in place.
//!
//! - [`exec_env`] replaces keyward with the command, its environment extended (or, with
//!   `pristine`, replaced) by the values. After `execve` keyward is gone: the child gets every
//!   signal directly, its exit code is the exit code, and no copy of the plaintext remains in
//!   a keyward process.
//! - [`exec_file`] runs the command with `{}` replaced by the path of the plaintext, a FIFO by
//!   default (readable once, never on disk) or a 0600 file, in a private 0700 directory on
//!   tmpfs where there is one. keyward waits, forwards SIGINT, SIGTERM and SIGHUP, removes the
//!   directory and returns the child's exit code.
//! - [`edit`] opens `$VISUAL`/`$EDITOR` on a 0600 plaintext file in such a directory and
//!   returns the new content only if it changed; the directory is removed on every path.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tempfile::TempDir;
use zeroize::Zeroizing;

use crate::env::EnvMap;

/// Exit code when the command cannot be found (as shells use).
pub const EXIT_NOT_FOUND: u8 = 127;
/// Exit code when the command exists but cannot be run (as shells use).
pub const EXIT_NOT_EXECUTABLE: u8 = 126;

/// Why the child could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// No command was given.
    #[error("no command given: put it after --")]
    NoCommand,
    /// `exec-file` needs a `{}` placeholder.
    #[error("the command has no '{{}}' argument to replace with the file's path")]
    NoPlaceholder,
    /// The command could not be started.
    #[error("cannot run '{program}': {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Preparing the private directory or the plaintext file failed.
    #[error("cannot prepare the plaintext file: {0}")]
    Prepare(#[source] std::io::Error),
    /// The editor failed.
    #[error("the editor '{editor}' failed ({status}); the bundle is unchanged")]
    Editor {
        /// The editor command.
        editor: String,
        /// How it ended.
        status: String,
    },
    /// keyward was asked to stop while the child ran.
    #[error("interrupted by a signal; the plaintext was removed and the bundle is unchanged")]
    Interrupted,
}

impl ExecError {
    /// The exit code a shell would use for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                EXIT_NOT_FOUND
            }
            ExecError::Spawn { .. } => EXIT_NOT_EXECUTABLE,
            ExecError::Interrupted => 130,
            _ => 2,
        }
    }
}

/// Replaces this process with `command`, giving it the values as environment variables.
/// Returns only when the command could not be started.
pub fn exec_env(values: &EnvMap, pristine: bool, command: &[OsString]) -> ExecError {
    let Some((program, args)) = command.split_first() else {
        return ExecError::NoCommand;
    };
    let mut child = Command::new(program);
    child.args(args);
    if pristine {
        child.env_clear();
    }
    for (key, value) in values {
        // Environment values are bytes on Unix; a bundle value is any bytes but NUL.
        child.env(key, std::ffi::OsStr::from_bytes(value.expose_bytes()));
    }
    let source = child.exec();
    ExecError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    }
}

/// Runs `command` with `{}` replaced by the path of `plaintext`, then removes it. Returns the
/// child's exit code (128 + N when a signal N ended it).
pub fn exec_file(plaintext: &[u8], use_fifo: bool, command: &[OsString]) -> Result<u8, ExecError> {
    if command.is_empty() {
        return Err(ExecError::NoCommand);
    }
    if !command.iter().any(|arg| arg == "{}") {
        return Err(ExecError::NoPlaceholder);
    }
    let dir = private_dir().map_err(ExecError::Prepare)?;
    let path = dir.path().join("secrets.env");
    let writer = if use_fifo {
        nix::unistd::mkfifo(
            &path,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .map_err(|e| ExecError::Prepare(e.into()))?;
        Some(FifoWriter::start(
            path.clone(),
            Zeroizing::new(plaintext.to_vec()),
        ))
    } else {
        write_private_file(&path, plaintext).map_err(ExecError::Prepare)?;
        None
    };
    let args: Vec<OsString> = command
        .iter()
        .map(|arg| {
            if arg == "{}" {
                path.clone().into_os_string()
            } else {
                arg.clone()
            }
        })
        .collect();
    let result = run_forwarding_signals(&args);
    if let Some(writer) = writer {
        writer.finish();
    }
    drop(dir);
    result.map(exit_code_of)
}

/// Opens `editor` (a shell command line, see [`editor_from_env`]) on `plaintext`; returns
/// `Some(new content)` when it was changed.
pub fn edit(plaintext: &[u8], editor: &str) -> Result<Option<Zeroizing<Vec<u8>>>, ExecError> {
    let dir = private_dir().map_err(ExecError::Prepare)?;
    let path = dir.path().join("secrets.env");
    write_private_file(&path, plaintext).map_err(ExecError::Prepare)?;
    let editor = editor.to_owned();
    // `sh -c 'EDITOR "$1"'` lets EDITOR carry arguments ("code --wait").
    let args: Vec<OsString> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("{editor} \"$1\"").into(),
        "keyward-edit".into(),
        path.clone().into_os_string(),
    ];
    let status = run_forwarding_signals(&args)?;
    if !status.success() {
        return Err(ExecError::Editor {
            editor,
            status: status.to_string(),
        });
    }
    let edited = Zeroizing::new(std::fs::read(&path).map_err(ExecError::Prepare)?);
    drop(dir);
    Ok((edited.as_slice() != plaintext).then_some(edited))
}

/// `$VISUAL`, else `$EDITOR`, else `vi`.
pub fn editor_from_env() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// Spawns `args`, forwarding SIGTERM and SIGHUP to the child while it runs. SIGINT from a
/// terminal already reaches the child (same process group); keyward ignores it so that the
/// cleanup after the child exits always happens. A SIGTERM or SIGHUP makes the run end with
/// [`ExecError::Interrupted`] after the child has exited.
fn run_forwarding_signals(args: &[OsString]) -> Result<ExitStatus, ExecError> {
    let (program, rest) = args.split_first().ok_or(ExecError::NoCommand)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(ExecError::Prepare)?;
    let handle = signals.handle();
    let mut child: Child =
        Command::new(program)
            .args(rest)
            .spawn()
            .map_err(|source| ExecError::Spawn {
                program: program.to_string_lossy().into_owned(),
                source,
            })?;
    let pid = i32::try_from(child.id())
        .map(nix::unistd::Pid::from_raw)
        .ok();
    let flag = Arc::clone(&interrupted);
    let forwarder = std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == SIGINT {
                continue;
            }
            flag.store(true, Ordering::SeqCst);
            if let (Some(pid), Ok(signal)) = (pid, nix::sys::signal::Signal::try_from(signal)) {
                let _ = nix::sys::signal::kill(pid, signal);
            }
        }
    });
    let status = child.wait().map_err(ExecError::Prepare);
    handle.close();
    let _ = forwarder.join();
    let status = status?;
    if interrupted.load(Ordering::SeqCst) {
        return Err(ExecError::Interrupted);
    }
    Ok(status)
}

fn exit_code_of(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

/// A 0700 directory for plaintext: on tmpfs (`/dev/shm`, `$XDG_RUNTIME_DIR`) where there is
/// one, so it never reaches a disk; removed when dropped.
fn private_dir() -> std::io::Result<TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let candidates = [
        Some(PathBuf::from("/dev/shm")),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(std::env::temp_dir()),
    ];
    let mut last_error = None;
    for base in candidates.into_iter().flatten().filter(|p| p.is_dir()) {
        match tempfile::Builder::new()
            .prefix("keyward-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
        {
            Ok(dir) => return Ok(dir),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no directory for a private file")))
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes the plaintext into a FIFO once a reader opens it.
struct FifoWriter {
    path: PathBuf,
    thread: std::thread::JoinHandle<()>,
}

impl FifoWriter {
    fn start(path: PathBuf, plaintext: Zeroizing<Vec<u8>>) -> Self {
        let fifo = path.clone();
        let thread = std::thread::spawn(move || {
            // Opening for writing blocks until the child opens the FIFO for reading.
            if let Ok(mut file) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                // A reader that stops early gets what it read; EPIPE is not our error.
                let _ = file.write_all(&plaintext);
            }
        });
        Self { path, thread }
    }

    /// Unblocks a writer whose reader never came, then waits for it.
    fn finish(self) {
        use std::os::unix::fs::OpenOptionsExt;
        if !self.thread.is_finished() {
            // A non-blocking reader lets the blocked open() complete; dropping it at once
            // makes the write fail with EPIPE (Rust ignores SIGPIPE), ending the thread.
            let _reader = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&self.path);
        }
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<OsString> {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            "{}".into(),
        ]
    }

    #[test]
    fn exec_file_gives_the_child_a_path_and_removes_it() {
        for use_fifo in [true, false] {
            let dir = tempfile::tempdir().expect("tempdir");
            let record = dir.path().join("record");
            let script = format!(
                "cat \"$1\" > {0}; echo \"$1\" >> {0}; exit 7",
                record.display()
            );
            let code = exec_file(b"A=\"1\"\n", use_fifo, &sh(&script)).expect("run");
            assert_eq!(code, 7);
            let text = std::fs::read_to_string(&record).expect("record");
            let (content, path) = text.split_at(text.find('\n').expect("line") + 1);
            assert_eq!(content, "A=\"1\"\n");
            assert!(
                !Path::new(path.trim()).exists(),
                "plaintext left behind at {path}"
            );
        }
    }

    #[test]
    fn a_child_that_never_reads_the_fifo_does_not_hang() {
        let code = exec_file(&vec![b'x'; 1 << 20], true, &sh("exit 0")).expect("run");
        assert_eq!(code, 0);
    }

    #[test]
    fn missing_commands_and_placeholders_are_errors() {
        assert!(matches!(
            exec_file(b"", true, &[]),
            Err(ExecError::NoCommand)
        ));
        assert!(matches!(
            exec_file(b"", true, &["true".into()]),
            Err(ExecError::NoPlaceholder)
        ));
        let error =
            exec_file(b"", false, &["/no/such/program".into(), "{}".into()]).expect_err("fails");
        assert_eq!(error.exit_code(), EXIT_NOT_FOUND);
    }

    #[test]
    fn edit_returns_changes_only_and_removes_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let seen = dir.path().join("seen");
        let appender = format!(
            "f() {{ echo \"$1\" > {}; echo 'B=\"2\"' >> \"$1\"; }}; f",
            seen.display()
        );
        let changed = edit(b"A=\"1\"\n", &appender)
            .expect("edit")
            .expect("changed");
        assert_eq!(changed.as_slice(), b"A=\"1\"\nB=\"2\"\n");
        let path = std::fs::read_to_string(&seen).expect("seen");
        assert!(!Path::new(path.trim()).exists(), "plaintext left behind");
        assert!(edit(b"A=1\n", "true").expect("edit").is_none());
        let failed = edit(b"A=1\n", "false").expect_err("editor failed");
        assert!(matches!(failed, ExecError::Editor { .. }));
    }

    #[test]
    fn signal_deaths_map_to_128_plus_n() {
        let code = exec_file(b"", false, &sh("kill -9 $$")).expect("run");
        assert_eq!(code, 128 + 9);
    }
}
