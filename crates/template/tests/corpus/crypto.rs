//! ESO's certificate and key functions over the test-only fixtures in
//! tests/fixtures/crypto: deterministic outputs (certSANs, filterCertChain, PKCS#12 → PEM,
//! JWK → PEM, rsaDecrypt) compared byte for byte, the randomised PKCS#12 writers through a
//! read-back in the same template, and malformed input on which both engines must fail.

use serde_json::{Map, Value as Json, json};

use super::Case;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../fixtures/crypto/", $name))
    };
}

fn fixtures_json(text: &str) -> Map<String, Json> {
    match serde_json::from_str(text) {
        Ok(Json::Object(map)) => map,
        _ => panic!("fixture JSON is an object"),
    }
}

/// The SEC1 key of `pem` without its curve parameters ([0]), which Go refuses to parse.
fn ec_without_curve(pem: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = b64.decode(body).expect("fixture base64");
    // SEQUENCE { version (3 bytes), private key (34 bytes), [0] curve, [1] public key }.
    let at = 2 + 3 + 34;
    assert_eq!(der[at], 0xa0, "P-256 SEC1 layout");
    let mut inner = der[2..at].to_vec();
    inner.extend_from_slice(&der[at + 2 + usize::from(der[at + 1])..]);
    let mut out = vec![0x30, u8::try_from(inner.len()).expect("short")];
    out.extend(inner);
    format!(
        "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
        b64.encode(out)
    )
}

/// The certificate of `pem` with one byte after its DER, which Go refuses.
fn with_trailing_byte(pem: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = b64.decode(body).expect("fixture base64");
    der.push(0);
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        b64.encode(der)
    )
}

/// Unpadded base64url, as JWKs write numbers.
fn data_encoding_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A CERTIFICATE block whose DER is cut in half (base64 still valid).
fn truncated_cert(pem: &str) -> String {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("fixture base64");
    let half = base64::engine::general_purpose::STANDARD.encode(&der[..der.len() / 2]);
    format!("-----BEGIN CERTIFICATE-----\n{half}\n-----END CERTIFICATE-----\n")
}

