//! Organizations: hospitals and their settings, departments (a tree), physicians, employees and
//! patients. Other modules call only this facade (SPEC.md "Dependencies between modules").
//!
//! * `model` — SeaORM entities and validated newtypes; `wire` — request/response bodies
//! * `service` — business rules, one transaction per write, every write audited
//! * `api` — thin handlers under `/api/organizations/`

pub mod api;
pub mod model;
pub mod service;
pub mod views;
pub mod wire;

use sea_orm::ConnectionTrait;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::platform::calendar::WorkCalendar;
use crate::platform::error::AppResult;
use crate::platform::state::AppState;

pub use service::integration::{
    Demographics, MergeOutcome, department_by_code, department_in_hospital, ensure_patient,
    hospital_by_code, hospital_exists, merge_patients, patient_by_mrn, patient_in_hospital,
    physician_by_license, physician_in_hospital, sole_hospital, update_demographics,
};
pub use wire::HospitalSettings;

/// The module's routes, merged by `startup::router`.
pub fn router() -> OpenApiRouter<AppState> {
    api::router()
}

/// A hospital's settings, or the SPEC defaults when it has no settings row. Pass your transaction to
/// read inside it. No permission check: callers have checked their own.
///
/// # Errors
/// Database errors.
pub async fn hospital_settings<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
) -> AppResult<HospitalSettings> {
    service::hospitals::settings_for(conn, hospital).await
}

/// The working calendar (week, hours, zone, holidays) the settings describe, for SLA arithmetic.
pub fn work_calendar(settings: &HospitalSettings) -> WorkCalendar {
    service::hospitals::work_calendar(settings)
}

/// Whether a PX action trigger (`COMPLAINT_CREATED`, `CALL_RATED_LOW`, …) is switched on.
pub fn trigger_enabled(settings: &HospitalSettings, trigger: &str) -> bool {
    settings
        .action_triggers
        .get(trigger)
        .copied()
        .unwrap_or(false)
}

/// How to reach a patient with a survey invitation.
#[derive(Debug, Clone)]
pub struct PatientContact {
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `ar` or `en`.
    pub language: String,
    pub opt_out: bool,
}

/// A live patient's contact details and language (for survey invitations). No permission check.
///
/// # Errors
/// Database errors.
pub async fn patient_contact<C: ConnectionTrait>(
    conn: &C,
    patient: Uuid,
) -> AppResult<Option<PatientContact>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(model::patient::Entity::find_by_id(patient)
        .filter(model::patient::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|p| PatientContact {
            phone: p.phone,
            email: p.email,
            language: if p.preferred_language == "en" {
                "en".into()
            } else {
                "ar".into()
            },
            opt_out: p.opt_out,
        }))
}

/// A hospital's English and Arabic names (for pages shown to patients). No permission check.
///
/// # Errors
/// Database errors.
pub async fn hospital_names<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
) -> AppResult<Option<(String, String)>> {
    use sea_orm::EntityTrait;
    Ok(model::hospital::Entity::find_by_id(hospital)
        .one(conn)
        .await?
        .map(|h| (h.name_en, h.name_ar)))
}
