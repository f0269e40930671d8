//! TOTP multi-factor authentication: enrolment, verification, replay refusal, lock-out.

use latch_runtime::{ServiceError, ServiceResult};

use super::IdentityService;
use crate::domain::totp::{self, FailureState, TotpSecret, Verification};
use crate::store::MfaRecord;

/// What an enrolment hands the user, once.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub otpauth_uri: String,
    pub secret_base32: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrollment(..)")
    }
}

impl IdentityService {
    /// Starts (or restarts) enrolment: a new secret replaces any previous one.
    pub async fn enroll_mfa(&self, user_id: &str) -> ServiceResult<Enrollment> {
        let user = self.get_user(user_id)?;
        if let Some(existing) = self.store().mfa(&user.id).await?
            && FailureState::from(&existing).is_locked(self.now())
        {
            // Re-enrolling must not be a way around the lock-out.
            return Err(ServiceError::FailedPrecondition(
                "mfa: too many failed codes; try again when the lock-out ends".into(),
            ));
        }
        let secret = TotpSecret::generate();
        let record = MfaRecord {
            user_id: user.id.clone(),
            secret_sealed: self.inner.secrets.seal(secret.as_bytes()),
            confirmed: false,
            last_used_step: None,
            failures_in_a_row: 0,
            locked_until: None,
            created_at: self.now(),
        };
        self.store().put_mfa(&record).await?;
        Ok(Enrollment {
            otpauth_uri: totp::otpauth_uri(&secret, &user.user_name, &self.inner.config.mfa_issuer),
            secret_base32: secret.to_base32(),
        })
    }

    /// Verifies a code. `Ok(false)` for a wrong or replayed code; FAILED_PRECONDITION when the
    /// user has no enrolment or is locked out after five failures in a row.
    pub async fn verify_mfa(&self, user_id: &str, code: &str) -> ServiceResult<bool> {
        let user = self.get_user(user_id)?;
        let record = self.store().mfa(&user.id).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(format!(
                "mfa: {} has not enrolled; run `latch mfa enroll`",
                user.user_name
            ))
        })?;
        let now = self.now();
        let state = FailureState::from(&record);
        if state.is_locked(now) {
            let until = record.locked_until.map(|t| t.to_rfc3339()).unwrap_or_default();
            return Err(ServiceError::FailedPrecondition(format!(
                "mfa: locked after {} failed codes in a row until {until}",
                totp::MAX_FAILURES
            )));
        }
        let secret_bytes = self
            .inner
            .secrets
            .open(&record.secret_sealed)
            .map_err(|_| ServiceError::Internal("mfa secret cannot be decrypted with the configured key".into()))?;
        let secret = TotpSecret::from_bytes(secret_bytes);
        match totp::verify(&secret, code, now, record.last_used_step) {
            Verification::Accepted { step } => {
                if self.store().accept_mfa_step(&user.id, step).await? {
                    return Ok(true);
                }
                // A concurrent verification used this code (or a later one) first.
                self.record_failure(&user.id, state, now).await?;
                Ok(false)
            }
            Verification::Invalid | Verification::Replayed => {
                self.record_failure(&user.id, state, now).await?;
                Ok(false)
            }
        }
    }

    async fn record_failure(
        &self,
        user_id: &str,
        state: FailureState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<()> {
        let next = state.after_failure(now);
        if next.locked_until.is_some() {
            tracing::warn!(user_id, "mfa locked after repeated failures");
        }
        self.store()
            .record_mfa_failure(user_id, next.failures_in_a_row as i32, next.locked_until)
            .await?;
        Ok(())
    }
}

impl From<&MfaRecord> for FailureState {
    fn from(record: &MfaRecord) -> Self {
        FailureState {
            failures_in_a_row: record.failures_in_a_row.max(0) as u32,
            locked_until: record.locked_until,
        }
    }
}
