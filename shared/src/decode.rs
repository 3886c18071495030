//! Streaming decoder: a CloudTrail object's bytes in, its records out, one at a time.
//!
//! A delivered log file is one gzip member holding one JSON document, `{"Records":[...]}`
//! (CloudTrail user guide, "CloudTrail log file examples",
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html>).
//! [`open`] sniffs the gzip magic bytes (so a plain `.json` object works too, and several gzip
//! members are read as one stream), then [`RecordReader`] walks the document with a small
//! resumable scanner over a bounded buffer and lends out each record as its exact original
//! bytes. Nothing is re-serialised: the only change ever made to a record is dropping the
//! whitespace between tokens of a pretty-printed document, so every record that goes out is
//! compact JSON.
//!
//! Memory stays bounded by the largest single record (plus one read chunk), whatever the size of
//! the object. Two limits guard it: [`Limits::max_object_bytes`] on decompressed bytes (gzip
//! bombs) and [`Limits::max_record_bytes`] on a single record.
//!
//! The scanner checks the document's structure (where records start and end); each record's own
//! JSON is validated when it is parsed downstream (`normalize`).

use std::fmt;
use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Size of each read from the decompressed stream, and the buffer's starting size.
const CHUNK_BYTES: usize = 256 * 1024;

/// Limits on what one object may decode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most decompressed bytes an object may hold; more fails with
    /// [`DecodeError::ObjectTooLarge`].
    pub max_object_bytes: u64,
    /// The most bytes a single record may take in the document; more fails with
    /// [`DecodeError::RecordTooLarge`]. Bounds the decoder's memory.
    pub max_record_bytes: usize,
}

impl Limits {
    /// Default decompressed-size cap: 4 GiB.
    pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 4 << 30;
    /// Default record-size cap: 2 MiB, room for the largest event a trail delivers (256 KB since
    /// eventVersion 1.05, 1 MB for event data stores configured for large events) pretty-printed.
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 2 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_object_bytes: Self::DEFAULT_MAX_OBJECT_BYTES,
            max_record_bytes: Self::DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Why an object could not be decoded. Every variant but [`DecodeError::Read`] is a property of
/// the object's bytes: reading it again gives the same error.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Reading the object's bytes failed (network, file system): worth retrying.
    #[error("reading the object failed: {0}")]
    Read(#[source] io::Error),
    /// The bytes start like gzip but are not a valid, complete gzip stream.
    #[error("corrupt or truncated gzip: {0}")]
    Gzip(#[source] io::Error),
    /// The decompressed stream is larger than [`Limits::max_object_bytes`].
    #[error("decompressed size exceeds the limit of {limit} bytes")]
    ObjectTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// One record is larger than [`Limits::max_record_bytes`].
    #[error("record {index} exceeds the limit of {limit} bytes")]
    RecordTooLarge {
        /// Zero-based position of the record in `Records`.
        index: u64,
        /// The limit in force.
        limit: usize,
    },
    /// The bytes are not JSON.
    #[error("not JSON: {what} at byte {offset}")]
    Syntax {
        /// Offset in the decompressed stream.
        offset: u64,
        /// What was wrong there.
        what: &'static str,
    },
    /// The bytes are JSON but not a `{"Records":[...]}` document.
    #[error("not a CloudTrail log document: {what}")]
    NoRecords {
        /// What was found instead.
        what: &'static str,
    },
}

impl DecodeError {
    /// A short, stable name for the cause, used in summaries and metrics.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Read(_) => "read",
            Self::Gzip(_) => "gzip",
            Self::ObjectTooLarge { .. } => "object-too-large",
            Self::RecordTooLarge { .. } => "record-too-large",
            Self::Syntax { .. } => "not-json",
            Self::NoRecords { .. } => "no-records",
        }
    }
}

/// One record of the document, lent by [`RecordReader::next_record`].
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Zero-based position in `Records`.
    pub index: u64,
    /// The record's JSON, compact: the original bytes, or, for a pretty-printed document, the
    /// original bytes without the whitespace between tokens.
    pub json: &'a [u8],
}

/// Marks errors that came from the underlying reader, so that they stay distinguishable from
/// gzip format errors after passing through the decompressor.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SourceReadError(io::Error);

