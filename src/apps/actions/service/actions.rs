//! Actions: the board's list (filters, SLA status, saved views), detail, manual create and edit, and
//! the workflow endpoints (transition, assign, escalate, approve, reject) — every status change checked
//! by `workflow::check`, logged and audited in one transaction.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::engine::{self, NewAction, policy_of};
use super::{
    Form, LogEntry, Mode, R, TEMPLATE_ASSIGNED, action_cols, calendar_of, invalid_pk, may, notify,
    record,
};
use crate::apps::accounts;
use crate::apps::actions::model::{
    CATEGORIES, CLOSED, IN_PROGRESS, LOG_APPROVED, LOG_ASSIGNED, LOG_COMMENT, LOG_REJECTED,
    LOG_STATUS, OPEN, PENDING_APPROVAL, PRIORITIES, SEVERITIES, SOURCE_TYPES, STATUSES, WAITING,
    action, attachment, log,
};
use crate::apps::actions::sla;
use crate::apps::actions::wire::{
    ActionIn, ActionOut, ApproveIn, AssignIn, CommentIn, EscalateIn, LogOut, RejectIn, TransitionIn,
};
use crate::apps::actions::workflow::{self, Move};
use crate::apps::organizations;
use crate::platform::audit::Actor;
use crate::platform::calendar::{Pause, WorkCalendar};
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::events::{self, ActionAssigned};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

fn spec() -> ListSpec<action::Entity> {
    use action::Column as C;
    let f = |name, column, kind| Filter { name, column, kind };
    ListSpec {
        search: vec![C::Title],
        ordering: vec![
            ("created_at", C::CreatedAt),
            ("due_at", C::DueAt),
            ("priority", C::Priority),
            ("status", C::Status),
            ("title", C::Title),
            ("escalation_level", C::EscalationLevel),
        ],
        default_ordering: vec![(C::CreatedAt, Order::Desc), (C::Id, Order::Desc)],
        filters: vec![
            f("hospital", C::HospitalId, FilterKind::Uuid),
            f("department", C::DepartmentId, FilterKind::Uuid),
            f("assignee", C::AssigneeId, FilterKind::Uuid),
            f("status", C::Status, FilterKind::Choice(STATUSES)),
            f("priority", C::Priority, FilterKind::Choice(PRIORITIES)),
            f("severity", C::Severity, FilterKind::Choice(SEVERITIES)),
            f("category", C::Category, FilterKind::Choice(CATEGORIES)),
            f("source", C::SourceType, FilterKind::Choice(SOURCE_TYPES)),
            f(
                "source_type",
                C::SourceType,
                FilterKind::Choice(SOURCE_TYPES),
            ),
            f("source_id", C::SourceId, FilterKind::Uuid),
            f("created_after", C::CreatedAt, FilterKind::From),
            f("created_before", C::CreatedAt, FilterKind::To),
            f("due_after", C::DueAt, FilterKind::From),
            f("due_before", C::DueAt, FilterKind::To),
        ],
    }
}

/// The board's SLA filter values.
pub const SLA_FILTERS: &[&str] = &["DUE_SOON", "OVERDUE"];

/// Where a source object is shown in the console.
pub fn source_url(source_type: &str, id: Option<Uuid>) -> Option<String> {
    let id = id?;
    let path = match source_type {
        "SURVEY" | "RESOLUTION_SURVEY" => "surveys/instances",
        "COMPLAINT" => "complaints/complaints",
        "SOCIAL" => "social/mentions",
        "CALL_CENTER" => "callcenter/interactions",
        "KPI" => "analytics/kpi-values",
        _ => return None,
    };
    Some(format!("/{path}/{id}/"))
}

