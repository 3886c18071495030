//! Records that are not JSON, kept beside the archive instead of failing their file.
//!
//! The quarantine object of a log file is `PREFIX/_quarantine/org=/account=/region=/date=/`
//! `NAME.ndjson.gz`: the archive's partitions under a folder of their own, so the events table
//! never reads it and a table of its own can. One line per record:
//! `{"source":{"bucket","key","index"},"error":"...","text":"..."}`, where `text` is the record
//! as a JSON string, or `base64` holds its bytes when they are not UTF-8. The object exists only
//! for a file with such a record, and is committed (or abandoned) with the archive object.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use super::{ProcessError, archive_io};
use crate::normalize::{Origin, RecordError, Source};
use crate::ports::{ArchiveSink, ArchiveUpload};

/// The folder, under the archive prefix, that holds quarantine objects.
pub const QUARANTINE_FOLDER: &str = "_quarantine";

/// The quarantine key beside an archive key: the same path, in [`QUARANTINE_FOLDER`].
pub fn quarantine_key(archive_prefix: &str, archive_key: &str) -> String {
    let prefix = archive_prefix.trim_matches('/');
    match archive_key.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() => {
            format!(
                "{prefix}/{QUARANTINE_FOLDER}/{}",
                rest.trim_start_matches('/')
            )
        }
        _ => format!("{QUARANTINE_FOLDER}/{archive_key}"),
    }
}

#[derive(Serialize)]
struct Line<'a> {
    source: Source<'a>,
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// The quarantine object of one log file, begun at its first record.
pub(super) struct Quarantine<'s, A: ArchiveSink> {
    sink: &'s A,
    key: String,
    level: u32,
    gzip: Option<GzEncoder<A::Upload>>,
    line: Vec<u8>,
}

impl<'s, A: ArchiveSink> Quarantine<'s, A> {
    pub(super) fn new(sink: &'s A, key: String, level: u32) -> Self {
        Self {
            sink,
            key,
            level,
            gzip: None,
            line: Vec::new(),
        }
    }

    /// Keeps `bytes`, record `index` of the object at `origin`, refused for `error`.
    pub(super) fn keep(
        &mut self,
        bytes: &[u8],
        index: u64,
        error: &RecordError,
        origin: &Origin<'_>,
    ) -> Result<(), ProcessError> {
        let text = std::str::from_utf8(bytes).ok();
        let line = Line {
            source: Source {
                bucket: origin.bucket,
                key: origin.key,
                index,
            },
            error: error.to_string(),
            text,
            base64: text.is_none().then(|| STANDARD.encode(bytes)),
        };
        self.line.clear();
        // Strings and numbers into a Vec: serialising cannot fail.
        let _ = serde_json::to_writer(&mut self.line, &line);
        self.line.push(b'\n');
        let gzip = match &mut self.gzip {
            Some(gzip) => gzip,
            None => {
                let upload = self.sink.begin(&self.key).map_err(ProcessError::Archive)?;
                self.gzip
                    .insert(GzEncoder::new(upload, Compression::new(self.level.min(9))))
            }
        };
        gzip.write_all(&self.line).map_err(archive_io)
    }

    /// Commits the object, if a record was kept; returns its key.
    pub(super) fn commit(self) -> Result<Option<String>, ProcessError> {
        let Some(gzip) = self.gzip else {
            return Ok(None);
        };
        let upload = gzip.finish().map_err(archive_io)?;
        upload.commit().map_err(ProcessError::Archive)?;
        Ok(Some(self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_objects_sit_in_their_own_folder_beside_the_archive() {
        let key = "cloudtrail/org=o-1/account=1/region=r/date=2026-11-01/f.ndjson.gz";
        assert_eq!(
            quarantine_key("/cloudtrail/", key),
            "cloudtrail/_quarantine/org=o-1/account=1/region=r/date=2026-11-01/f.ndjson.gz"
        );
        assert_eq!(
            quarantine_key("", "org=o-1/account=1/region=r/date=d/f.ndjson.gz"),
            "_quarantine/org=o-1/account=1/region=r/date=d/f.ndjson.gz"
        );
    }
}
