//! Group commit for intake: concurrent requests hand their validated events to the [`IntakeBatcher`],
//! which writes up to [`MAX_BATCH`] of them — event rows, processing jobs and audit rows, each as one
//! multi-row INSERT — in ONE transaction, and answers every request only after that commit, so a 202
//! still means durably stored. While one batch commits, the next fills up: under load one commit carries
//! many events; alone, an event is written at once (no timer, no added latency).
//!
//! Deduplication (SPEC rule 4) stays exact: inside a batch, events with the same (hospital, source,
//! external id) — or, without one, the same payload hash — are answered with the first; across batches
//! and processes the unique index and the payload-hash look-up (under an advisory lock on PostgreSQL)
//! decide as for a single event. If the batch fails for any reason, every event of it is written again
//! on its own ([`intake::store_as`]), so one bad event never fails the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::intake::{self, NewEvent};
use super::process::{PROCESS_KIND, ProcessPayload};
use crate::apps::integrations::model::{FAILED, PENDING, inbound_event};
use crate::apps::integrations::wire::EventAccepted;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::db::{begin_write, stmt};
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, NewJob};
use crate::platform::state::AppState;

/// Most events one intake transaction carries.
pub const MAX_BATCH: usize = 256;

/// Batches written at the same time. One on SQLite (it has one writer anyway); two on PostgreSQL, so
/// one batch fills and writes while the other waits for its commit to reach the disk.
fn max_flushers(backend: DatabaseBackend) -> usize {
    if backend == DatabaseBackend::Postgres {
        2
    } else {
        1
    }
}

struct Item {
    hospital: Uuid,
    ev: NewEvent,
    actor: Actor,
    reply: oneshot::Sender<AppResult<EventAccepted>>,
}

#[derive(Default)]
struct Queue {
    items: Vec<Item>,
    flushing: usize,
}

/// The process's intake queue (one per [`AppState`]).
#[derive(Default)]
pub struct IntakeBatcher {
    queue: Mutex<Queue>,
    batches: AtomicU64,
}

impl IntakeBatcher {
    /// How many batches this process has written (each one transaction, or its per-event fallback).
    pub fn batches_written(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Stores `ev` together with whatever other events are waiting, and answers once it is committed
    /// (or found to be a duplicate).
    ///
    /// # Errors
    /// Database errors (nothing of this event is stored then).
    pub async fn submit(
        &self,
        state: &AppState,
        actor: Actor,
        hospital: Uuid,
        ev: NewEvent,
    ) -> AppResult<EventAccepted> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items.push(Item {
                hospital,
                ev,
                actor,
                reply,
            });
            if q.flushing < max_flushers(state.db.get_database_backend()) {
                q.flushing += 1;
                true
            } else {
                false
            }
        };
        if start {
            // On its own task: a client that hangs up must not cancel a batch that carries other
            // clients' events.
            let state = state.clone();
            tokio::spawn(async move { flush_loop(state).await });
        }
        answer.await.map_err(|_| {
            AppError::Internal(anyhow::anyhow!("the intake batch ended without an answer"))
        })?
    }

    fn take(&self) -> Vec<Item> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.items.is_empty() {
            q.flushing = q.flushing.saturating_sub(1);
            return vec![];
        }
        let n = q.items.len().min(MAX_BATCH);
        q.items.drain(..n).collect()
    }
}

async fn flush_loop(state: AppState) {
    loop {
        let batch = state.intake.take();
        if batch.is_empty() {
            return;
        }
        state.intake.batches.fetch_add(1, Ordering::Relaxed);
        // A panic drops the batch's reply senders (those requests answer 500) but not the flusher count.
        if std::panic::AssertUnwindSafe(write(&state, batch))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(target: "integrations", "intake batch panicked");
        }
    }
}

/// One event of a batch, ready to insert.
struct Prepared {
    item: usize,
    id: Uuid,
    job_id: Option<Uuid>,
    payload_hash: String,
}

