//! The `external-secrets.io` API types keyward reads and serves, field for field as External
//! Secrets Operator (ESO) spells them, so existing manifests work unchanged.
//!
//! - [`ExternalSecret`] (`v1`): what to fetch from which store and how to shape the target.
//! - [`ClusterExternalSecret`] (`v1`): one ExternalSecret spec for every namespace a selector
//!   picks.
//! - [`PushSecret`] (`v1alpha1`): a Secret's keys written to stores.
//! - [`SecretStore`] and [`ClusterSecretStore`] (`v1`): where values live and how to log in.
//!   The provider block is kept as raw JSON ([`ProviderSpec`]): each provider in
//!   keyward-providers owns and validates its own configuration, so this crate never grows a
//!   field per provider.
//! - [`generator`] (`generators.external-secrets.io/v1alpha1`): the `Password`, `UUID`,
//!   `Fake` and `ClusterGenerator` generators an ExternalSecret's `dataFrom` may name.
//! - [`convert`]: `v1beta1` manifests rewritten to `v1`, comments and key order kept.
//! - [`load`]: multi-document YAML into typed objects, with errors that name file, document
//!   and field. Names that become paths ([`ResourceName`], [`NamespaceName`]) are checked
//!   there, once, as Kubernetes checks them.
//!
//! Types only: no I/O beyond reading manifest files ([`load::read_manifests`]) and parsing
//! text, no calls to stores or clusters.
//!
//! ```
//! let yaml = "apiVersion: external-secrets.io/v1
//! kind: ExternalSecret
//! metadata: {name: db, namespace: apps}
//! spec:
//!   secretStoreRef: {name: vault, kind: SecretStore}
//!   data:
//!   - secretKey: password
//!     remoteRef: {key: apps/db, property: password}
//! ";
//! let docs = keyward_api::load::from_str(yaml, "db.yaml").expect("valid");
//! let keyward_api::Document::ExternalSecret(es) = &docs[0] else { panic!() };
//! assert_eq!(es.spec.data[0].remote_ref.property.as_deref(), Some("password"));
//! ```

mod cluster_external_secret;
mod common;
pub mod convert;
mod duration;
mod external_secret;
pub mod generator;
pub mod load;
mod names;
mod push_secret;
mod secret_store;

pub use cluster_external_secret::{
    ClusterExternalSecret, ClusterExternalSecretCondition, ClusterExternalSecretNamespaceFailure,
    ClusterExternalSecretSpec, ClusterExternalSecretStatus, ExternalSecretMetadata,
};
pub use common::{SecretKeySelector, ServiceAccountSelector, StoreKind, StoreRef};
pub use duration::parse_go_duration;
pub use external_secret::*;
pub use load::{Document, GeneratorObject};
pub use names::{
    LABEL_PATTERN, NameError, NamespaceName, ResourceName, SUBDOMAIN_PATTERN, check_secret_key,
};
pub use push_secret::{
    PUSH_SECRET_VERSION, PushSecret, PushSecretConversionStrategy, PushSecretData,
    PushSecretDeletionPolicy, PushSecretMatch, PushSecretRemoteRef, PushSecretSecret,
    PushSecretSelector, PushSecretSpec, PushSecretStatus, PushSecretStoreRef,
    PushSecretUpdatePolicy,
};
pub use secret_store::{
    ClusterSecretStore, ClusterSecretStoreCondition, ProviderSpec, SecretStore,
    SecretStoreCondition, SecretStoreSpec, SecretStoreStatus, selects,
};

/// The API group.
pub const GROUP: &str = "external-secrets.io";
/// The version keyward serves and reads.
pub const VERSION: &str = "v1";
