//! [`KeyVaultDouble`]: a keyward-written stand-in for the Azure Key Vault data plane and the
//! Entra ID (AAD) token endpoint. **It is a test double, not a real peer.**
//!
//! Key Vault behaviour is tested against lowkey-vault ([`crate::LowkeyVault`]), the real
//! peer. DESIGN.md allows a double only where no real peer exists, and this one stays for
//! exactly what lowkey-vault cannot play:
//!
//! - Entra ID: lowkey-vault accepts any bearer token and has no OAuth2 client-credentials
//!   endpoint, so client secret, client certificate (signed assertion) and workload identity
//!   (federated assertion) token requests, and Entra ID's refusals, need this token endpoint;
//! - throttling: 429 with `Retry-After` on demand;
//! - a disabled secret's 403 (lowkey-vault answers 404).
//!
//! Tests that use it say so in their names (`…_keyward_double`) and comments, and the
//! benchmark runs against both so the difference is visible.
//!
//! What it implements, shaped after Key Vault's documented REST API (7.x):
//!
//! - HTTPS on 127.0.0.1 with a certificate from a throw-away CA ([`KeyVaultDouble::ca_pem`]);
//! - `GET /secrets/{name}[/{version}]`, `PUT /secrets/{name}`, `DELETE /secrets/{name}`,
//!   `GET /secrets` and `GET /secrets/{name}/versions` with `nextLink` paging, tags,
//!   `contentType` and the `enabled` attribute (a disabled secret's value is refused with 403,
//!   as Key Vault does); `GET /certificates/{name}` (`cer`) and `GET /keys/{name}` (`key`);
//! - an unauthenticated request gets 401 with
//!   `WWW-Authenticate: Bearer authorization="…", resource="https://vault.azure.net"`;
//! - `POST /{tenant}/oauth2/v2.0/token` (client credentials with a client secret or a client
//!   assertion). An assertion whose header names a certificate (`x5t`) must be an RS256 JWT
//!   signed by a certificate registered with [`KeyVaultDouble::register_client_certificate`],
//!   for this endpoint (`aud`), this client (`iss`, `sub`), unexpired and never replayed
//!   (`jti`), as Entra ID checks it; any other assertion stands for a federated (workload
//!   identity) token and is accepted. An IMDS-style `GET /metadata/identity/oauth2/token`, issuing opaque tokens;
//! - injected throttling: the next N vault calls answer 429 with `Retry-After`.
//!
//! Every call is counted by kind ([`Counts`]), so tests and the benchmark can show how many
//! token requests and value reads a client made. The HTTP/1.1 server is deliberately minimal
//! (Content-Length bodies, keep-alive) and only meant for the Azure SDK's and reqwest's
//! requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::HarnessError;
use crate::pki::ServingPki;

const PEER: &str = "keyvault-double";

/// The tenant the double's token endpoint serves.
pub const DOUBLE_TENANT: &str = "00000000-0000-0000-0000-00000000d0b1";

/// Calls the double answered, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Token requests (client credentials and IMDS), successful or not.
    pub token_requests: u64,
    /// Vault requests answered with 401 and a challenge.
    pub challenges: u64,
    /// Authorised `GET /secrets/{name}[/{version}]`.
    pub value_reads: u64,
    /// Authorised list calls (`GET /secrets`, `GET /secrets/{name}/versions`), one per page.
    pub list_pages: u64,
    /// Authorised `PUT` and `DELETE`.
    pub writes: u64,
    /// Calls answered with an injected 429.
    pub throttled: u64,
}

#[derive(Clone, Debug)]
struct Version {
    id: String,
    value: String,
    tags: BTreeMap<String, String>,
    enabled: bool,
    content_type: Option<String>,
    created: u64,
}

#[derive(Debug, Default)]
struct State {
    secrets: BTreeMap<String, Vec<Version>>,
    certificates: BTreeMap<String, Vec<u8>>,
    keys: BTreeMap<String, Value>,
    tokens: Vec<String>,
    /// Registered client certificates by `x5t` (base64url SHA-1 thumbprint), as DER.
    client_certificates: BTreeMap<String, Vec<u8>>,
    /// Client assertion ids already used.
    seen_assertions: std::collections::BTreeSet<String>,
    /// The claims of federated (workload identity) assertions received, in order.
    federated_claims: Vec<Value>,
    counts: Counts,
    throttle: u32,
    retry_after_secs: u64,
    page_size: usize,
    next_version: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    base_url: String,
    client_id: String,
    client_secret: String,
}

