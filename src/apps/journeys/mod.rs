//! Journeys: templates of ordered stages per hospital and journey type (EMS, INPATIENT, OPD, DAY_CASE),
//! instances per encounter and their stage instances (SPEC.md rules 1–3). Other modules call only this
//! facade: integrations calls [`complete_stage_for_event`] inside its own transaction.
//!
//! * `model` — SeaORM entities; `wire` — request/response bodies
//! * `service` — business rules (`engine` holds the stage-completion rule), every write audited
//! * `api` — thin handlers under `/api/journeys/`

pub mod api;
pub mod model;
pub mod service;
pub mod views;
pub mod wire;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::platform::audit::Actor;
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::state::AppState;

pub use service::engine::{CreateSpec, StageEvent, StageOutcome};
pub use wire::SimulateOut;

/// The module's routes, merged by `startup::router`.
pub fn router() -> OpenApiRouter<AppState> {
    api::router()
}

/// SPEC rule 3 for one inbound event, inside the caller's transaction: find (or, when asked, create)
/// the encounter's journey, complete the first matching stage, audit it and publish `StageCompleted`.
///
/// # Errors
/// 422 when the journey must be created but the hospital has no active template of the type;
/// database errors. Either way the caller's transaction should roll back.
pub async fn complete_stage_for_event<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    event: &StageEvent,
) -> AppResult<StageOutcome> {
    service::engine::complete_stage_for_event(conn, clock, actor, event).await
}

/// Which stage an event code would complete on the encounter's journey now, without writing.
/// `None` when the hospital has no journey for the encounter.
///
/// # Errors
/// Database errors.
pub async fn simulate_for_encounter<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    encounter_id: &str,
    event_code: &str,
) -> AppResult<Option<SimulateOut>> {
    match service::engine::instance_for_encounter(conn, hospital, encounter_id).await? {
        Some(i) => Ok(Some(
            service::instances::simulate_instance(conn, &i, event_code).await?,
        )),
        None => Ok(None),
    }
}

/// The journey instance of an encounter, if any (for `EncounterCancelled`).
///
/// # Errors
/// Database errors.
pub async fn instance_of_encounter<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    encounter_id: &str,
) -> AppResult<Option<Uuid>> {
    Ok(
        service::engine::instance_for_encounter(conn, hospital, encounter_id)
            .await?
            .map(|i| i.id),
    )
}

/// A patient merge (HL7 A40): every journey of `merged` now belongs to `surviving`. Returns how many
/// journeys moved. The caller audits the merge.
///
/// # Errors
/// Database errors.
pub async fn move_patient_journeys<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    merged: Uuid,
    surviving: Uuid,
) -> AppResult<u64> {
    let r = model::instance::Entity::update_many()
        .col_expr(model::instance::Column::PatientId, Expr::value(surviving))
        .col_expr(model::instance::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(model::instance::Column::PatientId.eq(merged))
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}
