//! Which source and sinks a `forward` run uses: local files, AWS, or a mix. Wiring only: each
//! variant is one of the library's adapters.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::Stop;
use aws_credential_types::provider::ProvideCredentials as _;
use aws_credential_types::provider::error::CredentialsError;
use tokio::runtime::{Handle, Runtime};
use trailrelay::aws::logs::CloudWatchLogSink;
use trailrelay::aws::s3::{S3Archive, S3Lister, S3Reader, S3Source, S3Upload};
use trailrelay::aws::{RateLimits, load_sdk_config};
use trailrelay::batch::LogBatch;
use trailrelay::local::{LocalArchive, LocalLogSink, LocalSource, LocalUpload};
use trailrelay::ports::{
    ArchiveSink, ArchiveUpload, ErrorClass, Lister, LogSink, ObjectRef, ObjectSource, Opened,
    PortError, PutReport, Store,
};

/// The AWS clients, made once and only when a run needs them.
pub(crate) struct Aws {
    runtime: Runtime,
    /// The SDK configuration, for clients made per region.
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    /// The region the SDK resolved (`us-east-1` when none is configured).
    pub(crate) region: String,
}

impl Aws {
    /// Loads credentials and region the SDK's usual way (environment, profile, ...).
    /// A run without a region or credentials stops here, named as configuration, before any
    /// object is tried.
    pub(crate) fn connect(force_path_style: bool) -> Result<Self, Stop> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("starting the AWS client runtime: {e}"))?;
        let sdk = runtime.block_on(load_sdk_config());
        if sdk.region().is_none() {
            return Err(Stop::Config(
                "no AWS region: set AWS_REGION, or a region in the profile AWS_PROFILE names"
                    .into(),
            ));
        }
        let credentials = match sdk.credentials_provider() {
            Some(provider) => runtime.block_on(provider.provide_credentials()).err(),
            None => Some(CredentialsError::not_loaded_no_source()),
        };
        if credentials.is_some() {
            return Err(Stop::Config(
                "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them".into(),
            ));
        }
        let s3 = trailrelay::aws::s3_client(&sdk, force_path_style);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        Ok(Self {
            runtime,
            sdk,
            s3,
            logs,
            sqs,
            region,
        })
    }

    /// Runs `future` to its end on the client runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub(crate) fn handle(&self) -> Handle {
        self.runtime.handle().clone()
    }

    /// Every object under `s3://bucket/prefix`, in key order, with the ETag listed; a failure
    /// classified as every AWS failure is.
    pub(crate) fn list(
        &self,
        bucket: &str,
        prefix: &str,
        expected_owner: Option<&str>,
    ) -> Result<Vec<(ObjectRef, Option<String>)>, PortError> {
        let lister = S3Lister::new(self.s3.clone(), expected_owner.map(str::to_owned));
        let listing = self.runtime.block_on(lister.list(bucket, prefix, false))?;
        Ok(listing
            .objects
            .into_iter()
            .map(|o| {
                let object = ObjectRef {
                    size: Some(o.size),
                    ..ObjectRef::new(Store::S3(bucket.to_owned()), o.key)
                };
                (object, o.etag)
            })
            .collect())
    }
}

pub(crate) use trailrelay::key::s3_url;

/// The trail an input names: its store, the bucket (or the folder standing for it) and the key
/// prefix within it; an input that is neither a folder nor an s3:// URL is refused by name.
pub(crate) fn trail_of(input: &str) -> Result<(Store, String, String), String> {
    match s3_url(input) {
        Some((bucket, prefix)) => Ok((Store::S3(bucket.clone()), bucket, prefix)),
        None if std::path::Path::new(input).is_dir() => {
            let (root, prefix) = trailrelay::local::trail_root(std::path::Path::new(input));
            let bucket = root.to_string_lossy().into_owned();
            Ok((Store::Local(root), bucket, prefix))
        }
        None => Err(format!(
            "{input}: not a folder laid out like a trail bucket, nor an s3:// URL"
        )),
    }
}

/// Local files and S3 objects alike.
pub(crate) struct AnySource {
    pub(crate) s3: Option<S3Source>,
}

pub(crate) enum AnyReader {
    Local(File),
    S3(Box<S3Reader>),
}

impl Read for AnyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Local(f) => f.read(buf),
            Self::S3(r) => r.read(buf),
        }
    }
}

impl ObjectSource for AnySource {
    type Reader = AnyReader;

    fn open(&self, object: &ObjectRef) -> Result<Opened<AnyReader>, PortError> {
        match (&object.store, &self.s3) {
            (Store::Local(_), _) => LocalSource.open(object).map(|o| o.map(AnyReader::Local)),
            (Store::S3(_), Some(s3)) => s3
                .open(object)
                .map(|o| o.map(|r| AnyReader::S3(Box::new(r)))),
            (Store::S3(_), None) => Err(PortError::new(
                ErrorClass::Poison,
                "unsupported-store",
                "no S3 client",
            )),
        }
    }

    fn is_absent(&self, object: &ObjectRef) -> Result<bool, PortError> {
        match (&object.store, &self.s3) {
            (Store::S3(_), Some(s3)) => s3.is_absent(object),
            _ => Ok(false),
        }
    }
}

/// Local files or CloudWatch Logs.
pub(crate) enum AnyLogSink {
    Local(LocalLogSink),
    CloudWatch(CloudWatchLogSink),
}

impl LogSink for AnyLogSink {
    fn put(&self, batch: &LogBatch) -> Result<PutReport, PortError> {
        match self {
            Self::Local(s) => s.put(batch),
            Self::CloudWatch(s) => s.put(batch),
        }
    }
}

impl AnyLogSink {
    pub(crate) fn cloudwatch(aws: &Aws) -> Self {
        let limits = Arc::new(RateLimits::new(
            std::num::NonZeroU32::new(50).unwrap_or(std::num::NonZeroU32::MIN),
            std::num::NonZeroU32::new(20_000).unwrap_or(std::num::NonZeroU32::MIN),
        ));
        Self::CloudWatch(CloudWatchLogSink::new(
            aws.logs.clone(),
            aws.handle(),
            limits,
        ))
    }
}

/// A local folder or an S3 bucket.
#[derive(Debug)]
pub(crate) enum AnyArchive {
    Local(LocalArchive),
    S3(S3Archive),
}

pub(crate) enum AnyUpload {
    Local(LocalUpload),
    S3(Box<S3Upload>),
}

impl ArchiveSink for AnyArchive {
    type Upload = AnyUpload;

    fn begin(&self, key: &str) -> Result<AnyUpload, PortError> {
        match self {
            Self::Local(a) => a.begin(key).map(AnyUpload::Local),
            Self::S3(a) => a.begin(key).map(|u| AnyUpload::S3(Box::new(u))),
        }
    }

    fn create(&self, key: &str, bytes: &[u8]) -> Result<bool, PortError> {
        match self {
            Self::Local(a) => a.create(key, bytes),
            Self::S3(a) => a.create(key, bytes),
        }
    }
}

impl Write for AnyUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Local(u) => u.write(buf),
            Self::S3(u) => u.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Local(u) => u.flush(),
            Self::S3(u) => u.flush(),
        }
    }
}

impl ArchiveUpload for AnyUpload {
    fn commit(self) -> Result<(), PortError> {
        match self {
            Self::Local(u) => u.commit(),
            Self::S3(u) => u.commit(),
        }
    }
}
