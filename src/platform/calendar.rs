//! SLA due-date arithmetic in business hours or calendar hours.
//!
//! A [`WorkCalendar`] describes one hospital's working week, daily working hours, time zone and
//! holidays. [`due_at`] and [`elapsed`] apply it to an SLA clock that may be stopped by
//! [`Pause`]s (an item WAITING on someone else). Everything here is pure: time is always passed
//! in, and all instants are UTC while working days, hours and holidays are local to the hospital.
//!
//! # Semantics
//!
//! * **Business hours** count only instants inside `[day_start, day_end)` local time on a working
//!   weekday that is not a holiday. An SLA started outside that time effectively starts at the
//!   next working instant.
//! * **Calendar hours** count real elapsed time; the calendar (weekdays, hours, holidays, zone)
//!   is ignored. Across a DST change a 24-hour SLA therefore ends at a different local wall-clock
//!   hour than it started.
//! * **Deadline** = the *earliest* instant at which the counted time reaches the SLA. Hence a
//!   deadline that lands exactly on `day_end` stays there instead of rolling to the next morning,
//!   a zero (or negative) SLA is due at `start` itself, and an SLA that runs out exactly when a
//!   pause begins is due at the pause start.
//! * **Pauses** remove their time from the count. They may overlap (the union is used), start
//!   before the SLA, be reversed or empty (ignored) and span weekends or holidays: in business
//!   mode a pause only removes working time, because nothing else was being counted.
//! * **DST**: working hours are local wall-clock times. A day's working window runs from the
//!   *earliest* instant showing `day_start` to the *latest* instant showing `day_end`; a local
//!   time skipped by a spring-forward gap maps to the first instant after the gap. So a
//!   transition day is shorter or longer only when the transition falls inside working hours.
//! * **Cost** is proportional to the number of local days scanned (a few zone look-ups and one
//!   holiday look-up per day), never to the number of minutes.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Forward searches for a working instant or a business deadline give up after this many local
/// days (about 100 years) so that a calendar with (almost) no working time cannot hang a caller.
pub const SEARCH_HORIZON_DAYS: u64 = 36_600;

/// Which clock an SLA runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HourMode {
    /// Only working hours on working, non-holiday days count.
    Business,
    /// Real elapsed time counts; the calendar is ignored.
    Calendar,
}

/// Why a [`WorkCalendar`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarError {
    /// Working hours must be a non-empty range within one local day.
    EmptyWorkingHours {
        day_start: NaiveTime,
        day_end: NaiveTime,
    },
    /// With no working weekday no business deadline could ever be reached.
    NoWorkingDays,
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyWorkingHours { day_start, day_end } => write!(
                f,
                "working day must end after it starts (start {day_start}, end {day_end})"
            ),
            Self::NoWorkingDays => f.write_str("at least one weekday must be a working day"),
        }
    }
}

impl std::error::Error for CalendarError {}

/// A hospital's working time: zone, working weekdays, daily hours and holidays (local dates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    tz: Tz,
    /// Indexed by [`Weekday::num_days_from_monday`].
    working_days: [bool; 7],
    day_start: NaiveTime,
    day_end: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

