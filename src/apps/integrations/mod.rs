//! Integrations: inbound events from HIS, lab, radiology and pharmacy systems as JSON, HL7 v2 (HTTP or
//! MLLP) or FHIR R4; event mappings (source code → internal code, journey type, start-on-first-event);
//! integration configs; and the processor that applies each event to the journeys (SPEC rules 3–4).
//!
//! * `model` — entities; `wire` — bodies; `hl7`, `fhir` — pure adapters
//! * `service::intake` — validation, hospital, deduplication, durable store + job + audit
//! * `service::process` — the job `integrations.process_event`
//! * `service::channels` — bulk, HL7 v2, FHIR; `mllp` — the optional MLLP listener
//! * `api` — handlers under `/api/integrations/`

pub mod api;
pub mod fhir;
pub mod hl7;
pub mod mllp;
pub mod model;
pub mod service;
pub mod views;
pub mod wire;

use utoipa_axum::router::OpenApiRouter;

use crate::platform::jobs::{Registry, handler_fn};
use crate::platform::state::AppState;

pub use service::process::PROCESS_KIND;

/// The module's routes, merged by `startup::router`.
pub fn router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The module's job handlers, registered by `startup::job_registry`.
pub fn register_jobs(registry: &mut Registry) {
    registry.register(
        PROCESS_KIND,
        handler_fn(|ctx| Box::pin(service::process::run(ctx))),
    );
}
