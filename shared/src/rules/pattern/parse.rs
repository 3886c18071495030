//! The parser: pattern text to [`Body`], every error with its byte offset.

use super::error::{PatternError, PatternErrorKind as K};
use super::regex::PatternRegex;
use super::{
    Body, Expr, Field, JsonCondition, JsonPattern, MAX_PATTERN_CHARS, MAX_REGEXES,
    MAX_WILDCARD_SELECTORS, Op, PatternOptions, Selector, SpacePattern, Step, Term, Terms, Test,
    TextMatch, Value,
};

type Result<T> = std::result::Result<T, PatternError>;

pub(crate) fn parse(text: &str, options: &PatternOptions) -> Result<(Body, Vec<String>)> {
    let chars = text.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return Err(PatternError::new(text, 0, K::TooLong { chars }));
    }
    let mut p = Parser::new(text, options);
    p.skip_blanks();
    let body = match p.peek() {
        None => Body::All,
        Some(b'{') => Body::Json(p.json()?),
        Some(b'[') => Body::Space(p.space()?),
        Some(b'%') => Body::Regex(p.standalone_regex()?),
        Some(_) => p.terms()?,
    };
    Ok((body, p.warnings))
}

pub(crate) fn parse_selector(text: &str) -> Result<Selector> {
    let options = PatternOptions::default();
    let mut p = Parser::new(text, &options);
    let selector = p.selector()?;
    if p.pos < text.len() {
        return Err(p.error(K::TrailingInput));
    }
    Ok(selector)
}

