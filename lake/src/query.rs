//! Questions the table answers through its own scan: Iceberg's planning skips the data files
//! whose statistics rule them out, and Parquet is read for the columns asked only.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, StructArray};
use futures::{StreamExt, TryStreamExt};
use iceberg::Runtime;
use iceberg::arrow::ArrowReaderBuilder;
use iceberg::expr::{Predicate, Reference};
use iceberg::scan::FileScanTask;
use iceberg::spec::Datum;

use crate::build::{Lake, LakeError};

/// An answer and what reading it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Counts by the question's key.
    pub counts: BTreeMap<String, u64>,
    /// Data files the scan read.
    pub files_read: usize,
    /// Data files the table's current snapshot holds.
    pub files_in_table: usize,
    /// Bytes the scan read from them.
    pub bytes_read: u64,
    /// Bytes of the table's data files.
    pub table_bytes: u64,
}

/// Successful console sign-ins without MFA, by account (CIS 4.2 / Security Hub CloudWatch.3
/// count failed sign-ins too; these are the ones that got in).
pub fn console_sign_ins_without_mfa(lake: &Lake) -> Result<Answer, LakeError> {
    let filter = Reference::new("action")
        .equal_to(Datum::string("ConsoleLogin"))
        .and(Reference::new("error_message").is_null());
    scan(
        lake,
        filter,
        &["account_id", "principal"],
        |batch, counts| {
            let accounts = batch.column(0).as_string::<i32>();
            let principals: &StructArray = batch.column(1).as_struct();
            let mfa = principals.column_by_name("mfa").map(|c| c.as_boolean());
            for row in 0..batch.num_rows() {
                let without_mfa = mfa.is_some_and(|m| m.is_valid(row) && !m.value(row));
                if without_mfa && principals.is_valid(row) && accounts.is_valid(row) {
                    *counts.entry(accounts.value(row).to_owned()).or_default() += 1;
                }
            }
        },
    )
}

/// The root user's activity (CIS 4.3 / CloudWatch.1), by action. The reader filters on top-level
/// columns only, so `principal.type` is read and compared here.
pub fn root_activity(lake: &Lake) -> Result<Answer, LakeError> {
    let filter = Predicate::AlwaysTrue;
    scan(lake, filter, &["action", "principal"], |batch, counts| {
        let actions = batch.column(0).as_string::<i32>();
        let principals: &StructArray = batch.column(1).as_struct();
        let Some(kinds) = principals
            .column_by_name("type")
            .map(|c| c.as_string::<i32>())
        else {
            return;
        };
        for row in 0..batch.num_rows() {
            let root =
                principals.is_valid(row) && kinds.is_valid(row) && kinds.value(row) == "Root";
            if root && actions.is_valid(row) {
                *counts.entry(actions.value(row).to_owned()).or_default() += 1;
            }
        }
    })
}

fn scan(
    lake: &Lake,
    filter: Predicate,
    columns: &[&str],
    mut tally: impl FnMut(&RecordBatch, &mut BTreeMap<String, u64>),
) -> Result<Answer, LakeError> {
    let table = lake.table();
    let mut answer = Answer::default();
    if table.metadata().current_snapshot().is_none() {
        return Ok(answer);
    }
    let failed = |what: &'static str| {
        move |source: iceberg::Error| LakeError::Iceberg {
            context: what.to_owned(),
            source: Box::new(source),
        }
    };
    // What the table holds, from its snapshot's summary: no second planning pass.
    let total = |name: &str| {
        table
            .metadata()
            .current_snapshot()
            .and_then(|s| s.summary().additional_properties.get(name))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_default()
    };
    answer.files_in_table = usize::try_from(total("total-data-files")).unwrap_or(usize::MAX);
    answer.table_bytes = total("total-files-size");
    lake.block_on(async {
        let scan = table
            .scan()
            .select(columns.iter().copied())
            .with_filter(filter)
            .build()
            .map_err(failed("planning the question's scan"))?;
        let tasks: Vec<FileScanTask> = scan
            .plan_files()
            .await
            .map_err(failed("planning the question's scan"))?
            .try_collect()
            .await
            .map_err(failed("planning the question's scan"))?;
        answer.files_read = tasks.len();
        let runtime = Runtime::try_current().map_err(failed("the scan's runtime"))?;
        let result = ArrowReaderBuilder::new(table.file_io().clone(), runtime)
            .build()
            .read(futures::stream::iter(tasks.into_iter().map(Ok)).boxed())
            .map_err(failed("reading data files"))?;
        let metrics = result.metrics().clone();
        let mut batches = result.stream();
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(failed("reading data files"))?;
            tally(&batch, &mut answer.counts);
        }
        answer.bytes_read = metrics.bytes_read();
        Ok(answer)
    })
}
