//! Throughput of decoding, normalising and forwarding, on real record shapes.
//!
//! The input is one compact `{"Records":[...]}` document of about 16 MB built by repeating the
//! real delivered records of `testdata/cloudtrail/invictus-ir-aws-dataset` (as the benchmark
//! corpus generator does). Throughput is reported in bytes of uncompressed JSON.
//!
//! `cargo bench -p trailrelay --bench decode`

// Benchmark set-up: a failure is a broken benchmark, reported at once.
#![allow(clippy::expect_used)]

use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use trailrelay::batch::LogBatch;
use trailrelay::decode::{self, Limits};
use trailrelay::key::TrailKey;
use trailrelay::normalize::{self, Origin, RecordParser};
use trailrelay::pipeline::receipt::{Receipt, ReceiptSink};
use trailrelay::pipeline::{Outcome, Pipeline, Settings};
use trailrelay::ports::{
    ArchiveSink, ArchiveUpload, Clock, ErrorClass, LogSink, ObjectRef, ObjectSource, Opened,
    PortError, PutReport, Store, Version,
};
use trailrelay::rules::pattern::PatternOptions;
use trailrelay::rules::{CIS_PACK_JSON, RuleSet, RuleStats, RulesFile};

const TARGET_BYTES: usize = 16 << 20;
const KEY: &str = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                   111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";

fn real_records() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/cloudtrail/invictus-ir-aws-dataset/CloudTrail");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    let mut records = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).expect("fixture");
        let mut reader = decode::open(&bytes[..], Limits::default()).expect("open");
        while let Some(r) = reader.next_record().expect("decode") {
            records.push(r.json.to_vec());
        }
    }
    records
}

fn document() -> Vec<u8> {
    let records = real_records();
    let mut doc = b"{\"Records\":[".to_vec();
    for (i, r) in records.iter().cycle().enumerate() {
        if doc.len() >= TARGET_BYTES {
            break;
        }
        if i > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(r);
    }
    doc.extend_from_slice(b"]}");
    doc
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

struct Memory(Vec<u8>);

impl ObjectSource for Memory {
    type Reader = io::Cursor<Vec<u8>>;
    fn open(&self, _: &ObjectRef) -> Result<Opened<Self::Reader>, PortError> {
        Ok(Opened {
            signature: None,
            reader: io::Cursor::new(self.0.clone()),
            version: Version::default(),
        })
    }
}

#[derive(Debug)]
struct Discard;

impl ReceiptSink for Discard {
    fn put(&self, _: &Receipt) -> Result<(), PortError> {
        Ok(())
    }
}

impl LogSink for Discard {
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        if batch.events.is_empty() {
            return Err(PortError::new(ErrorClass::Poison, "empty", "empty batch"));
        }
        Ok(PutReport::default())
    }
}

struct DiscardUpload;

impl Write for DiscardUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ArchiveUpload for DiscardUpload {
    fn commit(self) -> Result<(), PortError> {
        Ok(())
    }
}

impl ArchiveSink for Discard {
    type Upload = DiscardUpload;
    fn begin(&self, _: &str) -> Result<DiscardUpload, PortError> {
        Ok(DiscardUpload)
    }
    fn create(&self, _: &str, _: &[u8]) -> Result<bool, PortError> {
        Ok(true)
    }
}

struct Now;

impl Clock for Now {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }
}

