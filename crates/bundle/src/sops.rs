//! SOPS files (dotenv and YAML flavours) with age recipients, read and written so that the
//! `sops` binary opens what keyward writes and the other way round.
//!
//! What keyward implements of the format (see also `docs/spec/sops.md`):
//!
//! - one random 32-byte data key per file, wrapped for each age recipient separately, each
//!   wrap an ASCII-armored age file in the metadata (`sops.age[i].enc`, in dotenv
//!   `sops_age__list_<i>__map_enc` with newlines written as `\n`);
//! - each non-empty value as `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`:
//!   AES-256-GCM with a 32-byte IV, the additional data being the key path joined by `:` plus
//!   a final `:` (`API_TOKEN:`); empty values and keys with the unencrypted suffix
//!   (`_unencrypted` by default) stay in clear;
//! - the MAC: SHA-512 over every value's plaintext in file order, as upper-case hex,
//!   encrypted like a value with `lastmodified` (RFC 3339) as additional data. It is verified
//!   on every read, so a changed, removed, added or reordered value is detected.
//!
//! Bundles are flat: nested YAML is refused with the key's name. Non-string YAML scalars
//! (`type:int`, `type:bool`, …) are read as their text, and written back as strings.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_core::SecretValue;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::env::{self, EnvMap};

/// AES-256-GCM with the 32-byte nonce SOPS uses.
type SopsGcm = AesGcm<Aes256, aes_gcm::aead::consts::U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";
/// The SOPS version keyward writes into metadata: the format it follows.
pub const SOPS_FORMAT_VERSION: &str = "3.13.2";

/// Why a SOPS file could not be read or written. Never carries a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SopsError {
    /// The file has no usable `sops` metadata.
    #[error("no sops metadata found")]
    NoMetadata,
    /// The metadata is there but incomplete or malformed.
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    /// The file is not valid YAML or dotenv.
    #[error("invalid {kind} document: {reason}")]
    Syntax {
        /// dotenv or YAML.
        kind: &'static str,
        /// What is wrong (no values).
        reason: String,
    },
    /// A value that should be encrypted is not an `ENC[...]` string, or is malformed.
    #[error("value of '{0}' is not a valid ENC[AES256_GCM,...] string")]
    BadValue(String),
    /// A value or the MAC does not decrypt: tampered, or a different data key.
    #[error("'{0}' does not decrypt: the file was tampered with")]
    Tampered(String),
    /// The MAC does not match the values.
    #[error("MAC mismatch: values were changed, added, removed or reordered")]
    MacMismatch,
    /// None of the available age identities opens the data key.
    #[error("no age identity decrypts the data key ({0})")]
    NoIdentity(String),
    /// A recipient string is not an age X25519 public key.
    #[error("'{0}' is not an age recipient (age1...)")]
    BadRecipient(String),
    /// A new file needs at least one recipient.
    #[error("a SOPS bundle needs at least one age recipient (--age)")]
    NoRecipients,
    /// A key is not a valid environment variable name, or a value is nested.
    #[error("{0}")]
    Unsupported(String),
    /// age itself failed.
    #[error("age: {0}")]
    Age(String),
}

/// The SOPS flavours a bundle can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `KEY=value` lines with `sops_*` metadata lines.
    Dotenv,
    /// A YAML mapping with a `sops:` metadata mapping.
    Yaml,
}

/// Detects a SOPS file from its content.
pub fn detect(content: &[u8]) -> Option<Kind> {
    let text = std::str::from_utf8(content).ok()?;
    if text.lines().any(|line| line.starts_with("sops_mac=")) {
        return Some(Kind::Dotenv);
    }
    let has_yaml_metadata = text.lines().any(|line| line.trim_end() == "sops:")
        && text
            .lines()
            .any(|line| line.trim_start().starts_with("mac: ENC["));
    has_yaml_metadata.then_some(Kind::Yaml)
}

