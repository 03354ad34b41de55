//! `keyward sync --watch`: keep projections current until SIGTERM or SIGINT.
//!
//! Each ExternalSecret is refreshed on its own schedule, as ESO's controller does:
//! - `refreshPolicy: Periodic` (the default) every `refreshInterval` (default `1h`; `0`
//!   syncs once), each wait stretched or shortened by up to 10% at random so many hosts
//!   started together do not call the store in step;
//! - `CreatedOnce`: once, and only when the target does not exist yet;
//! - `OnChange`: when its manifest changes (and once at start).
//!
//! A failed refresh keeps the last good projection and is retried sooner. The schedule is
//! [`crate::refresh`]'s, which the operator follows too. The manifests are checked for changes every
//! second (and re-read at once on SIGHUP); changed or new ExternalSecrets sync at once, and
//! the stores' clients are rebuilt with them. File system work (the check, the load) runs on
//! blocking threads. SIGTERM or SIGINT during a round gives the targets being written up to
//! 5 s to finish, then stops.
//!
//! After a round that changed any target, the [`ChangeHook`] runs once the changes have been
//! quiet for the debounce time, so a burst of updates causes one reload.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use keyward_api::{ExternalSecret, RefreshPolicy};
use tokio::time::Instant;

use crate::run::{Outcome, RunOptions, Session, Status, manifest_stamp};

/// What `--watch` needs beyond one run.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The run's manifests, stores and sink.
    pub run: RunOptions,
    /// What to do after targets changed.
    pub hook: Option<ChangeHook>,
    /// How long changes must be quiet before the hook runs.
    pub debounce: Duration,
}

/// Tells a service that its secrets changed.
#[derive(Clone, Debug)]
pub enum ChangeHook {
    /// Run `sh -c COMMAND`, with the changed targets' paths in `KEYWARD_CHANGED`
    /// (newline-separated).
    Command(String),
    /// Send `signal` to the process whose id is in `pidfile`.
    Signal {
        /// The signal.
        signal: nix::sys::signal::Signal,
        /// The file holding the process id.
        pidfile: PathBuf,
    },
}

/// What the loop reports as it goes.
pub enum Event<'a> {
    /// Manifests were (re)loaded: load problems and warnings.
    Loaded(&'a Session),
    /// A refresh round finished: its outcomes, and the store reads it made (when the run
    /// records them).
    Round(&'a [Outcome], &'a [keyward_providers::StoreRead]),
    /// The hook ran: `Ok(description)` or `Err(reason)`.
    Hook(Result<String, String>),
    /// SIGTERM or SIGINT: the loop stops after this.
    Stopping(&'static str),
}

/// Hook timeout: a reload command that hangs must not stall the refreshes.
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);
const MANIFEST_CHECK: Duration = Duration::from_secs(1);

/// One ExternalSecret's place in the schedule.
#[derive(Clone, Debug)]
struct Slot {
    /// Its spec as JSON: a change means the manifest changed.
    spec: String,
    /// When it is next due; `None`: not again.
    due: Option<Instant>,
    /// Consecutive failures, for the retry backoff.
    failures: u32,
}

