//! Metric transformations: what a matching event publishes, aggregated per flush and written
//! as CloudWatch Embedded Metric Format.
//!
//! Rules from the MetricTransformation API reference
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_MetricTransformation.html>)
//! and the metric filter guide
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntaxForMetricFilters.html>):
//! the value is a number, `$.selector` (JSON patterns) or `$field` / `$N` (space-delimited
//! patterns); at most three dimensions, whose values are read from the event and which cannot
//! be combined with a default value; a dimension is published only if its value is found.
//!
//! Choices where the documentation is silent: an event whose value (or a dimension) is missing
//! or not a number publishes nothing and is counted in [`RuleStats::values_missing`]; a JSON
//! string holding digits is not a number. The default value is counted once for each event that
//! does not match (the API's wording), and nothing is published for a flush without events.
//! Values are summed per flush and dimension values: the Sum statistic is exact; SampleCount,
//! Average, Minimum and Maximum describe flushes, not events.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json, json};

use super::file::{NumberOrText, TransformationSpec};
use super::pattern::{
    Document, Extracted, Node, PatternFamily, Selector, SelectorTrie, parse_number,
};
use super::{MAX_DIMENSIONS, MAX_METRIC_NAME_CHARS, MAX_METRIC_VALUE_CHARS, MetricFilter, RuleSet};

/// The units a metric may have (CloudWatch `StandardUnit`,
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html>).
pub const STANDARD_UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Distinct dimension values one filter may publish per flush. CloudWatch Logs may disable a
/// metric filter that produces 1,000 distinct name/value pairs within an hour (PutMetricFilter,
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html>);
/// past this, data points are dropped and counted.
pub const MAX_DIMENSION_VALUES_PER_FILTER: usize = 1000;

/// Most metrics in one EMF metric directive (EMF specification,
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
pub const MAX_EMF_METRICS: usize = 100;

/// Where a metric value or dimension value comes from.
#[derive(Debug, Clone)]
pub(crate) enum ValueRef {
    Literal(f64),
    /// A selector and its slot once bound.
    Selector(Selector, Option<usize>),
    /// `$name` or `$N` of a space-delimited pattern.
    Field(String),
}

/// A compiled metric transformation.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) value: ValueRef,
    pub(crate) default: Option<f64>,
    pub(crate) dimensions: Vec<(String, ValueRef)>,
    pub(crate) unit: Option<String>,
}

type Problem = (&'static str, String);

fn metric_name_problem(what: &'static str, name: &str) -> Result<(), Problem> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_METRIC_NAME_CHARS {
        return Err((
            what,
            format!("must be 1 to {MAX_METRIC_NAME_CHARS} characters"),
        ));
    }
    if name.contains([':', '*', '$']) {
        return Err((what, "must not contain ':', '*' or '$'".into()));
    }
    Ok(())
}

/// A reference to a value of the event: `$.selector` for JSON patterns, `$name`/`$N` for
/// space-delimited ones. Other families have no values to read.
fn reference(
    text: &str,
    family: PatternFamily,
    property: &'static str,
) -> Result<ValueRef, Problem> {
    if text.starts_with("$.") || text.starts_with("$[") {
        if family != PatternFamily::Json {
            return Err((
                property,
                format!("{text}: $.selector values need a JSON filter pattern"),
            ));
        }
        return Selector::parse(text)
            .map(|s| ValueRef::Selector(s, None))
            .map_err(|e| (property, e.to_string()));
    }
    if let Some(field) = text.strip_prefix('$')
        && !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        if family != PatternFamily::SpaceDelimited {
            return Err((
                property,
                format!("{text}: $field values need a space-delimited filter pattern"),
            ));
        }
        return Ok(ValueRef::Field(text.to_owned()));
    }
    Err((
        property,
        format!("{text:?} is not a value: use a number, $.selector or $field"),
    ))
}

