//! The deadline: no record read and no write begun after it.

use super::*;

#[test]
fn a_passed_deadline_fails_the_object_for_retry() {
    let world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    let report = world.forward_until(KEY, Some(std::time::Instant::now()));
    let Outcome::Failed(e) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!((e.cause(), e.class()), ("deadline", ErrorClass::Retry));
    assert!(world.archive.committed.lock().unwrap().is_empty());
    assert_eq!(*world.logs.calls.lock().unwrap(), 0);
}

/// The deadline passes while the last batch is being sent: the batch counts, but neither the
/// quarantine, the archive object nor the receipt is written after it (the next attempt does
/// that, skipping the accepted events).
#[test]
fn no_write_begins_after_the_deadline() {
    let mut world = World::new(&[(KEY, document(&[record(1, "2026-11-01T00:00:00Z")]))]);
    world.logs.slow_calls = vec![(1, std::time::Duration::from_millis(300))];
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    let report = world.forward_until(KEY, Some(deadline));
    let Outcome::Failed(e) = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!((e.cause(), e.class()), ("deadline", ErrorClass::Retry));
    assert_eq!(report.counts.events_logged, 1);
    assert_eq!(
        report.progress.total(),
        1,
        "what the stream accepted is kept"
    );
    assert!(world.archive.committed.lock().unwrap().is_empty());
    assert!(world.receipts.receipts.lock().unwrap().is_empty());
}
