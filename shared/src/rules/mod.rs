//! Rules: CloudWatch Logs metric filters and routes, evaluated on every event before it is
//! sent anywhere.
//!
//! A [`RuleSet`] is compiled once, at start-up, from a [`RulesFile`]; [`RuleSet::evaluate`] then
//! runs on each record: the record is parsed once into a [`Document`] pruned to what the rule
//! set's selectors reach (in the pipeline, by the same parse that normalises it:
//! [`crate::normalize::RecordParser`]), every metric filter is matched against it (metric values and
//! dimensions are read in the same pass, into [`RuleStats`]), and the routes are tried in order
//! until one matches, which decides whether the event goes to CloudWatch Logs, to the archive,
//! and under which log group. [`RuleSet::emf_lines`] turns the aggregated metrics into
//! CloudWatch Embedded Metric Format documents.

pub mod file;
mod metrics;
pub mod pattern;

use std::collections::HashSet;
use std::fmt;

pub use file::{Action, BUILT_IN_CIS, ReadError, RulesFile};
pub(crate) use metrics::document as emf_document;
pub use metrics::{MAX_DIMENSION_VALUES_PER_FILTER, MAX_EMF_METRICS, RuleStats, STANDARD_UNITS};
use metrics::{Metric, ValueRef};
use pattern::{Document, FilterPattern, PatternFamily, PatternOptions, SelectorTrie};

use crate::template::{NameKind, Template};

/// The CIS AWS Foundations Benchmark v3.0 section 4 and Security Hub CloudWatch.1-14 metric
/// filters, as shipped in `infra/rules/cis.json`.
pub const CIS_PACK_JSON: &str = include_str!("../../../infra/rules/cis.json");

/// Longest metric filter name (PutMetricFilter `filterName`).
pub const MAX_FILTER_NAME_CHARS: usize = 512;
/// Longest metric name or namespace (MetricTransformation).
pub const MAX_METRIC_NAME_CHARS: usize = 255;
/// Longest `MetricValue` (MetricTransformation).
pub const MAX_METRIC_VALUE_CHARS: usize = 100;
/// Most dimensions per metric filter (MetricTransformation `dimensions`).
pub const MAX_DIMENSIONS: usize = 3;

/// A compiled metric filter.
#[derive(Debug, Clone)]
pub struct MetricFilter {
    /// The filter's name.
    pub name: String,
    /// Its pattern.
    pub pattern: FilterPattern,
    metric: Metric,
}

/// A compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name.
    pub name: String,
    /// Its pattern.
    pub pattern: FilterPattern,
    logs: Action,
    archive: Action,
    log_group: Option<Template>,
}

impl Route {
    /// The log group this route sends its events to instead of the configured one, if any.
    pub fn log_group(&self) -> Option<&Template> {
        self.log_group.as_ref()
    }
}

/// What the rules decided for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'r> {
    /// The matched metric filters, then the route that decided (if any).
    pub rules: Vec<&'r str>,
    /// Whether the event goes to CloudWatch Logs.
    pub to_logs: bool,
    /// Whether the event goes to the archive.
    pub to_archive: bool,
    /// The deciding route's log group, if it names one.
    pub log_group: Option<&'r Template>,
}

/// A rules file's metric filters and routes, compiled.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    filters: Vec<MetricFilter>,
    routes: Vec<Route>,
    trie: SelectorTrie,
    needs_document: bool,
}

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which rule: `MetricFilters[2] (cis-4.4)` or `Routes[0] (drop-data)`.
    pub rule: String,
    /// Which property.
    pub property: &'static str,
    /// What is wrong (a pattern error keeps its offset and caret).
    pub message: String,
}

/// Every problem of a rules file, so one run shows them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the rules have {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            write!(
                f,
                "\n- {} {}: {}",
                p.rule,
                p.property,
                p.message.replace('\n', "\n  ")
            )?;
        }
        Ok(())
    }
}

