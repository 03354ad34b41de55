//! The `aws` provider, Parameter Store service: ESO's `spec.provider.aws` with
//! `service: ParameterStore`, on the official aws-sdk-ssm crate.
//!
//! Configuration, authentication (static keys, assumed `role`, the default chain with web
//! identity / IRSA) and the endpoint override are shared with Secrets Manager
//! ([`crate::aws::AwsProvider::sdk_config`]).
//!
//! - A key is a parameter name (after `prefix`); `version` selects `name:version` (a version
//!   number or a label), as ESO does. Values are read with decryption.
//! - `metadataPolicy: Fetch` returns the parameter's tags.
//! - `find` describes parameters (all pages, tags as server-side filters) and matches the name
//!   regexp and the `path` prefix.
//! - push / delete only touch parameters tagged `managed-by=keyward` (or
//!   `managed-by=external-secrets`); new parameters are `String`s tagged `managed-by=keyward`.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use keyward_api::ExternalSecretFind;
use keyward_core::SecretValue;
use tokio::sync::OnceCell;

use crate::aws::{AwsConfig, AwsProvider};
use crate::{Credentials, Fetched, Provider, ProviderError, ProviderErrorKind, StoreId};

/// AWS Systems Manager Parameter Store.
#[derive(Debug)]
pub struct ParameterStoreProvider {
    aws: AwsProvider,
    client: OnceCell<aws_sdk_ssm::Client>,
}

impl ParameterStoreProvider {
    /// Validates the configuration (the client is built on first use).
    pub fn new(
        store: StoreId,
        config: AwsConfig,
        namespace: &str,
        credentials: Arc<dyn Credentials>,
    ) -> Result<Self, ProviderError> {
        if config.service != "ParameterStore" {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                store.as_str(),
                None,
                "spec.provider.aws.service must be ParameterStore for this provider",
            ));
        }
        Ok(Self {
            aws: AwsProvider::new(store, config, namespace, credentials)?,
            client: OnceCell::new(),
        })
    }

    /// Sends every call to `endpoint` (a moto server, a VPC endpoint).
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.aws = self.aws.with_endpoint(endpoint);
        self
    }

    /// Authenticates with a web identity token file exchanged at STS for `role_arn` (IRSA).
    pub fn with_web_identity(mut self, token_file: std::path::PathBuf, role_arn: &str) -> Self {
        self.aws = self.aws.with_web_identity(token_file, role_arn);
        self
    }

    async fn client(&self) -> Result<&aws_sdk_ssm::Client, ProviderError> {
        self.client
            .get_or_try_init(|| async {
                let config = self.aws.sdk_config().await?;
                Ok(aws_sdk_ssm::Client::new(&config))
            })
            .await
    }

    async fn tags(&self, key: &str, name: &str) -> Result<Vec<Tag>, ProviderError> {
        let output = self
            .client()
            .await?
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| self.aws.classify(&e, Some(key)))?;
        Ok(output.tag_list().to_vec())
    }

    /// Tags of `name`, or `None` when the parameter does not exist.
    async fn existing_tags(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<Vec<Tag>>, ProviderError> {
        let exists = self.client().await?.get_parameter().name(name).send().await;
        match exists {
            Ok(_) => self.tags(key, name).await.map(Some),
            Err(error) => {
                let error = self.aws.classify(&error, Some(key));
                if error.kind == ProviderErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    fn refuse_unmanaged(&self, key: &str, what: &str) -> ProviderError {
        self.aws.error(
            ProviderErrorKind::PermissionDenied,
            Some(key),
            format!("refusing to {what}: the parameter is not tagged managed-by=keyward (or managed-by=external-secrets)"),
        )
    }

    fn tag_filters(find: &ExternalSecretFind) -> Result<Vec<ParameterStringFilter>, ProviderError> {
        find.tags
            .iter()
            .map(|(k, v)| {
                ParameterStringFilter::builder()
                    .key(format!("tag:{k}"))
                    .option("Equals")
                    .values(v)
                    .build()
                    .map_err(|e| {
                        ProviderError::new(
                            ProviderErrorKind::Misconfigured,
                            "aws",
                            None,
                            format!("find.tags: {e}"),
                        )
                    })
            })
            .collect()
    }
}

fn is_managed(tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == "managed-by" && matches!(t.value(), "keyward" | "external-secrets"))
}

#[async_trait::async_trait]
impl Provider for ParameterStoreProvider {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn store(&self) -> &StoreId {
        self.aws.store()
    }

    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, ProviderError> {
        let mut name = self.aws.full_key(key);
        if let Some(version) = version.filter(|v| !v.is_empty()) {
            name = format!("{name}:{version}");
        }
        let output = self
            .client()
            .await?
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| self.aws.classify(&e, Some(key)))?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(|v| Fetched::Value(SecretValue::from(v)))
            .ok_or_else(|| {
                self.aws.error(
                    ProviderErrorKind::NotFound,
                    Some(key),
                    "the parameter holds no value",
                )
            })
    }

    async fn fetch_metadata(&self, key: &str) -> Result<Fetched, ProviderError> {
        let tags = self.tags(key, &self.aws.full_key(key)).await?;
        Ok(Fetched::Map(
            tags.iter()
                .map(|t| (t.key().to_owned(), SecretValue::from(t.value())))
                .collect::<BTreeMap<_, _>>(),
        ))
    }

    async fn list(&self, find: &ExternalSecretFind) -> Result<Vec<String>, ProviderError> {
        let matcher = crate::value::name_matcher(find, self.store().as_str())?;
        let filters = Self::tag_filters(find)?;
        let client = self.client().await?;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = client
                .describe_parameters()
                .set_parameter_filters((!filters.is_empty()).then(|| filters.clone()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.aws.classify(&e, None))?;
            let page = output.parameters().iter().filter_map(|p| p.name());
            let path = find.path.as_deref().unwrap_or("");
            names.extend(
                page.filter(|n| n.starts_with(path))
                    .filter(|n| matcher.as_ref().is_none_or(|m| m.is_match(n)))
                    .map(str::to_owned),
            );
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
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
        let name = self.aws.full_key(key);
        let text = value.expose_str().map_err(|_| {
            self.aws.error(
                ProviderErrorKind::InvalidData,
                Some(key),
                "parameters hold text; the value is not UTF-8",
            )
        })?;
        let client = self.client().await?;
        let request = match self.existing_tags(key, &name).await? {
            Some(tags) if !is_managed(&tags) => {
                return Err(self.refuse_unmanaged(key, "overwrite it"));
            }
            Some(_) => client
                .put_parameter()
                .name(&name)
                .value(text)
                .overwrite(true),
            None => {
                let tag = Tag::builder()
                    .key("managed-by")
                    .value("keyward")
                    .build()
                    .map_err(|e| {
                        self.aws.error(
                            ProviderErrorKind::Misconfigured,
                            Some(key),
                            format!("tag: {e}"),
                        )
                    })?;
                client
                    .put_parameter()
                    .name(&name)
                    .value(text)
                    .r#type(ParameterType::String)
                    .tags(tag)
            }
        };
        request
            .send()
            .await
            .map_err(|e| self.aws.classify(&e, Some(key)))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let name = self.aws.full_key(key);
        match self.existing_tags(key, &name).await? {
            None => Ok(()),
            Some(tags) if !is_managed(&tags) => Err(self.refuse_unmanaged(key, "delete it")),
            Some(_) => {
                self.client()
                    .await?
                    .delete_parameter()
                    .name(&name)
                    .send()
                    .await
                    .map_err(|e| self.aws.classify(&e, Some(key)))?;
                Ok(())
            }
        }
    }
}
