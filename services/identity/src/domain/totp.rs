//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30 s step)
//! and the failure counter that locks an account out after repeated misses.
//!
//! Everything here is pure: the caller supplies the current instant and the
//! persisted state (last accepted step, failure counter), and stores what
//! comes back.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Width of one TOTP time step, in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Number of decimal digits in a code.
pub const DIGITS: u32 = 6;
/// Failures in a row that trigger a lock-out.
pub const MAX_FAILURES: u32 = 5;
/// How long a lock-out lasts, counted from the failure that triggered it.
pub const LOCKOUT: TimeDelta = TimeDelta::minutes(15);
/// Number of random bytes in a generated secret (160 bits, the HMAC-SHA1
/// output size recommended by RFC 4226 §4).
pub const SECRET_LEN: usize = 20;

/// Steps on either side of the current one whose codes are still accepted,
/// to absorb clock drift and the time the user needs to type.
const WINDOW_STEPS: i64 = 1;

/// [`LOCKOUT`] as a function, for callers that prefer one.
pub fn lockout_duration() -> TimeDelta {
    LOCKOUT
}

/// A shared TOTP key. `Debug` hides the bytes so that a secret never ends up
/// in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh secret of [`SECRET_LEN`] bytes from the thread-local CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps existing key material as-is (e.g. decrypted from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, the form authenticator apps expect.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// Parses base32 as users and other tools write it: case-insensitive,
    /// with or without `=` padding, ignoring whitespace and hyphens (some
    /// tools group the secret for readability). Returns `None` for invalid
    /// input or an empty secret.
    pub fn from_base32(s: &str) -> Option<Self> {
        let normalized: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if normalized.is_empty() {
            return None;
        }
        data_encoding::BASE32_NOPAD.decode(normalized.as_bytes()).ok().map(Self)
    }
}

/// The Key URI that authenticator apps import (usually via a QR code):
/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
/// Issuer and account are percent-encoded separately so that a `:` inside
/// either cannot be mistaken for the label separator.
pub fn otpauth_uri(secret: &TotpSecret, account: &str, issuer: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        account = percent_encode(account),
        secret = secret.to_base32(),
    )
}

/// Percent-encodes every byte except RFC 3986 unreserved characters, so a
/// space becomes `%20` (not `+`, which some apps would display literally).
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The RFC 6238 counter `T = floor(unix_seconds / 30)`; floors towards
/// negative infinity so that steps stay 30 s wide before 1970 too.
pub fn time_step(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS)
}

/// The code of one time step: HOTP (RFC 4226) with the step as counter,
/// dynamically truncated and zero-padded to [`DIGITS`] digits. A negative
/// step is fed to HMAC as its two's-complement 64-bit big-endian bytes,
/// which is what `(u64) T` means in the RFC's reference code.
pub fn code_at_step(secret: &TotpSecret, step: i64) -> String {
    format!("{:0width$}", code_value(secret, step), width = DIGITS as usize)
}

fn code_value(secret: &TotpSecret, step: i64) -> u32 {
    let mut mac = hmac_sha1(&secret.0);
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 §5.3 dynamic truncation: the low nibble of the last byte picks
    // where to read 31 bits from. SHA-1 output is 20 bytes, so offset + 3 <= 18.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

#[allow(clippy::expect_used)]
fn hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    // HMAC is defined for keys of any length (long keys are hashed, short
    // ones zero-padded), so `new_from_slice` cannot fail for `Hmac<Sha1>`.
    Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// Outcome of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The code matched; persist `step` as the new last-used step.
    Accepted { step: i64 },
    /// Wrong code or not a 6-digit code at all; counts as a failure.
    Invalid,
    /// The code matched a step at or before the last accepted one: a code
    /// that was already used, or an older one after a newer. Counts as a
    /// failure too, since a replay is what an eavesdropper would try.
    Replayed,
}

