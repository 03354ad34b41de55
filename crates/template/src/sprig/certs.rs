//! ESO's certificate functions: `certSANs CERT` (the subject alternative names of the first
//! PEM block's certificate) and `filterCertChain leaf|intermediate|root CHAIN`, plus the
//! chain ordering `pkcs12cert` shares. Certificates are parsed with x509-parser where ESO
//! uses Go's `x509.ParseCertificate`; PEM follows Go's `encoding/pem` (see [`super::pem`]).
//!
//! The chain is ordered as ESO orders it: each certificate's parent is the first other one
//! whose subject key id equals its authority key id (an absent id equals an empty one, as
//! with Go's `bytes.Equal`), and the leaf is the one certificate that is nobody's parent.
//! No signature, date or constraint is checked: this formats chains, it does not trust them.

use std::net::{Ipv4Addr, Ipv6Addr};

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::registry::{FuncMap, FuncResult, Param, text_at};
use crate::sprig::pem::{Block, decode, encode};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("certSANs", &[Param::Str], None, |a| {
        cert_sans(&text_at(&a, 0))
    });
    map.add("filterCertChain", &[Param::Str, Param::Str], None, |a| {
        filter_cert_chain(&text_at(&a, 0), &text_at(&a, 1)).map(Value::from)
    });
}

/// What ESO reads from a certificate: its DER and key ids.
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    authority_key_id: Option<Vec<u8>>,
    subject_key_id: Option<Vec<u8>>,
}

impl Cert {
    /// `x509.ParseCertificate`: the whole input must be one certificate.
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, String> {
        let cert = parse_x509(der)?;
        let mut out = Cert {
            der: der.to_vec(),
            authority_key_id: None,
            subject_key_id: None,
        };
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    out.authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    out.subject_key_id = Some(ski.0.to_vec());
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// ESO's `isRootCertificate`: no authority key id, or one equal to the subject key id.
    fn is_root(&self) -> bool {
        self.authority_key_id.is_none() || same_id(&self.authority_key_id, &self.subject_key_id)
    }

    fn pem(&self) -> String {
        encode(&Block::new("CERTIFICATE", self.der.clone()))
    }
}

fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err("x509: trailing data".to_owned()),
        Err(_) => Err("x509: malformed certificate".to_owned()),
    }
}

/// Go's `bytes.Equal`, where a missing id is an empty one.
fn same_id(a: &Option<Vec<u8>>, b: &Option<Vec<u8>>) -> bool {
    a.as_deref().unwrap_or_default() == b.as_deref().unwrap_or_default()
}

/// Every PEM block of `text`, each parsed as a certificate.
fn pem_certificates(text: &[u8]) -> Result<Vec<Cert>, String> {
    let mut data = text;
    let mut certs = Vec::new();
    loop {
        let (block, rest) = decode(data);
        data = rest;
        let Some(block) = block else {
            return Ok(certs);
        };
        certs.push(Cert::parse(&block.bytes)?);
    }
}

/// ESO's `fetchX509CertChains`: the certificates of `text`, leaf first.
pub(crate) fn ordered_chain(text: &[u8]) -> Result<Vec<Cert>, String> {
    let certs = pem_certificates(text)?;
    let mut parent: Vec<Option<usize>> = vec![None; certs.len()];
    let mut is_parent = vec![false; certs.len()];
    for (i, cert) in certs.iter().enumerate() {
        let found = certs
            .iter()
            .enumerate()
            .find(|(j, other)| *j != i && same_id(&cert.authority_key_id, &other.subject_key_id));
        if let Some((j, _)) = found {
            is_parent[j] = true;
            parent[i] = Some(j);
        }
    }
    let mut leaves = (0..certs.len()).filter(|i| !is_parent[*i]);
    let leaf = leaves
        .next()
        .ok_or_else(|| "no leaf certificate found".to_owned())?;
    if leaves.next().is_some() {
        return Err("found multiple leaf or disjunct certificates".to_owned());
    }
    let mut order = Vec::new();
    let mut at = Some(leaf);
    while let Some(i) = at {
        if order.len() == certs.len() {
            return Err("constructing chain resulted in cycle".to_owned());
        }
        order.push(i);
        at = parent[i];
    }
    let mut slots: Vec<Option<Cert>> = certs.into_iter().map(Some).collect();
    Ok(order.iter().filter_map(|&i| slots[i].take()).collect())
}

