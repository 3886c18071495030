//! Fixture loaders shared by the unit tests: every CloudTrail record under `testdata/`, in
//! whatever wrapper its source published it.

use std::path::{Path, PathBuf};

use crate::decode::{self, Limits};

/// A record from the fixture set and the file it came from.
#[derive(Debug)]
pub(crate) struct FixtureRecord {
    pub(crate) file: PathBuf,
    pub(crate) json: Vec<u8>,
}

pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every record of every fixture file: `{"Records":[...]}` documents (gzipped or not) through
/// the real decoder, bare arrays and NDJSON through serde_json (re-serialised compact).
pub(crate) fn cloudtrail_records() -> Vec<FixtureRecord> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(testdata().join("cloudtrail")).sort_by_file_name() {
        let entry = entry.expect("walk testdata");
        let path = entry.path();
        let name = path.to_string_lossy();
        if !entry.file_type().is_file()
            || !(name.ends_with(".json") || name.ends_with(".json.gz"))
            || name.ends_with("_index.json")
        {
            continue;
        }
        let bytes = std::fs::read(path).expect("read fixture");
        let mut push = |json: Vec<u8>| {
            out.push(FixtureRecord {
                file: path.to_path_buf(),
                json,
            })
        };
        let starts_records = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{' || b == 0x1f)
            && (name.ends_with(".gz")
                || String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).contains("\"Records\""));
        if starts_records {
            let mut reader = decode::open(&bytes[..], Limits::default()).expect("open fixture");
            while let Some(r) = reader.next_record().expect("decode fixture") {
                push(r.json.to_vec());
            }
            continue;
        }
        let text = String::from_utf8(bytes).expect("fixture is UTF-8");
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => {
                for item in items {
                    push(serde_json::to_vec(&item).expect("serialise"));
                }
            }
            Ok(single @ serde_json::Value::Object(_)) => {
                push(serde_json::to_vec(&single).expect("serialise"))
            }
            Ok(other) => panic!("{name}: unexpected top-level value {other}"),
            Err(_) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON line");
                    push(serde_json::to_vec(&v).expect("serialise"));
                }
            }
        }
    }
    out
}

/// Milliseconds since the Unix epoch of an RFC 3339 time.
pub(crate) fn epoch_ms(time: &str) -> i64 {
    time.parse::<jiff::Timestamp>()
        .expect("RFC 3339 time")
        .as_millisecond()
}

/// In-memory fakes of the ports, for pipeline tests. Clones share their state, so a test keeps
/// a clone to look at what the code under test did with its own.
pub(crate) mod fakes {
    use std::collections::HashMap;
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use crate::batch::LogBatch;
    use crate::ports::{
        ArchiveSink, ArchiveUpload, Clock, ErrorClass, LogSink, OBJECT_CHANGED, ObjectRef,
        ObjectSource, Opened, Outgoing, PortError, PutReport, Queue, QueueRef, Store, Version,
    };

    pub(crate) fn object(key: &str) -> ObjectRef {
        ObjectRef::new(Store::S3("trail-bucket".into()), key)
    }

