//! Request and response bodies of the actions API (SPEC.md "Wire formats": workflow endpoints take
//! small bodies; foreign keys by the related model's name; `Option<Option<_>>` tells absent from null).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::validate::nullable;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActionOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub title: String,
    pub description: String,
    /// `SURVEY`, `COMPLAINT`, `RESOLUTION_SURVEY`, `SOCIAL`, `SENTIMENT`, `CALL_CENTER`, `KPI`, `MANUAL`.
    pub source_type: String,
    /// The object that caused the action (survey instance, complaint, mention, interaction, KPI value).
    pub source_id: Option<Uuid>,
    /// Console page of the source object, when it has one.
    pub source_url: Option<String>,
    pub category: String,
    pub priority: String,
    pub severity: String,
    pub status: String,
    pub assignee: Option<Uuid>,
    pub assignee_name: Option<String>,
    pub escalation_level: i32,
    /// `BUSINESS` or `CALENDAR`.
    pub hour_mode: String,
    pub sla_hours: i32,
    pub sla_started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub remind_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    /// Time spent WAITING so far (calendar seconds), credited back to the SLA.
    pub paused_seconds: i64,
    /// `ON_TRACK`, `DUE_SOON`, `OVERDUE`, `PAUSED`, `DONE`, `NONE`.
    pub sla_status: String,
    /// Percentage of the SLA used, 0–100.
    pub sla_progress: u32,
    /// Statuses `transition` may move to now.
    pub allowed_transitions: Vec<String>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Create (POST: hospital, title required) or change (PATCH) an action by hand.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ActionIn {
    pub hospital: Option<Uuid>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub source_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub source_id: Option<Option<Uuid>>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub severity: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee: Option<Option<Uuid>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TransitionIn {
    pub status: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AssignIn {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ApproveIn {
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RejectIn {
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EscalateIn {
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CommentIn {
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogOut {
    pub id: Uuid,
    pub action: Uuid,
    /// `CREATED`, `STATUS_CHANGED`, `ASSIGNED`, `ESCALATED`, `REMINDER`, `COMMENT`, `APPROVED`,
    /// `REJECTED`, `ATTACHMENT`, `NOTIFICATION`, `SLA`.
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub message: String,
    pub actor: Option<Uuid>,
    pub actor_label: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentOut {
    pub id: Uuid,
    pub action: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub is_evidence: bool,
    pub note: String,
    pub uploaded_by: Option<Uuid>,
    /// Served only through the RBAC-checked download endpoint.
    pub download_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlaConfigOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    /// `null` = any priority.
    pub priority: Option<String>,
    /// `null` = any severity.
    pub severity: Option<String>,
    pub hours: i32,
    pub reminder_hours_before: i32,
    /// Hours between escalations while still overdue; 0 = the SLA's hours.
    pub escalation_interval_hours: i32,
    /// `BUSINESS` or `CALENDAR`.
    pub hour_mode: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SlaConfigIn {
    pub hospital: Option<Uuid>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub severity: Option<Option<String>>,
    pub hours: Option<i64>,
    pub reminder_hours_before: Option<i64>,
    pub escalation_interval_hours: Option<i64>,
    pub hour_mode: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoutingRuleOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub name: String,
    /// Rules are tried in ascending order; the first whose conditions all hold wins.
    pub order: i32,
    pub active: bool,
    /// Conditions; `null` = any.
    pub source_type: Option<String>,
    pub department: Option<Uuid>,
    pub category: Option<String>,
    pub severity: Option<String>,
    /// `DEPARTMENT_MANAGER`, `USER` or `PX_TEAM`.
    pub target: String,
    pub target_user: Option<Uuid>,
    /// For `DEPARTMENT_MANAGER`: that department's manager (default: the action's department).
    pub target_department: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RoutingRuleIn {
    pub hospital: Option<Uuid>,
    pub name: Option<String>,
    pub order: Option<i64>,
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub source_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub severity: Option<Option<String>>,
    pub target: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub target_user: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub target_department: Option<Option<Uuid>>,
}

/// One level of a hospital's escalation chain (from its settings), resolved to a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationLevelOut {
    pub hospital: Uuid,
    /// 1 = first escalation.
    pub level: i32,
    pub role: String,
    /// Who would receive an action escalated to this level (for department managers: depends on the
    /// action's department, so `null` here).
    pub assignee: Option<Uuid>,
    pub assignee_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EscalationChainIn {
    pub hospital: Option<Uuid>,
    /// Role codes, first level first.
    pub escalation_chain: Option<Vec<String>>,
}
