//! Duration insights: how long people ask for under a flow against the flow's maximum, and
//! the shorter maximum to suggest when requests are consistently well below it.

/// Requests a flow needs in the window before its durations say anything.
pub const MIN_HISTORY: usize = 10;

/// Round maxima to suggest, in seconds (15m … 30d).
const NICE: [i64; 15] = [
    900, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400, 172_800, 259_200, 604_800, 1_209_600, 2_592_000,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationStats {
    pub count: usize,
    pub median_secs: i64,
    pub p90_secs: i64,
    pub longest_secs: i64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], pct: usize) -> i64 {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

pub fn stats(durations: &[i64]) -> Option<DurationStats> {
    if durations.is_empty() {
        return None;
    }
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    Some(DurationStats {
        count: sorted.len(),
        median_secs: percentile(&sorted, 50),
        p90_secs: percentile(&sorted, 90),
        longest_secs: *sorted.last().unwrap_or(&0),
    })
}

/// The shorter maximum to suggest: when there is enough history and nine requests in ten ask
/// for at most half the maximum, the smallest round duration covering those nine in ten.
pub fn suggested_maximum(maximum_secs: i64, stats: &DurationStats) -> Option<i64> {
    if stats.count < MIN_HISTORY || stats.p90_secs * 2 > maximum_secs {
        return None;
    }
    NICE.iter()
        .copied()
        .find(|nice| *nice >= stats.p90_secs)
        .filter(|nice| *nice < maximum_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_requests_under_a_long_maximum_suggest_a_round_shorter_one() {
        let mut asked = vec![1800; 18];
        asked.extend([2400, 3000]);
        let s = stats(&asked).unwrap();
        assert_eq!(
            (s.count, s.median_secs, s.p90_secs, s.longest_secs),
            (20, 1800, 1800, 3000)
        );
        assert_eq!(suggested_maximum(8 * 3600, &s), Some(1800));
    }

    #[test]
    fn no_suggestion_without_history_or_when_requests_use_the_maximum() {
        let few = stats(&[600; 9]).unwrap();
        assert_eq!(suggested_maximum(8 * 3600, &few), None, "nine requests are too few");
        let long = stats(&[5 * 3600; 20]).unwrap();
        assert_eq!(
            suggested_maximum(8 * 3600, &long),
            None,
            "more than half is not well below"
        );
        let half = stats(&[4 * 3600; 20]).unwrap();
        assert_eq!(suggested_maximum(8 * 3600, &half), Some(4 * 3600), "at most half is");
        let close = stats(&[3 * 3600; 20]).unwrap();
        assert_eq!(suggested_maximum(4 * 3600, &close), None);
    }

    #[test]
    fn the_suggestion_is_never_the_maximum_itself() {
        let s = stats(&[3000; 20]).unwrap();
        assert_eq!(suggested_maximum(3600, &s), None, "1h would be the same as the maximum");
        assert_eq!(suggested_maximum(7200, &s), Some(3600));
    }
}