/// Every fixture, under the names the templates use.
pub fn data() -> Json {
    let (root, inter, disjunct) = (
        fixture!("root.pem"),
        fixture!("intermediate.pem"),
        fixture!("disjunct.pem"),
    );
    let (leaf_rsa, leaf_ec, leaf_ed) = (
        fixture!("leaf-rsa.pem"),
        fixture!("leaf-ec.pem"),
        fixture!("leaf-ed25519.pem"),
    );
    let chain = format!("{leaf_rsa}{inter}{root}");
    let rsa_key = fixture!("leaf-rsa.key");
    let key_in_cert_block = rsa_key.replace("RSA PRIVATE KEY", "CERTIFICATE");
    let jwks = fixtures_json(fixture!("jwk.json"));
    let jwk = |name: &str| jwks.get(name).cloned().unwrap_or(Json::Null);
    let public = |name: &str| {
        let mut key = jwk(name);
        if let Some(map) = key.as_object_mut() {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                map.remove(private);
            }
        }
        key
    };
    let mut jwk_text = Map::new();
    for name in ["rsa", "ec256", "ec384", "ec521", "ed25519"] {
        jwk_text.insert(name.to_owned(), Json::String(jwk(name).to_string()));
        jwk_text.insert(format!("{name}Pub"), Json::String(public(name).to_string()));
    }
    let mut bad_jwks = Map::new();
    let mut edit = |name: &str, base: &str, f: &dyn Fn(&mut Map<String, Json>)| {
        let mut key = jwk(base);
        if let Some(map) = key.as_object_mut() {
            f(map);
        }
        bad_jwks.insert(name.to_owned(), Json::String(key.to_string()));
    };
    edit("noKty", "rsa", &|m| {
        m.remove("kty");
    });
    edit("badKty", "rsa", &|m| {
        m.insert("kty".into(), json!("DSA"));
    });
    edit("noN", "rsa", &|m| {
        m.remove("n");
    });
    edit("badN", "rsa", &|m| {
        m.insert("n".into(), json!("!!not base64!!"));
    });
    edit("numberE", "rsa", &|m| {
        m.insert("e".into(), json!(65537));
    });
    edit("badCrv", "ec256", &|m| {
        m.insert("crv".into(), json!("P-999"));
    });
    edit("offCurve", "ec256", &|m| {
        m.insert("y".into(), m.get("x").cloned().unwrap_or(Json::Null));
        m.remove("d");
    });
    edit("shortOkp", "ed25519", &|m| {
        m.insert("x".into(), json!("AAAA"));
        m.remove("d");
    });
    edit("shortOkpPrivate", "ed25519", &|m| {
        m.insert("x".into(), json!("AAAA"));
    });
    edit("mismatchedEc", "ec256", &|m| {
        m.insert("d".into(), json!("AQ"));
    });
    edit("rsaNoPrimes", "rsa", &|m| {
        for k in ["p", "q", "dp", "dq", "qi"] {
            m.remove(k);
        }
    });
    edit("rsaBadDp", "rsa", &|m| {
        m.insert("dp".into(), json!("AQ"));
    });
    edit("rsaNoCrt", "rsa", &|m| {
        for k in ["dp", "dq", "qi"] {
            m.remove(k);
        }
    });
    edit("rsaPaddedE", "rsa", &|m| {
        m.insert("e".into(), json!("AAEAAQ"));
    });
    edit("lowerKty", "rsa", &|m| {
        m.insert("kty".into(), json!("rsa"));
    });
    edit("x25519", "ed25519", &|m| {
        m.insert("crv".into(), json!("X25519"));
        m.remove("d");
    });
    edit("oct", "rsa", &|m| {
        m.clear();
        m.insert("kty".into(), json!("oct"));
        m.insert("k".into(), json!("c2VjcmV0LWtleS1mb3ItdGVzdHM"));
    });
    bad_jwks.insert("notJson".into(), json!("{not json"));
    bad_jwks.insert("array".into(), json!("[]"));
    bad_jwks.insert(
        "set".into(),
        json!(format!("{{\"keys\":[{}]}}", jwk("rsa"))),
    );
    bad_jwks.insert("empty".into(), json!(""));
    // RSA public keys beyond the rsa crate's default 4096-bit cap (any odd modulus will do
    // for encoding): 6000 and 70000 bits.
    for (name, bytes) in [("rsa6000", 750), ("rsa70000", 8750)] {
        let n = data_encoding_url(&vec![0xff; bytes]);
        bad_jwks.insert(
            name.into(),
            json!(format!("{{\"kty\":\"RSA\",\"n\":\"{n}\",\"e\":\"AQAB\"}}")),
        );
    }
    let mut data = json!({
        "leafP521": fixture!("leaf-p521.pem"), "p521Key": fixture!("leaf-p521.key"),
        "dsaKey": fixture!("dsa.key"),
        "weirdSans": fixture!("weird-sans.pem"),
        "ecNoCurve": ec_without_curve(fixture!("leaf-ec.key")),
        "encKey": include_str!("../fixtures/enc-key.pem"),
        "trailingDer": with_trailing_byte(fixture!("leaf-ec.pem")),
    });
    let more = json!({
        "root": root, "inter": inter, "disjunct": disjunct, "leafRsa": leaf_rsa,
        "leafEc": leaf_ec, "leafEd": leaf_ed, "sans": fixture!("sans.pem"),
        "noIds": fixture!("no-ids.pem"), "noSans": fixture!("no-sans.pem"),
        "rsaKey": rsa_key, "rsaP8": fixture!("leaf-rsa-pkcs8.key"), "ecKey": fixture!("leaf-ec.key"),
        "edKey": fixture!("leaf-ed25519.key"), "rootKey": fixture!("root.key"),
        "otherKey": fixture!("other-rsa.key"),
        "chain": chain,
        "reversed": format!("{root}{inter}{leaf_rsa}"),
        "shuffled": format!("{inter}{leaf_rsa}{root}"),
        "leafInter": format!("{leaf_rsa}{inter}"),
        "interRoot": format!("{inter}{root}"),
        "withDisjunct": format!("{chain}{disjunct}"),
        "twoLeaves": format!("{leaf_rsa}{leaf_ec}{inter}{root}"),
        "junkChain": format!("junk before\n{chain}"),
        "crlfChain": chain.replace('\n', "\r\n"),
        "trailingBlank": format!("{chain}\n"),
        "trailingJunk": format!("{chain}junk after"),
        "ecChain": format!("{leaf_ec}{inter}{root}"),
        "noSkiChain": format!("{}{inter}{root}", fixture!("no-sans.pem")),
        "badCert": key_in_cert_block,
        "truncCert": truncated_cert(leaf_rsa),
        "garbage": "no PEM here", "empty": "",
        "pfx": Json::Object(fixtures_json(fixture!("pkcs12.json"))),
        "opensslPfx": fixture!("openssl-rsa-pass.p12.b64").trim(),
        "noMacPfx": fixture!("openssl-ec-nomac-pass.p12.b64").trim(),
        "noMacEmptyPfx": fixture!("openssl-ec-nomac.p12.b64").trim(),
        "oaep": Json::Object(fixtures_json(fixture!("oaep.json"))),
        "jwk": Json::Object(jwk_text),
        "badJwk": Json::Object(bad_jwks),
    });
    // Two json! calls: one would exceed the macro recursion limit.
    if let (Some(all), Json::Object(more)) = (data.as_object_mut(), more) {
        all.extend(more);
    }
    data
}

