//! Surveys: versioned bilingual templates with seven question types and branch logic, instances per
//! journey stage with a short secure link, the public form, scoring (SPEC.md rules 5–6), reminders and
//! the analytics dashboard. Other modules call only this facade and the domain events it publishes
//! (`SurveyCompleted`, `SurveyScoredNegative`).
//!
//! * `engine` — pure rules: answers, branch conditions, scoring, NPS; `token` — link tokens
//! * `model` — SeaORM entities; `wire` — request/response bodies
//! * `service` — use cases (every write audited); `api` — `/api/surveys/`; `views` — the console and
//!   the public form

pub mod api;
pub mod demo;
pub mod engine;
pub mod model;
pub mod service;
pub mod token;
pub mod views;
pub mod wire;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::platform::events::{self, DomainEvent, EventBus, EventType};
use crate::platform::jobs::{JobError, Registry, handler_fn};
use crate::platform::secret::Secret;
use crate::platform::state::AppState;

pub use service::delivery::{INVITE_JOB, SWEEP_JOB};

/// The module's routes, merged by `startup::router`.
pub fn router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The subscriber names (job kinds).
pub const ON_STAGE_COMPLETED: &str = "surveys.on_stage_completed";
pub const ON_ENCOUNTER_CANCELLED: &str = "surveys.on_encounter_cancelled";

/// Registers the invitation job, the sweep and the two subscribers.
pub fn register_jobs(state: &AppState, registry: &mut Registry, bus: &mut EventBus) {
    let secret: Arc<Secret<String>> = Arc::new(state.keys.secret.clone());
    let public_url = state.config.public_url.as_str().to_string();
    let s1 = secret.clone();
    bus.subscribe(
        registry,
        EventType::StageCompleted,
        ON_STAGE_COMPLETED,
        handler_fn(move |ctx| {
            let secret = s1.clone();
            Box::pin(async move {
                let DomainEvent::StageCompleted(e) = events::event_of(ctx)? else {
                    return Err(JobError::Permanent(anyhow::anyhow!("not a StageCompleted")));
                };
                let txn = ctx.begin().await?;
                service::delivery::on_stage_completed(
                    &txn,
                    ctx.clock.as_ref(),
                    secret.expose(),
                    e.stage_instance,
                )
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                ctx.complete(txn).await
            })
        }),
    );
    bus.subscribe(
        registry,
        EventType::EncounterCancelled,
        ON_ENCOUNTER_CANCELLED,
        handler_fn(|ctx| {
            Box::pin(async move {
                let DomainEvent::EncounterCancelled(e) = events::event_of(ctx)? else {
                    return Err(JobError::Permanent(anyhow::anyhow!(
                        "not an EncounterCancelled"
                    )));
                };
                let txn = ctx.begin().await?;
                service::delivery::on_encounter_cancelled(
                    &txn,
                    ctx.clock.as_ref(),
                    e.hospital,
                    &e.encounter_id,
                    e.journey_instance,
                )
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                ctx.complete(txn).await
            })
        }),
    );
    registry.register(
        INVITE_JOB,
        handler_fn(move |ctx| {
            let secret = secret.clone();
            let public_url = public_url.clone();
            Box::pin(async move {
                let p: service::delivery::InvitePayload = ctx.payload()?;
                let txn = ctx.begin().await?;
                service::delivery::run_send(
                    &txn,
                    ctx.clock.as_ref(),
                    secret.expose(),
                    &public_url,
                    &p,
                )
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                ctx.complete(txn).await
            })
        }),
    );
    registry.register(
        SWEEP_JOB,
        handler_fn(|ctx| {
            Box::pin(async move {
                let txn = ctx.begin().await?;
                let (expired, reminded) = service::delivery::sweep(&txn, ctx.clock.as_ref())
                    .await
                    .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                tracing::info!(expired, reminded, "survey sweep");
                ctx.complete(txn).await
            })
        }),
    );
}
