//! When a failed job runs again: exponential backoff with a cap and deterministic jitter (from
//! the job id, so replicas agree and tests are repeatable).

use chrono::{DateTime, TimeDelta, Utc};

/// The first retry after 1 s, doubling, never more than 5 minutes apart.
pub const BASE_SECONDS: i64 = 1;
pub const CAP_SECONDS: i64 = 300;

fn jitter_millis(job_id: &str, attempt: u32) -> i64 {
    // FNV-1a over the id and attempt: cheap, stable, spreads retries of many jobs apart.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in job_id.bytes().chain(attempt.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 1000) as i64
}

/// When attempt number `attempt` (1 for the first retry) of `job_id` is due.
pub fn retry_at(job_id: &str, attempt: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let exponent = attempt.saturating_sub(1).min(20);
    let seconds = (BASE_SECONDS << exponent).min(CAP_SECONDS);
    now + TimeDelta::seconds(seconds) + TimeDelta::milliseconds(jitter_millis(job_id, attempt))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    #[test]
    fn doubles_then_caps() {
        let delay = |attempt| (retry_at("job", attempt, t0()) - t0()).num_seconds();
        assert_eq!(
            [delay(1), delay(2), delay(3), delay(9), delay(10), delay(50)],
            [1, 2, 4, 256, 300, 300]
        );
    }

    proptest! {
        #[test]
        fn retries_are_later_bounded_and_repeatable(id in "[a-z0-9-]{1,20}", attempt in 1u32..1000) {
            let at = retry_at(&id, attempt, t0());
            prop_assert!(at > t0());
            prop_assert!(at <= t0() + TimeDelta::seconds(CAP_SECONDS + 1));
            prop_assert_eq!(at, retry_at(&id, attempt, t0()));
        }
    }
}
