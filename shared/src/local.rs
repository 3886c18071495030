//! The ports on the local file system: a folder stands for the trail bucket, files stand for
//! CloudWatch Logs and for the archive bucket.
//!
//! - [`list_objects`] lists the objects of input files and folders, in a stable order;
//! - [`LocalSource`] opens them;
//! - [`LocalLogSink`] (module `log_sink`) appends each batch to
//!   `ROOT/<log group without leading '/'>/<stream>.ndjson`, one
//!   `{"timestamp":<ms>,"message":"<record>"}` line per event, in batch order;
//! - [`LocalArchive`] writes `ROOT/<archive key>`, through a temporary file renamed into place on
//!   commit, so a failed object never leaves a partial archive object behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ports::{
    self, ArchiveSink, ArchiveUpload, ErrorClass, ListedObject, Lister, ObjectRef, ObjectSource,
    Opened, PortError, Store, Version,
};

mod log_sink;

pub use log_sink::LocalLogSink;
#[cfg(test)]
use log_sink::push_json_string;

/// An input path that cannot be listed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ListError {
    /// The path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// What [`list_objects`] found: the objects, and the entries below the inputs that cannot be
/// objects (a name that is not UTF-8, a folder that cannot be read), each named lossily.
#[derive(Debug, Default)]
pub struct Listing {
    /// The objects, in order.
    pub objects: Vec<ObjectRef>,
    /// Entries that are not objects, for the caller to report as failed inputs.
    pub unreadable: Vec<ListError>,
}

impl Listing {
    /// The cause every unreadable entry is counted under.
    pub const UNREADABLE_CAUSE: &'static str = "unreadable-input";
}

/// Where a local folder sits in the trail layout: the folder that stands for the bucket, and the
/// key prefix (`/`-terminated, or empty) of `path` in it.
///
/// A folder inside the layout (`bucket/AWSLogs`, `bucket/AWSLogs/o-org/ACCOUNT`, a region's
/// folder, ...) is understood where it sits: its bucket is the folder that holds `AWSLogs`, so
/// its files get the keys they have in the bucket. A folder is inside the layout when its path
/// (as given, or else resolved) has an `AWSLogs` folder followed by nothing, an organization id
/// or an account id. Any other folder stands for the bucket itself.
pub fn trail_root(path: &Path) -> (PathBuf, String) {
    let inside = |p: &Path| -> Option<(PathBuf, String)> {
        let parts: Vec<&std::ffi::OsStr> = p.components().map(|c| c.as_os_str()).collect();
        let at = parts.iter().rposition(|c| *c == "AWSLogs")?;
        let rest: Vec<&str> = parts[at..]
            .iter()
            .map(|c| c.to_str())
            .collect::<Option<_>>()?;
        let owner_like = |s: &&str| crate::key::is_org_id(s) || crate::key::is_account_id(s);
        if !rest.get(1).is_none_or(owner_like) {
            return None;
        }
        let root: PathBuf = parts[..at].iter().collect();
        let root = match root.as_os_str().is_empty() {
            true => PathBuf::from("."),
            false => root,
        };
        Some((root, format!("{}/", rest.join("/"))))
    };
    inside(path)
        .or_else(|| fs::canonicalize(path).ok().and_then(|p| inside(&p)))
        .unwrap_or_else(|| (path.to_path_buf(), String::new()))
}

/// The objects under `inputs`: a file is one object; a folder is every file below it, its key
/// the path relative to the folder that stands for its bucket ([`trail_root`]). Sorted by key
/// within each folder. An input that does not exist fails the listing; an entry below a folder
/// that cannot be an object is set aside in [`Listing::unreadable`], and the rest is listed.
pub fn list_objects(inputs: &[PathBuf]) -> Result<Listing, ListError> {
    let mut out = Listing::default();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|source| ListError {
            path: input.clone(),
            source,
        })?;
        if meta.is_file() {
            match input.to_str() {
                Some(key) => out.objects.push(ObjectRef {
                    size: Some(meta.len()),
                    ..ObjectRef::new(Store::Local(PathBuf::new()), key)
                }),
                None => out.unreadable.push(not_utf8(input)),
            }
            continue;
        }
        let (root, prefix) = trail_root(input);
        for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    out.unreadable.push(ListError {
                        path: e.path().unwrap_or(input).to_path_buf(),
                        source: e.into(),
                    });
                    continue;
                }
            };
            if !entry.file_type().is_file() || is_signature_sidecar(entry.path()) {
                continue;
            }
            let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
            let Some(parts) = relative
                .components()
                .map(|c| c.as_os_str().to_str())
                .collect::<Option<Vec<_>>>()
            else {
                out.unreadable.push(not_utf8(entry.path()));
                continue;
            };
            out.objects.push(ObjectRef {
                size: entry.metadata().ok().map(|m| m.len()),
                ..ObjectRef::new(
                    Store::Local(root.clone()),
                    format!("{prefix}{}", parts.join("/")),
                )
            });
        }
    }
    Ok(out)
}

