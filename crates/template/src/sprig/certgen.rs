//! Sprig's key and certificate generators: `genPrivateKey`, `genCA`, `genCAWithKey`,
//! `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey`
//! and `buildCustomCert`, with the certificate contents Sprig asks Go's
//! `x509.CreateCertificate` for: a random 128-bit serial, the common name as the only subject
//! attribute, validity from now for the given number of days, key usage digital signature and
//! key encipherment (plus certificate signing for a CA), extended key usage server and client
//! auth, basic constraints, the IP and DNS names as SANs, a subject key id on CAs and the
//! issuer's key id as authority key id. New keys are RSA 2048 (for `genPrivateKey`: RSA
//! 4096, P-256, Ed25519 or DSA 2048/256). DSA keys can be generated but, as in Go, not used
//! to sign certificates.
//!
//! The result is Sprig's struct `certificate{Cert, Key}` ([`GoStruct`] named
//! `sprig.certificate`), so field access, printing, `typeOf`, `toJson` and passing it to
//! `genSignedCert*` behave as in Go.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use pkcs8::der::asn1::{BitString, Ia5String, OctetString, PrintableStringRef, Utf8StringRef};
use pkcs8::der::{Any, Decode, Encode, asn1::ObjectIdentifier};
use rand_core::{OsRng, RngCore};
use rsa::pkcs1::EncodeRsaPrivateKey;
use sha1::Digest;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::registry::{FuncMap, FuncResult, Param, int_at, text_at};
use crate::sprig::keys::{Curve, PrivateKey, parse_pkcs8, parse_sec1};
use crate::sprig::pem::{Block, decode, encode};
use crate::value::{GoStruct, Value};

use Param::{Any as AnyParam, Int, Str};

/// Sprig's `certificate` as a parameter type.
const CA: Param = Param::Struct(CERTIFICATE);

pub(crate) fn register(map: &mut FuncMap) {
    map.add("genPrivateKey", &[Str], None, |a| {
        Ok(Value::from(gen_private_key(&text_at(&a, 0))))
    });
    map.add("buildCustomCert", &[Str, Str], None, |a| {
        build_custom_cert(&text_at(&a, 0), &text_at(&a, 1))
    });
    map.add("genCA", &[Str, Int], None, |a| {
        let key = new_rsa_key()?;
        gen_ca(&text_at(&a, 0), int_at(&a, 1), key)
    });
    map.add("genCAWithKey", &[Str, Int, Str], None, |a| {
        let key =
            parse_key_pem(&text_at(&a, 2)).map_err(|e| format!("parsing private key: {e}"))?;
        gen_ca(&text_at(&a, 0), int_at(&a, 1), key)
    });
    map.add(
        "genSelfSignedCert",
        &[Str, AnyParam, AnyParam, Int],
        None,
        |a| {
            let key = new_rsa_key()?;
            self_signed(&a, key)
        },
    );
    map.add(
        "genSelfSignedCertWithKey",
        &[Str, AnyParam, AnyParam, Int, Str],
        None,
        |a| {
            let key =
                parse_key_pem(&text_at(&a, 4)).map_err(|e| format!("parsing private key: {e}"))?;
            self_signed(&a, key)
        },
    );
    map.add(
        "genSignedCert",
        &[Str, AnyParam, AnyParam, Int, CA],
        None,
        |a| {
            let key = new_rsa_key()?;
            signed(&a, key)
        },
    );
    map.add(
        "genSignedCertWithKey",
        &[Str, AnyParam, AnyParam, Int, CA, Str],
        None,
        |a| {
            let key =
                parse_key_pem(&text_at(&a, 5)).map_err(|e| format!("parsing private key: {e}"))?;
            signed(&a, key)
        },
    );
}

