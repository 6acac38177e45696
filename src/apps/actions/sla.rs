//! SLA arithmetic of actions, pure: which SLA config applies, when an action is due, reminded and
//! escalated, and how far along its clock is. Dates come from `platform::calendar` with the hospital's
//! working calendar; pauses (time spent WAITING) are credited back.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::sla_config;
use crate::platform::calendar::{self, HourMode, Pause, WorkCalendar};

/// What an action's clock runs on (copied onto the action when it is created, so later config changes
/// do not move the deadlines of work already under way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub hours: i32,
    pub reminder_hours_before: i32,
    /// Time after an escalation before the next one; 0 = the SLA's own hours.
    pub escalation_interval_hours: i32,
    pub mode: HourMode,
}

impl Policy {
    pub fn interval(&self) -> i32 {
        if self.escalation_interval_hours > 0 {
            self.escalation_interval_hours
        } else {
            self.hours.max(1)
        }
    }
}

pub fn mode_of(code: &str) -> HourMode {
    if code == "CALENDAR" {
        HourMode::Calendar
    } else {
        HourMode::Business
    }
}

pub fn mode_code(m: HourMode) -> &'static str {
    match m {
        HourMode::Business => "BUSINESS",
        HourMode::Calendar => "CALENDAR",
    }
}

/// The built-in policy when a hospital has no matching SLA config (business hours by priority).
pub fn fallback(priority: &str) -> Policy {
    let hours = match priority {
        "CRITICAL" => 8,
        "HIGH" => 16,
        "LOW" => 80,
        _ => 40,
    };
    Policy {
        hours,
        reminder_hours_before: (hours / 4).max(1),
        escalation_interval_hours: 8,
        mode: HourMode::Business,
    }
}

impl From<&sla_config::Model> for Policy {
    fn from(c: &sla_config::Model) -> Self {
        Policy {
            hours: c.hours,
            reminder_hours_before: c.reminder_hours_before,
            escalation_interval_hours: c.escalation_interval_hours,
            mode: mode_of(&c.hour_mode),
        }
    }
}

/// The most specific active config of the hospital matching the action: each of department,
/// priority and severity either matches or is left open on the config; a matching department counts
/// more than a matching priority, which counts more than a matching severity. Ties go to the oldest.
pub fn pick<'a>(
    configs: &'a [sla_config::Model],
    department: Option<uuid::Uuid>,
    priority: &str,
    severity: &str,
) -> Option<&'a sla_config::Model> {
    configs
        .iter()
        .filter(|c| c.active && c.deleted_at.is_none())
        .filter_map(|c| {
            let mut score = 0;
            match c.department_id {
                Some(d) if Some(d) == department => score += 4,
                Some(_) => return None,
                None => {}
            }
            match c.priority.as_deref() {
                Some(p) if p == priority => score += 2,
                Some(_) => return None,
                None => {}
            }
            match c.severity.as_deref() {
                Some(s) if s == severity => score += 1,
                Some(_) => return None,
                None => {}
            }
            Some((score, c))
        })
        .max_by(|(a, x), (b, y)| a.cmp(b).then(y.created_at.cmp(&x.created_at)))
        .map(|(_, c)| c)
}

/// The action's deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub due_at: Option<DateTime<Utc>>,
    pub remind_at: Option<DateTime<Utc>>,
    /// When the next escalation is due: the due date before the first escalation, then one interval
    /// (in the same hours) after the last one.
    pub escalate_at: Option<DateTime<Utc>>,
}

/// Deadlines for an SLA started at `start`, with `pauses` credited back. `None` dates while the
/// clock is stopped (an open pause).
pub fn times(
    cal: &WorkCalendar,
    p: &Policy,
    start: DateTime<Utc>,
    pauses: &[Pause],
    escalated_at: Option<DateTime<Utc>>,
) -> Times {
    let due_at = calendar::due_at(
        cal,
        p.mode,
        start,
        Duration::hours(i64::from(p.hours)),
        pauses,
    );
    let remind_at = match (due_at, p.reminder_hours_before) {
        (Some(d), n) if n > 0 => Some(d - Duration::hours(i64::from(n))),
        _ => None,
    };
    let escalate_at = match escalated_at {
        None => due_at,
        Some(t) => calendar::due_at(
            cal,
            p.mode,
            t,
            Duration::hours(i64::from(p.interval())),
            pauses,
        ),
    };
    Times {
        due_at,
        remind_at,
        escalate_at,
    }
}

/// A stored pause interval (`pauses` column).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredPause {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

pub fn parse_pauses(v: &serde_json::Value) -> Vec<Pause> {
    serde_json::from_value::<Vec<StoredPause>>(v.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| Pause {
            start: p.start,
            end: p.end,
        })
        .collect()
}