impl Metric {
    pub(crate) fn compile(
        spec: &TransformationSpec,
        family: PatternFamily,
    ) -> Result<Self, Problem> {
        metric_name_problem("MetricName", &spec.metric_name)?;
        metric_name_problem("MetricNamespace", &spec.metric_namespace)?;
        let value = match &spec.metric_value {
            NumberOrText::Number(n) => ValueRef::Literal(*n),
            NumberOrText::Text(t) if t.chars().count() > MAX_METRIC_VALUE_CHARS => {
                return Err((
                    "MetricValue",
                    format!("must be at most {MAX_METRIC_VALUE_CHARS} characters"),
                ));
            }
            NumberOrText::Text(t) => match parse_number(t.trim()) {
                Some(n) => ValueRef::Literal(n),
                None => reference(t.trim(), family, "MetricValue")?,
            },
        };
        let default = match &spec.default_value {
            None => None,
            Some(NumberOrText::Number(n)) => Some(*n),
            Some(NumberOrText::Text(t)) => Some(
                parse_number(t.trim()).ok_or(("DefaultValue", format!("{t:?} is not a number")))?,
            ),
        };
        let pairs = spec
            .dimensions
            .as_ref()
            .map(|d| d.pairs())
            .unwrap_or_default();
        if pairs.len() > MAX_DIMENSIONS {
            return Err((
                "Dimensions",
                format!(
                    "at most {MAX_DIMENSIONS} are allowed, found {}",
                    pairs.len()
                ),
            ));
        }
        if default.is_some() && !pairs.is_empty() {
            return Err(("DefaultValue", "cannot be combined with Dimensions".into()));
        }
        let mut dimensions = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name.trim().is_empty()
                || !name.is_ascii()
                || name.starts_with(':')
                || name.len() > MAX_METRIC_NAME_CHARS
            {
                return Err((
                    "Dimensions",
                    format!(
                        "{name:?}: names are 1 to 255 ASCII characters, not blank, not starting with ':'"
                    ),
                ));
            }
            dimensions.push((name, reference(value.trim(), family, "Dimensions")?));
        }
        if let Some(unit) = &spec.unit
            && !STANDARD_UNITS.contains(&unit.as_str())
        {
            return Err((
                "Unit",
                format!(
                    "{unit:?} is not a CloudWatch unit ({})",
                    STANDARD_UNITS.join(", ")
                ),
            ));
        }
        Ok(Self {
            name: spec.metric_name.clone(),
            namespace: spec.metric_namespace.clone(),
            value,
            default,
            dimensions,
            unit: spec.unit.clone().filter(|u| u != "None"),
        })
    }

    /// Registers the selectors of the value and the dimensions in `trie`.
    pub(crate) fn bind(&mut self, trie: &mut SelectorTrie) {
        for v in std::iter::once(&mut self.value).chain(self.dimensions.iter_mut().map(|(_, v)| v))
        {
            if let ValueRef::Selector(s, slot) = v {
                *slot = trie.insert(s);
            }
        }
    }
}

impl ValueRef {
    fn number(&self, doc: Option<&Document<'_>>, extracted: &Extracted) -> Option<f64> {
        match self {
            Self::Literal(n) => Some(*n),
            Self::Selector(s, slot) => match doc?.first(s, *slot)? {
                Node::Number(n) => Some(*n),
                _ => None,
            },
            Self::Field(f) => parse_number(extracted.get(f)?),
        }
    }

    fn text(&self, doc: Option<&Document<'_>>, extracted: &Extracted) -> Option<String> {
        match self {
            Self::Literal(n) => Some(n.to_string()),
            Self::Selector(s, slot) => match doc?.first(s, *slot)? {
                Node::Str(v) => Some(v.to_string()),
                Node::Number(n) => Some(n.to_string()),
                _ => None,
            },
            Self::Field(f) => extracted.get(f).map(str::to_owned),
        }
    }
}

/// Counts and metric sums of a rule set over some events; merged across objects and flushed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStats {
    /// Events evaluated.
    pub events: u64,
    /// Events JSON patterns could not read (the message is not a JSON document).
    pub not_json: u64,
    /// Matches per metric filter, in rule set order.
    pub filter_matches: Vec<u64>,
    /// Matches per route (the route decided), in rule set order.
    pub route_matches: Vec<u64>,
    /// Events a route kept out of CloudWatch Logs.
    pub dropped_from_logs: u64,
    /// Events a route kept out of the archive.
    pub dropped_from_archive: u64,
    /// Matches that published nothing: the value or a dimension missing or not a number.
    pub values_missing: u64,
    /// Matches dropped past [`MAX_DIMENSION_VALUES_PER_FILTER`].
    pub dimension_values_dropped: u64,
    misses: Vec<u64>,
    sums: Vec<(f64, u64)>,
    by_dimensions: HashMap<(usize, Vec<String>), (f64, u64)>,
    dimension_values: Vec<usize>,
}