/// The age identities to try, from where sops itself looks.
#[derive(Default)]
pub struct Identities {
    identities: Vec<Box<dyn age::Identity>>,
    searched: Vec<String>,
}

impl Identities {
    /// `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and `$XDG_CONFIG_HOME/sops/age/keys.txt` (or
    /// `~/.config/sops/age/keys.txt`).
    pub fn from_environment() -> Self {
        let mut found = Self::default();
        if let Some(inline) = std::env::var("SOPS_AGE_KEY").ok().filter(|v| !v.is_empty()) {
            found.add_text("SOPS_AGE_KEY", inline.as_bytes());
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")));
        let files = std::env::var_os("SOPS_AGE_KEY_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .into_iter()
            .chain(config.map(|dir| dir.join("sops").join("age").join("keys.txt")));
        for path in files {
            if let Ok(bytes) = crate::input::read_regular(&path, crate::input::MAX_SMALL_FILE_BYTES)
            {
                found.add_text(&path.display().to_string(), &bytes);
            } else {
                found
                    .searched
                    .push(format!("{} (not readable)", path.display()));
            }
        }
        found
    }

    /// Identities from the text of an age identity file.
    pub fn from_text(origin: &str, text: &[u8]) -> Self {
        let mut found = Self::default();
        found.add_text(origin, text);
        found
    }

    fn add_text(&mut self, origin: &str, text: &[u8]) {
        match age::IdentityFile::from_buffer(text).map(age::IdentityFile::into_identities) {
            Ok(Ok(identities)) => {
                self.searched
                    .push(format!("{origin}: {} identities", identities.len()));
                self.identities.extend(identities);
            }
            _ => self
                .searched
                .push(format!("{origin} (unreadable identity file)")),
        }
    }

    fn describe(&self) -> String {
        if self.searched.is_empty() {
            "no identities: set SOPS_AGE_KEY_FILE".to_owned()
        } else {
            format!("tried {}", self.searched.join(", "))
        }
    }
}

/// A decrypted SOPS bundle.
pub struct Opened {
    /// The values.
    pub values: EnvMap,
    /// What is needed to write the values back under the same data key and recipients.
    pub sealed: Sealed,
}

/// The data key and metadata of a SOPS file: enough to encrypt new values for it.
pub struct Sealed {
    kind: Kind,
    data_key: Zeroizing<[u8; 32]>,
    /// `(recipient, enc)` pairs, kept as read so other recipients' wraps survive a rewrite.
    recipients: Vec<(String, String)>,
    unencrypted_suffix: String,
}

impl Sealed {
    /// A fresh data key wrapped for each of `recipients`.
    pub fn new(kind: Kind, recipients: &[String]) -> Result<Self, SopsError> {
        if recipients.is_empty() {
            return Err(SopsError::NoRecipients);
        }
        let mut data_key = Zeroizing::new([0u8; 32]);
        getrandom::fill(data_key.as_mut()).map_err(|e| SopsError::Age(e.to_string()))?;
        let wrapped = recipients
            .iter()
            .map(|recipient| Ok((recipient.clone(), wrap_data_key(&data_key, recipient)?)))
            .collect::<Result<Vec<_>, SopsError>>()?;
        Ok(Self {
            kind,
            data_key,
            recipients: wrapped,
            unencrypted_suffix: DEFAULT_UNENCRYPTED_SUFFIX.to_owned(),
        })
    }

    /// The file content for `values` (sorted by name), with a new MAC and `lastmodified`.
    pub fn encrypt(&self, values: &EnvMap) -> Result<Vec<u8>, SopsError> {
        let last_modified = now_rfc3339();
        let mut mac = Sha512::new();
        let mut entries = Vec::with_capacity(values.len());
        for (key, value) in values {
            mac.update(value.expose_bytes());
            let stored = if value.is_empty() || key.ends_with(&self.unencrypted_suffix) {
                Stored::Clear(value.clone())
            } else {
                Stored::Encrypted(encrypt_value(
                    &self.data_key,
                    value.expose_bytes(),
                    &format!("{key}:"),
                )?)
            };
            entries.push((key.as_str(), stored));
        }
        let mac_hex = hex::encode_upper(mac.finalize());
        let mac = encrypt_value(&self.data_key, mac_hex.as_bytes(), &last_modified)?;
        let metadata = Metadata {
            recipients: &self.recipients,
            last_modified: &last_modified,
            mac: &mac,
            unencrypted_suffix: &self.unencrypted_suffix,
        };
        Ok(match self.kind {
            Kind::Dotenv => write_dotenv(&entries, &metadata),
            Kind::Yaml => write_yaml(&entries, &metadata)?,
        }
        .into_bytes())
    }
}

enum Stored {
    Clear(SecretValue),
    Encrypted(String),
}

struct Metadata<'a> {
    recipients: &'a [(String, String)],
    last_modified: &'a str,
    mac: &'a str,
    unencrypted_suffix: &'a str,
}

/// Decrypts a SOPS file and verifies its MAC.
pub fn decrypt(content: &[u8], identities: &Identities) -> Result<Opened, SopsError> {
    let kind = detect(content).ok_or(SopsError::NoMetadata)?;
    let text = std::str::from_utf8(content).map_err(|_| SopsError::Syntax {
        kind: "SOPS",
        reason: "not UTF-8".into(),
    })?;
    let document = match kind {
        Kind::Dotenv => parse_dotenv(text)?,
        Kind::Yaml => parse_yaml(text)?,
    };
    let data_key = unwrap_data_key(&document.recipients, identities)?;
    let mut mac = Sha512::new();
    let mut values = EnvMap::new();
    for (key, raw) in &document.entries {
        let plain = if raw.is_empty() || key.ends_with(&document.unencrypted_suffix) {
            SecretValue::from(raw.as_str())
        } else {
            decrypt_value(&data_key, raw, &format!("{key}:"), key)?
        };
        mac.update(plain.expose_bytes());
        values.insert(key.clone(), plain);
    }
    let expected = decrypt_value(
        &data_key,
        &document.mac,
        &document.last_modified,
        "sops mac",
    )?;
    let computed = hex::encode_upper(mac.finalize());
    let matches = expected
        .expose_bytes()
        .eq_ignore_ascii_case(computed.as_bytes());
    if !matches {
        return Err(SopsError::MacMismatch);
    }
    Ok(Opened {
        values,
        sealed: Sealed {
            kind,
            data_key,
            recipients: document.recipients,
            unencrypted_suffix: document.unencrypted_suffix,
        },
    })
}

/// A SOPS document as parsed, values still encrypted, in file order.
struct Document {
    entries: Vec<(String, String)>,
    recipients: Vec<(String, String)>,
    last_modified: String,
    mac: String,
    unencrypted_suffix: String,
}

fn encrypt_value(key: &[u8; 32], plaintext: &[u8], aad: &str) -> Result<String, SopsError> {
    let mut iv = [0u8; IV_LEN];
    getrandom::fill(&mut iv).map_err(|e| SopsError::Age(e.to_string()))?;
    let cipher = SopsGcm::new(key.into());
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SopsError::Age("AES-GCM encryption failed".into()))?;
    let (data, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag)
    ))
}

