//! What to do with a target, from what it should hold and what it holds now: ESO's
//! `creationPolicy`, `deletionPolicy` and `immutable`, as one pure function that every sink
//! (host files, a Kubernetes Secret) follows.
//!
//! - `creationPolicy: None` writes nothing.
//! - `Owner` and `Orphan` create and update the target (who owns it is the sink's business:
//!   an owner reference in a cluster, nothing on a host).
//! - `Merge` lays the desired keys over an existing target and never creates one (a missing
//!   target is not an error: ESO's `SecretMissing`).
//! - With no keys fetched (the sources are gone), `deletionPolicy: Delete` removes the target
//!   (only with `creationPolicy: Owner`: a target keyward does not own is never deleted),
//!   `Retain` keeps it as it is and `Merge` writes what remains.
//! - An `immutable` target, once written, is never changed.

use std::collections::BTreeMap;

use keyward_api::{CreationPolicy, DeletionPolicy};
use keyward_core::SecretValue;

use crate::Desired;

/// What a sink is asked to do with one target.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Make the target hold exactly these keys (creating it if `create`).
    Write {
        /// The keys and values, the existing ones included for `Merge`.
        data: BTreeMap<String, SecretValue>,
        /// Whether the target does not exist yet.
        create: bool,
        /// Whether the target already holds exactly `data` (a sink whose targets carry
        /// nothing else may then skip the write).
        unchanged: bool,
    },
    /// Remove the target: its sources are gone and `deletionPolicy` is `Delete`.
    Delete,
    /// Leave the target as it is, on purpose.
    Keep(Kept),
    /// The policies cannot be met (the message names the field).
    Refuse(String),
}

/// Why a target is left as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// `creationPolicy: None`.
    CreationPolicyNone,
    /// No keys fetched and `deletionPolicy: Retain`.
    Retained,
    /// `immutable` and already written.
    Immutable,
    /// No keys fetched, `deletionPolicy: Delete`, and there is no target to delete.
    NothingToDelete,
    /// `creationPolicy: Merge` and no target to merge into (ESO's `SecretMissing`: not an
    /// error, the target is simply never created).
    MergeTargetMissing,
}

impl Kept {
    /// A sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Kept::CreationPolicyNone => "creationPolicy None: nothing written",
            Kept::Retained => "no keys fetched: deletionPolicy Retain keeps the target",
            Kept::Immutable => {
                "immutable: the target differs from the store but is never changed once written"
            }
            Kept::NothingToDelete => "no keys fetched and no target: nothing to delete",
            Kept::MergeTargetMissing => {
                "creationPolicy Merge: the target does not exist, and Merge never creates it"
            }
        }
    }
}

/// The target policies of an ExternalSecret, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policies {
    /// `spec.target.creationPolicy` (default `Owner`).
    pub creation: CreationPolicy,
    /// `spec.target.deletionPolicy` (default `Retain`).
    pub deletion: DeletionPolicy,
    /// `spec.target.immutable`.
    pub immutable: bool,
}

impl Desired {
    /// Its target policies.
    pub fn policies(&self) -> Policies {
        Policies {
            creation: self.creation_policy,
            deletion: self.deletion_policy,
            immutable: self.immutable,
        }
    }
}

