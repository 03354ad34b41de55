//! ESO's `rsaDecrypt SCHEME HASH CIPHERTEXT KEY`: scheme "None" returns the ciphertext as
//! it is; "RSA-OAEP" decrypts it (raw bytes, e.g. `b64dec` output) with the RSA key of the
//! first PEM block of KEY, with OAEP (RFC 8017) over SHA1, SHA256 or SHA512 (any other hash
//! name means SHA256, as in ESO) and no label. Any other scheme is an error.

use rsa::Oaep;

use crate::registry::{FuncMap, FuncResult, Param, bytes_at, text_at};
use crate::sprig::keys::{PrivateKey, parse_private_key};
use crate::sprig::pem::decode;
use crate::value::Value;

use Param::Str;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("rsaDecrypt", &[Str, Str, Str, Str], None, |mut a| {
        if &*text_at(&a, 0) == "None" {
            return Ok(a.swap_remove(2));
        }
        rsa_decrypt(
            &text_at(&a, 0),
            &text_at(&a, 1),
            bytes_at(&a, 2),
            &text_at(&a, 3),
        )
    });
}

fn rsa_decrypt(scheme: &str, hash: &str, ciphertext: &[u8], key: &str) -> FuncResult {
    if scheme != "RSA-OAEP" {
        // The scheme may come from data, so it is not named.
        return Err("decryption scheme is not supported (only None and RSA-OAEP are)".to_owned());
    }
    let (block, _) = decode(key.as_bytes());
    let block = block.ok_or_else(|| "failed to decode PEM block".to_owned())?;
    let key = match parse_private_key(&block.bytes) {
        Ok(PrivateKey::Rsa(key)) => key,
        Ok(_) => return Err("could not parse RSA private key".to_owned()),
        Err(e) => return Err(format!("could not parse private key: {e}")),
    };
    let padding = match hash {
        "SHA1" => Oaep::new::<sha1::Sha1>(),
        "SHA512" => Oaep::new::<sha2::Sha512>(),
        _ => Oaep::new::<sha2::Sha256>(),
    };
    key.decrypt(padding, ciphertext)
        .map(Value::from_bytes)
        .map_err(|_| "error decrypting data with RSA: crypto/rsa: decryption error".to_owned())
}