/// Read-model builder: assignee names and hospital calendars, looked up once per page.
pub(crate) async fn outs<C: ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<Utc>,
    rows: Vec<action::Model>,
) -> AppResult<Vec<ActionOut>> {
    let users: Vec<Uuid> = rows.iter().filter_map(|a| a.assignee_id).collect();
    let names = accounts::user_names(conn, &users).await?;
    let mut cals: HashMap<Uuid, WorkCalendar> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for a in rows {
        if let std::collections::hash_map::Entry::Vacant(e) = cals.entry(a.hospital_id) {
            let (_, cal) = calendar_of(conn, a.hospital_id).await?;
            e.insert(cal);
        }
        let cal = cals
            .get(&a.hospital_id)
            .cloned()
            .unwrap_or_else(WorkCalendar::saudi_default);
        let pauses = sla::parse_pauses(&a.pauses);
        let end = a.closed_at.unwrap_or(now);
        // Past the due date the SLA is used up; only then-running clocks need the calendar walk.
        let progress = if a.due_at.is_some_and(|d| end >= d) {
            100
        } else {
            sla::progress(&cal, &policy_of(&a), a.sla_started_at, end, &pauses)
        };
        let paused_now = a.paused_at.map_or(0, |p| (now - p).num_seconds().max(0));
        out.push(ActionOut {
            id: a.id,
            hospital: a.hospital_id,
            department: a.department_id,
            source_url: source_url(&a.source_type, a.source_id),
            assignee_name: a
                .assignee_id
                .and_then(|u| names.get(&u))
                .map(|n| n.name_en.clone()),
            sla_status: sla::status(&a.status, now, a.due_at).into(),
            sla_progress: progress,
            allowed_transitions: workflow::allowed(&a.status)
                .iter()
                .map(|s| s.to_string())
                .collect(),
            paused_seconds: a.paused_seconds + paused_now,
            title: a.title,
            description: a.description,
            source_type: a.source_type,
            source_id: a.source_id,
            category: a.category,
            priority: a.priority,
            severity: a.severity,
            status: a.status,
            assignee: a.assignee_id,
            escalation_level: a.escalation_level,
            hour_mode: a.hour_mode,
            sla_hours: a.sla_hours,
            sla_started_at: a.sla_started_at,
            due_at: a.due_at,
            remind_at: a.remind_at,
            reminded_at: a.reminded_at,
            escalate_at: a.escalate_at,
            escalated_at: a.escalated_at,
            paused_at: a.paused_at,
            approved_by: a.approved_by,
            approved_at: a.approved_at,
            closed_at: a.closed_at,
            created_by: a.created_by,
            created_at: a.created_at,
            updated_at: a.updated_at,
        });
    }
    Ok(out)
}

async fn out<C: ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<Utc>,
    a: action::Model,
) -> AppResult<ActionOut> {
    outs(conn, now, vec![a])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// The board's query: scope, field filters, plus `sla` (DUE_SOON / OVERDUE), `escalated`, `mine`.
fn board_select(
    p: &Principal,
    q: &ListQuery,
    now: chrono::DateTime<Utc>,
) -> AppResult<sea_orm::Select<action::Entity>> {
    use action::Column as C;
    let mut select = rbac::scoped(
        action::Entity::find().filter(C::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        action_cols(),
    )?;
    let mut errors = FieldErrors::new();
    if let Some(v) = q.param("sla") {
        let running = [OPEN, IN_PROGRESS, PENDING_APPROVAL];
        match v.trim().to_ascii_uppercase().as_str() {
            "OVERDUE" => {
                select = select
                    .filter(C::Status.is_in(running))
                    .filter(C::DueAt.lte(now));
            }
            "DUE_SOON" => {
                select = select
                    .filter(C::Status.is_in(running))
                    .filter(C::DueAt.gt(now))
                    .filter(C::DueAt.lte(now + Duration::hours(sla::DUE_SOON_HOURS)));
            }
            other => errors.add(
                "sla",
                organizations::model::choice_error(other, SLA_FILTERS),
            ),
        }
    }
    if let Some(v) = q.param("escalated") {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => select = select.filter(C::EscalationLevel.gt(0)),
            "false" | "0" => select = select.filter(C::EscalationLevel.eq(0)),
            _ => errors.add("escalated", "Must be true or false."),
        }
    }
    if let Some(v) = q.param("mine") {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => select = select.filter(C::AssigneeId.eq(p.user_id)),
            "false" | "0" => {}
            _ => errors.add("mine", "Must be true or false."),
        }
    }
    if let Some(v) = q.param("open") {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => select = select.filter(C::Status.is_not_in([CLOSED, "CANCELLED"])),
            "false" | "0" => {}
            _ => errors.add("open", "Must be true or false."),
        }
    }
    errors.into_result()?;
    Ok(select)
}

/// The board: actions in the caller's scope, filtered and paged.
///
/// # Errors
/// 403 without view permission; 400 for bad filters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<ActionOut>> {
    let now = state.clock.now();
    let select = board_select(p, q, now)?;
    let page = paginate(&state.db, select, &spec(), q).await?;
    let results = outs(&state.db, now, page.results).await?;
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    })
}

