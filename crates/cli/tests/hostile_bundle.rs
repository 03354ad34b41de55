//! Hostile input for `keyward bundle` (issue 12 and the bundle part of issue 15): files that are
//! not what they claim, concurrent writers, symlinks, devices and FIFOs, killed runs, stuck
//! password commands, and arguments that carry values where names belong. Each test is named
//! after what it proves and failed on the code before its fix.
//!
//! The ansible-vault format is checked against the real ansible-vault (ansible-core).

use crate::util::{Scratch, ansible_vault, fails_with, ok, stderr};

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keyward_test_support::Tools;

const CANARY: &str = "kw-canary-5e0b1c44-never-print-me";
const PASSWORD: &str = "correct horse";

fn no_canary(output: &Output, what: &str) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(CANARY),
            "{what}: canary in {stream}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

// ---- issue 12, item 13: panics instead of exit 2 ------------------------------------------

#[test]
fn a_password_timeout_too_large_for_the_clock_is_a_usage_error() {
    let scratch = Scratch::with_password(PASSWORD);
    let output = scratch.keyward(&[
        "bundle",
        "--password-timeout",
        "9223372036854775808",
        "--vault-password-command",
        "echo pw",
        "new",
    ]);
    let text = fails_with(&output, 2, "huge timeout");
    assert!(text.contains("--password-timeout"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_non_utf8_bundle_path_works_in_text_and_json() {
    let scratch = Scratch::with_password(PASSWORD);
    let name = OsStr::from_bytes(b"bundle-\xff.env");
    for format in ["text", "json"] {
        std::fs::remove_file(scratch.path().join(name)).ok();
        let args: Vec<&OsStr> = vec![
            OsStr::new("--output"),
            OsStr::new(format),
            OsStr::new("bundle"),
            OsStr::new("-f"),
            name,
            OsStr::new("new"),
        ];
        let output = scratch.keyward(&args);
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
        ok(&output);
        let verify: Vec<&OsStr> = vec![
            OsStr::new("--output"),
            OsStr::new(format),
            OsStr::new("bundle"),
            OsStr::new("-f"),
            name,
            OsStr::new("verify"),
        ];
        let verified = scratch.keyward(&verify);
        assert!(ok(&verified).contains("bundle-"), "{format}");
    }
}

// ---- issue 12, item 14: values echoed into errors -------------------------------------------

#[test]
fn a_second_assignment_to_set_is_refused_without_quoting_it() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let second = format!("B={CANARY}");
    let output = scratch.keyward(&["bundle", "set", "A=v1", &second]);
    let text = fails_with(&output, 2, "two assignments");
    no_canary(&output, "two assignments");
    assert!(text.contains("2 arguments"), "{text}");
}

#[test]
fn a_value_typed_as_the_key_is_never_echoed() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let commands: Vec<Vec<&str>> = vec![
        vec!["bundle", "set", CANARY],
        vec!["bundle", "ensure", "GOOD", CANARY],
        vec!["bundle", "unset", CANARY],
        vec!["bundle", "get", CANARY],
        vec!["bundle", "exec", "--only", CANARY, "--", "true"],
    ];
    for args in commands {
        let output = scratch.keyward_with_stdin(&args, b"some value");
        let text = fails_with(&output, 2, &args.join(" "));
        no_canary(&output, &args.join(" "));
        assert!(
            text.contains("not a valid environment variable name"),
            "{text}"
        );
    }
}

#[test]
fn an_invalid_key_token_in_the_plaintext_is_named_by_line_only() {
    let scratch = Scratch::with_password(PASSWORD);
    let plaintext = format!("GOOD=1\n{CANARY}=x\n");
    let sealed = keyward_bundle::vault::encrypt(
        plaintext.as_bytes(),
        &keyward_core::SecretValue::from(PASSWORD),
        None,
        None,
    )
    .expect("encrypt");
    std::fs::write(scratch.join("bad.env"), &sealed).expect("write");
    for command in ["verify", "keys"] {
        let output = scratch.keyward(&["bundle", "-f", "bad.env", command]);
        let text = fails_with(&output, 21, command);
        no_canary(&output, command);
        assert!(text.contains("line 2"), "{text}");
        let traced = scratch.keyward(&["--log-level", "trace", "bundle", "-f", "bad.env", command]);
        assert_eq!(traced.status.code(), Some(21));
        no_canary(&traced, command);
    }
}

#[test]
fn the_text_of_a_password_command_is_never_echoed() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let failing = format!("echo {CANARY} >/dev/null; exit 3");
    let empty = format!("true {CANARY}");
    for (line, what) in [(&failing, "failing"), (&empty, "empty")] {
        let flag = scratch.keyward(&["bundle", "--vault-password-command", line, "keys"]);
        fails_with(&flag, 21, what);
        no_canary(&flag, what);
        assert!(
            stderr(&flag).contains("--vault-password-command"),
            "{}",
            stderr(&flag)
        );
        for level in ["error", "trace"] {
            let from_env = scratch
                .command(&["--log-level", level, "bundle", "keys"])
                .env_remove("KEYWARD_VAULT_PASSWORD_FILE")
                .env("KEYWARD_VAULT_PASSWORD_COMMAND", line)
                .output()
                .expect("run");
            assert_eq!(from_env.status.code(), Some(21), "{}", stderr(&from_env));
            no_canary(&from_env, what);
        }
    }
    let vault_id = format!("{CANARY};x@pw");
    let output = scratch.keyward(&["bundle", "--vault-id", &vault_id, "keys"]);
    fails_with(&output, 2, "vault-id");
    no_canary(&output, "vault-id");
}

