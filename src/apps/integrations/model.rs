//! SeaORM entities of the integrations tables and the module's choice lists.

/// Inbound event statuses (SPEC rule 3): PENDING on intake, then PROCESSED or IGNORED; FAILED between
/// retries; DEAD after the last attempt. PROCESSING stays a valid value (rows written before batch
/// processing, and the wire contract) but is no longer written: the job's lease guards a running event.
pub const STATUSES: &[&str] = &[
    "PENDING",
    "PROCESSING",
    "PROCESSED",
    "IGNORED",
    "FAILED",
    "DEAD",
];
pub const PENDING: &str = "PENDING";
pub const PROCESSING: &str = "PROCESSING";
pub const PROCESSED: &str = "PROCESSED";
pub const IGNORED: &str = "IGNORED";
pub const FAILED: &str = "FAILED";
pub const DEAD: &str = "DEAD";
/// Statuses an operator may send back for processing.
pub const REPROCESSABLE: &[&str] = &["DEAD", "FAILED", "IGNORED"];

/// How the event arrived.
pub const FORMATS: &[&str] = &["JSON", "HL7V2", "FHIR"];
pub const JSON: &str = "JSON";
pub const HL7V2: &str = "HL7V2";
pub const FHIR: &str = "FHIR";

pub mod inbound_event {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbound_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub source_system: String,
        pub event_code: String,
        pub external_id: Option<String>,
        pub format: String,
        pub payload_json: Json,
        pub payload_hash: String,
        pub encounter_id: String,
        pub patient_identifier: Option<String>,
        pub occurred_at: DateTime<Utc>,
        pub received_at: DateTime<Utc>,
        pub processed_at: Option<DateTime<Utc>>,
        pub status: String,
        pub attempts: i32,
        pub result: Option<String>,
        pub error: Option<String>,
        pub mapped_event_code: Option<String>,
        pub journey_instance_id: Option<Uuid>,
        pub stage_instance_id: Option<Uuid>,
        pub job_id: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event_mapping {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "event_mappings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub source_system: String,
        pub external_code: String,
        pub event_code: String,
        pub journey_type: Option<String>,
        pub create_instance: bool,
        pub active: bool,
        pub description: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod config {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "integration_configs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub source_system: String,
        pub name: String,
        pub protocol: String,
        pub active: bool,
        pub require_mapping: bool,
        pub settings: Option<Json>,
        pub description: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
