//! The audit log's hash chain. Each sealed event carries its place in the chain, the hash of the
//! event before it and its own hash over both and every field, so changing, removing or
//! reordering any sealed event breaks the chain from that event on.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The "previous hash" of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub source: String,
    pub grantee: String,
    pub flow: String,
    /// Resource names, comma-separated.
    pub resources: String,
    /// JSON of the state before and after (`null` when there is none).
    pub before: String,
    pub after: String,
    pub detail: String,
    /// Place in the chain; `None` until sealed.
    pub sequence: Option<i64>,
    pub previous_hash: String,
    pub hash: String,
}

/// The hash of `event` sealed at `sequence` after an event hashed `previous`.
pub fn link_hash(previous: &str, sequence: i64, event: &AuditEvent) -> String {
    let mut hash = Sha256::new();
    let sequence = sequence.to_string();
    let at = event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for field in [
        previous,
        sequence.as_str(),
        event.id.as_str(),
        at.as_str(),
        event.actor.as_str(),
        event.action.as_str(),
        event.subject.as_str(),
        event.source.as_str(),
        event.grantee.as_str(),
        event.flow.as_str(),
        event.resources.as_str(),
        event.before.as_str(),
        event.after.as_str(),
        event.detail.as_str(),
    ] {
        // Length-prefixed, so no two field lists hash alike.
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Seals `event` as the next link after (`previous_sequence`, `previous_hash`).
pub fn seal(event: &mut AuditEvent, previous_sequence: i64, previous_hash: &str) {
    let sequence = previous_sequence + 1;
    event.sequence = Some(sequence);
    event.previous_hash = previous_hash.to_string();
    event.hash = link_hash(previous_hash, sequence, event);
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub sequence: i64,
    pub id: String,
    pub reason: String,
}

/// Walks sealed events in order, carrying the last good link.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub sequence: i64,
    pub hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            sequence: 0,
            hash: GENESIS.to_string(),
        }
    }
}

impl Verifier {
    /// Checks the next sealed event.
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), Broken> {
        let sequence = event.sequence.unwrap_or(0);
        let broken = |reason: String| Broken {
            sequence,
            id: event.id.clone(),
            reason,
        };
        if sequence != self.sequence + 1 {
            return Err(broken(format!(
                "expected sequence {} next, found {sequence} (events removed or reordered)",
                self.sequence + 1
            )));
        }
        if event.previous_hash != self.hash {
            return Err(broken(
                "its previous hash is not the hash of the event before it".into(),
            ));
        }
        if link_hash(&self.hash, sequence, event) != event.hash {
            return Err(broken(
                "its content does not match its hash (changed after sealing)".into(),
            ));
        }
        self.sequence = sequence;
        self.hash = event.hash.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            id: format!("e{n}"),
            at: DateTime::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap(),
            actor: "users/ann".into(),
            action: "request.approved".into(),
            subject: format!("requests/r{n}"),
            source: "grpc 127.0.0.1:5000".into(),
            grantee: "ben".into(),
            flow: "prod".into(),
            resources: String::new(),
            before: "{\"state\":\"pending_approval\"}".into(),
            after: "{\"state\":\"approved\"}".into(),
            detail: "ok".into(),
            sequence: None,
            previous_hash: String::new(),
            hash: String::new(),
        }
    }

    fn chain(n: u32) -> Vec<AuditEvent> {
        let mut previous = (0, GENESIS.to_string());
        (1..=n)
            .map(|i| {
                let mut e = event(i);
                seal(&mut e, previous.0, &previous.1);
                previous = (e.sequence.unwrap(), e.hash.clone());
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent]) -> Result<(), Broken> {
        let mut verifier = Verifier::default();
        events.iter().try_for_each(|e| verifier.check(e))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn a_changed_event_is_named() {
        let mut events = chain(5);
        events[2].detail = "nothing to see".into();
        let broken = verify(&events).unwrap_err();
        assert_eq!((broken.sequence, broken.id.as_str()), (3, "e3"));
        assert!(broken.reason.contains("changed"), "{}", broken.reason);
    }

    #[test]
    fn a_removed_or_rehashed_event_is_named() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).unwrap_err().sequence, 3);
        // Rewriting one event with a fresh hash still breaks the next link.
        let mut events = chain(5);
        events[1].detail = "forged".into();
        let previous = events[0].hash.clone();
        seal(&mut events[1], 1, &previous);
        let broken = verify(&events).unwrap_err();
        assert_eq!(broken.sequence, 3);
        assert!(broken.reason.contains("previous hash"));
    }

    #[test]
    fn fields_are_delimited() {
        let mut a = event(1);
        let mut b = event(1);
        a.actor = "users/an".into();
        a.action = "nrequest.approved".into();
        b.actor = "users/ann".into();
        b.action = "request.approved".into();
        assert_ne!(link_hash(GENESIS, 1, &a), link_hash(GENESIS, 1, &b));
    }
}
