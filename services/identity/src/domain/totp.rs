//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30 s step)
//! and the failure counter that locks an account out after repeated misses.
//!
//! The code arithmetic (HOTP, dynamic truncation, constant-time comparison) is
//! the `totp-rs` crate's; Latch's rules are here: the ±1 step window, refusing a
//! step at or before the last accepted one (replay), the lock-out, and keeping
//! secrets out of `Debug` output.
//!
//! Everything here is pure: the caller supplies the current instant and the
//! persisted state (last accepted step, failure counter), and stores what
//! comes back.

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

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

/// The code of one time step (RFC 6238: HOTP with the step as counter), or `None` for a step
/// before the Unix epoch, which has no code (RFC 6238 counts `T` from 1970-01-01).
pub fn code_at_step(secret: &TotpSecret, step: i64) -> Option<String> {
    Some(generator(secret).generate(step_start(step)?).to_string())
}

/// The first Unix second of `step`, as the library counts time.
fn step_start(step: i64) -> Option<u64> {
    u64::try_from(step).ok()?.checked_mul(STEP_SECONDS as u64)
}

/// The RFC 6238 arithmetic, from `totp-rs`: HMAC-SHA1, [`DIGITS`] digits, [`STEP_SECONDS`]-second
/// steps. Its skew is 0 because Latch checks each step of its window itself (see [`verify`]):
/// the library's own window would pick the earliest matching step, and Latch's replay rule
/// needs the latest. Built without the library's compliance check, which refuses keys under
/// 128 bits: the key length is Latch's rule ([`SECRET_LEN`]), and a stored key that predates it
/// must keep working.
fn generator(secret: &TotpSecret) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_step_duration(STEP_SECONDS as u64)
        .with_skew(0)
        .with_secret(secret.0.clone())
        .build_noncompliant()
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
    let generator = generator(secret);
    let current = time_step(at);
    let mut matched: Option<i64> = None;
    for delta in -WINDOW_STEPS..=WINDOW_STEPS {
        // `at` comes from a DateTime, whose timestamp divided by 30 is far
        // from the i64 limits, but saturate anyway rather than trust that.
        let step = current.saturating_add(delta);
        // The library parses the code and compares it in constant time.
        let Some(start) = step_start(step) else {
            continue;
        };
        if generator.check(&submitted, start).is_some() {
            matched = Some(step);
        }
    }
    match (matched, last_used_step) {
        (None, _) => Verification::Invalid,
        (Some(step), Some(last)) if step <= last => Verification::Replayed,
        (Some(step), _) => Verification::Accepted { step },
    }
}

/// Strips spaces and returns the code if exactly [`DIGITS`] ASCII digits remain.
fn normalize_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| *c != ' ').collect();
    (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
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
mod tests;