const fn hm(hour: u32, min: u32) -> NaiveTime {
    // `from_hms_opt` is the only const constructor; the fallback is unreachable for valid
    // literals and keeps this free of panics.
    match NaiveTime::from_hms_opt(hour, min, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

type Span = (DateTime<Utc>, DateTime<Utc>);

impl WorkCalendar {
    /// Builds a calendar. `working_days` may repeat days; `day_end` must be after `day_start`
    /// (a window cannot cross midnight, so a 24-hour service should use [`HourMode::Calendar`]).
    ///
    /// # Errors
    /// [`CalendarError::EmptyWorkingHours`] if `day_end <= day_start`;
    /// [`CalendarError::NoWorkingDays`] if `working_days` is empty.
    pub fn new(
        tz: Tz,
        working_days: &[Weekday],
        day_start: NaiveTime,
        day_end: NaiveTime,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        if day_end <= day_start {
            return Err(CalendarError::EmptyWorkingHours { day_start, day_end });
        }
        let mut days = [false; 7];
        for day in working_days {
            if let Some(slot) = days.get_mut(day.num_days_from_monday() as usize) {
                *slot = true;
            }
        }
        if !days.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        Ok(Self {
            tz,
            working_days: days,
            day_start,
            day_end,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// Sunday–Thursday, 08:00–16:00, Asia/Riyadh, no holidays (Eid dates move every year, so
    /// each hospital supplies its own list).
    pub fn saudi_default() -> Self {
        Self {
            tz: chrono_tz::Asia::Riyadh,
            // Monday-first order: Mon..Thu work, Fri and Sat off, Sun works.
            working_days: [true, true, true, true, false, false, true],
            day_start: hm(8, 0),
            day_end: hm(16, 0),
            holidays: BTreeSet::new(),
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn day_start(&self) -> NaiveTime {
        self.day_start
    }

    pub fn day_end(&self) -> NaiveTime {
        self.day_end
    }

    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// Whether the local `date` is a working weekday and not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working_days
            .get(date.weekday().num_days_from_monday() as usize)
            .copied()
            .unwrap_or(false)
            && !self.holidays.contains(&date)
    }

    /// Whether business time is being counted at `t` (`day_end` itself is not working time).
    pub fn is_working_instant(&self, t: DateTime<Utc>) -> bool {
        let last = self.local_date(t).succ_opt().unwrap_or(NaiveDate::MAX);
        self.windows_from(t, last)
            .next()
            .is_some_and(|(open, _)| open == t)
    }

    /// `t` itself when it is working time, otherwise the start of the next working window.
    /// `None` only if there is no working time within [`SEARCH_HORIZON_DAYS`].
    pub fn next_working_instant(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.windows_from(t, self.horizon(t))
            .next()
            .map(|(open, _)| open)
    }

    /// The earliest instant at which `d` of business time has been counted from `start`.
    /// Negative `d` counts as zero, so the result is `start`. `None` if the deadline lies beyond
    /// [`SEARCH_HORIZON_DAYS`] or outside chrono's representable range.
    pub fn add_business(&self, start: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
        due_at(self, HourMode::Business, start, d, &[])
    }

    /// Business time inside `[a, b)`; zero when `b <= a`.
    pub fn business_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        elapsed(self, HourMode::Business, a, b, &[])
    }

    /// Local wall-clock time of `t`; `None` only at the very ends of chrono's range, where
    /// `DateTime::naive_local` would panic.
    fn local_naive(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self.tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        t.naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(offset.local_minus_utc())))
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local_naive(t)
            .map_or_else(|| t.date_naive(), |l| l.date())
    }

    fn horizon(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local_date(t)
            .checked_add_days(Days::new(SEARCH_HORIZON_DAYS))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The working window of one local date, if it has one.
    fn window(&self, date: NaiveDate) -> Option<Span> {
        if !self.is_working_day(date) {
            return None;
        }
        // Earliest opening and latest closing make a fall-back repeat inside working hours count
        // in full, which is what staff on shift actually work.
        let open = self.to_utc(date.and_time(self.day_start), false)?;
        let close = self.to_utc(date.and_time(self.day_end), true)?;
        (close > open).then_some((open, close))
    }

    fn to_utc(&self, local: NaiveDateTime, latest: bool) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                Some(if latest { a.max(b) } else { a.min(b) })
            }
            LocalResult::None => self.end_of_gap(local),
        }
    }

    /// First instant whose local time is at or after `local`, for a `local` skipped by a gap.
    fn end_of_gap(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let naive_utc = local.and_utc();
        let offset_secs = |t: DateTime<Utc>| {
            let offset = self.tz.offset_from_utc_datetime(&t.naive_utc()).fix();
            i64::from(offset.local_minus_utc())
        };
        // A day either side comfortably brackets any real transition, and the two offsets give
        // one instant before and one after the gap.
        let before = offset_secs(naive_utc.checked_sub_signed(Duration::days(1))?);
        let after = offset_secs(naive_utc.checked_add_signed(Duration::days(1))?);
        let a = naive_utc.timestamp() - after;
        let b = naive_utc.timestamp() - before;
        let (mut lo, mut hi) = (a.min(b), a.max(b));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let reached = DateTime::from_timestamp(mid, 0)
                .and_then(|t| self.local_naive(t))
                .is_some_and(|l| l >= local);
            if reached {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        DateTime::from_timestamp(lo, 0)
    }

    /// Working windows from `from` onwards, clipped to start no earlier than `from`, scanning
    /// local dates up to `last_date` inclusive.
    fn windows_from(&self, from: DateTime<Utc>, last_date: NaiveDate) -> Windows<'_> {
        let date = self.local_date(from);
        // The previous local date is included in case an odd zone rule lets its window reach
        // past midnight; clipping to `from` keeps it harmless.
        Windows {
            cal: self,
            next_date: Some(date.pred_opt().unwrap_or(date)),
            last_date,
            from,
        }
    }
}

struct Windows<'a> {
    cal: &'a WorkCalendar,
    next_date: Option<NaiveDate>,
    last_date: NaiveDate,
    /// Everything before this was already yielded, so overlapping windows never count twice.
    from: DateTime<Utc>,
}

impl Iterator for Windows<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        while let Some(date) = self.next_date.filter(|d| *d <= self.last_date) {
            self.next_date = date.succ_opt();
            if let Some((open, close)) = self.cal.window(date) {
                let open = open.max(self.from);
                if close > open {
                    self.from = close;
                    return Some((open, close));
                }
            }
        }
        None
    }
}

/// An interval during which the SLA clock is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub start: DateTime<Utc>,
    /// `None` while the item is still waiting.
    pub end: Option<DateTime<Utc>>,
}

impl Pause {
    pub fn closed(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            start,
            end: Some(end),
        }
    }

    pub fn open(start: DateTime<Utc>) -> Self {
        Self { start, end: None }
    }
}

/// Sorted, disjoint union of the pauses; an open pause runs to the end of time.
fn merge_pauses(pauses: &[Pause]) -> Vec<Span> {
    let mut spans: Vec<Span> = pauses
        .iter()
        .map(|p| (p.start, p.end.unwrap_or(DateTime::<Utc>::MAX_UTC)))
        .filter(|(s, e)| e > s)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

enum Base<'a> {
    Business(Windows<'a>),
    Calendar(Option<Span>),
}

impl Iterator for Base<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        match self {
            Self::Business(w) => w.next(),
            Self::Calendar(span) => span.take(),
        }
    }
}

/// Counted time: the base segments minus the merged pauses, in order.
struct Unpaused<'p, I> {
    base: I,
    pauses: &'p [Span],
    pending: Option<Span>,
}

impl<I: Iterator<Item = Span>> Iterator for Unpaused<'_, I> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        loop {
            let (s, e) = match self.pending.take() {
                Some(seg) => seg,
                None => self.base.next()?,
            };
            while let Some((&(_, pause_end), rest)) = self.pauses.split_first()
                && pause_end <= s
            {
                self.pauses = rest;
            }
            match self.pauses.first() {
                Some(&(pause_start, pause_end)) if pause_start < e => {
                    if pause_end < e {
                        self.pending = Some((pause_end, e));
                    }
                    if pause_start > s {
                        return Some((s, pause_start));
                    }
                }
                _ => return Some((s, e)),
            }
        }
    }
}