/// The number syntax of the language: an optional sign, digits, an optional fraction, an
/// optional exponent (`400`, `+1000`, `55.5`, `10e3`, `1e-3`).
pub(crate) fn parse_number(token: &str) -> Option<f64> {
    let b = token.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    token.trim_start_matches('+').parse().ok()
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    options: &'a PatternOptions,
    regexes: usize,
    wildcard_selectors: usize,
    warnings: Vec<String>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, options: &'a PatternOptions) -> Self {
        Self {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            options,
            regexes: 0,
            wildcard_selectors: 0,
            warnings: Vec::new(),
        }
    }

    fn error(&self, kind: K) -> PatternError {
        self.error_at(self.pos, kind)
    }

    fn error_at(&self, offset: usize, kind: K) -> PatternError {
        PatternError::new(self.src, offset, kind)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// The bytes from `pos` on. Bytes, not `str`: a bare value is scanned byte by byte, so
    /// `pos` may sit inside a multi-byte character while looking ahead.
    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// The offset of the next `c` (ASCII) from `pos`.
    fn find(&self, c: u8) -> Option<usize> {
        memchr::memchr(c, self.rest())
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// After the closing `}` or `]`, only blanks may follow.
    fn end(&mut self) -> Result<()> {
        self.skip_blanks();
        if self.pos < self.bytes.len() {
            return Err(self.error(K::TrailingInput));
        }
        Ok(())
    }

    // ---- terms ----------------------------------------------------------------------------

    fn terms(&mut self) -> Result<Body> {
        enum Kind {
            Plain,
            Optional,
            Excluded,
        }
        let mut tokens: Vec<(Kind, String, usize, bool)> = Vec::new();
        loop {
            self.skip_blanks();
            let Some(first) = self.peek() else { break };
            let start = self.pos;
            let kind = match first {
                b'?' => Kind::Optional,
                b'-' => Kind::Excluded,
                _ => Kind::Plain,
            };
            if !matches!(kind, Kind::Plain) {
                self.pos += 1;
            }
            let (text, quoted) = if self.peek() == Some(b'"') {
                (self.quoted()?, true)
            } else {
                let bare = self.bare_until(|b| b.is_ascii_whitespace());
                if bare.len() >= 2 && bare.starts_with('%') && bare.ends_with('%') {
                    return Err(self.error_at(start, K::RegexAmongTerms));
                }
                (bare.to_owned(), false)
            };
            tokens.push((kind, text, start, quoted));
        }
        // `""` and `" "` alone match everything (documented "match everything" forms).
        if let [(Kind::Plain, text, _, true)] = &tokens[..]
            && text.trim().is_empty()
        {
            return Ok(Body::All);
        }
        let mut terms = Terms {
            required: Vec::new(),
            excluded: Vec::new(),
            optional: Vec::new(),
        };
        for (kind, text, start, quoted) in tokens {
            if text.is_empty() {
                return Err(self.error_at(start, K::EmptyTerm));
            }
            if !quoted && !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.warnings.push(format!(
                    "the unquoted term {text:?} has characters other than letters, digits and _; \
                     CloudWatch Logs requires such terms in double quotes"
                ));
            }
            let term = Term {
                finder: memchr::memmem::Finder::new(text.as_bytes()).into_owned(),
            };
            match kind {
                Kind::Plain => terms.required.push(term),
                Kind::Optional => terms.optional.push(term),
                Kind::Excluded => terms.excluded.push(term),
            }
        }
        if !terms.optional.is_empty() && (!terms.required.is_empty() || !terms.excluded.is_empty())
        {
            // Documented: "If you mix ?-terms with other terms, the ?-terms are ignored."
            self.warnings.push(
                "?-terms mixed with other terms are ignored, as CloudWatch Logs ignores them"
                    .into(),
            );
            terms.optional.clear();
        }
        Ok(Body::Terms(terms))
    }

    /// A `"..."` at `pos`; `\"` and `\\` are escapes. Returns the unescaped text.
    fn quoted(&mut self) -> Result<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, K::UnclosedQuote)),
                Some(b'"') => {
                    out.push_str(&self.src[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') if matches!(self.peek_at(1), Some(b'"' | b'\\')) => {
                    out.push_str(&self.src[run..self.pos]);
                    out.push(char::from(self.bytes[self.pos + 1]));
                    self.pos += 2;
                    run = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// The run of bytes up to (not including) the first one `stop` accepts. Stops only on ASCII
    /// bytes, so the run is always on character boundaries.
    fn bare_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !stop(b)) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    // ---- regex ----------------------------------------------------------------------------

    /// A `%...%` at `pos`.
    fn regex(&mut self) -> Result<PatternRegex> {
        let start = self.pos;
        self.pos += 1;
        let body_start = self.pos;
        let Some(len) = self.find(b'%') else {
            return Err(self.error_at(start, K::UnclosedRegex));
        };
        let body = &self.src[body_start..body_start + len];
        self.pos = body_start + len + 1;
        self.regexes += 1;
        PatternRegex::compile(body)
            .map_err(|(offset, kind)| self.error_at(body_start + offset, kind))
    }

    fn standalone_regex(&mut self) -> Result<PatternRegex> {
        let regex = self.regex()?;
        self.skip_blanks();
        if self.pos < self.bytes.len() {
            return Err(self.error(K::RegexAmongTerms));
        }
        Ok(regex)
    }

    fn count_regex(&self, start: usize) -> Result<()> {
        if self.regexes > MAX_REGEXES {
            return Err(self.error_at(start, K::TooManyRegexes));
        }
        Ok(())
    }

    // ---- values -----------------------------------------------------------------------------

    /// A value after an operator: `"quoted"`, `%regex%`, a number or a bare string.
    /// `stop` ends a bare value.
    fn value(&mut self, stop: &dyn Fn(&Self) -> bool) -> Result<Value> {
        self.skip_blanks();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                let text = self.quoted()?;
                Ok(self.text_value(text))
            }
            Some(b'%') => {
                let regex = self.regex()?;
                self.count_regex(start)?;
                Ok(Value::Regex(regex))
            }
            Some(_) => {
                while self.peek().is_some() && !stop(self) {
                    self.pos += 1;
                }
                let token = &self.src[start..self.pos];
                if token.is_empty() {
                    return Err(self.error_at(start, K::ExpectedValue));
                }
                Ok(match parse_number(token) {
                    Some(n) => Value::Number(n),
                    None => self.text_value(token.to_owned()),
                })
            }
            None => Err(self.error(K::ExpectedValue)),
        }
    }

    fn text_value(&self, text: String) -> Value {
        if text == "*" {
            return Value::Any;
        }
        let leading_star = text.starts_with('*');
        let trailing_star = text.len() > 1 && text.ends_with('*');
        let inner = &text[usize::from(leading_star)..text.len() - usize::from(trailing_star)];
        let parts = if self.options.middle_star_is_literal {
            vec![inner.to_owned()]
        } else {
            inner.split('*').map(str::to_owned).collect()
        };
        Value::Text(TextMatch {
            parts,
            leading_star,
            trailing_star,
        })
    }

    /// `= != < <= > >=` at `pos`.
    fn operator(&mut self) -> Option<Op> {
        for (s, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(s) {
                return Some(op);
            }
        }
        None
    }

    /// An operator and its value; numeric operators need a number.
    fn comparison(&mut self, stop: &dyn Fn(&Self) -> bool) -> Result<(Op, Value)> {
        let at = self.pos;
        if self.rest().starts_with(b"==") {
            return Err(self.error(K::UnsupportedOperator("==")));
        }
        let Some(op) = self.operator() else {
            return Err(self.error_at(at, K::ExpectedOperator));
        };
        let value_at = self.pos;
        let value = self.value(stop)?;
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(value, Value::Number(_)) {
            return Err(self.error_at(value_at, K::NumberExpected));
        }
        Ok((op, value))
    }

    // ---- JSON patterns ----------------------------------------------------------------------

    fn json(&mut self) -> Result<JsonPattern> {
        let open = self.pos;
        self.pos += 1;
        let mut selectors = Vec::new();
        let expr = self.json_or(&mut selectors)?;
        self.skip_blanks();
        match self.peek() {
            Some(b'}') => self.pos += 1,
            None => return Err(self.error_at(open, K::UnclosedBrace)),
            Some(b')') => return Err(self.error(K::TrailingInput)),
            Some(_) => return Err(self.error(K::ExpectedOperator)),
        }
        self.end()?;
        let expr = merge_equalities(expr);
        Ok(JsonPattern {
            expr,
            selectors,
            slots: Vec::new(),
        })
    }

    fn json_or(&mut self, selectors: &mut Vec<Selector>) -> Result<Expr<JsonCondition>> {
        self.chain("||", Expr::Or, |p| p.json_and(selectors), |_| Ok(()))
    }

    fn json_and(&mut self, selectors: &mut Vec<Selector>) -> Result<Expr<JsonCondition>> {
        self.chain("&&", Expr::And, |p| p.json_unary(selectors), |_| Ok(()))
    }

    /// `operand (op operand)*`: one operand stands alone, more are joined by `join`.
    /// `after_op` runs after each `op`, before the next operand.
    fn chain<C>(
        &mut self,
        op: &str,
        join: fn(Vec<Expr<C>>) -> Expr<C>,
        mut operand: impl FnMut(&mut Self) -> Result<Expr<C>>,
        mut after_op: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<Expr<C>> {
        let mut items = vec![operand(self)?];
        loop {
            self.skip_blanks();
            if !self.eat(op) {
                break;
            }
            after_op(self)?;
            items.push(operand(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn json_unary(&mut self, selectors: &mut Vec<Selector>) -> Result<Expr<JsonCondition>> {
        self.skip_blanks();
        match self.peek() {
            Some(b'(') => {
                let open = self.pos;
                self.pos += 1;
                let inner = self.json_or(selectors)?;
                self.skip_blanks();
                if !self.eat(")") {
                    return Err(match self.peek() {
                        None | Some(b'}') => self.error_at(open, K::UnclosedParen),
                        Some(_) => self.error(K::ExpectedOperator),
                    });
                }
                Ok(inner)
            }
            Some(b'$') => {
                let condition = self.json_condition(selectors)?;
                Ok(Expr::Leaf(condition))
            }
            None | Some(b'}') => Err(self.error(K::ExpectedCondition)),
            Some(_) => Err(self.error(K::ExpectedSelector)),
        }
    }

    fn json_condition(&mut self, selectors: &mut Vec<Selector>) -> Result<JsonCondition> {
        let start = self.pos;
        let selector = self.selector()?;
        if selector.has_wildcard() {
            self.wildcard_selectors += 1;
            if self.wildcard_selectors > MAX_WILDCARD_SELECTORS {
                return Err(self.error_at(start, K::TooManyWildcardSelectors));
            }
        }
        self.skip_blanks();
        let keyword_at = self.pos;
        let test = if self.eat("IS") {
            self.skip_blanks();
            if self.eat("NULL") {
                Test::IsNull
            } else if self.eat("TRUE") {
                Test::IsTrue
            } else if self.eat("FALSE") {
                Test::IsFalse
            } else if self.rest().starts_with(b"NOT") {
                return Err(self.error_at(keyword_at, K::UnsupportedOperator("IS NOT")));
            } else {
                return Err(self.error_at(keyword_at, K::ExpectedOperator));
            }
        } else if self.eat("NOT") {
            self.skip_blanks();
            if !self.eat("EXISTS") {
                return Err(self.error_at(keyword_at, K::ExpectedOperator));
            }
            Test::NotExists
        } else if self.rest().starts_with(b"EXISTS") {
            return Err(self.error(K::UnsupportedOperator("EXISTS")));
        } else {
            let (op, value) = self.comparison(&|p: &Self| json_value_ends(p))?;
            Test::Compare(op, value)
        };
        let index = selectors
            .iter()
            .position(|s| *s == selector)
            .unwrap_or_else(|| {
                selectors.push(selector);
                selectors.len() - 1
            });
        Ok(JsonCondition {
            selector: index,
            test,
        })
    }

    /// `$` and its steps.
    fn selector(&mut self) -> Result<Selector> {
        let start = self.pos;
        if !self.eat("$") {
            return Err(self.error(K::ExpectedSelector));
        }
        let mut steps = Vec::new();
        let mut wildcard_at = None;
        loop {
            let step_at = self.pos;
            let step = match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'*') => {
                            self.pos += 1;
                            Step::AnyKey
                        }
                        Some(b'[') => self.bracket_step()?,
                        _ => {
                            let name = self.bare_until(|b| {
                                !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'))
                            });
                            if name.is_empty() {
                                return Err(self.error_at(
                                    step_at,
                                    K::InvalidSelector("'.' needs a field name, '*' or ['name']"),
                                ));
                            }
                            Step::Key(name.to_owned())
                        }
                    }
                }
                Some(b'[') => self.bracket_step()?,
                _ => break,
            };
            if matches!(step, Step::AnyKey | Step::AnyIndex) {
                if wildcard_at.is_some() {
                    return Err(self.error_at(step_at, K::TooManyWildcardsInSelector));
                }
                wildcard_at = Some(step_at);
            }
            steps.push(step);
        }
        if steps.is_empty() {
            return Err(self.error_at(
                start,
                K::InvalidSelector("a selector needs a step after '$'"),
            ));
        }
        Ok(Selector { steps })
    }

    /// `[N]`, `[*]` or `['key']` at `pos`.
    fn bracket_step(&mut self) -> Result<Step> {
        let open = self.pos;
        self.pos += 1;
        let step = match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Step::AnyIndex
            }
            Some(b'\'') => {
                self.pos += 1;
                let Some(len) = self.find(b'\'') else {
                    return Err(self.error_at(open, K::InvalidSelector("unclosed ['...']")));
                };
                let key = self.src[self.pos..self.pos + len].to_owned();
                self.pos += len + 1;
                Step::Key(key)
            }
            Some(b) if b.is_ascii_digit() => {
                let digits = self.bare_until(|b| !b.is_ascii_digit());
                let index = digits.parse().map_err(|_| {
                    self.error_at(open, K::InvalidSelector("array index too large"))
                })?;
                Step::Index(index)
            }
            _ => {
                return Err(self.error_at(
                    open,
                    K::InvalidSelector("'[' takes an index, '*' or 'name'"),
                ));
            }
        };
        if !self.eat("]") {
            return Err(self.error_at(open, K::InvalidSelector("unclosed '['")));
        }
        Ok(step)
    }

    // ---- space-delimited patterns -----------------------------------------------------------

    fn space(&mut self) -> Result<SpacePattern> {
        let open = self.pos;
        self.pos += 1;
        let mut fields = Vec::new();
        self.skip_blanks();
        if self.eat("]") {
            self.end()?;
            return Ok(SpacePattern { fields });
        }
        loop {
            self.skip_blanks();
            let field_at = self.pos;
            let field = match self.peek() {
                None => return Err(self.error_at(open, K::UnclosedBracket)),
                Some(b',' | b']') => Field::Unnamed,
                Some(_) if self.eat("...") => {
                    if fields.iter().any(|f| matches!(f, Field::Ellipsis)) {
                        return Err(self.error_at(field_at, K::MultipleEllipses));
                    }
                    Field::Ellipsis
                }
                Some(_) => self.space_field()?,
            };
            fields.push(field);
            self.skip_blanks();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_blanks();
                    if self.peek() == Some(b']') {
                        // A trailing comma leaves an unnamed last field.
                        fields.push(Field::Unnamed);
                    }
                }
                Some(b']') => {}
                None => return Err(self.error_at(open, K::UnclosedBracket)),
                Some(_) => return Err(self.error(K::ExpectedFieldSeparator)),
            }
            if self.eat("]") {
                break;
            }
        }
        self.end()?;
        Ok(SpacePattern { fields })
    }

    fn field_name(&mut self) -> Result<&'a str> {
        let name = self.bare_until(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if name.is_empty() {
            return Err(self.error(K::InvalidFieldName));
        }
        Ok(name)
    }

    fn space_field(&mut self) -> Result<Field> {
        let name = self.field_name()?;
        self.skip_blanks();
        if matches!(self.peek(), Some(b',' | b']') | None) {
            return Ok(Field::Named {
                name: name.to_owned(),
                condition: None,
            });
        }
        let condition = self.space_or(name)?;
        Ok(Field::Named {
            name: name.to_owned(),
            condition: Some(condition),
        })
    }

    fn space_or(&mut self, field: &str) -> Result<Expr<(Op, Value)>> {
        self.chain(
            "||",
            Expr::Or,
            |p| p.space_and(field),
            |p| p.same_field(field),
        )
    }

    fn space_and(&mut self, field: &str) -> Result<Expr<(Op, Value)>> {
        let comparison = |p: &mut Self| Ok(Expr::Leaf(p.space_comparison()?));
        self.chain("&&", Expr::And, comparison, |p| p.same_field(field))
    }

    /// After `&&`/`||` in a slot, the next condition must name the slot's field again.
    fn same_field(&mut self, field: &str) -> Result<()> {
        self.skip_blanks();
        let at = self.pos;
        let name = self.field_name()?;
        if name != field {
            return Err(self.error_at(
                at,
                K::CrossFieldCondition {
                    field: field.to_owned(),
                    other: name.to_owned(),
                },
            ));
        }
        self.skip_blanks();
        Ok(())
    }

    fn space_comparison(&mut self) -> Result<(Op, Value)> {
        self.skip_blanks();
        self.comparison(&|p: &Self| space_value_ends(p))
    }
}

