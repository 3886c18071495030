//! Name templates for log groups and streams: `{org_id}_{account_id}_CloudTrail_{region}`.
//!
//! A template is text with placeholders `{org_id}`, `{account_id}`, `{region}` and
//! `{category}`, parsed once at start-up ([`Template::parse`]) and rendered per event without
//! allocating ([`Template::render_into`]). A placeholder with no value (a single-account trail
//! has no organization id) renders empty and takes one separator (`_`, `-`, `/` or `.`) beside it
//! along, so `{org_id}_{account_id}_CloudTrail_{region}` gives CloudTrail's own single-account
//! name, `111122223333_CloudTrail_us-east-1`. Rendered names are then made valid for CloudWatch
//! Logs: characters the service refuses become `_` and names are cut at 512 bytes
//! (CreateLogGroup / CreateLogStream API references,
//! <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html>,
//! <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html>).

use std::fmt::Write as _;

/// Longest log group or log stream name CloudWatch Logs accepts.
pub const MAX_NAME_BYTES: usize = 512;

/// The values a template can refer to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    /// Organization id, `o-...`.
    pub org_id: Option<&'a str>,
    /// Account id.
    pub account_id: Option<&'a str>,
    /// Region.
    pub region: Option<&'a str>,
    /// Event category.
    pub category: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    OrgId,
    AccountId,
    Region,
    Category,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// Which CloudWatch Logs name a template makes; each has its own character rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Log group names: letters, digits, `_ - / . #`.
    Group,
    /// Log stream names: anything but `:` and `*`.
    Stream,
}

/// A parsed name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    kind: NameKind,
}

/// A template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{` without a matching `}`.
    #[error("template {template:?}: unclosed '{{' at byte {offset}")]
    Unclosed {
        /// The template.
        template: String,
        /// Offset of the `{`.
        offset: usize,
    },
    /// A placeholder that is not one of the four known names.
    #[error(
        "template {template:?}: unknown placeholder {{{name}}} (known: org_id, account_id, region, category)"
    )]
    UnknownPlaceholder {
        /// The template.
        template: String,
        /// The unknown name.
        name: String,
    },
    /// Nothing to render.
    #[error("template is empty")]
    Empty,
    /// Fixed text the service would refuse in this kind of name.
    #[error("template {template:?}: {what}")]
    InvalidText {
        /// The template.
        template: String,
        /// What is wrong with it.
        what: &'static str,
    },
}

impl Template {
    /// Parses `text` as a template for `kind` names.
    pub fn parse(text: &str, kind: NameKind) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(TemplateError::Unclosed {
                    template: text.to_owned(),
                    offset: offset + open,
                });
            };
            let name = &rest[open + 1..open + close];
            let field = match name {
                "org_id" => Field::OrgId,
                "account_id" => Field::AccountId,
                "region" => Field::Region,
                "category" => Field::Category,
                _ => {
                    return Err(TemplateError::UnknownPlaceholder {
                        template: text.to_owned(),
                        name: name.to_owned(),
                    });
                }
            };
            parts.push(Part::Field(field));
            offset += open + close + 1;
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if parts.is_empty() {
            return Err(TemplateError::Empty);
        }
        let fixed: String = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Field(_) => None,
            })
            .collect();
        if fixed.chars().any(|c| !is_allowed(kind, c)) {
            return Err(TemplateError::InvalidText {
                template: text.to_owned(),
                what: match kind {
                    NameKind::Group => "log group names take only letters, digits and _ - / . #",
                    NameKind::Stream => "log stream names cannot contain ':' or '*'",
                },
            });
        }
        Ok(Self { parts, kind })
    }

    /// Renders into `out` (cleared first).
    pub fn render_into(&self, fields: &Fields<'_>, out: &mut String) {
        out.clear();
        let mut drop_next_separator = false;
        for part in &self.parts {
            match part {
                Part::Text(text) => {
                    let text = if drop_next_separator {
                        text.strip_prefix(is_separator).unwrap_or(text)
                    } else {
                        text
                    };
                    out.push_str(text);
                    drop_next_separator = false;
                }
                Part::Field(field) => match fields.get(*field).filter(|v| !v.is_empty()) {
                    Some(value) => {
                        for c in value.chars() {
                            out.push(if is_allowed(self.kind, c) { c } else { '_' });
                        }
                        drop_next_separator = false;
                    }
                    None if out.is_empty() => drop_next_separator = true,
                    None => {
                        if out.ends_with(is_separator) {
                            out.pop();
                        } else {
                            drop_next_separator = true;
                        }
                    }
                },
            }
        }
        if out.is_empty() {
            // Every placeholder was empty; a name must have at least one character.
            let _ = write!(out, "unknown");
        }
        if out.len() > MAX_NAME_BYTES {
            let mut cut = MAX_NAME_BYTES;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
    }

    /// The fixed text every rendering starts with: what comes before the first placeholder.
    pub fn fixed_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(text)) => text,
            _ => "",
        }
    }

    /// Renders into a new string.
    pub fn render(&self, fields: &Fields<'_>) -> String {
        let mut out = String::new();
        self.render_into(fields, &mut out);
        out
    }
}

