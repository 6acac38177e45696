//! Hospitals and their settings. Only PX_ADMIN creates hospitals (the permission table says so);
//! creating one creates its settings row with the SPEC defaults in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveTime, Weekday};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{Form, Mode, Reach, audit, changed};
use crate::apps::organizations::model::{
    ACTION_TRIGGERS, CHANNELS, WEEKDAYS, choice_error, hospital, hospital_settings,
};
use crate::apps::organizations::wire::{
    HospitalIn, HospitalOut, HospitalSettings, HospitalSettingsIn,
};
use crate::platform::calendar::WorkCalendar;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, Role, ScopeColumns};
use crate::platform::state::AppState;

const CODE_TAKEN: &str = "A hospital with this code already exists.";

fn cols() -> ScopeColumns<hospital::Column> {
    ScopeColumns {
        hospital: Some(hospital::Column::Id),
        department: None,
        physician: None,
        assignee: None,
    }
}

fn spec() -> ListSpec<hospital::Entity> {
    use hospital::Column as C;
    ListSpec {
        search: vec![C::Code, C::NameEn, C::NameAr, C::City],
        ordering: vec![
            ("code", C::Code),
            ("name_en", C::NameEn),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::Code, Order::Asc), (C::Id, Order::Asc)],
        filters: vec![Filter {
            name: "active",
            column: C::Active,
            kind: FilterKind::Bool,
        }],
    }
}

/// The hospitals the caller can see.
///
/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<HospitalOut>> {
    let select = rbac::scoped(
        hospital::Entity::find().filter(hospital::Column::DeletedAt.is_null()),
        p,
        Resource::Hospitals,
        Operation::View,
        cols(),
    )?;
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(Into::into))
}

