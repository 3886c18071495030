//! S3: trail objects streamed from GetObject, listed with ListObjectsV2, archive objects
//! written by (multipart) upload.

use std::io::{self, Write};
use std::pin::Pin;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use tokio::io::AsyncBufRead;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use super::classify;
use crate::ports::{
    ArchiveSink, ArchiveUpload, ErrorClass, ListedObject, Lister, Listing, OBJECT_CHANGED,
    ObjectRef, ObjectSource, Opened, PortError, Store, Version,
};

/// Size of each part of a multipart upload. Parts are at least 5 MiB but the last, and an
/// upload has at most 10,000 parts
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>), so 8 MiB parts carry
/// archive objects of up to 80 GB while keeping one part in memory at a time.
pub const PART_BYTES: usize = 8 << 20;
/// Most parts in one multipart upload.
pub const MAX_PARTS: i32 = 10_000;

/// The user metadata CloudTrail signs a digest file with (`x-amz-meta-signature`, hex)
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html>).
pub const SIGNATURE_METADATA: &str = "signature";

/// Lists keys with ListObjectsV2, every page, sending ExpectedBucketOwner when given.
#[derive(Debug, Clone)]
pub struct S3Lister {
    client: Client,
    expected_bucket_owner: Option<String>,
}

impl S3Lister {
    /// A lister using `client`.
    pub fn new(client: Client, expected_bucket_owner: Option<String>) -> Self {
        Self {
            client,
            expected_bucket_owner,
        }
    }
}

impl Lister for S3Lister {
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimited: bool,
    ) -> Result<Listing, PortError> {
        let mut listing = Listing::default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimited.then(|| "/".to_owned()))
            .set_expected_bucket_owner(self.expected_bucket_owner.clone())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            listing
                .objects
                .extend(page.contents().iter().filter_map(|o| {
                    Some(ListedObject {
                        key: o.key()?.to_owned(),
                        size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        etag: o.e_tag().map(str::to_owned),
                    })
                }));
            listing.prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
        }
        Ok(listing)
    }
}

/// Reads trail objects from S3 as streams.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
    handle: Handle,
    expected_bucket_owner: Option<String>,
}

impl S3Source {
    /// A source using `client`, bridging calls through `handle`; `expected_bucket_owner` is
    /// sent with every GetObject.
    pub fn new(client: Client, handle: Handle, expected_bucket_owner: Option<String>) -> Self {
        Self {
            client,
            handle,
            expected_bucket_owner,
        }
    }
}

/// The body of a GetObject, read synchronously.
pub type S3Reader = SyncIoBridge<Pin<Box<dyn AsyncBufRead + Send>>>;

impl ObjectSource for S3Source {
    type Reader = S3Reader;

    /// Lists the exact key: S3 answers GetObject of a missing key with 403 to a reader without
    /// `s3:ListBucket` on it, so only a listing tells missing from forbidden.
    fn is_absent(&self, object: &ObjectRef) -> Result<bool, PortError> {
        let Store::S3(bucket) = &object.store else {
            return Ok(false);
        };
        let listed = self.handle.block_on(
            self.client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&object.key)
                .max_keys(1)
                .set_expected_bucket_owner(self.expected_bucket_owner.clone())
                .send(),
        );
        let listed = listed.map_err(classify)?;
        Ok(!listed
            .contents()
            .iter()
            .any(|o| o.key() == Some(object.key.as_str())))
    }

    fn open(&self, object: &ObjectRef) -> Result<Opened<S3Reader>, PortError> {
        let Store::S3(bucket) = &object.store else {
            return Err(PortError::new(
                ErrorClass::Poison,
                "unsupported-store",
                format!("{object} is not in S3"),
            ));
        };
        let expected = object.version.as_ref();
        // If-Match makes S3 refuse (412) an object whose ETag changed since an earlier attempt.
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(&object.key)
            .set_if_match(expected.and_then(|v| v.etag.clone()))
            .set_expected_bucket_owner(self.expected_bucket_owner.clone());
        let output = self.handle.block_on(request.send()).map_err(classify)?;
        let version = Version {
            etag: output.e_tag().map(str::to_owned),
            version_id: output.version_id().map(str::to_owned),
        };
        if let Some(expected) = expected {
            check_version(object, expected, &version)?;
        }
        let signature = output
            .metadata()
            .and_then(|m| m.get(SIGNATURE_METADATA))
            .cloned();
        let body: Pin<Box<dyn AsyncBufRead + Send>> = Box::pin(output.body.into_async_read());
        Ok(Opened {
            reader: SyncIoBridge::new_with_handle(body, self.handle.clone()),
            version,
            signature,
        })
    }
}

