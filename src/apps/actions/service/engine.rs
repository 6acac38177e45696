//! The engine: opening an action (routing + SLA), escalating it, and the SLA sweep the scheduler runs.
//! Everything here takes the caller's transaction and the actor, so triggers (the system), the API
//! and the sweep share one code path.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    LogEntry, TEMPLATE_ASSIGNED, TEMPLATE_ESCALATED, TEMPLATE_REMINDER, calendar_of, notify, record,
};
use crate::apps::accounts;
use crate::apps::actions::model::{
    CANCELLED, CLOSED, IN_PROGRESS, LOG_ASSIGNED, LOG_CREATED, LOG_ESCALATED, LOG_REMINDER,
    LOG_SLA, OPEN, action, routing_rule, sla_config,
};
use crate::apps::actions::sla::{self, Policy};
use crate::platform::audit::Actor;
use crate::platform::clock::Clock;
use crate::platform::db::Db;
use crate::platform::error::AppResult;
use crate::platform::events::{self, ActionAssigned, ActionEscalated};
use crate::platform::ids::new_id;
use crate::platform::rbac::Role;

/// What a new action is about. Routing and SLA fill in the rest.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub source_type: String,
    pub source_id: Option<Uuid>,
    pub category: String,
    pub priority: String,
    pub severity: String,
    /// Set by hand; `None` lets the routing rules decide.
    pub assignee: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

/// The open action of a source object, if any (duplicate suppression).
///
/// # Errors
/// Database errors.
pub async fn open_for_source<C: ConnectionTrait>(
    conn: &C,
    source_type: &str,
    source_id: Uuid,
) -> AppResult<Option<action::Model>> {
    Ok(action::Entity::find()
        .filter(action::Column::SourceType.eq(source_type))
        .filter(action::Column::SourceId.eq(source_id))
        .filter(action::Column::DeletedAt.is_null())
        .filter(action::Column::Status.is_not_in([CLOSED, CANCELLED]))
        .one(conn)
        .await?)
}

/// Where routing sent an action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    pub rule: Option<Uuid>,
    pub assignee: Option<Uuid>,
    pub department: Option<Uuid>,
}

async fn first_user<C: ConnectionTrait>(
    conn: &C,
    role: Role,
    hospital: Uuid,
    department: Option<Uuid>,
) -> AppResult<Option<Uuid>> {
    if role.needs_department() && department.is_none() {
        return Ok(None);
    }
    Ok(
        accounts::users_with_role(conn, role, Some(hospital), department)
            .await?
            .into_iter()
            .next(),
    )
}

/// Whether a rule's conditions (each `None` = any) hold for the action.
pub fn rule_matches(r: &routing_rule::Model, a: &NewAction) -> bool {
    r.active
        && r.deleted_at.is_none()
        && r.source_type.as_deref().is_none_or(|s| s == a.source_type)
        && r.department_id.is_none_or(|d| Some(d) == a.department)
        && r.category.as_deref().is_none_or(|c| c == a.category)
        && r.severity.as_deref().is_none_or(|s| s == a.severity)
}

/// The first matching rule of the hospital, in `order`, decides; without one the department's manager
/// gets it, else the PX team (the hospital's first PX coordinator), else nobody yet.
///
/// # Errors
/// Database errors.
pub async fn route<C: ConnectionTrait>(conn: &C, a: &NewAction) -> AppResult<Route> {
    let rules = routing_rule::Entity::find()
        .filter(routing_rule::Column::HospitalId.eq(a.hospital))
        .filter(routing_rule::Column::DeletedAt.is_null())
        .filter(routing_rule::Column::Active.eq(true))
        .order_by_asc(routing_rule::Column::RuleOrder)
        .order_by_asc(routing_rule::Column::Id)
        .all(conn)
        .await?;
    if let Some(r) = rules.iter().find(|r| rule_matches(r, a)) {
        let (assignee, department) = match r.target.as_str() {
            "USER" => (r.target_user_id, a.department),
            "PX_TEAM" => (
                first_user(conn, Role::PxCoordinator, a.hospital, None).await?,
                a.department,
            ),
            _ => {
                let d = r.target_department_id.or(a.department);
                (
                    first_user(conn, Role::DepartmentManager, a.hospital, d).await?,
                    d,
                )
            }
        };
        return Ok(Route {
            rule: Some(r.id),
            assignee,
            department,
        });
    }
    let manager = first_user(conn, Role::DepartmentManager, a.hospital, a.department).await?;
    let assignee = match manager {
        Some(m) => Some(m),
        None => first_user(conn, Role::PxCoordinator, a.hospital, None).await?,
    };
    Ok(Route {
        rule: None,
        assignee,
        department: a.department,
    })
}

