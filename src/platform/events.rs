//! Domain events: the only way modules signal each other.
//!
//! A producer calls [`publish`] with its own transaction; that writes one `events.dispatch` job, so the
//! event exists exactly when the state change does. The worker runs the dispatch job, which writes one job
//! per subscriber (registered in `startup.rs`) in the same transaction that completes the dispatch. Each
//! subscriber therefore retries on its own, and must be idempotent (it can run again after a crash).
//! On the wire and in the table an event is `{"type": "...", "payload": {...}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::clock::Clock;
use crate::platform::jobs::{
    self, BatchContext, BatchHandler, JobContext, JobError, JobHandler, NewJob, Registry,
};

/// The job kind that fans an event out to its subscribers.
pub const DISPATCH_KIND: &str = "events.dispatch";

macro_rules! domain_events {
    ($( $(#[$doc:meta])* $name:ident { $( $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            pub struct $name { $( pub $field: $ty ),* }
        )*

        /// Every domain event; serialised as `{"type": "<Name>", "payload": {...}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "payload")]
        pub enum DomainEvent { $( $name($name) ),* }

        /// The event's type, for subscribing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType { $( $name ),* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[ $( EventType::$name ),* ];

            pub fn as_str(self) -> &'static str {
                match self { $( EventType::$name => stringify!($name) ),* }
            }
        }

        impl DomainEvent {
            pub fn event_type(&self) -> EventType {
                match self { $( DomainEvent::$name(_) => EventType::$name ),* }
            }
        }

        $(
            impl From<$name> for DomainEvent {
                fn from(e: $name) -> Self { DomainEvent::$name(e) }
            }
        )*
    };
}

domain_events! {
    /// A journey stage was completed by an inbound event.
    StageCompleted {
        hospital: Uuid, journey_instance: Uuid, stage_instance: Uuid, patient: Uuid,
        stage_code: String, inbound_event: Option<Uuid>,
    }
    /// HL7 A11/A13: an admission or discharge was cancelled; pending invitations are cancelled.
    EncounterCancelled { hospital: Uuid, encounter_id: String, journey_instance: Option<Uuid> }
    /// A survey was scored below its threshold (or an NPS detractor).
    SurveyScoredNegative {
        survey_instance: Uuid, hospital: Uuid, department: Option<Uuid>, physician: Option<Uuid>,
        template_kind: String, score: f64,
    }
    SurveyCompleted {
        survey_instance: Uuid, hospital: Uuid, template_kind: String, score: Option<f64>, is_negative: bool,
    }
    ComplaintCreated {
        complaint: Uuid, hospital: Uuid, department: Option<Uuid>, severity: String, priority: String,
    }
    ComplaintClosed { complaint: Uuid, hospital: Uuid }
    /// The resolution-satisfaction survey of a complaint came back dissatisfied.
    ResolutionDissatisfied { complaint: Uuid, survey_instance: Uuid, hospital: Uuid, score: f64 }
    SentimentNegative {
        result: Uuid, hospital: Uuid, source_type: String, source_id: Uuid, score: f64,
    }
    CallRatedLow { interaction: Uuid, hospital: Uuid, department: Option<Uuid>, rating: i32 }
    KpiBreached { kpi: Uuid, kpi_value: Uuid, hospital: Option<Uuid>, value: f64, threshold: f64 }
    ActionAssigned {
        action: Uuid, hospital: Uuid, assignee: Option<Uuid>, department: Option<Uuid>,
    }
    ActionEscalated { action: Uuid, hospital: Uuid, level: i32, assignee: Option<Uuid> }
}

/// Writes `event` to the outbox on `conn` (the producer's transaction).
///
/// # Errors
/// Database errors.
pub async fn publish<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    event: impl Into<DomainEvent>,
) -> Result<Uuid, DbErr> {
    let event = event.into();
    let id = jobs::enqueue(conn, clock, NewJob::new(DISPATCH_KIND, &event)).await?;
    // Without a dedupe key the insert always happens.
    id.ok_or_else(|| DbErr::Custom("event was not written".into()))
}

