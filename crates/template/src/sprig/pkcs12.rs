//! ESO's PKCS#12 functions, on p12-keystore (RFC 7292):
//!
//! - `pkcs12key[Pass] [PASS] DATA` and `pkcs12cert[Pass] [PASS] DATA` read the PKCS#12 bytes
//!   (a binary string: `b64dec` output or raw secret data) the way go-pkcs12's `DecodeChain`
//!   does: exactly one key bag, at least one certificate bag, the first certificate bag is
//!   the leaf. The key comes back as Go's PKCS#8 "PRIVATE KEY" PEM; the certificates as PEM,
//!   ordered leaf → root when one chain can be built (see [`super::certs`]).
//! - `pemToPkcs12[Pass] CERT KEY [PASS]`, `fullPemToPkcs12[Pass] CHAIN KEY [PASS]` and
//!   `pemTruststoreToPKCS12[Pass] CERTS [PASS]` write base64 PKCS#12 with the algorithms of
//!   go-pkcs12's `Modern` encoder: PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC), HMAC-SHA-256 MAC,
//!   2048 iterations. Salts are random, so the bytes differ from run to run (as in ESO).
//!
//! Errors name the step that failed; they never carry key material or passwords.

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, LocalKeyId, MacAlgorithm,
    Pkcs12Archive, PrivateKeyChain,
};
use sha1::Digest;

use crate::funcs::{FuncMap, FuncResult, Param, bytes_at, string_at};
use crate::sprig::certs::{Cert, chain_pem, ordered_chain};
use crate::sprig::keys::{parse_pkcs8, parse_private_key};
use crate::sprig::pem::{Block, decode, encode};
use crate::value::Value;

use Param::{RawStr, Str};

/// go-pkcs12's `Modern` iteration count, for both the key derivation and the MAC.
const ITERATIONS: u32 = 2048;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("pkcs12key", &[RawStr], None, |a| {
        pkcs12_key("", bytes_at(&a, 0))
    });
    map.add("pkcs12keyPass", &[Str, RawStr], None, |a| {
        pkcs12_key(string_at(&a, 0), bytes_at(&a, 1))
    });
    map.add("pkcs12cert", &[RawStr], None, |a| {
        pkcs12_cert("", bytes_at(&a, 0))
    });
    map.add("pkcs12certPass", &[Str, RawStr], None, |a| {
        pkcs12_cert(string_at(&a, 0), bytes_at(&a, 1))
    });
    map.add("pemToPkcs12", &[Str, Str], None, |a| {
        pem_to_pkcs12(string_at(&a, 0), string_at(&a, 1), "", false)
    });
    map.add("pemToPkcs12Pass", &[Str, Str, Str], None, |a| {
        pem_to_pkcs12(string_at(&a, 0), string_at(&a, 1), string_at(&a, 2), false)
    });
    map.add("fullPemToPkcs12", &[Str, Str], None, |a| {
        pem_to_pkcs12(string_at(&a, 0), string_at(&a, 1), "", true)
    });
    map.add("fullPemToPkcs12Pass", &[Str, Str, Str], None, |a| {
        pem_to_pkcs12(string_at(&a, 0), string_at(&a, 1), string_at(&a, 2), true)
    });
    map.add("pemTruststoreToPKCS12", &[Str], None, |a| {
        truststore(string_at(&a, 0), "")
    });
    map.add("pemTruststoreToPKCS12Pass", &[Str, Str], None, |a| {
        truststore(string_at(&a, 0), string_at(&a, 1))
    });
}

/// go-pkcs12's `DecodeChain`: the key's PKCS#8 bytes and the certificates in bag order.
fn decode_chain(password: &str, data: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|_| {
        "pkcs12: could not decode (malformed data, unsupported algorithm or wrong password)"
            .to_owned()
    })?;
    let mut certs = Vec::with_capacity(archive.certs.len());
    for bag in &archive.certs {
        // Go parses every certificate bag before looking at the key.
        Cert::parse(bag.cert.as_der())?;
        certs.push(bag.cert.as_der().to_vec());
    }
    let key = match archive.keys.as_slice() {
        [] => None,
        [bag] => Some(bag.key.as_der().to_vec()),
        _ => return Err("pkcs12: expected exactly one key bag".to_owned()),
    };
    if certs.is_empty() {
        return Err("pkcs12: certificate missing".to_owned());
    }
    let key = key.ok_or_else(|| "pkcs12: private key missing".to_owned())?;
    Ok((key, certs))
}

