//! [`ServingPki`]: a throw-away CA and a serving certificate for 127.0.0.1 and localhost.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::HarnessError;

/// PEM texts of a test CA and of a server certificate it signed.
pub(crate) struct ServingPki {
    /// The CA certificate: what clients trust.
    pub ca_pem: String,
    /// The server certificate (for `localhost` and `127.0.0.1`).
    pub cert_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

impl ServingPki {
    /// A new CA and a server certificate with common name `server_name` (ECDSA P-256 keys).
    pub fn generate(peer: &'static str, server_name: &str) -> Result<Self, HarnessError> {
        Self::generate_with(peer, server_name, &rcgen::PKCS_ECDSA_P256_SHA256)
    }

    /// The same with RSA keys, for servers whose cipher suites are RSA only.
    pub fn generate_rsa(peer: &'static str, server_name: &str) -> Result<Self, HarnessError> {
        Self::generate_with(peer, server_name, &rcgen::PKCS_RSA_SHA256)
    }

    fn generate_with(
        peer: &'static str,
        server_name: &str,
        algorithm: &'static rcgen::SignatureAlgorithm,
    ) -> Result<Self, HarnessError> {
        let fail = |e: rcgen::Error| HarnessError::prepare(peer, format!("certificates: {e}"));
        let ca_key = KeyPair::generate_for(algorithm).map_err(fail)?;
        let mut ca_params = CertificateParams::new(Vec::new()).map_err(fail)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("keyward test CA for {peer}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate_for(algorithm).map_err(fail)?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(fail)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, server_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).map_err(fail)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A throw-away RSA client certificate (self-signed, one day), as one PEM holding the
/// certificate and its PKCS#8 key: what ESO's `authSecretRef.clientCertificate` holds. Test
/// material only.
pub fn rsa_client_certificate(common_name: &str) -> Result<String, HarnessError> {
    let fail = |e: rcgen::Error| HarnessError::prepare("pki", format!("client certificate: {e}"));
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(fail)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let certificate = params.self_signed(&key).map_err(fail)?;
    Ok(format!("{}{}", certificate.pem(), key.serialize_pem()))
}
