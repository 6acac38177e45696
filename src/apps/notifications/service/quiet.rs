//! Quiet hours: SMS and WhatsApp are not delivered inside the hospital's quiet window (local time,
//! may cross midnight, e.g. 22:00–08:00); a message due inside it is deferred to the window's end.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant the quiet window containing `at` ends, or `None` when `at` is outside quiet hours.
/// `start == end` means no quiet hours. Times that cannot be parsed disable the rule (settings are
/// validated when saved, so this is only a guard).
pub fn quiet_until(at: DateTime<Utc>, tz: Tz, start: &str, end: &str) -> Option<DateTime<Utc>> {
    let start = NaiveTime::parse_from_str(start, "%H:%M").ok()?;
    let end = NaiveTime::parse_from_str(end, "%H:%M").ok()?;
    if start == end {
        return None;
    }
    let local = at.with_timezone(&tz);
    let t = local.time();
    let date = local.date_naive();
    let end_date = if start < end {
        // Same-day window, e.g. 13:00–15:00.
        if t >= start && t < end {
            date
        } else {
            return None;
        }
    } else if t >= start {
        // Evening part of a window crossing midnight: ends tomorrow.
        date.succ_opt()?
    } else if t < end {
        date
    } else {
        return None;
    };
    let naive = end_date.and_time(end);
    // A wall-clock end skipped by a DST gap maps to the first instant after the gap.
    let resolved = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
    })?;
    Some(resolved.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn riyadh(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-11-26 local Riyadh (UTC+3).
        chrono_tz::Asia::Riyadh
            .with_ymd_and_hms(2026, 11, 26, h, m, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_window_crossing_midnight_defers_to_its_end() {
        let tz = chrono_tz::Asia::Riyadh;
        let next_8 = chrono_tz::Asia::Riyadh
            .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            quiet_until(riyadh(23, 0), tz, "22:00", "08:00"),
            Some(next_8)
        );
        assert_eq!(
            quiet_until(riyadh(22, 0), tz, "22:00", "08:00"),
            Some(next_8)
        );
        assert_eq!(
            quiet_until(riyadh(3, 30), tz, "22:00", "08:00"),
            Some(riyadh(8, 0))
        );
        assert_eq!(quiet_until(riyadh(8, 0), tz, "22:00", "08:00"), None);
        assert_eq!(quiet_until(riyadh(21, 59), tz, "22:00", "08:00"), None);
    }

    #[test]
    fn same_day_windows_and_disabled_windows() {
        let tz = chrono_tz::Asia::Riyadh;
        assert_eq!(
            quiet_until(riyadh(13, 30), tz, "13:00", "15:00"),
            Some(riyadh(15, 0))
        );
        assert_eq!(quiet_until(riyadh(15, 0), tz, "13:00", "15:00"), None);
        assert_eq!(quiet_until(riyadh(23, 0), tz, "00:00", "00:00"), None);
        assert_eq!(quiet_until(riyadh(23, 0), tz, "bad", "08:00"), None);
    }
}