/// The object's own reader, counting its bytes and marking its errors.
#[derive(Debug)]
struct MarkedSource<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for MarkedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceReadError(e)))?;
        self.bytes += n as u64;
        Ok(n)
    }
}

type Head<R> = io::Chain<io::Take<Cursor<[u8; 2]>>, MarkedSource<R>>;

/// The decompressed byte stream of an object: gunzipped if it starts with the gzip magic
/// bytes, as it is otherwise. It hashes what it yields (SHA-256, as CloudTrail's digests hash
/// log files), so a file read to its end has its hash at no second pass.
pub struct Decompressed<R> {
    stream: Stream<R>,
    sha256: Sha256,
}

impl<R> fmt::Debug for Decompressed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressed").finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Stream<R> {
    /// A gzip stream of one or more members.
    Gzip(Box<MultiGzDecoder<Head<R>>>),
    /// Plain bytes.
    Plain(Head<R>),
}

impl<R> Decompressed<R> {
    /// Bytes read from the object so far (compressed, if it is gzip).
    pub fn source_bytes(&self) -> u64 {
        let chain = match &self.stream {
            Stream::Gzip(r) => r.get_ref(),
            Stream::Plain(r) => r,
        };
        chain.get_ref().1.bytes
    }

    /// The SHA-256 of the decompressed bytes read so far: of the whole file once it is read to
    /// its end.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256.clone().finalize().into()
    }
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.stream {
            Stream::Gzip(r) => r.read(buf)?,
            Stream::Plain(r) => r.read(buf)?,
        };
        self.sha256.update(&buf[..n]);
        Ok(n)
    }
}

/// Starts decoding an object from `src` (gzip or plain JSON).
pub fn open<R: Read>(src: R, limits: Limits) -> Result<RecordReader<Decompressed<R>>, DecodeError> {
    let (stream, is_gzip) = decompress(src).map_err(DecodeError::Read)?;
    Ok(RecordReader::new(stream, limits, is_gzip))
}

/// The decompressed stream of `src` (gunzipped when it starts with the gzip magic bytes) and
/// whether it was gzip. Errors of `src` stay distinguishable from gzip format errors.
pub fn decompress<R: Read>(src: R) -> io::Result<(Decompressed<R>, bool)> {
    let mut src = MarkedSource {
        inner: src,
        bytes: 0,
    };
    let mut head = [0u8; 2];
    let mut filled = 0;
    while filled < head.len() {
        match src.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let is_gzip = head[..filled] == [0x1f, 0x8b];
    let chained = Cursor::new(head).take(filled as u64).chain(src);
    let stream = if is_gzip {
        Stream::Gzip(Box::new(MultiGzDecoder::new(chained)))
    } else {
        Stream::Plain(chained)
    };
    let sha256 = Sha256::new();
    Ok((Decompressed { stream, sha256 }, is_gzip))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the document's opening brace.
    Start,
    /// Inside the top-level object, before a member (`first`: no member read yet).
    Members {
        first: bool,
    },
    /// Inside `Records`, before an element.
    Records {
        first: bool,
    },
    /// After the top-level object: only whitespace may follow.
    End,
    Done,
}

/// Byte classes outside strings.
const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const SPACE: u8 = 4;

const CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'"' as usize] = QUOTE;
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    // JSON's insignificant whitespace (RFC 8259, section 2).
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t
};

/// Pulls the records of one `{"Records":[...]}` document out of a byte stream.
#[derive(Debug)]
pub struct RecordReader<R> {
    src: R,
    is_gzip: bool,
    limits: Limits,
    /// Holds `buf[pos..end]`, the bytes read but not yet consumed.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    state: State,
    seen_records: bool,
    index: u64,
    /// Scratch space for records that need their whitespace removed.
    compact: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    fn new(src: R, limits: Limits, is_gzip: bool) -> Self {
        Self::with_chunk(src, limits, is_gzip, CHUNK_BYTES)
    }

    fn with_chunk(src: R, limits: Limits, is_gzip: bool, chunk: usize) -> Self {
        Self {
            src,
            is_gzip,
            limits,
            buf: vec![0; chunk],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            state: State::Start,
            seen_records: false,
            index: 0,
            compact: Vec::new(),
        }
    }

    /// The decompressed stream.
    pub fn stream(&self) -> &R {
        &self.src
    }

