//! Business rules of the PX Action Center. Each public function is one use case: scope and permission
//! through `platform::rbac` (out of scope → 404, operation not granted → 403), the input validated at
//! once, one transaction, every change logged on the action's timeline and audited.
//!
//! * `actions` — list, detail, create, edit and the workflow endpoints
//! * `engine` — opening actions from triggers, routing, SLA times, escalation and the SLA sweep
//! * `attachments` — evidence files
//! * `config` — SLA configs, routing rules, escalation levels

pub mod actions;
pub mod attachments;
pub mod config;
pub mod engine;

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::json;
use uuid::Uuid;

use super::model::{LOG_NOTIFICATION, action, log};
use crate::apps::organizations::HospitalSettings;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::calendar::WorkCalendar;
use crate::platform::clock::Clock;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::rbac::{Operation, Principal, Reach, Resource, Role, ScopeColumns};

pub(crate) use crate::apps::organizations::service::{Form, Mode};

pub(crate) const R: Resource = Resource::Actions;

/// Actions are scoped by hospital, department and assignee ("items assigned to them").
pub(crate) fn action_cols() -> ScopeColumns<action::Column> {
    ScopeColumns {
        hospital: Some(action::Column::HospitalId),
        department: Some(action::Column::DepartmentId),
        physician: None,
        assignee: Some(action::Column::AssigneeId),
    }
}

pub(crate) fn reach(a: &action::Model) -> Reach {
    Reach {
        assignee: a.assignee_id,
        ..Reach::department(a.hospital_id, a.department_id)
    }
}

/// Hospital-wide configuration tables (SLA configs, routing rules).
pub(crate) fn hospital_cols<C>(hospital: C) -> ScopeColumns<C> {
    ScopeColumns {
        hospital: Some(hospital),
        department: None,
        physician: None,
        assignee: None,
    }
}

/// `op` on this action: granted and reaching it; and, for roles that only act on what is assigned to
/// them (physician, nurse, staff), the action must be theirs.
pub(crate) fn may(p: &Principal, op: Operation, a: &action::Model) -> AppResult<()> {
    p.allow(R, op, reach(a))?;
    let manages = p.grants.iter().any(|g| {
        matches!(
            g.role,
            Role::PxAdmin | Role::HospitalAdmin | Role::DepartmentManager | Role::PxCoordinator
        )
    });
    if manages || a.assignee_id == Some(p.user_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "You can only act on actions assigned to you.".into(),
        ))
    }
}

/// The hospital's calendar and settings.
pub(crate) async fn calendar_of<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
) -> AppResult<(HospitalSettings, WorkCalendar)> {
    let s = crate::apps::organizations::hospital_settings(conn, hospital).await?;
    let cal = crate::apps::organizations::work_calendar(&s);
    Ok((s, cal))
}

/// One timeline entry.
pub(crate) struct LogEntry<'a> {
    pub kind: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub message: String,
    pub details: serde_json::Value,
}

impl<'a> LogEntry<'a> {
    pub fn new(kind: &'a str, message: impl Into<String>) -> Self {
        Self {
            kind,
            from: None,
            to: None,
            message: message.into(),
            details: json!({}),
        }
    }

    pub fn status(mut self, from: &'a str, to: &'a str) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    pub fn details(mut self, d: serde_json::Value) -> Self {
        self.details = d;
        self
    }
}

/// Writes a timeline entry and, for everything but comments, the matching audit row
/// (`action.<kind>`), both in the caller's transaction.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    a: &action::Model,
    e: LogEntry<'_>,
) -> AppResult<()> {
    log::ActiveModel {
        id: Set(new_id()),
        action_id: Set(a.id),
        hospital_id: Set(a.hospital_id),
        kind: Set(e.kind.to_string()),
        from_status: Set(e.from.map(str::to_string)),
        to_status: Set(e.to.map(str::to_string)),
        message: Set(e.message.clone()),
        actor_id: Set(actor.user_id),
        actor_label: Set(actor.label.clone()),
        details: Set(e.details.clone()),
        created_at: Set(clock.now()),
    }
    .insert(conn)
    .await?;
    if e.kind != super::model::LOG_COMMENT {
        let mut details = e.details;
        if let Some(obj) = details.as_object_mut() {
            if let Some(f) = e.from {
                obj.insert("from".into(), json!(f));
            }
            if let Some(t) = e.to {
                obj.insert("to".into(), json!(t));
            }
        }
        audit::record(
            conn,
            clock,
            actor,
            AuditEntry::new(format!("action.{}", e.kind.to_ascii_lowercase()))
                .object("action", a.id)
                .hospital(Some(a.hospital_id))
                .details(details),
        )
        .await?;
    }
    Ok(())
}

/// Staff notification templates of this module.
pub const TEMPLATE_ASSIGNED: &str = "action_assigned";
pub const TEMPLATE_REMINDER: &str = "action_reminder";
pub const TEMPLATE_ESCALATED: &str = "action_escalated";
pub const CHANNELS: [&str; 2] = ["IN_APP", "EMAIL"];

/// Notifies `recipient` about `a` in-app and by email through the notifications module's `send`, in
/// the caller's transaction (a rollback sends nothing), and notes it on the timeline (with the
/// notification log ids and their status) and in the audit log.
pub(crate) async fn notify<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    a: &action::Model,
    template: &str,
    recipient: Option<Uuid>,
) -> AppResult<()> {
    use crate::apps::notifications::{Channel, Outgoing, Recipient, send};
    let Some(recipient) = recipient else {
        return Ok(());
    };
    let (settings, _) = calendar_of(conn, a.hospital_id).await?;
    let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::Asia::Riyadh);
    let due = a
        .due_at
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let link = format!(
        "{}/actions/actions/{}/",
        crate::apps::notifications::service::public_url(),
        a.id
    );
    let reference = format!(
        "PX-{}",
        &a.id.simple().to_string()[..8].to_ascii_uppercase()
    );
    let mut sent = vec![];
    for channel in [Channel::InApp, Channel::Email] {
        let q = send(
            conn,
            clock,
            Outgoing::new(template, Recipient::User(recipient))
                .hospital(a.hospital_id)
                .channel(channel)
                .var("action_title", a.title.clone())
                .var("action_ref", reference.clone())
                .var("action_link", link.clone())
                .var("due_at", due.clone())
                .var("level", a.escalation_level.to_string())
                .related("action", a.id),
        )
        .await?;
        sent.push(
            json!({"channel": channel.code(), "log": q.log_id, "status": q.status,
                         "reason": q.reason}),
        );
    }
    record(
        conn,
        clock,
        actor,
        a,
        LogEntry::new(LOG_NOTIFICATION, template).details(json!({
            "template": template,
            "recipient": recipient,
            "channels": CHANNELS,
            "sent": sent,
        })),
    )
    .await
}

pub(crate) fn invalid_pk(id: Uuid) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}
