//! Triggers (domain-event subscribers) and the SLA sweep job. Every trigger is switchable per hospital
//! (`action_triggers` in the hospital settings) and idempotent: one open action per source object, so
//! a re-run of the same event, or a second event about the same object, opens nothing new.

use uuid::Uuid;

use super::model::PRIORITIES;
use super::service::calendar_of;
use super::service::engine::{self, NewAction};
use crate::apps::organizations;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{DomainEvent, EventBus, EventType, event_of};
use crate::platform::jobs::{JobContext, JobError, Registry, handler_fn};

/// The job kind of the SLA sweep (scheduled every minute).
pub const SWEEP_JOB: &str = "actions.sla_sweep";

fn retry(e: AppError) -> JobError {
    JobError::Retry(anyhow::anyhow!("{e:#}"))
}

/// What an event asks for, if anything: the trigger switch that governs it and the action to open.
pub fn plan(event: &DomainEvent) -> Option<(&'static str, NewAction)> {
    let base = |hospital: Uuid,
                department: Option<Uuid>,
                source_type: &str,
                source_id: Uuid,
                title: String,
                description: String| NewAction {
        hospital,
        department,
        title,
        description,
        source_type: source_type.into(),
        source_id: Some(source_id),
        category: "PATIENT_EXPERIENCE".into(),
        priority: "MEDIUM".into(),
        severity: "MEDIUM".into(),
        assignee: None,
        created_by: None,
    };
    match event {
        DomainEvent::SurveyScoredNegative(e) if e.template_kind == "STAGE" => {
            let mut n = base(
                e.hospital,
                e.department,
                "SURVEY",
                e.survey_instance,
                format!(
                    "Negative stage survey (score {:.0}) · استبيان مرحلة سلبي (الدرجة {:.0})",
                    e.score, e.score
                ),
                format!(
                    "A patient scored a journey-stage survey {:.1}. Review the answers and act on them.",
                    e.score
                ),
            );
            if e.score < 40.0 {
                n.priority = "HIGH".into();
                n.severity = "HIGH".into();
            }
            Some(("NEGATIVE_STAGE_SURVEY", n))
        }
        DomainEvent::ComplaintCreated(e) => {
            let mut n = base(
                e.hospital,
                e.department,
                "COMPLAINT",
                e.complaint,
                "Complaint received · شكوى جديدة".into(),
                "A complaint was registered; follow up on its root cause.".into(),
            );
            if PRIORITIES.contains(&e.priority.as_str()) {
                n.priority = e.priority.clone();
            }
            if PRIORITIES.contains(&e.severity.as_str()) {
                n.severity = e.severity.clone();
            }
            Some(("COMPLAINT_CREATED", n))
        }
        DomainEvent::ResolutionDissatisfied(e) => Some((
            "NEGATIVE_RESOLUTION_SATISFACTION",
            NewAction {
                priority: "HIGH".into(),
                ..base(
                    e.hospital,
                    None,
                    "RESOLUTION_SURVEY",
                    e.survey_instance,
                    format!(
                        "Patient dissatisfied with a complaint's resolution (score {:.0}) · عدم رضا عن حل الشكوى",
                        e.score
                    ),
                    format!(
                        "Complaint {}: the resolution-satisfaction survey came back dissatisfied.",
                        e.complaint
                    ),
                )
            },
        )),
        DomainEvent::SentimentNegative(e) => {
            let social = e.source_type.to_ascii_uppercase().contains("SOCIAL")
                || e.source_type.to_ascii_uppercase().contains("MENTION");
            Some((
                "NEGATIVE_SENTIMENT",
                base(
                    e.hospital,
                    None,
                    if social { "SOCIAL" } else { "SENTIMENT" },
                    e.source_id,
                    "Negative sentiment detected · رصد انطباع سلبي".into(),
                    format!(
                        "Negative sentiment ({:.2}) on a {} item.",
                        e.score, e.source_type
                    ),
                ),
            ))
        }
        DomainEvent::CallRatedLow(e) => Some((
            "CALL_RATED_LOW",
            NewAction {
                category: "COMMUNICATION".into(),
                ..base(
                    e.hospital,
                    e.department,
                    "CALL_CENTER",
                    e.interaction,
                    format!(
                        "Low call-center rating ({}) · تقييم منخفض لمركز الاتصال",
                        e.rating
                    ),
                    format!("A caller rated the call {} out of 5.", e.rating),
                )
            },
        )),
        DomainEvent::KpiBreached(e) => e.hospital.map(|h| {
            (
                "KPI_BREACHED",
                NewAction {
                    category: "PROCESS".into(),
                    priority: "HIGH".into(),
                    ..base(
                        h,
                        None,
                        "KPI",
                        e.kpi_value,
                        "KPI threshold breached · تجاوز حد مؤشر الأداء".into(),
                        format!("Value {} against threshold {}.", e.value, e.threshold),
                    )
                },
            )
        }),
        _ => None,
    }
}