/// Runs until SIGTERM or SIGINT, calling `report` for every event.
pub async fn watch(
    options: WatchOptions,
    mut report: impl FnMut(Event<'_>),
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;

    // --no-wait: fail at once if another run holds OUT; later rounds queue behind it.
    drop(crate::run::lock_out(&options.run.out, options.run.wait_for_lock).await?);
    let mut stamp = stamp_of(&options.run.paths).await;
    let mut session = load(&options.run).await;
    report(Event::Loaded(&session));
    let mut slots = initial_slots(&session, &BTreeMap::new());
    let mut changed: Vec<String> = Vec::new();
    let mut hook_at: Option<Instant> = None;
    let mut next_check = Instant::now() + MANIFEST_CHECK;
    loop {
        let now = Instant::now();
        let due: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.due.is_some_and(|at| at <= now))
            .map(|(index, _)| index)
            .collect();
        if !due.is_empty() {
            let lock = crate::run::lock_out(&options.run.out, true).await?;
            // A signal during a round lets the targets being written finish (each is replaced
            // atomically), for at most STOP_GRACE, then stops.
            let round = session.sync(&due);
            tokio::pin!(round);
            let stop = tokio::select! {
                outcomes = &mut round => Err(outcomes),
                _ = terminate.recv() => Ok("SIGTERM"),
                _ = interrupt.recv() => Ok("SIGINT"),
            };
            let outcomes = match stop {
                Err(outcomes) => outcomes,
                Ok(signal) => {
                    report(Event::Stopping(signal));
                    if let Ok(outcomes) = tokio::time::timeout(STOP_GRACE, round).await {
                        report(Event::Round(&outcomes, &session.take_reads()));
                    }
                    break;
                }
            };
            drop(lock);
            report(Event::Round(&outcomes, &session.take_reads()));
            for outcome in &outcomes {
                reschedule(&mut slots, &session, outcome);
                if matches!(outcome.row.status, Status::Synced | Status::Deleted) {
                    changed.push(outcome.row.target.clone());
                    hook_at = Some(Instant::now() + options.debounce);
                }
            }
        }
        if hook_at.is_some_and(|at| at <= Instant::now()) {
            hook_at = None;
            if let Some(hook) = &options.hook {
                report(Event::Hook(run_hook(hook, &changed).await));
            }
            changed.clear();
        }
        let wake = slots
            .iter()
            .filter_map(|slot| slot.due)
            .chain(hook_at)
            .chain([next_check])
            .min()
            .unwrap_or(next_check);
        let reload = tokio::select! {
            () = tokio::time::sleep_until(wake) => false,
            _ = hangup.recv() => true,
            _ = terminate.recv() => { report(Event::Stopping("SIGTERM")); break; }
            _ = interrupt.recv() => { report(Event::Stopping("SIGINT")); break; }
        };
        if reload || Instant::now() >= next_check {
            next_check = Instant::now() + MANIFEST_CHECK;
            let current = stamp_of(&options.run.paths).await;
            if reload || current != stamp {
                stamp = current;
                let previous = slots_by_name(&session, &slots);
                session = load(&options.run).await;
                report(Event::Loaded(&session));
                slots = initial_slots(&session, &previous);
            }
        }
    }
    Ok(())
}

/// How long a round in flight may finish after SIGTERM or SIGINT.
const STOP_GRACE: Duration = Duration::from_secs(5);

type Stamp = Vec<(PathBuf, Option<std::time::SystemTime>, u64)>;

/// The manifests' names, times and sizes, read on a blocking thread (a directory walk every
/// second must not hold up the async workers).
async fn stamp_of(paths: &[PathBuf]) -> Stamp {
    let paths = paths.to_vec();
    tokio::task::spawn_blocking(move || manifest_stamp(&paths))
        .await
        .unwrap_or_default()
}

/// Loads the manifests and builds their stores on a blocking thread (file reads, parsing).
async fn load(options: &RunOptions) -> Session {
    let options = options.clone();
    let fallback = options.clone();
    match tokio::task::spawn_blocking(move || Session::load(options)).await {
        Ok(session) => session,
        // Only a panic while loading gets here (a bug): loading again in place lets a
        // passing cause heal and a lasting one fail as it would have without the thread.
        Err(_) => Session::load(fallback),
    }
}

/// Runs the hook once, after a `--once` run that changed targets.
pub async fn run_hook_once(hook: &ChangeHook, changed: &[String]) -> Result<String, String> {
    run_hook(hook, changed).await
}

fn name_of(es: &ExternalSecret) -> String {
    format!(
        "{}/{}",
        es.metadata.namespace.as_deref().unwrap_or(""),
        es.metadata.name.as_deref().unwrap_or("")
    )
}

fn slots_by_name(session: &Session, slots: &[Slot]) -> BTreeMap<String, Slot> {
    session
        .external_secrets()
        .into_iter()
        .zip(slots)
        .map(|(es, slot)| (name_of(es), slot.clone()))
        .collect()
}

/// The schedule after a (re)load: unchanged ExternalSecrets keep their place; new or
/// changed ones are due now (CreatedOnce ones only while their target does not exist).
fn initial_slots(session: &Session, previous: &BTreeMap<String, Slot>) -> Vec<Slot> {
    let now = Instant::now();
    session
        .external_secrets()
        .into_iter()
        .enumerate()
        .map(|(index, es)| {
            let spec = serde_json::to_string(&es.spec).unwrap_or_default();
            if let Some(old) = previous.get(&name_of(es)).filter(|old| old.spec == spec) {
                return old.clone();
            }
            let created_once = es.spec.refresh_policy == Some(RefreshPolicy::CreatedOnce);
            let due = (!created_once || !session.target_exists(index)).then_some(now);
            Slot {
                spec,
                due,
                failures: 0,
            }
        })
        .collect()
}

