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
    /// Starts (or restarts) enrolment: a new secret replaces any previous one. Replacing a
    /// confirmed enrolment needs a current code of it (`current_code`).
    pub async fn enroll_mfa(&self, user_id: &str, current_code: &str) -> ServiceResult<Enrollment> {
        let user = self.get_user(user_id)?;
        if let Some(existing) = self.store().mfa(&user.id).await? {
            if FailureState::from(&existing).is_locked(self.now()) {
                // Re-enrolling must not be a way around the lock-out.
                return Err(ServiceError::FailedPrecondition(
                    "mfa: too many failed codes; try again when the lock-out ends".into(),
                ));
            }
            if existing.confirmed {
                if current_code.trim().is_empty() {
                    return Err(ServiceError::FailedPrecondition(
                        "mfa: already enrolled; send a current code to replace the device, or ask an admin to reset it"
                            .into(),
                    ));
                }
                if !self.verify_mfa(&user.id, current_code).await? {
                    return Err(ServiceError::PermissionDenied(
                        "mfa: the current code was not accepted".into(),
                    ));
                }
            }
        }
        let secret = TotpSecret::generate();
        let record = MfaRecord {
            user_id: user.id.clone(),
            secret_sealed: self.inner.secrets.seal_bound(secret.as_bytes(), user.id.as_bytes()),
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
            .open_bound(&record.secret_sealed, user.id.as_bytes())
            .map_err(|_| ServiceError::Internal("mfa secret cannot be decrypted with the configured key".into()))?;
        let secret = TotpSecret::from_bytes(secret_bytes);
        match totp::verify(&secret, code, now, record.last_used_step) {
            Verification::Accepted { step } => {
                if self.store().accept_mfa_step(&user.id, step, now).await? {
                    return Ok(true);
                }
                // A concurrent verification used this code (or a later one) first.
                self.record_failure(&user.id, now).await?;
                Ok(false)
            }
            Verification::Invalid | Verification::Replayed => {
                self.record_failure(&user.id, now).await?;
                Ok(false)
            }
        }
    }

    /// Admin reset of a user's enrolment.
    pub async fn reset_mfa(&self, user_id: &str) -> ServiceResult<bool> {
        let user = self.get_user(user_id)?;
        let reset = self.store().delete_mfa(&user.id).await?;
        tracing::info!(user_id = %user.id, reset, "mfa enrolment reset");
        Ok(reset)
    }

    async fn record_failure(&self, user_id: &str, now: chrono::DateTime<chrono::Utc>) -> ServiceResult<()> {
        let lock_until = now + totp::lockout_duration();
        self.store()
            .record_mfa_failure(user_id, totp::MAX_FAILURES as i32, lock_until)
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
