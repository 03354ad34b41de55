//! [`PeerProcess`]: a peer's child process, its log, and the guarantee that it dies with us.
//!
//! Processes are spawned by one harness thread that lives as long as the test process, under
//! `setpriv --pdeathsig KILL`: Linux kills the child when the thread that forked it exits, so
//! the thread must outlive every test (a test's own thread ends with the test). Each child
//! gets its own process group, and dropping the handle sends SIGTERM to the group, then
//! SIGKILL if it has not exited within a grace period.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::HarnessError;

const STOP_GRACE: Duration = Duration::from_secs(5);

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// A running peer process. Dropping it stops the process and its group.
#[derive(Debug)]
pub struct PeerProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl PeerProcess {
    /// Starts `program args…` with stdout and stderr appended to `log`, in `dir`.
    pub fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        dir: &Path,
        envs: &[(&str, &str)],
        log: &Path,
    ) -> Result<Self, HarnessError> {
        let spawn_error = |source| HarnessError::Spawn {
            peer: name,
            program: program.to_owned(),
            source,
        };
        let stdout = File::create(log).map_err(spawn_error)?;
        let stderr = stdout.try_clone().map_err(spawn_error)?;
        let mut command = parent_death_wrapper(program);
        command
            .args(args)
            .current_dir(dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = spawn_on_harness_thread(command).map_err(spawn_error)?;
        Ok(Self {
            name,
            child,
            log: log.to_owned(),
        })
    }

    /// The peer's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file the peer logs into.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the peer's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `None` while running, else a description of how it exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(format!("exited: {status}")),
            Err(error) => Some(format!("unknown state: {error}")),
        }
    }

    /// The last `lines` lines of the log that look like errors, wherever they are: a peer
    /// often logs its fatal error early and goes on printing shutdown noise.
    pub fn log_errors(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<&str> = text.lines().filter(|line| looks_like_error(line)).collect();
        errors[errors.len().saturating_sub(lines)..].join("\n")
    }

    /// A [`HarnessError::NotReady`] describing this process after `waited`.
    pub fn not_ready(&mut self, waited: Duration) -> HarnessError {
        let errors = self.log_errors(8);
        let mut log_tail = self.log_tail(30);
        if !errors.is_empty() {
            log_tail = format!("{log_tail}\n--- error lines of the log ---\n{errors}");
        }
        HarnessError::NotReady {
            peer: self.name,
            waited,
            status: self.exit_status().unwrap_or_else(|| "still running".into()),
            log_tail,
        }
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let group = i32::try_from(self.child.id()).map(Pid::from_raw);
        if let Ok(group) = group {
            let _ = killpg(group, Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(group) = group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Go's klog marks errors with a leading `E` or `F` and a date; others say "error" or "fatal".
fn looks_like_error(line: &str) -> bool {
    let mut chars = line.chars();
    let klog =
        matches!(chars.next(), Some('E' | 'F')) && chars.next().is_some_and(|c| c.is_ascii_digit());
    let lower = line.to_ascii_lowercase();
    klog || lower.contains("error") || lower.contains("fatal") || lower.contains("exception")
}

/// `setpriv --pdeathsig KILL -- program` where setpriv exists (util-linux, on every Debian),
/// else the program itself.
fn parent_death_wrapper(program: &Path) -> Command {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .map(Path::new)
        .find(|path| path.exists());
    match setpriv {
        Some(setpriv) => {
            let mut command = Command::new(setpriv);
            command.args(["--pdeathsig", "KILL", "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Spawns on the one harness thread, which never exits before the process does.
fn spawn_on_harness_thread(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("keyward-peer-spawner".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|error| eprintln!("keyward-test-support: no spawner thread: {error}"));
        Mutex::new(sender)
    });
    let (reply, answer) = mpsc::channel();
    let gone = || std::io::Error::other("the peer spawner thread is gone");
    sender
        .lock()
        .map_err(|_| gone())?
        .send((command, reply))
        .map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_handle_stops_the_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("sleep.log");
        let mut process = PeerProcess::spawn(
            "sleeper",
            Path::new("/bin/sh"),
            &["-c".into(), "sleep 300 & echo started; wait".into()],
            dir.path(),
            &[],
            &log,
        )
        .expect("spawn");
        let pid = process.pid();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !process.log_tail(5).contains("started") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(process.exit_status().is_none());
        drop(process);
        // The whole group is gone: signal 0 to the group fails once init has reaped the
        // orphaned `sleep` (a zombie still counts as a member until then).
        let group = Pid::from_raw(i32::try_from(pid).expect("pid fits"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while killpg(group, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(killpg(group, None).is_err(), "process group {pid} survived");
    }

    #[test]
    fn not_ready_reports_the_log_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("fail.log");
        let mut process = PeerProcess::spawn(
            "failing",
            Path::new("/bin/sh"),
            &["-c".into(), "echo line-one; echo boom >&2; exit 3".into()],
            dir.path(),
            &[],
            &log,
        )
        .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(5);
        while process.exit_status().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let message = process.not_ready(Duration::from_secs(1)).to_string();
        assert!(message.contains("boom"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
    }
}