/// The in-batch deduplication key (SPEC rule 4).
fn dedupe_key(hospital: Uuid, ev: &NewEvent, payload_hash: &str) -> (Uuid, String, String) {
    match &ev.external_id {
        Some(x) => (hospital, ev.source_system.clone(), format!("x:{x}")),
        None => (
            hospital,
            ev.source_system.clone(),
            format!("h:{payload_hash}"),
        ),
    }
}

async fn write(state: &AppState, items: Vec<Item>) {
    // The first event of each dedupe key is written; later ones answer with it.
    let mut firsts: HashMap<(Uuid, String, String), usize> = HashMap::new();
    let mut reps = vec![];
    let mut follows: Vec<Option<usize>> = vec![None; items.len()];
    for (i, it) in items.iter().enumerate() {
        let payload_hash = intake::hash(&it.ev.hash_basis);
        match firsts.entry(dedupe_key(it.hospital, &it.ev, &payload_hash)) {
            std::collections::hash_map::Entry::Occupied(e) => follows[i] = Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
                reps.push(Prepared {
                    item: i,
                    id: new_id(),
                    job_id: it.ev.failed.is_none().then(new_id),
                    payload_hash,
                });
            }
        }
    }
    match write_batch(state, &items, &reps).await {
        Ok(answers) => {
            let by_item: HashMap<usize, EventAccepted> = answers.into_iter().collect();
            for (i, it) in items.into_iter().enumerate() {
                let answer = by_item.get(&follows[i].unwrap_or(i)).map(|a| {
                    Ok(EventAccepted {
                        id: a.id,
                        status: a.status.clone(),
                        duplicate: a.duplicate || follows[i].is_some(),
                    })
                });
                let answer = answer.unwrap_or_else(|| {
                    Err(AppError::Internal(anyhow::anyhow!(
                        "intake batch gave no answer"
                    )))
                });
                let _ = it.reply.send(answer);
            }
        }
        Err(e) => {
            tracing::warn!(target: "integrations", error = %e, events = items.len(), "intake batch failed; storing its events one by one");
            for it in items {
                let r = intake::store_as(&state.db, state, &it.actor, it.hospital, it.ev).await;
                let _ = it.reply.send(r);
            }
        }
    }
}