pub fn store_pauses(p: &[Pause]) -> serde_json::Value {
    serde_json::to_value(
        p.iter()
            .map(|p| StoredPause {
                start: p.start,
                end: p.end,
            })
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// Hours before the due date within which an open action counts as "due soon" on the board.
pub const DUE_SOON_HOURS: i64 = 24;

/// The board's SLA badge.
pub fn status(
    action_status: &str,
    now: DateTime<Utc>,
    due_at: Option<DateTime<Utc>>,
) -> &'static str {
    use super::model::{CANCELLED, CLOSED, WAITING};
    match (action_status, due_at) {
        (CLOSED | CANCELLED, _) => "DONE",
        (WAITING, _) => "PAUSED",
        (_, None) => "NONE",
        (_, Some(d)) if d <= now => "OVERDUE",
        (_, Some(d)) if d - now <= Duration::hours(DUE_SOON_HOURS) => "DUE_SOON",
        _ => "ON_TRACK",
    }
}

/// Percentage of the SLA used (0–100, capped), counted in the action's own hours minus pauses.
pub fn progress(
    cal: &WorkCalendar,
    p: &Policy,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    pauses: &[Pause],
) -> u32 {
    let total = Duration::hours(i64::from(p.hours.max(1)));
    let used = calendar::elapsed(cal, p.mode, start, now, pauses);
    let pct = used.num_seconds().saturating_mul(100) / total.num_seconds().max(1);
    u32::try_from(pct.clamp(0, 100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime, TimeZone, Weekday};
    use chrono_tz::Asia::Riyadh;
    use uuid::Uuid;

    fn ry(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Riyadh
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn saudi(holidays: &[NaiveDate]) -> WorkCalendar {
        WorkCalendar::new(
            Riyadh,
            &[
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
            ],
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
            holidays.iter().copied(),
        )
        .unwrap()
    }

    fn policy(hours: i32) -> Policy {
        Policy {
            hours,
            reminder_hours_before: 2,
            escalation_interval_hours: 4,
            mode: HourMode::Business,
        }
    }

    #[test]
    fn thursday_afternoon_plus_eight_business_hours_is_sunday_afternoon() {
        // 2026-11-26 is a Thursday.
        let t = times(&saudi(&[]), &policy(8), ry(2026, 11, 26, 15), &[], None);
        assert_eq!(t.due_at, Some(ry(2026, 11, 29, 15)));
        assert_eq!(t.remind_at, Some(ry(2026, 11, 29, 13)));
        assert_eq!(t.escalate_at, t.due_at);
    }

    #[test]
    fn a_holiday_on_that_sunday_moves_it_to_monday() {
        let cal = saudi(&[NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()]);
        let t = times(&cal, &policy(8), ry(2026, 11, 26, 15), &[], None);
        assert_eq!(t.due_at, Some(ry(2026, 11, 30, 15)));
    }

    #[test]
    fn the_next_escalation_is_one_interval_after_the_last() {
        let t = times(
            &saudi(&[]),
            &policy(8),
            ry(2026, 11, 26, 15),
            &[],
            Some(ry(2026, 11, 29, 15)),
        );
        // 15:00 + 4 business hours = 1 hour on Sunday, 3 on Monday from 08:00.
        assert_eq!(t.escalate_at, Some(ry(2026, 11, 30, 11)));
    }

    #[test]
    fn waiting_time_is_credited_back() {
        let cal = saudi(&[]);
        let start = ry(2026, 11, 29, 8);
        let pause = Pause::closed(ry(2026, 11, 29, 10), ry(2026, 11, 29, 12));
        let t = times(&cal, &policy(4), start, &[pause], None);
        assert_eq!(t.due_at, Some(ry(2026, 11, 29, 14)));
        let open = times(
            &cal,
            &policy(4),
            start,
            &[Pause::open(ry(2026, 11, 29, 10))],
            None,
        );
        assert_eq!(open.due_at, None);
    }

    fn cfg(d: Option<Uuid>, p: Option<&str>, s: Option<&str>, hours: i32) -> sla_config::Model {
        let now = Utc::now();
        sla_config::Model {
            id: Uuid::now_v7(),
            hospital_id: Uuid::nil(),
            department_id: d,
            priority: p.map(str::to_string),
            severity: s.map(str::to_string),
            hours,
            reminder_hours_before: 0,
            escalation_interval_hours: 0,
            hour_mode: "BUSINESS".into(),
            active: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    #[test]
    fn the_most_specific_config_wins() {
        let d = Uuid::now_v7();
        let all = vec![
            cfg(None, None, None, 72),
            cfg(None, Some("HIGH"), None, 24),
            cfg(None, Some("HIGH"), Some("CRITICAL"), 8),
            cfg(Some(d), None, None, 48),
            cfg(None, Some("LOW"), None, 120),
        ];
        assert_eq!(pick(&all, None, "HIGH", "LOW").unwrap().hours, 24);
        assert_eq!(pick(&all, None, "HIGH", "CRITICAL").unwrap().hours, 8);
        assert_eq!(pick(&all, Some(d), "HIGH", "CRITICAL").unwrap().hours, 48);
        assert_eq!(pick(&all, None, "MEDIUM", "LOW").unwrap().hours, 72);
        assert!(pick(&all[1..3], None, "MEDIUM", "LOW").is_none());
    }

    #[test]
    fn badges_follow_the_clock() {
        let now = ry(2026, 11, 26, 12);
        assert_eq!(status("OPEN", now, Some(now)), "OVERDUE");
        assert_eq!(
            status("OPEN", now, Some(now + Duration::hours(3))),
            "DUE_SOON"
        );
        assert_eq!(
            status("IN_PROGRESS", now, Some(now + Duration::hours(30))),
            "ON_TRACK"
        );
        assert_eq!(status("WAITING", now, Some(now)), "PAUSED");
        assert_eq!(status("CLOSED", now, Some(now)), "DONE");
    }
}