/// Refuses `found` unless it is the `expected` version: each identifier `expected` has must
/// match.
fn check_version(object: &ObjectRef, expected: &Version, found: &Version) -> Result<(), PortError> {
    let differs = |want: &Option<String>, got: &Option<String>| want.is_some() && want != got;
    if differs(&expected.etag, &found.etag) || differs(&expected.version_id, &found.version_id) {
        return Err(PortError::new(
            ErrorClass::Poison,
            OBJECT_CHANGED,
            format!(
                "{object} changed since it was first read: expected {expected:?}, found {found:?}"
            ),
        ));
    }
    Ok(())
}

/// Writes archive objects to one bucket.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: Client,
    handle: Handle,
    bucket: String,
    kms_key_id: Option<String>,
    expected_bucket_owner: Option<String>,
}

impl S3Archive {
    /// Archive objects go to `bucket`, encrypted with `kms_key_id` (SSE-KMS) if given.
    pub fn new(client: Client, handle: Handle, bucket: String, kms_key_id: Option<String>) -> Self {
        Self {
            client,
            handle,
            bucket,
            kms_key_id,
            expected_bucket_owner: None,
        }
    }

    /// Sends `owner` as ExpectedBucketOwner on every call: writes fail unless the archive
    /// bucket belongs to that account.
    pub fn with_expected_owner(mut self, owner: Option<String>) -> Self {
        self.expected_bucket_owner = owner;
        self
    }
}

/// One archive object being written: parts are uploaded as they fill; small objects go up in
/// one PutObject at commit. Dropped without commit, a started multipart upload is aborted.
#[derive(Debug)]
pub struct S3Upload {
    archive: S3Archive,
    key: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    committed: bool,
}

impl ArchiveSink for S3Archive {
    type Upload = S3Upload;

    /// PutObject with `If-None-Match: *`: S3 answers 412 when the key exists
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>).
    fn create(&self, key: &str, bytes: &[u8]) -> Result<bool, PortError> {
        let (sse, kms) = encryption(self.kms_key_id.as_ref());
        let sent = self.handle.block_on(
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/json")
                .if_none_match("*")
                .set_server_side_encryption(sse)
                .set_ssekms_key_id(kms)
                .set_expected_bucket_owner(self.expected_bucket_owner.clone())
                .body(ByteStream::from(bytes.to_vec()))
                .send(),
        );
        match sent.map_err(classify) {
            Ok(_) => Ok(true),
            // The precondition failed: the key exists.
            Err(e) if e.cause == OBJECT_CHANGED => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn begin(&self, key: &str) -> Result<S3Upload, PortError> {
        Ok(S3Upload {
            archive: self.clone(),
            key: key.to_owned(),
            buffer: Vec::with_capacity(PART_BYTES),
            upload_id: None,
            parts: Vec::new(),
            committed: false,
        })
    }
}

/// The encryption headers of an archive write: SSE-KMS with `kms_key_id`, if given.
fn encryption(kms_key_id: Option<&String>) -> (Option<ServerSideEncryption>, Option<String>) {
    match kms_key_id {
        Some(key) => (Some(ServerSideEncryption::AwsKms), Some(key.clone())),
        None => (None, None),
    }
}

impl S3Upload {
    fn encryption(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        encryption(self.archive.kms_key_id.as_ref())
    }

    /// Uploads the buffer as the next part, starting the multipart upload if needed.
    fn upload_part(&mut self) -> Result<(), PortError> {
        let a = &self.archive;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let (sse, kms) = self.encryption();
                let created = a
                    .handle
                    .block_on(
                        a.client
                            .create_multipart_upload()
                            .bucket(&a.bucket)
                            .key(&self.key)
                            .content_type("application/x-ndjson")
                            .set_server_side_encryption(sse)
                            .set_ssekms_key_id(kms)
                            .set_expected_bucket_owner(a.expected_bucket_owner.clone())
                            .send(),
                    )
                    .map_err(classify)?;
                let id = created.upload_id().unwrap_or_default().to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        if number > MAX_PARTS {
            return Err(PortError::new(
                ErrorClass::Poison,
                "archive-too-large",
                "an archive object would need more than 10,000 parts",
            ));
        }
        let body = ByteStream::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(PART_BYTES),
        ));
        let uploaded = a
            .handle
            .block_on(
                a.client
                    .upload_part()
                    .bucket(&a.bucket)
                    .key(&self.key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(body)
                    .set_expected_bucket_owner(a.expected_bucket_owner.clone())
                    .send(),
            )
            .map_err(classify)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }
}