/// A running Key Vault double (see the module documentation: a stand-in, not a real peer).
#[derive(Debug)]
pub struct KeyVaultDouble {
    shared: Arc<Shared>,
    ca_pem: String,
    task: JoinHandle<()>,
}

impl Drop for KeyVaultDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeyVaultDouble {
    /// Starts the double on a free port of 127.0.0.1. Its token endpoint accepts
    /// [`KeyVaultDouble::client_id`] with [`KeyVaultDouble::client_secret`], or any client
    /// assertion.
    pub async fn start() -> Result<Self, HarnessError> {
        let pki = ServingPki::generate(PEER, "keyvault-double")?;
        let acceptor = tls_acceptor(&pki)?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| HarnessError::prepare(PEER, e))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError::prepare(PEER, e))?
            .port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                page_size: 25,
                next_version: 1,
                ..State::default()
            }),
            base_url: format!("https://localhost:{port}"),
            client_id: "keyward-double-client".to_owned(),
            client_secret: "keyward-double-client-secret".to_owned(),
        });
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&shared)));
        Ok(Self {
            shared,
            ca_pem: pki.ca_pem,
            task,
        })
    }

    /// Registers a client certificate (PEM; the first CERTIFICATE block) for the service
    /// principal [`KeyVaultDouble::client_id`]: assertions it signs are accepted.
    pub fn register_client_certificate(&self, pem: &str) -> Result<(), HarnessError> {
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .ok_or_else(|| HarnessError::prepare(PEER, "no CERTIFICATE block to register"))?
            .map_err(|e| HarnessError::prepare(PEER, format!("client certificate: {e}")))?;
        let thumbprint =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
        lock(&self.shared)
            .client_certificates
            .insert(URL_SAFE_NO_PAD.encode(thumbprint.as_ref()), der.to_vec());
        Ok(())
    }

    /// The claims (`aud`, `sub`, …) of the federated tokens presented as client assertions.
    pub fn federated_claims(&self) -> Vec<Value> {
        lock(&self.shared).federated_claims.clone()
    }

    /// The vault URL (`https://localhost:PORT`).
    pub fn vault_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The authority host for token requests (the same server).
    pub fn authority_host(&self) -> &str {
        &self.shared.base_url
    }

    /// The IMDS-style managed identity endpoint.
    pub fn imds_endpoint(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.shared.base_url)
    }

    /// The PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The service principal's client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The service principal's client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// Stores a new version of `name` directly (no call is counted); returns its version id.
    pub fn put(&self, name: &str, value: &str, tags: &[(&str, &str)], enabled: bool) -> String {
        let tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut state = lock(&self.shared);
        put_version(&mut state, name, value.to_owned(), tags, enabled, None)
    }

    /// Stores a certificate (its DER) directly; `GET /certificates/{name}` answers it as `cer`.
    pub fn put_certificate(&self, name: &str, der: &[u8]) {
        lock(&self.shared)
            .certificates
            .insert(name.to_owned(), der.to_vec());
    }

    /// Stores a key (its public JWK) directly; `GET /keys/{name}` answers it as `key`.
    pub fn put_key(&self, name: &str, jwk: Value) {
        lock(&self.shared).keys.insert(name.to_owned(), jwk);
    }

    /// Whether `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        lock(&self.shared).secrets.contains_key(name)
    }

    /// The current value of `name`, if any.
    pub fn current_value(&self, name: &str) -> Option<String> {
        lock(&self.shared)
            .secrets
            .get(name)
            .and_then(|versions| versions.last())
            .map(|v| v.value.clone())
    }

    /// The current tags of `name`, if any.
    pub fn current_tags(&self, name: &str) -> Option<BTreeMap<String, String>> {
        lock(&self.shared)
            .secrets
            .get(name)
            .and_then(|versions| versions.last())
            .map(|v| v.tags.clone())
    }

    /// Answers the next `calls` vault calls with 429 and `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, calls: u32, retry_after_secs: u64) {
        let mut state = lock(&self.shared);
        state.throttle = calls;
        state.retry_after_secs = retry_after_secs;
    }

    /// Items per list page (default 25, as Key Vault's default `maxresults`).
    pub fn set_page_size(&self, size: usize) {
        lock(&self.shared).page_size = size.max(1);
    }

    /// The calls answered so far.
    pub fn counts(&self) -> Counts {
        lock(&self.shared).counts
    }

    /// Forgets the call counts.
    pub fn reset_counts(&self) {
        lock(&self.shared).counts = Counts::default();
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    // The state is plain data: a panic elsewhere cannot leave it half-written in a way
    // that matters to a test double, so a poisoned lock is recovered.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn put_version(
    state: &mut State,
    name: &str,
    value: String,
    tags: BTreeMap<String, String>,
    enabled: bool,
    content_type: Option<String>,
) -> String {
    let id = format!("{:032x}", state.next_version);
    state.next_version += 1;
    let created = 1_700_000_000 + state.next_version;
    state
        .secrets
        .entry(name.to_owned())
        .or_default()
        .push(Version {
            id: id.clone(),
            value,
            tags,
            enabled,
            content_type,
            created,
        });
    id
}

