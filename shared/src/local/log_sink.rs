//! Local log files: each batch appended to `ROOT/<log group>/<stream>.ndjson`, one
//! `{"timestamp":<ms>,"message":"<record>"}` line per event, escaped as serde_json escapes.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use super::io_error;
use crate::batch::LogBatch;
use crate::ports::{ErrorClass, LogSink, PortError, PutReport};

/// Writes log batches as NDJSON files, one per log stream.
#[derive(Debug)]
pub struct LocalLogSink {
    root: PathBuf,
    files: Mutex<HashMap<PathBuf, File>>,
}

impl LocalLogSink {
    /// Log files go under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            files: Mutex::new(HashMap::new()),
        }
    }

    /// The file that holds `group`/`stream`.
    pub fn stream_path(&self, group: &str, stream: &str) -> PathBuf {
        let mut path = self.root.clone();
        for segment in group.split('/').filter(|s| !s.is_empty()) {
            path.push(escape_segment(segment));
        }
        path.push(format!("{}.ndjson", escape_segment(stream)));
        path
    }
}

/// Makes a name usable as one path segment: `%` and `/` are percent-encoded, and `.`/`..`
/// cannot climb out of the folder.
fn escape_segment(name: &str) -> String {
    let escaped = name.replace('%', "%25").replace('/', "%2F");
    match Path::new(&escaped).components().next() {
        Some(Component::CurDir | Component::ParentDir) => escaped.replace('.', "%2E"),
        _ => escaped,
    }
}

/// How [`push_json_string`] writes each byte: as it is, after a backslash, or otherwise.
const PLAIN: u8 = 0;
const BACKSLASHED: u8 = 1;
const OTHER: u8 = 2;
const ESCAPES: [u8; 256] = {
    let mut table = [PLAIN; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = OTHER;
        b += 1;
    }
    table[b'"' as usize] = BACKSLASHED;
    table[b'\\' as usize] = BACKSLASHED;
    table
};

/// Appends `text` as a JSON string, exactly as serde_json writes it. Messages are JSON records,
/// a quote every few bytes: each byte is written without a branch (a backslash first, then the
/// byte over it or after it); a control character, rare between a record's tokens, hands the
/// whole string to serde_json.
pub(super) fn push_json_string(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    let start = out.len();
    out.resize(start + 2 * text.len() + 2, 0);
    let room = &mut out[start..];
    room[0] = b'"';
    let mut at = 1;
    for &b in text.as_bytes() {
        let escape = ESCAPES[usize::from(b)];
        if escape == OTHER {
            out.truncate(start);
            return serde_json::to_writer(out, text);
        }
        room[at] = b'\\';
        room[at + usize::from(escape)] = b;
        at += 1 + usize::from(escape);
    }
    room[at] = b'"';
    out.truncate(start + at + 1);
    Ok(())
}

impl LogSink for LocalLogSink {
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        // Room for messages escaped at their longest, as `push_json_string` asks.
        let mut text = Vec::with_capacity(2 * batch.batch_bytes() + batch.events.len() * 32);
        let encode = |e| PortError::new(ErrorClass::Poison, "encode", e);
        for event in &batch.events {
            text.extend_from_slice(b"{\"timestamp\":");
            serde_json::to_writer(&mut text, &event.timestamp_ms).map_err(encode)?;
            text.extend_from_slice(b",\"message\":");
            push_json_string(&mut text, &event.message).map_err(encode)?;
            text.extend_from_slice(b"}\n");
        }
        let path = self.stream_path(&batch.group, &batch.stream);
        let mut files = self
            .files
            .lock()
            .map_err(|_| PortError::new(ErrorClass::Retry, "io", "log file table poisoned"))?;
        let file = match files.get_mut(&path) {
            Some(f) => f,
            None => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(io_error)?;
                }
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(io_error)?;
                files.entry(path).or_insert(f)
            }
        };
        file.write_all(&text).map_err(io_error)?;
        Ok(PutReport::default())
    }
}