impl Fields<'_> {
    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::OrgId => self.org_id,
            Field::AccountId => self.account_id,
            Field::Region => self.region,
            Field::Category => self.category,
        }
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '/' | '.')
}

fn is_allowed(kind: NameKind, c: char) -> bool {
    match kind {
        NameKind::Group => c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | '#'),
        NameKind::Stream => c != ':' && c != '*',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "{org_id}_{account_id}_CloudTrail_{region}";

    fn fields<'a>(org: Option<&'a str>, account: &'a str, region: &'a str) -> Fields<'a> {
        Fields {
            org_id: org,
            account_id: Some(account),
            region: Some(region),
            category: Some("Management"),
        }
    }

    #[test]
    fn organization_stream_name_is_cloudtrails_own() {
        let t = Template::parse(STREAM, NameKind::Stream).unwrap();
        assert_eq!(
            t.render(&fields(Some("o-exampleorg1"), "111122223333", "us-east-1")),
            "o-exampleorg1_111122223333_CloudTrail_us-east-1"
        );
    }

    #[test]
    fn missing_placeholder_takes_one_separator_with_it() {
        let t = Template::parse(STREAM, NameKind::Stream).unwrap();
        assert_eq!(
            t.render(&fields(None, "111122223333", "us-east-1")),
            "111122223333_CloudTrail_us-east-1"
        );
        let t = Template::parse("{account_id}/{category}", NameKind::Stream).unwrap();
        let f = Fields {
            account_id: Some("1"),
            ..Fields::default()
        };
        assert_eq!(t.render(&f), "1");
        let t = Template::parse("a_{category}_b", NameKind::Stream).unwrap();
        assert_eq!(t.render(&Fields::default()), "a_b");
        let t = Template::parse("{category}", NameKind::Stream).unwrap();
        assert_eq!(t.render(&Fields::default()), "unknown");
    }

    #[test]
    fn group_values_are_made_valid() {
        let t = Template::parse("/trailrelay/{category}", NameKind::Group).unwrap();
        let f = Fields {
            category: Some("Net work:Activity"),
            ..Fields::default()
        };
        assert_eq!(t.render(&f), "/trailrelay/Net_work_Activity");
        let t = Template::parse("s-{region}", NameKind::Stream).unwrap();
        let f = Fields {
            region: Some("a:b*c d"),
            ..Fields::default()
        };
        assert_eq!(t.render(&f), "s-a_b_c d");
    }

    #[test]
    fn names_are_cut_at_512_bytes_on_a_char_boundary() {
        let t = Template::parse("x{region}", NameKind::Stream).unwrap();
        let long = "é".repeat(400);
        let f = Fields {
            region: Some(&long),
            ..Fields::default()
        };
        let name = t.render(&f);
        assert!(name.len() <= MAX_NAME_BYTES && name.len() >= MAX_NAME_BYTES - 1);
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        assert!(matches!(
            Template::parse("a{region", NameKind::Stream),
            Err(TemplateError::Unclosed { offset: 1, .. })
        ));
        let e = Template::parse("{account}", NameKind::Stream).unwrap_err();
        assert!(
            e.to_string().contains("unknown placeholder {account}"),
            "{e}"
        );
        assert_eq!(
            Template::parse("", NameKind::Group),
            Err(TemplateError::Empty)
        );
        assert!(matches!(
            Template::parse("logs:{region}", NameKind::Stream),
            Err(TemplateError::InvalidText { .. })
        ));
        assert!(matches!(
            Template::parse("/my group", NameKind::Group),
            Err(TemplateError::InvalidText { .. })
        ));
    }
}