fn tls_acceptor(pki: &ServingPki) -> Result<tokio_rustls::TlsAcceptor, HarnessError> {
    let fail = |e: String| HarnessError::prepare(PEER, format!("TLS: {e}"));
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).map_err(|e| fail(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(stream).await {
                let _ = connection(tls, &shared).await;
            }
        });
    }
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// One response.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Response {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!({"error": {"code": code, "message": message}}))
    }
}

async fn connection<S>(stream: S, shared: &Shared) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader).await? {
        let response = route(shared, &request);
        write_response(reader.get_mut(), response).await?;
    }
    Ok(())
}

async fn read_request<R>(reader: &mut R) -> std::io::Result<Option<Request>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    let (path, query) = split_target(&target);
    Ok(Some(Request {
        method,
        path,
        query,
        headers,
        body,
    }))
}

fn split_target(target: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (path.to_owned(), parse_form(query))
}

fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex =
                    std::str::from_utf8(bytes.get(i + 1..i + 3).unwrap_or_default()).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write_response<W>(writer: &mut W, response: Response) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let body = if response.body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&response.body).unwrap_or_default()
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
        response.status,
        reason(response.status),
        body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // One write per response: a separate body write would meet Nagle and delayed ACKs.
    let mut message = head.into_bytes();
    message.extend_from_slice(&body);
    writer.write_all(&message).await?;
    writer.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        _ => "Status",
    }
}

fn route(shared: &Shared, request: &Request) -> Response {
    if request.path.ends_with("/oauth2/v2.0/token") && request.method == "POST" {
        return token(shared, request);
    }
    if request.path == "/metadata/identity/oauth2/token" {
        return imds_token(shared, request);
    }
    let mut state = lock(shared);
    if !authorised(&state, request) {
        state.counts.challenges += 1;
        let mut response = Response::error(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        response.headers.push((
            "www-authenticate".to_owned(),
            format!(
                "Bearer authorization=\"{}/{DOUBLE_TENANT}\", resource=\"https://vault.azure.net\"",
                shared.base_url
            ),
        ));
        return response;
    }
    if state.throttle > 0 {
        state.throttle -= 1;
        state.counts.throttled += 1;
        let mut response =
            Response::error(429, "Throttled", "Rate limit is exceeded. Try again later.");
        response
            .headers
            .push(("retry-after".to_owned(), state.retry_after_secs.to_string()));
        return response;
    }
    vault(shared, &mut state, request)
}

fn authorised(state: &State, request: &Request) -> bool {
    request
        .headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| state.tokens.iter().any(|t| t == token))
}

fn issue_token(state: &mut State) -> String {
    let token = format!("keyward-double-token-{}", state.tokens.len() + 1);
    state.tokens.push(token.clone());
    token
}

