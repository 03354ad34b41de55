//! The ansible-vault format, versions 1.1 and 1.2, on RustCrypto primitives.
//!
//! The format, as ansible-core's `ansible.parsing.vault` writes it (see also
//! `docs/spec/ansible-vault.md`):
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            (1.2 adds ";LABEL", the vault-id)
//! hex(hex(salt) "\n" hex(hmac) "\n" hex(ciphertext))  wrapped at 80 columns, final "\n"
//! ```
//!
//! - key material: PBKDF2-HMAC-SHA256(password, salt, 10,000 iterations, 80 bytes), split into
//!   a 32-byte AES key, a 32-byte HMAC key and a 16-byte CTR IV;
//! - the plaintext is PKCS#7-padded to the 16-byte AES block, then AES-256-CTR encrypted with
//!   the IV as the initial 128-bit big-endian counter;
//! - the HMAC is HMAC-SHA256 over the ciphertext under the HMAC key, checked (in constant
//!   time) before anything is decrypted.
//!
//! The salt is 32 random bytes, or a fixed value when the caller gives one (ansible's
//! `VAULT_ENCRYPT_SALT` setting does the same, which makes outputs comparable byte for byte).
//! A wrong password and a tampered file are indistinguishable by design: both fail the HMAC.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use keyward_core::SecretValue;
use sha2::Sha256;
use zeroize::Zeroizing;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// The header prefix every vault file starts with.
pub const HEADER_PREFIX: &str = "$ANSIBLE_VAULT;";
const CIPHER: &str = "AES256";
const PBKDF2_ITERATIONS: u32 = 10_000;
const SALT_LEN: usize = 32;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const BLOCK: usize = 16;
const LINE_WIDTH: usize = 80;

/// Why vault text could not be read or decrypted. Never carries plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The text does not start with `$ANSIBLE_VAULT;`.
    #[error("not an ansible-vault file (no $ANSIBLE_VAULT header)")]
    NotVault,
    /// The header names a format version other than 1.1 and 1.2.
    #[error("unsupported ansible-vault version '{0}' (keyward reads 1.1 and 1.2)")]
    UnsupportedVersion(String),
    /// The header names a cipher other than AES256.
    #[error("unsupported ansible-vault cipher '{0}' (only AES256 exists)")]
    UnsupportedCipher(String),
    /// The header is not `$ANSIBLE_VAULT;VERSION;CIPHER[;LABEL]`.
    #[error("malformed ansible-vault header")]
    MalformedHeader,
    /// The body is not the nested hex encoding of salt, HMAC and ciphertext.
    #[error("malformed ansible-vault body: {0}")]
    MalformedBody(&'static str),
    /// The HMAC does not match: a wrong password, or the file was changed.
    #[error("HMAC mismatch: wrong password, or the file was tampered with")]
    HmacMismatch,
    /// The HMAC matched but the padding is invalid (a corrupted file encrypted elsewhere).
    #[error("invalid padding after decryption")]
    BadPadding,
    /// The password is empty; ansible refuses it too.
    #[error("the vault password is empty")]
    EmptyPassword,
}

/// The version line of a vault file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaultVersion {
    /// `1.1`: no label.
    V1_1,
    /// `1.2`: the header carries a vault-id label.
    V1_2,
}

/// A parsed vault file, still encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// 1.1 or 1.2.
    pub version: VaultVersion,
    /// The vault-id label of a 1.2 file.
    pub label: Option<String>,
    salt: Vec<u8>,
    hmac: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Whether `bytes` look like a vault file (the header, after optional leading whitespace).
pub fn is_vault(bytes: &[u8]) -> bool {
    bytes
        .trim_ascii_start()
        .starts_with(HEADER_PREFIX.as_bytes())
}

