//! Reading one log file into rows: the forwarder's decoder, normaliser and rules.

use trailrelay::decode::{self, Limits};
use trailrelay::normalize::{Origin, RecordParser};
use trailrelay::ports::{ErrorClass, ObjectRef, ObjectSource, PortError};
use trailrelay::rules::{RuleSet, RuleStats};

use crate::build::LakeError;
use crate::rows::{RowSource, Rows};
use trailrelay::lake::FileEntry;

/// A log file that could not be read: it is not committed, and a later run tries it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    /// Its key.
    pub key: String,
    /// The cause, as the forwarder names it (`not-gzip`, `truncated`, `access-denied`, ...).
    pub cause: &'static str,
    /// Transient (worth retrying soon) or poison (the bytes are at fault).
    pub class: ErrorClass,
    /// What happened.
    pub message: String,
}

/// A file read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    /// What the manifest says of it.
    pub entry: FileEntry,
    /// Decompressed bytes read.
    pub bytes_read: u64,
}

/// Why a file was not read whole.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file is at fault, or its store: the file is left out.
    File(FileFailure),
    /// Writing its rows failed: the run stops.
    Lake(LakeError),
}

/// Reads log files from a source into rows, through the forwarder's decoder and rules: a route
/// that keeps an event out of the archive keeps it out of the lake.
#[derive(Debug)]
pub struct Reader<'a, S> {
    source: &'a S,
    rules: &'a RuleSet,
    limits: Limits,
}

impl<'a, S: ObjectSource> Reader<'a, S> {
    /// A reader of `source`'s objects.
    pub fn new(source: &'a S, rules: &'a RuleSet, limits: Limits) -> Self {
        Self {
            source,
            rules,
            limits,
        }
    }

    /// Adds `object`'s rows to `rows`, handing them to `flush` whenever more than `max_bytes`
    /// of records wait (the caller flushes the rest when the file is read).
    pub(crate) fn read(
        &self,
        object: &ObjectRef,
        rows: &mut Rows,
        max_bytes: usize,
        flush: &mut dyn FnMut(&mut Rows) -> Result<(), LakeError>,
    ) -> Result<FileRead, ReadError> {
        let failed = |e: &PortError| {
            ReadError::File(FileFailure {
                key: object.key.clone(),
                cause: e.cause,
                class: e.class,
                message: e.to_string(),
            })
        };
        let opened = self.source.open(object).map_err(|e| failed(&e))?;
        let version = opened.version.clone();
        let version_text = version.version_id.clone().or_else(|| version.etag.clone());
        let decode_failed = |e: decode::DecodeError| {
            ReadError::File(FileFailure {
                key: object.key.clone(),
                cause: e.cause(),
                class: ErrorClass::Poison,
                message: e.to_string(),
            })
        };
        let mut records = decode::open(opened.reader, self.limits).map_err(decode_failed)?;
        let bucket = object.bucket();
        let trail_key = object.trail_key();
        let origin = Origin {
            bucket: &bucket,
            key: &object.key,
            trail_key: &trail_key,
        };
        let parser = RecordParser::new(self.rules);
        let mut stats = RuleStats::default();
        let (mut count, mut kept, mut unreadable) = (0u64, 0u64, 0u64);
        while let Some(raw) = records.next_record().map_err(decode_failed)? {
            count += 1;
            let Ok(record) = parser.parse(raw.json, raw.index, &origin) else {
                unreadable += 1;
                continue;
            };
            let decision = self
                .rules
                .evaluate_parsed(record.json, record.document(), &mut stats);
            if !decision.to_archive {
                continue;
            }
            let source = RowSource {
                origin: &origin,
                version: version_text.as_deref(),
                index: raw.index,
            };
            rows.push(&record, source, &decision.rules);
            kept += 1;
            if rows.record_bytes() > max_bytes {
                flush(rows).map_err(ReadError::Lake)?;
            }
        }
        Ok(FileRead {
            entry: FileEntry {
                bucket: bucket.into_owned(),
                key: object.key.clone(),
                version,
                sha256: hex::encode(records.stream().sha256()),
                records: count,
                rows: kept,
                unreadable,
            },
            bytes_read: records.bytes_decoded(),
        })
    }
}