fn benches(c: &mut Criterion) {
    let doc = document();
    let gz = gzip(&doc);
    let trail_key = TrailKey::parse(KEY);
    let origin = Origin {
        bucket: "b",
        key: KEY,
        trail_key: &trail_key,
    };
    let mut group = c.benchmark_group("cloudtrail");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(doc.len() as u64));

    group.bench_function("gunzip only", |b| {
        b.iter(|| {
            io::copy(
                &mut flate2::read::MultiGzDecoder::new(&gz[..]),
                &mut io::sink(),
            )
        })
    });
    // What a receipt costs: SHA-256 of the decompressed bytes (the decoder hashes as it reads).
    group.bench_function("sha256 of the decompressed bytes", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(&doc))
    });
    group.bench_function("decode plain", |b| {
        b.iter(|| {
            let mut reader = decode::open(&doc[..], Limits::default()).expect("open");
            let mut n = 0usize;
            while let Some(r) = reader.next_record().expect("decode") {
                n += r.json.len();
            }
            n
        })
    });
    group.bench_function("decode + normalize plain", |b| {
        b.iter(|| {
            let mut reader = decode::open(&doc[..], Limits::default()).expect("open");
            let mut n = 0usize;
            while let Some(r) = reader.next_record().expect("decode") {
                let e = normalize::parse(r.json, r.index, &origin).expect("normalize");
                n += usize::from(e.event.time.is_some());
            }
            n
        })
    });
    group.bench_function("decode + normalize gzip", |b| {
        b.iter(|| {
            let mut reader = decode::open(&gz[..], Limits::default()).expect("open");
            let mut n = 0usize;
            while let Some(r) = reader.next_record().expect("decode") {
                let e = normalize::parse(r.json, r.index, &origin).expect("normalize");
                n += usize::from(e.event.time.is_some());
            }
            n
        })
    });
    // The CIS / Security Hub pack (29 JSON patterns) on every record, records already split.
    let rules = RuleSet::compile(
        &RulesFile::from_json(CIS_PACK_JSON, "cis.json").expect("pack"),
        PatternOptions::default(),
    )
    .expect("pack compiles");
    let mut records: Vec<String> = Vec::new();
    let mut reader = decode::open(&doc[..], Limits::default()).expect("open");
    while let Some(r) = reader.next_record().expect("decode") {
        records.push(String::from_utf8(r.json.to_vec()).expect("utf-8"));
    }
    // The record stage of `forward` without its outputs: one parse for the normaliser and
    // the pack.
    let parser = RecordParser::new(&rules);
    group.bench_function("decode + normalize + CIS pack gzip", |b| {
        b.iter(|| {
            let mut reader = decode::open(&gz[..], Limits::default()).expect("open");
            let mut stats = RuleStats::new(&rules);
            let mut matched = 0usize;
            while let Some(r) = reader.next_record().expect("decode") {
                let e = parser.parse(r.json, r.index, &origin).expect("normalize");
                let decision = rules.evaluate_parsed(e.json, e.document(), &mut stats);
                matched += decision.rules.len();
            }
            matched
        })
    });
    // The same with the pack parsing each record again on its own.
    group.bench_function("decode + normalize + CIS pack gzip, two parses", |b| {
        b.iter(|| {
            let mut reader = decode::open(&gz[..], Limits::default()).expect("open");
            let mut stats = RuleStats::new(&rules);
            let mut matched = 0usize;
            while let Some(r) = reader.next_record().expect("decode") {
                let e = normalize::parse(r.json, r.index, &origin).expect("normalize");
                matched += rules.evaluate(e.json, &mut stats).rules.len();
            }
            matched
        })
    });
    group.bench_function("CIS pack: the one pruned parse per record", |b| {
        b.iter(|| records.iter().filter(|r| rules.parse(r).is_some()).count())
    });
    let parsed: Vec<_> = records.iter().map(|r| rules.parse(r)).collect();
    group.bench_function("CIS pack: evaluating 29 patterns on parsed records", |b| {
        b.iter(|| {
            let mut stats = RuleStats::new(&rules);
            let mut matched = 0usize;
            for (r, doc) in records.iter().zip(&parsed) {
                matched += rules
                    .evaluate_parsed(r, doc.as_ref(), &mut stats)
                    .rules
                    .len();
            }
            matched
        })
    });
    group.bench_function(
        "CIS pack evaluate (29 patterns, one parse per record)",
        |b| {
            b.iter(|| {
                let mut stats = RuleStats::new(&rules);
                let mut matched = 0usize;
                for r in &records {
                    matched += rules.evaluate(r, &mut stats).rules.len();
                }
                matched
            })
        },
    );
    let mut settings = Settings::default();
    let source = Memory(gz.clone());
    let object = ObjectRef::new(Store::S3("b".into()), KEY);
    let forward = |settings: &Settings| {
        let report = Pipeline {
            source: &source,
            logs: &Discard,
            archive: &Discard,
            receipts: &Discard,
            clock: &Now,
            settings,
            deadline: None,
        }
        .forward(&object);
        assert!(matches!(report.outcome, Outcome::Forwarded { .. }));
        report.counts.records
    };
    let plain = Settings::default();
    group.bench_function("forward (gzip in, batches + gzip archive out)", |b| {
        b.iter(|| forward(&plain))
    });
    settings.rules = rules.clone();
    group.bench_function("forward with the CIS pack", |b| {
        b.iter(|| forward(&settings))
    });
    group.finish();
}

criterion_group!(decode_benches, benches);
criterion_main!(decode_benches);
