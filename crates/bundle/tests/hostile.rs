//! Hostile callers of the keyward-bundle library (issue 15): a keyring that must never
//! involve the user, and the one password path every caller shares.

use keyward_bundle::password::{Environment, Interaction, PasswordOptions};
use keyward_bundle::{Bundle, BundleError, Keyring};
use keyward_core::SecretValue;

fn vault_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("secrets.vault.env");
    let sealed = keyward_bundle::vault::encrypt(b"A=\"1\"\n", &SecretValue::from("pw"), None, None)
        .expect("encrypt");
    std::fs::write(&path, sealed).expect("write");
    path
}

#[test]
fn a_keyring_that_never_prompts_refuses_a_prompt_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = vault_file(dir.path());
    let options = PasswordOptions {
        vault_ids: vec!["ops@prompt".into()],
        interaction: Interaction::Never,
        ..PasswordOptions::default()
    };
    let mut keyring = Keyring::resolve(&options, &Environment::default());
    let error = Bundle::open(&path, &mut keyring).expect_err("no prompt");
    assert!(matches!(error, BundleError::Password { .. }), "{error}");
    assert!(error.to_string().contains("never prompts"), "{error}");
}

#[test]
fn resolution_takes_flags_then_the_environment_with_the_options_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = vault_file(dir.path());
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    std::fs::write(&good, "pw\n").expect("write");
    std::fs::write(&bad, "wrong\n").expect("write");
    let env = Environment {
        keyward_password_file: Some(bad.clone()),
        ..Environment::default()
    };
    let from_env = Bundle::open(
        &path,
        &mut Keyring::resolve(&PasswordOptions::default(), &env),
    );
    assert!(
        from_env.is_err(),
        "the environment's wrong password opened it"
    );
    let flag = PasswordOptions {
        password_file: Some(good),
        ..PasswordOptions::default()
    };
    let bundle = Bundle::open(&path, &mut Keyring::resolve(&flag, &env)).expect("flag wins");
    assert_eq!(bundle.values()["A"].expose_str(), Ok("1"));
    let slow = PasswordOptions {
        password_command: Some("sleep 5; echo pw".into()),
        timeout: Some(std::time::Duration::from_millis(100)),
        ..PasswordOptions::default()
    };
    let error = Bundle::open(&path, &mut Keyring::resolve(&slow, &env)).expect_err("timeout");
    assert!(error.to_string().contains("timed out"), "{error}");
}