fn not_utf8(path: &Path) -> ListError {
    ListError {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "the name is not UTF-8"),
    }
}

fn io_error(e: io::Error) -> PortError {
    let (class, cause) = match e.kind() {
        io::ErrorKind::NotFound => (ErrorClass::Poison, crate::ports::NOT_FOUND),
        io::ErrorKind::PermissionDenied => (ErrorClass::Poison, "access-denied"),
        _ => (ErrorClass::Retry, "io"),
    };
    PortError::new(class, cause, e)
}

/// What follows a digest file's name in the name of the file holding its signature, the local
/// stand-in for S3's `x-amz-meta-signature`.
pub const SIGNATURE_SIDECAR_SUFFIX: &str = ".signature";

/// Whether `path` names a digest file.
fn is_digest(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("_CloudTrail-Digest_"))
}

/// Whether `path` is a digest's signature sidecar: its object's metadata, not an object.
fn is_signature_sidecar(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str()?.strip_suffix(SIGNATURE_SIDECAR_SUFFIX))
        .is_some_and(|digest| is_digest(Path::new(digest)))
}

/// The signature kept beside a local digest file, if it has one (other files have none).
fn signature_sidecar(path: &Path) -> Result<Option<String>, PortError> {
    if !is_digest(path) {
        return Ok(None);
    }
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(SIGNATURE_SIDECAR_SUFFIX);
    match std::fs::read_to_string(sidecar) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(e)),
    }
}

/// Lists a local folder laid out like a bucket, as ListObjectsV2 would: the `bucket` a
/// listing names is the folder.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalLister;

impl Lister for LocalLister {
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimited: bool,
    ) -> Result<ports::Listing, PortError> {
        let (folder, start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut listing = ports::Listing::default();
        let dir = Path::new(bucket).join(folder);
        let base = crate::key::folder(folder);
        list_into(&dir, &base, start, delimited, &mut listing)?;
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.prefixes.sort();
        Ok(listing)
    }
}

/// Adds what `dir` (whose keys start with `base`) holds under names starting with `start`.
fn list_into(
    dir: &Path,
    base: &str,
    start: &str,
    delimited: bool,
    listing: &mut ports::Listing,
) -> Result<(), PortError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !name.starts_with(start) {
            continue;
        }
        if is_signature_sidecar(Path::new(&name)) {
            continue;
        }
        let key = format!("{base}{name}");
        let meta = entry.metadata().map_err(io_error)?;
        if meta.is_dir() && delimited {
            listing.prefixes.push(format!("{key}/"));
        } else if meta.is_dir() {
            list_into(&entry.path(), &format!("{key}/"), "", false, listing)?;
        } else {
            listing.objects.push(ListedObject {
                key,
                size: meta.len(),
                etag: None,
            });
        }
    }
    Ok(())
}

/// Opens local objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSource;

impl ObjectSource for LocalSource {
    type Reader = File;

    fn open(&self, object: &ObjectRef) -> Result<Opened<File>, PortError> {
        let path = match &object.store {
            Store::Local(root) if root.as_os_str().is_empty() => PathBuf::from(&object.key),
            Store::Local(root) => root.join(contained(&object.key)?),
            Store::S3(bucket) => {
                return Err(PortError::new(
                    ErrorClass::Poison,
                    "unsupported-store",
                    format!("s3://{bucket}/{} is not a local file", object.key),
                ));
            }
        };
        let reader = File::open(&path).map_err(io_error)?;
        Ok(Opened {
            reader,
            version: Version::default(),
            signature: signature_sidecar(&path)?,
        })
    }
}

/// A key as a path that stays inside the folder standing for its bucket: keys read from
/// hostile places (a digest's `logFiles`) may be absolute or climb out with `..`; S3 has no
/// such keys, so neither does a local copy of a bucket.
fn contained(key: &str) -> Result<&Path, PortError> {
    let path = Path::new(key);
    match path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        true if !key.is_empty() => Ok(path),
        _ => Err(PortError::new(
            ErrorClass::Poison,
            BAD_KEY,
            format!("{key:?} is not a key inside the bucket's folder"),
        )),
    }
}

/// The cause of a key that cannot name an object of a local bucket.
pub const BAD_KEY: &str = "bad-key";

/// Writes archive objects as files.
#[derive(Debug)]
pub struct LocalArchive {
    root: PathBuf,
    uploads: AtomicU64,
}

