//! The `aws` provider, Secrets Manager service: ESO's `spec.provider.aws` with
//! `service: SecretsManager`, on the official aws-sdk-secretsmanager crate.
//!
//! Authentication: static keys from `auth.secretRef` (through the store credentials), IRSA
//! through `auth.jwt.serviceAccountRef` (a requested service account token exchanged at STS
//! for the role its `eks.amazonaws.com/role-arn` annotation names), else the SDK's default
//! chain (environment, profile, IMDS, web identity); `role` is assumed through STS on top. One SDK client is built on first use and reused.
//!
//! `version`: `uuid/<id>` selects a VersionId, anything else a VersionStage (ESO's rule).
//! `metadataPolicy: Fetch` returns the secret's tags. `find` lists secrets once (paged) and
//! filters names by `path` prefix and regexp, and by tags.
//!
//! The endpoint follows the SDK's `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`;
//! [`AwsProvider::with_endpoint`] sets it explicitly (tests against moto).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use keyward_api::{ExternalSecretFind, SecretKeySelector, ServiceAccountSelector};
use keyward_core::SecretValue;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::{
    Credentials, Fetched, KeyInfo, Provider, ProviderError, ProviderErrorKind, StoreId, Versioned,
};

/// `spec.provider.aws`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsConfig {
    /// `SecretsManager` (ParameterStore and CertificateManager are not served yet).
    pub service: String,
    /// The region.
    pub region: String,
    /// A role to assume.
    #[serde(default)]
    pub role: Option<String>,
    /// The external id for the role.
    #[serde(default, rename = "externalID")]
    pub external_id: Option<String>,
    /// A prefix added to every key.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Static keys or a service-account JWT.
    #[serde(default)]
    pub auth: AwsAuth,
}

/// `spec.provider.aws.auth`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuth {
    /// Static keys.
    #[serde(default)]
    pub secret_ref: Option<AwsSecretRef>,
    /// IRSA through a ServiceAccount: its token, requested for the audience in its
    /// `eks.amazonaws.com/audience` annotation (default `sts.amazonaws.com`) plus those given,
    /// is exchanged at STS for the role in its `eks.amazonaws.com/role-arn` annotation. Needs
    /// credentials that can issue tokens (a cluster).
    #[serde(default)]
    pub jwt: Option<AwsJwtAuth>,
}

/// `auth.jwt`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsJwtAuth {
    /// The ServiceAccount whose token is exchanged.
    pub service_account_ref: ServiceAccountSelector,
}

/// The annotation naming the role an IRSA service account assumes.
const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The annotation overriding the audience of an IRSA token.
const AUDIENCE_ANNOTATION: &str = "eks.amazonaws.com/audience";
/// The audience of IRSA tokens unless annotated otherwise.
const DEFAULT_TOKEN_AUDIENCE: &str = "sts.amazonaws.com";

/// `auth.secretRef`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsSecretRef {
    /// The access key id.
    #[serde(rename = "accessKeyIDSecretRef")]
    pub access_key_id: SecretKeySelector,
    /// The secret access key.
    #[serde(rename = "secretAccessKeySecretRef")]
    pub secret_access_key: SecretKeySelector,
    /// A session token.
    #[serde(default, rename = "sessionTokenSecretRef")]
    pub session_token: Option<SecretKeySelector>,
}

/// AWS Secrets Manager.
#[derive(Debug)]
pub struct AwsProvider {
    store: StoreId,
    config: AwsConfig,
    namespace: String,
    credentials: Arc<dyn Credentials>,
    endpoint: Option<String>,
    web_identity: Option<(std::path::PathBuf, String)>,
    client: OnceCell<aws_sdk_secretsmanager::Client>,
}

impl AwsProvider {
    /// Validates the configuration (the client is built on first use).
    pub fn new(
        store: StoreId,
        config: AwsConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Result<Self, ProviderError> {
        let misconfigured = |message: &str| {
            ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                message,
            )
        };
        match config.service.as_str() {
            "SecretsManager" | "ParameterStore" => {}
            "CertificateManager" => {
                return Err(misconfigured(
                    "spec.provider.aws.service: CertificateManager is not served by keyward yet",
                ));
            }
            _ => {
                return Err(misconfigured(
                    "spec.provider.aws.service must be SecretsManager, ParameterStore or CertificateManager",
                ));
            }
        }
        if config.region.is_empty() {
            return Err(misconfigured("spec.provider.aws.region is required"));
        }
        Ok(Self {
            store,
            config,
            namespace: namespace.to_owned(),
            credentials,
            endpoint: None,
            web_identity: None,
            client: OnceCell::new(),
        })
    }

