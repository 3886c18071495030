//! Writing windows into the table, each exactly once.
//!
//! A window's new files (those no manifest of the window names) are read in key order, so rows
//! come in account, region and delivery order, and written as Parquet data files partitioned by
//! day. Then, in this order:
//!
//! 1. `_lake/pending.json` names the attempt, the data files and the manifest to come;
//! 2. one Iceberg commit (`fast_append`) adds the data files, its snapshot summary naming the
//!    window, the commit's number, the attempt, the files, records and rows;
//! 3. the manifest is published at `_lake/windows/YYYY/MM/DD/HH/NNNN.json` and the pending
//!    record removed.
//!
//! A run that stops anywhere leaves the table as it was or with the whole commit: the next run
//! reads the pending record first ([`Lake::recover`]); if a snapshot names the attempt it
//! publishes the manifest, else it removes the attempt's data files. Data file names carry the
//! attempt's id, so no attempt ever writes to a path a snapshot references.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow_schema::SchemaRef;
use iceberg::arrow::RecordBatchPartitionSplitter;
use iceberg::io::FileIO;
use iceberg::spec::{DataFile, DataFileFormat, PartitionKey};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, LocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};
use tokio::runtime::Handle;
use trailrelay::lake::{LAKE_FOLDER, Manifest, Pending, Window, attempt_folder, summary};
use trailrelay::ports::{ObjectRef, ObjectSource};

use crate::read::{FileFailure, Reader};
use crate::rows::Rows;
use crate::table;

mod outcome;
mod records;

pub use outcome::{LakeError, Recovered, Step, WindowReport};

/// The pending attempt's record, in the lake's folder.
pub(crate) const PENDING: &str = "pending.json";

/// Rows are handed to the data file writer when a file ends, or when this many bytes of
/// records are waiting within one file.
pub const BATCH_RECORD_BYTES: usize = 64 * 1024 * 1024;

type Writer = FanoutWriter<
    DataFileWriterBuilder<ParquetWriterBuilder, AttemptLocations, DefaultFileNameGenerator>,
>;

/// Where an attempt's data files go: its own folder under the table's data folder, then the
/// partition's (`data/2026120613-ATTEMPT/time_day=2026-12-06/part-00000.parquet`). Iceberg reads
/// partitions from the metadata, not from paths; the attempt's folder lets an attempt that did
/// not commit be removed whole, whatever it had written.
#[derive(Debug, Clone)]
struct AttemptLocations {
    folder: String,
}

impl LocationGenerator for AttemptLocations {
    fn generate_location(&self, partition: Option<&PartitionKey>, file_name: &str) -> String {
        match partition.filter(|p| !PartitionKey::is_effectively_none(Some(p))) {
            Some(p) => format!("{}/{}/{file_name}", self.folder, p.to_path()),
            None => format!("{}/{file_name}", self.folder),
        }
    }
}

/// The table and the runtime its catalog and storage run on.
pub struct Lake {
    handle: Handle,
    catalog: Arc<dyn Catalog>,
    table: Table,
    arrow: SchemaRef,
    splitter: RecordBatchPartitionSplitter,
    interrupt: Option<Step>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("table", self.table.identifier())
            .field("location", &self.table.metadata().location())
            .finish_non_exhaustive()
    }
}

/// The table's identifier.
pub fn table_ident() -> TableIdent {
    TableIdent::new(
        NamespaceIdent::new(table::NAMESPACE.to_owned()),
        table::TABLE.to_owned(),
    )
}

impl Lake {
    /// Opens the table in `catalog`, creating its namespace and the table when missing.
    /// `handle` is a multi-threaded runtime's: the lake's methods block on it.
    pub fn open(handle: Handle, catalog: Arc<dyn Catalog>) -> Result<Self, LakeError> {
        let table = handle.block_on(open_table(&*catalog))?;
        let schema = table.metadata().current_schema().clone();
        let arrow =
            table::arrow_schema(&schema).map_err(LakeError::iceberg("the table's schema"))?;
        let spec = table.metadata().default_partition_spec().clone();
        let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(schema, spec)
            .map_err(LakeError::iceberg("the table's partitioning"))?;
        Ok(Self {
            handle,
            catalog,
            table,
            arrow,
            splitter,
            interrupt: None,
        })
    }