impl RuleSet {
    /// Compiles `file`, checking every property the service checks.
    pub fn compile(file: &RulesFile, options: PatternOptions) -> Result<Self, RulesError> {
        let mut problems = Vec::new();
        let mut names = HashSet::new();
        let mut set = RuleSet::default();
        for (i, spec) in file.metric_filters.iter().enumerate() {
            let fallback = spec
                .metric_transformations
                .first()
                .map(|t| format!("{}/{}", t.metric_namespace, t.metric_name));
            let name = spec
                .filter_name
                .clone()
                .or(fallback)
                .unwrap_or_else(|| format!("metric-filter-{i}"));
            let mut problem = |property: &'static str, message: String| {
                problems.push(Problem {
                    rule: format!("MetricFilters[{i}] ({name})"),
                    property,
                    message,
                })
            };
            if let Some(why) = filter_name_problem(&name) {
                problem("FilterName", why);
            }
            if !names.insert(name.clone()) {
                problem("FilterName", "another rule has this name".into());
            }
            if spec.apply_on_transformed_logs == Some(true) {
                problem(
                    "ApplyOnTransformedLogs",
                    "only false is supported: events are not transformed".into(),
                );
            }
            let pattern = match FilterPattern::parse_with(&spec.filter_pattern, options) {
                Ok(p) => Some(p),
                Err(e) => {
                    problem("FilterPattern", e.to_string());
                    None
                }
            };
            let metric = match &spec.metric_transformations[..] {
                [one] => {
                    let family = pattern
                        .as_ref()
                        .map_or(PatternFamily::All, FilterPattern::family);
                    Metric::compile(one, family)
                        .map_err(|(property, message)| problem(property, message))
                        .ok()
                }
                list => {
                    problem(
                        "MetricTransformations",
                        format!("exactly one is required, found {}", list.len()),
                    );
                    None
                }
            };
            if let (Some(pattern), Some(metric)) = (pattern, metric) {
                set.filters.push(MetricFilter {
                    name,
                    pattern,
                    metric,
                });
            }
        }
        for (i, spec) in file.routes.iter().enumerate() {
            let mut problem = |property: &'static str, message: String| {
                problems.push(Problem {
                    rule: format!("Routes[{i}] ({})", spec.name),
                    property,
                    message,
                })
            };
            if spec.name.trim().is_empty() {
                problem("Name", "a route needs a name".into());
            }
            if !names.insert(spec.name.clone()) {
                problem("Name", "another rule has this name".into());
            }
            let pattern = FilterPattern::parse_with(&spec.filter_pattern, options)
                .map_err(|e| problem("FilterPattern", e.to_string()))
                .ok();
            let log_group = match &spec.log_group {
                Some(g) => Template::parse(g, NameKind::Group)
                    .map(Some)
                    .map_err(|e| problem("LogGroup", e.to_string()))
                    .ok(),
                None => Some(None),
            };
            if let (Some(pattern), Some(log_group)) = (pattern, log_group) {
                set.routes.push(Route {
                    name: spec.name.clone(),
                    pattern,
                    logs: spec.logs,
                    archive: spec.archive,
                    log_group,
                });
            }
        }
        if !problems.is_empty() {
            return Err(RulesError { problems });
        }
        for f in &mut set.filters {
            f.pattern.bind(&mut set.trie);
            f.metric.bind(&mut set.trie);
        }
        for r in &mut set.routes {
            r.pattern.bind(&mut set.trie);
        }
        set.needs_document = set
            .filters
            .iter()
            .map(|f| &f.pattern)
            .chain(set.routes.iter().map(|r| &r.pattern))
            .any(|p| p.family() == PatternFamily::Json);
        Ok(set)
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.routes.is_empty()
    }

    /// The metric filters.
    pub fn filters(&self) -> &[MetricFilter] {
        &self.filters
    }

    /// The routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Every rule's name and pattern: the metric filters, then the routes (the order of
    /// [`RuleStats::matches`]).
    pub fn named_patterns(&self) -> impl Iterator<Item = (&str, &FilterPattern)> {
        let filters = self.filters.iter().map(|f| (f.name.as_str(), &f.pattern));
        filters.chain(self.routes.iter().map(|r| (r.name.as_str(), &r.pattern)))
    }

    /// Evaluates every rule on one event whose message is `message`; counts matches and
    /// metric values into `stats`.
    pub fn evaluate<'r>(&'r self, message: &str, stats: &mut RuleStats) -> Decision<'r> {
        let doc = self.parse(message);
        self.evaluate_parsed(message, doc.as_ref(), stats)
    }

    /// Whether some pattern of the set reads the message as JSON.
    pub(crate) fn needs_document(&self) -> bool {
        self.needs_document
    }

    /// The selectors of the set's JSON patterns and metric values.
    pub(crate) fn trie(&self) -> &SelectorTrie {
        &self.trie
    }

    /// Parses `message` once for every JSON pattern of the set, keeping only what their
    /// selectors reach; `None` if the set has no JSON pattern or the message is not JSON.
    pub fn parse<'m>(&self, message: &'m str) -> Option<Document<'m>> {
        if self.needs_document {
            Document::parse(message, &self.trie)
        } else {
            None
        }
    }

    /// [`Self::evaluate`] on a message already parsed by [`Self::parse`].
    pub fn evaluate_parsed<'r>(
        &'r self,
        message: &str,
        doc: Option<&Document<'_>>,
        stats: &mut RuleStats,
    ) -> Decision<'r> {
        let mut decision = Decision {
            rules: Vec::new(),
            to_logs: true,
            to_archive: true,
            log_group: None,
        };
        if self.is_empty() {
            return decision;
        }
        stats.fit(self);
        stats.events += 1;
        stats.not_json += u64::from(self.needs_document && doc.is_none());
        for (i, f) in self.filters.iter().enumerate() {
            match f.pattern.matches_extracting(message, doc) {
                Some(extracted) => {
                    decision.rules.push(&f.name);
                    stats.record_match(i, &f.metric, doc, &extracted);
                }
                None => stats.record_miss(i, &f.metric),
            }
        }
        if let Some((i, route)) = self
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.pattern.matches(message, doc))
        {
            stats.route_matches[i] += 1;
            decision.rules.push(&route.name);
            decision.to_logs = route.logs == Action::Keep;
            decision.to_archive = route.archive == Action::Keep;
            decision.log_group = route.log_group.as_ref();
        }
        stats.dropped_from_logs += u64::from(!decision.to_logs);
        stats.dropped_from_archive += u64::from(!decision.to_archive);
        decision
    }

    /// The metrics aggregated in `stats`, as CloudWatch Embedded Metric Format documents
    /// stamped `timestamp_ms`: one document per namespace and dimension values, values summed
    /// over the flush.
    pub fn emf_lines(&self, stats: &RuleStats, timestamp_ms: i64) -> Vec<String> {
        metrics::emf_lines(&self.filters, stats, timestamp_ms)
    }
}