// ---- issue 12, item 9: unbounded reads ---------------------------------------------------------

/// Runs `command`, killing it if it has not ended after a generous bound: a hang is the bug
/// these tests look for, and a hung test would never report it.
fn run_unless_hung(mut command: Command, what: &str) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_unless_hung(&mut child, what);
    child.wait_with_output().expect("output")
}

/// Waits for `child` to exit, killing it and failing if it has not after a generous bound.
fn wait_unless_hung(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    for _ in 0..1200 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("{what}: keyward hung");
}

#[test]
fn devices_fifos_and_huge_files_are_refused_where_a_file_is_expected() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let fifo = scratch.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let huge = scratch.join("huge.env");
    std::fs::File::create(&huge)
        .and_then(|file| file.set_len(33 << 20))
        .expect("sparse file");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["bundle", "-f", "/dev/zero", "verify"],
            21,
            "not a regular file",
        ),
        (
            vec!["bundle", "-f", "fifo", "verify"],
            21,
            "not a regular file",
        ),
        (
            vec!["bundle", "-f", "huge.env", "verify"],
            21,
            "larger than the limit",
        ),
        (
            vec!["bundle", "--vault-password-file", "/dev/zero", "keys"],
            21,
            "not a regular file",
        ),
        (
            vec!["bundle", "--vault-password-file", "fifo", "keys"],
            21,
            "not a regular file",
        ),
        (
            vec!["bundle", "set", "X", "--from-file", "/dev/zero"],
            2,
            "not a regular file",
        ),
        (
            vec!["bundle", "decrypt", "fifo", "--out", "-"],
            2,
            "not a regular file",
        ),
        (
            vec!["bundle", "encrypt", "/dev/zero", "--out", "z"],
            2,
            "not a regular file",
        ),
    ];
    for (args, code, reason) in cases {
        let what = args.join(" ");
        let output = run_unless_hung(scratch.command(&args), &what);
        let text = fails_with(&output, code, &what);
        assert!(text.contains(reason), "{what}: {text}");
    }
}

#[test]
fn an_endless_stdin_value_is_refused_at_the_limit() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let before = std::fs::read(scratch.join("control/secrets.vault.env")).expect("read");
    let mut command = scratch.command(&["bundle", "set", "X"]);
    command.stdin(std::fs::File::open("/dev/zero").expect("/dev/zero"));
    let output = run_unless_hung(command, "set from /dev/zero");
    let text = fails_with(&output, 2, "set from /dev/zero");
    assert!(text.contains("larger than the limit"), "{text}");
    assert_eq!(
        std::fs::read(scratch.join("control/secrets.vault.env")).expect("read"),
        before
    );
}