const CERT_FIELDS: [&str; 16] = [
    "root",
    "inter",
    "disjunct",
    "leafRsa",
    "leafEc",
    "leafEd",
    "sans",
    "noIds",
    "noSans",
    "chain",
    "junkChain",
    "crlfChain",
    "badCert",
    "truncCert",
    "garbage",
    "empty",
];

const CHAIN_FIELDS: [&str; 16] = [
    "chain",
    "reversed",
    "shuffled",
    "leafInter",
    "interRoot",
    "withDisjunct",
    "twoLeaves",
    "junkChain",
    "crlfChain",
    "ecChain",
    "noSkiChain",
    "root",
    "noIds",
    "leafRsa",
    "badCert",
    "empty",
];

/// The name prefixes of the cases below.
pub const GROUPS: [&str; 7] = [
    "certSANs:",
    "filterCertChain:",
    "pkcs12:",
    "pemToPkcs12:",
    "jwk:",
    "rsaDecrypt:",
    "generators:",
];

/// Every crypto case.
pub fn cases(cases: &mut Vec<Case>) {
    let data = data();
    let mut push = |group: &str, template: String| {
        cases.push(Case {
            name: format!("{group}: {template}"),
            template,
            data: data.clone(),
        });
    };
    for field in CERT_FIELDS {
        push("certSANs", format!("{{{{ certSANs .{field} }}}}"));
    }
    push("certSANs", "{{ .sans | certSANs | join \",\" }}".into());
    push(
        "certSANs",
        "{{ range certSANs .sans }}[{{ . }}]{{ end }}".into(),
    );
    push("certSANs", "{{ certSANs .noSans | len }}".into());
    for field in CHAIN_FIELDS {
        for kind in ["leaf", "intermediate", "root", "other"] {
            push(
                "filterCertChain",
                format!("{{{{ filterCertChain \"{kind}\" .{field} }}}}"),
            );
        }
    }
    pkcs12_reading(&mut push);
    pkcs12_writing(&mut push);
    jwk(&mut push);
    rsa_decrypt(&mut push);
    generators(&mut push);
}