impl RuleStats {
    /// Empty stats for `rules`.
    pub fn new(rules: &RuleSet) -> Self {
        let mut s = Self::default();
        s.fit(rules);
        s
    }

    pub(crate) fn fit(&mut self, rules: &RuleSet) {
        let (f, r) = (rules.filters.len(), rules.routes.len());
        if self.filter_matches.len() < f {
            self.filter_matches.resize(f, 0);
            self.misses.resize(f, 0);
            self.sums.resize(f, (0.0, 0));
            self.dimension_values.resize(f, 0);
        }
        if self.route_matches.len() < r {
            self.route_matches.resize(r, 0);
        }
    }

    pub(crate) fn record_match(
        &mut self,
        i: usize,
        metric: &Metric,
        doc: Option<&Document<'_>>,
        extracted: &Extracted,
    ) {
        self.filter_matches[i] += 1;
        let Some(value) = metric.value.number(doc, extracted) else {
            self.values_missing += 1;
            return;
        };
        if metric.dimensions.is_empty() {
            self.sums[i].0 += value;
            self.sums[i].1 += 1;
            return;
        }
        let Some(values) = metric
            .dimensions
            .iter()
            .map(|(_, v)| v.text(doc, extracted))
            .collect::<Option<Vec<String>>>()
        else {
            self.values_missing += 1;
            return;
        };
        let key = (i, values);
        if let Some(slot) = self.by_dimensions.get_mut(&key) {
            slot.0 += value;
            slot.1 += 1;
        } else if self.dimension_values[i] >= MAX_DIMENSION_VALUES_PER_FILTER {
            self.dimension_values_dropped += 1;
        } else {
            self.dimension_values[i] += 1;
            self.by_dimensions.insert(key, (value, 1));
        }
    }

    pub(crate) fn record_miss(&mut self, i: usize, metric: &Metric) {
        if metric.default.is_some() {
            self.misses[i] += 1;
        }
    }

    /// Matches per rule: the metric filters, then the routes (the order of
    /// [`RuleSet::named_patterns`]).
    pub fn matches(&self) -> impl Iterator<Item = u64> + '_ {
        self.filter_matches
            .iter()
            .chain(&self.route_matches)
            .copied()
    }

    /// Adds `other` (of the same rule set) into `self`.
    pub fn merge(&mut self, other: &RuleStats) {
        self.events += other.events;
        self.not_json += other.not_json;
        self.dropped_from_logs += other.dropped_from_logs;
        self.dropped_from_archive += other.dropped_from_archive;
        self.values_missing += other.values_missing;
        self.dimension_values_dropped += other.dimension_values_dropped;
        let grow = |v: &mut Vec<u64>, n: usize| {
            if v.len() < n {
                v.resize(n, 0);
            }
        };
        grow(&mut self.filter_matches, other.filter_matches.len());
        grow(&mut self.route_matches, other.route_matches.len());
        grow(&mut self.misses, other.misses.len());
        if self.sums.len() < other.sums.len() {
            self.sums.resize(other.sums.len(), (0.0, 0));
            self.dimension_values.resize(other.sums.len(), 0);
        }
        for (a, b) in self.filter_matches.iter_mut().zip(&other.filter_matches) {
            *a += b;
        }
        for (a, b) in self.route_matches.iter_mut().zip(&other.route_matches) {
            *a += b;
        }
        for (a, b) in self.misses.iter_mut().zip(&other.misses) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (key, (sum, count)) in &other.by_dimensions {
            if let Some(slot) = self.by_dimensions.get_mut(key) {
                slot.0 += sum;
                slot.1 += count;
            } else if self.dimension_values[key.0] >= MAX_DIMENSION_VALUES_PER_FILTER {
                self.dimension_values_dropped += count;
            } else {
                self.dimension_values[key.0] += 1;
                self.by_dimensions.insert(key.clone(), (*sum, *count));
            }
        }
    }
}

