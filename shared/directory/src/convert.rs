//! Identity's `SubjectFacts` as the policy vocabulary's `Facts`.

use latch_policy::conditions::Facts;
use latch_proto::identity::v1 as pb;

pub fn facts_from_proto(facts: pb::SubjectFacts) -> Facts {
    let mut attributes = std::collections::BTreeMap::<String, Vec<String>>::new();
    for attribute in facts.attributes {
        attributes.entry(attribute.key).or_default().extend(attribute.values);
    }
    Facts {
        user_id: facts.user_id,
        user_name: facts.user_name,
        email: facts.email,
        groups: facts.groups.into_iter().map(|g| (g.id, g.display_name)).collect(),
        attributes,
        manager_id: Some(facts.manager_id).filter(|m| !m.is_empty()),
    }
}
