//! The request lifecycle (see DESIGN.md):
//!
//! ```text
//! SUBMITTED → (AWAITING_MFA) → PENDING_APPROVAL → APPROVED → GRANTING → ACTIVE ⇄ (extended)
//!                                    ↘ REJECTED / CANCELLED / APPROVAL_TIMED_OUT        ↓
//!                               GRANTING → FAILED (partial grants rolled back)    REVOKING → EXPIRED / REVOKED
//! ```
//!
//! Every change of state goes through [`next`], so an impossible transition is an error, never
//! a silent overwrite.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Submitted,
    AwaitingMfa,
    PendingApproval,
    /// Approved and waiting for its start time (or for the grant job to pick it up).
    Approved,
    Granting,
    Active,
    Revoking,
    Expired,
    Revoked,
    Rejected,
    Cancelled,
    ApprovalTimedOut,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The flow requires MFA and the grantee has not verified yet.
    MfaRequired,
    MfaVerified,
    /// The flow requires approval.
    ApprovalRequired,
    /// The approval policy is satisfied (or approval is automatic).
    Approved,
    Rejected,
    /// The requester, grantee or an admin withdrew a request not yet granted.
    Cancelled,
    ApprovalTimedOut,
    /// The start time has come; grant jobs begin.
    GrantStarted,
    /// Every item is granted.
    AllGranted,
    /// An item failed permanently; granted items are rolled back.
    GrantFailed,
    /// Extension within the flow's limits (stays active).
    Extended,
    /// The end time has come.
    Expire,
    /// Revoked early by the grantee, the requester or an admin.
    Revoke,
    /// Every item is revoked at the connector.
    RevokeConfirmed,
}

impl State {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Expired
                | State::Revoked
                | State::Rejected
                | State::Cancelled
                | State::ApprovalTimedOut
                | State::Failed
        )
    }

    /// Whether access may exist at the target system in this state (so it must be revoked).
    pub fn may_hold_access(self) -> bool {
        matches!(self, State::Granting | State::Active | State::Revoking)
    }
}

/// Why a transition was refused, for the caller ("cannot extend a request that is revoked").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionError {
    pub from: State,
    pub event: Event,
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a request that is {:?} cannot take {:?}", self.from, self.event)
    }
}

/// The one transition table. While revoking, a request remembers whether it ends expired or
/// revoked through `ends_as` (expiry wins only if it came first).
pub fn next(from: State, event: Event) -> Result<State, TransitionError> {
    use Event as E;
    use State as S;
    let to = match (from, event) {
        (S::Submitted, E::MfaRequired) => S::AwaitingMfa,
        (S::Submitted | S::AwaitingMfa, E::ApprovalRequired) => S::PendingApproval,
        (S::Submitted | S::AwaitingMfa | S::PendingApproval, E::Approved) => S::Approved,
        (S::AwaitingMfa, E::MfaVerified) => S::Submitted,
        (S::PendingApproval, E::Rejected) => S::Rejected,
        (S::PendingApproval, E::ApprovalTimedOut) => S::ApprovalTimedOut,
        (S::Submitted | S::AwaitingMfa | S::PendingApproval | S::Approved, E::Cancelled) => S::Cancelled,
        (S::Approved, E::GrantStarted) => S::Granting,
        (S::Granting, E::AllGranted) => S::Active,
        (S::Granting, E::GrantFailed) => S::Failed,
        (S::Active, E::Extended) => S::Active,
        (S::Granting | S::Active, E::Expire | E::Revoke) => S::Revoking,
        (S::Revoking, E::Expire | E::Revoke) => S::Revoking,
        (S::Revoking, E::RevokeConfirmed) => S::Revoked,
        _ => return Err(TransitionError { from, event }),
    };
    Ok(to)
}

/// How a revocation ends: expired when the time ran out, revoked when someone ended it early.
pub fn revoked_state(by_expiry: bool) -> State {
    if by_expiry { State::Expired } else { State::Revoked }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STATES: [State; 13] = [
        State::Submitted,
        State::AwaitingMfa,
        State::PendingApproval,
        State::Approved,
        State::Granting,
        State::Active,
        State::Revoking,
        State::Expired,
        State::Revoked,
        State::Rejected,
        State::Cancelled,
        State::ApprovalTimedOut,
        State::Failed,
    ];
    const EVENTS: [Event; 14] = [
        Event::MfaRequired,
        Event::MfaVerified,
        Event::ApprovalRequired,
        Event::Approved,
        Event::Rejected,
        Event::Cancelled,
        Event::ApprovalTimedOut,
        Event::GrantStarted,
        Event::AllGranted,
        Event::GrantFailed,
        Event::Extended,
        Event::Expire,
        Event::Revoke,
        Event::RevokeConfirmed,
    ];

    #[test]
    fn the_happy_path_with_mfa_and_approval() {
        let mut state = State::Submitted;
        for event in [
            Event::MfaRequired,
            Event::MfaVerified,
            Event::ApprovalRequired,
            Event::Approved,
            Event::GrantStarted,
            Event::AllGranted,
            Event::Extended,
            Event::Expire,
            Event::RevokeConfirmed,
        ] {
            state = next(state, event).unwrap();
        }
        assert_eq!(state, State::Revoked);
    }

    #[test]
    fn granted_access_cannot_be_cancelled_only_revoked() {
        assert!(next(State::Active, Event::Cancelled).is_err());
        assert_eq!(next(State::Active, Event::Revoke), Ok(State::Revoking));
        assert!(next(State::Revoked, Event::Extended).is_err());
        assert_eq!(
            next(State::Expired, Event::Extended).unwrap_err().to_string(),
            "a request that is Expired cannot take Extended"
        );
    }

    proptest! {
        /// Terminal states take no event; states that may hold access never reach a terminal
        /// state except through revocation confirmed or a failed grant (rolled back).
        #[test]
        fn terminal_states_are_final_and_access_is_always_taken_back(path in prop::collection::vec(0usize..14, 0..30)) {
            let mut state = State::Submitted;
            for index in path {
                let event = EVENTS[index];
                match next(state, event) {
                    Ok(to) => {
                        prop_assert!(!state.is_terminal());
                        if state.may_hold_access() && to.is_terminal() {
                            prop_assert!(matches!((state, event), (State::Revoking, Event::RevokeConfirmed) | (State::Granting, Event::GrantFailed)));
                        }
                        state = to;
                    }
                    Err(error) => prop_assert_eq!(error.from, state),
                }
            }
        }
    }

    #[test]
    fn every_terminal_state_refuses_every_event() {
        for state in STATES.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                assert!(next(state, event).is_err(), "{state:?} took {event:?}");
            }
        }
    }
}