    /// Stops every commit after `step`, leaving what a crash there would leave.
    pub fn interrupt_after(&mut self, step: Option<Step>) {
        self.interrupt = step;
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Runs `work` on the lake's runtime.
    pub fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.handle.block_on(work)
    }

    pub(super) fn io(&self) -> &FileIO {
        self.table.file_io()
    }

    /// The location of `name` in the lake's own folder, `_lake/` under the table's location.
    pub fn lake_path(&self, name: &str) -> String {
        format!(
            "{}/{LAKE_FOLDER}/{name}",
            self.table.metadata().location().trim_end_matches('/')
        )
    }

    pub(super) fn reload(&mut self) -> Result<(), LakeError> {
        self.table = self
            .handle
            .block_on(self.catalog.load_table(&table_ident()))
            .map_err(LakeError::iceberg("loading the table"))?;
        Ok(())
    }

    /// Writes the files of `window` that no commit of it holds yet (all of `objects` are the
    /// window's, in any order) and commits them as one snapshot. A file that cannot be read is
    /// named in the report and left for a later run; the others are committed.
    pub fn write_window<S: ObjectSource>(
        &mut self,
        window: Window,
        objects: &[ObjectRef],
        reader: &Reader<'_, S>,
        on_file: &mut dyn FnMut(&ObjectRef, u64),
    ) -> Result<WindowReport, LakeError> {
        let manifests = self.manifests(window)?;
        if !manifests.is_empty() && self.table.metadata().current_snapshot().is_none() {
            // The records say the window was committed; the table has nothing: it was made
            // again (a catalog lost, a table dropped). Writing on would skip what it lacks.
            return Err(LakeError::Unreadable {
                path: self.lake_path(&window.manifest_name(1)),
                message: "commits of this window are recorded, but the table has no snapshot: \
                          was the table made again? Move the lake's _lake/ folder aside to build \
                          it anew"
                    .to_owned(),
            });
        }
        // By key: a trail's keys are unique, however its folder is spelled from one run to the
        // next.
        let done: BTreeSet<&str> = manifests
            .iter()
            .flat_map(|m| m.files.iter().map(|f| f.key.as_str()))
            .collect();
        let mut todo: Vec<&ObjectRef> = objects
            .iter()
            .filter(|o| !done.contains(o.key.as_str()))
            .collect();
        todo.sort_by(|a, b| a.key.cmp(&b.key));
        let mut report = WindowReport {
            already: objects.len() - todo.len(),
            ..WindowReport::default()
        };
        if todo.is_empty() {
            return Ok(report);
        }
        let commit = u32::try_from(manifests.len() + 1).unwrap_or(u32::MAX);
        loop {
            match self.attempt(window, commit, &todo, reader, on_file)? {
                Attempt::Done(done) => {
                    let failed = std::mem::take(&mut report.failed);
                    report = WindowReport {
                        already: report.already,
                        failed: failed.into_iter().chain(done.failed).collect(),
                        ..done
                    };
                    return Ok(report);
                }
                Attempt::Again(failure) => {
                    // A file failed after some of its rows were written: the attempt is
                    // abandoned and made again without it.
                    todo.retain(|o| o.key != failure.key);
                    report.failed.push(failure);
                    if todo.is_empty() {
                        return Ok(report);
                    }
                }
            }
        }
    }

    /// The folder every data file of `attempt` goes to.
    pub(super) fn attempt_data(&self, window: Window, attempt: &str) -> Result<String, LakeError> {
        let folder = attempt_folder(window, attempt).ok_or_else(|| LakeError::Unreadable {
            path: self.lake_path(PENDING),
            message: format!("{attempt:?} is not an attempt this writer makes"),
        })?;
        let location = self.table.metadata().location().trim_end_matches('/');
        Ok(format!("{location}/data/{folder}"))
    }

    fn new_writer(&self, folder: String) -> Result<Writer, LakeError> {
        let metadata = self.table.metadata();
        let parquet = ParquetWriterBuilder::new(
            table::writer_properties(),
            metadata.current_schema().clone(),
        );
        let locations = AttemptLocations { folder };
        let names = DefaultFileNameGenerator::new("part".to_owned(), None, DataFileFormat::Parquet);
        let rolling = RollingFileWriterBuilder::new(
            parquet,
            table::TARGET_FILE_BYTES,
            self.io().clone(),
            locations,
            names,
        );
        Ok(FanoutWriter::new(DataFileWriterBuilder::new(rolling)))
    }

