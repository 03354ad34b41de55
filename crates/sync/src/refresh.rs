//! When an ExternalSecret is refreshed next: one rule for `keyward sync --watch` and the
//! operator's requeue.
//!
//! - `refreshPolicy: Periodic` (the default) every `refreshInterval` (default `1h`; `0`
//!   syncs once);
//! - `CreatedOnce` and `OnChange`: not on a timer (a new target, or a changed manifest, brings
//!   them back);
//! - after a failure, sooner: 5 s, doubling up to 5 min, never later than the interval.
//!
//! Every wait is stretched or shortened by up to 10% at random, so that many ExternalSecrets
//! (or hosts) started together do not call their store in step. ESO does not jitter; keyward
//! does on purpose (docs/operator.md).

use std::time::Duration;

use keyward_api::{ExternalSecret, RefreshPolicy};

/// `refreshInterval` when the manifest names none (ESO's CRD default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);
/// The first retry after a failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between retries.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// The ExternalSecret's `refreshInterval`, or why it is invalid.
pub fn interval(es: &ExternalSecret) -> Result<Duration, String> {
    es.spec
        .refresh_interval
        .as_deref()
        .map_or(Ok(DEFAULT_INTERVAL), keyward_api::parse_go_duration)
}

/// How long until the next refresh, after a refresh that ended with `failures` consecutive
/// failures (0: it succeeded). `None`: not on a timer.
pub fn next_refresh(es: &ExternalSecret, failures: u32) -> Option<Duration> {
    let Ok(interval) = interval(es) else {
        // Reported as the ExternalSecret's failure on every attempt: retry slowly.
        return Some(MAX_RETRY);
    };
    if failures > 0 {
        return Some(jittered(retry_wait(failures, interval)));
    }
    let timed = matches!(es.spec.refresh_policy, None | Some(RefreshPolicy::Periodic));
    (timed && !interval.is_zero()).then(|| jittered(interval))
}

/// 5 s, 10 s, 20 s, … up to 5 min, and never more than the interval (when it has one).
pub fn retry_wait(failures: u32, interval: Duration) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = doubled.min(MAX_RETRY);
    if interval.is_zero() {
        capped
    } else {
        capped.min(interval)
    }
}

/// `wait` stretched or shortened by up to 10%.
pub fn jittered(wait: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let unit = match getrandom::fill(&mut byte) {
        Ok(()) => f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX),
        Err(_) => 0.5,
    };
    wait.mul_f64(0.9 + 0.2 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(policy: Option<RefreshPolicy>, interval: Option<&str>) -> ExternalSecret {
        let mut es = ExternalSecret::new("db", Default::default());
        es.spec.refresh_policy = policy;
        es.spec.refresh_interval = interval.map(str::to_owned);
        es
    }

    #[test]
    fn retries_back_off_and_stay_within_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(retry_wait(1, hour), Duration::from_secs(5));
        assert_eq!(retry_wait(2, hour), Duration::from_secs(10));
        assert_eq!(retry_wait(20, hour), MAX_RETRY);
        assert_eq!(
            retry_wait(3, Duration::from_secs(8)),
            Duration::from_secs(8)
        );
        assert_eq!(retry_wait(40, Duration::ZERO), MAX_RETRY);
    }

    #[test]
    fn policies_decide_whether_a_timer_runs() {
        let within = |wait: Option<Duration>, around: u64| {
            let secs = wait.expect("timed").as_secs_f64();
            (around as f64 * 0.9..=around as f64 * 1.1).contains(&secs)
        };
        assert!(within(next_refresh(&es(None, None), 0), 3600));
        assert!(within(
            next_refresh(&es(Some(RefreshPolicy::Periodic), Some("1m")), 0),
            60
        ));
        assert_eq!(next_refresh(&es(None, Some("0")), 0), None);
        assert_eq!(
            next_refresh(&es(Some(RefreshPolicy::CreatedOnce), None), 0),
            None
        );
        assert_eq!(
            next_refresh(&es(Some(RefreshPolicy::OnChange), None), 0),
            None
        );
        assert!(within(
            next_refresh(&es(Some(RefreshPolicy::OnChange), None), 1),
            5
        ));
        assert_eq!(next_refresh(&es(None, Some("soon")), 0), Some(MAX_RETRY));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..200 {
            let wait = jittered(Duration::from_secs(100)).as_secs_f64();
            assert!((90.0..=110.0).contains(&wait), "{wait}");
        }
    }
}