impl LocalArchive {
    /// Archive objects go under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            uploads: AtomicU64::new(0),
        }
    }
}

/// An archive file being written; renamed into place on commit, removed if dropped.
#[derive(Debug)]
pub struct LocalUpload {
    file: Option<BufWriter<File>>,
    partial: PathBuf,
    target: PathBuf,
}

impl ArchiveSink for LocalArchive {
    type Upload = LocalUpload;

    fn begin(&self, key: &str) -> Result<LocalUpload, PortError> {
        // A key names a file under the root, never one outside it.
        let target = self.root.join(contained(key)?);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let n = self.uploads.fetch_add(1, Ordering::Relaxed);
        let mut partial = target.clone().into_os_string();
        partial.push(format!(".partial-{}-{n}", std::process::id()));
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(io_error)?;
        Ok(LocalUpload {
            file: Some(BufWriter::with_capacity(256 * 1024, file)),
            partial,
            target,
        })
    }

    /// Written aside, then linked into place: a link never replaces a file, and no reader
    /// sees part of one.
    fn create(&self, key: &str, bytes: &[u8]) -> Result<bool, PortError> {
        let mut upload = self.begin(key)?;
        upload.write_all(bytes).map_err(io_error)?;
        let file = upload.file.take().map(BufWriter::into_inner);
        let linked = match file {
            Some(Ok(file)) => file
                .sync_data()
                .and_then(|()| fs::hard_link(&upload.partial, &upload.target)),
            Some(Err(e)) => Err(e.into_error()),
            None => Err(io::Error::other("upload already committed")),
        };
        let _ = fs::remove_file(&upload.partial);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }
}