#[test]
fn a_fifo_or_device_as_config_or_age_key_file_does_not_hang() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    std::fs::create_dir_all(scratch.join("config/keyward")).expect("mkdir");
    nix::unistd::mkfifo(
        &scratch.join("config/keyward/config.toml"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .expect("mkfifo");
    let mut command = scratch.command(&["bundle", "keys"]);
    command.env_remove("KEYWARD_VAULT_PASSWORD_FILE");
    let output = run_unless_hung(command, "config FIFO");
    let text = fails_with(&output, 21, "config FIFO");
    assert!(text.contains("not a regular file"), "{text}");

    let tools = Tools::find().expect("tools");
    let key = scratch.join("age.key");
    let keygen = Command::new(&tools.age_keygen)
        .arg("-o")
        .arg(&key)
        .output()
        .expect("age-keygen");
    assert!(keygen.status.success());
    let recipient = std::fs::read_to_string(&key)
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient");
    ok(&scratch.keyward(&[
        "bundle",
        "-f",
        "ci.env",
        "new",
        "--format",
        "sops-dotenv",
        "--age",
        &recipient,
    ]));
    let mut command = scratch.command(&["bundle", "-f", "ci.env", "keys"]);
    command.env("SOPS_AGE_KEY_FILE", "/dev/zero");
    let output = run_unless_hung(command, "age key /dev/zero");
    let text = fails_with(&output, 21, "age key /dev/zero");
    assert!(text.contains("/dev/zero (not readable)"), "{text}");
}

// ---- issue 12, item 2: bundles that are not env files ------------------------------------------

/// An ansible-vault YAML vars file, made by the real ansible-vault.
fn yaml_vault(tools: &Tools, scratch: &Scratch) -> (PathBuf, String) {
    let plaintext = format!("---\ndb_password: {CANARY}\nusers:\n  - app\n  - admin\n");
    let path = scratch.join("vars.yml");
    std::fs::write(&path, &plaintext).expect("write");
    let encrypted = ansible_vault(tools, scratch)
        .args(["encrypt", "--vault-password-file", "pw", "vars.yml"])
        .output()
        .expect("ansible-vault");
    assert!(encrypted.status.success(), "{}", stderr(&encrypted));
    (path, plaintext)
}

fn ansible_view(tools: &Tools, scratch: &Scratch, password_file: &str, file: &str) -> String {
    let viewed = ansible_vault(tools, scratch)
        .args(["view", "--vault-password-file", password_file, file])
        .output()
        .expect("ansible-vault");
    assert!(viewed.status.success(), "{}", stderr(&viewed));
    String::from_utf8(viewed.stdout).expect("utf-8")
}

#[test]
fn a_yaml_vault_file_is_refused_by_every_writer_and_left_unchanged() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    let (path, plaintext) = yaml_vault(&tools, &scratch);
    let sealed = std::fs::read(&path).expect("read");
    let writers: Vec<Vec<&str>> = vec![
        vec!["bundle", "-f", "vars.yml", "set", "X"],
        vec!["bundle", "-f", "vars.yml", "unset", "db_password"],
        vec!["bundle", "-f", "vars.yml", "ensure", "NEW"],
        vec!["bundle", "-f", "vars.yml", "edit"],
    ];
    for args in writers {
        let what = args.join(" ");
        let output = scratch
            .command(&args)
            .env("EDITOR", "true")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let text = fails_with(&output, 21, &what);
        assert!(text.contains("not an env bundle"), "{what}: {text}");
        no_canary(&output, &what);
        assert_eq!(
            std::fs::read(&path).expect("read"),
            sealed,
            "{what}: file changed"
        );
    }
    let verify = scratch.keyward(&["bundle", "-f", "vars.yml", "verify"]);
    let text = fails_with(&verify, 21, "verify");
    assert!(text.contains("line 1") && text.contains("YAML"), "{text}");
    no_canary(&verify, "verify");
    assert_eq!(ansible_view(&tools, &scratch, "pw", "vars.yml"), plaintext);
}