    /// Decompressed bytes consumed so far.
    pub fn bytes_decoded(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Whether the object was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.is_gzip
    }

    /// The next record, `None` once the document has ended (and nothing but whitespace follows
    /// it), or the error that stops this object.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>, DecodeError> {
        match self.advance() {
            Ok(Some((index, start, end, spaced))) => {
                let json = if spaced {
                    compact_into(&mut self.compact, &self.buf[start..end]);
                    &self.compact[..]
                } else {
                    &self.buf[start..end]
                };
                Ok(Some(RawRecord { index, json }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.root_cause(e)),
        }
    }

    /// Corrupt deflate data often inflates to garbage before the gzip trailer's CRC exposes it.
    /// When a gzip object's document looks broken, read the rest of the stream: if the gzip
    /// itself is broken, that is the error to report.
    fn root_cause(&mut self, e: DecodeError) -> DecodeError {
        let structural = matches!(
            e,
            DecodeError::Syntax { .. } | DecodeError::NoRecords { .. }
        );
        if !(self.is_gzip && structural) {
            return e;
        }
        let left = self
            .limits
            .max_object_bytes
            .saturating_sub(self.base + self.end as u64);
        match io::copy(&mut (&mut self.src).take(left), &mut io::sink()) {
            Err(read) => self.read_error(read),
            Ok(_) => e,
        }
    }

    /// Moves to the next record; returns its index and range in `buf`, and whether it needs
    /// compacting.
    fn advance(&mut self) -> Result<Option<(u64, usize, usize, bool)>, DecodeError> {
        loop {
            match self.state {
                State::Start => {
                    match self.peek_token()? {
                        None => return Err(self.syntax("empty document")),
                        Some(b'{') => self.pos += 1,
                        // A byte order mark first, which RFC 8259 (section 8.1) lets parsers
                        // ignore.
                        Some(0xEF) if self.bytes_decoded() == 0 && self.at_bom()? => {
                            self.pos += UTF8_BOM.len();
                            continue;
                        }
                        Some(b'[' | b'"' | b'-' | b'0'..=b'9') => {
                            return Err(DecodeError::NoRecords {
                                what: "the top-level value is not an object",
                            });
                        }
                        Some(_) => return Err(self.syntax("expected '{'")),
                    }
                    self.state = State::Members { first: true };
                }
                State::Members { first } => self.member(first)?,
                State::Records { first } => {
                    let Some(c) = self.peek_token()? else {
                        return Err(self.syntax("unexpected end of input"));
                    };
                    if c == b']' {
                        self.pos += 1;
                        self.state = State::Members { first: false };
                        continue;
                    }
                    if !first {
                        self.expect(b',', "expected ',' or ']' after a record")?;
                        if self.peek_token()? == Some(b']') {
                            return Err(self.syntax("trailing comma in Records"));
                        }
                    }
                    // An element that is not an object is lent all the same, for the caller to
                    // set aside: it costs no other record.
                    let (start, end, spaced) = match self.peek_token()? {
                        Some(b'{' | b'[') => self.scan_container()?,
                        Some(b'"') => self.scan_string().map(|(s, e)| (s, e, false))?,
                        Some(b',' | b'}' | b']') => return Err(self.syntax("expected a record")),
                        Some(_) => self.scan_scalar().map(|(s, e)| (s, e, false))?,
                        None => return Err(self.syntax("unexpected end of input")),
                    };
                    self.state = State::Records { first: false };
                    let index = self.index;
                    self.index += 1;
                    return Ok(Some((index, start, end, spaced)));
                }
                State::End => {
                    if self.peek_token()?.is_some() {
                        return Err(self.syntax("data after the end of the document"));
                    }
                    self.state = State::Done;
                }
                State::Done => return Ok(None),
            }
        }
    }

    /// Reads one member of the top-level object, or its closing brace.
    fn member(&mut self, first: bool) -> Result<(), DecodeError> {
        match self.peek_token()? {
            None => return Err(self.syntax("unexpected end of input")),
            Some(b'}') => {
                self.pos += 1;
                if !self.seen_records {
                    return Err(DecodeError::NoRecords {
                        what: "the top-level object has no \"Records\" member",
                    });
                }
                self.state = State::End;
                return Ok(());
            }
            Some(_) if !first => self.expect(b',', "expected ',' or '}' after a member")?,
            Some(_) => {}
        }
        if self.peek_token()? != Some(b'"') {
            return Err(self.syntax("expected a member name"));
        }
        let (start, end) = self.scan_string()?;
        let is_records = &self.buf[start + 1..end - 1] == b"Records";
        self.skip_whitespace()?;
        self.expect(b':', "expected ':' after a member name")?;
        self.skip_whitespace()?;
        if is_records {
            if self.seen_records {
                return Err(DecodeError::NoRecords {
                    what: "the document has two \"Records\" members",
                });
            }
            if self.peek_token()? != Some(b'[') {
                return Err(DecodeError::NoRecords {
                    what: "\"Records\" is not an array",
                });
            }
            self.pos += 1;
            self.seen_records = true;
            self.state = State::Records { first: true };
        } else {
            self.skip_value()?;
            self.state = State::Members { first: false };
        }
        Ok(())
    }

    fn syntax(&self, what: &'static str) -> DecodeError {
        DecodeError::Syntax {
            offset: self.bytes_decoded(),
            what,
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), DecodeError> {
        if self.peek_token()? == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(what))
        }
    }