    /// Authenticates with a web identity token file exchanged at STS for `role_arn` (IRSA,
    /// as `AWS_WEB_IDENTITY_TOKEN_FILE` / `AWS_ROLE_ARN` do for the default chain). The file
    /// is re-read on every exchange, since the kubelet rotates it.
    pub fn with_web_identity(mut self, token_file: std::path::PathBuf, role_arn: &str) -> Self {
        self.web_identity = Some((token_file, role_arn.to_owned()));
        self
    }

    /// Sends every call to `endpoint` (a moto server, a VPC endpoint).
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    pub(crate) fn error(
        &self,
        kind: ProviderErrorKind,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError::new(kind, self.store.as_str(), key, message)
    }

    async fn client(&self) -> Result<&aws_sdk_secretsmanager::Client, ProviderError> {
        self.client.get_or_try_init(|| self.build_client()).await
    }

    async fn build_client(&self) -> Result<aws_sdk_secretsmanager::Client, ProviderError> {
        let config = self.sdk_config().await?;
        Ok(aws_sdk_secretsmanager::Client::new(&config))
    }

    /// The SDK configuration every AWS service client of this store shares: region, static
    /// keys or the default chain (environment, profile, web identity / IRSA), an assumed
    /// `role` on top, the endpoint override, and no SDK retries.
    pub(crate) async fn sdk_config(&self) -> Result<aws_config::SdkConfig, ProviderError> {
        let region = aws_config::Region::new(self.config.region.clone());
        // Retries belong to the call discipline, which counts and paces them across calls.
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region.clone())
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(keys) = &self.config.auth.secret_ref {
            let text =
                |value: SecretValue| String::from_utf8_lossy(value.expose_bytes()).into_owned();
            let id = text(
                self.credentials
                    .secret_key(&keys.access_key_id, &self.namespace)
                    .await?,
            );
            let secret = text(
                self.credentials
                    .secret_key(&keys.secret_access_key, &self.namespace)
                    .await?,
            );
            let token = match &keys.session_token {
                Some(selector) => Some(text(
                    self.credentials
                        .secret_key(selector, &self.namespace)
                        .await?,
                )),
                None => None,
            };
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                id,
                secret,
                token,
                None,
                "keyward-secret-ref",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let mut base = loader.load().await;
        let web_identity = match (&self.web_identity, &self.config.auth.jwt) {
            (Some((file, role_arn)), _) => Some((WebToken::File(file.clone()), role_arn.clone())),
            (None, Some(jwt)) => Some(self.service_account_identity(jwt).await?),
            (None, None) => None,
        };
        if let Some((token, role_arn)) = web_identity {
            let provider = WebIdentity {
                sts: aws_sdk_sts::Client::new(&base),
                token,
                role_arn,
            };
            base = base
                .to_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                )
                .build();
        }
        let config = match &self.config.role {
            Some(role) => {
                let mut assume = aws_config::sts::AssumeRoleProvider::builder(role)
                    .session_name("keyward")
                    .region(region)
                    .configure(&base);
                if let Some(external_id) = &self.config.external_id {
                    assume = assume.external_id(external_id);
                }
                let provider = assume.build().await;
                base.to_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    .build()
            }
            None => base,
        };
        Ok(config)
    }

    /// IRSA through `auth.jwt.serviceAccountRef`: the role and audience from the service
    /// account's annotations, as the EKS pod identity webhook reads them.
    async fn service_account_identity(
        &self,
        jwt: &AwsJwtAuth,
    ) -> Result<(WebToken, String), ProviderError> {
        let account = &jwt.service_account_ref;
        let annotations = self
            .credentials
            .service_account_annotations(account, &self.namespace)
            .await?;
        let role_arn = annotations.get(ROLE_ARN_ANNOTATION).cloned().ok_or_else(|| {
            self.error(
                ProviderErrorKind::Misconfigured,
                None,
                format!(
                    "spec.provider.aws.auth.jwt: ServiceAccount {} has no {ROLE_ARN_ANNOTATION} annotation",
                    account.name
                ),
            )
        })?;
        let mut audiences = vec![
            annotations
                .get(AUDIENCE_ANNOTATION)
                .cloned()
                .unwrap_or_else(|| DEFAULT_TOKEN_AUDIENCE.to_owned()),
        ];
        audiences.extend(account.audiences.iter().cloned());
        let token = WebToken::ServiceAccount {
            credentials: Arc::clone(&self.credentials),
            account: account.clone(),
            namespace: self.namespace.clone(),
            audiences,
        };
        Ok((token, role_arn))
    }

    pub(crate) fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.config.prefix.as_deref().unwrap_or(""))
    }

    pub(crate) fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
        &self,
        error: &aws_sdk_secretsmanager::error::SdkError<E>,
        key: Option<&str>,
    ) -> ProviderError {
        use aws_sdk_secretsmanager::error::SdkError;
        let (kind, message) = match error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown");
                let kind = match code {
                    "ResourceNotFoundException"
                    | "ParameterNotFound"
                    | "ParameterVersionNotFound"
                    | "InvalidResourceId" => ProviderErrorKind::NotFound,
                    "AccessDeniedException"
                    | "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "ExpiredTokenException" => ProviderErrorKind::PermissionDenied,
                    "ThrottlingException"
                    | "TooManyRequestsException"
                    | "LimitExceededException" => ProviderErrorKind::Throttled,
                    "InvalidParameterException" | "InvalidRequestException" => {
                        ProviderErrorKind::InvalidData
                    }
                    _ if service.raw().status().as_u16() >= 500 => ProviderErrorKind::Unreachable,
                    _ => ProviderErrorKind::InvalidData,
                };
                (
                    kind,
                    format!("{code}: {}", service.err().message().unwrap_or("")),
                )
            }
            SdkError::TimeoutError(_) => (ProviderErrorKind::Unreachable, "timed out".to_owned()),
            SdkError::DispatchFailure(_) => (
                ProviderErrorKind::Unreachable,
                "connection failed".to_owned(),
            ),
            SdkError::ResponseError(_) => (
                ProviderErrorKind::Unreachable,
                "unreadable response".to_owned(),
            ),
            _ => (
                ProviderErrorKind::Misconfigured,
                "the request could not be built".to_owned(),
            ),
        };
        self.error(kind, key, message)
    }
}