/// Checks `code` against the steps `t-1`, `t` and `t+1` around `at`.
///
/// Spaces are ignored anywhere (apps display codes as `123 456`); anything
/// else that is not exactly six ASCII digits is [`Verification::Invalid`].
///
/// When the code matches several steps of the window (a 1-in-10^6 collision)
/// the latest one counts, so that the same string cannot be accepted a
/// second time within the window.
///
/// All window codes are computed and compared in constant time, so the
/// response time does not reveal which step or how many digits matched.
/// Whether the caller is locked out is the caller's business: check
/// [`FailureState::is_locked`] before calling this.
pub fn verify(secret: &TotpSecret, code: &str, at: DateTime<Utc>, last_used_step: Option<i64>) -> Verification {
    let Some(submitted) = normalize_code(code) else {
        return Verification::Invalid;
    };
    let current = time_step(at);
    let mut matched: Option<i64> = None;
    for delta in -WINDOW_STEPS..=WINDOW_STEPS {
        // `at` comes from a DateTime, whose timestamp divided by 30 is far
        // from the i64 limits, but saturate anyway rather than trust that.
        let step = current.saturating_add(delta);
        let expected = code_at_step(secret, step);
        if constant_time_eq(expected.as_bytes(), &submitted) {
            matched = Some(step);
        }
    }
    match (matched, last_used_step) {
        (None, _) => Verification::Invalid,
        (Some(step), Some(last)) if step <= last => Verification::Replayed,
        (Some(step), _) => Verification::Accepted { step },
    }
}

/// Strips spaces and returns the digits if exactly [`DIGITS`] ASCII digits remain.
fn normalize_code(code: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = code.bytes().filter(|b| *b != b' ').collect();
    (digits.len() == DIGITS as usize && digits.iter().all(u8::is_ascii_digit)).then_some(digits)
}