/// Sprig's `genPrivateKey`: errors and unknown types come back as text, not failures.
fn gen_private_key(kind: &str) -> String {
    let key = match kind {
        "" | "rsa" => new_rsa(4096),
        "ecdsa" => Ok(PrivateKey::p256(&p256::SecretKey::random(&mut OsRng))),
        "ed25519" => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(seed.as_mut());
            Ok(PrivateKey::Ed25519(seed))
        }
        "dsa" => {
            return dsa_pem().unwrap_or_else(|e| format!("failed to generate private key: {e}"));
        }
        other => return format!("Unknown type {other}"),
    };
    match key.and_then(|k| key_pem(&k)) {
        Ok(pem) => pem,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// A new DSA key (L = 2048, N = 256, like Go's `dsa.L2048N256`) in the OpenSSL layout
/// Sprig writes: SEQUENCE { version 0, p, q, g, y, x } as "DSA PRIVATE KEY".
fn dsa_pem() -> Result<String, String> {
    use pkcs8::der::asn1::UintRef;
    let components = dsa::Components::generate(&mut OsRng, dsa::KeySize::DSA_2048_256);
    let key = dsa::SigningKey::generate(&mut OsRng, components);
    let public = key.verifying_key();
    let parts = public.components();
    let mut body = vec![0x02, 0x01, 0x00];
    for n in [parts.p(), parts.q(), parts.g(), public.y(), key.x()] {
        let bytes = zeroize::Zeroizing::new(n.to_bytes_be());
        let int = UintRef::new(&bytes).and_then(|i| i.to_der());
        body.extend(int.map_err(|_| "error encoding DSA key".to_owned())?);
    }
    let header = pkcs8::der::Header::new(
        pkcs8::der::Tag::Sequence,
        pkcs8::der::Length::try_from(body.len())
            .map_err(|_| "error encoding DSA key".to_owned())?,
    )
    .and_then(|h| h.to_der())
    .map_err(|_| "error encoding DSA key".to_owned())?;
    Ok(encode(&Block::new(
        "DSA PRIVATE KEY",
        [header, body].concat(),
    )))
}

fn new_rsa(bits: usize) -> Result<PrivateKey, String> {
    rsa::RsaPrivateKey::new(&mut OsRng, bits)
        .map(|k| PrivateKey::Rsa(Box::new(k)))
        .map_err(|_| "crypto/rsa: key generation failed".to_owned())
}

fn new_rsa_key() -> Result<PrivateKey, String> {
    new_rsa(2048).map_err(|e| format!("error generating rsa key: {e}"))
}

/// Sprig's `pemBlockForKey`: PKCS#1 for RSA, SEC1 for EC, PKCS#8 otherwise.
fn key_pem(key: &PrivateKey) -> Result<String, String> {
    let failed = |_| "error pem-encoding key".to_owned();
    let (kind, der) = match key {
        PrivateKey::Rsa(k) => (
            "RSA PRIVATE KEY",
            k.to_pkcs1_der().map_err(failed)?.as_bytes().to_vec(),
        ),
        PrivateKey::Ec { curve, d, point } => ("EC PRIVATE KEY", sec1_der(*curve, d, point)?),
        PrivateKey::Ed25519(_) => ("PRIVATE KEY", key.to_pkcs8()?),
    };
    Ok(encode(&Block::new(kind, der)))
}

/// Go's `x509.MarshalECPrivateKey`: the curve named inside the ECPrivateKey.
fn sec1_der(curve: Curve, d: &[u8], point: &[u8]) -> Result<Vec<u8>, String> {
    sec1::EcPrivateKey {
        private_key: d,
        parameters: Some(sec1::EcParameters::NamedCurve(curve.oid())),
        public_key: Some(point),
    }
    .to_der()
    .map_err(|_| "error pem-encoding key".to_owned())
}

/// Sprig's `parsePrivateKeyPEM`: the PEM type decides the format.
fn parse_key_pem(text: &str) -> Result<PrivateKey, String> {
    let (block, _) = decode(text.as_bytes());
    let block = block.ok_or_else(|| "no PEM data in input".to_owned())?;
    match block.kind.as_str() {
        "PRIVATE KEY" => {
            parse_pkcs8(&block.bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"))
        }
        "RSA PRIVATE KEY" => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_der(&block.bytes)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|_| "parsing RSA private key from PEM".to_owned())
        }
        "EC PRIVATE KEY" => {
            parse_sec1(&block.bytes).map_err(|e| format!("parsing EC private key from PEM: {e}"))
        }
        // Sprig parses DSA keys, but Go's x509.CreateCertificate cannot sign with them, so
        // every generator given one fails: keyward fails at parsing.
        "DSA PRIVATE KEY" => Err("x509: only RSA, ECDSA and Ed25519 keys supported".to_owned()),
        _ => Err("no private key data in PEM block of the expected types".to_owned()),
    }
}

