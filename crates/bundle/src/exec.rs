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
//!   returns the new content only if it changed; the directory is removed on every path. The
//!   editor runs in its own process group (given the terminal), so a SIGTERM or SIGHUP to
//!   keyward stops the editor and everything it started, not only the `sh -c` around it.
//! - A run killed outright (SIGKILL, a crash) cannot clean up. The private directories are
//!   named after the keyward process that made them (`keyward-PID-START-…`, START its start
//!   time), and [`remove_stale_private_dirs`], called at the start of every bundle command,
//!   removes those of processes that no longer run, owned by this user.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tempfile::TempDir;
use zeroize::Zeroizing;

use crate::env::EnvMap;
use crate::group::{GroupChild, Terminal};

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
    /// The edited file cannot be read back (replaced by something else, or too large).
    #[error("cannot read the edited file: {0}; the bundle is unchanged")]
    Edited(#[source] crate::input::ReadError),
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
    let result = run_forwarding_signals(&args, Grouping::SameGroup);
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
    let status = run_forwarding_signals(&args, Grouping::OwnGroup)?;
    if !status.success() {
        return Err(ExecError::Editor {
            editor,
            status: status.to_string(),
        });
    }
    let edited = crate::input::read_regular(&path, crate::input::MAX_PLAINTEXT_BYTES)
        .map_err(ExecError::Edited)?;
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

/// How long a child told to stop (SIGTERM, SIGHUP) has before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where the child of [`run_forwarding_signals`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    /// In keyward's process group: `exec-file`'s command, which the user's shell manages as
    /// part of keyward's job.
    SameGroup,
    /// In a group of its own, given the terminal: the editor, so that stopping it reaches
    /// everything it started.
    OwnGroup,
}

/// Spawns `args`, forwarding SIGTERM and SIGHUP while it runs: to the child, or with
/// [`Grouping::OwnGroup`] to its whole process group, killed outright if it is still there
/// [`STOP_GRACE`] later. SIGINT from a terminal already reaches the child (it is in the
/// terminal's foreground group); keyward ignores it so that the cleanup after the child exits
/// always happens. A SIGTERM or SIGHUP makes the run end with [`ExecError::Interrupted`] after
/// the child has exited.
fn run_forwarding_signals(args: &[OsString], grouping: Grouping) -> Result<ExitStatus, ExecError> {
    let (program, rest) = args.split_first().ok_or(ExecError::NoCommand)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(ExecError::Prepare)?;
    let handle = signals.handle();
    let mut command = Command::new(program);
    command.args(rest);
    let spawn_error = |source| ExecError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    };
    let mut child = match grouping {
        Grouping::SameGroup => Running::Direct(command.spawn().map_err(spawn_error)?),
        Grouping::OwnGroup => {
            Running::Group(GroupChild::spawn(&mut command, Terminal::Share).map_err(spawn_error)?)
        }
    };
    let target = child.signal_target();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let flag = Arc::clone(&interrupted);
    let forwarder = std::thread::spawn(move || {
        let mut finished = Some(finished);
        let mut escalator = None;
        for signal in signals.forever() {
            if signal == SIGINT {
                continue;
            }
            flag.store(true, Ordering::SeqCst);
            if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
                target.send(signal);
            }
            // A group that ignores the signal is killed after the grace period, unless the
            // child is reaped first (the sender is dropped, ending the wait).
            if target.group
                && let Some(finished) = finished.take()
            {
                escalator = Some(std::thread::spawn(move || {
                    if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(STOP_GRACE) {
                        target.send(nix::sys::signal::Signal::SIGKILL);
                    }
                }));
            }
        }
        if let Some(escalator) = escalator {
            let _ = escalator.join();
        }
    });
    let status = child.wait().map_err(ExecError::Prepare);
    drop(done);
    handle.close();
    let _ = forwarder.join();
    let status = status?;
    if interrupted.load(Ordering::SeqCst) {
        // Whatever of the editor's group outlived its leader goes too.
        child.kill_rest();
        return Err(ExecError::Interrupted);
    }
    Ok(status)
}

/// The child of [`run_forwarding_signals`].
enum Running {
    Direct(Child),
    Group(GroupChild),
}

impl Running {
    fn signal_target(&self) -> SignalTarget {
        match self {
            Running::Direct(child) => SignalTarget {
                pid: i32::try_from(child.id()).ok().map(Pid::from_raw),
                group: false,
            },
            Running::Group(group) => SignalTarget {
                pid: Some(group.pid()),
                group: true,
            },
        }
    }

    fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            Running::Direct(child) => child.wait(),
            Running::Group(group) => group.wait(),
        }
    }

    /// Kills what is left of a group whose leader has exited.
    fn kill_rest(&self) {
        if let Running::Group(group) = self {
            group.signal_group(nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Where forwarded signals go: the child, or its whole process group.
#[derive(Clone, Copy)]
struct SignalTarget {
    pid: Option<Pid>,
    group: bool,
}

impl SignalTarget {
    fn send(self, signal: nix::sys::signal::Signal) {
        let Some(pid) = self.pid else { return };
        let _ = if self.group {
            nix::sys::signal::killpg(pid, signal)
        } else {
            nix::sys::signal::kill(pid, signal)
        };
    }
}

fn exit_code_of(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

/// Where private directories go, best first: tmpfs (`/dev/shm`, `$XDG_RUNTIME_DIR`) so the
/// plaintext never reaches a disk, else the temp dir.
fn private_dir_bases() -> impl Iterator<Item = PathBuf> {
    [
        Some(PathBuf::from("/dev/shm")),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(std::env::temp_dir()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.is_dir())
}

/// A 0700 directory for plaintext, named after this process (see
/// [`remove_stale_private_dirs`]); removed when dropped.
fn private_dir() -> std::io::Result<TempDir> {
    use std::os::unix::fs::PermissionsExt;
    remove_stale_private_dirs();
    let prefix = format!(
        "keyward-{}-{}-",
        std::process::id(),
        process_start(Pid::this()).unwrap_or(0)
    );
    let mut last_error = None;
    for base in private_dir_bases() {
        match tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
        {
            Ok(dir) => return Ok(dir),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no directory for a private file")))
}

/// Removes the private directories left by keyward processes that no longer run (killed with
/// SIGKILL, crashed), owned by the current user. Returns how many it removed. Directories of
/// running processes, of other users, and anything not named `keyward-PID-START-…` are left
/// alone.
pub fn remove_stale_private_dirs() -> usize {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = 0;
    for base in private_dir_bases() {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some((pid, start)) = owner_of(&entry.file_name()) else {
                continue;
            };
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if !meta.is_dir() || meta.uid() != me || is_running(pid, start) {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(dir = %entry.path().display(), pid = pid.as_raw(), "removed the plaintext directory of a keyward process that no longer runs");
                    removed += 1;
                }
                Err(error) => {
                    tracing::warn!(dir = %entry.path().display(), %error, "could not remove a stale plaintext directory");
                }
            }
        }
    }
    removed
}

/// The process a private directory's name records: `keyward-PID-START-RANDOM`.
fn owner_of(name: &std::ffi::OsStr) -> Option<(Pid, u64)> {
    let rest = name.to_str()?.strip_prefix("keyward-")?;
    let mut parts = rest.splitn(3, '-');
    let pid: i32 = parts.next()?.parse().ok()?;
    let start: u64 = parts.next()?.parse().ok()?;
    parts.next()?;
    (pid > 0).then(|| (Pid::from_raw(pid), start))
}

/// Whether process `pid` runs and is the one that started at `start` (a reused pid is another
/// process). A zombie no longer runs. Without `/proc` (start 0) only the pid is checked.
fn is_running(pid: Pid, start: u64) -> bool {
    if start == 0 {
        return nix::sys::signal::kill(pid, None) != Err(nix::errno::Errno::ESRCH);
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(fields) = stat_fields(&stat) else {
        return true;
    };
    fields.first() != Some(&"Z") && fields.get(19).and_then(|f| f.parse().ok()) == Some(start)
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`, field 22).
fn process_start(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.get(19)?.parse().ok()
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and
/// parentheses): field 3 (the state) first.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, after_name) = stat.rsplit_once(')')?;
    Some(after_name.split_whitespace().collect())
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
    ///
    /// A non-blocking reader lets a blocked `open()` complete; dropping it at once makes the
    /// write fail with EPIPE (Rust ignores SIGPIPE), ending the thread. The writer may not
    /// have reached its `open()` yet (a busy machine), and a reader that came and went before
    /// does not count for it: so readers are opened until the thread is done.
    fn finish(self) {
        use std::os::unix::fs::OpenOptionsExt;
        while !self.thread.is_finished() {
            let reader = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&self.path);
            if reader.is_err() {
                // The FIFO is gone: nothing can unblock the thread; leave it rather than hang.
                return;
            }
            drop(reader);
            std::thread::sleep(Duration::from_millis(1));
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

    /// Finishing right after the start, before the writer thread reached its blocking
    /// `open()`, used to hang for good (the one unblocking reader came too early).
    #[test]
    fn a_fifo_writer_finished_before_it_opened_does_not_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        for round in 0..50 {
            let path = dir.path().join(format!("fifo-{round}"));
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
            let writer = FifoWriter::start(path, Zeroizing::new(vec![b'x'; 1 << 16]));
            let (done, finished) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                writer.finish();
                let _ = done.send(());
            });
            assert!(
                finished.recv_timeout(Duration::from_secs(30)).is_ok(),
                "round {round}: the FIFO writer hung"
            );
        }
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
    fn private_dirs_record_their_process_and_only_dead_ones_are_stale() {
        let dir = private_dir().expect("private dir");
        let name = dir.path().file_name().expect("name").to_owned();
        let (pid, start) = owner_of(&name).expect("named after this process");
        assert_eq!(pid, Pid::this());
        assert!(is_running(pid, start));
        assert!(
            !is_running(pid, start + 1),
            "a reused pid is another process"
        );
        remove_stale_private_dirs();
        assert!(
            dir.path().exists(),
            "a running process's directory was removed"
        );
        assert_eq!(owner_of(std::ffi::OsStr::new("keyward-abc")), None);
        assert_eq!(owner_of(std::ffi::OsStr::new("keyward-12-34")), None);
        assert_eq!(
            owner_of(std::ffi::OsStr::new("keyward-12-34-xyz")),
            Some((Pid::from_raw(12), 34))
        );
    }

    #[test]
    fn signal_deaths_map_to_128_plus_n() {
        let code = exec_file(b"", false, &sh("kill -9 $$")).expect("run");
        assert_eq!(code, 128 + 9);
    }
}
