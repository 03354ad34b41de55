//! Private and public keys as ESO's functions see them through Go's `crypto/x509`: parsing
//! a private key the way ESO tries the formats (PKCS#1, then PKCS#8, then SEC1), and
//! re-encoding keys to the bytes `x509.MarshalPKCS8PrivateKey` and
//! `x509.MarshalPKIXPublicKey` write. Supported: RSA, ECDSA on P-256, P-384 and P-521,
//! Ed25519.
//!
//! Error messages name the step that failed, never key material.

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use pkcs8::der::{Encode, asn1::ObjectIdentifier};
use rsa::pkcs1::DecodeRsaPrivateKey;
use zeroize::Zeroizing;

/// A NIST curve keyward supports.
#[derive(Clone, Copy)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
            Curve::P384 => ObjectIdentifier::new_unwrap("1.3.132.0.34"),
            Curve::P521 => ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        }
    }
}

/// A parsed private key.
pub(crate) enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    /// An EC key as Go holds it: the scalar (padded to the curve's size) and the public
    /// point (uncompressed SEC1), which Go takes from the JWK or derives when parsing.
    Ec {
        curve: Curve,
        d: Zeroizing<Vec<u8>>,
        point: Vec<u8>,
    },
    /// The 32-byte seed (RFC 8032), which is all Go's PKCS#8 encoding holds.
    Ed25519(Zeroizing<[u8; 32]>),
}

/// A parsed public key.
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
    /// The key bytes as the JWK gave them (32 for a valid key).
    Ed25519(Vec<u8>),
}

/// `id-Ed25519` (RFC 8410), DER-encoded inside an AlgorithmIdentifier without parameters.
const ED25519_ALGORITHM: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

const RSA_OID: &str = "1.2.840.113549.1.1.1";
const EC_OID: &str = "1.2.840.10045.2.1";
const ED25519_OID: &str = "1.3.101.112";

/// ESO's `parsePrivateKey`: PKCS#1, else PKCS#8, else SEC1.
pub(crate) fn parse_private_key(der: &[u8]) -> Result<PrivateKey, String> {
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs1_der(der) {
        return Ok(PrivateKey::Rsa(Box::new(key)));
    }
    if let Ok(key) = parse_pkcs8(der) {
        return Ok(key);
    }
    if let Ok(key) = parse_sec1(der) {
        return Ok(key);
    }
    Err("unable to parse private key type".to_owned())
}

/// `x509.ParseECPrivateKey`: an ECPrivateKey (RFC 5915) that names its curve.
pub(crate) fn parse_sec1(der: &[u8]) -> Result<PrivateKey, String> {
    let unknown = || "x509: unknown elliptic curve".to_owned();
    const FAILED: &str = "x509: failed to parse EC private key";
    let info = sec1::EcPrivateKey::try_from(der).map_err(|_| FAILED.to_owned())?;
    let curve = info
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or_else(unknown)?;
    if curve == Curve::P256.oid() {
        p256::SecretKey::from_sec1_der(der)
            .map(|k| PrivateKey::p256(&k))
            .map_err(|_| FAILED.to_owned())
    } else if curve == Curve::P384.oid() {
        p384::SecretKey::from_sec1_der(der)
            .map(|k| PrivateKey::p384(&k))
            .map_err(|_| FAILED.to_owned())
    } else if curve == Curve::P521.oid() {
        p521::SecretKey::from_sec1_der(der)
            .map(|k| PrivateKey::p521(&k))
            .map_err(|_| FAILED.to_owned())
    } else {
        Err(unknown())
    }
}

/// `x509.ParsePKCS8PrivateKey` for the supported key types.
pub(crate) fn parse_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|_| "x509: failed to parse private key (PKCS#8)".to_owned())?;
    let oid = info.algorithm.oid.to_string();
    let failed = |_| format!("x509: failed to parse {oid} private key");
    match oid.as_str() {
        RSA_OID => rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(failed),
        EC_OID => p256::SecretKey::from_pkcs8_der(der)
            .map(|k| PrivateKey::p256(&k))
            .or_else(|_| p384::SecretKey::from_pkcs8_der(der).map(|k| PrivateKey::p384(&k)))
            .or_else(|_| p521::SecretKey::from_pkcs8_der(der).map(|k| PrivateKey::p521(&k)))
            .map_err(failed),
        ED25519_OID => {
            // The private key is an OCTET STRING holding the 32-byte seed.
            match info.private_key {
                [0x04, 0x20, seed @ ..] if seed.len() == 32 => {
                    let mut out = Zeroizing::new([0u8; 32]);
                    out.copy_from_slice(seed);
                    Ok(PrivateKey::Ed25519(out))
                }
                _ => Err("x509: invalid Ed25519 private key".to_owned()),
            }
        }
        _ => Err(format!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {oid}"
        )),
    }
}

