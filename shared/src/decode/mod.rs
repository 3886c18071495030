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

use std::io::{self, Read};

mod stream;

pub(crate) use stream::read_full;
pub use stream::{Decompressed, Hashed, decompress, is_source_error, sha256_bounded};

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Size of each read from the decompressed stream, and the buffer's starting size.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

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

/// Starts decoding an object from `src` (gzip or plain JSON).
pub fn open<R: Read>(src: R, limits: Limits) -> Result<RecordReader<Decompressed<R>>, DecodeError> {
    let (stream, is_gzip) = decompress(src).map_err(DecodeError::Read)?;
    Ok(records(stream, limits, is_gzip))
}

/// Decodes the records of a stream [`decompress`] made (read as it is, or through another
/// thread); `is_gzip` says whether its object was gzip, to name its errors.
pub fn records<R: Read>(stream: R, limits: Limits, is_gzip: bool) -> RecordReader<R> {
    RecordReader::new(stream, limits, is_gzip)
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
        let from_source = is_source_error(&e);
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
mod tests;