fn counted<'a>(
    cal: &'a WorkCalendar,
    mode: HourMode,
    start: DateTime<Utc>,
    last_date: NaiveDate,
    pauses: &'a [Span],
) -> Unpaused<'a, Base<'a>> {
    let base = match mode {
        HourMode::Business => Base::Business(cal.windows_from(start, last_date)),
        HourMode::Calendar => Base::Calendar(
            (start < DateTime::<Utc>::MAX_UTC).then_some((start, DateTime::<Utc>::MAX_UTC)),
        ),
    };
    Unpaused {
        base,
        pauses,
        pending: None,
    }
}

/// Deadline of an SLA of length `sla` started at `start`: the earliest instant at which the
/// counted time (see [module docs](self)) reaches `sla`.
///
/// Returns `None` when the deadline cannot be known or represented:
/// * an open pause began before the SLA ran out (the clock is stopped indefinitely); an open
///   pause that begins after the deadline does not hide it;
/// * business mode finds no deadline within [`SEARCH_HORIZON_DAYS`] of `start`;
/// * the deadline would fall outside chrono's range.
///
/// A zero or negative `sla` is due at `start`.
pub fn due_at(
    cal: &WorkCalendar,
    mode: HourMode,
    start: DateTime<Utc>,
    sla: Duration,
    pauses: &[Pause],
) -> Option<DateTime<Utc>> {
    let mut remaining = sla.max(Duration::zero());
    if remaining.is_zero() {
        return Some(start);
    }
    let merged = merge_pauses(pauses);
    for (s, e) in counted(cal, mode, start, cal.horizon(start), &merged) {
        let len = e - s;
        if remaining <= len {
            return s.checked_add_signed(remaining);
        }
        remaining -= len;
    }
    None
}

