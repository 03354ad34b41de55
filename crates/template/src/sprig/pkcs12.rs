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
//!   Trust stores have a single authenticated-safe item, as go-pkcs12 writes and reads them.
//!
//! Errors name the step that failed; they never carry key material or passwords.

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, LocalKeyId, MacAlgorithm,
    Pkcs12Archive, PrivateKeyChain,
};
use sha1::Digest;

use crate::registry::{FuncMap, FuncResult, Param, bytes_at, text_at};
use crate::sprig::certs::{Cert, chain_pem, ordered_chain};
use crate::sprig::keys::{parse_pkcs8, parse_private_key};
use crate::sprig::pem::{Block, decode, encode};
use crate::value::Value;

use Param::Str;

/// go-pkcs12's `Modern` iteration count, for both the key derivation and the MAC.
const ITERATIONS: u32 = 2048;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("pkcs12key", &[Str], None, |a| {
        pkcs12_key("", bytes_at(&a, 0))
    });
    map.add("pkcs12keyPass", &[Str, Str], None, |a| {
        pkcs12_key(&text_at(&a, 0), bytes_at(&a, 1))
    });
    map.add("pkcs12cert", &[Str], None, |a| {
        pkcs12_cert("", bytes_at(&a, 0))
    });
    map.add("pkcs12certPass", &[Str, Str], None, |a| {
        pkcs12_cert(&text_at(&a, 0), bytes_at(&a, 1))
    });
    map.add("pemToPkcs12", &[Str, Str], None, |a| {
        pem_to_pkcs12(&text_at(&a, 0), &text_at(&a, 1), "", false)
    });
    map.add("pemToPkcs12Pass", &[Str, Str, Str], None, |a| {
        pem_to_pkcs12(&text_at(&a, 0), &text_at(&a, 1), &text_at(&a, 2), false)
    });
    map.add("fullPemToPkcs12", &[Str, Str], None, |a| {
        pem_to_pkcs12(&text_at(&a, 0), &text_at(&a, 1), "", true)
    });
    map.add("fullPemToPkcs12Pass", &[Str, Str, Str], None, |a| {
        pem_to_pkcs12(&text_at(&a, 0), &text_at(&a, 1), &text_at(&a, 2), true)
    });
    map.add("pemTruststoreToPKCS12", &[Str], None, |a| {
        truststore(&text_at(&a, 0), "")
    });
    map.add("pemTruststoreToPKCS12Pass", &[Str, Str], None, |a| {
        truststore(&text_at(&a, 0), &text_at(&a, 1))
    });
}

/// go-pkcs12's `DecodeChain`: the key's PKCS#8 bytes and the certificates in bag order.
fn decode_chain(password: &str, data: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    // Checks go-pkcs12 makes that p12-keystore does not: one or two authenticated-safe
    // items, and a MAC unless the password is empty.
    let (items, has_mac) =
        single_safe::shape(data).ok_or_else(|| "pkcs12: error reading P12 data".to_owned())?;
    if !(1..=2).contains(&items) {
        return Err("pkcs12: expected between 1 and 2 items in the authenticated safe".to_owned());
    }
    if !has_mac && !password.is_empty() {
        return Err("pkcs12: no MAC in data".to_owned());
    }
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
    Ok(Value::from(encode(&Block::new("PRIVATE KEY", der))))
}

fn pkcs12_cert(password: &str, data: &[u8]) -> FuncResult {
    let (_, certs) = decode_chain(password, data)
        .map_err(|e| format!("unable to decode pkcs12 certificate with password: {e}"))?;
    let all: String = certs
        .into_iter()
        .map(|der| encode(&Block::new("CERTIFICATE", der)))
        .collect();
    // ESO falls back to bag order when no single chain can be built.
    Ok(Value::from(match ordered_chain(all.as_bytes()) {
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
    let pfx = write_bytes(&store, password)?;
    let pfx = single_safe::rewrite(&pfx, password)
        .ok_or_else(|| "pkcs12: could not encode".to_owned())?;
    use base64::Engine;
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(pfx),
    ))
}

fn keystore_cert(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|_| "pkcs12: could not encode a certificate".to_owned())
}

/// go-pkcs12's `Modern` algorithms, base64 as ESO returns them.
fn write(store: &KeyStore, password: &str) -> FuncResult {
    use base64::Engine;
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(write_bytes(store, password)?),
    ))
}

fn write_bytes(store: &KeyStore, password: &str) -> Result<Vec<u8>, String> {
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|_| "pkcs12: could not encode".to_owned())
}

/// A trust store with one authenticated-safe item, as go-pkcs12's `EncodeTrustStore` writes
/// and its `DecodeTrustStore` requires. p12-keystore always adds a second, empty item for
/// keys; this keeps its encrypted certificate item, and recomputes the MAC (HMAC-SHA-256,
/// key from the RFC 7292 appendix B KDF over the BMP password, 2048 iterations, new salt).
mod single_safe {
    use hmac::Mac;
    use rand_core::{OsRng, RngCore};
    use sha2::Digest;

