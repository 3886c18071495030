//! One object on several threads: decompression (with its hash) on one, record work on the
//! caller's, archive compression (and upload) on a third, joined by bounded channels so that
//! memory stays bounded and order is kept. With one CPU the pipeline runs all three in line
//! ([`Settings::stage_threads`](super::Settings::stage_threads) off).

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::decode::{CHUNK_BYTES, Decompressed, read_full};

/// Chunks queued, each way: with the one each end holds, the memory the stages add is at most
/// six chunks each way (3 MiB in all).
const CHUNKS_IN_FLIGHT: usize = 4;

/// What the decoded stream tells the pipeline once read: the object's bytes and their hash.
pub(crate) trait StreamFacts {
    /// Bytes read from the object so far (compressed, if it is gzip).
    fn source_bytes(&self) -> u64;
    /// SHA-256 of the decompressed bytes read so far.
    fn sha256(&self) -> [u8; 32];
}

impl<R> StreamFacts for Decompressed<R> {
    fn source_bytes(&self) -> u64 {
        Decompressed::source_bytes(self)
    }

    fn sha256(&self) -> [u8; 32] {
        Decompressed::sha256(self)
    }
}

/// One message of the decompression stage.
enum Inflated {
    /// Decompressed bytes, and the object's bytes read so far.
    Bytes(Vec<u8>, u64),
    /// The end: the object's bytes and the hash of all decompressed bytes.
    End(u64, [u8; 32]),
    /// The read failed; nothing follows.
    Failed(io::Error),
}

/// The decompressed stream, read on a thread of its own.
pub(crate) struct InflateStage {
    rx: Receiver<Inflated>,
    chunk: Vec<u8>,
    pos: usize,
    source_bytes: u64,
    sha256: [u8; 32],
    ended: bool,
}

impl InflateStage {
    /// Starts reading `stream` to its end on a thread of `scope`.
    pub(crate) fn spawn<'scope, R: Read + Send + 'scope>(
        scope: &'scope Scope<'scope, '_>,
        mut stream: Decompressed<R>,
    ) -> Self {
        let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
        scope.spawn(move || {
            loop {
                let mut chunk = vec![0; CHUNK_BYTES];
                let message = match read_full(&mut stream, &mut chunk) {
                    Ok(0) => Inflated::End(stream.source_bytes(), stream.sha256()),
                    Ok(n) => {
                        chunk.truncate(n);
                        Inflated::Bytes(chunk, stream.source_bytes())
                    }
                    Err(e) => Inflated::Failed(e),
                };
                let last = !matches!(message, Inflated::Bytes(..));
                // The reader gone (the object failed): nothing more to do.
                if tx.send(message).is_err() || last {
                    return;
                }
            }
        });
        Self {
            rx,
            chunk: Vec::new(),
            pos: 0,
            source_bytes: 0,
            sha256: [0; 32],
            ended: false,
        }
    }
}

impl Read for InflateStage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Inflated::Bytes(chunk, source_bytes)) => {
                    (self.chunk, self.pos, self.source_bytes) = (chunk, 0, source_bytes);
                }
                Ok(Inflated::End(source_bytes, sha256)) => {
                    (self.source_bytes, self.sha256, self.ended) = (source_bytes, sha256, true);
                }
                Ok(Inflated::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the decompression stage stopped")),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl StreamFacts for InflateStage {
    fn source_bytes(&self) -> u64 {
        self.source_bytes
    }

    fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// The archive object's gzip stream, finished into its upload.
pub(crate) trait ArchiveStream: Write {
    /// The upload the stream writes to.
    type Upload;
    /// Ends the gzip stream; the upload, to commit.
    fn finish(self) -> io::Result<Self::Upload>;
}

impl<U: Write> ArchiveStream for GzEncoder<U> {
    type Upload = U;

    fn finish(self) -> io::Result<U> {
        GzEncoder::finish(self)
    }
}

/// The archive object's gzip stream, compressed (and uploaded) on a thread of its own.
pub(crate) struct DeflateStage<'scope, U> {
    buffer: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    handle: Option<ScopedJoinHandle<'scope, io::Result<U>>>,
}

