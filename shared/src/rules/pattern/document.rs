//! A JSON message parsed once for every reader of it: the selectors of a rule set and the
//! normaliser's fields, gathered in one [`SelectorTrie`], each reach their value through a slot
//! filled during the parse; subtrees below wildcard selectors are kept whole for walking;
//! everything else is skipped without being decoded.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Selector, Step};

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

impl<'a> Node<'a> {
    /// The node without its members: what a slot holds of an object or an array, since no
    /// test reads further than its kind.
    fn shallow(&self) -> Self {
        match self {
            Self::Array(_) => Self::Array(Vec::new()),
            Self::Object(_) => Self::Object(Vec::new()),
            other => other.clone(),
        }
    }
}

/// A message parsed as JSON, once, for all the selectors of a trie. Each plain selector has a
/// slot holding the node it reaches; subtrees below wildcard selectors are kept whole, with the
/// path to them, for walking.
#[derive(Debug, Clone, PartialEq)]
pub struct Document<'a> {
    root: Node<'a>,
    slots: Vec<Option<Node<'a>>>,
    repeated: bool,
}

impl<'a> Document<'a> {
    /// Parses `message`, keeping what `trie`'s selectors reach. `None` if the message is not
    /// a JSON document.
    pub(crate) fn parse(message: &'a str, trie: &SelectorTrie) -> Option<Self> {
        let mut state = State {
            slots: vec![None; trie.slots],
            repeated: false,
        };
        let mut de = serde_json::Deserializer::from_str(message);
        let root = Pruned {
            trie,
            node: Some(0),
            in_full: trie.nodes[0].full,
            state: &mut state,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        Some(Self {
            root,
            slots: state.slots,
            repeated: state.repeated,
        })
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
            Some(s) => self.slot(s).is_some_and(f),
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

    /// The node in `slot`; objects and arrays without their members.
    pub(crate) fn slot(&self, slot: usize) -> Option<&Node<'a>> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Whether an object named a member twice where a strict selector
    /// ([`SelectorTrie::insert_strict`]) reaches it.
    pub(crate) fn repeated(&self) -> bool {
        self.repeated
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

/// The union of the selectors read from a document, as a tree: what to keep when parsing.
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
    /// The child every element of an array goes to ([`SelectorTrie::keep_each`]).
    each: Option<usize>,
    /// Keep the whole subtree (a wildcard step starts here).
    full: bool,
    /// Keep this node in the tree: it is full, a node kept below it, or a member
    /// [`SelectorTrie::keep_each`] keeps.
    keep: bool,
    /// The slot of the plain selector that ends here.
    slot: Option<usize>,
    /// A member reaching this node twice marks the document [`Document::repeated`].
    strict: bool,
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
        for step in &selector.steps {
            let at = path[path.len() - 1];
            let child = match step {
                Step::Key(k) => self.key(at, k),
                Step::Index(i) => self.index(at, *i, &path),
                Step::AnyKey | Step::AnyIndex => {
                    self.keep_whole(&path);
                    return None;
                }
            };
            path.push(child);
        }
        Some(self.slot_of(path[path.len() - 1]))
    }

    /// Adds the path of object members `keys` with a slot at its end, and makes a member named
    /// twice on the way mark the document [`Document::repeated`].
    pub(crate) fn insert_strict(&mut self, keys: &[&str]) -> usize {
        let node = keys.iter().fold(0, |at, key| self.key(at, key));
        self.nodes[node].strict = true;
        self.slot_of(node)
    }

    /// Keeps, for every element of the array at the object path `keys`, the members `members`
    /// (read by walking the tree, as with a wildcard, but without keeping the rest).
    pub(crate) fn keep_each(&mut self, keys: &[&str], members: &[&str]) {
        let mut path = vec![0];
        for key in keys {
            let at = path[path.len() - 1];
            path.push(self.key(at, key));
        }
        let list = path[path.len() - 1];
        let element = match self.nodes[list].each {
            Some(element) => element,
            None => {
                let element = self.push();
                self.nodes[list].each = Some(element);
                element
            }
        };
        if !self.nodes[list].indexes.is_empty() {
            // An index child would take some elements away from `each`: keep them all.
            self.keep_whole(&path);
        }
        path.push(element);
        for member in members {
            let child = self.key(element, member);
            self.nodes[child].keep = true;
        }
        for &n in &path {
            self.nodes[n].keep = true;
        }
    }

    /// Every node on `path` kept, the last with its whole subtree.
    fn keep_whole(&mut self, path: &[usize]) {
        if let Some(&last) = path.last() {
            self.nodes[last].full = true;
        }
        for &n in path {
            self.nodes[n].keep = true;
        }
    }

    fn push(&mut self) -> usize {
        self.nodes.push(TrieNode::default());
        self.nodes.len() - 1
    }

    fn key(&mut self, at: usize, key: &str) -> usize {
        match self.key_child(at, key) {
            Some(child) => child,
            None => {
                let child = self.push();
                self.nodes[at].keys.push((key.to_owned(), child));
                child
            }
        }
    }

    fn index(&mut self, at: usize, index: usize, path: &[usize]) -> usize {
        if let Some(child) = self.explicit_index_child(at, index) {
            return child;
        }
        if self.nodes[at].each.is_some() {
            // `each` would take this element too: keep them all.
            self.keep_whole(path);
        }
        let child = self.push();
        self.nodes[at].indexes.push((index, child));
        child
    }

    fn slot_of(&mut self, node: usize) -> usize {
        let slots = &mut self.slots;
        *self.nodes[node].slot.get_or_insert_with(|| {
            *slots += 1;
            *slots - 1
        })
    }

    fn key_child(&self, node: usize, key: &str) -> Option<usize> {
        self.nodes[node]
            .keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| *c)
    }

    fn explicit_index_child(&self, node: usize, index: usize) -> Option<usize> {
        self.nodes[node]
            .indexes
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| *c)
    }

