//! The archive line: the derived fields, then the record's own bytes.

use std::borrow::Cow;

use serde::Serialize;

use super::{Addendum, Normalized, Origin, Principal, Via};

/// The archive's derived fields, in the order of the archive line.
#[derive(Serialize)]
struct ArchiveFields<'e, 'a> {
    time: Option<String>,
    org_id: Option<&'e str>,
    account_id: Option<&'e str>,
    region: Option<&'e str>,
    category: Option<&'e str>,
    read_only: Option<bool>,
    service: Option<&'e str>,
    action: Option<&'e str>,
    error_code: Option<&'e str>,
    principal: Option<&'e Principal<'a>>,
    source_ip: Option<&'e str>,
    user_agent: Option<&'e str>,
    via: Option<Via>,
    resources: &'e [Cow<'a, str>],
    event_id: Option<&'e str>,
    addendum: Option<&'e Addendum<'a>>,
    rules: &'e [&'e str],
    source: Source<'e>,
}

/// Where a record came from: `{"bucket","key","index"}` in archive and quarantine lines.
#[derive(Serialize)]
pub(crate) struct Source<'e> {
    pub(crate) bucket: &'e str,
    pub(crate) key: &'e str,
    pub(crate) index: u64,
}

/// Appends one archive line (JSON, then `\n`) for a record: the derived fields, the names of
/// the rules it matched, where it came from, and the record's own bytes under `"record"`.
pub fn write_archive_line(
    out: &mut Vec<u8>,
    record: &Normalized<'_>,
    index: u64,
    origin: &Origin<'_>,
    rules: &[&str],
) {
    let e = &record.event;
    let fields = ArchiveFields {
        time: e.time.map(|t| t.to_string()),
        org_id: origin.trail_key.org_id.as_deref(),
        account_id: e.account_id.as_deref(),
        region: e.region.as_deref(),
        category: e.category.as_deref(),
        read_only: e.read_only,
        service: e.service.as_deref(),
        action: e.action.as_deref(),
        error_code: e.error_code.as_deref(),
        principal: e.principal.as_ref(),
        source_ip: e.source_ip.as_deref(),
        user_agent: e.user_agent.as_deref(),
        via: e.via,
        resources: &e.resources,
        event_id: e.event_id.as_deref(),
        addendum: e.addendum.as_ref(),
        rules,
        source: Source {
            bucket: origin.bucket,
            key: origin.key,
            index,
        },
    };
    let start = out.len();
    // Serialising plain strings, numbers and options into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &fields).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{");
    } else {
        // Reopen the object to add the record's bytes as they are.
        out.pop();
        out.push(b',');
    }
    out.extend_from_slice(b"\"record\":");
    out.extend_from_slice(record.json.as_bytes());
    out.extend_from_slice(b"}\n");
}
