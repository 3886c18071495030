//! Rows of the table, built column by column from normalised records.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, FieldRef, Fields, SchemaRef};
use trailrelay::normalize::{Normalized, Origin, Via};

/// Where a row's record came from.
#[derive(Debug, Clone, Copy)]
pub struct RowSource<'a> {
    /// The record's origin: bucket, key and what the key says.
    pub origin: &'a Origin<'a>,
    /// The object's version, when the store has versions.
    pub version: Option<&'a str>,
    /// The record's position in the file's `Records`.
    pub index: u64,
}

/// Columns being filled, turned into a [`RecordBatch`] by [`Rows::finish`].
#[derive(Debug)]
pub struct Rows {
    schema: SchemaRef,
    time: TimestampMicrosecondBuilder,
    org_id: StringBuilder,
    account_id: StringBuilder,
    region: StringBuilder,
    category: StringBuilder,
    read_only: BooleanBuilder,
    service: StringBuilder,
    action: StringBuilder,
    error_code: StringBuilder,
    error_message: StringBuilder,
    event_type: StringBuilder,
    principal: PrincipalColumns,
    source_ip: StringBuilder,
    user_agent: StringBuilder,
    via: StringBuilder,
    resources: ListColumn,
    event_id: StringBuilder,
    request_id: StringBuilder,
    vpc_endpoint_id: StringBuilder,
    addendum: AddendumColumns,
    rules: ListColumn,
    source: SourceColumns,
    record: StringBuilder,
    rows: usize,
    record_bytes: usize,
}

#[derive(Debug, Default)]
struct PrincipalColumns {
    present: Vec<bool>,
    kind: StringBuilder,
    arn: StringBuilder,
    account_id: StringBuilder,
    name: StringBuilder,
    session_issuer: StringBuilder,
    mfa: BooleanBuilder,
    invoked_by: StringBuilder,
    access_key_id: StringBuilder,
}

#[derive(Debug, Default)]
struct AddendumColumns {
    present: Vec<bool>,
    reason: StringBuilder,
    original_event_id: StringBuilder,
    original_request_id: StringBuilder,
    updated_fields: StringBuilder,
}

#[derive(Debug, Default)]
struct SourceColumns {
    bucket: StringBuilder,
    key: StringBuilder,
    version: StringBuilder,
    index: Int64Builder,
}

/// A list of strings (or of one-string structs): the values and each row's count.
#[derive(Debug, Default)]
struct ListColumn {
    values: StringBuilder,
    lengths: Vec<usize>,
}

impl ListColumn {
    fn push<'s>(&mut self, items: impl IntoIterator<Item = &'s str>) {
        let mut n = 0;
        for item in items {
            self.values.append_value(item);
            n += 1;
        }
        self.lengths.push(n);
    }

    /// The list array of `field` (a list whose elements are strings, or structs of one string).
    fn finish(&mut self, field: &FieldRef) -> Result<ArrayRef, arrow_schema::ArrowError> {
        let DataType::List(element) = field.data_type() else {
            return Err(unexpected(field));
        };
        let strings: ArrayRef = Arc::new(self.values.finish());
        let values = match element.data_type() {
            DataType::Struct(fields) => {
                Arc::new(StructArray::try_new(fields.clone(), vec![strings], None)?) as ArrayRef
            }
            _ => strings,
        };
        let offsets = OffsetBuffer::from_lengths(std::mem::take(&mut self.lengths));
        Ok(Arc::new(ListArray::try_new(
            element.clone(),
            offsets,
            values,
            None,
        )?))
    }
}

fn unexpected(field: &FieldRef) -> arrow_schema::ArrowError {
    arrow_schema::ArrowError::SchemaError(format!(
        "column {} has type {}, which the row builder does not fill",
        field.name(),
        field.data_type()
    ))
}

/// A struct column from its children, null where `present` is false.
fn structure(
    field: &FieldRef,
    children: Vec<ArrayRef>,
    present: Option<Vec<bool>>,
) -> Result<ArrayRef, arrow_schema::ArrowError> {
    let DataType::Struct(fields) = field.data_type() else {
        return Err(unexpected(field));
    };
    let nulls = present.map(NullBuffer::from);
    Ok(Arc::new(StructArray::try_new(
        Fields::clone(fields),
        children,
        nulls,
    )?))
}

fn via_name(via: Via) -> &'static str {
    match via {
        Via::Console => "console",
        Via::Cli => "cli",
        Via::Sdk => "sdk",
        Via::Service => "service",
        Via::Other => "other",
    }
}

