use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;

use super::*;

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn collect(bytes: &[u8], limits: Limits) -> Result<Vec<String>, DecodeError> {
    let mut reader = open(bytes, limits)?;
    let mut out = Vec::new();
    while let Some(r) = reader.next_record()? {
        assert_eq!(r.index, out.len() as u64);
        out.push(String::from_utf8(r.json.to_vec()).unwrap());
    }
    Ok(out)
}

fn records(bytes: &[u8]) -> Vec<String> {
    collect(bytes, Limits::default()).unwrap()
}

fn error(bytes: &[u8]) -> DecodeError {
    collect(bytes, Limits::default()).unwrap_err()
}

const DOC: &str = r#"{"Records":[{"a":1,"s":"x}\"{]"},{"b":[{"c":null}]}]}"#;

/// Every record of `bytes` read `chunk` bytes at a time.
fn records_in_chunks(bytes: &[u8], chunk: usize) -> Vec<String> {
    let mut reader = RecordReader::with_chunk(bytes, Limits::default(), false, chunk);
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        out.push(String::from_utf8(r.json.to_vec()).unwrap());
    }
    out
}

#[test]
fn elements_that_are_not_objects_are_lent_for_the_caller_to_set_aside() {
    let doc = br#"{"Records":[{"a":1}, 42 ,"x\"y",[1, {"b":2}],tru,-1e999,{"c":3}]}"#;
    for chunk in 1..9 {
        assert_eq!(
            records_in_chunks(doc, chunk),
            [
                r#"{"a":1}"#,
                "42",
                r#""x\"y""#,
                r#"[1,{"b":2}]"#,
                "tru",
                "-1e999",
                r#"{"c":3}"#
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn a_leading_byte_order_mark_is_ignored() {
    let doc = b"\xEF\xBB\xBF{\"Records\":[{\"a\":1}]}";
    for chunk in 1..5 {
        assert_eq!(
            records_in_chunks(doc, chunk),
            [r#"{"a":1}"#],
            "chunk {chunk}"
        );
    }
    assert_eq!(error(b"\xEF\xBB{}").cause(), "not-json");
    assert_eq!(error(b"\xEF\xBB\xBF\xEF\xBB\xBF{}").cause(), "not-json");
}

#[test]
fn compact_document_yields_exact_record_bytes() {
    assert_eq!(
        records(DOC.as_bytes()),
        [r#"{"a":1,"s":"x}\"{]"}"#, r#"{"b":[{"c":null}]}"#]
    );
}

#[test]
fn gzip_and_plain_decode_alike() {
    assert_eq!(records(&gzip(DOC.as_bytes())), records(DOC.as_bytes()));
}

#[test]
fn multi_member_gzip_is_one_stream() {
    let (a, b) = DOC.split_at(20);
    let mut two = gzip(a.as_bytes());
    two.extend(gzip(b.as_bytes()));
    assert_eq!(records(&two), records(DOC.as_bytes()));
}

#[test]
fn pretty_printed_records_come_out_compact_with_strings_untouched() {
    let doc = "{\n  \"Records\" : [\n    {\n      \"a\" : \"two  spaces\\n\",\n      \"b\" : [ 1, 2 ]\n    }\n  ]\n}\n";
    assert_eq!(
        records(doc.as_bytes()),
        [r#"{"a":"two  spaces\n","b":[1,2]}"#]
    );
}

#[test]
fn other_top_level_members_are_skipped() {
    let doc = r#"{"v":1,"x":{"Records":[{"no":1}]},"s":"Records","Records":[{"yes":1}],"t":true}"#;
    assert_eq!(records(doc.as_bytes()), [r#"{"yes":1}"#]);
}

#[test]
fn empty_records_array_is_fine() {
    assert!(records(br#"{"Records":[]}"#).is_empty());
    assert!(records(b" { \"Records\" : [ ] } \n").is_empty());
}

#[test]
fn real_trailscraper_file_is_pretty_printed_gzip() {
    let bytes = include_bytes!(
        "../../testdata/cloudtrail/trailscraper-fixture/111111111111_CloudTrail_eu-central-1_20171211T1505Z_A6kvhMoVeCsc7v8U.json.gz"
    );
    let recs = records(bytes);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        let v: serde_json::Value = serde_json::from_str(r).unwrap();
        assert_eq!(v["recipientAccountId"], "111111111111");
        assert!(!r.contains('\n'));
    }
}

#[test]
fn errors_are_classified() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "not-json"),
        (b"hello", "not-json"),
        (b"[1,2]", "no-records"),
        (b"{}", "no-records"),
        (br#"{"Records":{}}"#, "no-records"),
        (br#"{"Records":[],"Records":[]}"#, "no-records"),
        (br#"{"Records":[{"a":1}"#, "not-json"),
        (br#"{"Records":[{"a":"unterminated"#, "not-json"),
        (br#"{"Records":[{"a":1},]}"#, "not-json"),
        (br#"{"Records":[{"a":1}{"b":2}]}"#, "not-json"),
        (br#"{"Records":[]} trailing"#, "not-json"),
        (br#"{"Records":[,{"a":1}]}"#, "not-json"),
        (br#"{"Records":[{"a":1},,{"b":2}]}"#, "not-json"),
        (br#"{"Records":[{"a":1},}"#, "not-json"),
        (br#"{"Records" [] }"#, "not-json"),
        (br#"{Records:[]}"#, "not-json"),
    ];
    for (bytes, cause) in cases {
        let e = error(bytes);
        assert_eq!(
            e.cause(),
            *cause,
            "{:?}: {e}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn truncated_and_corrupt_gzip() {
    let gz = gzip(DOC.as_bytes());
    for cut in [1, 8, 10, 20] {
        let e = error(&gz[..gz.len() - cut]);
        assert_eq!(e.cause(), "gzip", "cut {cut}: {e}");
    }
    let mut bad = gz.clone();
    bad[12] ^= 0xff;
    bad[15] ^= 0xff;
    assert_eq!(error(&bad).cause(), "gzip");
    // Magic bytes then nothing valid.
    assert_eq!(error(&[0x1f, 0x8b, 0, 0]).cause(), "gzip");
}

#[test]
fn gzip_bomb_is_stopped_at_the_cap() {
    let mut doc = br#"{"Records":[{"pad":""#.to_vec();
    doc.resize(doc.len() + 5_000_000, b'a');
    doc.extend_from_slice(br#""}]}"#);
    let limits = Limits {
        max_object_bytes: 1_000_000,
        max_record_bytes: 10_000_000,
    };
    let e = collect(&gzip(&doc), limits).unwrap_err();
    assert!(
        matches!(e, DecodeError::ObjectTooLarge { limit: 1_000_000 }),
        "{e}"
    );
}

#[test]
fn oversized_record_is_refused_without_growing_past_the_cap() {
    let big = format!(
        r#"{{"Records":[{{"a":1}},{{"pad":"{}"}}]}}"#,
        "x".repeat(3000)
    );
    let limits = Limits {
        max_object_bytes: u64::MAX,
        max_record_bytes: 1000,
    };
    let mut reader = RecordReader::with_chunk(big.as_bytes(), limits, false, 64);
    assert!(reader.next_record().unwrap().is_some());
    let e = reader.next_record().unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::RecordTooLarge {
                index: 1,
                limit: 1000
            }
        ),
        "{e}"
    );
    assert!(reader.buf.len() <= 1000 + CHUNK_BYTES);
}

#[test]
fn read_errors_from_the_source_are_not_gzip_errors() {
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = buf.len().min(self.0.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let gz = gzip(DOC.as_bytes());
    let mut reader = open(Failing(&gz[..gz.len() / 2]), Limits::default()).unwrap();
    let e = loop {
        match reader.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("a failing source cannot end cleanly"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.cause(), "read", "{e}");
}

/// A reader that hands out its bytes in the given chunk sizes.
struct Chunked {
    data: Vec<u8>,
    sizes: Vec<usize>,
    at: usize,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = want.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn json_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"([a-z{}\[\]," ]|\\"|\\\\|\\n){0,12}"#).unwrap()
}

proptest! {
    /// However the bytes arrive and however small the buffer, the same records come out.
    #[test]
    fn chunking_never_changes_the_records(
        values in proptest::collection::vec(json_string(), 0..8),
        pretty in any::<bool>(),
        sizes in proptest::collection::vec(1usize..40, 1..6),
        chunk in 1usize..48,
    ) {
        let recs: Vec<serde_json::Value> = values
            .iter()
            .map(|s| serde_json::json!({"s": serde_json::from_str::<serde_json::Value>(&format!("\"{s}\"")).unwrap_or_default(), "n": [1, {"k": s}]}))
            .collect();
        let doc = serde_json::json!({"Records": recs});
        let text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }.unwrap();
        let src = Chunked { data: text.into_bytes(), sizes, at: 0, turn: 0 };
        let limits = Limits { max_object_bytes: u64::MAX, max_record_bytes: 1 << 20 };
        let mut reader = RecordReader::with_chunk(src, limits, false, chunk);
        let mut got = Vec::new();
        while let Some(r) = reader.next_record().unwrap() {
            got.push(r.json.to_vec());
        }
        let want: Vec<Vec<u8>> = recs.iter().map(|r| serde_json::to_vec(r).unwrap()).collect();
        prop_assert_eq!(got, want);
    }

    /// Arbitrary bytes never panic: they decode or fail with an error.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), chunk in 1usize..16) {
        let mut reader = RecordReader::with_chunk(&bytes[..], Limits::default(), false, chunk);
        for _ in 0..300 {
            match reader.next_record() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
}