    /// Where element `index` of an array at `node` goes when parsing.
    fn index_child(&self, node: usize, index: usize) -> Option<usize> {
        self.explicit_index_child(node, index)
            .or(self.nodes[node].each)
    }
}

/// What one parse fills besides the tree.
struct State<'de> {
    slots: Vec<Option<Node<'de>>>,
    repeated: bool,
}

/// Deserialises a value, filling the slots of the trie nodes it passes and keeping the
/// subtrees wildcards need. `node`: where the value is in the trie (`None` inside a kept
/// subtree, off every selector's path); `in_full`: inside a kept subtree.
struct Pruned<'t, 's, 'de> {
    trie: &'t SelectorTrie,
    node: Option<usize>,
    in_full: bool,
    state: &'s mut State<'de>,
}

impl<'de> Pruned<'_, '_, 'de> {
    /// Where the value of the child `child` goes: into its slot, into the tree, or both.
    fn place(&mut self, child: Option<usize>, value: Node<'de>) -> Option<Node<'de>> {
        let Some(child) = child else {
            return Some(value);
        };
        let node = &self.trie.nodes[child];
        let keep = self.in_full || node.keep;
        let Some(s) = node.slot else {
            return keep.then_some(value);
        };
        let slot = &mut self.state.slots[s];
        self.state.repeated |= node.strict && slot.is_some();
        if keep {
            *slot = Some(value.shallow());
            Some(value)
        } else {
            *slot = Some(value);
            None
        }
    }

    fn child(&mut self, child: Option<usize>) -> Pruned<'_, '_, 'de> {
        Pruned {
            trie: self.trie,
            node: child,
            in_full: self.in_full || child.is_some_and(|c| self.trie.nodes[c].full),
            state: &mut *self.state,
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
        let reached = self.node.filter(|&n| !self.trie.nodes[n].keys.is_empty());
        if reached.is_none() && !self.in_full {
            // No selector goes into this object: its members are skipped undecoded.
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Node::Object(fields));
        }
        while let Some(key) = map.next_key_seed(KeySeed(PhantomData))? {
            let child = reached.and_then(|n| self.trie.key_child(n, &key));
            if child.is_none() && !self.in_full {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = map.next_value_seed(self.child(child))?;
            if let Some(value) = self.place(child, value) {
                fields.push((key, value));
            }
        }
        Ok(Node::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        for index in 0.. {
            let child = self.node.and_then(|n| self.trie.index_child(n, index));
            if child.is_none() && !self.in_full {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            let Some(value) = seq.next_element_seed(self.child(child))? else {
                break;
            };
            if let Some(value) = self.place(child, value) {
                items.push((index, value));
            }
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