/// A live hospital within the caller's view scope.
///
/// # Errors
/// 404 when missing, deleted or out of scope.
pub(crate) async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<hospital::Model> {
    rbac::find_visible(
        conn,
        hospital::Entity::find_by_id(id).filter(hospital::Column::DeletedAt.is_null()),
        p,
        Resource::Hospitals,
        cols(),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<HospitalOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

fn apply(form: &mut Form, input: HospitalIn, m: &mut hospital::Model) {
    form.text("code", input.code, &mut m.code, 32);
    form.text("name_en", input.name_en, &mut m.name_en, 200);
    form.text("name_ar", input.name_ar, &mut m.name_ar, 200);
    form.opt_text("city", input.city, &mut m.city, 100);
    form.flag(input.active, &mut m.active);
}

async fn code_taken<C: ConnectionTrait>(conn: &C, code: &str, except: Uuid) -> AppResult<bool> {
    Ok(hospital::Entity::find()
        .filter(hospital::Column::Code.eq(code))
        .filter(hospital::Column::Id.ne(except))
        .one(conn)
        .await?
        .is_some())
}

/// Creates a hospital and its default settings.
///
/// # Errors
/// 403 unless the caller may create hospitals (PX_ADMIN); 400 with every invalid field.
pub async fn create(state: &AppState, p: &Principal, input: HospitalIn) -> AppResult<HospitalOut> {
    p.require(Resource::Hospitals, Operation::Create)?;
    if !p.scope(Resource::Hospitals, Operation::Create).all {
        // Creating a hospital is global by nature; an API key bound to one hospital cannot.
        return Err(AppError::Forbidden(
            "You do not have permission to perform this action.".into(),
        ));
    }
    let now = state.clock.now();
    let mut m = hospital::Model {
        id: new_id(),
        code: String::new(),
        name_en: String::new(),
        name_ar: String::new(),
        city: String::new(),
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    apply(&mut form, input, &mut m);
    in_txn(&state.db, async move |txn| {
        if !form.has("code") && code_taken(txn, &m.code, m.id).await? {
            form.add("code", CODE_TAKEN);
        }
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        settings_row(&defaults(saved.id), now)
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await?;
        audit(
            txn,
            state,
            p,
            "hospital.created",
            saved.id,
            Some(saved.id),
            json!({"code": saved.code}),
        )
        .await?;
        Ok::<_, AppError>(saved.into())
    })
    .await
}

/// PATCH (partial) or PUT (full) of a hospital.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: HospitalIn,
    mode: Mode,
) -> AppResult<HospitalOut> {
    in_txn(&state.db, async |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(Resource::Hospitals, Operation::Edit, Reach::hospital(id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        apply(&mut form, input, &mut m);
        if !form.has("code") && m.code != before.code && code_taken(txn, &m.code, id).await? {
            form.add("code", CODE_TAKEN);
        }
        form.finish()?;
        let fields = changed!(before, m; code, name_en, name_ar, city, active);
        m.updated_at = state.clock.now();
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "hospital.updated",
            id,
            Some(id),
            json!({"fields": fields}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// Soft-deletes a hospital.
///
/// # Errors
/// 404 out of view scope, 403 without delete permission.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(Resource::Hospitals, Operation::Delete, Reach::hospital(id))?;
        let mut am = m.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.update(txn).await?;
        audit(txn, state, p, "hospital.deleted", id, Some(id), json!({})).await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Settings

/// The SPEC defaults for a hospital without a settings row.
pub fn defaults(hospital: Uuid) -> HospitalSettings {
    HospitalSettings {
        hospital,
        negative_threshold: 60,
        survey_link_validity_days: 30,
        reminder_after_days: 3,
        quiet_hours_start: "22:00".into(),
        quiet_hours_end: "08:00".into(),
        default_channel: "SMS".into(),
        enabled_channels: vec!["SMS".into(), "WHATSAPP".into(), "EMAIL".into()],
        evidence_required: true,
        action_triggers: ACTION_TRIGGERS
            .iter()
            .map(|t| (t.to_string(), true))
            .collect(),
        call_rating_threshold: 2,
        escalation_chain: vec![
            Role::DepartmentManager.code().into(),
            Role::HospitalAdmin.code().into(),
            Role::PxAdmin.code().into(),
        ],
        working_days: ["SUN", "MON", "TUE", "WED", "THU"]
            .map(String::from)
            .to_vec(),
        work_start: "08:00".into(),
        work_end: "16:00".into(),
        timezone: "Asia/Riyadh".into(),
        holidays: vec![],
        created_at: None,
        updated_at: None,
    }
}

fn settings_row(
    s: &HospitalSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> hospital_settings::Model {
    hospital_settings::Model {
        hospital_id: s.hospital,
        negative_threshold: s.negative_threshold,
        survey_link_validity_days: s.survey_link_validity_days,
        reminder_after_days: s.reminder_after_days,
        quiet_hours_start: s.quiet_hours_start.clone(),
        quiet_hours_end: s.quiet_hours_end.clone(),
        default_channel: s.default_channel.clone(),
        enabled_channels: json!(s.enabled_channels),
        evidence_required: s.evidence_required,
        action_triggers: json!(s.action_triggers),
        call_rating_threshold: s.call_rating_threshold,
        escalation_chain: json!(s.escalation_chain),
        working_days: json!(s.working_days),
        work_start: s.work_start.clone(),
        work_end: s.work_end.clone(),
        timezone: s.timezone.clone(),
        holidays: json!(s.holidays),
        created_at: s.created_at.unwrap_or(now),
        updated_at: now,
    }
}

fn from_row(m: hospital_settings::Model) -> HospitalSettings {
    let d = defaults(m.hospital_id);
    let mut triggers = d.action_triggers.clone();
    let stored: BTreeMap<String, bool> =
        serde_json::from_value(m.action_triggers).unwrap_or_default();
    triggers.extend(stored);
    HospitalSettings {
        hospital: m.hospital_id,
        negative_threshold: m.negative_threshold,
        survey_link_validity_days: m.survey_link_validity_days,
        reminder_after_days: m.reminder_after_days,
        quiet_hours_start: m.quiet_hours_start,
        quiet_hours_end: m.quiet_hours_end,
        default_channel: m.default_channel,
        enabled_channels: serde_json::from_value(m.enabled_channels).unwrap_or(d.enabled_channels),
        evidence_required: m.evidence_required,
        action_triggers: triggers,
        call_rating_threshold: m.call_rating_threshold,
        escalation_chain: serde_json::from_value(m.escalation_chain).unwrap_or(d.escalation_chain),
        working_days: serde_json::from_value(m.working_days).unwrap_or(d.working_days),
        work_start: m.work_start,
        work_end: m.work_end,
        timezone: m.timezone,
        holidays: serde_json::from_value(m.holidays).unwrap_or_default(),
        created_at: Some(m.created_at),
        updated_at: Some(m.updated_at),
    }
}

/// The settings of `hospital` (the defaults when it has no row yet). No permission check: for other
/// modules' services, which have checked their own.
///
/// # Errors
/// Database errors.
pub async fn settings_for<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
) -> AppResult<HospitalSettings> {
    Ok(hospital_settings::Entity::find_by_id(hospital)
        .one(conn)
        .await?
        .map_or_else(|| defaults(hospital), from_row))
}

/// # Errors
/// 404 when the hospital is out of view scope, 403 without permission to view its settings.
pub async fn get_settings(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<HospitalSettings> {
    visible(&state.db, p, id).await?;
    p.allow(
        Resource::HospitalSettings,
        Operation::View,
        Reach::hospital(id),
    )?;
    settings_for(&state.db, id).await
}

/// Validates and saves a partial settings change.
///
/// # Errors
/// 404 out of scope, 403 without configure permission, 400 with every invalid field.
pub async fn update_settings(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: HospitalSettingsIn,
) -> AppResult<HospitalSettings> {
    in_txn(&state.db, async |txn| {
        visible(txn, p, id).await?;
        p.allow(
            Resource::HospitalSettings,
            Operation::Configure,
            Reach::hospital(id),
        )?;
        let before = settings_for(txn, id).await?;
        let mut s = before.clone();
        let mut form = Form::new(Mode::Patch);
        apply_settings(&mut form, input, &mut s);
        form.finish()?;
        let now = state.clock.now();
        let exists = before.created_at.is_some();
        let row = settings_row(&s, now).into_active_model().reset_all();
        let saved = if exists {
            row.update(txn).await?
        } else {
            row.insert(txn).await?
        };
        let fields = changed!(before, s; negative_threshold, survey_link_validity_days,
            reminder_after_days, quiet_hours_start, quiet_hours_end, default_channel,
            enabled_channels, evidence_required, action_triggers, call_rating_threshold,
            escalation_chain, working_days, work_start, work_end, timezone, holidays);
        audit(
            txn,
            state,
            p,
            "hospital_settings.updated",
            id,
            Some(id),
            json!({"fields": fields}),
        )
        .await?;
        Ok(from_row(saved))
    })
    .await
}

fn int_in(form: &mut Form, field: &str, given: Option<i64>, slot: &mut i32, lo: i32, hi: i32) {
    if let Some(v) = given {
        match i32::try_from(v) {
            Ok(v) if (lo..=hi).contains(&v) => *slot = v,
            _ => form.add(
                field,
                format!("Ensure this value is between {lo} and {hi}."),
            ),
        }
    }
}

fn hhmm(v: &str) -> Option<NaiveTime> {
    if v.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(v, "%H:%M").ok()
}

fn time(form: &mut Form, field: &str, given: Option<String>, slot: &mut String) {
    if let Some(v) = given {
        match hhmm(v.trim()) {
            Some(_) => *slot = v.trim().to_string(),
            None => form.add(field, "Use a 24-hour time as HH:MM, e.g. 08:00."),
        }
    }
}

/// A non-empty list of distinct values from `allowed`.
fn codes(
    form: &mut Form,
    field: &str,
    given: Option<Vec<String>>,
    slot: &mut Vec<String>,
    allowed: &[&str],
) {
    let Some(v) = given else { return };
    if v.is_empty() {
        form.add(field, "This list may not be empty.");
        return;
    }
    let mut seen = BTreeSet::new();
    for c in &v {
        if !allowed.contains(&c.as_str()) {
            form.add(field, choice_error(c, allowed));
        } else if !seen.insert(c.as_str()) {
            form.add(field, format!("\"{c}\" is listed twice."));
        }
    }
    if !form.has(field) {
        *slot = v;
    }
}

fn apply_settings(form: &mut Form, i: HospitalSettingsIn, s: &mut HospitalSettings) {
    int_in(
        form,
        "negative_threshold",
        i.negative_threshold,
        &mut s.negative_threshold,
        0,
        100,
    );
    int_in(
        form,
        "survey_link_validity_days",
        i.survey_link_validity_days,
        &mut s.survey_link_validity_days,
        1,
        365,
    );
    int_in(
        form,
        "reminder_after_days",
        i.reminder_after_days,
        &mut s.reminder_after_days,
        0,
        365,
    );
    int_in(
        form,
        "call_rating_threshold",
        i.call_rating_threshold,
        &mut s.call_rating_threshold,
        1,
        5,
    );
    time(
        form,
        "quiet_hours_start",
        i.quiet_hours_start,
        &mut s.quiet_hours_start,
    );
    time(
        form,
        "quiet_hours_end",
        i.quiet_hours_end,
        &mut s.quiet_hours_end,
    );
    time(form, "work_start", i.work_start, &mut s.work_start);
    time(form, "work_end", i.work_end, &mut s.work_end);
    if !form.has("work_start")
        && !form.has("work_end")
        && let (Some(a), Some(b)) = (hhmm(&s.work_start), hhmm(&s.work_end))
        && a >= b
    {
        form.add("work_end", "The working day must end after it starts.");
    }
    form.flag(i.evidence_required, &mut s.evidence_required);
    codes(
        form,
        "enabled_channels",
        i.enabled_channels,
        &mut s.enabled_channels,
        CHANNELS,
    );
    if let Some(c) = i.default_channel {
        if CHANNELS.contains(&c.as_str()) {
            s.default_channel = c;
        } else {
            form.add("default_channel", choice_error(&c, CHANNELS));
        }
    }
    if !form.has("default_channel")
        && !form.has("enabled_channels")
        && !s.enabled_channels.contains(&s.default_channel)
    {
        form.add(
            "default_channel",
            "The default channel must be one of the enabled channels.",
        );
    }
    if let Some(t) = i.action_triggers {
        for (k, v) in t {
            if ACTION_TRIGGERS.contains(&k.as_str()) {
                s.action_triggers.insert(k, v);
            } else {
                form.add("action_triggers", choice_error(&k, ACTION_TRIGGERS));
            }
        }
    }
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
    codes(
        form,
        "escalation_chain",
        i.escalation_chain,
        &mut s.escalation_chain,
        &roles,
    );
    codes(
        form,
        "working_days",
        i.working_days,
        &mut s.working_days,
        WEEKDAYS,
    );
    if let Some(tz) = i.timezone {
        match tz.trim().parse::<chrono_tz::Tz>() {
            Ok(_) => s.timezone = tz.trim().to_string(),
            Err(_) => form.add(
                "timezone",
                format!(
                    "\"{tz}\" is not a known time zone (use an IANA name such as Asia/Riyadh)."
                ),
            ),
        }
    }
    if let Some(h) = i.holidays {
        let mut days = BTreeSet::new();
        for d in &h {
            match NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
                Ok(day) => {
                    days.insert(day);
                }
                Err(_) => form.add("holidays", format!("\"{d}\" is not a date (YYYY-MM-DD).")),
            }
        }
        if !form.has("holidays") {
            s.holidays = days
                .iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect();
        }
    }
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "SUN" => Weekday::Sun,
        "MON" => Weekday::Mon,
        "TUE" => Weekday::Tue,
        "WED" => Weekday::Wed,
        "THU" => Weekday::Thu,
        "FRI" => Weekday::Fri,
        "SAT" => Weekday::Sat,
        _ => return None,
    })
}

/// The working calendar the settings describe. Settings are validated when saved, so the Saudi default
/// is only a safety net for rows written by hand.
pub fn work_calendar(s: &HospitalSettings) -> WorkCalendar {
    let tz = s.timezone.parse::<chrono_tz::Tz>().ok();
    let days: Vec<Weekday> = s.working_days.iter().filter_map(|d| weekday(d)).collect();
    let holidays = s
        .holidays
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match (tz, hhmm(&s.work_start), hhmm(&s.work_end)) {
        (Some(tz), Some(a), Some(b)) => WorkCalendar::new(tz, &days, a, b, holidays)
            .unwrap_or_else(|e| {
                tracing::warn!(hospital = %s.hospital, error = %e, "invalid stored calendar; using the default");
                WorkCalendar::saudi_default()
            }),
        _ => WorkCalendar::saudi_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(
        body: serde_json::Value,
    ) -> Result<HospitalSettings, crate::platform::error::FieldErrors> {
        let mut s = defaults(Uuid::nil());
        let mut form = Form::new(Mode::Patch);
        apply_settings(&mut form, serde_json::from_value(body).unwrap(), &mut s);
        if form.errors.is_empty() {
            Ok(s)
        } else {
            Err(form.errors)
        }
    }

    #[test]
    fn the_default_calendar_is_the_saudi_week() {
        assert_eq!(
            work_calendar(&defaults(Uuid::nil())),
            WorkCalendar::saudi_default()
        );
    }

    #[test]
    fn valid_changes_apply_and_triggers_merge() {
        let s = patch(
            json!({"negative_threshold": 70, "action_triggers": {"KPI_BREACHED": false},
            "holidays": ["2026-03-30", "2026-03-29"], "timezone": "Asia/Dubai"}),
        )
        .unwrap();
        assert_eq!(s.negative_threshold, 70);
        assert!(!s.action_triggers["KPI_BREACHED"]);
        assert!(s.action_triggers["COMPLAINT_CREATED"]);
        assert_eq!(s.holidays, vec!["2026-03-29", "2026-03-30"]);
    }

    #[test]
    fn every_invalid_setting_is_reported() {
        let e = patch(
            json!({"negative_threshold": 101, "quiet_hours_start": "25:00",
            "work_start": "17:00", "timezone": "Mars/Base", "enabled_channels": ["SMS", "FAX"],
            "escalation_chain": ["BOSS"], "working_days": [], "holidays": ["30/03/2026"],
            "action_triggers": {"NOPE": true}, "call_rating_threshold": 0}),
        )
        .unwrap_err();
        for f in [
            "negative_threshold",
            "quiet_hours_start",
            "work_end",
            "timezone",
            "enabled_channels",
            "escalation_chain",
            "working_days",
            "holidays",
            "action_triggers",
            "call_rating_threshold",
        ] {
            assert!(e.0.contains_key(f), "{f}: {e:?}");
        }
    }

    #[test]
    fn the_default_channel_must_be_enabled() {
        let e = patch(json!({"enabled_channels": ["EMAIL"]})).unwrap_err();
        assert!(e.0.contains_key("default_channel"));
        assert!(patch(json!({"enabled_channels": ["EMAIL"], "default_channel": "EMAIL"})).is_ok());
    }
}