fn build_custom_cert(b64_cert: &str, b64_key: &str) -> FuncResult {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = b64
        .decode(b64_cert)
        .map_err(|_| "unable to decode base64 certificate".to_owned())?;
    let key = b64
        .decode(b64_key)
        .map_err(|_| "unable to decode base64 private key".to_owned())?;
    let (block, _) = decode(&cert);
    let block = block.ok_or_else(|| "unable to decode certificate".to_owned())?;
    crate::sprig::certs::Cert::parse(&block.bytes)
        .map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    let key = String::from_utf8(key).map_err(|_| "error parsing private key".to_owned())?;
    if !is_dsa_key(&key) {
        parse_key_pem(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    }
    let cert = String::from_utf8(cert).map_err(|_| "unable to decode certificate".to_owned())?;
    Ok(pair(cert, key))
}

/// Whether `text` is what Sprig accepts as a DSA key: a "DSA PRIVATE KEY" block holding a
/// SEQUENCE of six INTEGERs (Sprig checks the layout, not the numbers).
fn is_dsa_key(text: &str) -> bool {
    use pkcs8::der::asn1::IntRef;
    let (block, _) = decode(text.as_bytes());
    block.is_some_and(|b| {
        b.kind == "DSA PRIVATE KEY"
            && Vec::<IntRef<'_>>::from_der(&b.bytes).is_ok_and(|ints| ints.len() == 6)
    })
}

/// Go's name of Sprig's `certificate` type.
const CERTIFICATE: &str = "sprig.certificate";

/// Sprig's `certificate{Cert, Key}` struct.
fn pair(cert: String, key: String) -> Value {
    Value::Struct(Box::new(GoStruct {
        type_name: CERTIFICATE,
        fields: vec![("Cert", Value::from(cert)), ("Key", Value::from(key))],
    }))
}

/// What `getBaseCertTemplate` and `IsCA` put in a certificate.
struct Template {
    common_name: String,
    ips: Vec<IpAddr>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

fn gen_ca(cn: &str, days: i64, key: PrivateKey) -> FuncResult {
    let template = Template {
        common_name: cn.to_owned(),
        ips: Vec::new(),
        dns: Vec::new(),
        days,
        is_ca: true,
    };
    issue(&template, &key, None, &key)
}

/// The common name, IPs, DNS names and days of a `genSelfSignedCert`/`genSignedCert` call.
fn leaf_template(a: &[Value]) -> Result<Template, String> {
    Ok(Template {
        common_name: text_at(a, 0).into_owned(),
        ips: ips(&a[1])?,
        dns: dns_names(&a[2])?,
        days: int_at(a, 3),
        is_ca: false,
    })
}

fn self_signed(a: &[Value], key: PrivateKey) -> FuncResult {
    issue(&leaf_template(a)?, &key, None, &key)
}

fn signed(a: &[Value], key: PrivateKey) -> FuncResult {
    let template = leaf_template(a)?;
    let field = |name: &str| match &a[4] {
        Value::Struct(st) => match st.field(name) {
            Some(Value::String(s)) => s.to_text().into_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let (block, _) = decode(field("Cert").as_bytes());
    let block = block.ok_or_else(|| "unable to decode certificate".to_owned())?;
    let parent = Certificate::from_der(&block.bytes).map_err(|_| {
        "error parsing certificate: decodedSignerCert.Bytes: x509: malformed certificate".to_owned()
    })?;
    let signer =
        parse_key_pem(&field("Key")).map_err(|e| format!("error parsing private key: {e}"))?;
    issue(&template, &key, Some(&parent), &signer)
}

/// A `[]interface{}` argument (nil allowed) as a list.
fn list_items<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match v {
        Value::Nil => Ok(&[]),
        Value::List(items) => Ok(items),
        other => Err(format!(
            "wrong type for value; expected []interface {{}}; got {} ({what})",
            other.go_type()
        )),
    }
}

/// Sprig's `getNetIPs`: each item a string that `net.ParseIP` accepts.
fn ips(v: &Value) -> Result<Vec<IpAddr>, String> {
    list_items(v, "ips")?
        .iter()
        .map(|item| match item {
            Value::String(s) => s
                .to_text()
                .parse::<IpAddr>()
                .map_err(|_| "error parsing ip: not an IP address".to_owned()),
            _ => Err("error parsing ip: not a string".to_owned()),
        })
        .collect()
}

fn dns_names(v: &Value) -> Result<Vec<String>, String> {
    list_items(v, "alternateDNS")?
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.to_text().into_owned()),
            _ => Err("error processing alternate dns name: not a string".to_owned()),
        })
        .collect()
}

const FAILED: &str = "error creating certificate";

