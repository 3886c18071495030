//! What a run of the lake's writer comes to: its errors, its reports, the steps it can be
//! stopped after.

use crate::read::FileFailure;

/// Why the lake could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The catalog or the table's storage failed.
    #[error("{context}: {source}")]
    Iceberg {
        /// What was being done.
        context: String,
        /// The failure (boxed: it is large, and rare).
        #[source]
        source: Box<iceberg::Error>,
    },
    /// Rows could not be built (a bug, never the input's fault).
    #[error("building rows: {0}")]
    Rows(#[from] arrow_schema::ArrowError),
    /// A record of the lake's own (manifest, pending record) is not what this writer wrote.
    #[error("{path}: {message}")]
    Unreadable {
        /// Its location.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A pending attempt whose commit cannot be decided: no snapshot names it, and snapshots
    /// made since it started have been expired, so one of them may have been its own.
    #[error(
        "attempt {attempt} (window {window}) is pending, and the table's snapshots since it started are no longer all there: whether it committed cannot be told. Compare its manifest ({pending}) with the table before removing the pending record"
    )]
    Undecidable {
        /// The attempt.
        attempt: String,
        /// Its window.
        window: String,
        /// The pending record's location.
        pending: String,
    },
    /// Stopped on purpose after a step (a test of what a crash there leaves).
    #[error("stopped after {0:?}, as asked")]
    Interrupted(Step),
}

impl LakeError {
    pub(crate) fn iceberg(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> Self {
        let context = context.into();
        move |source| Self::Iceberg {
            context,
            source: Box::new(source),
        }
    }
}

/// A point between the steps of a commit, where a run may be stopped to see what a crash there
/// leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first log file's rows are handed to the data file writer; no file is closed.
    Writing,
    /// The data files and the pending record are written; the commit is not made.
    DataFiles,
    /// The commit is made; its manifest is not published.
    Commit,
}

impl Step {
    /// `writing`, `data-files` or `commit`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "writing" => Some(Self::Writing),
            "data-files" => Some(Self::DataFiles),
            "commit" => Some(Self::Commit),
            _ => None,
        }
    }
}

/// What a pending attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// It had committed: its manifest is now published.
    Published {
        /// The window.
        window: String,
        /// The commit's number in the window.
        commit: u32,
    },
    /// It had not committed: its data files are removed.
    Abandoned {
        /// The attempt.
        attempt: String,
        /// The folder of its data files, removed.
        folder: String,
    },
}

/// What one window's run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowReport {
    /// The commit's number in the window; `None` when nothing new was committed.
    pub commit: Option<u32>,
    /// Files committed by earlier runs (skipped).
    pub already: usize,
    /// Files this run committed.
    pub files: usize,
    /// Their records.
    pub records: u64,
    /// Rows added.
    pub rows: u64,
    /// Records that are not JSON objects (counted, not rows).
    pub unreadable: u64,
    /// Decompressed bytes read.
    pub bytes_read: u64,
    /// Data files written.
    pub data_files: usize,
    /// Their bytes.
    pub data_bytes: u64,
    /// Files that could not be read: left for a later run.
    pub failed: Vec<FileFailure>,
}
