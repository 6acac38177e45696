//! Request and response bodies of the organisations API (SPEC.md "Wire formats"). Requests carry every
//! field as optional so one body type serves POST, PUT and PATCH and the service can report every
//! missing or invalid field at once; `Option<Option<_>>` fields tell "absent" from `null`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::validate::nullable;

use super::model::{department, employee, hospital, physician};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct HospitalIn {
    pub code: Option<String>,
    pub name_en: Option<String>,
    pub name_ar: Option<String>,
    pub city: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HospitalOut {
    pub id: Uuid,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub city: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<hospital::Model> for HospitalOut {
    fn from(m: hospital::Model) -> Self {
        Self {
            id: m.id,
            code: m.code,
            name_en: m.name_en,
            name_ar: m.name_ar,
            city: m.city,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A hospital's business configuration (SPEC.md "Per-hospital settings and the calendar").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HospitalSettings {
    pub hospital: Uuid,
    /// A survey scoring below this (0–100) is negative.
    pub negative_threshold: i32,
    pub survey_link_validity_days: i32,
    /// 0 = no reminder.
    pub reminder_after_days: i32,
    /// `HH:MM`, local time; quiet hours may cross midnight.
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    /// `SMS`, `WHATSAPP` or `EMAIL`; one of `enabled_channels`.
    pub default_channel: String,
    pub enabled_channels: Vec<String>,
    pub evidence_required: bool,
    /// Trigger code → on/off.
    pub action_triggers: BTreeMap<String, bool>,
    /// A call rated at or below this (1–5) triggers an action.
    pub call_rating_threshold: i32,
    /// Role codes, first escalation level first.
    pub escalation_chain: Vec<String>,
    /// `SUN` … `SAT`.
    pub working_days: Vec<String>,
    pub work_start: String,
    pub work_end: String,
    /// IANA zone, e.g. `Asia/Riyadh`.
    pub timezone: String,
    /// Local dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct HospitalSettingsIn {
    pub negative_threshold: Option<i64>,
    pub survey_link_validity_days: Option<i64>,
    pub reminder_after_days: Option<i64>,
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub default_channel: Option<String>,
    pub enabled_channels: Option<Vec<String>>,
    pub evidence_required: Option<bool>,
    /// Only the triggers named are changed.
    pub action_triggers: Option<BTreeMap<String, bool>>,
    pub call_rating_threshold: Option<i64>,
    pub escalation_chain: Option<Vec<String>>,
    pub working_days: Option<Vec<String>>,
    pub work_start: Option<String>,
    pub work_end: Option<String>,
    pub timezone: Option<String>,
    pub holidays: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DepartmentIn {
    pub hospital: Option<Uuid>,
    /// `null` makes it a root department.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub parent: Option<Option<Uuid>>,
    pub code: Option<String>,
    pub name_en: Option<String>,
    pub name_ar: Option<String>,
    /// CLINICAL, NURSING, ADMINISTRATIVE, SUPPORT, EMERGENCY or DIAGNOSTIC
    pub category: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub parent: Option<Uuid>,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub category: String,
    /// Materialised path of ancestor ids, `/<root>/…/<id>/` (read-only).
    pub path: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<department::Model> for DepartmentOut {
    fn from(m: department::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            parent: m.parent_id,
            code: m.code,
            name_en: m.name_en,
            name_ar: m.name_ar,
            category: m.category,
            path: m.path,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PhysicianIn {
    pub hospital: Option<Uuid>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub user: Option<Option<Uuid>>,
    pub license_number: Option<String>,
    pub first_name_en: Option<String>,
    pub last_name_en: Option<String>,
    pub first_name_ar: Option<String>,
    pub last_name_ar: Option<String>,
    pub specialty: Option<String>,
    /// E.164, e.g. `+966501234567`
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhysicianOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub user: Option<Uuid>,
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
}

impl From<physician::Model> for PhysicianOut {
    fn from(m: physician::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            department: m.department_id,
            user: m.user_id,
            license_number: m.license_number,
            first_name_en: m.first_name_en,
            last_name_en: m.last_name_en,
            first_name_ar: m.first_name_ar,
            last_name_ar: m.last_name_ar,
            specialty: m.specialty,
            phone: m.phone,
            email: m.email,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EmployeeIn {
    pub hospital: Option<Uuid>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub user: Option<Option<Uuid>>,
    pub employee_number: Option<String>,
    pub first_name_en: Option<String>,
    pub last_name_en: Option<String>,
    pub first_name_ar: Option<String>,
    pub last_name_ar: Option<String>,
    pub job_title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub reports_to: Option<Option<Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub user: Option<Uuid>,
    pub employee_number: String,
    pub first_name_en: String,
    pub last_name_en: String,
    pub first_name_ar: String,
    pub last_name_ar: String,
    pub job_title: String,
    pub reports_to: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<employee::Model> for EmployeeOut {
    fn from(m: employee::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            department: m.department_id,
            user: m.user_id,
            employee_number: m.employee_number,
            first_name_en: m.first_name_en,
            last_name_en: m.last_name_en,
            first_name_ar: m.first_name_ar,
            last_name_ar: m.last_name_ar,
            job_title: m.job_title,
            reports_to: m.reports_to_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PatientIn {
    pub hospital: Option<Uuid>,
    pub mrn: Option<String>,
    pub first_name_en: Option<String>,
    pub last_name_en: Option<String>,
    pub first_name_ar: Option<String>,
    pub last_name_ar: Option<String>,
    /// E.164, e.g. `+966501234567`
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `ar` or `en`
    pub preferred_language: Option<String>,
    /// `YYYY-MM-DD`, not in the future
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub date_of_birth: Option<Option<String>>,
    /// MALE, FEMALE or UNKNOWN
    pub gender: Option<String>,
    /// Write-only: 10 digits starting with 1 (citizen) or 2 (iqama). Stored encrypted.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub national_id: Option<Option<String>>,
    pub opt_out: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub mrn: String,
    pub first_name_en: String,
    pub last_name_en: String,
    pub first_name_ar: String,
    pub last_name_ar: String,
    /// Masked in lists (`+9665*****123`), in full on the detail view.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub preferred_language: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: String,
    /// Masked in lists (`*******890`), in full on the detail view.
    pub national_id: Option<String>,
    pub opt_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