fn filter_name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_FILTER_NAME_CHARS {
        return Some(format!("must be 1 to {MAX_FILTER_NAME_CHARS} characters"));
    }
    name.contains([':', '*'])
        .then(|| "must not contain ':' or '*'".into())
}

impl MetricFilter {
    /// The metric's name.
    pub fn metric_name(&self) -> &str {
        &self.metric.name
    }

    /// The metric's namespace.
    pub fn metric_namespace(&self) -> &str {
        &self.metric.namespace
    }

    /// Whether the metric value is read from the event (not a literal).
    pub fn has_value_reference(&self) -> bool {
        !matches!(self.metric.value, ValueRef::Literal(_))
    }
}

/// Most messages one TestMetricFilter call takes (`logEventMessages`, 1 to 50,
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TestMetricFilter.html>).
pub const MAX_TEST_MESSAGES: usize = 50;

/// One match of [`test_metric_filter`], shaped as the TestMetricFilter response's
/// `MetricFilterMatchRecord`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchRecord {
    /// Zero-based position of the message in the request.
    #[serde(rename = "eventNumber")]
    pub event_number: usize,
    /// The message, unchanged.
    #[serde(rename = "eventMessage")]
    pub event_message: String,
    /// What a space-delimited pattern extracted; empty for the other families.
    #[serde(rename = "extractedValues")]
    pub extracted_values: pattern::Extracted,
}

/// A TestMetricFilter request the API would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestRequestError {
    /// The pattern is invalid.
    #[error(transparent)]
    Pattern(#[from] pattern::PatternError),
    /// `logEventMessages` must hold 1 to 50 messages.
    #[error("logEventMessages must hold 1 to {MAX_TEST_MESSAGES} messages, not {0}")]
    MessageCount(usize),
    /// A message must have at least one character.
    #[error("logEventMessages[{0}] is empty; messages have at least one character")]
    EmptyMessage(usize),
}

/// What TestMetricFilter answers for `pattern` and `messages`: the matching messages only, in
/// request order.
pub fn test_metric_filter(
    pattern: &str,
    messages: &[String],
) -> Result<Vec<MatchRecord>, TestRequestError> {
    let pattern = FilterPattern::parse(pattern)?;
    if messages.is_empty() || messages.len() > MAX_TEST_MESSAGES {
        return Err(TestRequestError::MessageCount(messages.len()));
    }
    if let Some(i) = messages.iter().position(String::is_empty) {
        return Err(TestRequestError::EmptyMessage(i));
    }
    Ok(messages
        .iter()
        .enumerate()
        .filter_map(|(i, message)| {
            let doc = if pattern.family() == PatternFamily::Json {
                Document::parse_full(message)
            } else {
                None
            };
            pattern
                .matches_extracting(message, doc.as_ref())
                .map(|extracted_values| MatchRecord {
                    event_number: i,
                    event_message: message.clone(),
                    extracted_values,
                })
        })
        .collect())
}

#[cfg(test)]
mod tests;
