//! Matching: terms and regexes on the message text, JSON patterns on a [`Document`],
//! space-delimited patterns on the message split into fields.
//!
//! JSON semantics, from the filter pattern syntax page and the 2021 user guide it replaced:
//! a selector must reach a value node (a string or a number) for `=` and `!=`; reaching an
//! object, an array, `null` or a boolean, or reaching nothing, makes both false. `IS NULL` needs
//! a present `null`; `NOT EXISTS` needs nothing there. With a wildcard selector a condition holds
//! if it holds for any selected node.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::parse::parse_number;
use super::{
    Extracted, Field, JsonPattern, Op, PatternOptions, Selector, SpacePattern, Step, Terms, Test,
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

// ---- documents ------------------------------------------------------------------------------

/// A JSON value as far as selectors need it. Objects and arrays hold only the members some
/// selector reaches (all of them below a wildcard).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    Array(Vec<(usize, Node<'a>)>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// A message parsed as JSON, once, for all the patterns of a rule set. Each plain selector of
/// the set has a slot holding the node it reaches; subtrees below wildcard selectors are kept
/// whole, with the path to them, for walking.
#[derive(Debug, Clone, PartialEq)]
pub struct Document<'a> {
    root: Node<'a>,
    slots: Vec<Option<Node<'a>>>,
}

impl<'a> Document<'a> {
    /// Parses `message`, keeping what `trie`'s selectors reach. `None` if the message is not
    /// a JSON document.
    pub(crate) fn parse(message: &'a str, trie: &SelectorTrie) -> Option<Self> {
        let mut slots = vec![None; trie.slots];
        let mut de = serde_json::Deserializer::from_str(message);
        let root = Pruned {
            trie,
            node: 0,
            in_full: trie.nodes[0].full,
            slots: &mut slots,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        Some(Self { root, slots })
    }

    /// Parses `message` keeping everything, for patterns not bound to a trie.
    pub fn parse_full(message: &'a str) -> Option<Self> {
        let mut trie = SelectorTrie::default();
        trie.nodes[0].full = true;
        trie.nodes[0].keep = true;
        Self::parse(message, &trie)
    }

    /// Calls `f` on each node `selector` reaches (through its slot when it has one), until it
    /// returns true; returns whether it did.
    pub(crate) fn any<'n>(
        &'n self,
        selector: &Selector,
        slot: Option<usize>,
        f: &mut impl FnMut(&'n Node<'a>) -> bool,
    ) -> bool {
        match slot {
            Some(s) => self.slots.get(s).and_then(Option::as_ref).is_some_and(f),
            None => walk(&self.root, &selector.steps, f),
        }
    }

    /// The first node `selector` reaches.
    pub(crate) fn first(&self, selector: &Selector, slot: Option<usize>) -> Option<&Node<'a>> {
        let mut found = None;
        self.any(selector, slot, &mut |n| {
            found = Some(n);
            true
        });
        found
    }
}

fn walk<'n, 'a>(
    node: &'n Node<'a>,
    steps: &[Step],
    f: &mut impl FnMut(&'n Node<'a>) -> bool,
) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return f(node);
    };
    match (step, node) {
        (Step::Key(k), Node::Object(fields)) => fields
            .iter()
            .find(|(name, _)| name == k)
            .is_some_and(|(_, v)| walk(v, rest, f)),
        (Step::Index(i), Node::Array(items)) => items
            .iter()
            .find(|(at, _)| at == i)
            .is_some_and(|(_, v)| walk(v, rest, f)),
        (Step::AnyKey, Node::Object(fields)) => fields.iter().any(|(_, v)| walk(v, rest, f)),
        (Step::AnyIndex, Node::Array(items)) => items.iter().any(|(_, v)| walk(v, rest, f)),
        _ => false,
    }
}

/// The union of a rule set's selectors, as a tree: what to keep when parsing a document.
#[derive(Debug, Clone)]
pub(crate) struct SelectorTrie {
    nodes: Vec<TrieNode>,
    slots: usize,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    /// Children by key. A node has few, so a scan beats hashing.
    keys: Vec<(String, usize)>,
    indexes: Vec<(usize, usize)>,
    /// Keep the whole subtree (a wildcard step starts here).
    full: bool,
    /// Keep this node in the tree: it is full, or a full node lies below it.
    keep: bool,
    /// The slot of the plain selector that ends here.
    slot: Option<usize>,
}

impl Default for SelectorTrie {
    fn default() -> Self {
        Self {
            nodes: vec![TrieNode::default()],
            slots: 0,
        }
    }
}

