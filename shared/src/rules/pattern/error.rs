//! Why a filter pattern is invalid, and where.

use std::fmt;

/// A pattern the CloudWatch Logs filter pattern language does not accept (the service answers
/// `InvalidParameterException: Invalid filter pattern`). Carries the pattern, the byte offset
/// of the problem and its kind; `Display` points at the offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    offset: usize,
    kind: PatternErrorKind,
}

/// The ways a pattern can be invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// Longer than [`super::MAX_PATTERN_CHARS`] characters.
    TooLong {
        /// Characters in the pattern.
        chars: usize,
    },
    /// A `"` with no closing `"`.
    UnclosedQuote,
    /// A `%` regex with no closing `%`.
    UnclosedRegex,
    /// A JSON pattern with no closing `}`.
    UnclosedBrace,
    /// A space-delimited pattern with no closing `]`.
    UnclosedBracket,
    /// A `(` with no closing `)`.
    UnclosedParen,
    /// Something after the end of the pattern.
    TrailingInput,
    /// A `?` or `-` with no term after it, or `""` among other terms.
    EmptyTerm,
    /// A regex mixed with other terms (a regex stands alone or sits in a JSON or
    /// space-delimited condition).
    RegexAmongTerms,
    /// A character the regex subset does not allow (`(`, `)`, `!`, non-ASCII, ...).
    RegexChar(char),
    /// An escape the regex subset does not define.
    RegexEscape(char),
    /// The regex is malformed (unbalanced `[`, a bad repetition, ...).
    RegexSyntax(String),
    /// More than [`super::MAX_REGEXES`] regexes in one JSON or space-delimited pattern.
    TooManyRegexes,
    /// Expected a selector such as `$.eventName`.
    ExpectedSelector,
    /// A malformed selector.
    InvalidSelector(&'static str),
    /// More than one `*` in one selector.
    TooManyWildcardsInSelector,
    /// More than [`super::MAX_WILDCARD_SELECTORS`] selectors with a `*` in one pattern.
    TooManyWildcardSelectors,
    /// Expected `=`, `!=`, `<`, `<=`, `>`, `>=`, `IS NULL`, `IS TRUE`, `IS FALSE` or `NOT EXISTS`.
    ExpectedOperator,
    /// An operator the language does not have (`IS NOT`, `EXISTS`, `==`, ...).
    UnsupportedOperator(&'static str),
    /// Expected a value after the operator.
    ExpectedValue,
    /// `<`, `<=`, `>` and `>=` compare numbers only.
    NumberExpected,
    /// Expected a condition or `(`.
    ExpectedCondition,
    /// A space-delimited field name other than letters, digits, `_` and `-`.
    InvalidFieldName,
    /// A condition in one field's slot that names another field.
    CrossFieldCondition {
        /// The slot's field.
        field: String,
        /// The field the condition names.
        other: String,
    },
    /// More than one `...` in a space-delimited pattern.
    MultipleEllipses,
    /// Expected `,` or `]` after a field.
    ExpectedFieldSeparator,
}

impl PatternError {
    pub(crate) fn new(pattern: &str, offset: usize, kind: PatternErrorKind) -> Self {
        Self {
            pattern: pattern.to_owned(),
            offset,
            kind,
        }
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Byte offset of the problem in the pattern.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong.
    pub fn kind(&self) -> &PatternErrorKind {
        &self.kind
    }
}

impl fmt::Display for PatternErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { chars } => write!(
                f,
                "the pattern has {chars} characters; at most {} are allowed",
                super::MAX_PATTERN_CHARS
            ),
            Self::UnclosedQuote => f.write_str("unclosed '\"'"),
            Self::UnclosedRegex => f.write_str("unclosed '%' regex"),
            Self::UnclosedBrace => f.write_str("JSON pattern without its closing '}'"),
            Self::UnclosedBracket => f.write_str("space-delimited pattern without its closing ']'"),
            Self::UnclosedParen => f.write_str("unclosed '('"),
            Self::TrailingInput => f.write_str("unexpected text after the end of the pattern"),
            Self::EmptyTerm => f.write_str("empty term"),
            Self::RegexAmongTerms => {
                f.write_str("a %regex% stands alone or sits in a JSON or space-delimited condition")
            }
            Self::RegexChar(c) => write!(f, "{c:?} is not allowed in a filter pattern regex"),
            Self::RegexEscape(c) => write!(f, "\\{c} is not a supported regex escape"),
            Self::RegexSyntax(why) => write!(f, "invalid regex: {why}"),
            Self::TooManyRegexes => write!(
                f,
                "at most {} regexes are allowed in one pattern",
                super::MAX_REGEXES
            ),
            Self::ExpectedSelector => f.write_str("expected a selector such as $.eventName"),
            Self::InvalidSelector(why) => write!(f, "invalid selector: {why}"),
            Self::TooManyWildcardsInSelector => {
                f.write_str("at most one '*' is allowed in a selector")
            }
            Self::TooManyWildcardSelectors => write!(
                f,
                "at most {} selectors with a '*' are allowed in one pattern",
                super::MAX_WILDCARD_SELECTORS
            ),
            Self::ExpectedOperator => f.write_str(
                "expected =, !=, <, <=, >, >=, IS NULL, IS TRUE, IS FALSE or NOT EXISTS",
            ),
            Self::UnsupportedOperator(op) => write!(f, "{op} is not an operator of the language"),
            Self::ExpectedValue => f.write_str("expected a value"),
            Self::NumberExpected => f.write_str("<, <=, > and >= compare numbers only"),
            Self::ExpectedCondition => f.write_str("expected a condition or '('"),
            Self::InvalidFieldName => {
                f.write_str("field names take only letters, digits, '_' and '-'")
            }
            Self::CrossFieldCondition { field, other } => write!(
                f,
                "the condition in field {field}'s slot names field {other}; conditions combined \
                 with && and || must test the same field"
            ),
            Self::MultipleEllipses => f.write_str("at most one '...' is allowed"),
            Self::ExpectedFieldSeparator => f.write_str("expected ',' or ']' after a field"),
        }
    }
}

impl fmt::Display for PatternError {
    /// `invalid filter pattern at byte N: what`, then the pattern with a caret under byte N.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter pattern at byte {}: {}",
            self.offset, self.kind
        )?;
        if self.pattern.len() <= 200 && !self.pattern.contains(['\n', '\r']) {
            let column = self
                .pattern
                .get(..self.offset)
                .map_or(self.offset, |s| s.chars().count());
            write!(f, "\n  {}\n  {}^", self.pattern, " ".repeat(column))?;
        }
        Ok(())
    }
}

impl std::error::Error for PatternError {}
