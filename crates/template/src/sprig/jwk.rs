//! ESO's `jwkPublicKeyPem JWK` and `jwkPrivateKeyPem JWK`: one JSON Web Key (RFC 7517/7518,
//! OKP from RFC 8037) as PEM, "PUBLIC KEY" (PKIX) or "PRIVATE KEY" (PKCS#8), as ESO makes it
//! with lestrrat-go/jwx and Go's `crypto/x509`. Supported: RSA, EC P-256, P-384 and P-521,
//! OKP Ed25519. As in ESO, a private JWK given to `jwkPublicKeyPem` (or a public one given to
//! `jwkPrivateKeyPem`) is an error, and so are symmetric ("oct") keys.

use serde_json::{Map, Value as Json};

use crate::registry::{FuncMap, FuncResult, Param, text_at};
use crate::sprig::keys::{Curve, PrivateKey, PublicKey};
use crate::sprig::pem::{Block, encode};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add(
        "jwkPublicKeyPem",
        &[Param::Str],
        None,
        |a| match parse_jwk(&text_at(&a, 0))? {
            Jwk::Public(key) => pem("PUBLIC KEY", key.to_spki()?),
            Jwk::Private(_) => Err("x509: unsupported public key type (a private JWK)".to_owned()),
        },
    );
    map.add(
        "jwkPrivateKeyPem",
        &[Param::Str],
        None,
        |a| match parse_jwk(&text_at(&a, 0))? {
            Jwk::Private(key) => pem("PRIVATE KEY", key.to_pkcs8()?),
            Jwk::Public(_) => Err("x509: unknown key type (a public JWK)".to_owned()),
        },
    );
}

fn pem(kind: &str, der: Vec<u8>) -> FuncResult {
    Ok(Value::from(encode(&Block::new(kind, der))))
}

enum Jwk {
    Public(PublicKey),
    Private(PrivateKey),
}

/// The JWK's members; error messages name members, never their values.
struct Members(Map<String, Json>);

impl Members {
    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn text(&self, name: &str) -> Result<&str, String> {
        match self.0.get(name) {
            Some(Json::String(s)) => Ok(s),
            Some(_) => Err(format!("jwk: member {name:?} is not a string")),
            None => Err(format!("jwk: required member {name:?} is missing")),
        }
    }

    /// A base64url member (padding and the standard alphabet tolerated, as jwx does).
    fn bytes(&self, name: &str) -> Result<Vec<u8>, String> {
        let text = self.text(name)?.trim_end_matches('=');
        let url = text.replace('+', "-").replace('/', "_");
        data_encoding::BASE64URL_NOPAD
            .decode(url.as_bytes())
            .map_err(|_| format!("jwk: member {name:?} is not base64url"))
    }
}

fn parse_jwk(text: &str) -> Result<Jwk, String> {
    let members = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Members(map),
        _ => return Err("jwk: failed to parse key: not a JSON object".to_owned()),
    };
    match members.text("kty")? {
        "RSA" => rsa_jwk(&members),
        "EC" => ec_jwk(&members),
        "OKP" => okp_jwk(&members),
        "oct" => Err("x509: unknown key type (a symmetric JWK)".to_owned()),
        _ => Err("jwk: unsupported key type".to_owned()),
    }
}

fn uint(bytes: &[u8]) -> rsa::BigUint {
    rsa::BigUint::from_bytes_be(bytes)
}

fn rsa_jwk(m: &Members) -> Result<Jwk, String> {
    let (n, e) = (uint(&m.bytes("n")?), uint(&m.bytes("e")?));
    if !m.has("d") {
        // Go encodes public keys of any size (the work is bounded by the JWK's own length);
        // the rsa crate's default cap would be 4096 bits.
        let key = rsa::RsaPublicKey::new_with_max_size(n, e, usize::MAX)
            .map_err(|_| "jwk: invalid RSA public key".to_owned())?;
        return Ok(Jwk::Public(PublicKey::Rsa(key)));
    }
    let primes = vec![uint(&m.bytes("p")?), uint(&m.bytes("q")?)];
    let key = rsa::RsaPrivateKey::from_components(n, e, uint(&m.bytes("d")?), primes)
        .map_err(|_| "jwk: invalid RSA private key".to_owned())?;
    key.validate()
        .map_err(|_| "jwk: invalid RSA private key".to_owned())?;
    check_crt(m, &key)?;
    Ok(Jwk::Private(PrivateKey::Rsa(Box::new(key))))
}

