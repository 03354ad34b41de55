//! Sprig's password and symmetric-encryption functions: `bcrypt`, `htpasswd`,
//! `derivePassword` (the Master Password algorithm: scrypt, then HMAC-SHA256 choosing a
//! template and its characters), `encryptAES` and `decryptAES`. For AES the key is the password's bytes
//! copied into 32 zero bytes (AES-256), the mode CBC with a random IV written before the
//! ciphertext, PKCS#7 padding, base64 text. Like Sprig, decryption does not authenticate and
//! only strips as many bytes as the last one says; malformed input fails the template where
//! Go's runtime panics.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use base64::Engine;

use hmac::Mac;

use crate::registry::{FuncMap, FuncResult, Param, bytes_at, int_at, text_at};
use crate::value::Value;

use Param::{Int, Str};

const BLOCK: usize = 16;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("bcrypt", &[Str], None, |a| {
        Ok(Value::from(bcrypt_hash(bytes_at(&a, 0))))
    });
    map.add("htpasswd", &[Str, Str], None, |a| {
        Ok(Value::from(htpasswd(bytes_at(&a, 0), bytes_at(&a, 1))))
    });
    map.add("derivePassword", &[Int, Str, Str, Str, Str], None, |a| {
        let counter = u32::try_from(int_at(&a, 0))
            .map_err(|_| "the counter does not fit in uint32".to_owned())?;
        let s = |i| bytes_at(&a, i);
        derive_password(counter, &text_at(&a, 1), s(2), s(3), s(4)).map(Value::from)
    });
    map.add("encryptAES", &[Str, Str], None, |a| {
        encrypt_aes(bytes_at(&a, 0), bytes_at(&a, 1))
    });
    map.add("decryptAES", &[Str, Str], None, |a| {
        decrypt_aes(bytes_at(&a, 0), bytes_at(&a, 1))
    });
}

/// `bcrypt.GenerateFromPassword` at the default cost 10, `$2a$` form; Sprig returns the error
/// text as the result.
fn bcrypt_hash(input: &[u8]) -> String {
    if input.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .to_owned();
    }
    match bcrypt::hash_with_result(input, 10) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

fn htpasswd(user: &[u8], password: &[u8]) -> Vec<u8> {
    if user.contains(&b':') {
        return [b"invalid username: ".as_slice(), user].concat();
    }
    [user, b":", bcrypt_hash(password).as_bytes()].concat()
}

const MASTER_PASSWORD_SEED: &[u8] = b"com.lyndir.masterpassword";

/// The Master Password templates of each password type.
fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(class: char) -> &'static [u8] {
    match class {
        'V' => b"AEIOU",
        'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        'v' => b"aeiou",
        'c' => b"bcdfghjklmnpqrstvwxyz",
        'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        'n' => b"0123456789",
        'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

fn derive_password(
    counter: u32,
    kind: &str,
    password: &[u8],
    user: &[u8],
    site: &[u8],
) -> Result<String, String> {
    let Some(templates) = password_templates(kind) else {
        return Ok(format!("cannot find password template {kind}"));
    };
    let mut salt = MASTER_PASSWORD_SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user);
    let params = scrypt::Params::new(15, 8, 2, 64).map_err(|e| e.to_string())?;
    let mut key = [0u8; 64];
    scrypt::scrypt(password, &salt, &params, &mut key).map_err(|e| e.to_string())?;
    let mut message = MASTER_PASSWORD_SEED.to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site);
    message.extend_from_slice(&counter.to_be_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    Ok(template
        .chars()
        .enumerate()
        .map(|(i, class)| {
            let chars = template_characters(class);
            let pick = seed.get(i + 1).copied().unwrap_or(0);
            char::from(chars[usize::from(pick) % chars.len()])
        })
        .collect())
}

fn key(password: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password;
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

fn encrypt_aes(password: &[u8], plaintext: &[u8]) -> FuncResult {
    let mut iv = [0u8; BLOCK];
    getrandom::fill(&mut iv).map_err(|_| "the system random source failed".to_owned())?;
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut buf = plaintext.to_vec();
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let len = buf.len();
    Encryptor::new(&key(password).into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .map_err(|_| "crypto/cipher: input not full blocks".to_owned())?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(out),
    ))
}

fn decrypt_aes(password: &[u8], crypt64: &[u8]) -> FuncResult {
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|_| "illegal base64 data".to_owned())?;
    if crypt.len() < BLOCK {
        return Err("runtime error: slice bounds out of range".to_owned());
    }
    let (iv, body) = crypt.split_at(BLOCK);
    if body.len() % BLOCK != 0 {
        return Err("crypto/cipher: input not full blocks".to_owned());
    }
    let mut buf = body.to_vec();
    let iv: [u8; BLOCK] = iv
        .try_into()
        .map_err(|_| "crypto/cipher: IV length must equal block size".to_owned())?;
    Decryptor::new(&key(password).into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| "crypto/cipher: input not full blocks".to_owned())?;
    let last = *buf
        .last()
        .ok_or_else(|| "runtime error: index out of range [-1]".to_owned())?;
    let keep = buf
        .len()
        .checked_sub(usize::from(last))
        .ok_or_else(|| "runtime error: slice bounds out of range".to_owned())?;
    buf.truncate(keep);
    Ok(Value::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_rejects_short_input() {
        let Ok(Value::String(c)) = encrypt_aes(b"pw", b"secret text") else {
            panic!("encryptAES returns a string");
        };
        assert_eq!(
            decrypt_aes(b"pw", c.as_bytes()),
            Ok(Value::from("secret text"))
        );
        assert!(decrypt_aes(b"pw", b"AAAA").is_err());
    }

    #[test]
    fn bcrypt_hashes_verify_and_use_the_2a_prefix() {
        let hash = bcrypt_hash(b"s3cret");
        assert!(hash.starts_with("$2a$10$"));
        assert!(matches!(bcrypt::verify("s3cret", &hash), Ok(true)));
        assert!(matches!(bcrypt::verify("other", &hash), Ok(false)));
        assert!(htpasswd(b"admin", b"pw").starts_with(b"admin:$2a$10$"));
    }
}