/// Writes the representatives in one transaction; returns the answer of each (by item index).
async fn write_batch(
    state: &AppState,
    items: &[Item],
    reps: &[Prepared],
) -> Result<Vec<(usize, EventAccepted)>, AppError> {
    let clock = state.clock.as_ref();
    let now = clock.now();
    let txn = begin_write(&state.db).await?;
    let backend = txn.get_database_backend();
    let mut answers: Vec<(usize, EventAccepted)> = vec![];

    // Without an external id the payload hash decides, under a per-key advisory lock on PostgreSQL
    // (taken in key order, so two batches cannot wait on each other in a cycle).
    let mut hashless: Vec<(i64, &Prepared)> = reps
        .iter()
        .filter(|p| items[p.item].ev.external_id.is_none())
        .map(|p| {
            let it = &items[p.item];
            (
                intake::lock_key(it.hospital, &it.ev.source_system, &p.payload_hash),
                p,
            )
        })
        .collect();
    hashless.sort_by_key(|(k, _)| *k);
    let mut known = std::collections::HashSet::new();
    for (key, p) in hashless {
        let it = &items[p.item];
        if backend == DatabaseBackend::Postgres {
            txn.execute_raw(stmt(
                backend,
                "SELECT pg_advisory_xact_lock($1)",
                vec![key.into()],
            ))
            .await?;
        }
        if let Some(first) =
            intake::existing(&txn, it.hospital, &it.ev, &p.payload_hash, now).await?
        {
            answers.push((p.item, intake::duplicate(first)));
            known.insert(p.item);
        }
    }

    let mut todo: Vec<&Prepared> = reps.iter().filter(|p| !known.contains(&p.item)).collect();
    // One order for every batch, so concurrent batches meet on the unique index in the same order.
    todo.sort_by(|a, b| {
        let (x, y) = (&items[a.item], &items[b.item]);
        (x.hospital, &x.ev.source_system, &x.ev.external_id).cmp(&(
            y.hospital,
            &y.ev.source_system,
            &y.ev.external_id,
        ))
    });
    if todo.is_empty() {
        txn.rollback().await?;
        return Ok(answers);
    }
    let rows: Vec<inbound_event::ActiveModel> = todo
        .iter()
        .map(|p| {
            let ev = &items[p.item].ev;
            inbound_event::Model {
                id: p.id,
                hospital_id: items[p.item].hospital,
                source_system: ev.source_system.clone(),
                event_code: ev.event_code.clone(),
                external_id: ev.external_id.clone(),
                format: ev.format.to_string(),
                payload_json: ev.payload.clone(),
                payload_hash: p.payload_hash.clone(),
                encounter_id: ev.encounter_id.clone(),
                patient_identifier: ev.patient_identifier.clone(),
                occurred_at: ev.occurred_at.unwrap_or(now),
                received_at: now,
                processed_at: None,
                status: if ev.failed.is_some() { FAILED } else { PENDING }.into(),
                attempts: 0,
                result: None,
                error: ev.failed.clone(),
                mapped_event_code: None,
                journey_instance_id: None,
                stage_instance_id: None,
                job_id: p.job_id,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
        })
        .collect();
    let mut inserted = 0u64;
    // 23 columns a row: 256 rows stay below either engine's parameter limit.
    for chunk in rows.chunks(256) {
        inserted += inbound_event::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    inbound_event::Column::HospitalId,
                    inbound_event::Column::SourceSystem,
                    inbound_event::Column::ExternalId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let mut stored: Vec<&Prepared> = todo.clone();
    if inserted < todo.len() as u64 {
        // Some external ids were stored before (possibly a moment ago by a concurrent batch).
        let ids: Vec<Uuid> = todo.iter().map(|p| p.id).collect();
        let present: std::collections::HashSet<Uuid> = inbound_event::Entity::find()
            .select_only()
            .column(inbound_event::Column::Id)
            .filter(inbound_event::Column::Id.is_in(ids))
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        stored.retain(|p| present.contains(&p.id));
        for p in todo.iter().filter(|p| !present.contains(&p.id)) {
            let it = &items[p.item];
            let first = intake::existing(&txn, it.hospital, &it.ev, &p.payload_hash, now)
                .await?
                .ok_or_else(|| DbErr::Custom("duplicate event vanished".into()))?;
            answers.push((p.item, intake::duplicate(first)));
        }
    }
    let max_attempts = state.config.integration_max_attempts;
    let new_jobs: Vec<(Uuid, NewJob)> = stored
        .iter()
        .filter_map(|p| {
            p.job_id.map(|job| {
                (
                    job,
                    NewJob::new(
                        PROCESS_KIND,
                        ProcessPayload {
                            event: p.id,
                            max_attempts,
                        },
                    )
                    .max_attempts(max_attempts),
                )
            })
        })
        .collect();
    jobs::enqueue_many(&txn, clock, new_jobs).await?;
    let entries = stored
        .iter()
        .map(|p| {
            let it = &items[p.item];
            let ev = &it.ev;
            let status = if ev.failed.is_some() { FAILED } else { PENDING };
            (
                it.actor.clone(),
                AuditEntry::new("inbound_event.received")
                    .object("inbound_event", p.id)
                    .hospital(Some(it.hospital))
                    .details(json!({
                        "source_system": ev.source_system, "event_code": ev.event_code,
                        "format": ev.format, "external_id": ev.external_id,
                        "encounter_id": ev.encounter_id, "status": status, "error": ev.failed,
                    })),
            )
        })
        .collect();
    audit::record_many(&txn, clock, entries).await?;
    txn.commit().await?;
    for p in stored {
        let it = &items[p.item];
        let status = if it.ev.failed.is_some() {
            FAILED
        } else {
            PENDING
        };
        tracing::info!(
            target: "integrations",
            event = %p.id, hospital = %it.hospital, source_system = %it.ev.source_system,
            event_code = %it.ev.event_code, format = it.ev.format, status,
            "inbound event stored"
        );
        answers.push((
            p.item,
            EventAccepted {
                id: p.id,
                status: status.into(),
                duplicate: false,
            },
        ));
    }
    Ok(answers)
}