impl SelectorTrie {
    /// Adds `selector`'s path. Returns its slot, or `None` for a selector with a wildcard,
    /// which is resolved by walking the subtree kept for it.
    pub(crate) fn insert(&mut self, selector: &Selector) -> Option<usize> {
        let mut path = vec![0];
        let mut at = 0;
        for step in &selector.steps {
            let next = self.nodes.len();
            let child = match step {
                Step::Key(k) => match self.nodes[at].keys.iter().find(|(key, _)| key == k) {
                    Some((_, c)) => *c,
                    None => {
                        self.nodes[at].keys.push((k.clone(), next));
                        next
                    }
                },
                Step::Index(i) => match self.nodes[at].indexes.iter().find(|(index, _)| index == i)
                {
                    Some((_, c)) => *c,
                    None => {
                        self.nodes[at].indexes.push((*i, next));
                        next
                    }
                },
                Step::AnyKey | Step::AnyIndex => {
                    self.nodes[at].full = true;
                    for &n in &path {
                        self.nodes[n].keep = true;
                    }
                    return None;
                }
            };
            if child == next {
                self.nodes.push(TrieNode::default());
            }
            at = child;
            path.push(at);
        }
        let slots = &mut self.slots;
        Some(*self.nodes[at].slot.get_or_insert_with(|| {
            *slots += 1;
            *slots - 1
        }))
    }

    fn key_child(&self, node: usize, key: &str) -> Option<usize> {
        self.nodes[node]
            .keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| *c)
    }

    fn index_child(&self, node: usize, index: usize) -> Option<usize> {
        self.nodes[node]
            .indexes
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| *c)
    }
}

/// Deserialises a value, filling the slots of the trie nodes it passes and keeping the
/// subtrees wildcards need. `in_full`: inside a kept subtree, where slots no longer apply.
struct Pruned<'t, 's, 'de> {
    trie: &'t SelectorTrie,
    node: usize,
    in_full: bool,
    slots: &'s mut Vec<Option<Node<'de>>>,
}

impl<'de> Pruned<'_, '_, 'de> {
    /// Where the value of the child `child` goes: into its slot, into the tree, or both.
    fn place(&mut self, child: usize, value: Node<'de>) -> Option<Node<'de>> {
        let node = &self.trie.nodes[child];
        if self.in_full || node.full && node.slot.is_none() {
            return Some(value);
        }
        match (node.slot, node.keep) {
            (Some(s), true) => {
                self.slots[s] = Some(value.clone());
                Some(value)
            }
            (Some(s), false) => {
                self.slots[s] = Some(value);
                None
            }
            (None, keep) => keep.then_some(value),
        }
    }

    fn child(&mut self, child: usize) -> Pruned<'_, '_, 'de> {
        Pruned {
            trie: self.trie,
            node: child,
            in_full: self.in_full || self.trie.nodes[child].full,
            slots: &mut *self.slots,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Pruned<'_, '_, 'de> {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_, '_, 'de> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed(PhantomData))? {
            let child = if self.in_full {
                Some(self.node)
            } else {
                self.trie.key_child(self.node, &key)
            };
            match child {
                Some(child) => {
                    let value = map.next_value_seed(self.child(child))?;
                    if let Some(value) = self.place(child, value) {
                        fields.push((key, value));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Node::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        let mut index = 0;
        loop {
            let child = if self.in_full {
                Some(self.node)
            } else {
                self.trie.index_child(self.node, index)
            };
            match child {
                Some(child) => match seq.next_element_seed(self.child(child))? {
                    Some(value) => {
                        if let Some(value) = self.place(child, value) {
                            items.push((index, value));
                        }
                    }
                    None => break,
                },
                None => {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                }
            }
            index += 1;
        }
        Ok(Node::Array(items))
    }
}

/// An object key, borrowed when it has no escapes.
struct KeySeed<'de>(PhantomData<&'de ()>);

impl<'de> DeserializeSeed<'de> for KeySeed<'de> {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'de> {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
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

/// Convenience for callers that need to build a trie from selectors.
impl<'s> FromIterator<&'s Selector> for SelectorTrie {
    fn from_iter<I: IntoIterator<Item = &'s Selector>>(iter: I) -> Self {
        let mut trie = Self::default();
        for s in iter {
            trie.insert(s);
        }
        trie
    }
}

impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Str(s) => f.write_str(s),
            Self::Array(_) => f.write_str("[array]"),
            Self::Object(_) => f.write_str("{object}"),
        }
    }
}
