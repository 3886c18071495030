//! Matching: terms and regexes on the message text, JSON patterns on a [`Document`],
//! space-delimited patterns on the message split into fields.
//!
//! JSON semantics, from the filter pattern syntax page and the 2021 user guide it replaced:
//! a selector must reach a value node (a string or a number) for `=` and `!=`; reaching an
//! object, an array, `null` or a boolean, or reaching nothing, makes both false. `IS NULL` needs
//! a present `null`; `NOT EXISTS` needs nothing there. With a wildcard selector a condition holds
//! if it holds for any selected node.

use super::parse::parse_number;
use super::{
    Document, Extracted, Field, JsonPattern, Node, Op, PatternOptions, SpacePattern, Terms, Test,
    TextMatch, Value,
};

// ---- terms ----------------------------------------------------------------------------------

pub(crate) fn match_terms(t: &Terms, message: &str) -> bool {
    let hay = message.as_bytes();
    t.required
        .iter()
        .all(|term| term.finder.find(hay).is_some())
        && !t
            .excluded
            .iter()
            .any(|term| term.finder.find(hay).is_some())
        && (t.optional.is_empty()
            || t.optional
                .iter()
                .any(|term| term.finder.find(hay).is_some()))
}

// ---- JSON patterns --------------------------------------------------------------------------

pub(crate) fn match_json(p: &JsonPattern, doc: &Document<'_>, options: &PatternOptions) -> bool {
    p.expr.eval(&mut |c| {
        let selector = &p.selectors[c.selector];
        let slot = p.slots.get(c.selector).copied().flatten();
        match &c.test {
            Test::NotExists => !doc.any(selector, slot, &mut |_| true),
            Test::IsNull => doc.any(selector, slot, &mut |n| matches!(n, Node::Null)),
            Test::IsTrue => doc.any(selector, slot, &mut |n| matches!(n, Node::Bool(true))),
            Test::IsFalse => doc.any(selector, slot, &mut |n| matches!(n, Node::Bool(false))),
            Test::Compare(op, value) => doc.any(selector, slot, &mut |n| {
                compare_node(n, *op, value, options)
            }),
            Test::OneOf(list) => doc.any(selector, slot, &mut |n| match n {
                Node::Str(s) => list.binary_search_by(|v| v.as_str().cmp(s)).is_ok(),
                _ => false,
            }),
        }
    })
}

/// One comparison on one node; false for anything but a string or a number.
fn compare_node(node: &Node<'_>, op: Op, value: &Value, options: &PatternOptions) -> bool {
    match node {
        Node::Str(s) => compare_text(s, op, value, options.compare_across_types),
        Node::Number(n) => match value {
            Value::Any => op == Op::Eq,
            Value::Number(x) => compare_numbers(*n, op, *x),
            Value::Text(m) if options.compare_across_types => {
                let eq = m.as_number().is_some_and(|x| x == *n);
                (op == Op::Eq && eq) || (op == Op::Ne && !eq)
            }
            _ => false,
        },
        _ => false,
    }
}

/// A comparison on a string: a JSON string node, or a space-delimited field.
fn compare_text(s: &str, op: Op, value: &Value, numbers_from_text: bool) -> bool {
    let eq = match value {
        // `= *`: the value exists; `!= *` can never hold.
        Value::Any => return op == Op::Eq,
        Value::Text(m) => m.matches(s),
        Value::Regex(r) => r.is_match(s),
        Value::Number(x) => {
            return numbers_from_text
                && parse_number(s).is_some_and(|n| compare_numbers(n, op, *x));
        }
    };
    match op {
        Op::Eq => eq,
        Op::Ne => !eq,
        _ => false,
    }
}

fn compare_numbers(n: f64, op: Op, x: f64) -> bool {
    match op {
        Op::Eq => n == x,
        Op::Ne => n != x,
        Op::Lt => n < x,
        Op::Le => n <= x,
        Op::Gt => n > x,
        Op::Ge => n >= x,
    }
}