/// PEM text of certificates, in order.
pub(crate) fn chain_pem(chain: &[Cert]) -> String {
    chain.iter().map(Cert::pem).collect()
}

fn filter_cert_chain(kind: &str, input: &str) -> Result<String, String> {
    let chain = ordered_chain(input.as_bytes())?;
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Ok(String::new());
    };
    Ok(match kind {
        "leaf"
            if first.authority_key_id.is_some()
                && !same_id(&first.authority_key_id, &first.subject_key_id) =>
        {
            first.pem()
        }
        "intermediate" => chain
            .iter()
            .skip(1)
            .take_while(|c| !c.is_root())
            .map(Cert::pem)
            .collect(),
        "root" if last.is_root() => last.pem(),
        _ => String::new(),
    })
}

/// ESO's `certSANs`: DNS names, then IP addresses, e-mail addresses and URIs.
fn cert_sans(input: &str) -> FuncResult {
    // ESO drops the text before the first BEGIN line before decoding.
    let input = input.find("-----BEGIN").map_or(input, |i| &input[i..]);
    let (block, _) = decode(input.as_bytes());
    let block = block.ok_or_else(|| "failed to decode PEM block".to_owned())?;
    let cert = parse_x509(&block.bytes).map_err(|e| format!("failed to parse certificate: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.clone(),
        Ok(None) => Vec::new(),
        Err(_) => return Err("failed to parse certificate: x509: invalid SAN".to_owned()),
    };
    let mut groups: [Vec<String>; 4] = Default::default();
    for name in names {
        match name {
            GeneralName::DNSName(s) => groups[0].push(s.to_owned()),
            GeneralName::IPAddress(ip) => groups[1].push(go_ip_string(ip)?),
            GeneralName::RFC822Name(s) => groups[2].push(s.to_owned()),
            GeneralName::URI(s) => groups[3].push(go_uri_string(s)),
            _ => {}
        }
    }
    Ok(Value::List(
        groups.into_iter().flatten().map(Value::from).collect(),
    ))
}

/// Go's `url.URL.String` after `url.Parse` for the URIs certificates carry: the scheme comes
/// back in lower case. (Go's other normalisations, such as re-escaping user info, are not
/// reproduced; docs/template.md lists this.)
fn go_uri_string(uri: &str) -> String {
    let scheme_end = uri.find(':').filter(|&end| {
        let scheme = &uri[..end];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme_end {
        Some(end) => format!("{}{}", uri[..end].to_ascii_lowercase(), &uri[end..]),
        None => uri.to_owned(),
    }
}

/// Go's `net.IP.String` for the 4- or 16-byte addresses X.509 allows (an IPv4-mapped IPv6
/// address prints as IPv4).
fn go_ip_string(ip: &[u8]) -> Result<String, String> {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return Ok(Ipv4Addr::from(v4).to_string());
    }
    let v6 = <[u8; 16]>::try_from(ip).map_err(|_| {
        format!(
            "failed to parse certificate: x509: cannot parse IP address of length {}",
            ip.len()
        )
    })?;
    let v6 = Ipv6Addr::from(v6);
    Ok(match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_print_like_go() {
        assert_eq!(
            go_ip_string(&[192, 0, 2, 1]).ok().as_deref(),
            Some("192.0.2.1")
        );
        let mapped = Ipv4Addr::new(198, 51, 100, 1).to_ipv6_mapped().octets();
        assert_eq!(go_ip_string(&mapped).ok().as_deref(), Some("198.51.100.1"));
        assert!(go_ip_string(&[1, 2, 3]).is_err());
    }

    #[test]
    fn uri_schemes_are_lowered() {
        assert_eq!(
            go_uri_string("HTTP://Example.COM/a"),
            "http://Example.COM/a"
        );
        assert_eq!(go_uri_string("urn:ISBN:1"), "urn:ISBN:1");
        assert_eq!(go_uri_string("no-scheme/x:y"), "no-scheme/x:y");
    }

    #[test]
    fn missing_ids_are_equal() {
        assert!(same_id(&None, &Some(Vec::new())));
        assert!(!same_id(&None, &Some(vec![1])));
    }
}
