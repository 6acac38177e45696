//! SeaORM entities of the six organisation tables, and the validated newtypes and choice lists of
//! this module. Every table but `hospital_settings` is soft-deleted (`deleted_at`).

/// Department categories (wire values).
pub const CATEGORIES: &[&str] = &[
    "CLINICAL",
    "NURSING",
    "ADMINISTRATIVE",
    "SUPPORT",
    "EMERGENCY",
    "DIAGNOSTIC",
];
pub const GENDERS: &[&str] = &["MALE", "FEMALE", "UNKNOWN"];
pub const LANGUAGES: &[&str] = &["ar", "en"];
pub const CHANNELS: &[&str] = &["SMS", "WHATSAPP", "EMAIL"];
pub const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// PX action triggers a hospital can switch on and off (SPEC.md rule 8).
pub const ACTION_TRIGGERS: &[&str] = &[
    "COMPLAINT_CREATED",
    "NEGATIVE_STAGE_SURVEY",
    "NEGATIVE_RESOLUTION_SATISFACTION",
    "NEGATIVE_SENTIMENT",
    "CALL_RATED_LOW",
    "KPI_BREACHED",
];

/// `"X" is not a valid choice; allowed: A, B` — the same wording as enum errors elsewhere.
pub fn choice_error(value: &str, allowed: &[&str]) -> String {
    format!(
        "\"{value}\" is not a valid choice; allowed: {}",
        allowed.join(", ")
    )
}

/// A Saudi national ID (starts with 1) or iqama number (starts with 2): exactly 10 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalId(String);

impl NationalId {
    /// Accepts ASCII or Arabic-Indic digits with spaces or dashes between them.
    ///
    /// # Errors
    /// A message for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits: String = crate::platform::text::normalize_arabic(raw)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if digits.len() == 10
            && digits.chars().all(|c| c.is_ascii_digit())
            && (digits.starts_with('1') || digits.starts_with('2'))
        {
            Ok(Self(digits))
        } else {
            Err("A national ID or iqama number is 10 digits starting with 1 or 2.".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `+9665*****123`: the first five and last three characters stay.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// `*******890`: only the last three digits stay.
pub fn mask_tail(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 3 {
        return "*".repeat(chars.len());
    }
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{}{tail}", "*".repeat(chars.len() - 3))
}

pub mod hospital {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "hospitals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name_en: String,
        pub name_ar: String,
        pub city: String,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod hospital_settings {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "hospital_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub hospital_id: Uuid,
        pub negative_threshold: i32,
        pub survey_link_validity_days: i32,
        pub reminder_after_days: i32,
        pub quiet_hours_start: String,
        pub quiet_hours_end: String,
        pub default_channel: String,
        pub enabled_channels: Json,
        pub evidence_required: bool,
        pub action_triggers: Json,
        pub call_rating_threshold: i32,
        pub escalation_chain: Json,
        pub working_days: Json,
        pub work_start: String,
        pub work_end: String,
        pub timezone: String,
        pub holidays: Json,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod department {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "departments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub parent_id: Option<Uuid>,
        pub code: String,
        pub name_en: String,
        pub name_ar: String,
        pub category: String,
        /// `/<root id>/…/<own id>/`
        pub path: String,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod physician {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "physicians")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub user_id: Option<Uuid>,
        pub license_number: String,
        pub first_name_en: String,
        pub last_name_en: String,
        pub first_name_ar: String,
        pub last_name_ar: String,
        pub specialty: String,
        pub phone: Option<String>,
        pub email: Option<String>,
        pub active: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod employee {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "employees")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub department_id: Option<Uuid>,
        pub user_id: Option<Uuid>,
        pub employee_number: String,
        pub first_name_en: String,
        pub last_name_en: String,
        pub first_name_ar: String,
        pub last_name_ar: String,
        pub job_title: String,
        pub reports_to_id: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod patient {
    use chrono::{DateTime, NaiveDate, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "patients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub hospital_id: Uuid,
        pub mrn: String,
        pub first_name_en: String,
        pub last_name_en: String,
        pub first_name_ar: String,
        pub last_name_ar: String,
        pub search_text: String,
        pub phone: Option<String>,
        pub email: Option<String>,
        pub preferred_language: String,
        pub date_of_birth: Option<NaiveDate>,
        pub gender: String,
        /// base64(nonce ‖ AES-256-GCM ciphertext); never the plaintext.
        pub national_id_enc: Option<String>,
        /// hex HMAC-SHA256 blind index of the normalised national ID.
        pub national_id_index: Option<String>,
        pub opt_out: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_are_ten_digits_starting_with_one_or_two() {
        assert_eq!(
            NationalId::parse("1012345678").unwrap().as_str(),
            "1012345678"
        );
        assert_eq!(
            NationalId::parse("2 012-345 678").unwrap().as_str(),
            "2012345678"
        );
        assert_eq!(
            NationalId::parse("١٠١٢٣٤٥٦٧٨").unwrap().as_str(),
            "1012345678"
        );
        for bad in ["3012345678", "101234567", "10123456789", "10123x5678", ""] {
            assert!(NationalId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_keep_only_the_agreed_characters() {
        assert_eq!(mask_phone("+966512345123"), "+9665*****123");
        assert_eq!(mask_tail("1234567890"), "*******890");
        assert_eq!(mask_tail("12"), "**");
    }
}
