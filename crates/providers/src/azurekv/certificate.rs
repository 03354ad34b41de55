//! [`ClientCertificate`]: a service principal's certificate credential, and the signed client
//! assertion (RFC 7523) Entra ID accepts in place of a client secret.
//!
//! ESO's `authSecretRef.clientCertificate` names one Secret key holding the certificate and its
//! unencrypted private key, PEM, in any order (what `azidentity.ParseCertificates` reads from
//! PEM). Entra ID certificate credentials are RSA: the assertion is an RS256 JWT whose header
//! names the certificate by its SHA-1 thumbprint (`x5t`), signed with the key, valid ten
//! minutes, with a fresh `jti` so it cannot be replayed.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_core::SecretValue;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How long a client assertion is valid.
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// A parsed certificate credential: the signing key and the certificate's thumbprint.
pub struct ClientCertificate {
    key: RsaKeyPair,
    thumbprint: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads the first certificate and the private key from `pem`. Errors say what is
    /// missing or unusable, never a byte of the key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certificate = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or("no CERTIFICATE block in the PEM")?
            .map_err(|_| "the CERTIFICATE block is not valid PEM")?;
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
            "no unencrypted PRIVATE KEY or RSA PRIVATE KEY block in the PEM".to_owned()
        })?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err("the private key is not RSA (Entra ID certificates are RSA)".into()),
        }
        .map_err(|_| "the private key is not a usable RSA key".to_owned())?;
        let thumbprint = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &certificate);
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
        })
    }

    /// The certificate's `x5t`: base64url of its SHA-1 thumbprint.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A client assertion for `client_id` at the token endpoint `audience`, issued `now`
    /// (Unix seconds).
    pub fn assertion(
        &self,
        audience: &str,
        client_id: &str,
        now: i64,
    ) -> Result<SecretValue, String> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint});
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": random_id()?,
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(SecretValue::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// 128 random bits, hex: the assertion's `jti`.
fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness for the client assertion".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
