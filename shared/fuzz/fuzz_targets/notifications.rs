//! SQS bodies and continuations are untrusted input (anyone who may send to the queue writes
//! them): any text is a notification, an acknowledgement or a named error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailrelay::notification::{self, Notification};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match notification::parse(text) {
        Ok(Notification::Objects(objects)) | Ok(Notification::Continuation { objects, .. }) => {
            assert!(!objects.is_empty());
            let _ = notification::check_allowed(&objects, &["org-trail".to_owned()]);
        }
        Ok(Notification::Acknowledged(a)) => {
            let _ = a.as_str();
        }
        Err(e) => {
            let _ = (e.cause(), e.to_string());
        }
    }
});