impl TextMatch {
    pub(crate) fn matches(&self, s: &str) -> bool {
        let [first, middle @ .., last] = &self.parts[..] else {
            let part = self.parts.first().map_or("", String::as_str);
            return match (self.leading_star, self.trailing_star) {
                (false, false) => s == part,
                (true, false) => s.ends_with(part),
                (false, true) => s.starts_with(part),
                (true, true) => s.contains(part),
            };
        };
        // Several parts: `*` in the middle is a wildcard.
        let mut rest = s;
        if self.leading_star {
            match rest.find(first.as_str()) {
                Some(i) => rest = &rest[i + first.len()..],
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix(first.as_str()) {
            rest = r;
        } else {
            return false;
        }
        for part in middle {
            match rest.find(part.as_str()) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        if self.trailing_star {
            rest.contains(last.as_str())
        } else {
            rest.len() >= last.len() && rest.ends_with(last.as_str())
        }
    }

    fn as_number(&self) -> Option<f64> {
        match &self.parts[..] {
            [only] if !self.leading_star && !self.trailing_star => parse_number(only),
            _ => None,
        }
    }
}

// ---- space-delimited patterns ---------------------------------------------------------------

/// A field of a space-delimited line: its value and where its raw text starts.
struct Token<'m> {
    value: &'m str,
    start: usize,
}

/// Splits on spaces and tabs (runs count as one); `"..."` and `[...]` are single fields,
/// without their quotes or brackets.
fn tokens(message: &str) -> Vec<Token<'_>> {
    let b = message.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let close = match b[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        let (value, next) = match close {
            Some(c) => match memchr::memchr(c, &b[i + 1..]) {
                Some(k) => (&message[i + 1..i + 1 + k], i + 2 + k),
                None => (&message[i + 1..], b.len()),
            },
            None => {
                let end = b[i..]
                    .iter()
                    .position(|&x| x == b' ' || x == b'\t')
                    .map_or(b.len(), |k| i + k);
                (&message[i..end], end)
            }
        };
        out.push(Token { value, start });
        i = next;
    }
    out
}

pub(crate) fn match_space(
    p: &SpacePattern,
    message: &str,
    options: &PatternOptions,
) -> Option<Extracted> {
    let tokens = tokens(message);
    if p.fields.is_empty() {
        // `[]` matches every event and extracts every field.
        return Some(Extracted(
            tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("${}", i + 1), t.value.to_owned()))
                .collect(),
        ));
    }
    let ellipsis = p.fields.iter().position(|f| matches!(f, Field::Ellipsis));
    let fixed = p.fields.len() - usize::from(ellipsis.is_some());
    if tokens.len() < fixed {
        return None;
    }
    // Which tokens each field covers.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(p.fields.len());
    match ellipsis {
        Some(e) => {
            let middle = tokens.len() - fixed;
            let mut at = 0;
            for i in 0..p.fields.len() {
                let width = if i == e { middle } else { 1 };
                spans.push((at, at + width));
                at += width;
            }
        }
        None if tokens.len() == fixed => spans.extend((0..fixed).map(|i| (i, i + 1))),
        None if options.last_field_takes_rest => {
            spans.extend((0..fixed - 1).map(|i| (i, i + 1)));
            spans.push((fixed - 1, tokens.len()));
        }
        None => return None,
    }
    let mut extracted = Vec::with_capacity(tokens.len());
    for (field, &(from, to)) in p.fields.iter().zip(&spans) {
        match field {
            Field::Ellipsis | Field::Unnamed => {
                for (i, t) in tokens.iter().enumerate().take(to).skip(from) {
                    extracted.push((format!("${}", i + 1), t.value.to_owned()));
                }
            }
            Field::Named { name, condition } => {
                let value = if to - from == 1 {
                    tokens[from].value
                } else {
                    message[tokens[from].start..].trim_end()
                };
                if let Some(condition) = condition
                    && !condition.eval(&mut |(op, v)| compare_text(value, *op, v, true))
                {
                    return None;
                }
                extracted.push((format!("${name}"), value.to_owned()));
            }
        }
    }
    Some(Extracted(extracted))
}