/// Plans one target. `current` is what the target holds now (`None`: it does not exist).
/// The desired data come by value so that the values are moved, never copied, into the plan.
pub fn plan(
    policies: Policies,
    data: BTreeMap<String, SecretValue>,
    current: Option<BTreeMap<String, SecretValue>>,
) -> Plan {
    let desired = policies;
    if desired.creation == CreationPolicy::None {
        return Plan::Keep(Kept::CreationPolicyNone);
    }
    if data.is_empty() {
        match desired.deletion {
            // ESO deletes only what it owns: the target of another creationPolicy is left.
            DeletionPolicy::Delete if desired.creation != CreationPolicy::Owner => {
                return Plan::Refuse(
                    "spec.target.deletionPolicy: Delete needs creationPolicy Owner (keyward deletes only targets it owns)".into(),
                );
            }
            DeletionPolicy::Delete if current.is_some() => return Plan::Delete,
            DeletionPolicy::Delete => return Plan::Keep(Kept::NothingToDelete),
            DeletionPolicy::Retain => return Plan::Keep(Kept::Retained),
            DeletionPolicy::Merge => {}
        }
    }
    let (data, create, unchanged) = if desired.creation == CreationPolicy::Merge {
        let Some(mut existing) = current else {
            return Plan::Keep(Kept::MergeTargetMissing);
        };
        let unchanged = data
            .iter()
            .all(|(key, value)| existing.get(key) == Some(value));
        existing.extend(data);
        (existing, false, unchanged)
    } else {
        let unchanged = current.as_ref() == Some(&data);
        (data, current.is_none(), unchanged)
    };
    // Written once: the same content is no change; different content is never written.
    if desired.immutable && !create && !unchanged {
        return Plan::Keep(Kept::Immutable);
    }
    Plan::Write {
        data,
        create,
        unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(creation: CreationPolicy, deletion: DeletionPolicy, immutable: bool) -> Policies {
        Policies {
            creation,
            deletion,
            immutable,
        }
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretValue::from(*v)))
            .collect()
    }

    use CreationPolicy as C;
    use DeletionPolicy as D;

    #[test]
    fn owner_and_orphan_create_and_update() {
        for creation in [C::Owner, C::Orphan] {
            let d = desired(creation, D::Retain, false);
            assert_eq!(
                plan(d, data(&[("a", "1")]), None),
                Plan::Write {
                    data: data(&[("a", "1")]),
                    create: true,
                    unchanged: false
                }
            );
            assert_eq!(
                plan(
                    d,
                    data(&[("a", "2")]),
                    Some(data(&[("a", "1"), ("b", "x")]))
                ),
                Plan::Write {
                    data: data(&[("a", "2")]),
                    create: false,
                    unchanged: false
                },
                "the target holds exactly the desired keys"
            );
            assert!(matches!(
                plan(d, data(&[("a", "1")]), Some(data(&[("a", "1")]))),
                Plan::Write {
                    unchanged: true,
                    ..
                }
            ));
        }
    }

    #[test]
    fn none_writes_nothing_and_merge_never_creates() {
        let none = desired(C::None, D::Retain, false);
        assert_eq!(
            plan(none, data(&[("a", "1")]), None),
            Plan::Keep(Kept::CreationPolicyNone)
        );
        let merge = desired(C::Merge, D::Retain, false);
        assert_eq!(
            plan(merge, data(&[("a", "1")]), None),
            Plan::Keep(Kept::MergeTargetMissing)
        );
        assert_eq!(
            plan(
                merge,
                data(&[("a", "2")]),
                Some(data(&[("a", "1"), ("b", "x")]))
            ),
            Plan::Write {
                data: data(&[("a", "2"), ("b", "x")]),
                create: false,
                unchanged: false
            }
        );
        assert!(matches!(
            plan(
                merge,
                data(&[("a", "1")]),
                Some(data(&[("a", "1"), ("b", "x")]))
            ),
            Plan::Write {
                unchanged: true,
                ..
            }
        ));
    }

    #[test]
    fn deletion_policies_when_the_sources_are_gone() {
        let existing = || Some(data(&[("a", "1")]));
        assert_eq!(
            plan(desired(C::Owner, D::Delete, false), data(&[]), existing()),
            Plan::Delete
        );
        assert_eq!(
            plan(desired(C::Owner, D::Delete, false), data(&[]), None),
            Plan::Keep(Kept::NothingToDelete)
        );
        assert_eq!(
            plan(desired(C::Owner, D::Retain, false), data(&[]), existing()),
            Plan::Keep(Kept::Retained)
        );
        assert!(matches!(
            plan(desired(C::Orphan, D::Delete, false), data(&[]), existing()),
            Plan::Refuse(m) if m.contains("creationPolicy Owner")
        ));
        assert_eq!(
            plan(desired(C::Merge, D::Merge, false), data(&[]), existing()),
            Plan::Write {
                data: data(&[("a", "1")]),
                create: false,
                unchanged: true
            }
        );
    }

    #[test]
    fn an_immutable_target_is_written_once() {
        let d = desired(C::Owner, D::Retain, true);
        assert!(matches!(
            plan(d, data(&[("a", "1")]), None),
            Plan::Write { create: true, .. }
        ));
        assert_eq!(
            plan(d, data(&[("a", "2")]), Some(data(&[("a", "1")]))),
            Plan::Keep(Kept::Immutable)
        );
        assert!(matches!(
            plan(d, data(&[("a", "1")]), Some(data(&[("a", "1")]))),
            Plan::Write {
                unchanged: true,
                ..
            }
        ));
    }
}
