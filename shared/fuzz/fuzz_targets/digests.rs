//! Digest files are untrusted input (anyone who may write to the trail bucket plants them):
//! any bytes are a digest or a named error, and a digest read has a signing string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailrelay::integrity::digest::DigestFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = DigestFile::parse(data) {
        let _ = file.signing_string();
        let _ = file.is_starting();
    }
});