    fn flush(&self, writer: &mut Writer, rows: &mut Rows) -> Result<(), LakeError> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = rows.finish()?;
        let parts = self
            .splitter
            .split(&batch)
            .map_err(LakeError::iceberg("partitioning rows"))?;
        self.handle.block_on(async {
            for (key, part) in parts {
                writer
                    .write(key, part)
                    .await
                    .map_err(LakeError::iceberg("writing a data file"))?;
            }
            Ok(())
        })
    }

    /// One attempt at the window's next commit.
    fn attempt<S: ObjectSource>(
        &mut self,
        window: Window,
        commit: u32,
        todo: &[&ObjectRef],
        reader: &Reader<'_, S>,
        on_file: &mut dyn FnMut(&ObjectRef, u64),
    ) -> Result<Attempt, LakeError> {
        let started_ms = now_ms();
        let attempt = attempt_id(started_ms);
        let pending_path = self.lake_path(PENDING);
        let mut pending = Pending {
            attempt: attempt.clone(),
            started_ms,
            window: window.to_string(),
            manifest: None,
        };
        let folder = self.attempt_data(window, &attempt)?;
        self.write_json(&pending_path, &pending)?;
        let mut writer = self.new_writer(folder)?;
        let mut rows = Rows::new(self.arrow.clone());
        let mut report = WindowReport::default();
        let mut entries = Vec::new();
        for object in todo {
            let mut flushed = false;
            let mut flush = |rows: &mut Rows| -> Result<(), LakeError> {
                flushed = true;
                self.flush(&mut writer, rows)
            };
            match reader.read(object, &mut rows, BATCH_RECORD_BYTES, &mut flush) {
                Ok(read) => {
                    self.flush(&mut writer, &mut rows)?;
                    if self.interrupt == Some(Step::Writing) {
                        // As a crash would: the writer is dropped unclosed.
                        return Err(LakeError::Interrupted(Step::Writing));
                    }
                    on_file(object, read.bytes_read);
                    report.records += read.entry.records;
                    report.rows += read.entry.rows;
                    report.unreadable += read.entry.unreadable;
                    report.bytes_read += read.bytes_read;
                    entries.push(read.entry);
                }
                Err(crate::read::ReadError::Lake(e)) => return Err(e),
                Err(crate::read::ReadError::File(failure)) if flushed => {
                    let files = self.close(writer)?;
                    self.abandon(&pending_path, &files)?;
                    return Ok(Attempt::Again(failure));
                }
                Err(crate::read::ReadError::File(failure)) => {
                    // Nothing of it reached the writer: its rows are dropped here.
                    drop(rows.finish()?);
                    on_file(object, 0);
                    report.failed.push(failure);
                }
            }
        }
        let data_files = self.close(writer)?;
        if entries.is_empty() {
            self.abandon(&pending_path, &data_files)?;
            return Ok(Attempt::Done(report));
        }
        let manifest = Manifest {
            window: window.to_string(),
            commit,
            attempt: attempt.clone(),
            files: entries,
            rows: report.rows,
            data_files: data_files
                .iter()
                .map(|f| f.file_path().to_owned())
                .collect(),
            data_bytes: data_files.iter().map(DataFile::file_size_in_bytes).sum(),
        };
        pending.manifest = Some(manifest.clone());
        self.settle(&pending_path, &pending, &manifest, data_files)?;
        report.commit = Some(commit);
        report.files = manifest.files.len();
        report.data_files = manifest.data_files.len();
        report.data_bytes = manifest.data_bytes;
        Ok(Attempt::Done(report))
    }

    /// Steps 1 to 3 of a commit whose data files are written: the pending record with its
    /// manifest, the commit, the published manifest.
    fn settle(
        &mut self,
        pending_path: &str,
        pending: &Pending,
        manifest: &Manifest,
        data_files: Vec<DataFile>,
    ) -> Result<(), LakeError> {
        self.write_json(pending_path, pending)?;
        if self.interrupt == Some(Step::DataFiles) {
            return Err(LakeError::Interrupted(Step::DataFiles));
        }
        self.commit(manifest, data_files)?;
        if self.interrupt == Some(Step::Commit) {
            return Err(LakeError::Interrupted(Step::Commit));
        }
        self.publish(manifest)?;
        self.delete(pending_path)
    }

    fn close(&self, writer: Writer) -> Result<Vec<DataFile>, LakeError> {
        self.handle
            .block_on(writer.close())
            .map_err(LakeError::iceberg("closing data files"))
    }

    /// Removes an attempt that will not commit: its data files, then its pending record.
    fn abandon(&self, pending: &str, files: &[DataFile]) -> Result<(), LakeError> {
        for file in files {
            self.delete(file.file_path())?;
        }
        self.delete(pending)
    }

    /// The commit: one snapshot adding the data files, its summary naming the window.
    fn commit(&mut self, manifest: &Manifest, data_files: Vec<DataFile>) -> Result<(), LakeError> {
        let records: u64 = manifest.files.iter().map(|f| f.records).sum();
        let window = Window::parse(&manifest.window).unwrap_or(Window::of(0));
        let properties = HashMap::from([
            (summary::WINDOW.to_owned(), manifest.window.clone()),
            (summary::COMMIT.to_owned(), manifest.commit.to_string()),
            (summary::ATTEMPT.to_owned(), manifest.attempt.clone()),
            (summary::FILES.to_owned(), manifest.files.len().to_string()),
            (summary::RECORDS.to_owned(), records.to_string()),
            (summary::ROWS.to_owned(), manifest.rows.to_string()),
            (
                summary::MANIFEST.to_owned(),
                self.lake_path(&window.manifest_name(manifest.commit)),
            ),
        ]);
        let tx = Transaction::new(&self.table);
        let append = tx
            .fast_append()
            .add_data_files(data_files)
            .set_snapshot_properties(properties);
        let result = append
            .apply(tx)
            .map_err(LakeError::iceberg("preparing the commit"))
            .and_then(|tx| {
                self.handle
                    .block_on(tx.commit(&*self.catalog))
                    .map_err(LakeError::iceberg(format!(
                        "committing window {}",
                        manifest.window
                    )))
            });
        match result {
            Ok(table) => {
                self.table = table;
                Ok(())
            }
            Err(e) => {
                // A commit whose answer was lost may still have been made: the table says.
                self.reload()?;
                match self.committed_attempt(&manifest.attempt) {
                    true => Ok(()),
                    false => Err(e),
                }
            }
        }
    }
}