/// Event type → subscriber job kinds. Filled in `startup.rs`, then installed into the job registry.
#[derive(Default)]
pub struct EventBus {
    subscribers: BTreeMap<EventType, Vec<String>>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `handler` to `event` under the job kind `name` (e.g. `actions.on_survey_negative`).
    pub fn subscribe(
        &mut self,
        registry: &mut Registry,
        event: EventType,
        name: &str,
        handler: Arc<dyn JobHandler>,
    ) -> &mut Self {
        registry.register(name, handler);
        self.subscribers
            .entry(event)
            .or_default()
            .push(name.to_string());
        self
    }

    pub fn subscribers(&self, event: EventType) -> &[String] {
        self.subscribers.get(&event).map_or(&[], Vec::as_slice)
    }

    /// Registers the dispatcher; call once after every subscription.
    pub fn install(self, registry: &mut Registry) {
        registry.register_batch(
            DISPATCH_KIND,
            Arc::new(Dispatcher { bus: self }),
            DISPATCH_BATCH,
        );
    }
}

/// Dispatch jobs fanned out in one transaction. Busy event types (a `StageCompleted` per processed
/// inbound event) then cost one claim and one commit per hundred events, not per event, and an event
/// type nobody subscribes to costs no more than that.
const DISPATCH_BATCH: usize = 100;

struct Dispatcher {
    bus: EventBus,
}

#[async_trait::async_trait]
impl BatchHandler for Dispatcher {
    async fn run_batch(&self, ctx: &BatchContext) -> Vec<Result<(), JobError>> {
        let mut out: Vec<Result<(), JobError>> = vec![];
        let mut valid = vec![];
        for j in &ctx.jobs {
            match serde_json::from_value::<DomainEvent>(j.payload.clone()) {
                Ok(e) => {
                    valid.push((j.job_id, e));
                    out.push(Ok(()));
                }
                Err(e) => out.push(Err(JobError::Permanent(anyhow::anyhow!(
                    "payload of {DISPATCH_KIND} is invalid: {e}"
                )))),
            }
        }
        let fanned = async {
            let txn = ctx.begin().await?;
            for (job_id, event) in &valid {
                for sub in self.bus.subscribers(event.event_type()) {
                    // The key makes a re-run of this dispatch (after a crash) harmless.
                    let job =
                        NewJob::new(sub.clone(), event).dedupe(format!("event:{job_id}:{sub}"));
                    jobs::enqueue(&txn, ctx.clock.as_ref(), job).await?;
                }
            }
            let done: Vec<Uuid> = valid.iter().map(|(id, _)| *id).collect();
            ctx.complete(txn, &done).await
        }
        .await;
        if let Err(e) = fanned {
            let msg = format!("{e}");
            for (o, j) in out.iter_mut().zip(&ctx.jobs) {
                if o.is_ok() && valid.iter().any(|(id, _)| *id == j.job_id) {
                    *o = Err(JobError::Retry(anyhow::anyhow!("{msg}")));
                }
            }
        }
        out
    }
}

/// Reads the event a subscriber job carries.
///
/// # Errors
/// [`JobError::Permanent`] when the payload is not an event.
pub fn event_of(ctx: &JobContext) -> Result<DomainEvent, JobError> {
    ctx.payload()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_type_and_payload() {
        let id = Uuid::nil();
        let e: DomainEvent = SurveyScoredNegative {
            survey_instance: id,
            hospital: id,
            department: None,
            physician: None,
            template_kind: "STAGE".into(),
            score: 40.0,
        }
        .into();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "SurveyScoredNegative");
        assert_eq!(v["payload"]["score"], 40.0);
        assert_eq!(v["payload"]["template_kind"], "STAGE");
        let back: DomainEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.event_type().as_str(), "SurveyScoredNegative");
    }

    #[test]
    fn every_event_type_has_a_distinct_name() {
        let mut names: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(n, 12);
    }
}