fn decrypt_value(
    key: &[u8; 32],
    encoded: &str,
    aad: &str,
    name: &str,
) -> Result<SecretValue, SopsError> {
    let bad = || SopsError::BadValue(name.to_owned());
    let inner = encoded
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(bad)?;
    let mut data = None;
    let mut iv = None;
    let mut tag = None;
    let mut kind = None;
    for field in inner.split(',') {
        let (name, value) = field.split_once(':').ok_or_else(bad)?;
        match name {
            "data" => data = Some(B64.decode(value).map_err(|_| bad())?),
            "iv" => iv = Some(B64.decode(value).map_err(|_| bad())?),
            "tag" => tag = Some(B64.decode(value).map_err(|_| bad())?),
            "type" => kind = Some(value),
            _ => return Err(bad()),
        }
    }
    let (Some(mut data), Some(iv), Some(tag), Some(_kind)) = (data, iv, tag, kind) else {
        return Err(bad());
    };
    if iv.len() != IV_LEN || tag.len() != TAG_LEN {
        return Err(bad());
    }
    data.extend_from_slice(&tag);
    let cipher = SopsGcm::new(key.into());
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &data,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SopsError::Tampered(name.to_owned()))?;
    Ok(SecretValue::new(plain))
}

fn wrap_data_key(data_key: &[u8; 32], recipient: &str) -> Result<String, SopsError> {
    let parsed = age::x25519::Recipient::from_str(recipient)
        .map_err(|_| SopsError::BadRecipient(recipient.to_owned()))?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&parsed as &dyn age::Recipient))
            .map_err(|e| SopsError::Age(e.to_string()))?;
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| SopsError::Age(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    writer
        .write_all(data_key)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| SopsError::Age(e.to_string()))?;
    String::from_utf8(armored).map_err(|e| SopsError::Age(e.to_string()))
}