/// Sprig's generators: what is deterministic about their output (keys re-encoded from a
/// given key, SANs, chain shape, JSON of the pair, read-back through pkcs12), and failures.
fn generators(push: &mut impl FnMut(&str, String)) {
    for t in [
        "{{ genPrivateKey \"nope\" }}",
        "{{ $k := genPrivateKey \"dsa\" }}{{ substr 0 31 $k }} {{ eq (buildCustomCert (b64enc .leafRsa) (b64enc $k)).Key $k }}",
        "{{ (buildCustomCert (b64enc .leafRsa) (b64enc .dsaKey)).Key }}",
        "{{ buildCustomCert (b64enc .leafRsa) (b64enc (.dsaKey | replace \"DSA\" \"RSA\")) }}",
        "{{ genCAWithKey \"x\" 1 .dsaKey }}",
        "{{ genCAWithKey \"x\" 1 .ecNoCurve }}",
        "{{ pemToPkcs12 .leafEc .encKey }}",
        "{{ pemToPkcs12Pass .leafEc .ecKey \"pässwörd ✓\" | b64dec | pkcs12keyPass \"pässwörd ✓\" }}",
        "{{ pemToPkcs12Pass .leafEc .ecKey \"😀\" | b64dec | pkcs12keyPass \"😀\" }}",
        "{{ pemTruststoreToPKCS12Pass .root \"😀\" | len | lt 10 }}",
        "{{ pemToPkcs12Pass .leafEc .ecKey \"pässwörd ✓\" | b64dec | pkcs12keyPass \"passwörd ✓\" }}",
        "{{ certSANs .trailingDer }}",
        "{{ certSANs .weirdSans | join \"\\n\" }}",
        "{{ filterCertChain \"leaf\" .trailingDer }}",
        "{{ pemToPkcs12 .trailingDer .ecKey }}",
        "{{ pemToPkcs12 .leafEc .ecNoCurve | b64dec | pkcs12key }}",
        "{{ buildCustomCert (b64enc .leafEc) (b64enc .ecNoCurve) }}",
        "{{ genSelfSignedCertWithKey \"x\" nil nil 1 .dsaKey }}",
        "{{ genPrivateKey \"ecdsa\" | len }}",
        "{{ genPrivateKey \"ed25519\" | len }}",
        "{{ genPrivateKey \"ecdsa\" | substr 0 30 }}",
        "{{ genPrivateKey \"ed25519\" | substr 0 27 }}",
        "{{ genPrivateKey \"rsa\" | substr 0 31 }}",
        "{{ $k := genPrivateKey \"ecdsa\" }}{{ eq (genCAWithKey \"ca\" 1 $k).Key $k }}",
        "{{ $k := genPrivateKey \"ed25519\" }}{{ eq (genCAWithKey \"ca\" 1 $k).Key $k }}",
        "{{ (genCAWithKey \"ca\" 30 .ecKey).Key }}",
        "{{ (genCAWithKey \"ca\" 30 .rsaP8).Key }}",
        "{{ (genCAWithKey \"ca\" 30 .edKey).Key }}",
        "{{ (genCAWithKey \"ca\" 30 .p521Key).Key }}",
        "{{ (genSelfSignedCertWithKey \"x\" nil (list \"p.test\") 2 .p521Key).Cert | certSANs }}",
        "{{ certSANs .leafP521 }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec) .p521Key }}",
        "{{ (genSelfSignedCertWithKey \"x\" nil nil 30 .rsaKey).Key }}",
        "{{ (genCAWithKey \"ca\" 30 .ecKey).Cert | certSANs }}",
        "{{ $ca := genCAWithKey \"ca\" 30 .ecKey }}{{ filterCertChain \"root\" $ca.Cert | eq $ca.Cert }}",
        "{{ (genSelfSignedCert \"x\" (list \"10.0.0.1\" \"::1\" \"::ffff:192.0.2.1\") (list \"a.test\" \"*.b.test\") 30).Cert | certSANs }}",
        "{{ (genSelfSignedCertWithKey \"x\" nil (list \"a.test\") 1 .edKey).Cert | certSANs }}",
        "{{ $ca := genCA \"ca\" 30 }}{{ (genSignedCert \"leaf\" (list \"192.0.2.9\") (list \"l.test\") 30 $ca).Cert | certSANs }}",
        "{{ $ca := genCAWithKey \"ca\" 30 .ecKey }}{{ $c := genSignedCertWithKey \"leaf\" nil nil 30 $ca .edKey }}{{ $c.Key }}{{ filterCertChain \"leaf\" (print $c.Cert $ca.Cert) }}",
        "{{ $c := genSelfSignedCertWithKey \"x\" nil nil 30 .ecKey }}{{ pemToPkcs12 $c.Cert $c.Key | b64dec | pkcs12cert | eq $c.Cert }}",
        "{{ $c := genSelfSignedCertWithKey \"x\" nil nil 30 .rsaP8 }}{{ pemToPkcs12 $c.Cert $c.Key | b64dec | pkcs12key }}",
        "{{ toJson (buildCustomCert (b64enc .leafRsa) (b64enc .rsaKey)) }}",
        "{{ (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)).Key }}",
        "{{ (buildCustomCert (b64enc .leafEd) (b64enc .edKey)).Cert }}",
        "{{ $ca := buildCustomCert (b64enc .root) (b64enc .rootKey) }}{{ (genSignedCertWithKey \"leaf\" nil (list \"x.test\") 7 $ca .rsaKey).Cert | certSANs }}",
        "{{ buildCustomCert \"!!\" (b64enc .rsaKey) }}",
        "{{ buildCustomCert (b64enc .leafRsa) \"!!\" }}",
        "{{ buildCustomCert (b64enc .garbage) (b64enc .rsaKey) }}",
        "{{ buildCustomCert (b64enc .badCert) (b64enc .rsaKey) }}",
        "{{ buildCustomCert (b64enc .leafRsa) (b64enc .leafRsa) }}",
        "{{ buildCustomCert (b64enc .leafRsa) (b64enc .garbage) }}",
        "{{ genCAWithKey \"x\" 30 .garbage }}",
        "{{ genCAWithKey \"x\" 30 .leafRsa }}",
        "{{ genCAWithKey \"x\" 30 (.rsaKey | replace \"RSA PRIVATE\" \"EC PRIVATE\") }}",
        "{{ genSelfSignedCertWithKey \"x\" nil nil 30 .empty }}",
        "{{ genSelfSignedCert \"x\" (list \"not-an-ip\") nil 30 }}",
        "{{ genSelfSignedCert \"x\" (list 1) nil 30 }}",
        "{{ genSelfSignedCert \"x\" nil (list 1) 30 }}",
        "{{ genSelfSignedCert \"x\" nil (list \"ünï.test\") 30 }}",
        "{{ genSelfSignedCert \"x\" \"10.0.0.1\" nil 30 }}",
        "{{ genSelfSignedCert \"x\" nil nil \"30\" }}",
        "{{ genSignedCert \"x\" nil nil 30 .rsaKey }}",
        "{{ genSignedCert \"x\" nil nil 30 (dict \"Cert\" .leafRsa \"Key\" .rsaKey) }}",
        "{{ buildCustomCert (b64enc .leafEc) (b64enc .ecKey) }}",
        "{{ printf \"%+v\" (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}",
        "{{ printf \"%#v\" (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}",
        "{{ printf \"%s|%q\" (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}",
        "{{ buildCustomCert (b64enc .leafEc) (b64enc .ecKey) | toString }}",
        "{{ print (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) 1 }}",
        "{{ buildCustomCert (b64enc .leafEc) (b64enc .ecKey) | toYaml }}",
        "{{ buildCustomCert (b64enc .leafEc) (b64enc .ecKey) | toPrettyJson }}",
        "{{ list (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) | toJson }}",
        "{{ typeOf (genCAWithKey \"x\" 1 .ecKey) }} {{ kindOf (genCA \"x\" 1) }}",
        "{{ $c := buildCustomCert (b64enc .leafEc) (b64enc .ecKey) }}{{ eq $c $c }} {{ deepEqual $c $c }} {{ empty $c }}",
        "{{ $c := buildCustomCert (b64enc .leafEc) (b64enc .ecKey) }}{{ if $c }}true{{ end }} {{ $c | default 1 | typeOf }}",
        "{{ len (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}",
        "{{ (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)).Nope }}",
        "{{ (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)).Cert.X }}",
        "{{ index (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) \"Cert\" }}",
        "{{ range (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}x{{ end }}",
        "{{ keys (buildCustomCert (b64enc .leafEc) (b64enc .ecKey)) }}",
        "{{ with $c := buildCustomCert (b64enc .leafEc) (b64enc .ecKey) }}{{ $c.Key }}{{ end }}",
        "{{ $ca := buildCustomCert (b64enc .root) (b64enc .rsaKey) }}{{ genSignedCert \"x\" nil nil 30 $ca }}",
        "{{ $ca := buildCustomCert (b64enc .root) (b64enc .rootKey) }}{{ genSignedCertWithKey \"x\" nil nil 30 $ca .garbage }}",
    ] {
        push("generators", t.to_owned());
    }
}

