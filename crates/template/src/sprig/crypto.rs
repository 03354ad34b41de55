//! Sprig's symmetric encryption: `encryptAES` and `decryptAES`. The key is the password's bytes
//! copied into 32 zero bytes (AES-256), the mode CBC with a random IV written before the
//! ciphertext, PKCS#7 padding, base64 text. Like Sprig, decryption does not authenticate and
//! only strips as many bytes as the last one says; malformed input fails the template where
//! Go's runtime panics.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use base64::Engine;

use crate::funcs::{FuncMap, FuncResult, Param, string_at};
use crate::value::Value;

use Param::Str;

const BLOCK: usize = 16;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("encryptAES", &[Str, Str], None, |a| {
        encrypt_aes(string_at(&a, 0), string_at(&a, 1))
    });
    map.add("decryptAES", &[Str, Str], None, |a| {
        decrypt_aes(string_at(&a, 0), string_at(&a, 1))
    });
}

fn key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

fn encrypt_aes(password: &str, plaintext: &str) -> FuncResult {
    let mut iv = [0u8; BLOCK];
    getrandom::fill(&mut iv).map_err(|_| "the system random source failed".to_owned())?;
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut buf = plaintext.as_bytes().to_vec();
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let len = buf.len();
    Encryptor::new(&key(password).into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .map_err(|_| "crypto/cipher: input not full blocks".to_owned())?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(out),
    ))
}

fn decrypt_aes(password: &str, crypt64: &str) -> FuncResult {
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
    Ok(Value::String(String::from_utf8_lossy(&buf).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_rejects_short_input() {
        let Ok(Value::String(c)) = encrypt_aes("pw", "secret text") else {
            panic!("encryptAES returns a string");
        };
        assert_eq!(
            decrypt_aes("pw", &c),
            Ok(Value::String("secret text".to_owned()))
        );
        assert!(decrypt_aes("pw", "AAAA").is_err());
    }
}
