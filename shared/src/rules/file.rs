//! The rules file: metric filters with exactly CloudFormation's `AWS::Logs::MetricFilter`
//! property names, and routes. JSON or YAML.
//!
//! ```json
//! {"MetricFilters": [{"FilterName": "cis-4.4-iam-policy-changes",
//!                     "FilterPattern": "{($.eventName=DeleteGroupPolicy)||($.eventName=PutRolePolicy)}",
//!                     "MetricTransformations": [{"MetricName": "IAMPolicyChanges",
//!                        "MetricNamespace": "CISBenchmark", "MetricValue": "1", "DefaultValue": 0,
//!                        "Unit": "Count"}]}],
//!  "Routes": [{"Name": "data-reads-archive-only",
//!              "FilterPattern": "{ $.eventCategory = \"Data\" && $.readOnly IS TRUE }",
//!              "Logs": "drop", "Archive": "keep"}]}
//! ```
//!
//! Unknown properties are refused (a typo must not silently disable a rule). `LogGroupName` is
//! accepted and ignored, so a filter pasted from a template loads as it is: here every filter
//! applies to every event.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// The name that loads the built-in CIS AWS Foundations / Security Hub pack
/// ([`super::CIS_PACK_JSON`]) wherever a rules file is named: in a Lambda package there is no
/// file to point at, and an environment variable is too small for the pack.
pub const BUILT_IN_CIS: &str = "cis";

/// The rules file as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Metric filters, evaluated on every event.
    #[serde(rename = "MetricFilters", default)]
    pub metric_filters: Vec<MetricFilterSpec>,
    /// Routes, tried in order; the first match decides.
    #[serde(rename = "Routes", default)]
    pub routes: Vec<RouteSpec>,
}

/// A metric filter, as `AWS::Logs::MetricFilter` properties.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricFilterSpec {
    /// `FilterName`: 1 to 512 characters, no `:` or `*`. Optional in CloudFormation; here a
    /// missing name becomes `<MetricNamespace>/<MetricName>`.
    #[serde(rename = "FilterName")]
    pub filter_name: Option<String>,
    /// `FilterPattern`.
    #[serde(rename = "FilterPattern")]
    pub filter_pattern: String,
    /// `MetricTransformations`: exactly one.
    #[serde(rename = "MetricTransformations")]
    pub metric_transformations: Vec<TransformationSpec>,
    /// `LogGroupName`: accepted and ignored.
    #[serde(rename = "LogGroupName")]
    pub log_group_name: Option<String>,
    /// `ApplyOnTransformedLogs`: only `false` is supported (there is no log transformer here).
    #[serde(rename = "ApplyOnTransformedLogs")]
    pub apply_on_transformed_logs: Option<bool>,
}

/// A `MetricTransformation`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransformationSpec {
    /// `MetricName`.
    #[serde(rename = "MetricName")]
    pub metric_name: String,
    /// `MetricNamespace`.
    #[serde(rename = "MetricNamespace")]
    pub metric_namespace: String,
    /// `MetricValue`: a number, `$.selector` or `$field` (a string in CloudFormation; a number
    /// is taken too).
    #[serde(rename = "MetricValue")]
    pub metric_value: NumberOrText,
    /// `DefaultValue`.
    #[serde(rename = "DefaultValue")]
    pub default_value: Option<NumberOrText>,
    /// `Dimensions`: a map of name to value reference, or CloudFormation's list of
    /// `{Key, Value}`.
    #[serde(rename = "Dimensions")]
    pub dimensions: Option<DimensionsSpec>,
    /// `Unit`.
    #[serde(rename = "Unit")]
    pub unit: Option<String>,
}

/// A number, or text that should hold one.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NumberOrText {
    /// Written as a number.
    Number(f64),
    /// Written as a string.
    Text(String),
}

impl fmt::Display for NumberOrText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// Dimensions in either accepted shape.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DimensionsSpec {
    /// `{"eventType": "$.eventType"}`.
    Map(BTreeMap<String, String>),
    /// `[{"Key": "eventType", "Value": "$.eventType"}]`.
    List(Vec<DimensionSpec>),
}

impl DimensionsSpec {
    /// (name, value reference) pairs, in the order written (maps: by name).
    pub fn pairs(&self) -> Vec<(String, String)> {
        match self {
            Self::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Self::List(l) => l.iter().map(|d| (d.key.clone(), d.value.clone())).collect(),
        }
    }
}

/// One CloudFormation `Dimension`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DimensionSpec {
    /// `Key`: the dimension name.
    #[serde(rename = "Key")]
    pub key: String,
    /// `Value`: `$.selector` or `$field`.
    #[serde(rename = "Value")]
    pub value: String,
}

/// A route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// `Name`: listed in the archive line's `rules` when the route decides.
    #[serde(rename = "Name")]
    pub name: String,
    /// `FilterPattern`.
    #[serde(rename = "FilterPattern")]
    pub filter_pattern: String,
    /// `Logs`: keep or drop the event for CloudWatch Logs (default keep).
    #[serde(rename = "Logs", default)]
    pub logs: Action,
    /// `Archive`: keep or drop the event for the archive (default keep).
    #[serde(rename = "Archive", default)]
    pub archive: Action,
    /// `LogGroup`: a log group template for kept events, instead of the default group.
    #[serde(rename = "LogGroup")]
    pub log_group: Option<String>,
}

/// Keep or drop.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Send the event.
    #[default]
    #[serde(alias = "Keep")]
    Keep,
    /// Do not send the event (it is counted).
    #[serde(alias = "Drop")]
    Drop,
}

/// A rules file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid rules document.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file, or "inline rules".
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
}

impl RulesFile {
    /// Reads rules from `source`: [`BUILT_IN_CIS`] for the built-in pack, inline JSON if it
    /// starts with `{`, otherwise a path to a `.json`, `.yaml` or `.yml` file (`./cis` for a
    /// file of that name).
    pub fn load(source: &str) -> Result<Self, ReadError> {
        if source.trim() == BUILT_IN_CIS {
            return Self::from_json(super::CIS_PACK_JSON, "the built-in CIS pack");
        }
        if source.trim_start().starts_with('{') {
            return Self::from_json(source, "inline rules");
        }
        let path = Path::new(source);
        let text = std::fs::read_to_string(path).map_err(|e| ReadError::Io {
            path: source.to_owned(),
            source: e,
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Self::from_yaml(&text, source),
            _ => Self::from_json(&text, source),
        }
    }

    /// Parses JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ReadError> {
        serde_json::from_str(text).map_err(|e| ReadError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// Parses YAML text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ReadError> {
        serde_saphyr::from_str(text).map_err(|e| ReadError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }
}