#[test]
fn rekey_keeps_the_plaintext_bytes_as_ansible_vault_does() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    std::fs::write(scratch.join("new-pw"), "rotated\n").expect("write");
    let (_, yaml) = yaml_vault(&tools, &scratch);
    let env = "# bootstrap credentials\nZED=\"last\"\n\nALPHA=first # not sorted\nexport B=2\n";
    std::fs::write(scratch.join("ordered.env"), env).expect("write");
    let encrypted = ansible_vault(&tools, &scratch)
        .args(["encrypt", "--vault-password-file", "pw", "ordered.env"])
        .output()
        .expect("ansible-vault");
    assert!(encrypted.status.success(), "{}", stderr(&encrypted));
    for (file, plaintext) in [("vars.yml", yaml.as_str()), ("ordered.env", env)] {
        ok(&scratch.keyward(&[
            "bundle",
            "-f",
            file,
            "rekey",
            "--new-vault-password-file",
            "new-pw",
        ]));
        assert_eq!(
            ansible_view(&tools, &scratch, "new-pw", file),
            plaintext,
            "{file}"
        );
    }
}

#[test]
fn an_edit_that_adds_a_line_the_reader_would_skip_is_not_saved() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    ok(&scratch.keyward_with_stdin(&["bundle", "set", "A"], b"1"));
    let bundle = scratch.join("control/secrets.vault.env");
    let before = std::fs::read(&bundle).expect("read");
    let output = scratch
        .command(&["bundle", "edit"])
        .env("EDITOR", "sh -c 'echo \"db_password: x\" >> \"$0\"'")
        .output()
        .expect("run");
    let text = fails_with(&output, 21, "edit");
    assert!(text.contains("line 2") && text.contains("YAML"), "{text}");
    assert_eq!(std::fs::read(&bundle).expect("read"), before);
}

// ---- issue 12, item 6: writing through a symlinked bundle ------------------------------------

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .expect("lstat")
        .file_type()
        .is_symlink()
}

#[test]
fn writes_go_through_a_symlinked_bundle_to_its_target() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    std::fs::create_dir(scratch.join("real")).expect("mkdir");
    let real = scratch.join("real/secrets.env");
    let link = scratch.join("link.env");
    std::os::unix::fs::symlink("real/secrets.env", &link).expect("symlink");
    std::fs::write(&real, format!("TOKEN={CANARY}\n")).expect("write");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");

    ok(&scratch.keyward(&["bundle", "encrypt", "link.env"]));
    assert!(is_symlink(&link), "encrypt replaced the link");
    let sealed = std::fs::read_to_string(&real).expect("read");
    assert!(
        sealed.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"),
        "real file left in plaintext"
    );
    assert_eq!(
        std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777,
        0o640
    );

    ok(&scratch.keyward_with_stdin(&["bundle", "-f", "link.env", "set", "ADDED"], b"a"));
    assert!(is_symlink(&link), "set replaced the link");
    assert_eq!(
        ansible_view(&tools, &scratch, "pw", "real/secrets.env"),
        format!("ADDED=\"a\"\nTOKEN=\"{CANARY}\"\n")
    );

    std::fs::write(scratch.join("new-pw"), "rotated\n").expect("write");
    ok(&scratch.keyward(&[
        "bundle",
        "-f",
        "link.env",
        "rekey",
        "--new-vault-password-file",
        "new-pw",
    ]));
    assert!(is_symlink(&link), "rekey replaced the link");
    assert_eq!(
        ansible_view(&tools, &scratch, "new-pw", "real/secrets.env"),
        format!("ADDED=\"a\"\nTOKEN=\"{CANARY}\"\n")
    );

    ok(&scratch.keyward(&[
        "bundle",
        "decrypt",
        "link.env",
        "--vault-password-file",
        "new-pw",
    ]));
    assert!(is_symlink(&link), "decrypt replaced the link");
    assert!(
        std::fs::read_to_string(&real)
            .expect("read")
            .starts_with("ADDED=")
    );
}

