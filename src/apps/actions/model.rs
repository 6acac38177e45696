//! SeaORM entities of the five action tables and the module's choice lists.

pub const OPEN: &str = "OPEN";
pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const WAITING: &str = "WAITING";
pub const PENDING_APPROVAL: &str = "PENDING_APPROVAL";
pub const CLOSED: &str = "CLOSED";
pub const CANCELLED: &str = "CANCELLED";

/// SPEC.md rule 8, in workflow order.
pub const STATUSES: &[&str] = &[
    OPEN,
    IN_PROGRESS,
    WAITING,
    PENDING_APPROVAL,
    CLOSED,
    CANCELLED,
];

/// Where an action came from. `MANUAL` is a user's own; the others name the object that caused it.
pub const SOURCE_TYPES: &[&str] = &[
    "SURVEY",
    "COMPLAINT",
    "RESOLUTION_SURVEY",
    "SOCIAL",
    "SENTIMENT",
    "CALL_CENTER",
    "KPI",
    "MANUAL",
];

pub const CATEGORIES: &[&str] = &[
    "PATIENT_EXPERIENCE",
    "CLINICAL_CARE",
    "COMMUNICATION",
    "WAITING_TIME",
    "STAFF_BEHAVIOUR",
    "FACILITIES",
    "BILLING",
    "PROCESS",
    "OTHER",
];

pub const PRIORITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "CRITICAL"];
pub const SEVERITIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "CRITICAL"];
pub const HOUR_MODES: &[&str] = &["BUSINESS", "CALENDAR"];

/// Whom a routing rule assigns to.
pub const TARGETS: &[&str] = &["DEPARTMENT_MANAGER", "USER", "PX_TEAM"];

/// Kinds of log entries (the action's timeline).
pub const LOG_CREATED: &str = "CREATED";
pub const LOG_STATUS: &str = "STATUS_CHANGED";
pub const LOG_ASSIGNED: &str = "ASSIGNED";
pub const LOG_ESCALATED: &str = "ESCALATED";
pub const LOG_REMINDER: &str = "REMINDER";
pub const LOG_COMMENT: &str = "COMMENT";
pub const LOG_APPROVED: &str = "APPROVED";
pub const LOG_REJECTED: &str = "REJECTED";
pub const LOG_ATTACHMENT: &str = "ATTACHMENT";
pub const LOG_NOTIFICATION: &str = "NOTIFICATION";
pub const LOG_SLA: &str = "SLA";

pub mod action {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "px_actions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub title: String,
        pub description: String,
        pub source_type: String,
        pub source_id: Option<Uuid>,
        pub category: String,
        pub priority: String,
        pub severity: String,
        pub status: String,
        pub assignee_id: Option<Uuid>,
        pub escalation_level: i32,
        pub routing_rule_id: Option<Uuid>,
        pub sla_config_id: Option<Uuid>,
        pub hour_mode: String,
        pub sla_hours: i32,
        pub reminder_hours_before: i32,
        pub escalation_interval_hours: i32,
        pub sla_started_at: DateTime<Utc>,
        pub due_at: Option<DateTime<Utc>>,
        pub remind_at: Option<DateTime<Utc>>,
        pub escalate_at: Option<DateTime<Utc>>,
        pub reminded_at: Option<DateTime<Utc>>,
        pub escalated_at: Option<DateTime<Utc>>,
        pub paused_at: Option<DateTime<Utc>>,
        pub paused_seconds: i64,
        pub pauses: Json,
        pub approved_by: Option<Uuid>,
        pub approved_at: Option<DateTime<Utc>>,
        pub closed_at: Option<DateTime<Utc>>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod log {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "px_action_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub action_id: Uuid,
        pub hospital_id: Uuid,
        pub kind: String,
        pub from_status: Option<String>,
        pub to_status: Option<String>,
        pub message: String,
        pub actor_id: Option<Uuid>,
        pub actor_label: String,
        pub details: Json,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attachment {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "px_action_attachments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub action_id: Uuid,
        pub hospital_id: Uuid,
        pub file_name: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub storage_key: String,
        pub sha256: String,
        pub is_evidence: bool,
        pub note: String,
        pub uploaded_by: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sla_config {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "px_action_sla_configs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub priority: Option<String>,
        pub severity: Option<String>,
        pub hours: i32,
        pub reminder_hours_before: i32,
        pub escalation_interval_hours: i32,
        pub hour_mode: String,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod routing_rule {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "px_action_routing_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub name: String,
        pub rule_order: i32,
        pub active: bool,
        pub source_type: Option<String>,
        pub department_id: Option<Uuid>,
        pub category: Option<String>,
        pub severity: Option<String>,
        pub target: String,
        pub target_user_id: Option<Uuid>,
        pub target_department_id: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
