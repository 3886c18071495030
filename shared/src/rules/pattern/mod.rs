//! The CloudWatch Logs filter pattern language: parse once, match many times.
//!
//! One syntax serves metric filters, subscription filters and FilterLogEvents ("Filter pattern
//! syntax for metric filters, subscription filters, filter log events, and Live Tail",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>).
//! A pattern is classified by its first non-blank character:
//!
//! | first character | family |
//! |---|---|
//! | none (empty or blank) | matches every event |
//! | `{` | JSON pattern: conditions on selectors such as `$.eventName`, with `&&`, `||`, `()` |
//! | `[` | space-delimited pattern: conditions on the fields of a space-separated line |
//! | `%` | a regex, standalone |
//! | anything else | terms: case-sensitive substrings, `"quoted phrases"`, `?optional`, `-excluded` |
//!
//! [`FilterPattern::parse`] checks everything the service checks and fails with a
//! [`PatternError`] that points at the offending byte. Where the documentation is silent or
//! contradicts itself, the choice made is documented on [`PatternOptions`] and can be switched.
//!
//! Matching takes the message text and, for JSON patterns, a [`Document`]: the record parsed
//! once for every pattern of a rule set, keeping only the values their selectors reach.

mod document;
mod error;
mod eval;
mod parse;
mod regex;

use std::fmt;

pub use document::Document;
pub(crate) use document::{Node, SelectorTrie};
pub use error::{PatternError, PatternErrorKind};
pub(crate) use parse::parse_number;

use self::regex::PatternRegex;

/// Longest pattern, in characters (PutMetricFilter `filterPattern`, 0 to 1024,
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html>).
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Most regexes in one JSON or space-delimited pattern (filter pattern syntax, regex quotas).
pub const MAX_REGEXES: usize = 2;
/// Most selectors with a `*` in one JSON pattern (filter pattern syntax, wildcard quotas).
pub const MAX_WILDCARD_SELECTORS: usize = 3;

/// Choices where the documentation is silent or contradictory. The defaults follow the
/// documented rule where there is one, and the recommendation of the project's language notes
/// elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternOptions {
    /// A `*` in the middle of a JSON or space-delimited string value (`Ev*ent`) is a literal
    /// asterisk, as the 2021 user guide states ("will only match the actual string Ev*ent").
    /// `false` makes it a wildcard like a leading or trailing one.
    pub middle_star_is_literal: bool,
    /// Whether a number literal may equal a JSON string (`= 400` against `"400"`) and a quoted
    /// string a JSON number. Off: values compare within their type only.
    pub compare_across_types: bool,
    /// In a space-delimited pattern without `...`, a line with more fields than the pattern
    /// matches, the last named field taking the rest of the line (as AWS's console presets for
    /// multi-word Lambda lines require). Off: the field counts must be equal.
    pub last_field_takes_rest: bool,
}

impl Default for PatternOptions {
    fn default() -> Self {
        Self {
            middle_star_is_literal: true,
            compare_across_types: false,
            last_field_takes_rest: true,
        }
    }
}

/// A compiled filter pattern.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    text: String,
    body: Body,
    options: PatternOptions,
    warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    All,
    Terms(Terms),
    Regex(PatternRegex),
    Json(JsonPattern),
    Space(SpacePattern),
}

#[derive(Debug, Clone)]
pub(crate) struct Terms {
    pub(crate) required: Vec<Term>,
    pub(crate) excluded: Vec<Term>,
    /// Only when the pattern has nothing but `?` terms: at least one must occur.
    pub(crate) optional: Vec<Term>,
}

#[derive(Clone)]
pub(crate) struct Term {
    pub(crate) finder: memchr::memmem::Finder<'static>,
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Term({:?})",
            String::from_utf8_lossy(self.finder.needle())
        )
    }
}

/// `A || B`, `A && B` and leaves; `&&` binds tighter than `||`.
#[derive(Debug, Clone)]
pub(crate) enum Expr<C> {
    Or(Vec<Expr<C>>),
    And(Vec<Expr<C>>),
    Leaf(C),
}