#[test]
fn a_new_bundle_never_goes_through_a_dangling_symlink() {
    let scratch = Scratch::with_password(PASSWORD);
    std::os::unix::fs::symlink("elsewhere/secrets.env", scratch.join("dangling.env"))
        .expect("symlink");
    let output = scratch.keyward(&["bundle", "-f", "dangling.env", "new"]);
    fails_with(&output, 2, "new on a dangling link");
    assert!(is_symlink(&scratch.join("dangling.env")));
    assert!(!scratch.join("elsewhere").exists());
}

// ---- issue 12, item 4: concurrent writers -----------------------------------------------------

#[test]
fn twenty_concurrent_sets_keep_twenty_keys() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let children: Vec<(String, std::process::Child)> = (0..20)
        .map(|index| {
            let key = format!("KEY_{index:02}");
            let mut child = scratch
                .command(&["bundle", "set", &key])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("value {index}").as_bytes())
                .expect("stdin");
            (key, child)
        })
        .collect();
    for (key, child) in children {
        let output = child.wait_with_output().expect("wait");
        assert!(ok(&output).starts_with(&format!("added {key}")), "{key}");
    }
    let keys = ok(&scratch.keyward(&["bundle", "keys"]));
    let expected: Vec<String> = (0..20).map(|index| format!("KEY_{index:02}")).collect();
    assert_eq!(keys.lines().collect::<Vec<_>>(), expected);
    for index in [0, 19] {
        let value = ok(&scratch.keyward(&["bundle", "get", &format!("KEY_{index:02}")]));
        assert_eq!(value, format!("value {index}"));
    }
}

// ---- issue 12, item 15 (part): decrypted files end 0600 -------------------------------------

