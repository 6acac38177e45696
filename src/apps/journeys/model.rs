//! SeaORM entities of the four journey tables and the module's choice lists.

pub const JOURNEY_TYPES: &[&str] = &["EMS", "INPATIENT", "OPD", "DAY_CASE"];
pub const INSTANCE_STATUSES: &[&str] = &["ACTIVE", "COMPLETED", "CANCELLED"];
pub const STAGE_STATUSES: &[&str] = &["PENDING", "IN_PROGRESS", "COMPLETED", "SKIPPED"];

pub const PENDING: &str = "PENDING";
pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const COMPLETED: &str = "COMPLETED";
pub const SKIPPED: &str = "SKIPPED";
pub const ACTIVE: &str = "ACTIVE";
pub const CANCELLED: &str = "CANCELLED";

/// SPEC rule 1: a survey may be delayed by 0 to 72 hours after the stage completes.
pub const MAX_SURVEY_DELAY_HOURS: i64 = 72;

pub mod template {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journey_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub journey_type: String,
        pub name_en: String,
        pub name_ar: String,
        pub description: String,
        pub version: i32,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stage_template {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journey_stage_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub journey_template_id: Uuid,
        pub hospital_id: Uuid,
        pub code: String,
        pub name_en: String,
        pub name_ar: String,
        pub stage_order: i32,
        pub trigger_event_code: String,
        pub survey_template_id: Option<Uuid>,
        pub auto_send_survey: bool,
        pub survey_delay_hours: i32,
        pub requires_physician: bool,
        pub optional: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod instance {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journey_instances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub journey_template_id: Uuid,
        pub patient_id: Uuid,
        pub encounter_id: String,
        pub status: String,
        pub started_at: DateTime<Utc>,
        pub completed_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stage_instance {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journey_stage_instances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub journey_instance_id: Uuid,
        pub stage_template_id: Uuid,
        pub hospital_id: Uuid,
        pub stage_order: i32,
        pub status: String,
        pub completed_at: Option<DateTime<Utc>>,
        pub physician_id: Option<Uuid>,
        pub department_id: Option<Uuid>,
        pub inbound_event_id: Option<Uuid>,
        pub note: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