    const SEQUENCE: u8 = 0x30;
    const OCTET_STRING: u8 = 0x04;
    const EXPLICIT_0: u8 = 0xa0;
    /// `id-data` (PKCS#7), DER-encoded with its tag.
    const ID_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    /// `id-sha256` with NULL parameters, as an AlgorithmIdentifier.
    const SHA256_ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    const ITERATIONS: u16 = super::ITERATIONS as u16;

    /// The authenticated-safe items of a DER PFX, and what follows them (the MAC data).
    fn items(pfx: &[u8]) -> Option<(&[u8], &[u8])> {
        let (_, pfx_body, _) = read(pfx, SEQUENCE)?;
        let (_, _version, rest) = read_any(pfx_body)?;
        let (_, content_info, after) = read(rest, SEQUENCE)?;
        let (_, _oid, rest) = read_any(content_info)?;
        let (_, explicit, _) = read(rest, EXPLICIT_0)?;
        let (_, safes, _) = read(explicit, OCTET_STRING)?;
        let (_, items, _) = read(safes, SEQUENCE)?;
        Some((items, after))
    }

    /// How many authenticated-safe items a PFX has, and whether MAC data follows.
    pub(super) fn shape(pfx: &[u8]) -> Option<(usize, bool)> {
        let (mut items, after) = items(pfx)?;
        let mut count = 0;
        while !items.is_empty() {
            items = read_any(items)?.2;
            count += 1;
        }
        Some((count, !after.is_empty()))
    }

    /// `pfx` with only the first authenticated-safe item, or `None` if it is not the DER
    /// p12-keystore writes.
    pub(super) fn rewrite(pfx: &[u8], password: &str) -> Option<Vec<u8>> {
        let (items, _) = items(pfx)?;
        let (first, _, _) = read_any(items)?;
        let auth_safe = tlv(SEQUENCE, first);
        Some(tlv(
            SEQUENCE,
            &[
                &[0x02, 0x01, 0x03][..],
                &tlv(
                    SEQUENCE,
                    &[ID_DATA, &tlv(EXPLICIT_0, &tlv(OCTET_STRING, &auth_safe))].concat(),
                ),
                &mac_data(&auth_safe, password)?,
            ]
            .concat(),
        ))
    }

    fn mac_data(content: &[u8], password: &str) -> Option<Vec<u8>> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let key = kdf_mac_key(password, &salt);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
        mac.update(content);
        let digest = mac.finalize().into_bytes();
        let digest_info = tlv(
            SEQUENCE,
            &[SHA256_ALGORITHM, &tlv(OCTET_STRING, &digest)].concat(),
        );
        let iterations = [0x02, 0x02, (ITERATIONS >> 8) as u8, ITERATIONS as u8];
        Some(tlv(
            SEQUENCE,
            &[&digest_info[..], &tlv(OCTET_STRING, &salt), &iterations].concat(),
        ))
    }

    /// RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64), ID 3 (MAC key), 32 bytes.
    fn kdf_mac_key(password: &str, salt: &[u8]) -> Vec<u8> {
        const V: usize = 64;
        let mut bmp: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
        bmp.extend_from_slice(&[0, 0]);
        let stretch = |s: &[u8]| -> Vec<u8> {
            let len = s.len().div_ceil(V) * V;
            s.iter().copied().cycle().take(len).collect()
        };
        let input = [stretch(salt), stretch(&bmp)].concat();
        let mut a = sha2::Sha256::new()
            .chain_update([3u8; V])
            .chain_update(&input)
            .finalize();
        for _ in 1..ITERATIONS {
            a = sha2::Sha256::digest(a);
        }
        // One 32-byte block is all a SHA-256 MAC key needs, so I is never updated.
        a.to_vec()
    }

    /// One DER TLV.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    /// The first TLV of `data`: (whole TLV, content, rest).
    fn read_any(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let first = *data.get(1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let count = usize::from(first & 0x7f);
            let bytes = data.get(2..2 + count)?;
            let len = bytes.iter().try_fold(0usize, |acc, b| {
                acc.checked_mul(256).map(|v| v + usize::from(*b))
            })?;
            (len, 2 + count)
        };
        let end = header.checked_add(len)?;
        Some((data.get(..end)?, data.get(header..end)?, data.get(end..)?))
    }

    fn read(data: &[u8], tag: u8) -> Option<(&[u8], &[u8], &[u8])> {
        (*data.first()? == tag).then_some(())?;
        read_any(data)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn long_lengths_round_trip() {
            let content = vec![7u8; 300];
            let encoded = tlv(SEQUENCE, &content);
            assert_eq!(&encoded[..4], &[0x30, 0x82, 0x01, 0x2c]);
            let (whole, body, rest) = read(&encoded, SEQUENCE).expect("reads back");
            assert_eq!((whole.len(), body, rest.len()), (304, &content[..], 0));
        }
    }
}
