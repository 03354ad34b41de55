//! A child in its own process group, given the terminal while it runs.
//!
//! Password commands and the editor run this way so that keyward can stop everything they
//! started: a timeout or a SIGTERM goes to the whole group (`killpg`), which reaches a
//! background `sleep` still holding the password pipe, or the editor behind `sh -c` (dash
//! does not `exec` the last command, so a signal to the shell alone leaves the editor
//! running).
//!
//! A process outside the terminal's foreground group is stopped when it reads the terminal,
//! so when keyward itself is in the foreground it hands the terminal to the child's group and
//! takes it back afterwards, as a shell does for a job. A child that stops (Ctrl-Z in the
//! editor) stops keyward too, so the user's shell sees the job stopped; `fg` resumes both.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use nix::errno::Errno;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Whether the child may use the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// Hand it the terminal when keyward has it (editors, password prompts).
    Share,
    /// Never: the child stays in a background group (the local provider's password
    /// commands, which must not prompt).
    Withhold,
}

/// The controlling terminal, while keyward's group is its foreground group.
struct Foreground {
    tty: File,
    ours: Pid,
}

impl Foreground {
    /// The terminal, if keyward has one and is in its foreground.
    fn if_ours() -> Option<Self> {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let ours = nix::unistd::getpgrp();
        (nix::unistd::tcgetpgrp(&tty).ok()? == ours).then_some(Self { tty, ours })
    }

    fn give_to(&self, group: Pid) {
        if let Err(error) = nix::unistd::tcsetpgrp(&self.tty, group) {
            tracing::debug!(%error, "could not hand the terminal to the child");
        }
    }

    /// Takes the terminal back. keyward may be a background group by now, and a background
    /// `tcsetpgrp` raises SIGTTOU unless it is blocked: block it in this thread meanwhile.
    fn take_back(&self) {
        let mut blocked = SigSet::empty();
        blocked.add(Signal::SIGTTOU);
        let mut previous = SigSet::empty();
        let masked =
            signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut previous));
        if let Err(error) = nix::unistd::tcsetpgrp(&self.tty, self.ours) {
            tracing::debug!(%error, "could not take the terminal back");
        }
        if masked.is_ok() {
            let _ = signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
        }
    }
}

/// A running child that leads its own process group.
pub struct GroupChild {
    child: Child,
    pid: Pid,
    terminal: Terminal,
    /// The terminal while the child has it.
    foreground: Option<Foreground>,
    reaped: bool,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command, terminal: Terminal) -> std::io::Result<Self> {
        command.process_group(0);
        let foreground = Self::foreground_for(terminal);
        let child = command.spawn()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).map_err(std::io::Error::other)?);
        let group = Self {
            child,
            pid,
            terminal,
            foreground,
            reaped: false,
        };
        group.hand_over_terminal();
        Ok(group)
    }

    fn foreground_for(terminal: Terminal) -> Option<Foreground> {
        match terminal {
            Terminal::Share => Foreground::if_ours(),
            Terminal::Withhold => None,
        }
    }

    /// The child's process id, which is also its process group's id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The child (its stdout, for password commands).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal` to every process of the group.
    pub fn signal_group(&self, signal: Signal) {
        match signal::killpg(self.pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::debug!(%error, "could not signal the child's process group"),
        }
    }

    /// The child's exit status if it has exited (no waiting).
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.wait_with(WaitPidFlag::WNOHANG)
    }

    /// Waits for the child to exit, following it through stops (Ctrl-Z) as a shell would.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.wait_with(WaitPidFlag::WUNTRACED)? {
                return Ok(status);
            }
        }
    }

    /// Kills the whole group and reaps the child.
    pub fn kill_group(&mut self) {
        self.signal_group(Signal::SIGKILL);
        while !self.reaped {
            if self.wait_with(WaitPidFlag::empty()).is_err() {
                break;
            }
        }
    }

    fn wait_with(&mut self, flags: WaitPidFlag) -> std::io::Result<Option<ExitStatus>> {
        if self.reaped {
            return Err(std::io::Error::other("the child was already reaped"));
        }
        match waitpid(self.pid, Some(flags)) {
            Ok(WaitStatus::Exited(_, code)) => Ok(Some(self.reap(code << 8))),
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                Ok(Some(self.reap(signal as i32 | if core { 0x80 } else { 0 })))
            }
            Ok(WaitStatus::Stopped(_, signal)) => {
                self.follow_stop(signal);
                Ok(None)
            }
            Ok(_) | Err(Errno::EINTR) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn reap(&mut self, raw_status: i32) -> ExitStatus {
        self.reaped = true;
        if let Some(foreground) = &self.foreground {
            foreground.take_back();
        }
        ExitStatus::from_raw(raw_status)
    }

    /// The child stopped. A SIGTTIN/SIGTTOU right after the start is the child touching the
    /// terminal before it was handed over: hand it over and continue. Any other stop is the
    /// user's: take the terminal back, stop keyward's own group (the shell then shows the
    /// job stopped), and on `fg` give the terminal back to the child and continue it.
    fn follow_stop(&mut self, signal: Signal) {
        let early_terminal_access =
            matches!(signal, Signal::SIGTTIN | Signal::SIGTTOU) && self.foreground.is_some();
        if !early_terminal_access {
            if let Some(foreground) = &self.foreground {
                foreground.take_back();
            }
            let _ = signal::killpg(nix::unistd::getpgrp(), Signal::SIGTSTP);
            // Continued: in the foreground (`fg`) or in the background (`bg`).
            self.foreground = Self::foreground_for(self.terminal);
        }
        self.hand_over_terminal();
    }

    /// Gives the group the terminal (when keyward has it) and continues it, in case it
    /// stopped on touching the terminal before it was its own.
    fn hand_over_terminal(&self) {
        if let Some(foreground) = &self.foreground {
            foreground.give_to(self.pid);
        }
        self.signal_group(Signal::SIGCONT);
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        if let Some(foreground) = &self.foreground {
            foreground.take_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::process::Stdio;

    use super::*;

    #[test]
    fn killing_the_group_reaches_a_background_grandchild_holding_stdout() {
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", "sleep 30 & echo started"])
            .stdout(Stdio::piped());
        let mut group = GroupChild::spawn(&mut command, Terminal::Withhold).expect("spawn");
        let mut stdout = group.child_mut().stdout.take().expect("stdout");
        let mut first = [0u8; 8];
        stdout.read_exact(&mut first).expect("read");
        assert_eq!(&first, b"started\n");
        assert!(group.wait().expect("wait").success());
        // The background sleep still holds the pipe; only the group kill ends it.
        group.signal_group(Signal::SIGKILL);
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).expect("read to EOF");
        assert!(rest.is_empty());
    }

    #[test]
    fn exit_codes_and_signals_come_through() {
        let mut exits = Command::new("/bin/sh");
        exits.args(["-c", "exit 7"]);
        let mut group = GroupChild::spawn(&mut exits, Terminal::Withhold).expect("spawn");
        assert_eq!(group.wait().expect("wait").code(), Some(7));
        let mut killed = Command::new("/bin/sh");
        killed.args(["-c", "kill -9 $$"]);
        let mut group = GroupChild::spawn(&mut killed, Terminal::Withhold).expect("spawn");
        assert_eq!(group.wait().expect("wait").signal(), Some(9));
    }
}