fn io_error(e: PortError) -> io::Error {
    io::Error::other(e)
}

impl Write for S3Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= PART_BYTES {
            self.upload_part().map_err(io_error)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ArchiveUpload for S3Upload {
    fn commit(mut self) -> Result<(), PortError> {
        let a = self.archive.clone();
        if self.upload_id.is_none() {
            let (sse, kms) = self.encryption();
            let body = ByteStream::from(std::mem::take(&mut self.buffer));
            a.handle
                .block_on(
                    a.client
                        .put_object()
                        .bucket(&a.bucket)
                        .key(&self.key)
                        .content_type("application/x-ndjson")
                        .set_server_side_encryption(sse)
                        .set_ssekms_key_id(kms)
                        .set_expected_bucket_owner(a.expected_bucket_owner.clone())
                        .body(body)
                        .send(),
                )
                .map_err(classify)?;
        } else {
            if !self.buffer.is_empty() {
                self.upload_part()?;
            }
            let upload = CompletedMultipartUpload::builder()
                .set_parts(Some(std::mem::take(&mut self.parts)))
                .build();
            a.handle
                .block_on(
                    a.client
                        .complete_multipart_upload()
                        .bucket(&a.bucket)
                        .key(&self.key)
                        .upload_id(self.upload_id.clone().unwrap_or_default())
                        .multipart_upload(upload)
                        .set_expected_bucket_owner(a.expected_bucket_owner.clone())
                        .send(),
                )
                .map_err(classify)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(id) = &self.upload_id {
            let a = &self.archive;
            // Best effort: a lifecycle rule for incomplete uploads is the backstop.
            let _ = a.handle.block_on(
                a.client
                    .abort_multipart_upload()
                    .bucket(&a.bucket)
                    .key(&self.key)
                    .upload_id(id)
                    .set_expected_bucket_owner(a.expected_bucket_owner.clone())
                    .send(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_must_find_every_identifier_it_expects() {
        let object = ObjectRef::new(Store::S3("b".into()), "k");
        let v = |etag: Option<&str>, id: Option<&str>| Version {
            etag: etag.map(str::to_owned),
            version_id: id.map(str::to_owned),
        };
        let found = v(Some("\"e1\""), Some("v1"));
        assert!(check_version(&object, &v(Some("\"e1\""), None), &found).is_ok());
        assert!(check_version(&object, &v(Some("\"e1\""), Some("v1")), &found).is_ok());
        assert!(check_version(&object, &Version::default(), &found).is_ok());
        for expected in [
            v(Some("\"e2\""), None),
            v(None, Some("v2")),
            v(Some("\"e1\""), Some("v2")),
        ] {
            let e = check_version(&object, &expected, &found).unwrap_err();
            assert_eq!((e.class, e.cause), (ErrorClass::Poison, OBJECT_CHANGED));
        }
        // An identifier the read did not return cannot match.
        let e = check_version(&object, &v(None, Some("v1")), &v(Some("\"e1\""), None)).unwrap_err();
        assert_eq!(e.cause, OBJECT_CHANGED);
    }
}