/// Counts of the board's saved views for the caller (open work only).
///
/// # Errors
/// 403 without view permission.
pub async fn view_counts(state: &AppState, p: &Principal) -> AppResult<Vec<(&'static str, u64)>> {
    let now = state.clock.now();
    let mut counts = vec![];
    for (name, query) in crate::apps::actions::SAVED_VIEWS {
        let q = ListQuery::parse("/api/actions/actions/", query)?;
        let select = crate::platform::pagination::apply(board_select(p, &q, now)?, &spec(), &q)?;
        counts.push(async move { Ok::<_, AppError>((*name, select.count(&state.db).await?)) });
    }
    // Independent counts: run them side by side on the pool.
    futures::future::join_all(counts)
        .await
        .into_iter()
        .collect()
}

pub(crate) async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<action::Model> {
    rbac::find_visible(
        conn,
        action::Entity::find_by_id(id).filter(action::Column::DeletedAt.is_null()),
        p,
        R,
        action_cols(),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ActionOut> {
    let a = visible(&state.db, p, id).await?;
    out(&state.db, state.clock.now(), a).await
}

async fn check_assignee<C: ConnectionTrait>(
    conn: &C,
    form: &mut Form,
    id: Option<Uuid>,
) -> AppResult<()> {
    if let Some(u) = id
        && !accounts::user_is_active(conn, u).await?
    {
        form.add("assignee", invalid_pk(u));
    }
    Ok(())
}

/// Opens an action by hand (routing decides the assignee unless one is given).
///
/// # Errors
/// 403 without create permission; 400 for invalid fields or an open action of the same source.
pub async fn create(state: &AppState, p: &Principal, i: ActionIn) -> AppResult<ActionOut> {
    p.require(R, Operation::Create)?;
    let mut form = Form::new(Mode::Create);
    let mut hospital = Uuid::nil();
    form.fk("hospital", i.hospital, &mut hospital);
    let mut title = String::new();
    form.text("title", i.title, &mut title, 300);
    let mut description = String::new();
    form.opt_text("description", i.description, &mut description, 10_000);
    let mut source_type = "MANUAL".to_string();
    form.choice(
        "source_type",
        i.source_type,
        &mut source_type,
        SOURCE_TYPES,
        false,
    );
    let mut category = "OTHER".to_string();
    form.choice("category", i.category, &mut category, CATEGORIES, false);
    let mut priority = "MEDIUM".to_string();
    form.choice("priority", i.priority, &mut priority, PRIORITIES, false);
    let mut severity = "MEDIUM".to_string();
    form.choice("severity", i.severity, &mut severity, SEVERITIES, false);
    let department = i.department.flatten();
    let source_id = i.source_id.flatten();
    let assignee = i.assignee.flatten();
    in_txn(&state.db, async move |txn| {
        if !form.has("hospital") {
            let live = organizations::hospital_exists(txn, hospital).await?;
            if !live || !p.reaches(R, Operation::Create, Reach::hospital(hospital)) {
                form.add("hospital", invalid_pk(hospital));
            }
        }
        if let Some(d) = department
            && !form.has("hospital")
            && !organizations::department_in_hospital(txn, hospital, d).await?
        {
            form.add("department", invalid_pk(d));
        }
        check_assignee(txn, &mut form, assignee).await?;
        if let Some(sid) = source_id
            && engine::open_for_source(txn, &source_type, sid)
                .await?
                .is_some()
        {
            form.add("source_id", "This source already has an open action.");
        }
        if !form.has("hospital")
            && !form.has("department")
            && !p.reaches(
                R,
                Operation::Create,
                Reach::department(hospital, department),
            )
        {
            form.add("department", "Outside your reach.");
        }
        form.finish()?;
        let a = engine::open_action(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            NewAction {
                hospital,
                department,
                title,
                description,
                source_type,
                source_id,
                category,
                priority,
                severity,
                assignee,
                created_by: Some(p.user_id),
            },
        )
        .await?;
        out(txn, state.clock.now(), a).await
    })
    .await
}

/// Changes title, description, category, priority or severity (the SLA already running is kept).
///
/// # Errors
/// 404 out of scope; 403 without edit permission; 400 for invalid fields or workflow fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: ActionIn,
) -> AppResult<ActionOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        may(p, Operation::Edit, &before)?;
        let mut form = Form::new(Mode::Patch);
        for (field, given) in [
            (
                "hospital",
                i.hospital.is_some_and(|h| h != before.hospital_id),
            ),
            ("source_type", i.source_type.is_some()),
            ("source_id", i.source_id.is_some()),
        ] {
            if given {
                form.add(field, "This field cannot be changed.");
            }
        }
        if i.assignee.is_some() || i.department.is_some() {
            form.add("assignee", "Use the assign endpoint.");
        }
        let mut a = before.clone();
        form.text("title", i.title, &mut a.title, 300);
        form.opt_text("description", i.description, &mut a.description, 10_000);
        form.choice("category", i.category, &mut a.category, CATEGORIES, false);
        form.choice("priority", i.priority, &mut a.priority, PRIORITIES, false);
        form.choice("severity", i.severity, &mut a.severity, SEVERITIES, false);
        form.finish()?;
        let changed: Vec<&str> = [
            ("title", a.title != before.title),
            ("description", a.description != before.description),
            ("category", a.category != before.category),
            ("priority", a.priority != before.priority),
            ("severity", a.severity != before.severity),
        ]
        .iter()
        .filter(|(_, c)| *c)
        .map(|(f, _)| *f)
        .collect();
        if changed.is_empty() {
            return out(txn, state.clock.now(), before).await;
        }
        let now = state.clock.now();
        let mut am = before.clone().into_active_model();
        am.title = Set(a.title.clone());
        am.description = Set(a.description.clone());
        am.category = Set(a.category.clone());
        am.priority = Set(a.priority.clone());
        am.severity = Set(a.severity.clone());
        am.updated_at = Set(now);
        let saved = am.update(txn).await?;
        record(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &saved,
            LogEntry::new("UPDATED", "").details(json!({ "fields": changed })),
        )
        .await?;
        out(txn, now, saved).await
    })
    .await
}

