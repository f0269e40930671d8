//! SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2): parser, printer and evaluator.
//!
//! The parser follows the RFC's ABNF with a little leniency that real identity
//! providers rely on: operators, `and`/`or`/`not` and the literals `true`,
//! `false`, `null` are case-insensitive, and any run of whitespace (not just a
//! single SP) separates tokens. Error positions are byte offsets into the input.
//!
//! # Evaluation choices
//!
//! Filters are evaluated against a SCIM resource as returned by GET:
//!
//! * Attribute names and extension-schema keys are matched case-insensitively.
//! * A path prefixed with a core schema URI (`urn:ietf:params:scim:schemas:core:2.0:`
//!   followed by `User`, `Group`, ...) addresses the top level; any other URI
//!   addresses the extension object stored under that URI.
//! * When the value at a path is an array, the expression matches if any element
//!   matches. Complex values (objects) compared without a sub-attribute are
//!   compared through their `value` sub-attribute (`emails co "@example.com"`,
//!   `members eq "2819c223"`, `manager eq "26118915"`).
//! * String comparisons ignore case, except for these case-exact attributes
//!   (identifiers and references, RFC 7643 §4.1 and §8.7.1):
//!   `id`, `externalId` and `$ref` (wherever they appear), the `value` of
//!   `members`, `manager` and `groups`, and `members`/`manager`/`groups`
//!   compared without a sub-attribute (which compares their `value`).
//! * `eq`/`ne`/`gt`/`ge`/`lt`/`le` between two strings that both parse as RFC 3339
//!   date-times compare the instants; otherwise strings compare lexicographically
//!   (after case folding unless case-exact). Numbers compare numerically.
//!   Booleans support only `eq`/`ne`; any other operator on booleans is false.
//!   `co`/`sw`/`ew` apply only to strings.
//! * `pr` is true when the attribute is present and not `null`, `""`, `[]` or `{}`.
//! * `eq null` means "not present" (as `pr` defines it) and `ne null` means
//!   "present"; every other operator with `null` is false.
//! * A missing attribute makes every comparison false except `ne`, which is true:
//!   an absent value is not equal to anything. Likewise values of different JSON
//!   types are never equal (`ne` is true, all other operators false).
//! * `ValuePath` (`emails[type eq "work"]`) matches when some element of the
//!   attribute satisfies the inner filter, whose paths are relative to the element.
//!
//! To keep recursion bounded on hostile input, parentheses/brackets nest at most
//! [`MAX_NESTING_DEPTH`] deep and a filter holds at most [`MAX_LOGICAL_OPERATORS`]
//! `and`/`or` operators.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// Deepest allowed nesting of `(`, `not (` and `[` groups.
pub const MAX_NESTING_DEPTH: usize = 32;

/// Most `and`/`or` operators allowed in one filter (left-associative chains
/// nest the AST one level per operator).
pub const MAX_LOGICAL_OPERATORS: usize = 1000;

/// Prefix shared by the core schemas (`...:User`, `...:Group`, ...), whose
/// attributes live at the top level of a resource.
const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// An attribute path: `[URI ":"] ATTRNAME ["." subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A plain top-level attribute without URI or sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath {
            uri: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// True when the path addresses the top level of a resource: no URI, or a core schema URI.
    pub fn is_top_level(&self) -> bool {
        self.uri.as_deref().is_none_or(is_core_schema_uri)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// True for the core schema URIs (`urn:ietf:params:scim:schemas:core:2.0:User`, `...:Group`, ...).
pub fn is_core_schema_uri(uri: &str) -> bool {
    uri.get(..CORE_SCHEMA_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX))
}

/// A comparison operator of RFC 7644 Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Parses an operator keyword, ignoring case.
    pub fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// The lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; value is a string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `path pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A parse error; `position` is a byte offset into the parsed text.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    pub message: String,
    pub position: usize,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at position {})", self.message, self.position)
    }
}

impl std::error::Error for FilterError {}

/// Parses a complete filter expression.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input);
    parser.skip_ws();
    if parser.at_end() {
        return Err(parser.error_here("empty filter"));
    }
    let filter = parser.parse_or(false)?;
    parser.skip_ws();
    match parser.peek() {
        None => Ok(filter),
        Some(')') => Err(parser.error_here("unmatched ')'")),
        Some(']') => Err(parser.error_here("unmatched ']'")),
        Some(_) => Err(parser.error_here("unexpected trailing input")),
    }
}

/// Parses a bare attribute path such as `name.familyName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    let mut parser = Parser::new(input);
    parser.skip_ws();
    let Some((start, word)) = parser.take_word() else {
        return Err(parser.error_here("expected an attribute path"));
    };
    let path = parse_attr_path_word(word, start)?;
    parser.skip_ws();
    if parser.at_end() {
        Ok(path)
    } else {
        Err(parser.error_here("unexpected input after attribute path"))
    }
}

/// A PATCH target path (RFC 7644 §3.5.2): `attrPath` or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathExpression {
    pub attr: AttrPath,
    /// The value-selection filter inside `[...]`, if any.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub_attr: Option<String>,
}

/// Parses a PATCH path, which unlike a filter may follow a value path with `.subAttr`.
pub fn parse_path_expression(input: &str) -> Result<PathExpression, FilterError> {
    let mut parser = Parser::new(input);
    parser.skip_ws();
    let Some((start, word)) = parser.take_word() else {
        return Err(parser.error_here("expected an attribute path"));
    };
    let attr = parse_attr_path_word(word, start)?;
    let mut filter = None;
    let mut sub_attr = None;
    if parser.peek() == Some('[') {
        if attr.sub_attr.is_some() {
            return Err(FilterError {
                message: "a value filter cannot follow a sub-attribute".into(),
                position: parser.pos,
            });
        }
        filter = Some(parser.parse_bracket_filter()?);
        if parser.peek() == Some('.') {
            parser.pos += 1;
            let Some((sub_start, sub)) = parser.take_word() else {
                return Err(parser.error_here("expected a sub-attribute name after '.'"));
            };
            validate_attr_name(sub, sub_start)?;
            sub_attr = Some(sub.to_string());
        }
    }
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.error_here("unexpected trailing input in path"));
    }
    Ok(PathExpression { attr, filter, sub_attr })
}

