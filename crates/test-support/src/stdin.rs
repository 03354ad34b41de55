//! Running a program with bytes on its standard input: how the tests of command-line tools
//! (keyward's and the reference tools') hand them a value without a file or an argument.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `command` with `stdin` written to its standard input and its output captured.
pub fn output_with_stdin(mut command: Command, stdin: &[u8]) -> std::io::Result<Output> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin)?;
    }
    child.wait_with_output()
}
