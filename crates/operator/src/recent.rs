//! [`Recent`]: what this operator wrote that its watches may not have delivered yet.
//!
//! A reconcile reads the ExternalSecret and its Secret from reflector caches. Its own writes
//! (the Secret it created, the status it patched) trigger the next reconcile of the same
//! ExternalSecret, and that one can start before the watch has brought those writes into the
//! cache: it then sees no `refreshTime` and no Secret, fetches again, patches the status a
//! second time and POSTs a Secret that is already there (409). Under load that costs a third
//! of a request per ExternalSecret on the first sync.
//!
//! So every object the API server returns for a write is kept here until the watch catches up
//! with it, and a lookup prefers it over the cache while it is newer. "Newer" compares
//! `resourceVersion`s as numbers, which etcd-backed API servers (every real one) issue; one
//! that does not parse is never preferred, which is the behaviour without this module. An
//! entry is dropped as soon as the cache holds the same or a newer version, or the watch
//! reports the object deleted, so nothing outlives the watch's lag, and a later change by
//! anyone else (always a higher version) always wins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::Resource;

/// The namespace and name of an object.
type Key = (String, String);

/// Objects this operator wrote, by namespace and name, until the cache catches up.
pub struct Recent<K> {
    written: Mutex<HashMap<Key, Arc<K>>>,
}

impl<K> Default for Recent<K> {
    fn default() -> Self {
        Self {
            written: Mutex::new(HashMap::new()),
        }
    }
}

/// A `resourceVersion` as a number; `None` when absent or not a number.
fn version<K: Resource>(object: &K) -> Option<u64> {
    object.meta().resource_version.as_deref()?.parse().ok()
}

fn key_of<K: Resource>(object: &K) -> Key {
    let meta = object.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl<K: Resource> Recent<K> {
    /// Keeps `object`, as the API server returned it from a write.
    pub fn wrote(&self, object: K) {
        if version(&object).is_none() {
            return;
        }
        if let Ok(mut written) = self.written.lock() {
            written.insert(key_of(&object), Arc::new(object));
        }
    }

    /// Forgets what was written to `namespace`/`name` (this operator deleted it).
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut written) = self.written.lock() {
            written.remove(&(namespace.to_owned(), name.to_owned()));
        }
    }

    /// The watch delivered `object` (changed or deleted): what was written before it is no
    /// news any more.
    pub fn observed(&self, object: &K) {
        let key = key_of(object);
        if let Ok(mut written) = self.written.lock()
            && let Some(mine) = written.get(&key)
            && !newer(mine.as_ref(), Some(object))
        {
            written.remove(&key);
        }
    }

    /// The freshest known version of `namespace`/`name`: what this operator wrote when the
    /// cache has not caught up with it, else `cached`. An entry the cache caught up with is
    /// dropped.
    pub fn freshest(&self, namespace: &str, name: &str, cached: Option<Arc<K>>) -> Option<Arc<K>> {
        let key = (namespace.to_owned(), name.to_owned());
        let Ok(mut written) = self.written.lock() else {
            return cached;
        };
        match written.get(&key) {
            Some(mine) if newer(mine.as_ref(), cached.as_deref()) => Some(Arc::clone(mine)),
            Some(_) => {
                written.remove(&key);
                cached
            }
            None => cached,
        }
    }

    /// How many writes wait for the watch.
    pub fn len(&self) -> usize {
        self.written.lock().map_or(0, |written| written.len())
    }

    /// Whether no write waits for the watch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `mine` is newer than what the cache holds (`None`: the cache has not seen it).
fn newer<K: Resource>(mine: &K, cached: Option<&K>) -> bool {
    match cached {
        None => true,
        Some(cached) => match (version(mine), version(cached)) {
            (Some(mine), Some(cached)) => mine > cached,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn secret(version: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("s".into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    fn version_of(secret: Option<Arc<Secret>>) -> Option<String> {
        secret.and_then(|s| s.metadata.resource_version.clone())
    }

    #[test]
    fn a_write_the_cache_has_not_seen_is_preferred_to_nothing_or_an_older_version() {
        let recent = Recent::default();
        recent.wrote(secret("12"));
        assert_eq!(
            version_of(recent.freshest("ns", "s", None)).as_deref(),
            Some("12")
        );
        let older = Some(Arc::new(secret("9")));
        assert_eq!(
            version_of(recent.freshest("ns", "s", older)).as_deref(),
            Some("12")
        );
        assert_eq!(recent.len(), 1);
    }

    #[test]
    fn the_cache_wins_once_it_caught_up_and_the_entry_is_dropped() {
        let recent = Recent::default();
        recent.wrote(secret("12"));
        let same = Some(Arc::new(secret("12")));
        assert_eq!(
            version_of(recent.freshest("ns", "s", same)).as_deref(),
            Some("12")
        );
        assert!(recent.is_empty());
        // A later change by someone else is always newer.
        recent.wrote(secret("12"));
        let later = Some(Arc::new(secret("15")));
        assert_eq!(
            version_of(recent.freshest("ns", "s", later)).as_deref(),
            Some("15")
        );
        assert!(recent.is_empty());
    }

    #[test]
    fn a_delivered_or_deleted_object_drops_the_entry_so_a_deleted_secret_is_not_resurrected() {
        let recent = Recent::default();
        recent.wrote(secret("12"));
        // The watch delivers the create, then the user's delete (the cache is then empty).
        recent.observed(&secret("12"));
        assert!(recent.freshest("ns", "s", None).is_none());
        recent.wrote(secret("20"));
        recent.observed(&secret("18"));
        assert_eq!(recent.len(), 1, "an older event keeps the newer write");
        recent.forget("ns", "s");
        assert!(recent.is_empty());
    }

    #[test]
    fn versions_that_are_not_numbers_are_never_preferred() {
        let recent = Recent::default();
        recent.wrote(secret("abc"));
        assert!(recent.is_empty());
        recent.wrote(secret("12"));
        let opaque = Some(Arc::new(secret("xyz")));
        assert_eq!(
            version_of(recent.freshest("ns", "s", opaque)).as_deref(),
            Some("xyz")
        );
    }
}
