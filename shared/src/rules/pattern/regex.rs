//! The `%...%` regex subset of filter patterns, checked and translated to the `regex` crate.
//!
//! Filter pattern regexes ("Supported regular expressions (regex) syntax",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>) are
//! unanchored searches over ASCII, written with letters, digits, the symbols `: _ # = @ / ; , -`
//! and the operators `^ $ ? [ ] { } | \ * + .`; there are no groups. Escapes are `\d \D \s \S
//! \w \W`, `\xhh`, and `\` before an operator character to take it literally. The space is not
//! in the documented list, yet the documentation's own example uses it, so it is accepted.
//! `\s` is exactly tab, space and newline, as documented.

use super::error::PatternErrorKind;

/// Most bytes a compiled regex program may take; keeps pathological repetition bounded.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled filter pattern regex.
#[derive(Debug, Clone)]
pub(crate) struct PatternRegex {
    regex: regex::bytes::Regex,
}

impl PatternRegex {
    /// Compiles the text between the `%` signs. On error, the offset is relative to `body`.
    pub(crate) fn compile(body: &str) -> Result<Self, (usize, PatternErrorKind)> {
        let translated = translate(body)?;
        let regex = regex::bytes::RegexBuilder::new(&translated)
            .unicode(false)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| (0, PatternErrorKind::RegexSyntax(short_error(&e))))?;
        Ok(Self { regex })
    }

    /// Whether the regex matches anywhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text.as_bytes())
    }
}

fn short_error(e: &regex::Error) -> String {
    // The regex crate's message spans several lines with its own caret; keep the last line.
    e.to_string()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("malformed")
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ':' | '_'
                | '#'
                | '='
                | '@'
                | '/'
                | ';'
                | ','
                | '-'
                | ' '
                | '^'
                | '$'
                | '?'
                | '['
                | ']'
                | '{'
                | '}'
                | '|'
                | '\\'
                | '*'
                | '+'
                | '.'
        )
}

/// Checks the subset and rewrites it in the `regex` crate's syntax.
fn translate(body: &str) -> Result<String, (usize, PatternErrorKind)> {
    let mut out = String::with_capacity(body.len() + 8);
    let mut in_class = false;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_allowed(c) {
            return Err((i, PatternErrorKind::RegexChar(c)));
        }
        match c {
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err((i, PatternErrorKind::RegexSyntax("trailing '\\'".into())));
                };
                match e {
                    'd' | 'D' | 'w' | 'W' => {
                        out.push('\\');
                        out.push(e);
                    }
                    's' if in_class => out.push_str("\\t\\n "),
                    's' => out.push_str("[\\t\\n ]"),
                    'S' => out.push_str("[^\\t\\n ]"),
                    'x' => {
                        let hex: String = (0..2)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err((
                                i,
                                PatternErrorKind::RegexSyntax("\\x takes two hex digits".into()),
                            ));
                        }
                        out.push_str("\\x");
                        out.push_str(&hex);
                    }
                    e if e.is_ascii_punctuation() || e == ' ' => {
                        out.push('\\');
                        out.push(e);
                    }
                    other => return Err((i, PatternErrorKind::RegexEscape(other))),
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading ']' (or '^]') is a literal in the class.
                if chars.peek().is_some_and(|(_, n)| *n == '^') {
                    out.push('^');
                    chars.next();
                }
            }
            '[' => out.push_str("\\["),
            // `{,n}`: the documentation lets the lower bound be omitted; the `regex` crate
            // wants it written.
            '{' if !in_class && chars.peek().is_some_and(|(_, n)| *n == ',') => out.push_str("{0"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // Everything else means the same in both syntaxes (`#` is special only in the
            // `regex` crate's verbose mode, which is off).
            _ => out.push(c),
        }
    }
    if in_class {
        return Err((
            body.len(),
            PatternErrorKind::RegexSyntax("unclosed '['".into()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(re: &str, text: &str) -> bool {
        PatternRegex::compile(re).unwrap().is_match(text)
    }

    /// Examples of the documentation's regex section, with their documented results.
    #[test]
    fn documented_examples() {
        // "%AUTHORIZED%" matches "[ERROR 401] UNAUTHORIZED REQUEST": unanchored.
        assert!(matches("AUTHORIZED", "[ERROR 401] UNAUTHORIZED REQUEST"));
        // Anchors refer to the whole string.
        assert!(matches(
            "^starting|^initializing|^shutting down",
            "shutting down now"
        ));
        assert!(!matches("^starting", "now starting"));
        // Alternation binds loosest: "gra" or "ey".
        assert!(matches("gra|ey", "grey"));
        assert!(matches("gra|ey", "they"));
        // Repetition with omitted bounds.
        assert!(matches("^ab{2,}c$", "abbc"));
        assert!(!matches("^ab{2,}c$", "abc"));
        assert!(matches("^ab{0,1}c$", "ac"));
        // "m may be omitted": {,n} is {0,n}.
        for (text, matched) in [
            ("ac", true),
            ("abc", true),
            ("abbc", true),
            ("abbbc", false),
        ] {
            assert_eq!(matches("^ab{,2}c$", text), matched, "{text}");
        }
        assert!(
            matches("^a[{,]+$", "a{,"),
            "inside a class the braces are literal"
        );
        // Classes, ranges and negation.
        assert!(matches("^[a-c]+$", "abcab"));
        assert!(matches("abcc|ab[^c]$", "abd"));
        // Escapes and \x.
        assert!(matches("\\x3A", "a:b"));
        assert!(matches("\\x28", "f(x)"));
        assert!(matches("^\\d+\\.\\d+$", "10.5"));
        assert!(matches("^\\w+$", "snake_case9"));
        assert!(!matches("^\\w+$", "kebab-case"));
        // \s is tab, space and newline.
        assert!(matches("a\\sb", "a\tb"));
        assert!(!matches("a\\sb", "a\rb"));
        assert!(matches("a[\\s,]b", "a,b"));
        assert!(matches("a\\Sb", "a-b"));
        // Case sensitive.
        assert!(!matches("error", "ERROR"));
        assert!(matches("[Ee]rror|[Ff]ail", "Failed"));
        // Literal punctuation of the allowed set.
        assert!(matches(
            "^arn:aws:iam::\\d{12}:role/[a-z-]+$",
            "arn:aws:iam::123456789012:role/my-role"
        ));
    }

    #[test]
    fn refused_characters_and_escapes() {
        let err = |re: &str| PatternRegex::compile(re).unwrap_err();
        assert_eq!(err("something!"), (9, PatternErrorKind::RegexChar('!')));
        assert_eq!(err("(ab)"), (0, PatternErrorKind::RegexChar('(')));
        assert_eq!(err("caf\u{e9}"), (3, PatternErrorKind::RegexChar('\u{e9}')));
        assert_eq!(err("a\\bc"), (1, PatternErrorKind::RegexEscape('b')));
        assert!(matches!(
            err("a\\xZ1"),
            (1, PatternErrorKind::RegexSyntax(_))
        ));
        assert!(matches!(err("[abc"), (4, PatternErrorKind::RegexSyntax(_))));
        assert!(matches!(
            err("a{2,1}"),
            (0, PatternErrorKind::RegexSyntax(_))
        ));
        assert!(matches!(err("*a"), (0, PatternErrorKind::RegexSyntax(_))));
    }
}