/// IRSA: a web identity token exchanged at STS (`AssumeRoleWithWebIdentity`). The SDK's
/// identity cache keeps the credentials until shortly before they expire.
#[derive(Debug)]
struct WebIdentity {
    sts: aws_sdk_sts::Client,
    token: WebToken,
    role_arn: String,
}

/// Where the web identity token comes from; read afresh for each exchange, because both
/// sources rotate.
#[derive(Debug)]
enum WebToken {
    /// A projected token file (`AWS_WEB_IDENTITY_TOKEN_FILE`).
    File(std::path::PathBuf),
    /// A token requested for a service account.
    ServiceAccount {
        credentials: Arc<dyn Credentials>,
        account: ServiceAccountSelector,
        namespace: String,
        audiences: Vec<String>,
    },
}

impl WebToken {
    async fn read(&self) -> Result<String, String> {
        match self {
            Self::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("web identity token file {}: {e}", path.display())),
            Self::ServiceAccount {
                credentials,
                account,
                namespace,
                audiences,
            } => credentials
                .service_account_token(account, namespace, audiences)
                .await
                .map_err(|e| e.to_string())
                .map(|token| String::from_utf8_lossy(token.expose_bytes()).into_owned()),
        }
    }
}

impl WebIdentity {
    async fn exchange(&self) -> aws_credential_types::provider::Result {
        use aws_credential_types::provider::error::CredentialsError;
        let token = self
            .token
            .read()
            .await
            .map_err(CredentialsError::provider_error)?;
        let output = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name("keyward")
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity for {}: {}",
                    self.role_arn,
                    e.code().unwrap_or("failed")
                ))
            })?;
        let credentials = output.credentials().ok_or_else(|| {
            CredentialsError::provider_error("AssumeRoleWithWebIdentity returned no credentials")
        })?;
        let expiry = std::time::SystemTime::try_from(*credentials.expiration()).ok();
        Ok(aws_credential_types::Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            expiry,
            "keyward-web-identity",
        ))
    }
}