fn reschedule(slots: &mut [Slot], session: &Session, outcome: &Outcome) {
    let Some(slot) = slots.get_mut(outcome.index) else {
        return;
    };
    let Some(es) = session.external_secrets().get(outcome.index).copied() else {
        return;
    };
    let failed = matches!(outcome.row.status, Status::Failed(_));
    slot.failures = if failed { slot.failures + 1 } else { 0 };
    slot.due = crate::refresh::next_refresh(es, slot.failures).map(|wait| Instant::now() + wait);
}

async fn run_hook(hook: &ChangeHook, changed: &[String]) -> Result<String, String> {
    match hook {
        ChangeHook::Command(command) => {
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .env("KEYWARD_CHANGED", changed.join("\n"))
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("--on-change: cannot start sh: {e}"))?;
            match tokio::time::timeout(HOOK_TIMEOUT, child.wait()).await {
                Ok(Ok(status)) if status.success() => Ok(format!("--on-change ran ({status})")),
                Ok(Ok(status)) => Err(format!("--on-change failed: {status}")),
                Ok(Err(e)) => Err(format!("--on-change: {e}")),
                Err(_) => Err(format!(
                    "--on-change did not finish within {} s and was killed",
                    HOOK_TIMEOUT.as_secs()
                )),
            }
        }
        ChangeHook::Signal { signal, pidfile } => {
            let text = std::fs::read_to_string(pidfile)
                .map_err(|e| format!("--pidfile {}: {e}", pidfile.display()))?;
            let pid: i32 = text.trim().parse().map_err(|_| {
                format!(
                    "--pidfile {}: does not hold a process id",
                    pidfile.display()
                )
            })?;
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), *signal)
                .map(|()| format!("sent {signal} to process {pid}"))
                .map_err(|e| format!("sending {signal} to process {pid}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(dir: &std::path::Path, es_extra: &str) -> Session {
        let manifests = format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake}}\n\
             spec: {{provider: {{fake: {{data: [{{key: k, value: v}}]}}}}}}\n\
             ---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: periodic}}\n\
             spec: {{refreshInterval: 1m, secretStoreRef: {{name: fake}}, data: [{{secretKey: k, remoteRef: {{key: k}}}}]}}\n\
             ---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: once}}\n\
             spec: {{refreshPolicy: CreatedOnce, secretStoreRef: {{name: fake}}, data: [{{secretKey: k, remoteRef: {{key: k}}}}]}}\n\
             ---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: onchange}}\n\
             spec: {{refreshPolicy: OnChange, secretStoreRef: {{name: fake}}, data: [{{secretKey: k, remoteRef: {{key: k{es_extra}}}}}]}}\n"
        );
        std::fs::write(dir.join("m.yaml"), manifests).expect("manifests");
        Session::load(RunOptions {
            paths: vec![dir.join("m.yaml")],
            out: dir.join("out"),
            layout: crate::host::Layout::Dir,
            namespace: keyward_api::NamespaceName::parse("default").expect("valid"),
            credentials: crate::credentials::HostCredentials::default(),
            allow_plaintext_secrets: false,
            wait_for_lock: true,
            record_reads: false,
            fingerprint_key: keyward_core::FingerprintKey::new(keyward_core::SecretValue::from(
                "0123456789abcdef0123456789abcdef",
            ))
            .expect("key"),
        })
    }

    #[tokio::test]
    async fn refresh_policies_schedule_like_eso() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = session(dir.path(), "");
        let mut slots = initial_slots(&first, &BTreeMap::new());
        assert!(
            slots.iter().all(|slot| slot.due.is_some()),
            "everything syncs at start"
        );
        for outcome in first.sync(&[0, 1, 2]).await {
            assert_eq!(outcome.row.status, Status::Synced, "{:?}", outcome.row);
            reschedule(&mut slots, &first, &outcome);
        }
        let due: Vec<bool> = slots.iter().map(|slot| slot.due.is_some()).collect();
        assert_eq!(
            due,
            [true, false, false],
            "Periodic again; CreatedOnce and OnChange not"
        );

        // A restart: CreatedOnce's target exists, so it does not sync again.
        let restarted = initial_slots(&first, &BTreeMap::new());
        assert!(
            restarted[1].due.is_none(),
            "CreatedOnce with an existing target"
        );

        // The OnChange manifest changes: it is due again; the others keep their place.
        let previous = slots_by_name(&first, &slots);
        let changed = session(dir.path(), ", version: v2");
        let after = initial_slots(&changed, &previous);
        assert!(
            after[2].due.is_some(),
            "a changed OnChange ExternalSecret syncs"
        );
        assert_eq!(
            after[0].due, slots[0].due,
            "an unchanged one keeps its schedule"
        );
        assert!(after[1].due.is_none());
    }
}