/// Go's `x509.CreateCertificate(template, parent, signee's public key, signer)`, PEM-encoded
/// with the signee's key.
fn issue(
    template: &Template,
    signee: &PrivateKey,
    parent: Option<&Certificate>,
    signer: &PrivateKey,
) -> FuncResult {
    let spki_der = signee.public()?.to_spki()?;
    let spki = SubjectPublicKeyInfoOwned::from_der(&spki_der).map_err(|_| FAILED.to_owned())?;
    let subject = common_name(&template.common_name)?;
    let (issuer, parent_key_id) = issuer(parent, signer, &subject)?;
    let mut extensions = usage_extensions(template.is_ca)?;
    if template.is_ca {
        // RFC 5280 method 1: the SHA-1 of the subject public key bits.
        let key_bits = spki.subject_public_key.raw_bytes();
        let id = OctetString::new(sha1::Sha1::digest(key_bits).to_vec())
            .map_err(|_| FAILED.to_owned())?;
        extensions.push(extension(&SubjectKeyIdentifier(id), false)?);
    }
    // Go names the issuer's key only when the issuer is another certificate.
    if let Some(id) = parent_key_id.filter(|_| issuer != subject) {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(id),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.push(extension(&aki, false)?);
    }
    if let Some(san) = subject_alt_name(template)? {
        extensions.push(extension(&san, false)?);
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial()?,
        signature: signer.signature_algorithm(),
        issuer,
        validity: validity(template.days)?,
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let cert = sign_certificate(tbs, signer)?;
    Ok(pair(cert, key_pem(signee)?))
}

/// The issuer name and key id: the subject itself for a self-signed certificate, else the
/// parent's, whose public key must be the signer's (as Go checks).
fn issuer(
    parent: Option<&Certificate>,
    signer: &PrivateKey,
    subject: &Name,
) -> Result<(Name, Option<OctetString>), String> {
    let Some(parent) = parent else {
        return Ok((subject.clone(), None));
    };
    let parent_spki = parent
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| FAILED.to_owned())?;
    if parent_spki != signer.public()?.to_spki()? {
        return Err(format!(
            "{FAILED}: x509: provided PrivateKey doesn't match parent's PublicKey"
        ));
    }
    Ok((
        parent.tbs_certificate.subject.clone(),
        subject_key_id(parent),
    ))
}

/// Key usage (critical), server and client auth, and basic constraints (critical).
fn usage_extensions(is_ca: bool) -> Result<Vec<Extension>, String> {
    let server_and_client = ExtendedKeyUsage(vec![
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"),
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2"),
    ]);
    let constraints = BasicConstraints {
        ca: is_ca,
        path_len_constraint: None,
    };
    Ok(vec![
        extension(&KeyUsage(key_usages(is_ca)), true)?,
        extension(&server_and_client, false)?,
        extension(&constraints, true)?,
    ])
}

/// The signed certificate, PEM-encoded.
fn sign_certificate(tbs: TbsCertificate, signer: &PrivateKey) -> Result<String, String> {
    let tbs_der = tbs.to_der().map_err(|_| FAILED.to_owned())?;
    let signature =
        BitString::from_bytes(&signer.sign(&tbs_der)?).map_err(|_| FAILED.to_owned())?;
    let cert = Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature,
    };
    let der = cert.to_der().map_err(|_| FAILED.to_owned())?;
    Ok(encode(&Block::new("CERTIFICATE", der)))
}

fn key_usages(is_ca: bool) -> flagset::FlagSet<KeyUsages> {
    let usages = KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment;
    if is_ca {
        usages | KeyUsages::KeyCertSign
    } else {
        usages
    }
}

fn extension<E: Encode + pkcs8::der::oid::AssociatedOid>(
    value: &E,
    critical: bool,
) -> Result<Extension, String> {
    let der = value.to_der().map_err(|_| FAILED.to_owned())?;
    Ok(Extension {
        extn_id: E::OID,
        critical,
        extn_value: OctetString::new(der).map_err(|_| FAILED.to_owned())?,
    })
}

/// The parent's subject key id, if it has one.
fn subject_key_id(cert: &Certificate) -> Option<OctetString> {
    let ski = ObjectIdentifier::new_unwrap("2.5.29.14");
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == ski)
        .and_then(|e| OctetString::from_der(e.extn_value.as_bytes()).ok())
        .filter(|id| !id.as_bytes().is_empty())
}

fn subject_alt_name(template: &Template) -> Result<Option<SubjectAltName>, String> {
    let mut names = Vec::new();
    for dns in &template.dns {
        let name = Ia5String::new(dns)
            .map_err(|_| format!("{FAILED}: x509: SAN dNSName is not an IA5String"))?;
        names.push(GeneralName::DnsName(name));
    }
    for ip in &template.ips {
        // Go writes IPv4 (and IPv4-mapped IPv6) addresses as 4 bytes.
        let bytes = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => v6.octets().to_vec(),
            },
        };
        names.push(GeneralName::IpAddress(
            OctetString::new(bytes).map_err(|_| FAILED.to_owned())?,
        ));
    }
    Ok((!names.is_empty()).then_some(SubjectAltName(names)))
}