/// Runs one trigger: the hospital's switch, its threshold (call ratings), duplicate suppression, then
/// the action, all in the job's own transaction.
async fn on_event(ctx: &JobContext) -> Result<(), JobError> {
    let event = event_of(ctx)?;
    let Some((trigger, new)) = plan(&event) else {
        return Ok(());
    };
    let txn = ctx.begin().await?;
    let (settings, _) = calendar_of(&txn, new.hospital).await.map_err(retry)?;
    let mut wanted = organizations::trigger_enabled(&settings, trigger);
    if let DomainEvent::CallRatedLow(e) = &event {
        wanted &= e.rating <= settings.call_rating_threshold;
    }
    let duplicate = match new.source_id {
        Some(id) => engine::open_for_source(&txn, &new.source_type, id)
            .await
            .map_err(retry)?
            .is_some(),
        None => false,
    };
    if wanted && !duplicate {
        engine::open_action(&txn, ctx.clock.as_ref(), &Actor::system(), new)
            .await
            .map_err(retry)?;
    }
    ctx.complete(txn).await
}

/// Subscribes the triggers and registers the sweep job.
pub fn register(registry: &mut Registry, bus: &mut EventBus) {
    let trigger = || handler_fn(|ctx| Box::pin(on_event(ctx)));
    for (event, name) in [
        (
            EventType::SurveyScoredNegative,
            "actions.on_survey_negative",
        ),
        (EventType::ComplaintCreated, "actions.on_complaint_created"),
        (
            EventType::ResolutionDissatisfied,
            "actions.on_resolution_dissatisfied",
        ),
        (
            EventType::SentimentNegative,
            "actions.on_sentiment_negative",
        ),
        (EventType::CallRatedLow, "actions.on_call_rated_low"),
        (EventType::KpiBreached, "actions.on_kpi_breached"),
    ] {
        bus.subscribe(registry, event, name, trigger());
    }
    registry.register(
        SWEEP_JOB,
        handler_fn(|ctx| {
            Box::pin(async move {
                let out = engine::sweep(&ctx.db, ctx.clock.as_ref())
                    .await
                    .map_err(retry)?;
                if out.reminded + out.escalated > 0 {
                    tracing::info!(
                        reminded = out.reminded,
                        escalated = out.escalated,
                        "action SLA sweep"
                    );
                }
                Ok(())
            })
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::events::{ResolutionDissatisfied, SurveyScoredNegative};

    fn survey(kind: &str, score: f64) -> DomainEvent {
        SurveyScoredNegative {
            survey_instance: Uuid::now_v7(),
            hospital: Uuid::now_v7(),
            department: None,
            physician: None,
            template_kind: kind.into(),
            score,
        }
        .into()
    }

    #[test]
    fn only_stage_surveys_open_a_stage_survey_action() {
        let (trigger, n) = plan(&survey("STAGE", 30.0)).unwrap();
        assert_eq!(trigger, "NEGATIVE_STAGE_SURVEY");
        assert_eq!(n.source_type, "SURVEY");
        assert_eq!(n.priority, "HIGH");
        assert!(plan(&survey("RESOLUTION_SATISFACTION", 10.0)).is_none());
        let (t, n) = plan(
            &ResolutionDissatisfied {
                complaint: Uuid::now_v7(),
                survey_instance: Uuid::now_v7(),
                hospital: Uuid::now_v7(),
                score: 20.0,
            }
            .into(),
        )
        .unwrap();
        assert_eq!(t, "NEGATIVE_RESOLUTION_SATISFACTION");
        assert_eq!(n.source_type, "RESOLUTION_SURVEY");
    }
}
