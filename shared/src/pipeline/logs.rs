//! The log side of one object: each record's event named from the key, checked against the
//! size and time limits and what an earlier attempt accepted, then batched; each batch goes to
//! the sink as soon as it is ready.

use std::time::Instant;

use super::{Pipeline, ProcessError, Run};
use crate::batch::{LogBatcher, LogEvent, MAX_EVENT_AGE_MS, MAX_EVENT_BYTES, Refused, Window};
use crate::key::TrailKey;
use crate::normalize::Normalized;
use crate::ports::LogSink;
use crate::template::{Fields, Template};

/// One object's batches, the times its groups take, and the names being rendered (reused).
pub(super) struct LogSide {
    batcher: LogBatcher,
    /// The times the destination group takes; routed groups take the batcher's.
    destination_window: Window,
    names: (String, String),
}

impl LogSide {
    /// Routed groups are the function's own, kept as long as CloudWatch Logs takes events
    /// (14 days); the destination group keeps `max_event_age_ms`.
    pub(super) fn new(run: &Run, max_event_age_ms: i64) -> Self {
        Self {
            batcher: LogBatcher::within(run.window(MAX_EVENT_AGE_MS)),
            destination_window: run.window(max_event_age_ms),
            names: (String::new(), String::new()),
        }
    }
}

impl<S, L: LogSink, A, C> Pipeline<'_, S, L, A, C> {
    /// Fails once the deadline has passed (`records` read by then).
    pub(super) fn check_deadline(&self, records: u64) -> Result<(), ProcessError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(ProcessError::Deadline { records }),
            _ => Ok(()),
        }
    }

    /// The log side of one record, to `routed` (a route's group) or the destination group.
    pub(super) fn log_record(
        &self,
        record: &Normalized<'_>,
        routed: Option<&Template>,
        trail_key: &TrailKey,
        side: &mut LogSide,
        run: &mut Run,
    ) -> Result<(), ProcessError> {
        if record.json.len() > MAX_EVENT_BYTES {
            run.counts.events_too_large += 1;
            return Ok(());
        }
        let (group, window) = match routed {
            Some(routed) => (routed, side.batcher.window()),
            None => (&self.settings.log_group, side.destination_window),
        };
        let event = &record.event;
        let timestamp_ms = event.timestamp_ms().unwrap_or(run.default_time_ms);
        // Before the skip: every attempt judges times by the same clock reading, so what an
        // earlier attempt accepted is a prefix of what this one admits.
        if let Err(refused) = window.admits(timestamp_ms) {
            match refused {
                Refused::TooOld => run.counts.events_too_old += 1,
                _ => run.counts.events_too_new += 1,
            }
            return Ok(());
        }
        // Names come from the key, which the trail's bucket vouches for, never from what a
        // record claims: a file outside the layout names no account or region at all.
        let fields = Fields {
            org_id: trail_key.org_id.as_deref(),
            account_id: trail_key.account_id.as_deref(),
            region: trail_key.region.as_deref(),
            category: event.category.as_deref(),
        };
        let (group_name, stream_name) = &mut side.names;
        group.render_into(&fields, group_name);
        self.settings.log_stream.render_into(&fields, stream_name);
        if run.skip.take(group_name, stream_name) {
            run.counts.events_resumed += 1;
            return Ok(());
        }
        let log_event = LogEvent {
            timestamp_ms,
            message: record.json.into(),
        };
        // The size and the time were checked above: the push cannot refuse.
        if side
            .batcher
            .push(group_name, stream_name, log_event)
            .is_ok()
        {
            self.send_ready(side, run, trail_key)?;
        }
        Ok(())
    }

    /// Every batch still open, once the records are read.
    pub(super) fn send_all(
        &self,
        side: &mut LogSide,
        run: &mut Run,
        trail_key: &TrailKey,
    ) -> Result<(), ProcessError> {
        side.batcher.finish();
        self.send_ready(side, run, trail_key)
    }

    fn send_ready(
        &self,
        side: &mut LogSide,
        run: &mut Run,
        trail_key: &TrailKey,
    ) -> Result<(), ProcessError> {
        while let Some(mut batch) = side.batcher.take_ready() {
            batch.source_account.clone_from(&trail_key.account_id);
            self.check_deadline(run.counts.records)?;
            let report = self.logs.put(&batch).map_err(ProcessError::Logs)?;
            run.accepted(&batch, report.rejected);
        }
        Ok(())
    }
}