impl<C> Expr<C> {
    pub(crate) fn eval(&self, leaf: &mut impl FnMut(&C) -> bool) -> bool {
        match self {
            Self::Or(items) => items.iter().any(|e| e.eval(leaf)),
            Self::And(items) => items.iter().all(|e| e.eval(leaf)),
            Self::Leaf(c) => leaf(c),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct JsonPattern {
    pub(crate) expr: Expr<JsonCondition>,
    pub(crate) selectors: Vec<Selector>,
    /// Each selector's slot in the [`SelectorTrie`] the pattern is bound to; empty if unbound.
    pub(crate) slots: Vec<Option<usize>>,
}

#[derive(Debug, Clone)]
pub(crate) struct JsonCondition {
    /// Index into [`JsonPattern::selectors`].
    pub(crate) selector: usize,
    pub(crate) test: Test,
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Compare(Op, Value),
    /// `(s = "a") || (s = "b") || ...` on one selector, compiled to one lookup in a sorted list.
    OneOf(Vec<String>),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// `*` alone: any string or number.
    Any,
    Text(TextMatch),
    Number(f64),
    Regex(PatternRegex),
}

/// A string value with optional `*` wildcards at either end (and, if the options say so, in
/// the middle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextMatch {
    pub(crate) parts: Vec<String>,
    pub(crate) leading_star: bool,
    pub(crate) trailing_star: bool,
}

/// A path into a JSON document: `$.a.b[0]`, `$.*`, `$.a[*]`, `$.['dotted.key']`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    pub(crate) steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
    AnyKey,
    AnyIndex,
}

impl Selector {
    /// Parses a standalone selector (`$.a.b`), as metric values and dimensions use them.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        parse::parse_selector(text)
    }

    pub(crate) fn has_wildcard(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::AnyKey | Step::AnyIndex))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SpacePattern {
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub(crate) enum Field {
    Named {
        name: String,
        condition: Option<Expr<(Op, Value)>>,
    },
    Unnamed,
    Ellipsis,
}

/// The values a space-delimited pattern extracted from a line: `$name` for named fields, `$N`
/// (1-based position) for the others, in line order, as TestMetricFilter reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted(pub Vec<(String, String)>);

impl Extracted {
    /// The value of `$name` or `$N`.
    pub fn get(&self, reference: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == reference)
            .map(|(_, v)| v.as_str())
    }
}

impl serde::Serialize for Extracted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Which family a pattern belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFamily {
    /// Matches every event.
    All,
    /// Terms and phrases.
    Terms,
    /// A standalone regex.
    Regex,
    /// A JSON pattern.
    Json,
    /// A space-delimited pattern.
    SpaceDelimited,
}

impl FilterPattern {
    /// Compiles `text` with the default [`PatternOptions`].
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        Self::parse_with(text, PatternOptions::default())
    }

    /// Compiles `text` with `options`.
    pub fn parse_with(text: &str, options: PatternOptions) -> Result<Self, PatternError> {
        let (body, warnings) = parse::parse(text, &options)?;
        Ok(Self {
            text: text.to_owned(),
            body,
            options,
            warnings,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The pattern's family.
    pub fn family(&self) -> PatternFamily {
        match self.body {
            Body::All => PatternFamily::All,
            Body::Terms(_) => PatternFamily::Terms,
            Body::Regex(_) => PatternFamily::Regex,
            Body::Json(_) => PatternFamily::Json,
            Body::Space(_) => PatternFamily::SpaceDelimited,
        }
    }

    /// Things the service may treat differently from this implementation (unquoted
    /// punctuation in terms, `?` terms that are ignored).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Registers the pattern's selectors in `trie`, so that matching reads each from its slot
    /// of a [`Document`] parsed with that trie.
    pub(crate) fn bind(&mut self, trie: &mut SelectorTrie) {
        if let Body::Json(j) = &mut self.body {
            j.slots = j.selectors.iter().map(|s| trie.insert(s)).collect();
        }
    }

    /// The selectors a JSON pattern reads; empty for other families.
    pub fn selectors(&self) -> &[Selector] {
        match &self.body {
            Body::Json(j) => &j.selectors,
            _ => &[],
        }
    }

    /// Whether the pattern matches `message`. `doc` is the message parsed as JSON (for JSON
    /// patterns; `None` when the message is not a JSON document, which no JSON pattern matches),
    /// with the trie the pattern is bound to, or with [`Document::parse_full`] if it is unbound.
    pub fn matches(&self, message: &str, doc: Option<&Document<'_>>) -> bool {
        match &self.body {
            Body::All => true,
            Body::Terms(t) => eval::match_terms(t, message),
            Body::Regex(r) => r.is_match(message),
            Body::Json(j) => doc.is_some_and(|d| eval::match_json(j, d, &self.options)),
            Body::Space(s) => eval::match_space(s, message, &self.options).is_some(),
        }
    }

    /// Like [`Self::matches`], also returning what a space-delimited pattern extracted (empty
    /// for the other families, as TestMetricFilter reports).
    pub fn matches_extracting(
        &self,
        message: &str,
        doc: Option<&Document<'_>>,
    ) -> Option<Extracted> {
        match &self.body {
            Body::Space(s) => eval::match_space(s, message, &self.options),
            _ => self.matches(message, doc).then(Extracted::default),
        }
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
