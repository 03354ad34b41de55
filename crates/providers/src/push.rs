//! Writing one entry into a store, as a PushSecret's `remoteRef` names it: the whole key, or
//! one `property` of the JSON object stored there (read, set, written back). The operator's
//! PushSecrets and `keyward rotate` write through here, so both treat properties alike.

use keyward_core::SecretValue;

use crate::{Fetched, Provider, ProviderError, ProviderErrorKind};

/// A JSON object of strings, as a store holds a multi-property secret.
pub type Object = serde_json::Map<String, serde_json::Value>;

/// What the store holds at `key` as a JSON object (`None` when the key does not exist; an
/// empty object when it holds something that is not one).
pub async fn remote_object(
    provider: &dyn Provider,
    key: &str,
) -> Result<Option<Object>, ProviderError> {
    let fetched = match provider.fetch(key, None).await {
        Ok(fetched) => fetched,
        Err(error) if error.kind == ProviderErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let bytes = stored_bytes(&fetched);
    Ok(Some(
        serde_json::from_slice::<Object>(bytes.expose_bytes()).unwrap_or_default(),
    ))
}

/// The bytes a [`Fetched`] stands for, as the store's push would take them back: a value as
/// it is, a map (Vault KV v2 data) as a JSON object of strings.
pub fn stored_bytes(fetched: &Fetched) -> SecretValue {
    match fetched {
        Fetched::Value(value) | Fetched::Document(value) => {
            SecretValue::new(value.expose_bytes().to_vec())
        }
        Fetched::Map(map) => {
            let object: Object = map
                .iter()
                .map(|(k, v)| {
                    let text = String::from_utf8_lossy(v.expose_bytes()).into_owned();
                    (k.clone(), serde_json::Value::String(text))
                })
                .collect();
            SecretValue::new(serde_json::to_vec(&object).unwrap_or_default())
        }
    }
}

/// Writes `value` to `key`, or into its `property` (the rest of the stored object kept).
pub async fn write_entry(
    provider: &dyn Provider,
    key: &str,
    property: Option<&str>,
    value: &SecretValue,
    metadata: Option<&serde_json::Value>,
) -> Result<(), ProviderError> {
    let Some(property) = property.filter(|p| !p.is_empty()) else {
        return provider.push(key, value, metadata).await;
    };
    let mut object = remote_object(provider, key).await?.unwrap_or_default();
    object.insert(
        property.to_owned(),
        serde_json::Value::String(String::from_utf8_lossy(value.expose_bytes()).into_owned()),
    );
    let merged = SecretValue::new(serde_json::to_vec(&object).unwrap_or_default());
    provider.push(key, &merged, metadata).await
}

/// Deletes `key`, or only its `property` (the key goes with its last property).
pub async fn delete_entry(
    provider: &dyn Provider,
    key: &str,
    property: Option<&str>,
    metadata: Option<&serde_json::Value>,
) -> Result<(), ProviderError> {
    let Some(property) = property.filter(|p| !p.is_empty()) else {
        return provider.delete(key).await;
    };
    let Some(mut object) = remote_object(provider, key).await? else {
        return Ok(());
    };
    if object.remove(property).is_none() {
        return Ok(());
    }
    if object.is_empty() {
        return provider.delete(key).await;
    }
    let rest = SecretValue::new(serde_json::to_vec(&object).unwrap_or_default());
    provider.push(key, &rest, metadata).await
}