fn token(shared: &Shared, request: &Request) -> Response {
    let form = parse_form(&String::from_utf8_lossy(&request.body));
    let mut state = lock(shared);
    state.counts.token_requests += 1;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let by_secret =
        field("client_id") == shared.client_id && field("client_secret") == shared.client_secret;
    let by_assertion = field("client_id") == shared.client_id
        && field("client_assertion_type")
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        && !field("client_assertion").is_empty();
    if by_assertion
        && let Err(reason) = check_assertion(
            &mut state,
            field("client_assertion"),
            &format!("{}{}", shared.base_url, request.path),
            &shared.client_id,
        )
    {
        return Response::json(
            401,
            json!({"error": "invalid_client", "error_description": format!("AADSTS700027: {reason}")}),
        );
    }
    if field("grant_type") != "client_credentials" || !(by_secret || by_assertion) {
        return Response::json(
            401,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    let token = issue_token(&mut state);
    Response::json(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

/// Entra ID's checks of a certificate-signed client assertion. Assertions without `x5t`
/// stand for federated tokens and pass.
fn check_assertion(
    state: &mut State,
    jwt: &str,
    audience: &str,
    client_id: &str,
) -> Result<(), String> {
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "a JWT part is not base64url".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "a JWT part is not JSON".to_owned())
    };
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(()); // opaque: a federated token
    };
    let Some(x5t) = decode(header)
        .ok()
        .and_then(|header| header["x5t"].as_str().map(str::to_owned))
    else {
        // No certificate named: a federated token. Entra ID would check it against the
        // federated credential's issuer; the double records its claims for tests to check.
        state
            .federated_claims
            .push(decode(claims).unwrap_or(Value::Null));
        return Ok(());
    };
    let header = decode(header)?;
    if header["alg"] != "RS256" {
        return Err("the assertion is not RS256".into());
    }
    let der = state
        .client_certificates
        .get(&x5t)
        .ok_or("no registered certificate has this thumbprint")?;
    let der = CertificateDer::from(der.as_slice());
    let certificate = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| format!("registered certificate: {e}"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    certificate
        .verify_signature(
            webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .map_err(|_| "the signature does not verify with the certificate".to_owned())?;
    let claims = decode(claims)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if claims["aud"] != audience {
        return Err("the audience is not this token endpoint".into());
    }
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err("iss and sub must be the client id".into());
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= now)
        || claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 60)
    {
        return Err("the assertion is expired or not yet valid".into());
    }
    let jti = claims["jti"].as_str().ok_or("the assertion has no jti")?;
    if !state.seen_assertions.insert(jti.to_owned()) {
        return Err("the assertion was replayed".into());
    }
    Ok(())
}

fn imds_token(shared: &Shared, request: &Request) -> Response {
    let mut state = lock(shared);
    state.counts.token_requests += 1;
    if request.headers.get("metadata").map(String::as_str) != Some("true") {
        return Response::error(400, "bad_request", "Required metadata header not specified");
    }
    let token = issue_token(&mut state);
    Response::json(
        200,
        json!({"token_type": "Bearer", "expires_in": "3599", "expires_on": (now_secs() + 3599).to_string(),
               "resource": request.query.get("resource"), "access_token": token}),
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn vault(shared: &Shared, state: &mut State, request: &Request) -> Response {
    let segments: Vec<&str> = request
        .path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["secrets"]) => list(shared, state, request, None),
        ("GET", ["secrets", name, "versions"]) => list(shared, state, request, Some(name)),
        ("GET", ["secrets", name]) => get(shared, state, name, None),
        ("GET", ["secrets", name, version]) => get(shared, state, name, Some(version)),
        ("GET", ["certificates", name, ..]) => certificate(shared, state, name),
        ("GET", ["keys", name, ..]) => key(shared, state, name),
        ("PUT", ["secrets", name]) => set(shared, state, name, &request.body),
        ("DELETE", ["secrets", name]) => delete(shared, state, name),
        _ => Response::error(
            405,
            "BadRequest",
            "operation not implemented by the keyward double",
        ),
    }
}

fn secret_json(shared: &Shared, name: &str, version: &Version, with_value: bool) -> Value {
    let mut body = json!({
        "id": format!("{}/secrets/{name}/{}", shared.base_url, version.id),
        "attributes": {"enabled": version.enabled, "created": version.created, "updated": version.created,
                       "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
        "tags": version.tags,
    });
    if let Some(content_type) = &version.content_type {
        body["contentType"] = json!(content_type);
    }
    if with_value {
        body["value"] = json!(version.value);
    }
    body
}

fn not_found(name: &str) -> Response {
    Response::error(
        404,
        "SecretNotFound",
        &format!("A secret with (name/id) {name} was not found in this key vault."),
    )
}

fn get(shared: &Shared, state: &mut State, name: &str, version: Option<&str>) -> Response {
    state.counts.value_reads += 1;
    let Some(versions) = state.secrets.get(name) else {
        return not_found(name);
    };
    let found = match version {
        Some(id) => versions.iter().find(|v| v.id == id),
        None => versions.last(),
    };
    match found {
        None => not_found(name),
        Some(v) if !v.enabled => Response::error(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
        ),
        Some(v) => Response::json(200, secret_json(shared, name, v, true)),
    }
}

fn certificate(shared: &Shared, state: &mut State, name: &str) -> Response {
    use base64::Engine as _;
    state.counts.value_reads += 1;
    match state.certificates.get(name) {
        Some(der) => Response::json(
            200,
            json!({"id": format!("{}/certificates/{name}/1", shared.base_url),
                   "cer": base64::engine::general_purpose::STANDARD.encode(der)}),
        ),
        None => Response::error(404, "CertificateNotFound", "certificate not found"),
    }
}

fn key(shared: &Shared, state: &mut State, name: &str) -> Response {
    state.counts.value_reads += 1;
    match state.keys.get(name) {
        Some(jwk) => {
            let mut jwk = jwk.clone();
            jwk["kid"] = json!(format!("{}/keys/{name}/1", shared.base_url));
            Response::json(200, json!({"key": jwk, "attributes": {"enabled": true}}))
        }
        None => Response::error(404, "KeyNotFound", "key not found"),
    }
}

fn set(shared: &Shared, state: &mut State, name: &str, body: &[u8]) -> Response {
    state.counts.writes += 1;
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Response::error(400, "BadParameter", "The request body is not JSON.");
    };
    let Some(value) = body.get("value").and_then(Value::as_str) else {
        return Response::error(400, "BadParameter", "Property value is required.");
    };
    let tags = body
        .get("tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let enabled = body
        .pointer("/attributes/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let content_type = body
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    put_version(state, name, value.to_owned(), tags, enabled, content_type);
    match state.secrets.get(name).and_then(|v| v.last()) {
        Some(version) => Response::json(200, secret_json(shared, name, version, true)),
        None => not_found(name),
    }
}

fn delete(shared: &Shared, state: &mut State, name: &str) -> Response {
    state.counts.writes += 1;
    match state.secrets.remove(name) {
        Some(versions) => match versions.last() {
            Some(last) => {
                let mut body = secret_json(shared, name, last, false);
                body["recoveryId"] = json!(format!("{}/deletedsecrets/{name}", shared.base_url));
                Response::json(200, body)
            }
            None => not_found(name),
        },
        None => not_found(name),
    }
}

fn list(shared: &Shared, state: &mut State, request: &Request, name: Option<&str>) -> Response {
    state.counts.list_pages += 1;
    let items: Vec<Value> = match name {
        None => state
            .secrets
            .iter()
            .filter_map(|(name, versions)| versions.last().map(|v| (name, v)))
            .map(|(name, v)| without_version(secret_json(shared, name, v, false), shared, name))
            .collect(),
        Some(name) => match state.secrets.get(name) {
            None => return not_found(name),
            Some(versions) => versions
                .iter()
                .map(|v| secret_json(shared, name, v, false))
                .collect(),
        },
    };
    let page_size = request
        .query
        .get("maxresults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(state.page_size)
        .min(state.page_size);
    let skip: usize = request
        .query
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(skip).take(page_size).cloned().collect();
    let next = (skip + page_size < items.len()).then(|| {
        format!(
            "{}{}?$skiptoken={}&maxresults={page_size}",
            shared.base_url,
            request.path,
            skip + page_size
        )
    });
    Response::json(200, json!({"value": page, "nextLink": next}))
}

/// List items name the secret, not a version (as Key Vault's `GET /secrets` does).
fn without_version(mut item: Value, shared: &Shared, name: &str) -> Value {
    item["id"] = json!(format!("{}/secrets/{name}", shared.base_url));
    item
}