/// Go checks the CRT values a JWK supplies (`dp`, `dq`, `qi`) against the ones it computes;
/// keyward encodes its own, so a JWK whose values differ is refused as Go refuses it.
fn check_crt(m: &Members, key: &rsa::RsaPrivateKey) -> Result<(), String> {
    use rsa::traits::PrivateKeyParts;
    let computed = [
        ("dp", key.dp().cloned()),
        ("dq", key.dq().cloned()),
        ("qi", key.crt_coefficient()),
    ];
    for (name, value) in computed {
        if m.has(name) && Some(uint(&m.bytes(name)?)) != value {
            return Err(format!("jwk: invalid RSA CRT value {name:?}"));
        }
    }
    Ok(())
}

/// `bytes` left-padded with zeros to `size` (Go's big integers carry no length).
fn padded(bytes: Vec<u8>, size: usize, name: &str) -> Result<Vec<u8>, String> {
    if bytes.len() > size {
        return Err(format!("jwk: member {name:?} is too long for the curve"));
    }
    let mut out = vec![0u8; size - bytes.len()];
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// The uncompressed SEC1 point `04 || x || y`.
fn point(m: &Members, size: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0x04];
    out.extend(padded(m.bytes("x")?, size, "x")?);
    out.extend(padded(m.bytes("y")?, size, "y")?);
    Ok(out)
}

fn ec_jwk(m: &Members) -> Result<Jwk, String> {
    let invalid = |_| "jwk: invalid EC key".to_owned();
    match m.text("crv")? {
        "P-256" => {
            let public = p256::PublicKey::from_sec1_bytes(&point(m, 32)?).map_err(invalid)?;
            if !m.has("d") {
                return Ok(Jwk::Public(PublicKey::P256(public)));
            }
            ec_private(m, Curve::P256, 32, point(m, 32)?)
        }
        "P-384" => {
            let public = p384::PublicKey::from_sec1_bytes(&point(m, 48)?).map_err(invalid)?;
            if !m.has("d") {
                return Ok(Jwk::Public(PublicKey::P384(public)));
            }
            ec_private(m, Curve::P384, 48, point(m, 48)?)
        }
        "P-521" => {
            let public = p521::PublicKey::from_sec1_bytes(&point(m, 66)?).map_err(invalid)?;
            if !m.has("d") {
                return Ok(Jwk::Public(PublicKey::P521(public)));
            }
            ec_private(m, Curve::P521, 66, point(m, 66)?)
        }
        _ => Err("jwk: unsupported EC curve".to_owned()),
    }
}

/// Like Go, the JWK's own `x`/`y` go into the encoding next to `d` (they are not checked
/// against it); `d` must be a valid scalar, non-zero and below the order.
fn ec_private(m: &Members, curve: Curve, size: usize, point: Vec<u8>) -> Result<Jwk, String> {
    let d = padded(m.bytes("d")?, size, "d")?;
    let valid = match curve {
        Curve::P256 => p256::SecretKey::from_slice(&d).is_ok(),
        Curve::P384 => p384::SecretKey::from_slice(&d).is_ok(),
        Curve::P521 => p521::SecretKey::from_slice(&d).is_ok(),
    };
    if !valid {
        return Err("jwk: invalid EC private key".to_owned());
    }
    Ok(Jwk::Private(PrivateKey::Ec {
        curve,
        d: zeroize::Zeroizing::new(d),
        point,
    }))
}

fn okp_jwk(m: &Members) -> Result<Jwk, String> {
    if m.text("crv")? != "Ed25519" {
        return Err("jwk: unsupported OKP curve".to_owned());
    }
    let exact = |name: &str| -> Result<[u8; 32], String> {
        <[u8; 32]>::try_from(m.bytes(name)?.as_slice())
            .map_err(|_| format!("jwk: member {name:?} must be 32 bytes"))
    };
    if !m.has("d") {
        // Go copies the public key's bytes into the PKIX encoding without checking their
        // length, and so does keyward.
        return Ok(Jwk::Public(PublicKey::Ed25519(m.bytes("x")?)));
    }
    let seed = exact("d")?;
    // jwx rejects a private JWK whose "x" is not the public key of its seed.
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    if m.has("x") && m.bytes("x")? != derived.as_bytes() {
        return Err("jwk: invalid x value given d value".to_owned());
    }
    Ok(Jwk::Private(PrivateKey::Ed25519(zeroize::Zeroizing::new(
        seed,
    ))))
}
