//! The decompressed byte stream of an object, gunzipped or not, hashed as it is read, its
//! source's errors kept apart from gzip's.

use std::fmt;
use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// Marks errors that came from the underlying reader, so that they stay distinguishable from
/// gzip format errors after passing through the decompressor.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct SourceReadError(io::Error);

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

/// The decompressed stream of `src` (gunzipped when it starts with the gzip magic bytes) and
/// whether it was gzip. Errors of `src` stay distinguishable from gzip format errors.
pub fn decompress<R: Read>(src: R) -> io::Result<(Decompressed<R>, bool)> {
    let mut src = MarkedSource {
        inner: src,
        bytes: 0,
    };
    let mut head = [0u8; 2];
    let filled = read_full(&mut src, &mut head)?;
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

/// What hashing a whole file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashed {
    /// The SHA-256 of its decompressed bytes.
    Sha256([u8; 32]),
    /// It decompresses past the bound: hashing stopped there.
    LargerThan(u64),
}

/// The SHA-256 of `src`'s decompressed bytes (gzip or plain), as digests and receipts hash a
/// log file, reading at most `max_bytes` of them (a gzip bomb put in a log file's place is
/// named, not read for ever). `keep_going` is asked between chunks: false stops the read, as
/// a failure of the source.
pub fn sha256_bounded<R: Read>(
    src: R,
    max_bytes: u64,
    keep_going: &mut dyn FnMut() -> bool,
) -> io::Result<Hashed> {
    let (mut stream, _) = decompress(src)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        if !keep_going() {
            return Err(io::Error::other(SourceReadError(io::Error::new(
                io::ErrorKind::TimedOut,
                "stopped before the end of the file",
            ))));
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(Hashed::Sha256(stream.sha256())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if total > max_bytes {
            return Ok(Hashed::LargerThan(max_bytes));
        }
    }
}

/// Whether `e`, from a [`Decompressed`] stream, is a failure to read its object (transient, as
/// a network failure) rather than bytes that are not gzip.
pub fn is_source_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<SourceReadError>())
}

/// Reads until `buf` is full or the stream ends; the bytes read.
pub(crate) fn read_full(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
