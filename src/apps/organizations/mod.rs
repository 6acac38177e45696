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
pub use service::integration::{
    PatientContact, hospital_names, patient_contact, patients_by_phone, set_patient_opt_out,
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