/// Compares without an early exit, so timing depends only on the lengths
/// (which are public: always [`DIGITS`] here).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The persisted failure counter of one user's TOTP factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    pub failures_in_a_row: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl FailureState {
    /// No failures, not locked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locked while `now` is strictly before `locked_until`; the lock is
    /// released exactly at `locked_until`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Records one failure. The [`MAX_FAILURES`]th failure in a row locks for
    /// [`LOCKOUT`] from `now` and resets the counter, so that after the lock
    /// expires the user again has the full number of attempts. An expired
    /// lock is dropped rather than carried along.
    pub fn after_failure(self, now: DateTime<Utc>) -> FailureState {
        let failures = self.failures_in_a_row.saturating_add(1);
        if failures >= MAX_FAILURES {
            FailureState {
                failures_in_a_row: 0,
                // Saturate rather than panic for a `now` at the end of time.
                locked_until: Some(now.checked_add_signed(LOCKOUT).unwrap_or(DateTime::<Utc>::MAX_UTC)),
            }
        } else {
            FailureState {
                failures_in_a_row: failures,
                locked_until: self.locked_until.filter(|until| now < *until),
            }
        }
    }

    /// Records a success: clears the counter and any lock.
    pub fn after_success(self) -> FailureState {
        FailureState::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    fn instant(unix_seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix_seconds, 0).unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let vectors = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        let secret = rfc_secret();
        for (unix_seconds, expected) in vectors {
            let step = time_step(instant(unix_seconds));
            assert_eq!(code_at_step(&secret, step), expected, "T = {unix_seconds}");
            assert_eq!(
                verify(&secret, expected, instant(unix_seconds), None),
                Verification::Accepted { step }
            );
        }
    }

    #[test]
    fn time_step_floors_negative_instants() {
        assert_eq!(time_step(instant(0)), 0);
        assert_eq!(time_step(instant(29)), 0);
        assert_eq!(time_step(instant(30)), 1);
        assert_eq!(time_step(instant(-1)), -1);
        assert_eq!(time_step(instant(-30)), -1);
        assert_eq!(time_step(instant(-31)), -2);
    }

    #[test]
    fn generated_secret_has_20_bytes_and_differs() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), SECRET_LEN);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_hides_secret_bytes() {
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(..)");
    }

    #[test]
    fn base32_round_trip() {
        let secret = rfc_secret();
        let encoded = secret.to_base32();
        assert_eq!(encoded, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(TotpSecret::from_base32(&encoded), Some(secret.clone()));
        let generated = TotpSecret::generate();
        assert_eq!(TotpSecret::from_base32(&generated.to_base32()), Some(generated));
    }

    #[test]
    fn base32_parsing_is_lenient_about_format_not_content() {
        let secret = TotpSecret::from_bytes(vec![1, 2, 3]);
        assert_eq!(secret.to_base32(), "AEBAG");
        assert_eq!(TotpSecret::from_base32("aebag"), Some(secret.clone()));
        assert_eq!(TotpSecret::from_base32("AEBAG==="), Some(secret.clone()));
        assert_eq!(TotpSecret::from_base32("AEB AG"), Some(secret));
        assert_eq!(TotpSecret::from_base32(""), None);
        assert_eq!(TotpSecret::from_base32("===="), None);
        assert_eq!(TotpSecret::from_base32("AEBA1"), None);
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
    }

    #[test]
    fn otpauth_uri_format() {
        let uri = otpauth_uri(&rfc_secret(), "alice@example.com", "Acme Latch");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Latch:alice%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Latch\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_encodes_colons_and_unicode() {
        let uri = otpauth_uri(&rfc_secret(), "a:b", "Läbel&x=y");
        assert!(uri.starts_with("otpauth://totp/L%C3%A4bel%26x%3Dy:a%3Ab?"));
        assert!(uri.contains("&issuer=L%C3%A4bel%26x%3Dy&"));
    }

    #[test]
    fn accepts_adjacent_steps_and_rejects_further_ones() {
        let secret = rfc_secret();
        let at = instant(1_234_567_890);
        let t = time_step(at);
        for delta in -1..=1 {
            let code = code_at_step(&secret, t + delta);
            assert_eq!(
                verify(&secret, &code, at, None),
                Verification::Accepted { step: t + delta }
            );
        }
        for delta in [-3, -2, 2, 3] {
            let code = code_at_step(&secret, t + delta);
            assert_eq!(verify(&secret, &code, at, None), Verification::Invalid);
        }
    }

    #[test]
    fn input_normalization() {
        let secret = rfc_secret();
        let at = instant(59);
        let accepted = Verification::Accepted { step: 1 };
        assert_eq!(verify(&secret, " 287082 ", at, None), accepted);
        assert_eq!(verify(&secret, "287 082", at, None), accepted);
        for bad in ["", "28708", "2870820", "28708a", "２８７０８２", "287-082", "\t287082"] {
            assert_eq!(verify(&secret, bad, at, None), Verification::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn replay_is_refused() {
        let secret = rfc_secret();
        let at = instant(1_111_111_109);
        let code = code_at_step(&secret, time_step(at));
        let Verification::Accepted { step } = verify(&secret, &code, at, None) else {
            panic!("first use must be accepted");
        };
        assert_eq!(verify(&secret, &code, at, Some(step)), Verification::Replayed);
        // An older code after a newer one is refused too.
        let older = code_at_step(&secret, step - 1);
        assert_eq!(verify(&secret, &older, at, Some(step)), Verification::Replayed);
        // A newer one is fine.
        let newer = code_at_step(&secret, step + 1);
        assert_eq!(
            verify(&secret, &newer, at, Some(step)),
            Verification::Accepted { step: step + 1 }
        );
        // A wrong code stays Invalid whatever the last step.
        assert_eq!(verify(&secret, "000000", at, Some(step)), Verification::Invalid);
    }

    #[test]
    fn lockout_after_exactly_five_failures_and_release_after_fifteen_minutes() {
        let now = instant(1_700_000_000);
        let mut state = FailureState::new();
        for attempt in 1..MAX_FAILURES {
            state = state.after_failure(now);
            assert_eq!(state.failures_in_a_row, attempt);
            assert!(!state.is_locked(now), "locked after only {attempt} failures");
        }
        state = state.after_failure(now);
        assert_eq!(
            state,
            FailureState {
                failures_in_a_row: 0,
                locked_until: Some(now + TimeDelta::minutes(15)),
            }
        );
        assert!(state.is_locked(now));
        assert!(state.is_locked(now + TimeDelta::minutes(15) - TimeDelta::seconds(1)));
        assert!(!state.is_locked(now + TimeDelta::minutes(15)));
        assert_eq!(lockout_duration(), TimeDelta::minutes(15));
    }

    #[test]
    fn success_resets_the_counter() {
        let now = instant(1_700_000_000);
        let state = FailureState::new()
            .after_failure(now)
            .after_failure(now)
            .after_failure(now)
            .after_success();
        assert_eq!(state, FailureState::new());
        // The count starts over: four more failures do not lock.
        let state = (0..4).fold(state, |s, _| s.after_failure(now));
        assert!(!state.is_locked(now));
    }

    #[test]
    fn expired_lock_is_dropped_on_the_next_failure() {
        let now = instant(1_700_000_000);
        let locked = (0..MAX_FAILURES).fold(FailureState::new(), |s, _| s.after_failure(now));
        let later = now + LOCKOUT + TimeDelta::seconds(1);
        assert_eq!(
            locked.after_failure(later),
            FailureState {
                failures_in_a_row: 1,
                locked_until: None,
            }
        );
    }

    #[test]
    fn lockout_at_the_end_of_time_saturates() {
        let end = DateTime::<Utc>::MAX_UTC;
        let locked = (0..MAX_FAILURES).fold(FailureState::new(), |s, _| s.after_failure(end));
        assert_eq!(locked.locked_until, Some(end));
    }

    fn arb_secret() -> impl Strategy<Value = TotpSecret> {
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(TotpSecret::from_bytes)
    }

    /// Unix seconds from year 1900 to year 2200.
    fn arb_unix_seconds() -> impl Strategy<Value = i64> {
        -2_208_988_800i64..7_258_118_400i64
    }

    proptest! {
        #[test]
        fn code_accepted_within_window_only(
            secret in arb_secret(),
            issued_at in arb_unix_seconds(),
            delta in -5i64..=5,
            offset_in_step in 0i64..STEP_SECONDS,
        ) {
            let s = time_step(instant(issued_at));
            let code = code_at_step(&secret, s);
            let t = s + delta;
            let at = instant(t * STEP_SECONDS + offset_in_step);
            prop_assert_eq!(time_step(at), t);
            let result = verify(&secret, &code, at, None);
            if delta.abs() <= 1 {
                // Another window step may share the code; the latest wins,
                // which is never earlier than s.
                match result {
                    Verification::Accepted { step } => prop_assert!(step >= s && step <= t + 1),
                    other => prop_assert!(false, "expected Accepted, got {:?}", other),
                }
            } else {
                let collides = (t - 1..=t + 1).any(|w| code_at_step(&secret, w) == code);
                if !collides {
                    prop_assert_eq!(result, Verification::Invalid);
                }
            }
        }

        #[test]
        fn time_step_is_monotonic_and_30s_wide(a in arb_unix_seconds(), b in arb_unix_seconds()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(time_step(instant(lo)) <= time_step(instant(hi)));
            let step = time_step(instant(a));
            prop_assert!(step * STEP_SECONDS <= a && a < (step + 1) * STEP_SECONDS);
            prop_assert_eq!(time_step(instant(step * STEP_SECONDS)), step);
            prop_assert_eq!(time_step(instant(step * STEP_SECONDS - 1)), step - 1);
            prop_assert_eq!(time_step(instant(a + STEP_SECONDS)), step + 1);
        }

        #[test]
        fn never_accepts_a_step_at_or_before_the_last_used(
            secret in arb_secret(),
            at in arb_unix_seconds(),
            last_delta in -3i64..=3,
            code_delta in -2i64..=2,
            random_code in "[0-9]{6}",
            use_random in any::<bool>(),
        ) {
            let at = instant(at);
            let t = time_step(at);
            let last = t + last_delta;
            let code = if use_random { random_code } else { code_at_step(&secret, t + code_delta) };
            match verify(&secret, &code, at, Some(last)) {
                Verification::Accepted { step } => {
                    prop_assert!(step > last);
                    prop_assert!((t - 1..=t + 1).contains(&step));
                    prop_assert_eq!(code_at_step(&secret, step), code);
                }
                Verification::Replayed | Verification::Invalid => {}
            }
        }
    }
}