    /// Skips whitespace and returns the next byte without consuming it; `None` at end of input.
    fn peek_token(&mut self) -> Result<Option<u8>, DecodeError> {
        self.skip_whitespace()?;
        Ok((self.pos < self.end).then(|| self.buf[self.pos]))
    }

    fn skip_whitespace(&mut self) -> Result<(), DecodeError> {
        loop {
            while self.pos < self.end && CLASS[self.buf[self.pos] as usize] == SPACE {
                self.pos += 1;
            }
            if self.pos < self.end || !self.fill(self.pos)? {
                return Ok(());
            }
        }
    }

    /// Skips a value of a member other than `Records`.
    fn skip_value(&mut self) -> Result<(), DecodeError> {
        match self.peek_token()? {
            Some(b'{' | b'[') => self.scan_container().map(|_| ()),
            Some(b'"') => self.scan_string().map(|_| ()),
            Some(_) => {
                // A number, true, false or null: runs to the next delimiter.
                loop {
                    while self.pos < self.end
                        && !matches!(self.buf[self.pos], b',' | b'}' | b']')
                        && CLASS[self.buf[self.pos] as usize] != SPACE
                    {
                        self.pos += 1;
                    }
                    if self.pos < self.end || !self.fill(self.pos)? {
                        return Ok(());
                    }
                }
            }
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    /// Whether the input at `pos` starts with a UTF-8 byte order mark.
    fn at_bom(&mut self) -> Result<bool, DecodeError> {
        while self.end - self.pos < UTF8_BOM.len() {
            let before = self.base;
            if !self.fill(self.pos)? {
                break;
            }
            debug_assert!(self.base >= before);
        }
        Ok(self.buf[self.pos..self.end].starts_with(UTF8_BOM))
    }

    /// Scans the number or literal (or stray bytes) starting at `pos`, up to the next
    /// delimiter or white space; returns its range.
    fn scan_scalar(&mut self) -> Result<(usize, usize), DecodeError> {
        let mut start = self.pos;
        let mut i = start;
        loop {
            while i < self.end
                && !matches!(self.buf[i], b',' | b'}' | b']')
                && CLASS[self.buf[i] as usize] != SPACE
            {
                i += 1;
            }
            if i < self.end {
                break;
            }
            let before = self.base;
            if !self.fill(start)? {
                break;
            }
            let shift = (self.base - before) as usize;
            start -= shift;
            i -= shift;
        }
        self.pos = i;
        Ok((start, i))
    }

    /// Scans the string starting at `pos`; returns its range, quotes included.
    fn scan_string(&mut self) -> Result<(usize, usize), DecodeError> {
        let mut start = self.pos;
        let mut i = start + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.buf[i..self.end]) {
                Some(k) if self.buf[i + k] == b'"' => {
                    self.pos = i + k + 1;
                    return Ok((start, self.pos));
                }
                // A backslash escapes the byte after it, which may not be read yet.
                Some(k) if i + k + 1 < self.end => i += k + 2,
                Some(k) => i += k,
                None => i = self.end,
            }
            let shift = self.fill_within(start, i)?;
            start -= shift;
            i -= shift;
        }
    }