fn unwrap_data_key(
    recipients: &[(String, String)],
    identities: &Identities,
) -> Result<Zeroizing<[u8; 32]>, SopsError> {
    for (_recipient, enc) in recipients {
        let reader = age::armor::ArmoredReader::new(enc.as_bytes());
        let Ok(decryptor) = age::Decryptor::new(reader) else {
            continue;
        };
        let Ok(mut stream) = decryptor.decrypt(identities.identities.iter().map(|i| i.as_ref()))
        else {
            continue;
        };
        let mut key = Zeroizing::new(Vec::new());
        if stream.read_to_end(&mut key).is_ok() && key.len() == 32 {
            let mut data_key = Zeroizing::new([0u8; 32]);
            data_key.copy_from_slice(&key);
            return Ok(data_key);
        }
    }
    Err(SopsError::NoIdentity(identities.describe()))
}

// ---- dotenv ------------------------------------------------------------------------------

fn parse_dotenv(text: &str) -> Result<Document, SopsError> {
    let mut entries = Vec::new();
    let mut metadata = std::collections::BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| SopsError::Syntax {
            kind: "dotenv",
            reason: format!("line {} has no '='", index + 1),
        })?;
        let value = value.replace("\\n", "\n");
        match key.strip_prefix("sops_") {
            Some(meta) => {
                metadata.insert(meta.to_owned(), value);
            }
            None => {
                check_key(key)?;
                entries.push((key.to_owned(), value));
            }
        }
    }
    let mut recipients = Vec::new();
    for index in 0.. {
        let recipient = metadata.remove(&format!("age__list_{index}__map_recipient"));
        let enc = metadata.remove(&format!("age__list_{index}__map_enc"));
        match (recipient, enc) {
            (Some(recipient), Some(enc)) => recipients.push((recipient, enc)),
            _ => break,
        }
    }
    let take = |name: &str| {
        metadata
            .get(name)
            .cloned()
            .ok_or_else(|| SopsError::Metadata(format!("missing sops_{name}")))
    };
    Ok(Document {
        entries,
        last_modified: take("lastmodified")?,
        mac: take("mac")?,
        unencrypted_suffix: metadata
            .get("unencrypted_suffix")
            .cloned()
            .unwrap_or_else(|| DEFAULT_UNENCRYPTED_SUFFIX.to_owned()),
        recipients: non_empty_recipients(recipients)?,
    })
}

