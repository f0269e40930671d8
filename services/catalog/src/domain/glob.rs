//! Glob patterns (`*` any run, `?` one character) for access-scope name patterns.

/// Whether `text` matches `pattern`, case-insensitively. Iterative with backtracking on the last
/// `*`, so it is linear-ish and cannot blow up on adversarial patterns.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("orders-*", "orders-prod"));
        assert!(matches("*prod*", "app/orders-prod/x"));
        assert!(matches("t-?", "t-1"));
        assert!(!matches("t-?", "t-10"));
        assert!(matches("*", ""));
        assert!(!matches("a*b", "ac"));
        assert!(matches("A*", "abc"), "case-insensitive");
    }

    proptest! {
        #[test]
        fn a_literal_pattern_matches_only_itself(text in "[a-z0-9/-]{0,12}", other in "[a-z0-9/-]{0,12}") {
            prop_assert!(matches(&text, &text));
            prop_assert_eq!(matches(&text, &other), text == other);
        }

        #[test]
        fn star_wrapped_patterns_match_containment(needle in "[a-z]{1,4}", hay in "[a-z]{0,12}") {
            prop_assert_eq!(matches(&format!("*{needle}*"), &hay), hay.contains(&needle));
        }
    }
}