/// Applies a checked status change: pause bookkeeping, SLA times, closing stamps, log and audit.
// One private helper shared by transition, approve and reject; a struct would only rename the same fields.
#[allow(clippy::too_many_arguments)]
async fn apply_status<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    actor: &Actor,
    before: &action::Model,
    to: &str,
    kind: &str,
    message: &str,
    approver: Option<Uuid>,
) -> AppResult<action::Model> {
    let now = state.clock.now();
    let mut am = before.clone().into_active_model();
    let mut pauses = sla::parse_pauses(&before.pauses);
    if to == WAITING {
        pauses.push(Pause::open(now));
        am.paused_at = Set(Some(now));
    }
    if before.status == WAITING {
        // Resuming credits the time spent waiting: close the pause and recompute the deadlines.
        if let Some(last) = pauses.iter_mut().rev().find(|p| p.end.is_none()) {
            last.end = Some(now);
        }
        let waited = before
            .paused_at
            .map_or(0, |p| (now - p).num_seconds().max(0));
        am.paused_seconds = Set(before.paused_seconds + waited);
        am.paused_at = Set(None);
        let (_, cal) = calendar_of(conn, before.hospital_id).await?;
        let t = sla::times(
            &cal,
            &policy_of(before),
            before.sla_started_at,
            &pauses,
            before.escalated_at,
        );
        am.due_at = Set(t.due_at);
        am.escalate_at = Set(t.escalate_at);
        if before.reminded_at.is_none() {
            am.remind_at = Set(t.remind_at);
        }
    }
    am.pauses = Set(sla::store_pauses(&pauses));
    am.status = Set(to.to_string());
    if !workflow::is_open(to) {
        am.closed_at = Set(Some(now));
    }
    if to == CLOSED {
        am.approved_by = Set(approver);
        am.approved_at = Set(Some(now));
    }
    am.updated_at = Set(now);
    let saved = am.update(conn).await?;
    record(
        conn,
        state.clock.as_ref(),
        actor,
        &saved,
        LogEntry::new(kind, message).status(&before.status, to),
    )
    .await?;
    Ok(saved)
}

fn note(v: Option<String>) -> AppResult<String> {
    let v = v.unwrap_or_default().trim().to_string();
    if v.chars().count() > 5000 {
        return Err(AppError::field(
            "note",
            "Ensure this field has no more than 5000 characters.",
        ));
    }
    Ok(v)
}