/// `pkix.Name{CommonName: cn}`: one attribute, PrintableString when it can be, else UTF-8;
/// no attribute at all for an empty name.
fn common_name(cn: &str) -> Result<Name, String> {
    if cn.is_empty() {
        return Ok(RdnSequence(Vec::new()));
    }
    let value = match PrintableStringRef::new(cn) {
        Ok(s) => Any::encode_from(&s),
        Err(_) => Utf8StringRef::new(cn).and_then(|s| Any::encode_from(&s)),
    }
    .map_err(|_| FAILED.to_owned())?;
    let attribute = AttributeTypeAndValue {
        oid: ObjectIdentifier::new_unwrap("2.5.4.3"),
        value,
    };
    let rdn =
        RelativeDistinguishedName::try_from(vec![attribute]).map_err(|_| FAILED.to_owned())?;
    Ok(RdnSequence(vec![rdn]))
}

/// A random serial below 2^128, like Sprig's.
fn serial() -> Result<SerialNumber, String> {
    let mut bytes = [0u8; 17];
    OsRng.fill_bytes(&mut bytes[1..]);
    // A leading zero keeps the DER INTEGER positive; strip it when not needed.
    let start = if bytes[1] & 0x80 != 0 { 0 } else { 1 };
    SerialNumber::new(&bytes[start..]).map_err(|_| FAILED.to_owned())
}

/// From now for `days` days (negative: already expired, as Go allows).
fn validity(days: i64) -> Result<Validity, String> {
    let now = SystemTime::now();
    let span = Duration::from_secs(days.unsigned_abs().saturating_mul(86_400));
    let end = if days >= 0 {
        now.checked_add(span)
    } else {
        now.checked_sub(span)
    }
    .ok_or_else(|| format!("{FAILED}: validity out of range"))?;
    let time =
        |t: SystemTime| Time::try_from(t).map_err(|_| format!("{FAILED}: validity out of range"));
    Ok(Validity {
        not_before: time(now)?,
        not_after: time(end)?,
    })
}

impl PrivateKey {
    /// The algorithm Go signs certificates with for this key.
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        let (oid, parameters) = match self {
            PrivateKey::Rsa(_) => ("1.2.840.113549.1.1.11", Some(Any::null())),
            PrivateKey::Ec {
                curve: Curve::P256, ..
            } => ("1.2.840.10045.4.3.2", None),
            PrivateKey::Ec {
                curve: Curve::P384, ..
            } => ("1.2.840.10045.4.3.3", None),
            PrivateKey::Ec {
                curve: Curve::P521, ..
            } => ("1.2.840.10045.4.3.4", None),
            PrivateKey::Ed25519(_) => ("1.3.101.112", None),
        };
        AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap(oid),
            parameters,
        }
    }

    /// A signature of `message` with [`PrivateKey::signature_algorithm`].
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        use rsa::signature::{SignatureEncoding, Signer};
        let failed = |_| format!("{FAILED}: signing failed");
        match self {
            PrivateKey::Rsa(k) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                Ok(signer.try_sign(message).map_err(failed)?.to_vec())
            }
            PrivateKey::Ec {
                curve: Curve::P256,
                d,
                ..
            } => {
                let signer = p256::ecdsa::SigningKey::from_slice(d).map_err(failed)?;
                let sig: p256::ecdsa::Signature = signer.try_sign(message).map_err(failed)?;
                Ok(sig.to_der().to_vec())
            }
            PrivateKey::Ec {
                curve: Curve::P384,
                d,
                ..
            } => {
                let signer = p384::ecdsa::SigningKey::from_slice(d).map_err(failed)?;
                let sig: p384::ecdsa::Signature = signer.try_sign(message).map_err(failed)?;
                Ok(sig.to_der().to_vec())
            }
            // Go signs with SHA-512 on P-521, as p521's signer does.
            PrivateKey::Ec {
                curve: Curve::P521,
                d,
                ..
            } => {
                let signer = p521::ecdsa::SigningKey::from_slice(d).map_err(failed)?;
                let sig: p521::ecdsa::Signature = signer.try_sign(message).map_err(failed)?;
                Ok(sig.to_der().to_vec())
            }
            PrivateKey::Ed25519(seed) => {
                let signer = ed25519_dalek::SigningKey::from_bytes(seed);
                Ok(signer.try_sign(message).map_err(failed)?.to_vec())
            }
        }
    }
}