impl<'scope, U: Write + Send + 'scope> DeflateStage<'scope, U> {
    /// Starts compressing into `upload` at `level` on a thread of `scope`.
    pub(crate) fn spawn(scope: &'scope Scope<'scope, '_>, upload: U, level: Compression) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let handle = scope.spawn(move || {
            let mut gzip = GzEncoder::new(upload, level);
            for chunk in rx {
                gzip.write_all(&chunk)?;
            }
            gzip.finish()
        });
        Self {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if sent {
            return Ok(());
        }
        // The stage stopped: its own error (or panic) says why.
        self.tx = None;
        self.join()?;
        Err(io::Error::other("the archive compression stage stopped"))
    }

    /// Waits for the stage: its upload, its error, or its panic again.
    fn join(&mut self) -> io::Result<U> {
        match self.handle.take().map(ScopedJoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(io::Error::other("the archive compression stage stopped")),
        }
    }
}

impl<'scope, U: Write + Send + 'scope> Write for DeflateStage<'scope, U> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK_BYTES {
            self.hand_over()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'scope, U: Write + Send + 'scope> ArchiveStream for DeflateStage<'scope, U> {
    type Upload = U;

    fn finish(mut self) -> io::Result<U> {
        if !self.buffer.is_empty() {
            self.hand_over()?;
        }
        self.tx = None;
        self.join()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use crate::demo::{self, DemoSpec};
    use crate::local::{self, LocalArchive, LocalLogSink, LocalSource};
    use crate::pipeline::receipt::ReceiptsIn;
    use crate::pipeline::{Pipeline, Settings, Totals};
    use crate::rules::pattern::PatternOptions;
    use crate::rules::{CIS_PACK_JSON, RuleSet, RulesFile};
    use crate::testing::fakes::FixedClock;

    /// Forwards every file under `bucket` to `out` on one job, in line or on three threads.
    fn forward(bucket: &Path, out: &Path, stage_threads: bool) -> Totals {
        let settings = Settings {
            stage_threads,
            ..Settings::default()
        };
        forward_with(bucket, out, &settings)
    }

    fn forward_with(bucket: &Path, out: &Path, settings: &Settings) -> Totals {
        let objects = local::list_objects(&[bucket.to_path_buf()])
            .unwrap()
            .objects;
        let receipts = LocalArchive::new(out.join("receipts"));
        let receipts = ReceiptsIn::new(&receipts, "");
        Pipeline {
            source: &LocalSource,
            logs: &LocalLogSink::new(out.join("logs")),
            archive: &LocalArchive::new(out.join("archive")),
            receipts: &receipts,
            clock: &FixedClock(demo::DAY_START_S as u64 + 600),
            settings,
            deadline: None,
        }
        .forward_all(&objects, 1, &|_| true)
    }

    /// Every file under `root`, by path under it: its bytes, gzip decompressed.
    fn contents(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() {
                continue;
            }
            let bytes = fs::read(entry.path()).unwrap();
            let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                    &mut plain,
                )
                .unwrap();
                plain
            } else {
                bytes
            };
            let name = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            out.push((name, bytes));
        }
        out
    }

    #[test]
    fn three_threads_write_what_one_writes() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        // Objects of several hand-over chunks each (about 1.3 MB decompressed).
        let spec = DemoSpec {
            accounts: 2,
            regions: 2,
            files_per_stream: 2,
            records_per_file: 1000,
            ..DemoSpec::default()
        };
        let files = demo::write_corpus(&bucket, &spec).unwrap().log_files;
        let (inline, staged) = (dir.path().join("inline"), dir.path().join("staged"));
        let a = forward(&bucket, &inline, false);
        let b = forward(&bucket, &staged, true);
        let files = files as u64;
        assert_eq!((a.forwarded, b.forwarded), (files, files));
        assert_eq!(a.counts, b.counts);
        let (a, b) = (contents(&inline), contents(&staged));
        assert!(files > 9, "network-activity files beside the others");
        let streams = a
            .iter()
            .filter(|(name, _)| name.ends_with(".ndjson"))
            .count();
        assert_eq!(
            a.len() as u64,
            files + files + streams as u64,
            "archive objects, receipts, log streams"
        );
        for ((name_a, bytes_a), (name_b, bytes_b)) in a.iter().zip(&b) {
            assert_eq!(name_a, name_b);
            assert!(bytes_a == bytes_b, "{name_a} differs");
        }
        assert_eq!(a.len(), b.len());
    }

    /// Odd records (`testdata/golden/`, made by its `make-input.py`) with the CIS pack and
    /// patterns whose selectors cross the normaliser's: the archive and quarantine lines are the
    /// ones written before one parse served the normaliser and the rules together.
    #[test]
    fn odd_records_are_archived_as_before_one_parse() {
        let golden = crate::testing::testdata().join("golden");
        let mut rules: serde_json::Value = serde_json::from_str(CIS_PACK_JSON).unwrap();
        let extra: serde_json::Value =
            serde_json::from_slice(&fs::read(golden.join("rules-extra.json")).unwrap()).unwrap();
        let filters = rules["MetricFilters"].as_array_mut().unwrap();
        filters.extend(extra["MetricFilters"].as_array().unwrap().iter().cloned());
        rules["Routes"] = extra["Routes"].clone();
        let file = RulesFile::from_json(&rules.to_string(), "golden").unwrap();
        for stage_threads in [false, true] {
            let settings = Settings {
                stage_threads,
                rules: RuleSet::compile(&file, PatternOptions::default()).unwrap(),
                ..Settings::default()
            };
            let out = tempfile::tempdir().unwrap();
            let input = golden.join("input");
            let totals = forward_with(&input, out.path(), &settings);
            assert_eq!(totals.forwarded, 1);
            let written = contents(&out.path().join("archive"));
            let [(_, quarantine), (_, archive)] = &written[..] else {
                panic!("{:?}", written.iter().map(|w| &w.0).collect::<Vec<_>>())
            };
            for (lines, expected) in [(archive, "archive"), (quarantine, "quarantine")] {
                let expected = contents(&golden.join(format!("{expected}.ndjson.gz")));
                let expected = &expected[0].1;
                let (lines, expected) = (
                    String::from_utf8_lossy(lines),
                    String::from_utf8_lossy(expected),
                );
                assert_eq!(lines.lines().count(), expected.lines().count());
                // The expected lines were written with the folder given as `input`.
                let bucket = serde_json::to_string(&input.display().to_string()).unwrap();
                for (line, want) in lines.lines().zip(expected.lines()) {
                    assert_eq!(line.replacen(&bucket, "\"input\"", 1), want);
                }
            }
        }
    }

    #[test]
    fn a_corrupt_object_fails_alike_on_three_threads() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        demo::write_corpus(
            &bucket,
            &DemoSpec {
                accounts: 1,
                regions: 1,
                files_per_stream: 1,
                records_per_file: 2000,
                ..DemoSpec::default()
            },
        )
        .unwrap();
        let objects = local::list_objects(std::slice::from_ref(&bucket))
            .unwrap()
            .objects;
        let log = objects
            .iter()
            .find(|o| o.key.contains("/CloudTrail/"))
            .unwrap();
        let path = bucket.join(&log.key);
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 64].fill(0xff);
        fs::write(&path, bytes).unwrap();
        let stem = log
            .key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".json.gz");
        let outcome = |stage_threads: bool| {
            let out = dir.path().join(format!("out-{stage_threads}"));
            let t = forward(&bucket, &out, stage_threads);
            // No archive object of the failed file, partial or whole.
            let archived: Vec<String> = contents(&out.join("archive"))
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert!(
                !archived.iter().any(|name| name.contains(stem)),
                "{archived:?}"
            );
            (t.forwarded, t.failed.clone(), archived)
        };
        let inline = outcome(false);
        assert_eq!(inline.1.len(), 1, "{inline:?}");
        assert_eq!(inline, outcome(true));
    }
}