/// Parses the envelope of a vault file. Indented bodies (as in a YAML `!vault |` block)
/// and CRLF line ends are accepted.
pub fn parse(text: &[u8]) -> Result<Envelope, VaultError> {
    let text = std::str::from_utf8(text).map_err(|_| VaultError::MalformedBody("not ASCII"))?;
    let mut lines = text.trim_start().lines();
    let header = lines.next().ok_or(VaultError::NotVault)?.trim();
    let (version, label) = parse_header(header)?;
    let body: String = lines.map(str::trim).collect();
    let inner = decode_hex(body.as_bytes(), "outer hex")?;
    let mut parts = inner.splitn(3, |&b| b == b'\n');
    let mut next = |what| {
        parts
            .next()
            .ok_or(VaultError::MalformedBody(
                "missing salt, HMAC or ciphertext",
            ))
            .and_then(|part| decode_hex(part, what))
    };
    let salt = next("salt")?;
    let hmac = next("HMAC")?;
    let ciphertext = next("ciphertext")?;
    if hmac.len() != 32 {
        return Err(VaultError::MalformedBody("HMAC is not 32 bytes"));
    }
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(VaultError::MalformedBody(
            "ciphertext length is not whole AES blocks",
        ));
    }
    Ok(Envelope {
        version,
        label,
        salt,
        hmac,
        ciphertext,
    })
}

fn parse_header(header: &str) -> Result<(VaultVersion, Option<String>), VaultError> {
    let rest = header
        .strip_prefix(HEADER_PREFIX)
        .ok_or(VaultError::NotVault)?;
    let fields: Vec<&str> = rest.split(';').map(str::trim).collect();
    let (version, cipher) = match fields.as_slice() {
        [version, cipher, ..] => (*version, *cipher),
        _ => return Err(VaultError::MalformedHeader),
    };
    let version = match version {
        "1.1" => VaultVersion::V1_1,
        "1.2" => VaultVersion::V1_2,
        other => return Err(VaultError::UnsupportedVersion(printable(other))),
    };
    if cipher != CIPHER {
        return Err(VaultError::UnsupportedCipher(printable(cipher)));
    }
    let label = match (version, fields.get(2)) {
        (VaultVersion::V1_2, Some(label)) if !label.is_empty() => Some((*label).to_owned()),
        (VaultVersion::V1_2, _) => return Err(VaultError::MalformedHeader),
        (VaultVersion::V1_1, _) => None,
    };
    Ok((version, label))
}

/// Decrypts an envelope with `password`. The plaintext zeroizes when dropped.
pub fn decrypt(
    envelope: &Envelope,
    password: &SecretValue,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let keys = derive_keys(password, &envelope.salt)?;
    let mut mac =
        HmacSha256::new_from_slice(keys.hmac_key()).map_err(|_| VaultError::HmacMismatch)?;
    mac.update(&envelope.ciphertext);
    mac.verify_slice(&envelope.hmac)
        .map_err(|_| VaultError::HmacMismatch)?;
    let mut plaintext = Zeroizing::new(envelope.ciphertext.clone());
    keys.cipher().apply_keystream(&mut plaintext);
    let unpadded = unpad(&plaintext)?;
    plaintext.truncate(unpadded);
    Ok(plaintext)
}

/// Encrypts `plaintext` into a complete vault file (header, wrapped body, final newline).
///
/// A `label` other than `default` produces a 1.2 file, as ansible-vault does. `salt` fixes
/// the salt (for reproducible output); `None` draws 32 random bytes.
pub fn encrypt(
    plaintext: &[u8],
    password: &SecretValue,
    label: Option<&str>,
    salt: Option<&[u8]>,
) -> Result<Vec<u8>, VaultError> {
    let salt = match salt {
        Some(salt) => salt.to_vec(),
        None => random_salt()?,
    };
    let keys = derive_keys(password, &salt)?;
    let mut ciphertext = pad(plaintext);
    keys.cipher().apply_keystream(&mut ciphertext);
    let mut mac =
        HmacSha256::new_from_slice(keys.hmac_key()).map_err(|_| VaultError::HmacMismatch)?;
    mac.update(&ciphertext);
    let hmac = mac.finalize().into_bytes();

    let inner = [
        hex::encode(&salt),
        hex::encode(hmac),
        hex::encode(&ciphertext),
    ]
    .join("\n");
    let body = hex::encode(inner);
    let header = match label.filter(|l| *l != "default") {
        Some(label) => format!("{HEADER_PREFIX}1.2;{CIPHER};{label}"),
        None => format!("{HEADER_PREFIX}1.1;{CIPHER}"),
    };
    let mut out = Vec::with_capacity(header.len() + body.len() + body.len() / LINE_WIDTH + 2);
    out.extend_from_slice(header.as_bytes());
    for line in body.as_bytes().chunks(LINE_WIDTH) {
        out.push(b'\n');
        out.extend_from_slice(line);
    }
    out.push(b'\n');
    Ok(out)
}