enum Attempt {
    Done(WindowReport),
    Again(FileFailure),
}

async fn open_table(catalog: &dyn Catalog) -> Result<Table, LakeError> {
    let ident = table_ident();
    let namespace = ident.namespace().clone();
    let exists = catalog
        .namespace_exists(&namespace)
        .await
        .map_err(LakeError::iceberg("looking for the namespace"))?;
    if !exists {
        catalog
            .create_namespace(&namespace, HashMap::new())
            .await
            .map_err(LakeError::iceberg("creating the namespace"))?;
    }
    let exists = catalog
        .table_exists(&ident)
        .await
        .map_err(LakeError::iceberg("looking for the table"))?;
    if exists {
        return catalog
            .load_table(&ident)
            .await
            .map_err(LakeError::iceberg("loading the table"));
    }
    let schema = table::schema().map_err(LakeError::iceberg("the table's schema"))?;
    let spec = table::partition_spec().map_err(LakeError::iceberg("the table's partitioning"))?;
    let creation = TableCreation::builder()
        .name(table::TABLE.to_owned())
        .schema(schema)
        .partition_spec(spec)
        .properties(table::properties())
        .build();
    catalog
        .create_table(&namespace, creation)
        .await
        .map_err(LakeError::iceberg("creating the table"))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A new attempt's id: the time it started and the process, in hex.
fn attempt_id(started_ms: i64) -> String {
    let nanos = jiff::Timestamp::now().subsec_nanosecond();
    format!(
        "{started_ms:x}{:08x}",
        std::process::id() ^ nanos.unsigned_abs()
    )
}