/// `POST …/transition/ {"status", "note"}`: OPEN → IN_PROGRESS ⇄ WAITING → PENDING_APPROVAL,
/// CANCELLED from any open status. CLOSED only through `approve`.
///
/// # Errors
/// 404 out of scope; 403 without transition permission; 400 `{"status": ["cannot move from X to Y;
/// allowed: A, B"]}` for an unknown status or an illegal move.
pub async fn transition(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: TransitionIn,
) -> AppResult<ActionOut> {
    let note = note(i.note)?;
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        may(p, Operation::Transition, &before)?;
        let Some(to) = i.status.map(|s| s.trim().to_ascii_uppercase()) else {
            return Err(AppError::field("status", "This field is required."));
        };
        let to = workflow::check(&before.status, Move::To(&to))
            .map_err(|m| AppError::field("status", m))?;
        let saved = apply_status(
            txn,
            state,
            &Actor::of(p),
            &before,
            to,
            LOG_STATUS,
            &note,
            None,
        )
        .await?;
        out(txn, state.clock.now(), saved).await
    })
    .await
}

/// `POST …/approve/ {"note"}`: PENDING_APPROVAL → CLOSED, by a role that may approve, and only with
/// evidence attached when the hospital requires it.
///
/// # Errors
/// 404 out of scope; 403 without approve permission; 400 from another status or without evidence.
pub async fn approve(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: ApproveIn,
) -> AppResult<ActionOut> {
    let note = note(i.note)?;
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Approve, super::reach(&before))?;
        let to = workflow::check(&before.status, Move::Approve)
            .map_err(|m| AppError::field("status", m))?;
        let (settings, _) = calendar_of(txn, before.hospital_id).await?;
        if settings.evidence_required {
            let evidence = attachment::Entity::find()
                .filter(attachment::Column::ActionId.eq(before.id))
                .filter(attachment::Column::IsEvidence.eq(true))
                .filter(attachment::Column::DeletedAt.is_null())
                .count(txn)
                .await?;
            if evidence == 0 {
                return Err(AppError::field(
                    "evidence",
                    "This hospital requires evidence before an action is closed: attach at least one evidence file.",
                ));
            }
        }
        let saved = apply_status(
            txn,
            state,
            &Actor::of(p),
            &before,
            to,
            LOG_APPROVED,
            &note,
            Some(p.user_id),
        )
        .await?;
        out(txn, state.clock.now(), saved).await
    })
    .await
}

/// `POST …/reject/ {"reason"}`: PENDING_APPROVAL → IN_PROGRESS with the reason on the timeline.
///
/// # Errors
/// 404 out of scope; 403 without approve permission; 400 without a reason or from another status.
pub async fn reject(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: RejectIn,
) -> AppResult<ActionOut> {
    let reason = i.reason.unwrap_or_default().trim().to_string();
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Approve, super::reach(&before))?;
        if reason.is_empty() {
            return Err(AppError::field("reason", "This field is required."));
        }
        let to = workflow::check(&before.status, Move::Reject)
            .map_err(|m| AppError::field("status", m))?;
        let saved = apply_status(
            txn,
            state,
            &Actor::of(p),
            &before,
            to,
            LOG_REJECTED,
            &reason,
            None,
        )
        .await?;
        notify(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &saved,
            TEMPLATE_ASSIGNED,
            saved.assignee_id,
        )
        .await?;
        out(txn, state.clock.now(), saved).await
    })
    .await
}