fn pkcs12_reading(push: &mut impl FnMut(&str, String)) {
    let files = [
        ("legacy-des-ec", ""),
        ("legacy-rc2-rsa-chain-pass", "legacy"),
        ("modern-ec-chain-pass", "s3cret"),
        ("modern-ed25519", ""),
        ("modern-p521-chain", ""),
        ("modern-rsa-chain", ""),
        ("modern-rsa-disjunct", ""),
        ("modern-rsa-reversed", ""),
        ("truststore", ""),
    ];
    for (file, password) in files {
        let pfx = format!("(index .pfx \"{file}\" | b64dec)");
        if password.is_empty() {
            push("pkcs12", format!("{{{{ {pfx} | pkcs12cert }}}}"));
            push("pkcs12", format!("{{{{ {pfx} | pkcs12key }}}}"));
            push(
                "pkcs12",
                format!("{{{{ {pfx} | pkcs12keyPass \"wrong\" }}}}"),
            );
        } else {
            push(
                "pkcs12",
                format!("{{{{ {pfx} | pkcs12certPass \"{password}\" }}}}"),
            );
            push(
                "pkcs12",
                format!("{{{{ {pfx} | pkcs12keyPass \"{password}\" }}}}"),
            );
            push("pkcs12", format!("{{{{ {pfx} | pkcs12cert }}}}"));
            push(
                "pkcs12",
                format!("{{{{ {pfx} | pkcs12certPass \"wrong\" }}}}"),
            );
        }
    }
    for t in [
        "{{ .opensslPfx | b64dec | pkcs12certPass \"ossl\" }}",
        "{{ .opensslPfx | b64dec | pkcs12keyPass \"ossl\" }}",
        "{{ .opensslPfx | b64dec | pkcs12key }}",
        "{{ .opensslPfx | pkcs12certPass \"ossl\" }}",
        "{{ .noMacPfx | b64dec | pkcs12certPass \"nomac\" }}",
        "{{ .noMacPfx | b64dec | pkcs12keyPass \"nomac\" }}",
        "{{ .noMacEmptyPfx | b64dec | pkcs12cert }}",
        "{{ .noMacEmptyPfx | b64dec | pkcs12key }}",
        "{{ .garbage | pkcs12cert }}",
        "{{ .empty | pkcs12key }}",
        "{{ .chain | pkcs12cert }}",
        "{{ pkcs12key (index .pfx \"modern-rsa-chain\" | b64dec | trunc 300) }}",
    ] {
        push("pkcs12", t.to_owned());
    }
}

