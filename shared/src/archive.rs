//! The archive's object keys: Hive-style partitions, one archive object per source object.
//!
//! `PREFIX/org={org}/account={account}/region={region}/date={yyyy-mm-dd}/{stem}.ndjson.gz`,
//! where the partition values and the stem (the source file name without `.json.gz`) come from
//! the source object's key. The key is a function of the source key alone, so a redelivered
//! object overwrites its own archive object. A value the key does not give is written as
//! `__HIVE_DEFAULT_PARTITION__`, Hive's (and Athena's) name for the null partition. Objects
//! outside the trail layout keep their file name's stem plus a hash of their whole key, since
//! two such files may share a name.

use crate::key::{ObjectKind, TrailKey};

/// The partition value Hive and Athena read as null.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The archive key for the object at `source_key` (decoded), under `prefix`.
pub fn archive_key(prefix: &str, trail_key: &TrailKey, source_key: &str) -> String {
    let part = |v: &Option<String>| v.clone().unwrap_or_else(|| NULL_PARTITION.to_owned());
    let date = trail_key
        .date
        .map_or_else(|| NULL_PARTITION.to_owned(), |d| d.to_string());
    let stem = match trail_key.kind {
        ObjectKind::Other => format!("{}-{:016x}", trail_key.stem(), fnv1a(source_key.as_bytes())),
        _ => trail_key.stem().to_owned(),
    };
    let prefix = prefix.trim_matches('/');
    let sep = if prefix.is_empty() { "" } else { "/" };
    format!(
        "{prefix}{sep}org={}/account={}/region={}/date={date}/{stem}.ndjson.gz",
        part(&trail_key.org_id),
        part(&trail_key.account_id),
        part(&trail_key.region),
    )
}

/// FNV-1a, 64 bits: a stable, dependency-free hash for disambiguating names (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_objects_map_to_their_partitions() {
        let key = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/\
                   111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz";
        assert_eq!(
            archive_key("/cloudtrail/", &TrailKey::parse(key), key),
            "cloudtrail/org=o-exampleorg1/account=111122223333/region=us-east-1/date=2026-11-01/\
             111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.ndjson.gz"
        );
    }

    #[test]
    fn single_account_trail_has_a_null_org_partition_and_no_prefix() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/\
                   111122223333_CloudTrail_us-east-1_20261101T0005Z_x.json";
        assert_eq!(
            archive_key("", &TrailKey::parse(key), key),
            "org=__HIVE_DEFAULT_PARTITION__/account=111122223333/region=us-east-1/date=2026-11-01/\
             111122223333_CloudTrail_us-east-1_20261101T0005Z_x.ndjson.gz"
        );
    }

    #[test]
    fn other_objects_with_the_same_name_do_not_collide() {
        let a = archive_key("", &TrailKey::parse("a/x.json.gz"), "a/x.json.gz");
        let b = archive_key("", &TrailKey::parse("b/x.json.gz"), "b/x.json.gz");
        assert_ne!(a, b);
        assert!(
            a.starts_with("org=__HIVE_DEFAULT_PARTITION__/account=__HIVE_DEFAULT_PARTITION__/")
        );
        assert!(a.contains("/x-") && a.ends_with(".ndjson.gz"), "{a}");
        assert_eq!(
            a,
            archive_key("", &TrailKey::parse("a/x.json.gz"), "a/x.json.gz")
        );
    }
}