impl PrivateKey {
    /// Go's view of a parsed P-256 key: the public point derived from the scalar.
    pub(crate) fn p256(key: &p256::SecretKey) -> PrivateKey {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        PrivateKey::Ec {
            curve: Curve::P256,
            d: Zeroizing::new(key.to_bytes().to_vec()),
            point: key.public_key().to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    /// Go's view of a parsed P-384 key.
    pub(crate) fn p384(key: &p384::SecretKey) -> PrivateKey {
        use p384::elliptic_curve::sec1::ToEncodedPoint;
        PrivateKey::Ec {
            curve: Curve::P384,
            d: Zeroizing::new(key.to_bytes().to_vec()),
            point: key.public_key().to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    /// The public half.
    pub(crate) fn public(&self) -> Result<PublicKey, String> {
        let invalid = |_| "x509: invalid private key".to_owned();
        Ok(match self {
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            PrivateKey::Ec {
                curve: Curve::P256,
                point,
                ..
            } => PublicKey::P256(p256::PublicKey::from_sec1_bytes(point).map_err(invalid)?),
            PrivateKey::Ec {
                curve: Curve::P384,
                point,
                ..
            } => PublicKey::P384(p384::PublicKey::from_sec1_bytes(point).map_err(invalid)?),
            PrivateKey::Ec {
                curve: Curve::P521,
                point,
                ..
            } => PublicKey::P521(p521::PublicKey::from_sec1_bytes(point).map_err(invalid)?),
            PrivateKey::Ed25519(seed) => PublicKey::Ed25519(
                ed25519_dalek::SigningKey::from_bytes(seed)
                    .verifying_key()
                    .to_bytes()
                    .to_vec(),
            ),
        })
    }

    /// Go's view of a parsed P-521 key.
    pub(crate) fn p521(key: &p521::SecretKey) -> PrivateKey {
        use p521::elliptic_curve::sec1::ToEncodedPoint;
        PrivateKey::Ec {
            curve: Curve::P521,
            d: Zeroizing::new(key.to_bytes().to_vec()),
            point: key.public_key().to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    /// `x509.MarshalPKCS8PrivateKey`.
    pub(crate) fn to_pkcs8(&self) -> Result<Vec<u8>, String> {
        const FAILED: &str = "x509: failed to marshal private key";
        match self {
            PrivateKey::Rsa(k) => k
                .to_pkcs8_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| FAILED.to_owned()),
            PrivateKey::Ec { curve, d, point } => {
                ec_pkcs8(*curve, d, point).map_err(|_| FAILED.to_owned())
            }
            PrivateKey::Ed25519(seed) => Ok(ed25519_pkcs8(seed)),
        }
    }
}

/// Go's PKCS#8 for EC keys: the curve in the algorithm parameters, and an ECPrivateKey
/// (RFC 5915) with the public point but without repeating the curve.
fn ec_pkcs8(curve: Curve, d: &[u8], point: &[u8]) -> Result<Vec<u8>, pkcs8::der::Error> {
    let inner = sec1::EcPrivateKey {
        private_key: d,
        parameters: None,
        public_key: Some(point),
    }
    .to_der()?;
    let curve_oid = curve.oid();
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap(EC_OID),
            parameters: Some((&curve_oid).into()),
        },
        private_key: &inner,
        public_key: None,
    };
    info.to_der()
}

/// Go's PKCS#8 for Ed25519: version 0, the algorithm, and the seed in a nested OCTET STRING
/// (no public key, so version 1 of RFC 5958 is never used).
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
    out.extend_from_slice(&ED25519_ALGORITHM);
    out.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    out.extend_from_slice(seed);
    out
}

impl PublicKey {
    /// `x509.MarshalPKIXPublicKey`.
    pub(crate) fn to_spki(&self) -> Result<Vec<u8>, String> {
        let der = match self {
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::P521(k) => k.to_public_key_der(),
            PublicKey::Ed25519(x) => return ed25519_spki(x),
        };
        der.map(|d| d.as_bytes().to_vec())
            .map_err(|_| "x509: failed to marshal public key".to_owned())
    }
}

/// PKIX for Ed25519: the algorithm and the key as a BIT STRING (short-form DER lengths, so
/// keys up to 100 bytes; Go writes whatever length it is given).
fn ed25519_spki(key: &[u8]) -> Result<Vec<u8>, String> {
    let bits = u8::try_from(key.len() + 1)
        .ok()
        .filter(|n| *n < 0x70)
        .ok_or_else(|| "x509: Ed25519 public key too long".to_owned())?;
    // SEQUENCE { algorithm (7 bytes), BIT STRING (tag, length, unused-bits byte, key) }.
    let content = ED25519_ALGORITHM.len() as u8 + 2 + bits;
    let mut out = vec![0x30, content];
    out.extend_from_slice(&ED25519_ALGORITHM);
    out.extend_from_slice(&[0x03, bits, 0x00]);
    out.extend_from_slice(key);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_pkcs8_round_trips() {
        let seed = [7u8; 32];
        let der = ed25519_pkcs8(&seed);
        assert_eq!(der.len(), 48);
        assert!(matches!(parse_pkcs8(&der), Ok(PrivateKey::Ed25519(s)) if *s == seed));
    }

    #[test]
    fn ed25519_spki_has_go_layout() {
        let der = ed25519_spki(&[9u8; 32]).expect("encodes");
        assert_eq!(
            &der[..12],
            &[
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
            ]
        );
        assert_eq!(der.len(), 44);
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(parse_private_key(b"not a key").is_err());
    }
}