    /// A stand-in for S3's ETag: any change of the bytes changes it.
    pub(crate) fn etag(bytes: &[u8]) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        format!("\"{:016x}\"", h.finish())
    }

    /// Objects by key; opening a key listed in `panic_on` panics, one in `slow` takes that long.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct MemorySource {
        pub(crate) objects: HashMap<String, Vec<u8>>,
        pub(crate) panic_on: Vec<String>,
        pub(crate) slow: Vec<(String, Duration)>,
    }

    impl ObjectSource for MemorySource {
        type Reader = io::Cursor<Vec<u8>>;

        fn open(&self, object: &ObjectRef) -> Result<Opened<Self::Reader>, PortError> {
            assert!(
                !self.panic_on.contains(&object.key),
                "scripted panic on {}",
                object.key
            );
            if let Some((_, delay)) = self.slow.iter().find(|(k, _)| *k == object.key) {
                std::thread::sleep(*delay);
            }
            let bytes = self
                .objects
                .get(&object.key)
                .ok_or_else(|| PortError::new(ErrorClass::Poison, "not-found", "no such key"))?;
            let version = Version {
                etag: Some(etag(bytes)),
                version_id: None,
            };
            if let Some(expected) = &object.version
                && expected.etag != version.etag
            {
                return Err(PortError::new(
                    ErrorClass::Poison,
                    OBJECT_CHANGED,
                    "the ETag differs",
                ));
            }
            Ok(Opened {
                signature: None,
                reader: io::Cursor::new(bytes.clone()),
                version,
            })
        }
    }

    /// Records every batch; fails calls whose number (from 1) is listed in `fail_calls`.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct RecordingLogSink {
        pub(crate) batches: Arc<Mutex<Vec<LogBatch>>>,
        pub(crate) calls: Arc<Mutex<u32>>,
        pub(crate) fail_calls: Vec<u32>,
        /// Events with a timestamp below this are rejected one by one.
        pub(crate) reject_before_ms: Option<i64>,
        /// Calls (numbered from 1) that take this long before they are accepted.
        pub(crate) slow_calls: Vec<(u32, std::time::Duration)>,
    }

    impl LogSink for RecordingLogSink {
        fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            if let Some((_, takes)) = self.slow_calls.iter().find(|(n, _)| *n == call) {
                std::thread::sleep(*takes);
            }
            if self.fail_calls.contains(&call) {
                return Err(PortError::new(ErrorClass::Retry, "throttled", "slow down"));
            }
            let rejected = self.reject_before_ms.map_or(0, |t| {
                batch.events.iter().filter(|e| e.timestamp_ms < t).count() as u64
            });
            self.batches.lock().unwrap().push(batch.clone());
            Ok(PutReport { rejected })
        }
    }

    /// Committed objects by key.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct MemoryArchive {
        pub(crate) committed: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    }

    #[derive(Debug)]
    pub(crate) struct MemoryUpload {
        key: String,
        bytes: Vec<u8>,
        committed: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    }

    impl Write for MemoryUpload {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl ArchiveUpload for MemoryUpload {
        fn commit(self) -> Result<(), PortError> {
            self.committed.lock().unwrap().insert(self.key, self.bytes);
            Ok(())
        }
    }

    impl ArchiveSink for MemoryArchive {
        type Upload = MemoryUpload;

        fn begin(&self, key: &str) -> Result<Self::Upload, PortError> {
            Ok(MemoryUpload {
                key: key.into(),
                bytes: Vec::new(),
                committed: Arc::clone(&self.committed),
            })
        }

        fn create(&self, key: &str, bytes: &[u8]) -> Result<bool, PortError> {
            let mut committed = self.committed.lock().unwrap();
            if committed.contains_key(key) {
                return Ok(false);
            }
            committed.insert(key.into(), bytes.to_vec());
            Ok(true)
        }
    }

    /// Keeps every receipt.
    #[derive(Debug, Default)]
    pub(crate) struct RecordingReceipts {
        pub(crate) receipts: Mutex<Vec<crate::pipeline::receipt::Receipt>>,
    }

    impl crate::pipeline::receipt::ReceiptSink for RecordingReceipts {
        fn put(&self, receipt: &crate::pipeline::receipt::Receipt) -> Result<(), PortError> {
            self.receipts.lock().unwrap().push(receipt.clone());
            Ok(())
        }
    }

    /// Keeps every message sent; refuses them all while `refuse` is set, and refuses the next
    /// `refuse_entries` entries of batches one by one.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct RecordingQueue {
        pub(crate) sent: Arc<Mutex<Vec<Outgoing>>>,
        /// Queues prepared, in order.
        pub(crate) prepared: Arc<Mutex<Vec<QueueRef>>>,
        pub(crate) refuse: bool,
        pub(crate) refuse_entries: Arc<Mutex<usize>>,
        /// Entries whose body holds any of these are refused, every time.
        pub(crate) refuse_matching: Arc<Mutex<Vec<String>>>,
        /// Every call is refused as to a caller without `sqs:SendMessage`.
        pub(crate) deny: bool,
        pub(crate) batches: Arc<Mutex<Vec<usize>>>,
    }

    impl Queue for RecordingQueue {
        async fn prepare(&self, queue: &QueueRef) -> Result<(), PortError> {
            self.prepared.lock().unwrap().push(queue.clone());
            Ok(())
        }

        async fn send(&self, message: &Outgoing) -> Result<(), PortError> {
            if self.refuse {
                return Err(PortError::new(ErrorClass::Retry, "throttled", "refused"));
            }
            self.sent.lock().unwrap().push(message.clone());
            Ok(())
        }

        async fn send_batch(&self, messages: &[Outgoing]) -> Vec<Result<(), PortError>> {
            self.batches.lock().unwrap().push(messages.len());
            if self.deny {
                let denied = || PortError::new(ErrorClass::Poison, "access-denied", "AccessDenied");
                return messages.iter().map(|_| Err(denied())).collect();
            }
            let mut results = Vec::new();
            for m in messages {
                let refused = {
                    let matching = self
                        .refuse_matching
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|s| m.body.contains(s));
                    let mut refusals = self.refuse_entries.lock().unwrap();
                    let counted = *refusals > 0 && !matching;
                    if counted {
                        *refusals -= 1;
                    }
                    matching || counted
                };
                results.push(if refused {
                    Err(PortError::new(
                        ErrorClass::Retry,
                        "service-error",
                        "entry refused",
                    ))
                } else {
                    self.send(m).await
                });
            }
            results
        }
    }

    /// A clock stopped at a given Unix time in seconds.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct FixedClock(pub(crate) u64);

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(self.0)
        }
    }
}