#[test]
fn decrypted_plaintext_ends_0600_over_an_existing_readable_file() {
    let tools = Tools::find().expect("tools");
    let scratch = Scratch::with_password(PASSWORD);
    std::fs::write(scratch.join("notes.txt"), format!("{CANARY}\n")).expect("write");
    let encrypted = ansible_vault(&tools, &scratch)
        .args(["encrypt", "--vault-password-file", "pw", "notes.txt"])
        .output()
        .expect("ansible-vault");
    assert!(encrypted.status.success(), "{}", stderr(&encrypted));
    let mode = |name: &str| {
        std::fs::metadata(scratch.join(name))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777
    };
    std::fs::write(scratch.join("existing.txt"), "old\n").expect("write");
    std::fs::set_permissions(
        scratch.join("existing.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    ok(&scratch.keyward(&["bundle", "decrypt", "notes.txt", "--out", "existing.txt"]));
    assert_eq!(
        std::fs::read_to_string(scratch.join("existing.txt")).expect("read"),
        format!("{CANARY}\n")
    );
    assert_eq!(
        mode("existing.txt"),
        0o600,
        "--out over an existing 0644 file"
    );

    std::fs::set_permissions(
        scratch.join("notes.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    ok(&scratch.keyward(&["bundle", "decrypt", "notes.txt"]));
    assert_eq!(mode("notes.txt"), 0o600, "in place over a 0644 vault file");
}

// ---- issue 12, item 10: plaintext left behind, an editor that outlives SIGTERM ------------------

/// Waits (bounded) until `path` exists: the editor has started.
fn wait_for_file(path: &Path) {
    for _ in 0..1200 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

/// Whether process `pid` still runs (a zombie does not).
fn runs(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits (bounded) for process `pid` to end; kills it and fails if it does not.
fn assert_ends(pid: i32, what: &str) {
    for _ in 0..300 {
        if !runs(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    panic!("{what}: process {pid} still runs");
}

fn read_pid(path: &Path) -> i32 {
    wait_for_file(path);
    for _ in 0..100 {
        if let Ok(pid) = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no pid in {}", path.display());
}

/// Kills a process the test started indirectly when the test ends, failed or not, so a
/// failing run leaves no endless editor behind.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if runs(self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// An editor that records its pid and the plaintext's path, then waits forever.
fn lingering_editor(scratch: &Scratch, ignore_term: bool) -> String {
    let trap = if ignore_term { "trap \"\" TERM; " } else { "" };
    format!(
        "sh -c '{trap}echo $$ > {pid}; echo \"$0\" > {path}; while :; do sleep 0.05; done'",
        pid = scratch.join("editor.pid").display(),
        path = scratch.join("plaintext.path").display(),
    )
}

#[test]
fn plaintext_of_a_killed_edit_is_removed_by_the_next_run() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    ok(&scratch.keyward_with_stdin(&["bundle", "set", "TOKEN"], CANARY.as_bytes()));
    let mut keyward = scratch
        .command(&["bundle", "edit"])
        .env("EDITOR", lingering_editor(&scratch, false))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let editor = read_pid(&scratch.join("editor.pid"));
    wait_for_file(&scratch.join("plaintext.path"));
    let plaintext = PathBuf::from(
        std::fs::read_to_string(scratch.join("plaintext.path"))
            .expect("path")
            .trim(),
    );
    assert!(plaintext.exists(), "the editor has no plaintext");
    // Another test's keyward may clean up as soon as this one is dead: that is the fix at
    // work, so nothing is asserted between the kill and the next run.
    keyward.kill().expect("SIGKILL keyward");
    keyward.wait().expect("reap");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(editor),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_ends(editor, "editor");
    ok(&scratch.keyward(&["bundle", "keys"]));
    assert!(
        !plaintext.parent().expect("dir").exists(),
        "stale plaintext directory survived the next run"
    );
}

#[test]
fn plaintext_of_a_killed_exec_file_is_removed_by_the_next_run() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    ok(&scratch.keyward_with_stdin(&["bundle", "set", "TOKEN"], CANARY.as_bytes()));
    let child_script = format!(
        "echo $$ > {pid}; echo \"$1\" > {path}; while :; do sleep 0.05; done",
        pid = scratch.join("child.pid").display(),
        path = scratch.join("plaintext.path").display(),
    );
    let mut keyward = scratch
        .command(&[
            "bundle",
            "exec-file",
            "--no-fifo",
            "--",
            "sh",
            "-c",
            &child_script,
            "sh",
            "{}",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let child = read_pid(&scratch.join("child.pid"));
    wait_for_file(&scratch.join("plaintext.path"));
    let plaintext = PathBuf::from(
        std::fs::read_to_string(scratch.join("plaintext.path"))
            .expect("path")
            .trim(),
    );
    assert!(
        std::fs::read_to_string(&plaintext)
            .expect("plaintext")
            .contains(CANARY)
    );
    // Another test's keyward may clean up as soon as this one is dead: that is the fix at
    // work, so nothing is asserted between the kill and the next run.
    keyward.kill().expect("SIGKILL keyward");
    keyward.wait().expect("reap");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_ends(child, "exec-file child");
    ok(&scratch.keyward(&["bundle", "keys"]));
    assert!(
        !plaintext.parent().expect("dir").exists(),
        "stale plaintext directory survived the next run"
    );
}

#[test]
fn sigterm_stops_the_editor_and_removes_the_plaintext() {
    for ignore_term in [false, true] {
        let scratch = Scratch::with_password(PASSWORD);
        ok(&scratch.keyward(&["bundle", "new"]));
        let before = std::fs::read(scratch.join("control/secrets.vault.env")).expect("read");
        // Output goes to files: an editor left running would hold pipes open for good.
        let stderr_file = scratch.join("keyward.stderr");
        let mut keyward = scratch
            .command(&["bundle", "edit"])
            .env("EDITOR", lingering_editor(&scratch, ignore_term))
            .stdout(std::fs::File::create(scratch.join("keyward.stdout")).expect("stdout"))
            .stderr(std::fs::File::create(&stderr_file).expect("stderr"))
            .spawn()
            .expect("spawn");
        let editor = read_pid(&scratch.join("editor.pid"));
        let _editor_guard = KillOnDrop(editor);
        wait_for_file(&scratch.join("plaintext.path"));
        let plaintext = PathBuf::from(
            std::fs::read_to_string(scratch.join("plaintext.path"))
                .expect("path")
                .trim(),
        );
        let pid = nix::unistd::Pid::from_raw(i32::try_from(keyward.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = wait_unless_hung(&mut keyward, "edit after SIGTERM");
        let text = std::fs::read_to_string(&stderr_file).expect("stderr");
        assert_eq!(status.code(), Some(130), "{text}");
        assert_ends(editor, "editor after SIGTERM");
        assert!(!plaintext.exists(), "plaintext left behind");
        assert_eq!(
            std::fs::read(scratch.join("control/secrets.vault.env")).expect("read"),
            before
        );
    }
}

// ---- issue 12, item 11: --password-timeout on the whole process group -------------------------

#[test]
fn the_password_timeout_covers_a_background_child_holding_stdout() {
    let scratch = Scratch::with_password(PASSWORD);
    ok(&scratch.keyward(&["bundle", "new"]));
    let background = scratch.join("background.pid");
    let command = format!(
        "sleep 20 & echo $! > {}; echo '{PASSWORD}'",
        background.display()
    );
    let output = run_unless_hung(
        scratch.command(&[
            "bundle",
            "--vault-password-command",
            &command,
            "--password-timeout",
            "1",
            "keys",
        ]),
        "background child",
    );
    let text = fails_with(&output, 21, "background child");
    assert!(text.contains("timed out after 1s"), "{text}");
    assert_ends(read_pid(&background), "the background child");
}

// ---- issue 15: one password path; `keyward sync --bundle` takes the bundle's password flags ----

#[test]
fn sync_opens_its_bundle_with_the_bundle_password_flags() {
    let scratch = Scratch::with_password(PASSWORD);
    let seal = |plaintext: &str, password: &str| {
        keyward_bundle::vault::encrypt(
            plaintext.as_bytes(),
            &keyward_core::SecretValue::from(password),
            None,
            None,
        )
        .expect("encrypt")
    };
    std::fs::write(
        scratch.join("store.vault.env"),
        seal("db=\"from-store\"\n", "store pw"),
    )
    .expect("store");
    std::fs::write(
        scratch.join("bundle.vault.env"),
        seal(
            &format!("STORE_PASSWORD__PASSWORD=\"store pw\"\nUNRELATED=\"{CANARY}\"\n"),
            "bundle pw",
        ),
    )
    .expect("bundle");
    std::fs::write(scratch.join("bundle-pw"), "bundle pw\n").expect("pw");
    std::fs::create_dir(scratch.join("m")).expect("mkdir");
    std::fs::write(
        scratch.join("m/all.yaml"),
        format!(
            r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: local, namespace: apps}}
spec:
  provider:
    local:
      file: {}
      passwordSecretRef: {{name: store-password, key: password}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: apps}}
spec:
  secretStoreRef: {{name: local}}
  data:
    - {{secretKey: DB, remoteRef: {{key: db}}}}
"#,
            scratch.join("store.vault.env").display()
        ),
    )
    .expect("manifest");
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "-f",
            "m",
            "--bundle",
            "bundle.vault.env",
            "--format",
            "env",
            "--out",
            "out",
            "--state-dir",
            "state",
        ];
        args.extend_from_slice(extra);
        scratch
            .command(&args)
            .env_remove("KEYWARD_VAULT_PASSWORD_FILE")
            .output()
            .expect("sync")
    };
    let without = sync(&[]);
    assert_eq!(without.status.code(), Some(2), "{}", stderr(&without));
    let with_flag = sync(&["--vault-password-file", "bundle-pw"]);
    ok(&with_flag);
    no_canary(&with_flag, "sync");
    assert_eq!(
        std::fs::read_to_string(scratch.join("out/apps/db.env")).expect("target"),
        "DB=\"from-store\"\n"
    );
    let by_command = sync(&["--vault-password-command", "cat bundle-pw"]);
    ok(&by_command);
}
