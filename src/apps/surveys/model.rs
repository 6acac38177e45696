//! SeaORM entities of the four survey tables and the module's choice lists.

pub const KINDS: &[&str] = &["STAGE", "RESOLUTION_SATISFACTION", "GENERAL"];
pub const METHODS: &[&str] = &["AVERAGE", "WEIGHTED", "NPS"];
pub const QUESTION_TYPES: &[&str] = &[
    "RATING",
    "NPS",
    "LIKERT",
    "YES_NO",
    "SINGLE_CHOICE",
    "MULTIPLE_CHOICE",
    "TEXT",
];
pub const STATUSES: &[&str] = &[
    "PENDING",
    "SENT",
    "OPENED",
    "COMPLETED",
    "EXPIRED",
    "CANCELLED",
    "FAILED",
];
pub const CHANNELS: &[&str] = &["SMS", "WHATSAPP", "EMAIL"];
pub const LANGUAGES: &[&str] = &["ar", "en"];

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const OPENED: &str = "OPENED";
pub const COMPLETED: &str = "COMPLETED";
pub const EXPIRED: &str = "EXPIRED";
pub const CANCELLED: &str = "CANCELLED";
pub const FAILED: &str = "FAILED";

/// Statuses in which the patient may still answer.
pub const OPEN_STATUSES: &[&str] = &[PENDING, SENT, OPENED];

/// SPEC rule 6: the threshold when neither the template nor the hospital sets one.
pub const DEFAULT_THRESHOLD: i32 = 60;

pub mod template {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub family_id: Uuid,
        pub version: i32,
        pub name_en: String,
        pub name_ar: String,
        pub description: String,
        pub kind: String,
        pub scoring_method: String,
        pub negative_threshold: Option<i32>,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod question {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_questions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub survey_template_id: Uuid,
        pub hospital_id: Uuid,
        pub question_order: i32,
        pub question_type: String,
        pub text_en: String,
        pub text_ar: String,
        /// `[{"value": "...", "label_en": "...", "label_ar": "...", "score": 0–100}]`
        pub choices: Json,
        pub required: bool,
        pub weight: f64,
        /// `{"question": uuid, "op": "lte", "value": 3}` — show only when the earlier answer matches.
        pub branch: Option<Json>,
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
    #[sea_orm(table_name = "survey_instances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub survey_template_id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub physician_id: Option<Uuid>,
        pub patient_id: Option<Uuid>,
        pub journey_instance_id: Option<Uuid>,
        pub stage_instance_id: Option<Uuid>,
        pub encounter_id: String,
        pub journey_type: String,
        pub stage_code: String,
        pub channel: String,
        pub recipient: String,
        pub language: String,
        pub token_hash: String,
        pub status: String,
        pub scheduled_at: Option<DateTime<Utc>>,
        pub sent_at: Option<DateTime<Utc>>,
        pub opened_at: Option<DateTime<Utc>>,
        pub completed_at: Option<DateTime<Utc>>,
        pub expires_at: DateTime<Utc>,
        pub reminded_at: Option<DateTime<Utc>>,
        pub send_count: i32,
        pub score: Option<f64>,
        pub is_negative: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod response {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_responses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub survey_instance_id: Uuid,
        pub question_id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub physician_id: Option<Uuid>,
        /// The answer as given: a number, a string, a bool or a list of choice values.
        pub value: Json,
        pub text_value: String,
        /// 0–100 (SPEC rule 6); null for free text.
        pub score: Option<f64>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
