//! An event's time: any RFC 3339 time a record states, years 0000 to 9999 with any offset,
//! also those past the end of `jiff::Timestamp`'s range (`9999-12-31T23:59:59Z` is a valid
//! RFC 3339 time, and a record may state it).

use std::fmt;

/// Milliseconds since the Unix epoch, from an RFC 3339 time (or a time without an offset, read
/// as UTC, as CloudTrail times are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventTime(i64);

impl EventTime {
    /// Milliseconds since the Unix epoch.
    pub fn as_millisecond(self) -> i64 {
        self.0
    }

    /// The time `text` states, if it states one: RFC 3339 (`2026-11-01T00:03:12Z`,
    /// `...+02:00`), or a date and time without an offset (UTC, as some exports write them:
    /// `2025-01-21 17:49:47`).
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(t) = text.parse::<jiff::Timestamp>() {
            return Some(Self(t.as_millisecond()));
        }
        // Within RFC 3339 but beyond a timestamp's range (the last hours of year 9999): computed
        // from the civil time and its offset.
        if let Ok(pieces) = jiff::fmt::temporal::Pieces::parse(text)
            && let (Some(time), Some(offset)) = (pieces.time(), pieces.to_numeric_offset())
        {
            return Some(Self::of_civil(
                pieces.date().to_datetime(time),
                offset.seconds(),
            ));
        }
        // No offset: UTC.
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        Some(Self::of_civil(civil, 0))
    }

    /// `civil` at `offset_s` seconds east of UTC.
    fn of_civil(civil: jiff::civil::DateTime, offset_s: i32) -> Self {
        let days = days_from_civil(
            i64::from(civil.year()),
            i64::from(civil.month()),
            i64::from(civil.day()),
        );
        let seconds = days * 86_400
            + i64::from(civil.hour()) * 3600
            + i64::from(civil.minute()) * 60
            + i64::from(civil.second())
            - i64::from(offset_s);
        Self(seconds * 1000 + i64::from(civil.subsec_nanosecond()) / 1_000_000)
    }
}

impl fmt::Display for EventTime {
    /// RFC 3339 in UTC, as `jiff::Timestamp` prints it (`2026-11-01T00:03:12Z`, fractional
    /// seconds only when there are some); beyond its range, the same shape from the civil time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(t) = jiff::Timestamp::from_millisecond(self.0) {
            return write!(f, "{t}");
        }
        let epoch = jiff::civil::DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
        match epoch.checked_add(jiff::SignedDuration::from_millis(self.0)) {
            Ok(civil) => write!(f, "{civil}Z"),
            Err(_) => write!(f, "{}ms", self.0),
        }
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (Howard Hinnant's
/// `days_from_civil`, <https://howardhinnant.github.io/date_algorithms.html>).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfc_3339_time_is_a_time() {
        let ms = |t: &str| EventTime::parse(t).map(EventTime::as_millisecond);
        // 9999-12-31T23:59:59Z: 253,402,300,799 s after the epoch.
        assert_eq!(ms("9999-12-31T23:59:59Z"), Some(253_402_300_799_000));
        assert_eq!(ms("9999-12-31T23:59:59.5Z"), Some(253_402_300_799_500));
        assert_eq!(ms("9999-12-31T23:59:59+01:00"), Some(253_402_297_199_000));
        assert_eq!(ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(ms("2026-11-01T00:03:12Z"), Some(1_793_491_392_000));
        assert_eq!(ms("2025-01-21 17:49:47"), ms("2025-01-21T17:49:47Z"));
        assert_eq!(ms("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
        for not_a_time in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "9999-12-31T24:00:01Z",
            "",
        ] {
            assert_eq!(ms(not_a_time), None, "{not_a_time}");
        }
        // Printed as before within a timestamp's range, and in the same shape beyond it.
        for t in [
            "2026-11-01T00:03:12Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59.5Z",
        ] {
            assert_eq!(EventTime::parse(t).unwrap().to_string(), t);
        }
        // The civil arithmetic agrees with jiff's wherever jiff's reaches.
        for t in [
            "1600-02-29T12:00:00Z",
            "2000-03-01T00:00:00Z",
            "9999-12-30T21:59:59Z",
        ] {
            let civil: jiff::civil::DateTime = t.trim_end_matches('Z').parse().unwrap();
            let jiff_ms = t.parse::<jiff::Timestamp>().unwrap().as_millisecond();
            assert_eq!(
                EventTime::of_civil(civil, 0).as_millisecond(),
                jiff_ms,
                "{t}"
            );
        }
    }
}