/// The SLA config that applies, and the policy it gives (the built-in fallback without one).
///
/// # Errors
/// Database errors.
pub async fn policy_for<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    department: Option<Uuid>,
    priority: &str,
    severity: &str,
) -> AppResult<(Option<Uuid>, Policy)> {
    let configs = sla_config::Entity::find()
        .filter(sla_config::Column::HospitalId.eq(hospital))
        .filter(sla_config::Column::DeletedAt.is_null())
        .all(conn)
        .await?;
    Ok(match sla::pick(&configs, department, priority, severity) {
        Some(c) => (Some(c.id), Policy::from(c)),
        None => (None, sla::fallback(priority)),
    })
}

pub(crate) fn policy_of(a: &action::Model) -> Policy {
    Policy {
        hours: a.sla_hours,
        reminder_hours_before: a.reminder_hours_before,
        escalation_interval_hours: a.escalation_interval_hours,
        mode: sla::mode_of(&a.hour_mode),
    }
}

/// Opens an action: routes it, computes its SLA from the most specific config and the hospital
/// calendar, logs, audits, publishes `ActionAssigned` and notifies the assignee. The caller has checked
/// permission and duplicates.
///
/// # Errors
/// Database errors (a unique violation when another open action of the source appeared meanwhile).
pub async fn open_action<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    n: NewAction,
) -> AppResult<action::Model> {
    let now = clock.now();
    let route = match n.assignee {
        Some(u) => Route {
            rule: None,
            assignee: Some(u),
            department: n.department,
        },
        None => route(conn, &n).await?,
    };
    let (config, policy) =
        policy_for(conn, n.hospital, route.department, &n.priority, &n.severity).await?;
    let (_, cal) = calendar_of(conn, n.hospital).await?;
    let t = sla::times(&cal, &policy, now, &[], None);
    let a = action::ActiveModel {
        id: Set(new_id()),
        hospital_id: Set(n.hospital),
        department_id: Set(route.department),
        title: Set(n.title),
        description: Set(n.description),
        source_type: Set(n.source_type),
        source_id: Set(n.source_id),
        category: Set(n.category),
        priority: Set(n.priority),
        severity: Set(n.severity),
        status: Set(OPEN.into()),
        assignee_id: Set(route.assignee),
        escalation_level: Set(0),
        routing_rule_id: Set(route.rule),
        sla_config_id: Set(config),
        hour_mode: Set(sla::mode_code(policy.mode).into()),
        sla_hours: Set(policy.hours),
        reminder_hours_before: Set(policy.reminder_hours_before),
        escalation_interval_hours: Set(policy.escalation_interval_hours),
        sla_started_at: Set(now),
        due_at: Set(t.due_at),
        remind_at: Set(t.remind_at),
        escalate_at: Set(t.escalate_at),
        reminded_at: Set(None),
        escalated_at: Set(None),
        paused_at: Set(None),
        paused_seconds: Set(0),
        pauses: Set(json!([])),
        approved_by: Set(None),
        approved_at: Set(None),
        closed_at: Set(None),
        created_by: Set(n.created_by),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(conn)
    .await?;
    record(
        conn,
        clock,
        actor,
        &a,
        LogEntry::new(LOG_CREATED, a.title.clone()).details(json!({
            "source_type": a.source_type, "source_id": a.source_id,
            "sla_config": config, "sla_hours": policy.hours, "hour_mode": a.hour_mode,
            "due_at": a.due_at,
        })),
    )
    .await?;
    if a.assignee_id.is_some() || a.department_id.is_some() {
        record(
            conn,
            clock,
            actor,
            &a,
            LogEntry::new(LOG_ASSIGNED, "").details(json!({
                "assignee": a.assignee_id, "department": a.department_id,
                "routing_rule": route.rule,
            })),
        )
        .await?;
        events::publish(
            conn,
            clock,
            ActionAssigned {
                action: a.id,
                hospital: a.hospital_id,
                assignee: a.assignee_id,
                department: a.department_id,
            },
        )
        .await?;
        notify(conn, clock, actor, &a, TEMPLATE_ASSIGNED, a.assignee_id).await?;
    }
    Ok(a)
}

/// The next level of the hospital's escalation chain above the action's current one whose holder is
/// someone other than the current assignee: `(level, role, person)`. `None` at the top of the chain.
///
/// # Errors
/// Database errors.
pub async fn next_level<C: ConnectionTrait>(
    conn: &C,
    a: &action::Model,
) -> AppResult<Option<(i32, Role, Uuid)>> {
    let (settings, _) = calendar_of(conn, a.hospital_id).await?;
    for (i, code) in settings.escalation_chain.iter().enumerate() {
        let level = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if level <= a.escalation_level {
            continue;
        }
        let Ok(role) = Role::parse(code) else {
            continue;
        };
        let dept = if role.needs_department() {
            a.department_id
        } else {
            None
        };
        if let Some(u) = first_user(conn, role, a.hospital_id, dept).await?
            && Some(u) != a.assignee_id
        {
            return Ok(Some((level, role, u)));
        }
    }
    Ok(None)
}

/// Escalates `a` one level (reassign, log, audit, `ActionEscalated`, notify) if it is still at
/// `a.escalation_level` — the guard that makes a level happen once even when two sweeps race.
/// Returns the escalated action, or `None` when nothing changed.
///
/// # Errors
/// Database errors.
pub async fn escalate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    a: &action::Model,
    reason: &str,
    automatic: bool,
) -> AppResult<Option<action::Model>> {
    let now = clock.now();
    let Some((level, role, user)) = next_level(conn, a).await? else {
        if automatic {
            // Top of the chain: stop scanning this action; the board still shows it overdue.
            let r = action::Entity::update_many()
                .col_expr(
                    action::Column::EscalateAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(action::Column::Id.eq(a.id))
                .filter(action::Column::EscalationLevel.eq(a.escalation_level))
                .exec(conn)
                .await?;
            if r.rows_affected == 1 {
                record(
                    conn,
                    clock,
                    actor,
                    a,
                    LogEntry::new(LOG_SLA, "no further escalation level")
                        .details(json!({"level": a.escalation_level})),
                )
                .await?;
            }
        }
        return Ok(None);
    };
    let (_, cal) = calendar_of(conn, a.hospital_id).await?;
    let pauses = sla::parse_pauses(&a.pauses);
    let t = sla::times(&cal, &policy_of(a), a.sla_started_at, &pauses, Some(now));
    let r = action::Entity::update_many()
        .col_expr(action::Column::EscalationLevel, Expr::value(level))
        .col_expr(action::Column::AssigneeId, Expr::value(Some(user)))
        .col_expr(action::Column::EscalatedAt, Expr::value(Some(now)))
        .col_expr(action::Column::EscalateAt, Expr::value(t.escalate_at))
        .col_expr(action::Column::UpdatedAt, Expr::value(now))
        .filter(action::Column::Id.eq(a.id))
        .filter(action::Column::EscalationLevel.eq(a.escalation_level))
        .exec(conn)
        .await?;
    if r.rows_affected != 1 {
        return Ok(None);
    }
    let Some(after) = action::Entity::find_by_id(a.id).one(conn).await? else {
        return Ok(None);
    };
    record(
        conn,
        clock,
        actor,
        &after,
        LogEntry::new(LOG_ESCALATED, reason).details(json!({
            "level": level, "role": role.code(), "from_assignee": a.assignee_id,
            "assignee": user, "automatic": automatic, "next_escalation_at": t.escalate_at,
        })),
    )
    .await?;
    events::publish(
        conn,
        clock,
        ActionEscalated {
            action: a.id,
            hospital: a.hospital_id,
            level,
            assignee: Some(user),
        },
    )
    .await?;
    notify(conn, clock, actor, &after, TEMPLATE_ESCALATED, Some(user)).await?;
    Ok(Some(after))
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub reminded: usize,
    pub escalated: usize,
}

/// Rows examined per sweep; the next tick continues.
const SWEEP_BATCH: u64 = 500;

/// The SLA sweep (scheduled every minute): reminders due and escalations due of running actions.
/// Idempotent: `reminded_at IS NULL` and the escalation level are the guards, checked in the same
/// UPDATE that changes them, one transaction per action.
///
/// # Errors
/// Database errors.
pub async fn sweep(db: &Db, clock: &dyn Clock) -> AppResult<SweepOutcome> {
    let now = clock.now();
    let due = action::Entity::find()
        .filter(action::Column::DeletedAt.is_null())
        .filter(action::Column::Status.is_in([OPEN, IN_PROGRESS]))
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(action::Column::RemindedAt.is_null())
                        .add(action::Column::RemindAt.lte(now)),
                )
                .add(action::Column::EscalateAt.lte(now)),
        )
        .order_by_asc(action::Column::EscalateAt)
        .limit(SWEEP_BATCH)
        .all(db)
        .await?;
    let mut out = SweepOutcome::default();
    let actor = Actor::system();
    for a in due {
        let txn = crate::platform::db::begin_write(db).await?;
        if a.reminded_at.is_none() && a.remind_at.is_some_and(|r| r <= now) {
            let r = action::Entity::update_many()
                .col_expr(action::Column::RemindedAt, Expr::value(Some(now)))
                .filter(action::Column::Id.eq(a.id))
                .filter(action::Column::RemindedAt.is_null())
                .exec(&txn)
                .await?;
            if r.rows_affected == 1 {
                record(
                    &txn,
                    clock,
                    &actor,
                    &a,
                    LogEntry::new(LOG_REMINDER, "").details(json!({
                        "due_at": a.due_at, "assignee": a.assignee_id,
                    })),
                )
                .await?;
                notify(&txn, clock, &actor, &a, TEMPLATE_REMINDER, a.assignee_id).await?;
                out.reminded += 1;
            }
        }
        if a.escalate_at.is_some_and(|e| e <= now)
            && escalate(&txn, clock, &actor, &a, "overdue", true)
                .await?
                .is_some()
        {
            out.escalated += 1;
        }
        txn.commit().await?;
    }
    Ok(out)
}