fn write_dotenv(entries: &[(&str, Stored)], metadata: &Metadata<'_>) -> String {
    let mut out = String::new();
    for (key, stored) in entries {
        let value = match stored {
            Stored::Encrypted(enc) => enc.clone(),
            // Only empty or deliberately unencrypted values are here.
            Stored::Clear(value) => {
                String::from_utf8_lossy(value.expose_bytes()).replace('\n', "\\n")
            }
        };
        let _ = writeln!(out, "{key}={value}");
    }
    for (index, (recipient, enc)) in metadata.recipients.iter().enumerate() {
        let _ = writeln!(
            out,
            "sops_age__list_{index}__map_enc={}",
            enc.replace('\n', "\\n")
        );
        let _ = writeln!(out, "sops_age__list_{index}__map_recipient={recipient}");
    }
    let _ = writeln!(out, "sops_lastmodified={}", metadata.last_modified);
    let _ = writeln!(out, "sops_mac={}", metadata.mac);
    let _ = writeln!(
        out,
        "sops_unencrypted_suffix={}",
        metadata.unencrypted_suffix
    );
    let _ = writeln!(out, "sops_version={SOPS_FORMAT_VERSION}");
    out
}

// ---- YAML --------------------------------------------------------------------------------

fn parse_yaml(text: &str) -> Result<Document, SopsError> {
    use serde_yaml_ng::Value;
    let syntax = |reason: String| SopsError::Syntax {
        kind: "YAML",
        reason,
    };
    let root: serde_yaml_ng::Mapping =
        serde_yaml_ng::from_str(text).map_err(|e| syntax(first_line(&e.to_string())))?;
    let mut entries = Vec::new();
    let mut sops = None;
    for (key, value) in root {
        let Value::String(key) = key else {
            return Err(syntax("a top-level key is not a string".into()));
        };
        if key == "sops" {
            sops = Some(value);
            continue;
        }
        check_key(&key)?;
        let text = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Bool(b) => if b { "True" } else { "False" }.to_owned(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(SopsError::Unsupported(format!(
                    "'{key}' is nested; a bundle holds flat name=value pairs"
                )));
            }
        };
        entries.push((key, text));
    }
    let sops = sops.ok_or(SopsError::NoMetadata)?;
    let field = |name: &str| -> Result<String, SopsError> {
        sops.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SopsError::Metadata(format!("missing sops.{name}")))
    };
    let recipients = sops
        .get("age")
        .and_then(Value::as_sequence)
        .map(|list| {
            list.iter()
                .filter_map(|item| {
                    Some((
                        item.get("recipient")?.as_str()?.to_owned(),
                        item.get("enc")?.as_str()?.to_owned(),
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Ok(Document {
        entries,
        last_modified: field("lastmodified")?,
        mac: field("mac")?,
        unencrypted_suffix: field("unencrypted_suffix")
            .unwrap_or_else(|_| DEFAULT_UNENCRYPTED_SUFFIX.to_owned()),
        recipients: non_empty_recipients(recipients)?,
    })
}

fn write_yaml(entries: &[(&str, Stored)], metadata: &Metadata<'_>) -> Result<String, SopsError> {
    let mut out = String::new();
    for (key, stored) in entries {
        let value = match stored {
            Stored::Encrypted(enc) => enc.clone(),
            Stored::Clear(value) => yaml_string(&String::from_utf8_lossy(value.expose_bytes())),
        };
        let _ = writeln!(out, "{key}: {value}");
    }
    out.push_str("sops:\n    age:\n");
    for (recipient, enc) in metadata.recipients {
        let _ = writeln!(out, "        - recipient: {recipient}\n          enc: |");
        for line in enc.lines() {
            let _ = writeln!(out, "            {line}");
        }
    }
    let _ = writeln!(out, "    lastmodified: \"{}\"", metadata.last_modified);
    let _ = writeln!(out, "    mac: {}", metadata.mac);
    let _ = writeln!(
        out,
        "    unencrypted_suffix: {}",
        yaml_string(metadata.unencrypted_suffix)
    );
    let _ = writeln!(out, "    version: {SOPS_FORMAT_VERSION}");
    Ok(out)
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
fn yaml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn check_key(key: &str) -> Result<(), SopsError> {
    env::validate_key(key).map_err(|error| {
        SopsError::Unsupported(error.to_string().trim_start_matches("line 0: ").to_owned())
    })
}

fn non_empty_recipients(
    recipients: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, SopsError> {
    if recipients.is_empty() {
        Err(SopsError::Metadata(
            "no age recipients (keyward reads SOPS files encrypted with age)".into(),
        ))
    } else {
        Ok(recipients)
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_owned()
}

/// Now, as Go's `time.RFC3339` prints a UTC time: seconds precision, `Z`.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> (String, Identities) {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let text = {
            use age::secrecy::ExposeSecret;
            identity.to_string().expose_secret().to_owned()
        };
        (recipient, Identities::from_text("test", text.as_bytes()))
    }

    fn sample() -> EnvMap {
        let mut map = EnvMap::new();
        map.insert("API_TOKEN".into(), SecretValue::from("tok-123"));
        map.insert("EMPTY".into(), SecretValue::from(""));
        map.insert("MULTI".into(), SecretValue::from("line1\nline2 \"q\""));
        map.insert("NOTE_unencrypted".into(), SecretValue::from("public"));
        map
    }

    #[test]
    fn round_trips_in_both_flavours() {
        let (recipient, identities) = identity();
        for kind in [Kind::Dotenv, Kind::Yaml] {
            let sealed = Sealed::new(kind, std::slice::from_ref(&recipient)).expect("new");
            let bytes = sealed.encrypt(&sample()).expect("encrypt");
            assert_eq!(detect(&bytes), Some(kind));
            let text = String::from_utf8(bytes.clone()).expect("utf-8");
            assert!(
                !text.contains("tok-123") && !text.contains("line2"),
                "{text}"
            );
            assert!(text.contains("public"), "unencrypted suffix not honoured");
            let opened = decrypt(&bytes, &identities).expect("decrypt");
            assert_eq!(opened.values, sample(), "{kind:?}");
        }
    }

    #[test]
    fn tampering_is_detected() {
        let (recipient, identities) = identity();
        let sealed = Sealed::new(Kind::Dotenv, &[recipient]).expect("new");
        let text = String::from_utf8(sealed.encrypt(&sample()).expect("encrypt")).expect("utf-8");
        // (SOPS's MAC hashes the concatenated values, so dropping an *empty* value is
        // invisible to it, in sops as here; drop a non-empty one.)
        let dropped: String = text
            .lines()
            .filter(|l| !l.starts_with("MULTI="))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(matches!(
            decrypt(dropped.as_bytes(), &identities),
            Err(SopsError::MacMismatch)
        ));
        let changed = text.replace("NOTE_unencrypted=public", "NOTE_unencrypted=changed");
        assert!(matches!(
            decrypt(changed.as_bytes(), &identities),
            Err(SopsError::MacMismatch)
        ));
        let swapped = text.replace("API_TOKEN=", "API_TOKEM=");
        assert!(matches!(
            decrypt(swapped.as_bytes(), &identities),
            Err(SopsError::Tampered(_))
        ));
    }

    #[test]
    fn a_stranger_cannot_open_it() {
        let (recipient, _) = identity();
        let (_, stranger) = identity();
        let sealed = Sealed::new(Kind::Yaml, &[recipient]).expect("new");
        let bytes = sealed.encrypt(&sample()).expect("encrypt");
        assert!(matches!(
            decrypt(&bytes, &stranger),
            Err(SopsError::NoIdentity(_))
        ));
    }

    #[test]
    fn bad_recipients_and_none_are_refused() {
        assert!(matches!(
            Sealed::new(Kind::Dotenv, &[]),
            Err(SopsError::NoRecipients)
        ));
        assert!(matches!(
            Sealed::new(Kind::Dotenv, &["age1nope".to_owned()]),
            Err(SopsError::BadRecipient(_))
        ));
    }

    #[test]
    fn timestamps_look_like_go_rfc3339() {
        let stamp = now_rfc3339();
        assert_eq!(stamp.len(), 20, "{stamp}");
        assert!(stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T');
    }
}
