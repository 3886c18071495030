//! JSON syntax as RFC 8259 defines it (<https://www.rfc-editor.org/rfc/rfc8259>), and nothing
//! more: numbers of any magnitude, escapes of lone surrogates (section 8.2), repeated member
//! names (section 4 says they SHOULD be unique, not MUST) and nesting of any depth are all valid
//! JSON, though serde refuses each of them. This scanner decides whether a record is JSON at
//! all, without recursion (so depth costs heap, never stack), and lends out the members of its
//! top-level object as raw text.

/// Where and why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} at byte {offset}")]
pub struct SyntaxError {
    /// Byte offset in the record.
    pub offset: usize,
    /// What the grammar allows there.
    pub expected: &'static str,
}

fn fail<T>(offset: usize, expected: &'static str) -> Result<T, SyntaxError> {
    Err(SyntaxError { offset, expected })
}

/// The members of the JSON object `text`, each as (raw name with its quotes, raw value), in
/// document order, repeats included. Fails unless `text` is exactly one JSON object.
pub fn members(text: &str) -> Result<Vec<(&str, &str)>, SyntaxError> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return fail(i, "'{'");
    }
    let mut out = Vec::new();
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            let name_end = string_end(b, i)?;
            let name = &text[i..name_end];
            let start = colon(b, name_end)?;
            let end = value_end(b, start)?;
            out.push((name, &text[start..end]));
            i = ws(b, end);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return fail(i, "',' or '}'"),
            }
        }
    }
    let end = ws(b, i);
    if end != b.len() {
        return fail(end, "the end of the record");
    }
    Ok(out)
}

/// What kind of JSON value `text` is, when it is exactly one JSON value (any kind): `None`
/// when it is not JSON.
pub fn value_kind(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let start = ws(b, 0);
    let end = value_end(b, start).ok()?;
    if ws(b, end) != b.len() {
        return None;
    }
    Some(match b.get(start)? {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    })
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// After a member name ending at `i`: the ':' and the start of the value.
fn colon(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    let i = ws(b, i);
    if b.get(i) != Some(&b':') {
        return fail(i, "':'");
    }
    Ok(ws(b, i + 1))
}

/// The end of the value starting at `i`; containers are walked with an explicit stack.
fn value_end(b: &[u8], mut i: usize) -> Result<usize, SyntaxError> {
    let mut open: Vec<u8> = Vec::new();
    loop {
        i = ws(b, i);
        match b.get(i) {
            Some(b'{') => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    open.push(b'}');
                    i = colon(b, string_end(b, i)?)?;
                    continue;
                }
            }
            Some(b'[') => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    open.push(b']');
                    continue;
                }
            }
            Some(b'"') => i = string_end(b, i)?,
            Some(b'-' | b'0'..=b'9') => i = number_end(b, i)?,
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            _ => return fail(i, "a value"),
        }
        // A value ended: close what it ends, or go on to the next element.
        loop {
            let Some(&close) = open.last() else {
                return Ok(i);
            };
            i = ws(b, i);
            match b.get(i) {
                Some(b',') if close == b'}' => {
                    i = colon(b, string_end(b, ws(b, i + 1))?)?;
                    break;
                }
                Some(b',') => {
                    i += 1;
                    break;
                }
                Some(&c) if c == close => {
                    open.pop();
                    i += 1;
                }
                _ if close == b'}' => return fail(i, "',' or '}'"),
                _ => return fail(i, "',' or ']'"),
            }
        }
    }
}

/// The end of the string starting at `i` (just past its closing quote).
fn string_end(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    if b.get(i) != Some(&b'"') {
        return fail(i, "a string");
    }
    let mut i = i + 1;
    loop {
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = b.get(i + 2..i + 6).unwrap_or_default();
                    if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return fail(i, "four hex digits after \\u");
                    }
                    i += 6;
                }
                _ => return fail(i, "an escape"),
            },
            Some(&c) if c < 0x20 => return fail(i, "no control character in a string"),
            Some(_) => i += 1,
            None => return fail(i, "'\"'"),
        }
    }
}

/// The end of the number starting at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number_end(b: &[u8], mut i: usize) -> Result<usize, SyntaxError> {
    let digits = |mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, i > start)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i).0,
        _ => return fail(i, "a digit"),
    }
    if b.get(i) == Some(&b'.') {
        let (end, any) = digits(i + 1);
        if !any {
            return fail(end, "a digit after '.'");
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (end, any) = digits(i);
        if !any {
            return fail(end, "a digit in the exponent");
        }
        i = end;
    }
    Ok(i)
}

fn literal(b: &[u8], i: usize, word: &'static [u8]) -> Result<usize, SyntaxError> {
    if b.get(i..i + word.len()) == Some(word) {
        Ok(i + word.len())
    } else {
        fail(i, "true, false or null")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_lent_as_raw_text_in_order_with_repeats() {
        let text = r#" {"a" : 1e999, "b":[{"c":"\ud800"}, -0.5E+3], "a":"x\"y", "d":{}} "#;
        assert_eq!(
            members(text).unwrap(),
            [
                (r#""a""#, "1e999"),
                (r#""b""#, r#"[{"c":"\ud800"}, -0.5E+3]"#),
                (r#""a""#, r#""x\"y""#),
                (r#""d""#, "{}"),
            ]
        );
        assert_eq!(members("{}").unwrap(), []);
    }

    #[test]
    fn any_depth_is_valid_and_costs_no_stack() {
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(200_000), "]".repeat(200_000));
        assert_eq!(members(&deep).unwrap().len(), 1);
        let unbalanced = format!(r#"{{"a":{}1{}}}"#, "[".repeat(10), "]".repeat(9));
        assert!(members(&unbalanced).is_err());
    }

    #[test]
    fn what_is_not_json_is_named_with_its_offset() {
        for (text, offset, expected) in [
            ("[1]", 0, "'{'"),
            (r#"{"a":1,}"#, 7, "a string"),
            (r#"{"a":01}"#, 6, "',' or '}'"),
            (r#"{"a":1.}"#, 7, "a digit after '.'"),
            (r#"{"a":tru}"#, 5, "true, false or null"),
            (r#"{"a":"\x"}"#, 6, "an escape"),
            (r#"{"a":"\u12G4"}"#, 6, "four hex digits after \\u"),
            ("{\"a\":\"\t\"}", 6, "no control character in a string"),
            (r#"{"a":1} x"#, 8, "the end of the record"),
            (r#"{"a":[1 2]}"#, 8, "',' or ']'"),
            (r#"{"a" 1}"#, 5, "':'"),
            (r#"{"a":"#, 5, "a value"),
            (r#"{"a":"b"#, 7, "'\"'"),
            (r#"{"a":NaN}"#, 5, "a value"),
        ] {
            assert_eq!(
                members(text),
                Err(SyntaxError { offset, expected }),
                "{text}"
            );
        }
    }
}
