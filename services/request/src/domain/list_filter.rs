//! `ListRequests`' `filter`: a small, strict subset of Google AIP-160. Terms joined by `AND`,
//! each `field op value`:
//!
//! - `state = active`, `flow = "orders by the manager"` (the flow's id or name),
//!   `requester = ada`, `grantee = ada` (a user's id or user name);
//! - `create_time >= "2026-12-01T00:00:00Z"` with `>`, `>=`, `<` or `<=`.
//!
//! Values are bare words or double-quoted strings (`\"` and `\\` escape). A field given twice,
//! an unknown field or operator, `OR`, `NOT` or parentheses are errors naming the rule: a
//! filter that silently matched more than it says would show requests the caller did not ask for.

use chrono::{DateTime, TimeDelta, Utc};

use super::lifecycle::State;

/// Longest filter accepted.
pub const MAX_FILTER: usize = 1_000;
/// Most terms in one filter.
const MAX_TERMS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<State>,
    /// A flow id or name.
    pub flow: Option<String>,
    /// A user id or user name.
    pub requester: Option<String>,
    pub grantee: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\')) => value.push(escaped),
                            _ => return Err("only \\\" and \\\\ may be escaped in a quoted value".into()),
                        },
                        Some(other) => value.push(other),
                        None => return Err("a quoted value is not closed".into()),
                    }
                }
                out.push(Token::Quoted(value));
            }
            '=' => {
                chars.next();
                out.push(Token::Op("="));
            }
            '<' | '>' | '!' => {
                chars.next();
                let equal = chars.peek() == Some(&'=');
                if equal {
                    chars.next();
                }
                out.push(Token::Op(match (c, equal) {
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    _ => return Err("\"!=\" is not supported; name the value wanted".into()),
                }));
            }
            '(' | ')' | ':' | '-' | '*' => return Err(format!("{c:?} is not supported; join terms with AND")),
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '"' | '=' | '<' | '>' | '!' | '(' | ')') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn value(token: Option<Token>, field: &str) -> Result<String, String> {
    match token {
        Some(Token::Word(word)) if !matches!(word.as_str(), "AND" | "OR" | "NOT") => Ok(word),
        Some(Token::Quoted(text)) => Ok(text),
        _ => Err(format!("{field}: a value must follow the operator")),
    }
}

fn time(text: &str, field: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{field}: {text:?} is not an RFC 3339 time"))
}

/// Parses a filter; an empty one matches everything.
pub fn parse(text: &str, parse_state: impl Fn(&str) -> Option<State>) -> Result<ListFilter, String> {
    if text.chars().count() > MAX_FILTER {
        return Err(format!("must be at most {MAX_FILTER} characters"));
    }
    let mut filter = ListFilter::default();
    let mut tokens = tokens(text)?.into_iter();
    let mut terms = 0;
    loop {
        let Some(first) = tokens.next() else {
            if terms == 0 {
                return Ok(filter);
            }
            return Err("a term must follow AND".into());
        };
        terms += 1;
        if terms > MAX_TERMS {
            return Err(format!("at most {MAX_TERMS} terms"));
        }
        let Token::Word(field) = first else {
            return Err("each term starts with a field name".into());
        };
        let Some(Token::Op(op)) = tokens.next() else {
            return Err(format!("{field}: an operator must follow the field"));
        };
        let raw = value(tokens.next(), &field)?;
        let twice = || format!("{field} is given twice");
        let equals_only = |op: &str| {
            if op == "=" {
                Ok(())
            } else {
                Err(format!("{field}: only \"=\" applies"))
            }
        };
        match field.as_str() {
            "state" => {
                equals_only(op)?;
                let state = parse_state(raw.trim()).ok_or_else(|| format!("state: unknown state {raw:?}"))?;
                if filter.state.replace(state).is_some() {
                    return Err(twice());
                }
            }
            "flow" | "requester" | "grantee" => {
                equals_only(op)?;
                let slot = match field.as_str() {
                    "flow" => &mut filter.flow,
                    "requester" => &mut filter.requester,
                    _ => &mut filter.grantee,
                };
                if raw.trim().is_empty() || raw.chars().count() > 256 {
                    return Err(format!("{field}: 1 to 256 characters"));
                }
                if slot.replace(raw.trim().to_string()).is_some() {
                    return Err(twice());
                }
            }
            "create_time" => {
                let at = time(&raw, &field)?;
                let micro = TimeDelta::microseconds(1);
                let (slot, bound) = match op {
                    ">=" => (&mut filter.created_from, at),
                    ">" => (&mut filter.created_from, at + micro),
                    "<" => (&mut filter.created_until, at),
                    "<=" => (&mut filter.created_until, at + micro),
                    _ => return Err("create_time: use >, >=, < or <=".into()),
                };
                if slot.replace(bound).is_some() {
                    return Err(format!("create_time: one {op} bound only"));
                }
            }
            other => {
                return Err(format!(
                    "unknown field {other:?} (state, flow, requester, grantee, create_time)"
                ));
            }
        }
        match tokens.next() {
            None => return Ok(filter),
            Some(Token::Word(and)) if and == "AND" => {}
            Some(_) => return Err("terms are joined with AND (OR and NOT are not supported)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(text: &str) -> Option<State> {
        match text {
            "active" => Some(State::Active),
            "pending_approval" => Some(State::PendingApproval),
            _ => None,
        }
    }

    #[test]
    fn every_field_and_bound_is_read() {
        let filter = parse(
            r#"state = active AND flow = "orders by the manager" AND requester=ada AND grantee = "b\"ob"
               AND create_time >= "2026-12-01T00:00:00Z" AND create_time <= "2026-12-02T00:00:00Z""#,
            state,
        )
        .unwrap();
        assert_eq!(filter.state, Some(State::Active));
        assert_eq!(filter.flow.as_deref(), Some("orders by the manager"));
        assert_eq!(filter.requester.as_deref(), Some("ada"));
        assert_eq!(filter.grantee.as_deref(), Some("b\"ob"));
        assert_eq!(filter.created_from, Some("2026-12-01T00:00:00Z".parse().unwrap()));
        assert_eq!(
            filter.created_until,
            Some("2026-12-02T00:00:00.000001Z".parse().unwrap()),
            "<= includes the instant"
        );
        assert_eq!(parse("  ", state).unwrap(), ListFilter::default());
    }

    #[test]
    fn anything_it_cannot_honour_exactly_is_an_error_naming_the_rule() {
        for (text, rule) in [
            ("state = active OR state = pending_approval", "joined with AND"),
            ("state = active AND state = active", "given twice"),
            ("state = sleeping", "unknown state"),
            ("owner = ada", "unknown field"),
            ("flow > x", "only \"=\""),
            ("create_time = \"2026-12-01T00:00:00Z\"", "use >"),
            ("create_time > yesterday", "RFC 3339"),
            ("grantee != ada", "not supported"),
            ("(state = active)", "not supported"),
            ("state = active AND", "must follow AND"),
            ("state =", "a value must follow"),
            ("flow = \"open", "not closed"),
            ("requester = \"\"", "1 to 256"),
        ] {
            let error = parse(text, state).unwrap_err();
            assert!(error.contains(rule), "{text:?}: {error}");
        }
        assert!(
            parse(&"x".repeat(MAX_FILTER + 1), state)
                .unwrap_err()
                .contains("at most")
        );
    }
}