/// Metrics of one EMF document: (namespace, dimension pairs) -> metric name -> (unit, values).
type Groups<'a> =
    BTreeMap<(&'a str, Vec<(&'a str, String)>), BTreeMap<&'a str, (Option<&'a str>, Vec<f64>)>>;

pub(crate) fn emf_lines(
    filters: &[MetricFilter],
    stats: &RuleStats,
    timestamp_ms: i64,
) -> Vec<String> {
    let mut groups: Groups<'_> = BTreeMap::new();
    let mut spill = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let (sum, count) = stats.sums.get(i).copied().unwrap_or((0.0, 0));
        let misses = stats.misses.get(i).copied().unwrap_or(0);
        if f.metric.dimensions.is_empty() && count + misses > 0 {
            let value = sum + f.metric.default.unwrap_or(0.0) * misses as f64;
            add(&mut groups, &mut spill, f, Vec::new(), value, timestamp_ms);
        }
    }
    let mut keyed: Vec<_> = stats.by_dimensions.iter().collect();
    keyed.sort_by(|a, b| a.0.cmp(b.0));
    for ((i, values), (sum, _)) in keyed {
        let Some(f) = filters.get(*i) else { continue };
        let dims = f
            .metric
            .dimensions
            .iter()
            .map(|(n, _)| n.as_str())
            .zip(values.iter().cloned())
            .collect();
        add(&mut groups, &mut spill, f, dims, *sum, timestamp_ms);
    }
    let mut lines = Vec::new();
    for ((namespace, dims), metrics) in &groups {
        let metrics: Vec<(&str, Option<&str>, Json)> = metrics
            .iter()
            .map(|(name, (unit, values))| (*name, *unit, samples(values)))
            .collect();
        for chunk in metrics.chunks(MAX_EMF_METRICS) {
            lines.push(document(namespace, dims, chunk, timestamp_ms));
        }
    }
    lines.extend(spill);
    lines
}

fn add<'a>(
    groups: &mut Groups<'a>,
    spill: &mut Vec<String>,
    f: &'a MetricFilter,
    dims: Vec<(&'a str, String)>,
    value: f64,
    timestamp_ms: i64,
) {
    let m = &f.metric;
    let unit = m.unit.as_deref();
    let metrics = groups
        .entry((m.namespace.as_str(), dims.clone()))
        .or_default();
    let (known_unit, values) = metrics.entry(m.name.as_str()).or_insert((unit, Vec::new()));
    if *known_unit == unit {
        values.push(value);
    } else {
        // The same metric name with another unit: a document of its own.
        spill.push(document(
            &m.namespace,
            &dims,
            &[(&m.name, unit, json!(value))],
            timestamp_ms,
        ));
    }
}

/// A metric's samples as EMF writes them: one number, or an array of them.
fn samples(values: &[f64]) -> Json {
    match values {
        [one] => json!(one),
        many => json!(many),
    }
}

/// One EMF document: `_aws` metadata for `namespace` and one dimension set, the dimension values,
/// and each metric's value (a number or an array of numbers).
pub(crate) fn document(
    namespace: &str,
    dims: &[(&str, String)],
    metrics: &[(&str, Option<&str>, Json)],
    timestamp_ms: i64,
) -> String {
    let mut root = Map::new();
    let definitions: Vec<Json> = metrics
        .iter()
        .map(|(name, unit, _)| match unit {
            Some(u) => json!({"Name": name, "Unit": u}),
            None => json!({"Name": name}),
        })
        .collect();
    let names: Vec<&str> = dims.iter().map(|(n, _)| *n).collect();
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms,
               "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [names], "Metrics": definitions}]}),
    );
    for (name, value) in dims {
        root.insert((*name).to_owned(), json!(value));
    }
    for (name, _, value) in metrics {
        root.insert((*name).to_owned(), value.clone());
    }
    Json::Object(root).to_string()
}