fn pkcs12_writing(push: &mut impl FnMut(&str, String)) {
    for (cert, key) in [
        ("leafRsa", "rsaKey"),
        ("leafRsa", "rsaP8"),
        ("leafEc", "ecKey"),
        ("leafEd", "edKey"),
        ("leafP521", "p521Key"),
        ("chain", "rsaKey"),
        ("leafRsa", "otherKey"),
    ] {
        let (c, k) = (format!(".{cert}"), format!(".{key}"));
        push(
            "pemToPkcs12",
            format!("{{{{ pemToPkcs12 {c} {k} | b64dec | pkcs12cert }}}}"),
        );
        push(
            "pemToPkcs12",
            format!("{{{{ pemToPkcs12 {c} {k} | b64dec | pkcs12key }}}}"),
        );
        push(
            "pemToPkcs12",
            format!("{{{{ pemToPkcs12Pass {c} {k} \"pw\" | b64dec | pkcs12keyPass \"pw\" }}}}"),
        );
        push(
            "pemToPkcs12",
            format!(
                "{{{{ fullPemToPkcs12Pass {c} {k} \"pw\" | b64dec | pkcs12certPass \"pw\" }}}}"
            ),
        );
    }
    for t in [
        "{{ fullPemToPkcs12 .chain .rsaKey | b64dec | pkcs12cert }}",
        "{{ fullPemToPkcs12 .reversed .rootKey | b64dec | pkcs12cert }}",
        "{{ fullPemToPkcs12 .ecChain .ecKey | b64dec | pkcs12key }}",
        "{{ fullPemToPkcs12 .trailingBlank .rsaKey | b64dec | pkcs12cert }}",
        "{{ fullPemToPkcs12 .trailingJunk .rsaKey }}",
        "{{ fullPemToPkcs12 .junkChain .rsaKey | b64dec | pkcs12cert }}",
        "{{ pemToPkcs12Pass .leafRsa .rsaKey \"pw\" | b64dec | pkcs12key }}",
        "{{ pemToPkcs12 .badCert .rsaKey }}",
        "{{ pemToPkcs12 .truncCert .rsaKey }}",
        "{{ pemToPkcs12 .garbage .rsaKey }}",
        "{{ pemToPkcs12 .leafRsa .garbage }}",
        "{{ pemToPkcs12 .leafRsa .leafEc }}",
        "{{ pemToPkcs12 .empty .empty }}",
        "{{ fullPemToPkcs12 .leafRsa .empty }}",
        "{{ fullPemToPkcs12Pass .badCert .rsaKey \"pw\" }}",
        "{{ pemTruststoreToPKCS12 .chain | b64dec | pkcs12cert }}",
        "{{ if pemTruststoreToPKCS12 .chain }}written{{ end }}",
        "{{ if pemTruststoreToPKCS12Pass .root \"pw\" }}written{{ end }}",
        "{{ pemTruststoreToPKCS12 .trailingJunk }}",
        "{{ pemTruststoreToPKCS12 .badCert }}",
        "{{ pemTruststoreToPKCS12 .garbage }}",
        "{{ if pemTruststoreToPKCS12 .empty }}written{{ end }}",
    ] {
        push("pemToPkcs12", t.to_owned());
    }
}