/// The three secrets PBKDF2 yields, in one zeroizing buffer.
struct DerivedKeys(Zeroizing<[u8; 2 * KEY_LEN + IV_LEN]>);

impl DerivedKeys {
    fn aes_key(&self) -> &[u8] {
        &self.0[..KEY_LEN]
    }
    fn hmac_key(&self) -> &[u8] {
        &self.0[KEY_LEN..2 * KEY_LEN]
    }
    fn iv(&self) -> &[u8] {
        &self.0[2 * KEY_LEN..]
    }
    fn cipher(&self) -> Aes256Ctr {
        // Both slices have the exact lengths AES-256-CTR needs, fixed by the constants above.
        Aes256Ctr::new(self.aes_key().into(), self.iv().into())
    }
}

fn derive_keys(password: &SecretValue, salt: &[u8]) -> Result<DerivedKeys, VaultError> {
    if password.is_empty() {
        return Err(VaultError::EmptyPassword);
    }
    let mut keys = Zeroizing::new([0u8; 2 * KEY_LEN + IV_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.expose_bytes(),
        salt,
        PBKDF2_ITERATIONS,
        keys.as_mut(),
    );
    Ok(DerivedKeys(keys))
}

fn random_salt() -> Result<Vec<u8>, VaultError> {
    let mut salt = vec![0u8; SALT_LEN];
    // The OS random source failing is not recoverable; report it as a malformed operation.
    getrandom::fill(&mut salt)
        .map_err(|_| VaultError::MalformedBody("no randomness for the salt"))?;
    Ok(salt)
}

fn pad(plaintext: &[u8]) -> Vec<u8> {
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut padded = Vec::with_capacity(plaintext.len() + pad);
    padded.extend_from_slice(plaintext);
    // pad is 1..=16, so it fits a byte.
    padded.resize(plaintext.len() + pad, pad as u8);
    padded
}

/// The length of the plaintext without its PKCS#7 padding.
fn unpad(padded: &[u8]) -> Result<usize, VaultError> {
    let pad = usize::from(*padded.last().ok_or(VaultError::BadPadding)?);
    if pad == 0 || pad > BLOCK || pad > padded.len() {
        return Err(VaultError::BadPadding);
    }
    let (body, tail) = padded.split_at(padded.len() - pad);
    if tail.iter().any(|&b| usize::from(b) != pad) {
        return Err(VaultError::BadPadding);
    }
    Ok(body.len())
}

fn decode_hex(hex_text: &[u8], what: &'static str) -> Result<Vec<u8>, VaultError> {
    hex::decode(hex_text).map_err(|_| {
        VaultError::MalformedBody(match what {
            "outer hex" => "the body is not hex (truncated or edited?)",
            "salt" => "the salt is not hex",
            "HMAC" => "the HMAC is not hex",
            _ => "the ciphertext is not hex",
        })
    })
}

/// Header fields come from the file; keep error messages short and printable.
fn printable(field: &str) -> String {
    field.chars().filter(|c| !c.is_control()).take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password() -> SecretValue {
        SecretValue::from("correct horse battery staple")
    }

    #[test]
    fn round_trip_1_1_and_1_2() {
        for label in [None, Some("prod")] {
            let sealed = encrypt(b"A=\"1\"\n", &password(), label, None).expect("encrypt");
            let envelope = parse(&sealed).expect("parse");
            assert_eq!(envelope.label.as_deref(), label);
            let opened = decrypt(&envelope, &password()).expect("decrypt");
            assert_eq!(opened.as_slice(), b"A=\"1\"\n");
        }
    }

    #[test]
    fn layout_matches_ansible() {
        let sealed = encrypt(b"x", &password(), Some("default"), Some(b"fixed")).expect("encrypt");
        let text = std::str::from_utf8(&sealed).expect("ascii");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("$ANSIBLE_VAULT;1.1;AES256"));
        assert!(lines.all(|line| line.len() <= 80 && line.bytes().all(|b| b.is_ascii_hexdigit())));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }

    #[test]
    fn empty_plaintext_is_one_padding_block() {
        let sealed = encrypt(b"", &password(), None, None).expect("encrypt");
        let opened = decrypt(&parse(&sealed).expect("parse"), &password()).expect("decrypt");
        assert!(opened.is_empty());
    }

    #[test]
    fn wrong_password_and_tampering_fail_the_hmac() {
        let sealed = encrypt(b"secret", &password(), None, None).expect("encrypt");
        let envelope = parse(&sealed).expect("parse");
        assert_eq!(
            decrypt(&envelope, &SecretValue::from("wrong")),
            Err(VaultError::HmacMismatch)
        );
        let mut tampered = envelope.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(
            decrypt(&tampered, &password()),
            Err(VaultError::HmacMismatch)
        );
    }

    #[test]
    fn malformed_inputs_are_named() {
        assert_eq!(parse(b"hello"), Err(VaultError::NotVault));
        assert_eq!(
            parse(b"$ANSIBLE_VAULT;2.0;AES256\n00"),
            Err(VaultError::UnsupportedVersion("2.0".into()))
        );
        assert_eq!(
            parse(b"$ANSIBLE_VAULT;1.1;AES\n00"),
            Err(VaultError::UnsupportedCipher("AES".into()))
        );
        assert_eq!(
            parse(b"$ANSIBLE_VAULT;1.1\n00"),
            Err(VaultError::MalformedHeader)
        );
        assert_eq!(
            parse(b"$ANSIBLE_VAULT;1.2;AES256\n00"),
            Err(VaultError::MalformedHeader)
        );
        assert!(matches!(
            parse(b"$ANSIBLE_VAULT;1.1;AES256\nzz"),
            Err(VaultError::MalformedBody(_))
        ));
        let sealed = encrypt(b"secret", &password(), None, None).expect("encrypt");
        let truncated = &sealed[..sealed.len() - 20];
        assert!(matches!(
            parse(truncated),
            Err(VaultError::MalformedBody(_))
        ));
    }

    #[test]
    fn indented_bodies_parse() {
        let sealed = encrypt(b"v", &password(), None, None).expect("encrypt");
        let indented: String = std::str::from_utf8(&sealed)
            .expect("ascii")
            .lines()
            .map(|line| format!("      {line}\r\n"))
            .collect();
        let envelope = parse(indented.as_bytes()).expect("parse");
        assert_eq!(
            decrypt(&envelope, &password()).expect("decrypt").as_slice(),
            b"v"
        );
        assert!(is_vault(indented.as_bytes()));
    }

    #[test]
    fn empty_password_is_refused() {
        assert_eq!(
            encrypt(b"x", &SecretValue::from(""), None, None),
            Err(VaultError::EmptyPassword)
        );
    }

    #[test]
    fn padding_is_checked() {
        assert_eq!(unpad(&[3u8; 16]).expect("valid"), 13);
        assert_eq!(unpad(&[0u8; 16]), Err(VaultError::BadPadding));
        assert_eq!(unpad(&[17u8; 16]), Err(VaultError::BadPadding));
        let mut mixed = [2u8; 16];
        mixed[14] = 3;
        assert_eq!(unpad(&mixed), Err(VaultError::BadPadding));
    }
}
