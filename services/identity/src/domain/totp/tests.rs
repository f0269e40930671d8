#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890".to_vec())
}

/// The code of a step after the Unix epoch.
fn code_of(secret: &TotpSecret, step: i64) -> String {
    code_at_step(secret, step).expect("a step after the Unix epoch has a code")
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
        assert_eq!(code_of(&secret, step), expected, "T = {unix_seconds}");
        assert_eq!(
            verify(&secret, expected, instant(unix_seconds), None),
            Verification::Accepted { step }
        );
    }
}

#[test]
fn steps_before_the_epoch_have_no_code_and_nothing_verifies_there() {
    let secret = rfc_secret();
    assert_eq!(code_at_step(&secret, -1), None);
    assert_eq!(code_at_step(&secret, i64::MIN), None);
    // At 00:00:10 the window's step -1 has no code; steps 0 and 1 still verify.
    let at = instant(10);
    assert_eq!(
        verify(&secret, &code_of(&secret, 0), at, None),
        Verification::Accepted { step: 0 }
    );
    assert_eq!(
        verify(&secret, &code_of(&secret, 1), at, None),
        Verification::Accepted { step: 1 }
    );
    for code in ["000000", "123456", "287082"] {
        assert_eq!(verify(&secret, code, instant(-3600), None), Verification::Invalid);
    }
}

#[test]
fn codes_far_in_the_future_do_not_overflow() {
    let secret = rfc_secret();
    let end_of_time = DateTime::<Utc>::MAX_UTC;
    let step = time_step(end_of_time);
    let now = code_of(&secret, step);
    assert_eq!(
        verify(&secret, &now, end_of_time, None),
        Verification::Accepted { step }
    );
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
        let code = code_of(&secret, t + delta);
        assert_eq!(
            verify(&secret, &code, at, None),
            Verification::Accepted { step: t + delta }
        );
    }
    for delta in [-3, -2, 2, 3] {
        let code = code_of(&secret, t + delta);
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
    let code = code_of(&secret, time_step(at));
    let Verification::Accepted { step } = verify(&secret, &code, at, None) else {
        panic!("first use must be accepted");
    };
    assert_eq!(verify(&secret, &code, at, Some(step)), Verification::Replayed);
    // An older code after a newer one is refused too.
    let older = code_of(&secret, step - 1);
    assert_eq!(verify(&secret, &older, at, Some(step)), Verification::Replayed);
    // A newer one is fine.
    let newer = code_of(&secret, step + 1);
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

/// Unix seconds from ten minutes after the epoch (so a few steps either side still have codes)
/// to year 2200.
fn arb_unix_seconds() -> impl Strategy<Value = i64> {
    600i64..7_258_118_400i64
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
        let code = code_of(&secret, s);
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
            let collides = (t - 1..=t + 1).any(|w| code_of(&secret, w) == code);
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
        let code = if use_random { random_code } else { code_of(&secret, t + code_delta) };
        match verify(&secret, &code, at, Some(last)) {
            Verification::Accepted { step } => {
                prop_assert!(step > last);
                prop_assert!((t - 1..=t + 1).contains(&step));
                prop_assert_eq!(code_of(&secret, step), code);
            }
            Verification::Replayed | Verification::Invalid => {}
        }
    }
}
