//! What every command prints the same way: counts in words, failures, and the `--json`
//! summary line.

use std::borrow::Cow;

use trailrelay::ports::PortError;

/// `text` as a terminal may show it: control characters (an escape sequence in an S3 key, a
/// queue attribute, a finding's detail, all written by whoever can write the bucket or the
/// queue) escaped as `\u{1b}`, everything else as it is.
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                c if c.is_control() => c.escape_default().to_string(),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// `n` and `noun`, plural unless `n` is 1: `1 object`, `2 objects`, `3 batches`.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    let consonant_y = noun
        .strip_suffix('y')
        .is_some_and(|stem| stem.chars().last().is_some_and(|c| !"aeiou".contains(c)));
    match noun {
        _ if consonant_y => format!("{n} {}ies", &noun[..noun.len() - 1]),
        _ if ["s", "x", "ch", "sh"].iter().any(|end| noun.ends_with(end)) => {
            format!("{n} {noun}es")
        }
        _ => format!("{n} {noun}s"),
    }
}

/// An input or object that failed, printed as one line: `error: WHAT: MESSAGE [CAUSE, CLASS]`,
/// or with `--json` as `{"error":{...}}`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Failure {
    /// The input, object or message concerned.
    pub(crate) what: String,
    pub(crate) cause: &'static str,
    /// `retry`, `poison`, or absent when the failure is the run's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) class: Option<&'static str>,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(what: &str, cause: &'static str, message: String) -> Self {
        Self {
            what: what.to_owned(),
            cause,
            class: None,
            message,
        }
    }

    pub(crate) fn of(what: &str, e: &PortError) -> Self {
        Self {
            what: what.to_owned(),
            cause: e.cause,
            class: Some(e.class.as_str()),
            message: e.to_string(),
        }
    }

    /// On standard error; with `json`, also as an NDJSON line on standard output.
    pub(crate) fn print(&self, json: bool) {
        match self.class {
            Some(class) => eprintln!(
                "error: {}: {} [{}, {class}]",
                shown(&self.what),
                shown(&self.message),
                self.cause
            ),
            None => eprintln!("error: {}", shown(&self.message)),
        }
        if json {
            print_json_line("error", self);
        }
    }
}

/// `{"<name>": value}` as one line on standard output.
pub(crate) fn print_json_line(name: &str, value: &impl serde::Serialize) {
    let mut line = serde_json::Map::new();
    match serde_json::to_value(value) {
        Ok(value) => {
            line.insert(name.to_owned(), value);
            println!("{}", serde_json::Value::Object(line));
        }
        Err(e) => eprintln!("error: printing {name} as JSON: {e}"),
    }
}

/// The `--json` summary: the last line on standard output, `{"summary": {...}}`.
pub(crate) fn print_json_summary(summary: &serde_json::Value) {
    print_json_line("summary", summary);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "object"), "1 object");
        assert_eq!(count(0, "finding"), "0 findings");
        assert_eq!(count(2, "batch"), "2 batches");
        assert_eq!(count(3, "day folder"), "3 day folders");
        assert_eq!(count(2, "policy"), "2 policies");
        assert_eq!(count(2, "key"), "2 keys");
        assert_eq!(count(2, "address"), "2 addresses");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert!(matches!(shown("AWSLogs/é 1.json.gz"), Cow::Borrowed(_)));
        assert_eq!(
            shown("a\u{1b}]0;owned\u{7}b\nc\u{9b}d"),
            "a\\u{1b}]0;owned\\u{7}b\\nc\\u{9b}d"
        );
    }
}
