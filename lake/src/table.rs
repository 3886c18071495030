//! The table: `trailrelay.cloudtrail`, its columns, partitioning and file layout.
//!
//! One row per CloudTrail record. The archive line's derived fields are typed columns under the
//! archive line's own names, a few more fields that queries filter on come beside them, and the
//! record itself is the last column, `record`, read only by the queries that ask for it.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::spec::{
    ListType, NestedField, NestedFieldRef, PrimitiveType, Schema, StructType, Transform, Type,
    UnboundPartitionSpec,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// The namespace (Glue database) of the table.
pub const NAMESPACE: &str = "trailrelay";
/// The table's name.
pub const TABLE: &str = "cloudtrail";
/// The name of the partition field: the day of `time`.
pub const PARTITION_FIELD: &str = "time_day";

/// Parquet pages of at most 1 MiB.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// Row groups of at most 128 MiB.
pub const ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;
/// Data files roll over at 512 MiB, the size Iceberg's own tooling compacts to
/// (<https://iceberg.apache.org/docs/latest/configuration/#write-properties>).
pub const TARGET_FILE_BYTES: usize = 512 * 1024 * 1024;
/// zstd level 3: zstd's default, a fraction of gzip's CPU for smaller files.
pub const ZSTD_LEVEL: i32 = 3;

fn string(id: i32, name: &str) -> NestedFieldRef {
    NestedField::optional(id, name, Type::Primitive(PrimitiveType::String)).into()
}

fn boolean(id: i32, name: &str) -> NestedFieldRef {
    NestedField::optional(id, name, Type::Primitive(PrimitiveType::Boolean)).into()
}

fn structure(id: i32, name: &str, fields: Vec<NestedFieldRef>) -> NestedFieldRef {
    NestedField::optional(id, name, Type::Struct(StructType::new(fields))).into()
}

fn list(id: i32, name: &str, element_id: i32, element: Type) -> NestedFieldRef {
    let element = NestedField::list_element(element_id, element, true).into();
    NestedField::optional(id, name, Type::List(ListType::new(element))).into()
}

/// The table's schema. Field ids are the table's contract with every reader: a column keeps
/// its id for ever; new columns take new ids.
pub fn schema() -> iceberg::Result<Schema> {
    let principal = vec![
        string(101, "type"),
        string(102, "arn"),
        string(103, "account_id"),
        string(104, "name"),
        string(105, "session_issuer"),
        boolean(106, "mfa"),
        string(107, "invoked_by"),
        string(108, "access_key_id"),
    ];
    let resource = Type::Struct(StructType::new(vec![string(112, "arn")]));
    let addendum = vec![
        string(121, "reason"),
        string(122, "original_event_id"),
        string(123, "original_request_id"),
        string(124, "updated_fields"),
    ];
    let source = vec![
        string(131, "bucket"),
        string(132, "key"),
        string(133, "version"),
        NestedField::optional(134, "index", Type::Primitive(PrimitiveType::Long)).into(),
    ];
    Schema::builder()
        .with_schema_id(0)
        .with_fields(vec![
            // Timestamps without a zone, in UTC by convention: Glue's Iceberg support takes no
            // `timestamptz`.
            NestedField::optional(1, "time", Type::Primitive(PrimitiveType::Timestamp)).into(),
            string(2, "org_id"),
            string(3, "account_id"),
            string(4, "region"),
            string(5, "category"),
            boolean(6, "read_only"),
            string(7, "service"),
            string(8, "action"),
            string(9, "error_code"),
            string(10, "error_message"),
            string(11, "event_type"),
            structure(12, "principal", principal),
            string(13, "source_ip"),
            string(14, "user_agent"),
            string(15, "via"),
            list(16, "resources", 111, resource),
            string(17, "event_id"),
            string(18, "request_id"),
            string(19, "vpc_endpoint_id"),
            structure(20, "addendum", addendum),
            list(21, "rules", 141, Type::Primitive(PrimitiveType::String)),
            structure(22, "source", source),
            string(23, "record"),
        ])
        .build()
}

/// Partitioned by the day of `time`.
pub fn partition_spec() -> iceberg::Result<UnboundPartitionSpec> {
    UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(1, PARTITION_FIELD, Transform::Day)
        .map(|b| b.build())
}

/// Table properties: what other writers (compaction among them) use for the same layout.
pub fn properties() -> HashMap<String, String> {
    [
        ("write.format.default", "parquet".to_owned()),
        ("write.parquet.compression-codec", "zstd".to_owned()),
        ("write.parquet.compression-level", ZSTD_LEVEL.to_string()),
        ("write.parquet.page-size-bytes", PAGE_BYTES.to_string()),
        (
            "write.parquet.row-group-size-bytes",
            ROW_GROUP_BYTES.to_string(),
        ),
        (
            "write.target-file-size-bytes",
            TARGET_FILE_BYTES.to_string(),
        ),
        (
            "write.metadata.delete-after-commit.enabled",
            "true".to_owned(),
        ),
        ("write.metadata.previous-versions-max", "100".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// How data files are written: zstd, 1 MiB pages, row groups of at most 128 MiB, statistics
/// per page (so a reader skips pages of other accounts and regions).
pub fn writer_properties() -> WriterProperties {
    let zstd = ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_data_page_size_limit(PAGE_BYTES)
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build()
}

/// The Arrow schema rows are built in, with each field's Iceberg id.
pub fn arrow_schema(schema: &Schema) -> iceberg::Result<Arc<arrow_schema::Schema>> {
    iceberg::arrow::schema_to_arrow_schema(schema).map(Arc::new)
}