    /// Scans the object or array starting at `pos`. Returns its range and whether it holds
    /// whitespace outside strings.
    fn scan_container(&mut self) -> Result<(usize, usize, bool), DecodeError> {
        let mut start = self.pos;
        let mut i = start;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut spaced = false;
        loop {
            let end = self.end;
            while i < end {
                if in_string {
                    match memchr::memchr2(b'"', b'\\', &self.buf[i..end]) {
                        Some(k) if self.buf[i + k] == b'"' => {
                            in_string = false;
                            i += k + 1;
                        }
                        Some(k) if i + k + 1 < end => i += k + 2,
                        // A trailing backslash: read more before deciding what it escapes.
                        Some(k) => {
                            i += k;
                            break;
                        }
                        None => i = end,
                    }
                    continue;
                }
                match CLASS[self.buf[i] as usize] {
                    QUOTE => in_string = true,
                    OPEN => depth += 1,
                    CLOSE => {
                        depth -= 1;
                        if depth == 0 {
                            self.pos = i + 1;
                            if self.pos - start > self.limits.max_record_bytes {
                                return Err(self.record_too_large());
                            }
                            return Ok((start, self.pos, spaced));
                        }
                    }
                    SPACE => spaced = true,
                    _ => {}
                }
                i += 1;
            }
            if i - start > self.limits.max_record_bytes {
                return Err(self.record_too_large());
            }
            let shift = self.fill_within(start, i)?;
            start -= shift;
            i -= shift;
        }
    }

    fn record_too_large(&self) -> DecodeError {
        DecodeError::RecordTooLarge {
            index: self.index,
            limit: self.limits.max_record_bytes,
        }
    }

    /// Like [`Self::fill`], for a scan that has reached `scanned` without finding the value's end:
    /// running out of input there is a syntax error.
    fn fill_within(&mut self, keep_from: usize, scanned: usize) -> Result<usize, DecodeError> {
        let before = self.end;
        let shift_base = self.base;
        if !self.fill(keep_from)? {
            return Err(DecodeError::Syntax {
                offset: shift_base + scanned as u64,
                what: "unexpected end of input",
            });
        }
        debug_assert!(self.end > before - (self.base - shift_base) as usize);
        Ok((self.base - shift_base) as usize)
    }

    /// Reads more input, keeping `buf[keep_from..end]`. The kept bytes move to the front of the
    /// buffer (`base` grows by the distance moved, which callers subtract from their indices); the
    /// buffer grows only when a single value fills it. Returns false at end of input.
    fn fill(&mut self, keep_from: usize) -> Result<bool, DecodeError> {
        if self.eof {
            return Ok(false);
        }
        if keep_from > 0 {
            self.buf.copy_within(keep_from..self.end, 0);
            self.end -= keep_from;
            self.pos -= keep_from.min(self.pos);
            self.base += keep_from as u64;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.limits.max_record_bytes + CHUNK_BYTES);
            if grown <= self.buf.len() {
                return Err(self.record_too_large());
            }
            self.buf.resize(grown, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    if self.base + self.end as u64 > self.limits.max_object_bytes {
                        return Err(DecodeError::ObjectTooLarge {
                            limit: self.limits.max_object_bytes,
                        });
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }

    fn read_error(&self, e: io::Error) -> DecodeError {
        let from_source = e
            .get_ref()
            .is_some_and(|inner| inner.is::<SourceReadError>());
        if from_source || !self.is_gzip {
            DecodeError::Read(e)
        } else {
            DecodeError::Gzip(e)
        }
    }
}

/// Copies `json` into `out` without the whitespace between tokens.
fn compact_into(out: &mut Vec<u8>, json: &[u8]) {
    out.clear();
    out.reserve(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if CLASS[b as usize] == SPACE {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
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
        let doc =
            r#"{"v":1,"x":{"Records":[{"no":1}]},"s":"Records","Records":[{"yes":1}],"t":true}"#;
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
            "../testdata/cloudtrail/trailscraper-fixture/111111111111_CloudTrail_eu-central-1_20171211T1505Z_A6kvhMoVeCsc7v8U.json.gz"
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
}
