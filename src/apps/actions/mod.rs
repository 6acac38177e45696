//! PX Action Center (SPEC.md rule 8): actions opened by triggers (negative stage survey, complaint,
//! dissatisfied resolution, negative sentiment, low call rating, KPI breach) or by hand, routed by
//! rules, tracked against SLA configs on the hospital calendar, reminded, escalated along the
//! hospital's chain, and closed only by approval. See `docs/actions.md`.
//!
//! * `model` — entities; `wire` — request/response bodies; `workflow` — the state machine
//! * `sla` — pure SLA arithmetic; `service` — use cases; `jobs` — triggers and the SLA sweep
//! * `api` — thin handlers under `/api/actions/`; `views` — the Action Center console

pub mod api;
pub mod jobs;
pub mod model;
pub mod service;
pub mod sla;
pub mod views;
pub mod wire;
pub mod workflow;

use utoipa_axum::router::OpenApiRouter;

use crate::platform::events::EventBus;
use crate::platform::jobs::Registry;
use crate::platform::jobs::scheduler::ScheduleDef;
use crate::platform::state::AppState;

pub use service::engine::{NewAction, SweepOutcome, open_action, sweep};

/// The board's saved views: (name, query string).
pub const SAVED_VIEWS: &[(&str, &str)] = &[
    ("mine", "mine=true&open=true"),
    ("overdue", "sla=OVERDUE"),
    ("escalated", "escalated=true&open=true"),
    ("surveys", "source=SURVEY&open=true"),
    ("complaints", "source=COMPLAINT,RESOLUTION_SURVEY&open=true"),
    ("social", "source=SOCIAL,SENTIMENT&open=true"),
];

/// The module's routes, merged by `startup::router`.
pub fn router() -> OpenApiRouter<AppState> {
    api::router()
}

/// Triggers and the SLA sweep.
pub fn register_jobs(registry: &mut Registry, bus: &mut EventBus) {
    jobs::register(registry, bus);
}

/// The SLA sweep, every minute (idempotent; see `service::engine::sweep`).
pub fn schedules() -> Vec<ScheduleDef> {
    vec![ScheduleDef {
        name: "actions.sla_sweep",
        cron: "30 * * * * *",
        job_kind: jobs::SWEEP_JOB,
        payload: serde_json::json!({}),
    }]
}
