//! Notifications tables.

pub mod template {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        /// `None`: the global template every hospital falls back to.
        pub hospital_id: Option<Uuid>,
        /// `None`: serves every channel.
        pub channel: Option<String>,
        pub description: String,
        pub subject_en: String,
        pub subject_ar: String,
        pub body_en: String,
        pub body_ar: String,
        pub active: bool,
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
    #[sea_orm(table_name = "notification_logs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Option<Uuid>,
        pub channel: String,
        pub template_code: String,
        pub language: String,
        pub recipient_type: String,
        pub patient_id: Option<Uuid>,
        pub user_id: Option<Uuid>,
        /// The address used: E.164 phone, email, or the user id for in-app. Masked in every list.
        pub recipient: String,
        pub subject: String,
        /// The full rendered message.
        pub body: String,
        pub status: String,
        /// Why a message was not sent (`OPTED_OUT`, `CHANNEL_DISABLED`, `NO_ADDRESS`, …), or empty.
        pub reason: String,
        pub attempts: i32,
        pub max_attempts: i32,
        /// The backend that handled it: `console`, `smtp`, `http`, `inbox`.
        pub provider: String,
        pub provider_message_id: Option<String>,
        pub error: String,
        pub related_type: Option<String>,
        pub related_id: Option<Uuid>,
        /// When delivery is due (after quiet hours for SMS / WhatsApp).
        pub scheduled_for: DateTime<Utc>,
        pub sent_at: Option<DateTime<Utc>>,
        pub delivered_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod inbox {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_inbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub hospital_id: Option<Uuid>,
        pub log_id: Option<Uuid>,
        pub title: String,
        pub body: String,
        /// A console path (`/actions/actions/<id>/`), or empty.
        pub link: String,
        pub read_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod optout_token {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_optout_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// SHA-256 hex of the token; the token itself is only in the message.
        pub token_hash: String,
        pub patient_id: Uuid,
        pub hospital_id: Option<Uuid>,
        pub log_id: Option<Uuid>,
        pub used_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