impl Rows {
    /// Empty columns of `schema` (the table's Arrow schema).
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            time: TimestampMicrosecondBuilder::new(),
            org_id: StringBuilder::new(),
            account_id: StringBuilder::new(),
            region: StringBuilder::new(),
            category: StringBuilder::new(),
            read_only: BooleanBuilder::new(),
            service: StringBuilder::new(),
            action: StringBuilder::new(),
            error_code: StringBuilder::new(),
            error_message: StringBuilder::new(),
            event_type: StringBuilder::new(),
            principal: PrincipalColumns::default(),
            source_ip: StringBuilder::new(),
            user_agent: StringBuilder::new(),
            via: StringBuilder::new(),
            resources: ListColumn::default(),
            event_id: StringBuilder::new(),
            request_id: StringBuilder::new(),
            vpc_endpoint_id: StringBuilder::new(),
            addendum: AddendumColumns::default(),
            rules: ListColumn::default(),
            source: SourceColumns::default(),
            record: StringBuilder::new(),
            rows: 0,
            record_bytes: 0,
        }
    }

    /// Rows added since the last [`Rows::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was added since the last [`Rows::finish`].
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of records added since the last [`Rows::finish`].
    pub fn record_bytes(&self) -> usize {
        self.record_bytes
    }

    /// Adds the row of one record, with the names of the rules it matched.
    pub fn push(&mut self, record: &Normalized<'_>, source: RowSource<'_>, rules: &[&str]) {
        let e = &record.event;
        self.time
            .append_option(e.timestamp_ms().and_then(|ms| ms.checked_mul(1000)));
        self.org_id
            .append_option(source.origin.trail_key.org_id.as_deref());
        self.account_id.append_option(e.account_id.as_deref());
        self.region.append_option(e.region.as_deref());
        self.category.append_option(e.category.as_deref());
        self.read_only.append_option(e.read_only);
        self.service.append_option(e.service.as_deref());
        self.action.append_option(e.action.as_deref());
        self.error_code.append_option(e.error_code.as_deref());
        self.error_message.append_option(e.error_message.as_deref());
        self.event_type.append_option(e.event_type.as_deref());
        let p = &mut self.principal;
        let principal = e.principal.as_ref();
        p.present.push(principal.is_some());
        p.kind
            .append_option(principal.and_then(|p| p.kind.as_deref()));
        p.arn
            .append_option(principal.and_then(|p| p.arn.as_deref()));
        p.account_id
            .append_option(principal.and_then(|p| p.account_id.as_deref()));
        p.name
            .append_option(principal.and_then(|p| p.name.as_deref()));
        p.session_issuer
            .append_option(principal.and_then(|p| p.session_issuer.as_deref()));
        p.mfa.append_option(principal.and_then(|p| p.mfa));
        p.invoked_by
            .append_option(principal.and_then(|p| p.invoked_by.as_deref()));
        p.access_key_id
            .append_option(principal.and_then(|p| p.access_key_id.as_deref()));
        self.source_ip.append_option(e.source_ip.as_deref());
        self.user_agent.append_option(e.user_agent.as_deref());
        self.via.append_option(e.via.map(via_name));
        self.resources.push(e.resources.iter().map(|r| r.as_ref()));
        self.event_id.append_option(e.event_id.as_deref());
        self.request_id.append_option(e.request_id.as_deref());
        self.vpc_endpoint_id
            .append_option(e.vpc_endpoint_id.as_deref());
        let a = &mut self.addendum;
        let addendum = e.addendum.as_ref();
        a.present.push(addendum.is_some());
        a.reason
            .append_option(addendum.and_then(|a| a.reason.as_deref()));
        a.original_event_id
            .append_option(addendum.and_then(|a| a.original_event_id.as_deref()));
        a.original_request_id
            .append_option(addendum.and_then(|a| a.original_request_id.as_deref()));
        a.updated_fields
            .append_option(addendum.and_then(|a| a.updated_fields.as_deref()));
        self.rules.push(rules.iter().copied());
        let s = &mut self.source;
        s.bucket.append_value(source.origin.bucket);
        s.key.append_value(source.origin.key);
        s.version.append_option(source.version);
        s.index
            .append_value(i64::try_from(source.index).unwrap_or(i64::MAX));
        self.record.append_value(record.json);
        self.rows += 1;
        self.record_bytes += record.json.len();
    }

    /// The rows added so far as one batch; the columns start again empty.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let schema = self.schema.clone();
        let field =
            |name: &str| -> Result<&FieldRef, arrow_schema::ArrowError> {
                schema.fields().find(name).map(|(_, f)| f).ok_or_else(|| {
                    arrow_schema::ArrowError::SchemaError(format!("no column {name}"))
                })
            };
        let p = &mut self.principal;
        let principal = structure(
            field("principal")?,
            vec![
                Arc::new(p.kind.finish()),
                Arc::new(p.arn.finish()),
                Arc::new(p.account_id.finish()),
                Arc::new(p.name.finish()),
                Arc::new(p.session_issuer.finish()),
                Arc::new(p.mfa.finish()),
                Arc::new(p.invoked_by.finish()),
                Arc::new(p.access_key_id.finish()),
            ],
            Some(std::mem::take(&mut p.present)),
        )?;
        let a = &mut self.addendum;
        let addendum = structure(
            field("addendum")?,
            vec![
                Arc::new(a.reason.finish()),
                Arc::new(a.original_event_id.finish()),
                Arc::new(a.original_request_id.finish()),
                Arc::new(a.updated_fields.finish()),
            ],
            Some(std::mem::take(&mut a.present)),
        )?;
        let s = &mut self.source;
        let source = structure(
            field("source")?,
            vec![
                Arc::new(s.bucket.finish()),
                Arc::new(s.key.finish()),
                Arc::new(s.version.finish()),
                Arc::new(s.index.finish()),
            ],
            None,
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.org_id.finish()),
            Arc::new(self.account_id.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.read_only.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.error_code.finish()),
            Arc::new(self.error_message.finish()),
            Arc::new(self.event_type.finish()),
            principal,
            Arc::new(self.source_ip.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.via.finish()),
            self.resources.finish(field("resources")?)?,
            Arc::new(self.event_id.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(self.vpc_endpoint_id.finish()),
            addendum,
            self.rules.finish(field("rules")?)?,
            source,
            Arc::new(self.record.finish()),
        ];
        self.rows = 0;
        self.record_bytes = 0;
        let batch = RecordBatch::try_new(schema, columns)?;
        debug_assert!(batch.columns().iter().all(|c| c.len() == batch.num_rows()));
        Ok(batch)
    }
}