/// Characters that end a word (attribute path, operator, keyword or number).
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    depth: usize,
    logical_operators: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            pos: 0,
            depth: 0,
            logical_operators: 0,
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error_here(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            message: message.into(),
            position: self.pos,
        }
    }

    /// The word starting at the current position, without consuming it.
    fn peek_word(&self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest.find(is_delimiter).unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    }

    /// Consumes and returns the word at the current position with its offset.
    fn take_word(&mut self) -> Option<(usize, &'a str)> {
        let word = self.peek_word()?;
        let start = self.pos;
        self.pos += word.len();
        Some((start, word))
    }

    fn enter_group(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(self.error_here(format!("filter nests deeper than {MAX_NESTING_DEPTH} levels")));
        }
        Ok(())
    }

    /// Consumes the keyword `and`/`or` if it comes next (after whitespace).
    fn take_keyword(&mut self, keyword: &str) -> Result<bool, FilterError> {
        let saved = self.pos;
        self.skip_ws();
        match self.peek_word() {
            Some(word) if word.eq_ignore_ascii_case(keyword) => {
                self.logical_operators += 1;
                if self.logical_operators > MAX_LOGICAL_OPERATORS {
                    return Err(
                        self.error_here(format!("filter has more than {MAX_LOGICAL_OPERATORS} and/or operators"))
                    );
                }
                self.pos += word.len();
                Ok(true)
            }
            _ => {
                self.pos = saved;
                Ok(false)
            }
        }
    }

    /// `or` has the lowest precedence; chains associate to the left.
    fn parse_or(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(in_brackets)?;
        while self.take_keyword("or")? {
            let right = self.parse_and(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(in_brackets)?;
        while self.take_keyword("and")? {
            let right = self.parse_unary(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error_here("expected an expression but the filter ended")),
            Some('(') => self.parse_group(in_brackets),
            Some(')') => Err(self.error_here("expected an expression before ')'")),
            Some(']') => Err(self.error_here("expected an expression before ']'")),
            Some('[') => Err(self.error_here("'[' must follow an attribute path")),
            Some('"') => Err(self.error_here("expected an attribute path, found a string")),
            Some(_) => {
                let word = self.peek_word().unwrap_or("");
                if word.eq_ignore_ascii_case("not") {
                    // `not` is only the operator when a '(' follows; otherwise it is
                    // an attribute that happens to be called "not".
                    let after_word = &self.rest()[word.len()..];
                    if after_word.trim_start().starts_with('(') {
                        self.pos += word.len();
                        self.skip_ws();
                        let inner = self.parse_group(in_brackets)?;
                        return Ok(Filter::Not(Box::new(inner)));
                    }
                }
                self.parse_attr_expression(in_brackets)
            }
        }
    }

    /// `"(" filter ")"`, with the cursor on the '('.
    fn parse_group(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.pos += 1;
        self.enter_group()?;
        let inner = self.parse_or(in_brackets)?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.error_here(format!("missing ')' to close '(' at position {open}")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// `"[" valFilter "]"`, with the cursor on the '['.
    fn parse_bracket_filter(&mut self) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.pos += 1;
        self.enter_group()?;
        self.skip_ws();
        if self.peek() == Some(']') {
            return Err(self.error_here("empty value filter"));
        }
        let inner = self.parse_or(true)?;
        self.skip_ws();
        if self.peek() != Some(']') {
            return Err(self.error_here(format!("missing ']' to close '[' at position {open}")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// `attrPath "pr"`, `attrPath compareOp compValue` or `attrPath "[" valFilter "]"`.
    fn parse_attr_expression(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let Some((start, word)) = self.take_word() else {
            return Err(self.error_here("expected an attribute path"));
        };
        let path = parse_attr_path_word(word, start)?;
        self.skip_ws();
        if self.peek() == Some('[') {
            if in_brackets {
                return Err(self.error_here("value filters cannot be nested"));
            }
            let filter = self.parse_bracket_filter()?;
            if self.peek() == Some('.') {
                return Err(self.error_here("a value path cannot be followed by a sub-attribute in a filter"));
            }
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        let Some((op_start, op_word)) = self.take_word() else {
            return Err(self.error_here(format!("expected an operator after '{word}'")));
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(FilterError {
                message: format!("unknown operator '{op_word}'"),
                position: op_start,
            });
        };
        let value = self.parse_comp_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `compValue = false / null / true / number / string`.
    fn parse_comp_value(&mut self, op: CompareOp) -> Result<Value, FilterError> {
        self.skip_ws();
        match self.peek() {
            Some('"') => self.parse_string().map(Value::String),
            None | Some('(' | ')' | '[' | ']') => Err(self.error_here(format!("missing value after operator '{op}'"))),
            Some(_) => {
                let (start, word) = self.take_word().ok_or_else(|| self.error_here("missing value"))?;
                if word.eq_ignore_ascii_case("true") {
                    Ok(Value::Bool(true))
                } else if word.eq_ignore_ascii_case("false") {
                    Ok(Value::Bool(false))
                } else if word.eq_ignore_ascii_case("null") {
                    Ok(Value::Null)
                } else if word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                    match serde_json::from_str::<Value>(word) {
                        // serde_json's default float parser may be off by one ulp;
                        // std's is correctly rounded, so printed floats round-trip.
                        Ok(Value::Number(number)) if number.is_f64() => word
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                            .ok_or_else(|| FilterError {
                                message: format!("invalid number '{word}'"),
                                position: start,
                            }),
                        Ok(number @ Value::Number(_)) => Ok(number),
                        _ => Err(FilterError {
                            message: format!("invalid number '{word}'"),
                            position: start,
                        }),
                    }
                } else {
                    Err(FilterError {
                        message: format!(
                            "invalid value '{word}': strings must be quoted; other values are numbers, true, false or null"
                        ),
                        position: start,
                    })
                }
            }
        }
    }

    /// A JSON string literal, cursor on the opening quote; JSON escapes apply.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let bytes = self.input.as_bytes();
        let mut i = start + 1;
        // Multi-byte UTF-8 sequences never contain '"' or '\\' bytes, so a byte scan is safe.
        loop {
            match bytes.get(i) {
                None => {
                    return Err(FilterError {
                        message: "unterminated string".into(),
                        position: start,
                    });
                }
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = &self.input[start..=i];
        let text = serde_json::from_str::<String>(literal).map_err(|e| FilterError {
            message: format!("invalid string literal: {e}"),
            position: start,
        })?;
        self.pos = i + 1;
        Ok(text)
    }
}

/// Splits `[URI ":"] ATTRNAME ["." subAttr]`; `offset` is the word's position in the input.
fn parse_attr_path_word(word: &str, offset: usize) -> Result<AttrPath, FilterError> {
    // Schema URIs contain ':' and '.', but attribute names contain neither, so
    // the last ':' ends the URI and '.' after it separates the sub-attribute.
    let (uri, rest, rest_offset) = match word.rfind(':') {
        Some(colon) => {
            let uri = &word[..colon];
            if uri.is_empty() {
                return Err(FilterError {
                    message: "empty schema URI before ':'".into(),
                    position: offset,
                });
            }
            (Some(uri.to_string()), &word[colon + 1..], offset + colon + 1)
        }
        None => (None, word, offset),
    };
    let (attr, sub_attr) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    validate_attr_name(attr, rest_offset)?;
    if let Some(sub) = sub_attr {
        let sub_offset = rest_offset + attr.len() + 1;
        if let Some(dot) = sub.find('.') {
            return Err(FilterError {
                message: "an attribute path may have only one sub-attribute".into(),
                position: sub_offset + dot,
            });
        }
        validate_attr_name(sub, sub_offset)?;
    }
    Ok(AttrPath {
        uri,
        attr: attr.to_string(),
        sub_attr: sub_attr.map(str::to_string),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus a leading '$' for `$ref`.
fn validate_attr_name(name: &str, position: usize) -> Result<(), FilterError> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$');
    let valid_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid_start && valid_rest {
        Ok(())
    } else if name.is_empty() {
        Err(FilterError {
            message: "expected an attribute name".into(),
            position,
        })
    } else {
        Err(FilterError {
            message: format!("invalid attribute name '{name}'"),
            position,
        })
    }
}

impl fmt::Display for Filter {
    /// Prints valid filter syntax that parses back to the same AST: strings are
    /// quoted JSON, and parentheses are added where precedence or left
    /// associativity would otherwise regroup the operands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(left, right) => {
                write_operand(f, left, matches!(**left, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, right, matches!(**right, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(left, right) => {
                write_operand(f, left, false)?;
                f.write_str(" or ")?;
                write_operand(f, right, matches!(**right, Filter::Or(..)))
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, parenthesize: bool) -> fmt::Result {
    if parenthesize {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

impl Filter {
    /// Evaluates the filter against a SCIM resource (see the module docs for the rules).
    pub fn matches(&self, resource: &Value) -> bool {
        self.eval(resource, None)
    }

    /// Evaluates a value-path filter against one element of the multi-valued
    /// attribute `parent_attr` (e.g. a member of `members`); the parent name
    /// decides case-exactness of `value`.
    pub fn matches_element(&self, element: &Value, parent_attr: &str) -> bool {
        self.eval(element, Some(parent_attr))
    }

    fn eval(&self, node: &Value, parent_attr: Option<&str>) -> bool {
        match self {
            Filter::Compare { path, op, value } => evaluate_comparison(node, parent_attr, path, *op, value),
            Filter::Present(path) => is_present_at(node, path),
            Filter::And(left, right) => left.eval(node, parent_attr) && right.eval(node, parent_attr),
            Filter::Or(left, right) => left.eval(node, parent_attr) || right.eval(node, parent_attr),
            Filter::Not(inner) => !inner.eval(node, parent_attr),
            Filter::ValuePath { path, filter } => {
                let element_matches =
                    |element: &Value| element.is_object() && filter.eval(element, Some(path.attr.as_str()));
                raw_values(node, path).into_iter().any(|value| match value {
                    Value::Array(items) => items.iter().any(element_matches),
                    other => element_matches(other),
                })
            }
        }
    }
}

/// Looks up `key` in a JSON object ignoring ASCII case; an exact match wins.
pub fn get_ignore_case<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(key)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The values stored at `path` within `node`, before array flattening:
/// one value for `attr`, or the sub-attribute of the complex value / of each element.
fn raw_values<'v>(node: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let base = match &path.uri {
        Some(uri) if !is_core_schema_uri(uri) => match get_ignore_case(node, uri) {
            Some(extension) => extension,
            None => return Vec::new(),
        },
        _ => node,
    };
    let Some(value) = get_ignore_case(base, &path.attr) else {
        return Vec::new();
    };
    match &path.sub_attr {
        None => vec![value],
        Some(sub) => match value {
            Value::Array(items) => items.iter().filter_map(|item| get_ignore_case(item, sub)).collect(),
            other => get_ignore_case(other, sub).into_iter().collect(),
        },
    }
}

/// The scalar values a comparison looks at: arrays are flattened and complex
/// values without an explicit sub-attribute stand for their `value`.
fn comparison_values<'v>(node: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let leaf = |value: &'v Value| -> Option<&'v Value> {
        match value {
            Value::Object(_) if path.sub_attr.is_none() => get_ignore_case(value, "value"),
            Value::Null => None,
            other => Some(other),
        }
    };
    let mut out = Vec::new();
    for value in raw_values(node, path) {
        match value {
            Value::Array(items) => out.extend(items.iter().filter_map(leaf)),
            other => out.extend(leaf(other)),
        }
    }
    out.retain(|v| !v.is_null());
    out
}

/// `pr` semantics: present and not null, `""`, `[]` or `{}`.
fn is_present_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present_value),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn is_present_at(node: &Value, path: &AttrPath) -> bool {
    raw_values(node, path).into_iter().any(is_present_value)
}

/// Attributes holding resource identifiers, whose `value` is compared case-exactly.
const REFERENCE_ATTRIBUTES: [&str; 3] = ["members", "manager", "groups"];

/// Whether string comparison at `path` is case-exact (see the module docs).
fn is_case_exact(parent_attr: Option<&str>, path: &AttrPath) -> bool {
    let (last, owner) = match &path.sub_attr {
        Some(sub) => (sub.as_str(), Some(path.attr.as_str())),
        None => (path.attr.as_str(), parent_attr),
    };
    let is_reference = |name: &str| REFERENCE_ATTRIBUTES.iter().any(|r| r.eq_ignore_ascii_case(name));
    ["id", "externalId", "$ref"]
        .iter()
        .any(|exact| exact.eq_ignore_ascii_case(last))
        || (last.eq_ignore_ascii_case("value") && owner.is_some_and(is_reference))
        // `members eq "x"` compares each member's value.
        || (path.sub_attr.is_none() && parent_attr.is_none() && is_reference(&path.attr))
}

fn evaluate_comparison(
    node: &Value,
    parent_attr: Option<&str>,
    path: &AttrPath,
    op: CompareOp,
    expected: &Value,
) -> bool {
    if expected.is_null() {
        return match op {
            CompareOp::Eq => !is_present_at(node, path),
            CompareOp::Ne => is_present_at(node, path),
            _ => false,
        };
    }
    let actual_values = comparison_values(node, path);
    if actual_values.is_empty() {
        // A missing value is "not equal" to anything and fails every other test.
        return op == CompareOp::Ne;
    }
    let case_exact = is_case_exact(parent_attr, path);
    actual_values
        .into_iter()
        .any(|actual| compare_values(actual, op, expected, case_exact))
}

fn ordering_satisfies(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_values(actual: &Value, op: CompareOp, expected: &Value, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => compare_strings(a, b, op, case_exact),
        (Value::Number(a), Value::Number(b)) => match compare_numbers(a, b) {
            Some(ordering) => ordering_satisfies(op, ordering),
            None => op == CompareOp::Ne,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        // Values of different types are never equal.
        _ => op == CompareOp::Ne,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    // Integers compare exactly; anything involving a float compares as f64.
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_strings(actual: &str, expected: &str, op: CompareOp, case_exact: bool) -> bool {
    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        let instants = (
            chrono::DateTime::parse_from_rfc3339(actual),
            chrono::DateTime::parse_from_rfc3339(expected),
        );
        if let (Ok(a), Ok(b)) = instants {
            return ordering_satisfies(op, a.cmp(&b));
        }
    }
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    } else {
        (Cow::Owned(actual.to_lowercase()), Cow::Owned(expected.to_lowercase()))
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordering_satisfies(op, a.cmp(&b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn parse(input: &str) -> Filter {
        parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn parse_err(input: &str) -> FilterError {
        match parse_filter(input) {
            Ok(filter) => panic!("{input:?} should not parse, got {filter:?}"),
            Err(error) => error,
        }
    }

    fn path(attr: &str) -> AttrPath {
        AttrPath::new(attr)
    }

    fn sub_path(attr: &str, sub: &str) -> AttrPath {
        AttrPath {
            uri: None,
            attr: attr.into(),
            sub_attr: Some(sub.into()),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "BJensen-Ext",
            "userName": "bjensen",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "title": "Tour Guide",
            "nickName": "",
            "userType": "Employee",
            "active": true,
            "age": 10,
            "score": 2.5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [],
            "groups": [{"value": "GroupId-1", "display": "Tour Guides"}],
            "meta": {
                "resourceType": "User",
                "lastModified": "2011-05-13T06:42:34+02:00"
            },
            ENTERPRISE: {
                "department": "Tour Operations",
                "manager": {"value": "Mgr-26118915", "displayName": "John Smith"}
            }
        })
    }

    fn matches(filter: &str, resource: &Value) -> bool {
        parse(filter).matches(resource)
    }

    // ---- parsing: RFC 7644 §3.4.2.2 examples ----

    #[test]
    fn parses_every_rfc_example() {
        let examples = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ];
        for example in examples {
            parse(example);
        }
    }

    #[test]
    fn rfc_examples_evaluate_as_expected() {
        let user = user();
        let expectations = [
            (r#"userName eq "bjensen""#, true),
            (r#"name.familyName co "O'Malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr and userType eq "Intern""#, false),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                false,
            ),
        ];
        for (filter, expected) in expectations {
            assert_eq!(matches(filter, &user), expected, "{filter}");
        }
    }

    #[test]
    fn parses_comparison_ast() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#),
            cmp(path("userName"), CompareOp::Eq, json!("bjensen"))
        );
        assert_eq!(
            parse(r#"name.familyName co "O'Malley""#),
            cmp(sub_path("name", "familyName"), CompareOp::Co, json!("O'Malley"))
        );
        assert_eq!(parse("title pr"), Filter::Present(path("title")));
    }

    #[test]
    fn parses_schema_uri_prefixes() {
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
            cmp(
                AttrPath {
                    uri: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    attr: "userName".into(),
                    sub_attr: None,
                },
                CompareOp::Sw,
                json!("J")
            )
        );
        assert_eq!(
            parse(&format!("{ENTERPRISE}:manager.value eq \"x\"")),
            cmp(
                AttrPath {
                    uri: Some(ENTERPRISE.into()),
                    attr: "manager".into(),
                    sub_attr: Some("value".into()),
                },
                CompareOp::Eq,
                json!("x")
            )
        );
    }

    #[test]
    fn operators_and_keywords_are_case_insensitive() {
        assert_eq!(
            parse(r#"userName EQ "x""#),
            cmp(path("userName"), CompareOp::Eq, json!("x"))
        );
        for (keyword, op) in [
            ("Ne", CompareOp::Ne),
            ("CO", CompareOp::Co),
            ("sW", CompareOp::Sw),
            ("EW", CompareOp::Ew),
            ("GT", CompareOp::Gt),
            ("Ge", CompareOp::Ge),
            ("LT", CompareOp::Lt),
            ("lE", CompareOp::Le),
        ] {
            assert_eq!(parse(&format!("a {keyword} 1")), cmp(path("a"), op, json!(1)));
        }
        assert_eq!(parse("title PR"), Filter::Present(path("title")));
        assert_eq!(
            parse("a pr AND b pr Or NOT (c pr)"),
            or(
                and(Filter::Present(path("a")), Filter::Present(path("b"))),
                Filter::Not(Box::new(Filter::Present(path("c"))))
            )
        );
        assert_eq!(parse("x eq TRUE"), cmp(path("x"), CompareOp::Eq, json!(true)));
        assert_eq!(parse("x eq False"), cmp(path("x"), CompareOp::Eq, json!(false)));
        assert_eq!(parse("x eq NULL"), cmp(path("x"), CompareOp::Eq, Value::Null));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let (a, b, c) = (
            Filter::Present(path("a")),
            Filter::Present(path("b")),
            Filter::Present(path("c")),
        );
        assert_eq!(parse("a pr or b pr and c pr"), or(a.clone(), and(b.clone(), c.clone())));
        assert_eq!(parse("a pr and b pr or c pr"), or(and(a.clone(), b.clone()), c.clone()));
        assert_eq!(
            parse("(a pr or b pr) and c pr"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        // Chains associate to the left.
        assert_eq!(parse("a pr or b pr or c pr"), or(or(a.clone(), b.clone()), c.clone()));
        assert_eq!(parse("a pr and (b pr and c pr)"), and(a, and(b, c)));
    }

    #[test]
    fn not_allows_optional_space_and_nests() {
        let inner = Filter::Present(path("title"));
        assert_eq!(parse("not(title pr)"), Filter::Not(Box::new(inner.clone())));
        assert_eq!(
            parse("not (not (title pr))"),
            Filter::Not(Box::new(Filter::Not(Box::new(inner))))
        );
        // An attribute may be called "not" when no '(' follows.
        assert_eq!(parse("not pr"), Filter::Present(path("not")));
    }

    #[test]
    fn parses_value_paths() {
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@x"]"#),
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(and(
                    cmp(path("type"), CompareOp::Eq, json!("work")),
                    cmp(path("value"), CompareOp::Co, json!("@x"))
                )),
            }
        );
        let in_not = parse(r#"not (emails[type eq "work"]) and title pr"#);
        assert!(matches!(in_not, Filter::And(ref left, _) if matches!(**left, Filter::Not(_))));
        parse(r#"emails[not (type eq "work")]"#);
    }

    #[test]
    fn parses_comp_values() {
        let value = |input: &str| match parse(&format!("a eq {input}")) {
            Filter::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(value(r#""a\"b\\c\u00e9\n""#), json!("a\"b\\cé\n"));
        assert_eq!(value(r#""""#), json!(""));
        assert_eq!(value(r#""()[] and or""#), json!("()[] and or"));
        assert_eq!(value("42"), json!(42));
        assert_eq!(value("-7"), json!(-7));
        assert_eq!(value("2.5"), json!(2.5));
        assert_eq!(value("1e3"), json!(1000.0));
        // Floats are read with correct rounding, so printed values read back exactly.
        assert_eq!(value("7.42576938332272e+121"), json!(7.42576938332272e121_f64));
        assert_eq!(value("true"), json!(true));
        assert_eq!(value("false"), json!(false));
        assert_eq!(value("null"), Value::Null);
    }

    #[test]
    fn tolerates_extra_whitespace() {
        assert_eq!(
            parse("  ( userName   eq \"x\" )\t"),
            cmp(path("userName"), CompareOp::Eq, json!("x"))
        );
    }

    // ---- parse errors ----

    #[test]
    fn reports_errors_with_positions() {
        let cases: [(&str, usize, &str); 19] = [
            ("", 0, "empty"),
            ("   ", 3, "empty"),
            ("!!!", 0, "invalid attribute name"),
            ("(title pr", 9, "missing ')'"),
            ("title pr)", 8, "unmatched ')'"),
            ("((title pr)", 11, "missing ')'"),
            (r#"emails[type eq "work""#, 21, "missing ']'"),
            (r#"emails type eq "work"]"#, 7, "unknown operator"),
            ("userName eq", 11, "missing value"),
            ("userName eq )", 12, "missing value"),
            (r#"userName foo "x""#, 9, "unknown operator 'foo'"),
            ("userName", 8, "expected an operator"),
            (r#"userName eq "x" "y""#, 16, "trailing"),
            ("userName eq bjensen", 12, "must be quoted"),
            (r#"userName eq "abc"#, 12, "unterminated string"),
            (r#"emails[type eq "work"].value eq "x""#, 22, "sub-attribute"),
            (r#"emails[ims[type eq "x"]]"#, 10, "nested"),
            ("a.b.c pr", 3, "only one sub-attribute"),
            ("title pr and", 12, "expected an expression"),
        ];
        for (input, position, message) in cases {
            let error = parse_err(input);
            assert_eq!(error.position, position, "{input:?}: {error}");
            assert!(
                error.message.contains(message),
                "{input:?}: {:?} should mention {message:?}",
                error.message
            );
        }
    }

    #[test]
    fn rejects_other_malformed_input() {
        for input in [
            "1abc pr",
            "a eq 1x",
            "a eq --1",
            "a eq \"\\q\"",
            "not title pr",
            "()",
            "emails[]",
            "a pr or or",
            ":a pr",
            "a. pr",
            "a eq \"x\"]",
            "[a pr]",
            "\"a\" eq 1",
        ] {
            parse_err(input);
        }
    }

    #[test]
    fn limits_nesting_depth() {
        let deep = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse_err(&deep).message.contains("nests deeper"));
        let fine = format!("{}a pr{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(parse(&fine), Filter::Present(path("a")));
    }

    #[test]
    fn limits_logical_operator_count() {
        let long = vec!["a pr"; MAX_LOGICAL_OPERATORS + 2].join(" or ");
        assert!(parse_err(&long).message.contains("more than"));
        let ok = vec!["a pr"; MAX_LOGICAL_OPERATORS + 1].join(" or ");
        parse(&ok);
    }

    #[test]
    fn filter_error_displays_position() {
        let error = parse_err("userName eq");
        assert_eq!(error.to_string(), format!("{} (at position 11)", error.message));
    }

    #[test]
    fn parses_bare_attribute_paths() {
        assert_eq!(parse_attr_path("userName"), Ok(path("userName")));
        assert_eq!(parse_attr_path(" name.familyName "), Ok(sub_path("name", "familyName")));
        assert_eq!(
            parse_attr_path(&format!("{ENTERPRISE}:department")),
            Ok(AttrPath {
                uri: Some(ENTERPRISE.into()),
                attr: "department".into(),
                sub_attr: None,
            })
        );
        assert_eq!(parse_attr_path("members.$ref"), Ok(sub_path("members", "$ref")));
        for bad in ["", "a b", "a[b eq 1]", "a.b.c", "9a", "a.", "a eq 1"] {
            assert!(parse_attr_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_patch_style_path_expressions() {
        let expression = parse_path_expression(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(expression.attr, path("emails"));
        assert_eq!(expression.filter, Some(cmp(path("type"), CompareOp::Eq, json!("work"))));
        assert_eq!(expression.sub_attr.as_deref(), Some("value"));
        let plain = parse_path_expression("name.familyName").unwrap();
        assert_eq!((plain.attr, plain.filter), (sub_path("name", "familyName"), None));
        for bad in [
            r#"emails[type eq "work"].value.x"#,
            r#"emails[type eq "work"]."#,
            r#"emails[type eq "work"] x"#,
            r#"name.x[type eq "work"]"#,
            r#"emails[type eq "work""#,
        ] {
            assert!(parse_path_expression(bad).is_err(), "{bad:?}");
        }
    }

    // ---- evaluation ----

    #[test]
    fn attribute_names_are_case_insensitive() {
        let user = user();
        assert!(matches(r#"USERNAME eq "bjensen""#, &user));
        assert!(matches(r#"Name.FamilyName eq "O'Malley""#, &user));
        assert!(matches(r#"EMAILS[TYPE eq "work"]"#, &user));
    }

    #[test]
    fn strings_compare_ignoring_case_by_default() {
        let user = user();
        assert!(matches(r#"userName eq "BJensen""#, &user));
        assert!(matches(r#"title co "GUIDE""#, &user));
        assert!(matches(r#"title sw "tour""#, &user));
        assert!(matches(r#"title ew "GUIDE""#, &user));
        assert!(!matches(r#"title ew "tour""#, &user));
        assert!(!matches(r#"userName ne "BJENSEN""#, &user));
    }

    #[test]
    fn identifiers_and_references_compare_case_exactly() {
        let user = user();
        assert!(matches(r#"id eq "2819c223-7f76-453a-919d-413861904646""#, &user));
        assert!(!matches(r#"id eq "2819C223-7F76-453A-919D-413861904646""#, &user));
        assert!(matches(r#"externalId eq "BJensen-Ext""#, &user));
        assert!(!matches(r#"externalId eq "bjensen-ext""#, &user));
        assert!(matches(r#"groups.value eq "GroupId-1""#, &user));
        assert!(!matches(r#"groups.value eq "groupid-1""#, &user));
        assert!(!matches(r#"groups[value eq "groupid-1"]"#, &user));
        assert!(!matches(r#"groups eq "groupid-1""#, &user));
        // `display` of a group is not an identifier.
        assert!(matches(r#"groups.display eq "tour guides""#, &user));
        let manager = format!("{ENTERPRISE}:manager.value eq \"mgr-26118915\"");
        assert!(!matches(&manager, &user));
        let manager_implicit = format!("{ENTERPRISE}:manager eq \"Mgr-26118915\"");
        assert!(matches(&manager_implicit, &user));

        let group = json!({"displayName": "Admins", "members": [{"value": "AbC", "display": "Ann"}]});
        assert!(matches(r#"members[value eq "AbC"]"#, &group));
        assert!(!matches(r#"members[value eq "abc"]"#, &group));
        assert!(!matches(r#"members eq "abc""#, &group));
        assert!(matches(r#"members[display eq "ANN"]"#, &group));
        assert!(matches(r#"displayName eq "admins""#, &group));
        // `value` of an element of an ordinary attribute folds case.
        assert!(matches(r#"emails[value eq "BJENSEN@example.com"]"#, &user));
    }

    #[test]
    fn complex_arrays_compare_through_value() {
        let user = user();
        assert!(matches(r#"emails co "@example.com""#, &user));
        assert!(matches(r#"emails eq "babs@jensen.org""#, &user));
        assert!(!matches(r#"emails co "@nowhere""#, &user));
        assert!(matches(r#"emails.type eq "home""#, &user));
        assert!(!matches(r#"emails.type eq "other""#, &user));
    }

    #[test]
    fn extension_and_core_uris_address_the_right_object() {
        let user = user();
        assert!(matches(
            &format!("{ENTERPRISE}:department eq \"Tour Operations\""),
            &user
        ));
        assert!(matches(
            &format!("{}:DEPARTMENT eq \"tour operations\"", ENTERPRISE.to_uppercase()),
            &user
        ));
        // The attribute exists at the top level only, not in the extension.
        assert!(!matches(&format!("{ENTERPRISE}:userName eq \"bjensen\""), &user));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#,
            &user
        ));
        assert!(!matches(
            r#"urn:example:other:1.0:Thing:department eq "Tour Operations""#,
            &user
        ));
    }

    #[test]
    fn date_times_compare_as_instants() {
        let user = user();
        // 06:42:34+02:00 is 04:42:34Z.
        assert!(matches(r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, &user));
        assert!(matches(r#"meta.lastModified gt "2011-05-13T04:42:33.999Z""#, &user));
        assert!(matches(r#"meta.lastModified lt "2011-05-13T05:00:00+00:00""#, &user));
        // As plain strings "2011-05-13T06..." would be greater than "2011-05-13T05...".
        assert!(!matches(r#"meta.lastModified gt "2011-05-13T05:00:00Z""#, &user));
    }

    #[test]
    fn strings_order_lexicographically_after_case_folding() {
        let user = user();
        assert!(matches(r#"userName gt "a""#, &user));
        // Case-sensitively "bjensen" > "C"; folded it is less than "c".
        assert!(matches(r#"userName lt "C""#, &user));
        assert!(matches(r#"userName le "BJENSEN""#, &user));
        assert!(matches(r#"userName ge "BJENSEN""#, &user));
        assert!(!matches(r#"userName gt "BJENSEN""#, &user));
    }

    #[test]
    fn numbers_compare_numerically() {
        let user = user();
        assert!(matches("age gt 9", &user));
        assert!(matches("age eq 10", &user));
        assert!(matches("age eq 10.0", &user));
        assert!(matches("age le 10", &user));
        assert!(!matches("age lt 10", &user));
        assert!(matches("score ge 2.5", &user));
        assert!(matches("score lt 3", &user));
        assert!(!matches("age co 1", &user));
        assert!(!matches(r#"age eq "10""#, &user));
    }

    #[test]
    fn booleans_support_only_equality() {
        let user = user();
        assert!(matches("active eq true", &user));
        assert!(matches("active ne false", &user));
        assert!(!matches("active eq false", &user));
        assert!(!matches("active gt false", &user));
        assert!(!matches("active ge true", &user));
        assert!(!matches(r#"active eq "true""#, &user));
    }

    #[test]
    fn present_requires_a_non_empty_value() {
        let user = user();
        assert!(matches("title pr", &user));
        assert!(matches("emails pr", &user));
        assert!(matches("name pr", &user));
        assert!(matches("emails.type pr", &user));
        assert!(matches(&format!("{ENTERPRISE}:manager pr"), &user));
        assert!(!matches("nickName pr", &user));
        assert!(!matches("ims pr", &user));
        assert!(!matches("missing pr", &user));
        assert!(!matches("x pr", &json!({"x": null})));
        assert!(!matches("x pr", &json!({"x": {}})));
        assert!(!matches("x pr", &json!({"x": [null, ""]})));
        assert!(matches("x pr", &json!({"x": false})));
        assert!(matches("x pr", &json!({"x": 0})));
    }

    #[test]
    fn null_comparisons_test_presence() {
        let user = user();
        assert!(matches("missing eq null", &user));
        assert!(matches("nickName eq null", &user));
        assert!(!matches("title eq null", &user));
        assert!(matches("title ne null", &user));
        assert!(!matches("missing ne null", &user));
        assert!(!matches("title gt null", &user));
        assert!(!matches("missing co null", &user));
    }

    #[test]
    fn missing_attributes_fail_all_comparisons_but_ne() {
        let user = user();
        for op in ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
            assert!(!matches(&format!("missing {op} \"x\""), &user), "{op}");
            assert!(!matches(&format!("name.missing {op} \"x\""), &user), "{op}");
        }
        assert!(matches(r#"missing ne "x""#, &user));
        assert!(matches(r#"emails[missing ne "x"]"#, &user));
        // An empty array holds no value either.
        assert!(matches(r#"ims ne "x""#, &user));
        assert!(!matches(r#"ims eq "x""#, &user));
    }

    #[test]
    fn value_paths_match_on_one_element() {
        let user = user();
        assert!(matches(r#"emails[type eq "work" and value co "@example.com"]"#, &user));
        // Both conditions must hold for the same element.
        assert!(!matches(r#"emails[type eq "home" and value co "@example.com"]"#, &user));
        assert!(matches(r#"emails[type eq "home" or value co "@nowhere"]"#, &user));
        assert!(matches(r#"emails[not (type eq "work")]"#, &user));
        assert!(matches(r#"emails[primary eq true]"#, &user));
        assert!(!matches(r#"ims[type pr]"#, &user));
        assert!(!matches(r#"missing[type pr]"#, &user));
        assert!(matches(r#"not (emails[type eq "other"])"#, &user));
        assert!(matches(r#"emails[type eq "other"] or title pr"#, &user));
        // A single complex value works like a one-element array.
        assert!(matches(r#"name[givenName sw "barb"]"#, &user));
    }

    #[test]
    fn logical_operators_combine() {
        let user = user();
        assert!(matches(r#"title pr and not (userName eq "x")"#, &user));
        assert!(!matches(r#"title pr and userName eq "x""#, &user));
        assert!(matches(r#"missing pr or userName eq "bjensen""#, &user));
        assert!(!matches(r#"not (title pr)"#, &user));
    }

    // ---- printing ----

    #[test]
    fn display_prints_parseable_text() {
        let filter = and(
            or(
                Filter::Present(path("a")),
                cmp(sub_path("b", "c"), CompareOp::Co, json!("x\"y\\z")),
            ),
            Filter::Not(Box::new(Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(cmp(path("type"), CompareOp::Eq, json!("work"))),
            })),
        );
        assert_eq!(
            filter.to_string(),
            r#"(a pr or b.c co "x\"y\\z") and not (emails[type eq "work"])"#
        );
        assert_eq!(parse(&filter.to_string()), filter);
        let right_nested = or(
            Filter::Present(path("a")),
            or(Filter::Present(path("b")), Filter::Present(path("c"))),
        );
        assert_eq!(right_nested.to_string(), "a pr or (b pr or c pr)");
        assert_eq!(parse(&right_nested.to_string()), right_nested);
    }

    // ---- properties ----

    fn arb_attr_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            Just("not".to_string()),
            Just("and".to_string()),
            Just("or".to_string()),
            Just("$ref".to_string()),
        ]
    }

    fn arb_path(allow_sub: bool) -> impl Strategy<Value = AttrPath> {
        let uri = prop::option::of(prop_oneof![
            Just("urn:ietf:params:scim:schemas:core:2.0:User".to_string()),
            Just(ENTERPRISE.to_string()),
            Just("urn:example:ext:1.0:Thing".to_string()),
        ]);
        let sub = if allow_sub {
            prop::option::of(arb_attr_name()).boxed()
        } else {
            Just(None).boxed()
        };
        (uri, arb_attr_name(), sub).prop_map(|(uri, attr, sub_attr)| AttrPath { uri, attr, sub_attr })
    }

    fn arb_comp_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le),
        ]
    }

    /// Filters valid inside `[...]`: anything but a nested value path.
    fn arb_inner_filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            (arb_path(true), arb_op(), arb_comp_value()).prop_map(|(path, op, value)| Filter::Compare {
                path,
                op,
                value
            }),
            arb_path(true).prop_map(Filter::Present),
        ];
        leaf.prop_recursive(4, 24, 2, combine)
    }

    fn combine(inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
        .boxed()
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            3 => arb_inner_filter(),
            1 => (arb_path(false), arb_inner_filter()).prop_map(|(path, filter)| {
                Filter::ValuePath { path, filter: Box::new(filter) }
            }),
        ];
        leaf.prop_recursive(3, 24, 2, combine)
    }

    /// Filters over a small vocabulary shared with [`arb_resource`], so they often match.
    fn arb_vocabulary_filter() -> impl Strategy<Value = Filter> {
        let attr = prop_oneof![
            Just(path("userName")),
            Just(path("active")),
            Just(path("age")),
            Just(path("emails")),
            Just(sub_path("emails", "type")),
            Just(sub_path("name", "givenName")),
            Just(path("missing")),
        ];
        let value = prop_oneof![
            prop_oneof![Just("a"), Just("B"), Just("work"), Just("")].prop_map(|s| Value::String(s.to_string())),
            (0i64..5).prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        let leaf = prop_oneof![
            (attr.clone(), arb_op(), value.clone()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            attr.prop_map(Filter::Present),
            (arb_op(), value).prop_map(|(op, value)| Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(Filter::Compare {
                    path: path("type"),
                    op,
                    value
                }),
            }),
        ];
        leaf.prop_recursive(3, 16, 2, combine)
    }

    fn arb_resource() -> impl Strategy<Value = Value> {
        let text = prop_oneof![Just("a"), Just("A"), Just("b"), Just("work"), Just("")];
        let scalar = prop_oneof![
            text.clone().prop_map(|s| json!(s)),
            (0i64..5).prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        let email = (text.clone(), text.clone()).prop_map(|(value, kind)| json!({"value": value, "type": kind}));
        (
            prop::option::of(scalar.clone()),
            prop::option::of(scalar.clone()),
            prop::option::of(scalar),
            prop::option::of(prop::collection::vec(email, 0..3)),
            prop::option::of(text),
        )
            .prop_map(|(user_name, active, age, emails, given)| {
                let mut resource = serde_json::Map::new();
                let fields = [
                    ("userName", user_name),
                    ("active", active),
                    ("age", age),
                    ("emails", emails.map(Value::from)),
                    ("name", given.map(|g| json!({"givenName": g}))),
                ];
                for (key, value) in fields {
                    if let Some(value) = value {
                        resource.insert(key.to_string(), value);
                    }
                }
                Value::Object(resource)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn display_then_parse_round_trips(filter in arb_filter()) {
            let text = filter.to_string();
            let reparsed = parse_filter(&text);
            prop_assert_eq!(reparsed, Ok(filter), "text: {}", text);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_text(input in any::<String>()) {
            let _ = parse_filter(&input);
            let _ = parse_attr_path(&input);
            let _ = parse_path_expression(&input);
        }

        #[test]
        fn parser_never_panics_on_filter_like_text(
            input in r#"[a-zA-Z \t"()\[\]\.:\\$0-9eE+-]{0,60}"#
        ) {
            if let Ok(filter) = parse_filter(&input) {
                // Whatever parses must print to text that parses to the same AST.
                prop_assert_eq!(parse_filter(&filter.to_string()), Ok(filter));
            }
            let _ = parse_path_expression(&input);
        }

        #[test]
        fn not_negates(filter in arb_vocabulary_filter(), resource in arb_resource()) {
            let negated = Filter::Not(Box::new(filter.clone()));
            prop_assert_eq!(negated.matches(&resource), !filter.matches(&resource));
        }

        #[test]
        fn and_or_combine_like_booleans(
            a in arb_vocabulary_filter(),
            b in arb_vocabulary_filter(),
            resource in arb_resource(),
        ) {
            let (ma, mb) = (a.matches(&resource), b.matches(&resource));
            prop_assert_eq!(and(a.clone(), b.clone()).matches(&resource), ma && mb);
            prop_assert_eq!(or(a.clone(), b.clone()).matches(&resource), ma || mb);
            // The same holds for the parsed text of the combination.
            let text = format!("({a}) and ({b})");
            prop_assert_eq!(parse(&text).matches(&resource), ma && mb);
            let text = format!("({a}) or ({b})");
            prop_assert_eq!(parse(&text).matches(&resource), ma || mb);
        }

        #[test]
        fn ne_is_the_negation_of_eq_on_single_values(
            value in arb_comp_value().prop_filter("non-null", |v| !v.is_null()),
            actual in arb_comp_value(),
        ) {
            let resource = json!({"x": actual});
            let eq = Filter::Compare { path: path("x"), op: CompareOp::Eq, value: value.clone() };
            let ne = Filter::Compare { path: path("x"), op: CompareOp::Ne, value };
            prop_assert_eq!(ne.matches(&resource), !eq.matches(&resource));
        }
    }
}