/// Rewrites each `||` of exact string equalities on one selector into a single `OneOf` test.
/// `any node equals a || any node equals b` is `any node is in {a, b}`, so nothing changes but
/// the cost: CloudTrail rule packs are mostly long lists of `$.eventName = X`.
fn merge_equalities(expr: Expr<JsonCondition>) -> Expr<JsonCondition> {
    fn exact(c: &JsonCondition) -> Option<&str> {
        match &c.test {
            Test::Compare(Op::Eq, Value::Text(m)) if !m.leading_star && !m.trailing_star => {
                match &m.parts[..] {
                    [only] => Some(only),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    match expr {
        Expr::And(items) => Expr::And(items.into_iter().map(merge_equalities).collect()),
        Expr::Leaf(c) => Expr::Leaf(c),
        Expr::Or(items) => {
            let mut out: Vec<Expr<JsonCondition>> = Vec::new();
            for item in items.into_iter().map(merge_equalities) {
                if let Expr::Leaf(new) = &item
                    && let Some(value) = exact(new)
                    && let Some(existing) = out.iter_mut().find_map(|e| match e {
                        Expr::Leaf(c)
                            if c.selector == new.selector
                                && (matches!(c.test, Test::OneOf(_)) || exact(c).is_some()) =>
                        {
                            Some(c)
                        }
                        _ => None,
                    })
                {
                    let mut list = match &existing.test {
                        Test::OneOf(list) => list.clone(),
                        _ => exact(existing).map(str::to_owned).into_iter().collect(),
                    };
                    list.push(value.to_owned());
                    list.sort();
                    list.dedup();
                    existing.test = Test::OneOf(list);
                    continue;
                }
                out.push(item);
            }
            if out.len() == 1 {
                out.remove(0)
            } else {
                Expr::Or(out)
            }
        }
    }
}

/// A bare JSON value ends at a blank, `)`, `}`, `&&` or `||`.
fn json_value_ends(p: &Parser<'_>) -> bool {
    matches!(p.peek(), Some(b')' | b'}') | None)
        || p.peek().is_some_and(|b| b.is_ascii_whitespace())
        || p.rest().starts_with(b"&&")
        || p.rest().starts_with(b"||")
}

/// A bare space-delimited value ends at a blank, `,`, `]`, `&&` or `||`.
fn space_value_ends(p: &Parser<'_>) -> bool {
    matches!(p.peek(), Some(b',' | b']') | None)
        || p.peek().is_some_and(|b| b.is_ascii_whitespace())
        || p.rest().starts_with(b"&&")
        || p.rest().starts_with(b"||")
}