fn pkcs12_key(password: &str, data: &[u8]) -> FuncResult {
    let (key, _) = decode_chain(password, data)
        .map_err(|e| format!("unable to decode pkcs12 with password: {e}"))?;
    // Go parses the key and marshals it again, which normalises its encoding.
    let der = parse_pkcs8(&key)?.to_pkcs8()?;
    Ok(Value::String(encode(&Block::new("PRIVATE KEY", der))))
}

fn pkcs12_cert(password: &str, data: &[u8]) -> FuncResult {
    let (_, certs) = decode_chain(password, data)
        .map_err(|e| format!("unable to decode pkcs12 certificate with password: {e}"))?;
    let all: String = certs
        .into_iter()
        .map(|der| encode(&Block::new("CERTIFICATE", der)))
        .collect();
    // ESO falls back to bag order when no single chain can be built.
    Ok(Value::String(match ordered_chain(all.as_bytes()) {
        Ok(chain) => chain_pem(&chain),
        Err(_) => all,
    }))
}

/// The first PEM block of `text` parsed as a certificate, and the text after it.
fn first_certificate(text: &[u8]) -> Result<(Cert, &[u8]), String> {
    let (block, rest) = decode(text);
    let block = block.ok_or_else(|| "no PEM block where a certificate was expected".to_owned())?;
    Ok((Cert::parse(&block.bytes)?, rest))
}

/// ESO's `parseCaCerts`: certificates until the text ends; anything else is an error.
fn all_certificates(mut text: &[u8]) -> Result<Vec<Cert>, String> {
    let mut certs = Vec::new();
    while !text.is_empty() {
        let (cert, rest) = first_certificate(text)?;
        certs.push(cert);
        text = rest;
    }
    Ok(certs)
}

fn pem_to_pkcs12(cert: &str, key: &str, password: &str, with_chain: bool) -> FuncResult {
    let (leaf, rest) = first_certificate(cert.as_bytes())?;
    let cas = if with_chain {
        all_certificates(rest)?
    } else {
        Vec::new()
    };
    let (block, _) = decode(key.as_bytes());
    let block = block.ok_or_else(|| "no PEM block where a private key was expected".to_owned())?;
    let pkcs8 = parse_private_key(&block.bytes)?.to_pkcs8()?;
    let key = p12_keystore::PrivateKey::from_der(&pkcs8)
        .map_err(|_| "pkcs12: could not encode the private key".to_owned())?;
    // go-pkcs12 links the key to the leaf with the leaf's SHA-1 as local key id.
    let key_id = LocalKeyId(sha1::Sha1::digest(&leaf.der).to_vec());
    let certs = std::iter::once(&leaf)
        .chain(&cas)
        .map(|c| keystore_cert(&c.der))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = KeyStore::new();
    store.add_entry(
        "1",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, certs)),
    );
    write(&store, password)
}

fn truststore(certs: &str, password: &str) -> FuncResult {
    let mut store = KeyStore::new();
    for (i, cert) in all_certificates(certs.as_bytes())?.iter().enumerate() {
        // Entries are kept by alias in sorted order: a numbered alias keeps the input order.
        store.add_entry(
            &format!("{i:04}"),
            KeyStoreEntry::Certificate(keystore_cert(&cert.der)?),
        );
    }
    write(&store, password)
}

fn keystore_cert(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|_| "pkcs12: could not encode a certificate".to_owned())
}

/// go-pkcs12's `Modern` algorithms, base64 as ESO returns them.
fn write(store: &KeyStore, password: &str) -> FuncResult {
    use base64::Engine;
    let bytes = store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|_| "pkcs12: could not encode".to_owned())?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}