/// `POST …/assign/ {"assignee", "department", "note"}`: reassigns (either may be null to clear).
///
/// # Errors
/// 404 out of scope; 403 without assign permission; 400 for unknown users or departments, or a
/// closed action.
pub async fn assign(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: AssignIn,
) -> AppResult<ActionOut> {
    let note = note(i.note)?;
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        may(p, Operation::Assign, &before)?;
        if !workflow::is_open(&before.status) {
            return Err(AppError::field(
                "status",
                format!("A {} action cannot be reassigned.", before.status),
            ));
        }
        if i.assignee.is_none() && i.department.is_none() {
            return Err(AppError::field(
                "assignee",
                "Give assignee, department or both.",
            ));
        }
        let mut form = Form::new(Mode::Patch);
        let mut assignee = before.assignee_id;
        form.opt_fk(i.assignee, &mut assignee);
        let mut department = before.department_id;
        form.opt_fk(i.department, &mut department);
        check_assignee(
            txn,
            &mut form,
            assignee.filter(|a| Some(*a) != before.assignee_id),
        )
        .await?;
        if let Some(d) = department.filter(|d| Some(*d) != before.department_id)
            && !organizations::department_in_hospital(txn, before.hospital_id, d).await?
        {
            form.add("department", invalid_pk(d));
        }
        form.finish()?;
        if assignee == before.assignee_id && department == before.department_id {
            return out(txn, state.clock.now(), before).await;
        }
        let now = state.clock.now();
        let mut am = before.clone().into_active_model();
        am.assignee_id = Set(assignee);
        am.department_id = Set(department);
        am.updated_at = Set(now);
        let saved = am.update(txn).await?;
        let actor = Actor::of(p);
        record(
            txn,
            state.clock.as_ref(),
            &actor,
            &saved,
            LogEntry::new(LOG_ASSIGNED, note).details(json!({
                "from_assignee": before.assignee_id, "assignee": assignee,
                "from_department": before.department_id, "department": department,
            })),
        )
        .await?;
        events::publish(
            txn,
            state.clock.as_ref(),
            ActionAssigned {
                action: saved.id,
                hospital: saved.hospital_id,
                assignee,
                department,
            },
        )
        .await?;
        if assignee != before.assignee_id {
            notify(
                txn,
                state.clock.as_ref(),
                &actor,
                &saved,
                TEMPLATE_ASSIGNED,
                assignee,
            )
            .await?;
        }
        out(txn, now, saved).await
    })
    .await
}

/// `POST …/escalate/ {"reason"}`: escalates one level of the hospital's chain by hand.
///
/// # Errors
/// 404 out of scope; 403 without assign permission; 400 for a closed action or at the top of the
/// chain.
pub async fn escalate(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: EscalateIn,
) -> AppResult<ActionOut> {
    let reason = i.reason.unwrap_or_default().trim().to_string();
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        may(p, Operation::Assign, &before)?;
        if !workflow::is_open(&before.status) {
            return Err(AppError::field(
                "status",
                format!("A {} action cannot be escalated.", before.status),
            ));
        }
        let reason = if reason.is_empty() {
            "escalated by hand".to_string()
        } else {
            reason
        };
        match engine::escalate(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &before,
            &reason,
            false,
        )
        .await?
        {
            Some(a) => out(txn, state.clock.now(), a).await,
            None => Err(AppError::field(
                "escalation_level",
                "No further escalation level: the action is at the top of the hospital's escalation chain.",
            )),
        }
    })
    .await
}

fn log_out(l: log::Model) -> LogOut {
    LogOut {
        id: l.id,
        action: l.action_id,
        kind: l.kind,
        from_status: l.from_status,
        to_status: l.to_status,
        message: l.message,
        actor: l.actor_id,
        actor_label: l.actor_label,
        details: l.details,
        created_at: l.created_at,
    }
}

/// The action's timeline, oldest first.
///
/// # Errors
/// 404 out of scope.
pub async fn logs(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Vec<LogOut>> {
    let a = visible(&state.db, p, id).await?;
    Ok(log::Entity::find()
        .filter(log::Column::ActionId.eq(a.id))
        .order_by_asc(log::Column::CreatedAt)
        .order_by_asc(log::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(log_out)
        .collect())
}

/// Adds a comment to the discussion.
///
/// # Errors
/// 404 out of scope; 403 without edit permission; 400 for an empty message.
pub async fn comment(state: &AppState, p: &Principal, id: Uuid, i: CommentIn) -> AppResult<LogOut> {
    let message = i.message.unwrap_or_default().trim().to_string();
    in_txn(&state.db, async move |txn| {
        let a = visible(txn, p, id).await?;
        may(p, Operation::Edit, &a)?;
        if message.is_empty() {
            return Err(AppError::field("message", "This field may not be blank."));
        }
        if message.chars().count() > 5000 {
            return Err(AppError::field(
                "message",
                "Ensure this field has no more than 5000 characters.",
            ));
        }
        record(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &a,
            LogEntry::new(LOG_COMMENT, message),
        )
        .await?;
        let l = log::Entity::find()
            .filter(log::Column::ActionId.eq(a.id))
            .order_by_desc(log::Column::CreatedAt)
            .order_by_desc(log::Column::Id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(log_out(l))
    })
    .await
}