impl aws_credential_types::provider::ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.exchange())
    }
}

/// The tag keyward puts on secrets it creates; ESO's value is accepted as managed too.
const MANAGED_BY: &str = "managed-by";

fn is_managed(tags: &[aws_sdk_secretsmanager::types::Tag]) -> bool {
    tags.iter().any(|tag| {
        tag.key() == Some(MANAGED_BY) && matches!(tag.value(), Some("keyward" | "external-secrets"))
    })
}

impl AwsProvider {
    /// The tags of `name`, or `None` when it does not exist.
    async fn existing_tags(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<Vec<aws_sdk_secretsmanager::types::Tag>>, ProviderError> {
        let client = self.client().await?;
        match client.describe_secret().secret_id(name).send().await {
            Ok(output) => Ok(Some(output.tags().to_vec())),
            Err(error) => {
                let error = self.classify(&error, Some(key));
                if error.kind == ProviderErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    fn refuse_unmanaged(&self, key: &str, what: &str) -> ProviderError {
        self.error(
            ProviderErrorKind::PermissionDenied,
            Some(key),
            format!("refusing to {what}: the secret is not tagged managed-by=keyward (or managed-by=external-secrets)"),
        )
    }

    async fn push_value(&self, key: &str, value: &SecretValue) -> Result<(), ProviderError> {
        let name = self.full_key(key);
        let client = self.client().await?;
        let text = value.expose_str().ok();
        match self.existing_tags(key, &name).await? {
            Some(tags) if !is_managed(&tags) => Err(self.refuse_unmanaged(key, "overwrite it")),
            Some(_) => {
                let mut request = client.put_secret_value().secret_id(&name);
                request = match text {
                    Some(text) => request.secret_string(text),
                    None => request.secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(
                        value.expose_bytes(),
                    )),
                };
                request
                    .send()
                    .await
                    .map_err(|e| self.classify(&e, Some(key)))?;
                Ok(())
            }
            None => {
                let tag = aws_sdk_secretsmanager::types::Tag::builder()
                    .key(MANAGED_BY)
                    .value("keyward")
                    .build();
                let mut request = client.create_secret().name(&name).tags(tag);
                request = match text {
                    Some(text) => request.secret_string(text),
                    None => request.secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(
                        value.expose_bytes(),
                    )),
                };
                request
                    .send()
                    .await
                    .map_err(|e| self.classify(&e, Some(key)))?;
                Ok(())
            }
        }
    }
}

#[async_trait::async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn store(&self) -> &StoreId {
        &self.store
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        self.fetch_versioned(key, version)
            .await
            .map(|versioned| versioned.fetched)
    }