fn jwk(push: &mut impl FnMut(&str, String)) {
    for name in ["rsa", "ec256", "ec384", "ec521", "ed25519"] {
        for variant in [name.to_owned(), format!("{name}Pub")] {
            for function in ["jwkPublicKeyPem", "jwkPrivateKeyPem"] {
                push("jwk", format!("{{{{ {function} .jwk.{variant} }}}}"));
            }
        }
    }
    for bad in [
        "noKty",
        "badKty",
        "noN",
        "badN",
        "numberE",
        "badCrv",
        "offCurve",
        "shortOkp",
        "shortOkpPrivate",
        "mismatchedEc",
        "x25519",
        "rsa6000",
        "rsa70000",
        "rsaNoPrimes",
        "rsaBadDp",
        "rsaNoCrt",
        "rsaPaddedE",
        "lowerKty",
        "oct",
        "notJson",
        "array",
        "set",
        "empty",
    ] {
        push("jwk", format!("{{{{ jwkPublicKeyPem .badJwk.{bad} }}}}"));
        push("jwk", format!("{{{{ jwkPrivateKeyPem .badJwk.{bad} }}}}"));
    }
}

fn rsa_decrypt(push: &mut impl FnMut(&str, String)) {
    for (hash, ct) in [
        ("SHA1", "SHA1"),
        ("SHA256", "SHA256"),
        ("SHA512", "SHA512"),
        ("None", "SHA256"),
        ("MD5", "SHA256"),
        ("SHA256", "empty"),
        ("SHA1", "SHA256"),
        ("SHA256", "labelled"),
    ] {
        for key in ["rsaKey", "rsaP8"] {
            push(
                "rsaDecrypt",
                format!(
                    "{{{{ rsaDecrypt \"RSA-OAEP\" \"{hash}\" (.oaep.{ct} | b64dec) .{key} }}}}"
                ),
            );
        }
    }
    for t in [
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec) .otherKey }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec) .ecKey }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec) .garbage }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec) .leafRsa }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" .oaep.SHA256 .rsaKey }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" (.oaep.SHA256 | b64dec | trunc 100) .rsaKey }}",
        "{{ rsaDecrypt \"RSA-OAEP\" \"SHA256\" \"\" .rsaKey }}",
        "{{ rsaDecrypt \"None\" \"SHA256\" \"plain text\" .garbage }}",
        "{{ rsaDecrypt \"RSA-PKCS1\" \"SHA256\" \"x\" .rsaKey }}",
        "{{ rsaDecrypt \"rsa-oaep\" \"SHA256\" (.oaep.SHA256 | b64dec) .rsaKey }}",
        "{{ .rsaKey | rsaDecrypt \"RSA-OAEP\" \"SHA512\" (.oaep.SHA512 | b64dec) }}",
    ] {
        push("rsaDecrypt", t.to_owned());
    }
}