/// Counted SLA time in `[start, now)`: outside pauses and, in business mode, inside working
/// time. Zero when `now <= start`. `elapsed(.., start, due_at(.., start, sla, ..)?, ..) == sla`
/// for any non-negative `sla`.
pub fn elapsed(
    cal: &WorkCalendar,
    mode: HourMode,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    pauses: &[Pause],
) -> Duration {
    if now <= start {
        return Duration::zero();
    }
    let merged = merge_pauses(pauses);
    let last_date = cal.local_date(now).succ_opt().unwrap_or(NaiveDate::MAX);
    counted(cal, mode, start, last_date, &merged)
        .take_while(|(s, _)| *s < now)
        .map(|(s, e)| e.min(now) - s)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Riyadh, Europe::London};

    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ry(m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local(Riyadh, 2025, m, d, h, mi)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hours(h: i64) -> Duration {
        Duration::hours(h)
    }

    fn saudi_with(holidays: &[NaiveDate]) -> WorkCalendar {
        WorkCalendar::new(
            Riyadh,
            &[
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
            ],
            hm(8, 0),
            hm(16, 0),
            holidays.iter().copied(),
        )
        .unwrap()
    }

    fn every_day(tz: Tz, start: NaiveTime, end: NaiveTime) -> WorkCalendar {
        let all = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        WorkCalendar::new(tz, &all, start, end, []).unwrap()
    }

    fn business(cal: &WorkCalendar, start: DateTime<Utc>, sla: Duration) -> DateTime<Utc> {
        cal.add_business(start, sla).unwrap()
    }

    #[test]
    fn test_dates_fall_on_the_weekdays_the_scenarios_assume() {
        assert_eq!(date(2025, 9, 21).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 9, 23).weekday(), Weekday::Tue);
        assert_eq!(date(2025, 3, 27).weekday(), Weekday::Thu);
        assert_eq!(date(2025, 3, 30).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 10, 26).weekday(), Weekday::Sun);
        assert_eq!(date(2025, 3, 9).weekday(), Weekday::Sun);
    }

    #[test]
    fn saudi_default_is_sunday_to_thursday_eight_to_four_in_riyadh() {
        let built = saudi_with(&[]);
        assert_eq!(WorkCalendar::saudi_default(), built);
        assert_eq!(built.tz(), Riyadh);
        assert_eq!(built.day_start(), hm(8, 0));
        assert_eq!(built.day_end(), hm(16, 0));
        assert!(built.holidays().is_empty());
    }

    #[test]
    fn eight_business_hours_from_sunday_nine_are_due_monday_nine() {
        let cal = WorkCalendar::saudi_default();
        assert_eq!(business(&cal, ry(9, 21, 9, 0), hours(8)), ry(9, 22, 9, 0));
    }

    #[test]
    fn thursday_afternoon_plus_four_hours_skips_the_friday_saturday_weekend() {
        let cal = WorkCalendar::saudi_default();
        assert_eq!(business(&cal, ry(9, 18, 14, 0), hours(4)), ry(9, 21, 10, 0));
    }

    #[test]
    fn sla_started_on_friday_starts_counting_sunday_at_eight() {
        let cal = WorkCalendar::saudi_default();
        let friday = ry(9, 19, 11, 37);
        assert_eq!(cal.next_working_instant(friday), Some(ry(9, 21, 8, 0)));
        assert_eq!(business(&cal, friday, hours(3)), ry(9, 21, 11, 0));
        assert_eq!(
            cal.business_between(friday, ry(9, 21, 8, 0)),
            Duration::zero()
        );
    }

    #[test]
    fn sla_started_after_day_end_starts_counting_next_morning() {
        let cal = WorkCalendar::saudi_default();
        let evening = ry(9, 21, 16, 30);
        assert_eq!(cal.next_working_instant(evening), Some(ry(9, 22, 8, 0)));
        assert_eq!(business(&cal, evening, hours(1)), ry(9, 22, 9, 0));
        let before_dawn = ry(9, 22, 5, 0);
        assert_eq!(business(&cal, before_dawn, hours(1)), ry(9, 22, 9, 0));
    }

    #[test]
    fn national_day_holiday_inside_the_span_is_skipped() {
        let cal = saudi_with(&[date(2025, 9, 23)]);
        // Monday 12:00 + 8h: 4h Monday, Tuesday is National Day, 4h Wednesday.
        assert_eq!(business(&cal, ry(9, 22, 12, 0), hours(8)), ry(9, 24, 12, 0));
        assert!(!cal.is_working_instant(ry(9, 23, 10, 0)));
        assert_eq!(
            cal.business_between(ry(9, 22, 12, 0), ry(9, 24, 12, 0)),
            hours(8)
        );
    }

    #[test]
    fn multi_day_eid_break_is_skipped_together_with_the_weekends() {
        let eid: Vec<NaiveDate> = (30..=31)
            .map(|d| date(2025, 3, d))
            .chain((1..=3).map(|d| date(2025, 4, d)))
            .collect();
        let cal = saudi_with(&eid);
        // Thursday 27 March 12:00: 4h that day, then weekend, Eid week, weekend; 4h on 6 April.
        assert_eq!(
            business(&cal, local(Riyadh, 2025, 3, 27, 12, 0), hours(8)),
            local(Riyadh, 2025, 4, 6, 12, 0)
        );
        assert_eq!(
            cal.next_working_instant(local(Riyadh, 2025, 3, 30, 9, 0)),
            Some(local(Riyadh, 2025, 4, 6, 8, 0))
        );
    }

    #[test]
    fn deadline_landing_exactly_on_day_end_stays_at_day_end() {
        let cal = WorkCalendar::saudi_default();
        assert_eq!(business(&cal, ry(9, 21, 8, 0), hours(8)), ry(9, 21, 16, 0));
        assert_eq!(business(&cal, ry(9, 21, 12, 0), hours(4)), ry(9, 21, 16, 0));
        // Thursday's day_end must not roll over the weekend either.
        assert_eq!(business(&cal, ry(9, 18, 12, 0), hours(4)), ry(9, 18, 16, 0));
        // One nanosecond more rolls to the next working morning.
        assert_eq!(
            business(&cal, ry(9, 18, 12, 0), hours(4) + Duration::nanoseconds(1)),
            ry(9, 21, 8, 0) + Duration::nanoseconds(1)
        );
    }

    #[test]
    fn fractional_sla_is_counted_to_the_minute() {
        let cal = WorkCalendar::saudi_default();
        assert_eq!(
            business(&cal, ry(9, 21, 15, 0), Duration::minutes(90)),
            ry(9, 22, 8, 30)
        );
    }

    #[test]
    fn working_instant_boundaries_are_half_open() {
        let cal = saudi_with(&[date(2025, 9, 23)]);
        assert!(cal.is_working_instant(ry(9, 21, 8, 0)));
        assert!(cal.is_working_instant(ry(9, 21, 16, 0) - Duration::nanoseconds(1)));
        assert!(!cal.is_working_instant(ry(9, 21, 16, 0)));
        assert!(!cal.is_working_instant(ry(9, 21, 8, 0) - Duration::nanoseconds(1)));
        assert!(!cal.is_working_instant(ry(9, 19, 10, 0)), "Friday");
        assert!(!cal.is_working_instant(ry(9, 20, 10, 0)), "Saturday");
        assert!(!cal.is_working_instant(ry(9, 23, 10, 0)), "holiday");
        assert!(cal.is_working_day(date(2025, 9, 22)));
        assert!(!cal.is_working_day(date(2025, 9, 23)));
        assert!(!cal.is_working_day(date(2025, 9, 19)));
        let inside = ry(9, 22, 13, 17);
        assert_eq!(cal.next_working_instant(inside), Some(inside));
        assert_eq!(
            cal.next_working_instant(ry(9, 18, 16, 0)),
            Some(ry(9, 21, 8, 0))
        );
    }

    #[test]
    fn business_between_counts_only_working_time_and_is_zero_when_reversed() {
        let cal = WorkCalendar::saudi_default();
        assert_eq!(
            cal.business_between(ry(9, 18, 14, 0), ry(9, 21, 10, 0)),
            hours(4)
        );
        assert_eq!(
            cal.business_between(ry(9, 21, 10, 0), ry(9, 18, 14, 0)),
            Duration::zero()
        );
        // A full Sunday-to-Sunday week is five eight-hour days.
        assert_eq!(
            cal.business_between(ry(9, 21, 0, 0), ry(9, 28, 0, 0)),
            hours(40)
        );
    }

    #[test]
    fn calendar_mode_ignores_weekends_holidays_and_working_hours() {
        let cal = saudi_with(&[date(2025, 9, 23)]);
        let start = ry(9, 18, 14, 0);
        assert_eq!(
            due_at(&cal, HourMode::Calendar, start, hours(48), &[]),
            Some(ry(9, 20, 14, 0))
        );
        assert_eq!(
            due_at(&cal, HourMode::Calendar, ry(9, 22, 20, 0), hours(24), &[]),
            Some(ry(9, 23, 20, 0))
        );
        assert_eq!(
            elapsed(&cal, HourMode::Calendar, start, ry(9, 21, 14, 0), &[]),
            hours(72)
        );
    }

    #[test]
    fn pause_during_working_hours_extends_the_deadline_by_exactly_the_paused_time() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 9, 0);
        let pause = Pause::closed(ry(9, 21, 10, 0), ry(9, 21, 11, 30));
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(8), &[pause]),
            Some(ry(9, 22, 10, 30))
        );
        assert_eq!(
            due_at(&cal, HourMode::Calendar, start, hours(8), &[pause]),
            Some(ry(9, 21, 18, 30))
        );
    }

    #[test]
    fn pause_across_a_weekend_credits_only_the_working_time_inside_it() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 17, 9, 0);
        assert_eq!(business(&cal, start, hours(16)), ry(9, 21, 9, 0));
        // Thursday 15:00 to Sunday 10:00 pauses 1h on Thursday and 2h on Sunday only.
        let pause = Pause::closed(ry(9, 18, 15, 0), ry(9, 21, 10, 0));
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(16), &[pause]),
            Some(ry(9, 21, 12, 0))
        );
        // A pause entirely inside the weekend changes nothing in business mode...
        let weekend = Pause::closed(ry(9, 19, 0, 0), ry(9, 21, 0, 0));
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(16), &[weekend]),
            Some(ry(9, 21, 9, 0))
        );
        // ...but pushes a calendar-hours deadline by the whole 48h.
        assert_eq!(
            due_at(&cal, HourMode::Calendar, start, hours(48), &[weekend]),
            Some(ry(9, 21, 9, 0))
        );
    }

    #[test]
    fn overlapping_pauses_are_not_double_counted() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 8, 0);
        let pauses = [
            Pause::closed(ry(9, 21, 10, 0), ry(9, 21, 12, 0)),
            Pause::closed(ry(9, 21, 11, 0), ry(9, 21, 13, 0)),
            Pause::closed(ry(9, 21, 11, 15), ry(9, 21, 11, 45)),
            Pause::closed(ry(9, 21, 10, 0), ry(9, 21, 12, 0)),
        ];
        // The union is 10:00-13:00: three hours, not six and a half.
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(8), &pauses),
            Some(ry(9, 22, 11, 0))
        );
        assert_eq!(
            due_at(&cal, HourMode::Calendar, start, hours(8), &pauses),
            Some(ry(9, 21, 19, 0))
        );
        assert_eq!(
            elapsed(&cal, HourMode::Business, start, ry(9, 21, 16, 0), &pauses),
            hours(5)
        );
    }

    #[test]
    fn adjacent_pauses_and_pauses_touching_the_start_are_handled() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 8, 0);
        let pauses = [
            Pause::closed(ry(9, 21, 7, 0), ry(9, 21, 9, 0)),
            Pause::closed(ry(9, 21, 9, 0), ry(9, 21, 10, 0)),
        ];
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(2), &pauses),
            Some(ry(9, 21, 12, 0))
        );
    }

    #[test]
    fn pause_starting_before_the_sla_delays_the_start_of_counting() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 9, 0);
        let pause = Pause::closed(ry(9, 20, 9, 0), ry(9, 21, 13, 0));
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(4), &[pause]),
            Some(ry(9, 22, 9, 0))
        );
        assert_eq!(
            due_at(&cal, HourMode::Calendar, start, hours(4), &[pause]),
            Some(ry(9, 21, 17, 0))
        );
    }

    #[test]
    fn reversed_empty_and_earlier_pauses_are_ignored() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 9, 0);
        let pauses = [
            Pause::closed(ry(9, 21, 12, 0), ry(9, 21, 10, 0)),
            Pause::closed(ry(9, 21, 11, 0), ry(9, 21, 11, 0)),
            Pause::closed(ry(9, 14, 9, 0), ry(9, 15, 12, 0)),
        ];
        for mode in [HourMode::Business, HourMode::Calendar] {
            assert_eq!(
                due_at(&cal, mode, start, hours(5), &pauses),
                due_at(&cal, mode, start, hours(5), &[]),
                "{mode:?}"
            );
        }
    }

    #[test]
    fn open_pause_hides_the_deadline_until_it_closes() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 9, 0);
        let open = Pause::open(ry(9, 21, 10, 0));
        for mode in [HourMode::Business, HourMode::Calendar] {
            assert_eq!(
                due_at(&cal, mode, start, hours(8), &[open]),
                None,
                "{mode:?}"
            );
        }
        // The clock stays frozen at one hour for as long as the pause is open.
        assert_eq!(
            elapsed(&cal, HourMode::Business, start, ry(10, 30, 9, 0), &[open]),
            hours(1)
        );
        let closed = Pause::closed(ry(9, 21, 10, 0), ry(9, 21, 12, 0));
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(8), &[closed]),
            Some(ry(9, 22, 11, 0))
        );
    }

    #[test]
    fn open_pause_after_the_sla_ran_out_keeps_the_known_deadline() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 21, 9, 0);
        assert_eq!(
            due_at(
                &cal,
                HourMode::Business,
                start,
                hours(2),
                &[Pause::open(ry(9, 22, 9, 0))]
            ),
            Some(ry(9, 21, 11, 0))
        );
        // Running out exactly when the pause begins is still a known deadline.
        assert_eq!(
            due_at(
                &cal,
                HourMode::Business,
                start,
                hours(2),
                &[Pause::open(ry(9, 21, 11, 0))]
            ),
            Some(ry(9, 21, 11, 0))
        );
        assert_eq!(
            due_at(
                &cal,
                HourMode::Calendar,
                start,
                hours(2),
                &[Pause::open(ry(9, 21, 11, 0))]
            ),
            Some(ry(9, 21, 11, 0))
        );
    }

    #[test]
    fn zero_duration_sla_is_due_at_its_start_in_both_modes() {
        let cal = WorkCalendar::saudi_default();
        for start in [ry(9, 21, 9, 0), ry(9, 19, 3, 0), ry(9, 21, 16, 0)] {
            for mode in [HourMode::Business, HourMode::Calendar] {
                assert_eq!(
                    due_at(&cal, mode, start, Duration::zero(), &[]),
                    Some(start)
                );
                assert_eq!(elapsed(&cal, mode, start, start, &[]), Duration::zero());
            }
        }
        assert_eq!(
            cal.add_business(ry(9, 19, 3, 0), Duration::zero()),
            Some(ry(9, 19, 3, 0))
        );
    }

    #[test]
    fn negative_sla_is_treated_as_zero() {
        let cal = WorkCalendar::saudi_default();
        let start = ry(9, 19, 3, 0);
        for mode in [HourMode::Business, HourMode::Calendar] {
            assert_eq!(due_at(&cal, mode, start, hours(-5), &[]), Some(start));
        }
    }

    #[test]
    fn invalid_calendars_are_rejected() {
        let days = [Weekday::Sun];
        assert_eq!(
            WorkCalendar::new(Riyadh, &days, hm(16, 0), hm(8, 0), []),
            Err(CalendarError::EmptyWorkingHours {
                day_start: hm(16, 0),
                day_end: hm(8, 0)
            })
        );
        assert!(matches!(
            WorkCalendar::new(Riyadh, &days, hm(8, 0), hm(8, 0), []),
            Err(CalendarError::EmptyWorkingHours { .. })
        ));
        assert_eq!(
            WorkCalendar::new(Riyadh, &[], hm(8, 0), hm(16, 0), []),
            Err(CalendarError::NoWorkingDays)
        );
        assert!(!CalendarError::NoWorkingDays.to_string().is_empty());
        let dup = WorkCalendar::new(
            Riyadh,
            &[Weekday::Sun, Weekday::Sun],
            hm(8, 0),
            hm(9, 0),
            [],
        );
        assert!(dup.is_ok());
    }

    #[test]
    fn hour_mode_serializes_in_screaming_case() {
        assert_eq!(
            serde_json::to_string(&HourMode::Business).unwrap(),
            "\"BUSINESS\""
        );
        assert_eq!(
            serde_json::from_str::<HourMode>("\"CALENDAR\"").unwrap(),
            HourMode::Calendar
        );
        assert!(serde_json::from_str::<HourMode>("\"business\"").is_err());
    }

    fn working_days_in_a_week(cal: &WorkCalendar) -> usize {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .iter()
        .filter(|d| {
            // 2025-09-15 is a Monday.
            let day = date(2025, 9, 15) + Days::new(u64::from(d.num_days_from_monday()));
            cal.is_working_day(day)
        })
        .count()
    }

    #[test]
    fn saudi_week_has_exactly_five_working_days() {
        assert_eq!(working_days_in_a_week(&WorkCalendar::saudi_default()), 5);
    }

    /// Independent oracle: steps minute by minute through local wall-clock time.
    fn brute_business_minutes(cal: &WorkCalendar, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        let mut t = a;
        let mut n = 0;
        while t < b {
            let l = t.with_timezone(&cal.tz()).naive_local();
            let d = l.date();
            if cal.is_working_day(d) && l.time() >= cal.day_start() && l.time() < cal.day_end() {
                n += 1;
            }
            t += Duration::minutes(1);
        }
        n
    }

    #[test]
    fn business_between_matches_a_minute_by_minute_oracle() {
        let riyadh = saudi_with(&[date(2025, 9, 23)]);
        let london = every_day(London, hm(8, 0), hm(16, 0));
        let cases = [
            (&riyadh, ry(9, 17, 7, 13), ry(9, 25, 9, 41)),
            (&riyadh, ry(9, 18, 15, 59), ry(9, 21, 8, 1)),
            (
                &london,
                local(London, 2025, 3, 28, 9, 7),
                local(London, 2025, 4, 1, 3, 0),
            ),
            (
                &london,
                local(London, 2025, 10, 24, 15, 0),
                local(London, 2025, 10, 28, 8, 30),
            ),
        ];
        for (cal, a, b) in cases {
            assert_eq!(
                cal.business_between(a, b),
                Duration::minutes(brute_business_minutes(cal, a, b)),
                "{a} .. {b}"
            );
        }
    }

    #[test]
    fn elapsed_up_to_due_at_equals_the_sla_over_a_grid_of_starts() {
        let riyadh = saudi_with(&[date(2025, 9, 23), date(2025, 9, 24)]);
        let london = every_day(London, hm(0, 0), hm(6, 0));
        let pauses = [
            Pause::closed(ry(9, 18, 15, 0), ry(9, 21, 10, 0)),
            Pause::closed(ry(9, 22, 11, 0), ry(9, 22, 11, 20)),
            Pause::closed(ry(9, 22, 11, 10), ry(9, 22, 12, 0)),
            Pause::closed(ry(9, 25, 8, 0), ry(9, 29, 9, 0)),
        ];
        let slas = [
            Duration::minutes(1),
            Duration::minutes(90),
            hours(4),
            hours(8),
            hours(24),
            hours(72),
            hours(300),
        ];
        let grid =
            |from: DateTime<Utc>| (0..160).map(move |i| from + Duration::minutes(37 * i * 3));
        let scenarios = [
            (&riyadh, ry(9, 16, 0, 0)),
            (&london, local(London, 2025, 3, 27, 0, 0)),
            (&london, local(London, 2025, 10, 23, 0, 0)),
        ];
        let mut checked = 0;
        for (cal, from) in scenarios {
            for start in grid(from) {
                for &sla in &slas {
                    for mode in [HourMode::Business, HourMode::Calendar] {
                        for ps in [&[][..], &pauses[..]] {
                            let due = due_at(cal, mode, start, sla, ps).unwrap();
                            assert!(due > start);
                            assert_eq!(
                                elapsed(cal, mode, start, due, ps),
                                sla,
                                "{mode:?} {start} {sla}"
                            );
                            // Earliest: a nanosecond earlier the SLA has not yet run out.
                            assert!(
                                elapsed(cal, mode, start, due - Duration::nanoseconds(1), ps) < sla
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 160 * 7 * 2 * 2);
    }

    #[test]
    fn business_deadlines_grow_with_the_sla_and_land_in_or_at_the_end_of_working_time() {
        let cal = saudi_with(&[date(2025, 9, 23)]);
        for i in 0..200 {
            let start = ry(9, 16, 0, 0) + Duration::minutes(53 * i);
            let mut previous = start;
            for m in (15..=1200).step_by(45) {
                let due = business(&cal, start, Duration::minutes(m));
                assert!(due > previous, "{start} + {m}min");
                let just_before = due - Duration::nanoseconds(1);
                assert!(
                    cal.is_working_instant(just_before),
                    "{start} + {m}min -> {due}"
                );
                previous = due;
            }
        }
    }

    #[test]
    fn long_slas_and_long_holiday_lists_stay_fast_and_correct() {
        // Every Monday and Tuesday for 40 years is a holiday: 3 working days a week remain.
        let holidays: Vec<NaiveDate> = (0..40 * 52)
            .flat_map(|w| {
                let monday = date(2020, 1, 6) + Days::new(7 * w);
                [monday, monday + Days::new(1)]
            })
            .collect();
        let cal = saudi_with(&holidays);
        let start = local(Riyadh, 2025, 9, 21, 8, 0);
        // 480 business hours = 60 working days = 20 weeks.
        let due = business(&cal, start, hours(480));
        assert_eq!(due, local(Riyadh, 2026, 2, 5, 16, 0));
        assert_eq!(cal.business_between(start, due), hours(480));
    }

    #[test]
    fn calendars_without_reachable_working_time_give_none_instead_of_hanging() {
        let week = date(2025, 9, 21);
        let holidays = (0..SEARCH_HORIZON_DAYS + 10).map(|i| week + Days::new(i));
        let cal =
            WorkCalendar::new(Riyadh, &[Weekday::Sun], hm(8, 0), hm(16, 0), holidays).unwrap();
        let start = ry(9, 21, 9, 0);
        assert_eq!(cal.next_working_instant(start), None);
        assert_eq!(cal.add_business(start, hours(1)), None);
        assert!(!cal.is_working_instant(start));
    }

    #[test]
    fn extreme_instants_and_durations_do_not_panic() {
        let cal = WorkCalendar::saudi_default();
        let ny = every_day(New_York, hm(9, 0), hm(17, 0));
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        for c in [&cal, &ny] {
            for t in [max, min, max - hours(30), min + hours(30)] {
                let _ = c.is_working_instant(t);
                let _ = c.next_working_instant(t);
                for d in [
                    Duration::MAX,
                    Duration::MIN,
                    hours(1),
                    Duration::nanoseconds(1),
                ] {
                    for mode in [HourMode::Business, HourMode::Calendar] {
                        let _ = due_at(c, mode, t, d, &[Pause::open(t), Pause::closed(min, max)]);
                        let _ = due_at(c, mode, t, d, &[]);
                    }
                }
                let _ = c.business_between(t, t + Duration::days(3).min(max - t));
                let _ = elapsed(c, HourMode::Calendar, min, max, &[Pause::open(t)]);
            }
        }
        assert_eq!(
            due_at(&cal, HourMode::Calendar, max - hours(1), hours(2), &[]),
            None
        );
        assert_eq!(elapsed(&cal, HourMode::Calendar, min, max, &[]), max - min);
    }

    #[test]
    fn a_date_skipped_by_the_zone_has_no_working_time() {
        // Samoa jumped from 29 to 31 December 2011; 30 December never happened locally.
        let apia = every_day(chrono_tz::Pacific::Apia, hm(8, 0), hm(16, 0));
        let a = local(chrono_tz::Pacific::Apia, 2011, 12, 29, 0, 0);
        let b = local(chrono_tz::Pacific::Apia, 2012, 1, 1, 0, 0);
        assert_eq!(apia.business_between(a, b), hours(16));
        assert_eq!(
            apia.add_business(
                local(chrono_tz::Pacific::Apia, 2011, 12, 29, 12, 0),
                hours(8)
            ),
            Some(local(chrono_tz::Pacific::Apia, 2011, 12, 31, 12, 0))
        );
    }

    #[test]
    fn london_spring_forward_outside_working_hours_keeps_a_full_day() {
        let cal = every_day(London, hm(8, 0), hm(16, 0));
        let sat = local(London, 2025, 3, 29, 8, 0);
        let mon = local(London, 2025, 3, 31, 8, 0);
        assert_eq!(cal.business_between(sat, mon), hours(16));
        // Sunday's window is 07:00Z-15:00Z (BST).
        assert_eq!(
            cal.add_business(local(London, 2025, 3, 29, 12, 0), hours(8)),
            Some(local(London, 2025, 3, 30, 12, 0))
        );
        assert_eq!(
            cal.add_business(local(London, 2025, 3, 29, 12, 0), hours(8)),
            Some("2025-03-30T11:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn london_spring_forward_inside_working_hours_shortens_the_day_by_an_hour() {
        let cal = every_day(London, hm(0, 0), hm(6, 0));
        let sun = local(London, 2025, 3, 30, 0, 0);
        let mon = local(London, 2025, 3, 31, 0, 0);
        assert_eq!(cal.business_between(sun, mon), hours(5));
        assert_eq!(
            cal.add_business(sun, hours(5)),
            Some(local(London, 2025, 3, 30, 6, 0))
        );
        assert_eq!(
            cal.add_business(sun, hours(6)),
            Some(local(London, 2025, 3, 31, 1, 0))
        );
        // 00:30 GMT + 1h is 02:30 BST: the skipped hour is not counted.
        assert_eq!(
            cal.add_business(local(London, 2025, 3, 30, 0, 30), hours(1)),
            Some(local(London, 2025, 3, 30, 2, 30))
        );
    }

    #[test]
    fn working_hours_starting_inside_the_spring_gap_open_when_the_gap_ends() {
        let cal = every_day(London, hm(1, 30), hm(3, 0));
        // 01:30 does not exist on 30 March 2025; the day opens at 02:00 BST (01:00Z).
        let opens: DateTime<Utc> = "2025-03-30T01:00:00Z".parse().unwrap();
        assert_eq!(
            cal.next_working_instant(local(London, 2025, 3, 30, 0, 0)),
            Some(opens)
        );
        assert!(!cal.is_working_instant(opens - Duration::seconds(1)));
        assert!(cal.is_working_instant(opens));
        assert_eq!(
            cal.business_between(opens - hours(2), opens + hours(3)),
            hours(1)
        );
        // A window that falls entirely inside the gap is empty rather than a panic.
        let gap_only = every_day(London, hm(1, 10), hm(1, 50));
        let sat = local(London, 2025, 3, 29, 12, 0);
        let mon = local(London, 2025, 3, 31, 12, 0);
        assert_eq!(gap_only.business_between(sat, mon), Duration::minutes(40));
    }

    #[test]
    fn london_fall_back_inside_working_hours_lengthens_the_day_by_an_hour() {
        let cal = every_day(London, hm(0, 0), hm(6, 0));
        let sun = local(London, 2025, 10, 26, 0, 0);
        let mon = local(London, 2025, 10, 27, 0, 0);
        assert_eq!(cal.business_between(sun, mon), hours(7));
        assert_eq!(
            cal.add_business(sun, hours(7)),
            Some(local(London, 2025, 10, 26, 6, 0))
        );
        // Hours 01:00-02:00 are entirely the repeated hour: both copies are worked.
        let repeated = every_day(London, hm(1, 0), hm(2, 0));
        assert_eq!(repeated.business_between(sun, mon), hours(2));
        assert!(repeated.is_working_instant("2025-10-26T00:30:00Z".parse().unwrap()));
        assert!(repeated.is_working_instant("2025-10-26T01:30:00Z".parse().unwrap()));
        // A day_end inside the repeated hour closes at its second (GMT) occurrence.
        let ends_in_repeat = every_day(London, hm(0, 0), hm(1, 30));
        assert_eq!(
            ends_in_repeat.business_between(sun, mon),
            Duration::minutes(150)
        );
    }

    #[test]
    fn london_fall_back_outside_working_hours_keeps_a_full_day() {
        let cal = every_day(London, hm(8, 0), hm(16, 0));
        let sat = local(London, 2025, 10, 25, 8, 0);
        let mon = local(London, 2025, 10, 27, 8, 0);
        assert_eq!(cal.business_between(sat, mon), hours(16));
        assert_eq!(
            cal.add_business(local(London, 2025, 10, 25, 12, 0), hours(8)),
            Some(local(London, 2025, 10, 26, 12, 0))
        );
    }

    #[test]
    fn calendar_mode_across_dst_counts_real_hours_not_wall_clock_hours() {
        let cal = every_day(London, hm(8, 0), hm(16, 0));
        assert_eq!(
            due_at(
                &cal,
                HourMode::Calendar,
                local(London, 2025, 3, 29, 12, 0),
                hours(24),
                &[]
            ),
            Some(local(London, 2025, 3, 30, 13, 0))
        );
        assert_eq!(
            due_at(
                &cal,
                HourMode::Calendar,
                local(London, 2025, 10, 25, 12, 0),
                hours(24),
                &[]
            ),
            Some(local(London, 2025, 10, 26, 11, 0))
        );
        let ny = every_day(New_York, hm(9, 0), hm(17, 0));
        assert_eq!(
            due_at(
                &ny,
                HourMode::Calendar,
                local(New_York, 2025, 3, 8, 12, 0),
                hours(24),
                &[]
            ),
            Some(local(New_York, 2025, 3, 9, 13, 0))
        );
        assert_eq!(
            elapsed(
                &ny,
                HourMode::Calendar,
                local(New_York, 2025, 11, 1, 12, 0),
                local(New_York, 2025, 11, 2, 12, 0),
                &[]
            ),
            hours(25)
        );
    }

    #[test]
    fn new_york_business_hours_are_local_on_both_sides_of_each_transition() {
        let ny = WorkCalendar::new(
            New_York,
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            hm(9, 0),
            hm(17, 0),
            [],
        )
        .unwrap();
        // Friday 15:00 EST + 4h -> Monday 11:00 EDT, across the 9 March spring-forward.
        assert_eq!(
            ny.add_business(local(New_York, 2025, 3, 7, 15, 0), hours(4)),
            Some(local(New_York, 2025, 3, 10, 11, 0))
        );
        // Friday 15:00 EDT + 4h -> Monday 11:00 EST, across the 2 November fall-back.
        assert_eq!(
            ny.add_business(local(New_York, 2025, 10, 31, 15, 0), hours(4)),
            Some(local(New_York, 2025, 11, 3, 11, 0))
        );
        // A transition-hour workday (01:00-04:00) on the spring Sunday is two real hours long.
        let night = every_day(New_York, hm(1, 0), hm(4, 0));
        assert_eq!(
            night.business_between(
                local(New_York, 2025, 3, 9, 0, 0),
                local(New_York, 2025, 3, 10, 0, 0)
            ),
            hours(2)
        );
        assert_eq!(
            night.business_between(
                local(New_York, 2025, 11, 2, 0, 0),
                local(New_York, 2025, 11, 3, 0, 0)
            ),
            hours(4)
        );
    }

    #[test]
    fn business_pause_over_a_dst_transition_credits_the_real_working_time() {
        let cal = every_day(London, hm(0, 0), hm(6, 0));
        let start = local(London, 2025, 3, 29, 0, 0);
        // Paused for all of Sunday's (five-hour) window.
        let pause = Pause::closed(
            local(London, 2025, 3, 29, 23, 0),
            local(London, 2025, 3, 31, 0, 0),
        );
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(12), &[pause]),
            Some(local(London, 2025, 3, 31, 6, 0))
        );
        assert_eq!(
            due_at(&cal, HourMode::Business, start, hours(12), &[]),
            Some(local(London, 2025, 3, 31, 1, 0))
        );
    }
}