    /// GetSecretValue names the version it read (`uuid/ID`, as a `remoteRef.version`).
    async fn fetch_versioned(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Versioned, ProviderError> {
        let client = self.client().await?;
        let mut request = client.get_secret_value().secret_id(self.full_key(key));
        if let Some(version) = version.filter(|v| !v.is_empty()) {
            request = match version.strip_prefix("uuid/") {
                Some(id) => request.version_id(id),
                None => request.version_stage(version),
            };
        }
        let output = request
            .send()
            .await
            .map_err(|e| self.classify(&e, Some(key)))?;
        let read_version = output.version_id().map(|id| format!("uuid/{id}"));
        let versioned = |fetched| Versioned {
            fetched,
            version: read_version.clone(),
        };
        if let Some(text) = output.secret_string() {
            return Ok(versioned(Fetched::Value(SecretValue::from(text))));
        }
        if let Some(binary) = output.secret_binary() {
            return Ok(versioned(Fetched::Value(SecretValue::from(
                binary.as_ref(),
            ))));
        }
        Err(self.error(
            ProviderErrorKind::NotFound,
            Some(key),
            "the version holds no value",
        ))
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        let client = self.client().await?;
        let output = client
            .describe_secret()
            .secret_id(self.full_key(key))
            .send()
            .await
            .map_err(|e| self.classify(&e, Some(key)))?;
        let tags: BTreeMap<String, SecretValue> = output
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.key()?.to_owned(),
                    SecretValue::from(tag.value().unwrap_or("")),
                ))
            })
            .collect();
        Ok(Fetched::Map(tags))
    }

    /// DescribeSecret: the versions and their stages, no value read. Without a version, the
    /// one staged AWSCURRENT; a version is `uuid/ID` or a stage, as in `fetch`.
    async fn describe(&self, key: &str, version: Option<&str>) -> Result<KeyInfo, ProviderError> {
        let client = self.client().await?;
        let output = client
            .describe_secret()
            .secret_id(self.full_key(key))
            .send()
            .await
            .map_err(|e| self.classify(&e, Some(key)))?;
        let stages = output.version_ids_to_stages();
        let wanted = version.filter(|v| !v.is_empty()).unwrap_or("AWSCURRENT");
        let found = match wanted.strip_prefix("uuid/") {
            Some(id) => stages.and_then(|s| s.get_key_value(id)).map(|(id, _)| id),
            None => stages.and_then(|s| {
                s.iter()
                    .find(|(_, names)| names.iter().any(|name| name == wanted))
                    .map(|(id, _)| id)
            }),
        };
        let Some(id) = found else {
            return Err(self.error(
                ProviderErrorKind::NotFound,
                Some(key),
                format!("no version {wanted}"),
            ));
        };
        // DescribeSecret dates the secret's last change, not each version: for the current
        // version that is when it was made (or its metadata last changed).
        let created = (wanted == "AWSCURRENT")
            .then(|| output.last_changed_date())
            .flatten()
            .and_then(|date| {
                date.fmt(aws_sdk_secretsmanager::primitives::DateTimeFormat::DateTime)
                    .ok()
            });
        Ok(KeyInfo {
            version: Some(format!("uuid/{id}")),
            created,
            read_value: false,
        })
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let client = self.client().await?;
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
        let prefix = self.full_key(find.path.as_deref().unwrap_or(""));
        let mut names = Vec::new();
        let mut pages = client
            .list_secrets()
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.classify(&e, None))?;
            for secret in page.secret_list() {
                let Some(name) = secret.name() else { continue };
                let tags: BTreeMap<&str, &str> = secret
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or(""))))
                    .collect();
                let tagged = find
                    .tags
                    .iter()
                    .all(|(k, v)| tags.get(k.as_str()) == Some(&v.as_str()));
                let named = matcher.as_ref().is_none_or(|m| m.is_match(name));
                if name.starts_with(&prefix) && named && tagged {
                    names.push(
                        name.strip_prefix(self.config.prefix.as_deref().unwrap_or(""))
                            .unwrap_or(name)
                            .to_owned(),
                    );
                }
            }
        }
        names.sort();
        Ok(names)
    }

    async fn push(
        &self,
        key: &str,
        value: &SecretValue,
        _metadata: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        self.push_value(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let name = self.full_key(key);
        match self.existing_tags(key, &name).await? {
            None => Ok(()),
            Some(tags) if !is_managed(&tags) => Err(self.refuse_unmanaged(key, "delete it")),
            Some(_) => {
                let client = self.client().await?;
                client
                    .delete_secret()
                    .secret_id(&name)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
                    .map_err(|e| self.classify(&e, Some(key)))?;
                Ok(())
            }
        }
    }

    /// Tags the secret `managed-by=keyward` (replacing another `managed-by` value).
    async fn adopt(&self, key: &str) -> Result<(), ProviderError> {
        let name = self.full_key(key);
        if self.existing_tags(key, &name).await?.is_none() {
            return Err(self.error(
                ProviderErrorKind::NotFound,
                Some(key),
                "the secret does not exist",
            ));
        }
        let tag = aws_sdk_secretsmanager::types::Tag::builder()
            .key(MANAGED_BY)
            .value("keyward")
            .build();
        let client = self.client().await?;
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag)
            .send()
            .await
            .map_err(|e| self.classify(&e, Some(key)))?;
        Ok(())
    }
}