impl Write for LocalUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("upload already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl ArchiveUpload for LocalUpload {
    fn commit(mut self) -> Result<(), PortError> {
        if let Some(file) = self.file.take() {
            file.into_inner()
                .map_err(|e| io_error(e.into_error()))?
                .sync_data()
                .map_err(io_error)?;
        }
        fs::rename(&self.partial, &self.target).map_err(io_error)
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Abandoned: the partial file must not linger. Nothing useful to do if this fails.
            let _ = fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::{LogBatch, LogEvent};
    use crate::ports::LogSink;

    proptest! {
        /// Messages are written exactly as serde_json writes strings: records, records with
        /// whitespace between tokens, and any text.
        #[test]
        fn messages_are_escaped_as_serde_json_escapes_them(
            text in r#"(\{"a":"b\\"c\\\\","d":\[1\]\}|[ -~]|\p{Any}|[\n\t\r\u{0}\u{1f}\u{7f}\u{e9}\u{2028}\u{1f600}]){0,40}"#,
            before in "[a-z]{0,3}",
        ) {
            let mut ours = before.clone().into_bytes();
            push_json_string(&mut ours, &text).unwrap();
            let mut theirs = before.into_bytes();
            serde_json::to_writer(&mut theirs, &text).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }

    #[test]
    fn lists_folders_recursively_in_key_order_and_files_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bucket");
        fs::create_dir_all(root.join("AWSLogs/b")).unwrap();
        fs::create_dir_all(root.join("AWSLogs/a")).unwrap();
        fs::write(root.join("AWSLogs/b/2.json.gz"), b"x").unwrap();
        fs::write(root.join("AWSLogs/a/1.json.gz"), b"xy").unwrap();
        let single = dir.path().join("one.json");
        fs::write(&single, b"{}").unwrap();
        let objects = list_objects(&[root.clone(), single.clone()])
            .unwrap()
            .objects;
        let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AWSLogs/a/1.json.gz",
                "AWSLogs/b/2.json.gz",
                single.to_str().unwrap()
            ]
        );
        assert_eq!(objects[0].store, Store::Local(root.clone()));
        assert_eq!(objects[0].size, Some(2));
        assert_eq!(objects[2].store, Store::Local(PathBuf::new()));
        assert_eq!(
            objects[0].to_string(),
            root.join("AWSLogs/a/1.json.gz").display().to_string()
        );
        let e = list_objects(&[dir.path().join("missing")]).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn missing_file_is_poison_not_found() {
        let obj = ObjectRef::new(Store::Local(PathBuf::from("/nonexistent-dir")), "x.json.gz");
        let e = LocalSource.open(&obj).unwrap_err();
        assert_eq!((e.class, e.cause), (ErrorClass::Poison, "not-found"));
    }

    #[test]
    fn log_sink_appends_json_lines_per_stream() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalLogSink::new(dir.path());
        let batch = |msgs: &[&str]| LogBatch {
            group: "/trailrelay/cloudtrail".into(),
            stream: "o-x_1_CloudTrail_us-east-1".into(),
            events: msgs
                .iter()
                .enumerate()
                .map(|(i, m)| LogEvent {
                    timestamp_ms: i as i64,
                    message: (*m).into(),
                })
                .collect(),
            source_account: None,
        };
        sink.put(&batch(&[r#"{"a":"q\"uote"}"#])).unwrap();
        sink.put(&batch(&["two", "three"])).unwrap();
        let path = dir
            .path()
            .join("trailrelay/cloudtrail/o-x_1_CloudTrail_us-east-1.ndjson");
        assert_eq!(
            sink.stream_path(&batch(&[]).group, &batch(&[]).stream),
            path
        );
        let text = fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "{\"timestamp\":0,\"message\":\"{\\\"a\\\":\\\"q\\\\\\\"uote\\\"}\"}\n\
             {\"timestamp\":0,\"message\":\"two\"}\n{\"timestamp\":1,\"message\":\"three\"}\n"
        );
    }

    #[test]
    fn stream_and_group_names_cannot_escape_the_folder() {
        let sink = LocalLogSink::new("/out");
        assert_eq!(
            sink.stream_path("../../etc", "a/b%"),
            PathBuf::from("/out/%2E%2E/%2E%2E/etc/a%2Fb%25.ndjson")
        );
        assert_eq!(
            sink.stream_path("/g", ".."),
            PathBuf::from("/out/g/%2E%2E.ndjson")
        );
    }

    #[test]
    fn archive_objects_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let archive = LocalArchive::new(dir.path());
        let target = dir.path().join("org=o/x.ndjson.gz");
        let mut upload = archive.begin("org=o/x.ndjson.gz").unwrap();
        upload.write_all(b"partial").unwrap();
        drop(upload);
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path().join("org=o")).unwrap().count(), 0);
        let mut upload = archive.begin("org=o/x.ndjson.gz").unwrap();
        upload.write_all(b"whole").unwrap();
        upload.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"whole");
        assert_eq!(fs::read_dir(dir.path().join("org=o")).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_inside_the_layout_is_understood_where_it_sits() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let file = "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/01/x.json.gz";
        fs::create_dir_all(bucket.join(file).parent().unwrap()).unwrap();
        fs::write(bucket.join(file), b"{}").unwrap();
        let keys = |input: &Path| -> Vec<(PathBuf, String)> {
            let listing = list_objects(&[input.to_path_buf()]).unwrap();
            listing
                .objects
                .into_iter()
                .map(|o| match o.store {
                    Store::Local(root) => (root, o.key),
                    Store::S3(_) => unreachable!(),
                })
                .collect()
        };
        let whole = vec![(bucket.clone(), file.to_owned())];
        for inside in [
            "",
            "AWSLogs",
            "AWSLogs/o-exampleorg1",
            "AWSLogs/o-exampleorg1/111122223333",
            "AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026",
        ] {
            assert_eq!(keys(&bucket.join(inside)), whole, "{inside}");
        }
        // Reached without `AWSLogs` in the path as given: resolved.
        let link = dir.path().join("account");
        std::os::unix::fs::symlink(bucket.join("AWSLogs/o-exampleorg1/111122223333"), &link)
            .unwrap();
        let (root, prefix) = trail_root(&link);
        assert_eq!(root, fs::canonicalize(&bucket).unwrap());
        assert_eq!(prefix, "AWSLogs/o-exampleorg1/111122223333/");
        // A folder named AWSLogs above the bucket is not the layout's.
        let above = dir.path().join("AWSLogs/copies/bucket");
        assert_eq!(trail_root(&above), (above.clone(), String::new()));
        assert_eq!(
            trail_root(Path::new("AWSLogs/111122223333")),
            (PathBuf::from("."), "AWSLogs/111122223333/".to_owned())
        );
    }

    #[test]
    fn keys_cannot_leave_the_bucket_folder() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("outside.json"), b"{}").unwrap();
        let bucket = dir.path().join("bucket");
        fs::create_dir_all(&bucket).unwrap();
        let outside = dir.path().join("outside.json");
        for key in [
            "../outside.json",
            outside.to_str().unwrap(),
            "a/../../outside.json",
            "",
        ] {
            let object = ObjectRef::new(Store::Local(bucket.clone()), key);
            let e = LocalSource
                .open(&object)
                .err()
                .unwrap_or_else(|| panic!("{key} opened"));
            assert_eq!(e.cause, BAD_KEY, "{key}");
        }
        // A file given by its own path is opened where it is.
        let own = ObjectRef::new(Store::Local(PathBuf::new()), outside.to_str().unwrap());
        assert!(LocalSource.open(&own).is_ok());
    }
}
