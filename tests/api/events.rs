use std::sync::{Arc, Mutex};

use px360::platform::db::begin_write;
use px360::platform::events::{self, DomainEvent, EventBus, EventType, SurveyScoredNegative};
use px360::platform::jobs::{Registry, handler_fn};
use sea_orm::{EntityTrait, TransactionTrait};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

type Seen = Arc<Mutex<Vec<(String, DomainEvent)>>>;

fn bus_with_two_subscribers(seen: Seen) -> Registry {
    let mut registry = Registry::new();
    let mut bus = EventBus::new();
    for name in ["actions.on_negative", "analytics.on_negative"] {
        let seen = seen.clone();
        bus.subscribe(
            &mut registry,
            EventType::SurveyScoredNegative,
            name,
            handler_fn(move |ctx| {
                let seen = seen.clone();
                Box::pin(async move {
                    let e = events::event_of(ctx)?;
                    seen.lock().unwrap().push((ctx.kind.clone(), e));
                    Ok(())
                })
            }),
        );
    }
    bus.install(&mut registry);
    registry.validate().unwrap();
    registry
}

fn negative() -> SurveyScoredNegative {
    SurveyScoredNegative {
        survey_instance: Uuid::now_v7(),
        hospital: Uuid::now_v7(),
        department: None,
        physician: None,
        template_kind: "STAGE".into(),
        score: 35.0,
    }
}

async fn publish_in_txn(app: &TestApp, commit: bool) -> SurveyScoredNegative {
    let e = negative();
    let txn = begin_write(app.db()).await.unwrap();
    events::publish(&txn, &app.clock, e.clone()).await.unwrap();
    if commit {
        txn.commit().await.unwrap();
    } else {
        txn.rollback().await.unwrap();
    }
    e
}

#[tokio::test]
async fn a_published_event_reaches_every_subscriber_exactly_once() {
    let app = spawn_app().await;
    let seen: Seen = Arc::default();
    let worker = app.worker_with(bus_with_two_subscribers(seen.clone()), 60);
    let e = publish_in_txn(&app, true).await;

    // dispatch (1) + two subscribers (2)
    assert_eq!(worker.drain().await.unwrap(), 3);
    assert_eq!(worker.drain().await.unwrap(), 0);
    let mut got = seen.lock().unwrap().clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "actions.on_negative");
    assert_eq!(got[1].0, "analytics.on_negative");
    assert_eq!(got[0].1, DomainEvent::SurveyScoredNegative(e));
}

#[tokio::test]
async fn an_event_published_in_a_rolled_back_transaction_is_never_delivered() {
    let app = spawn_app().await;
    let seen: Seen = Arc::default();
    let worker = app.worker_with(bus_with_two_subscribers(seen.clone()), 60);
    publish_in_txn(&app, false).await;
    assert_eq!(worker.drain().await.unwrap(), 0);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_event_without_subscribers_is_dispatched_and_done() {
    let app = spawn_app().await;
    let worker = app.worker_with(bus_with_two_subscribers(Arc::default()), 60);
    let txn = app.db().begin().await.unwrap();
    events::publish(
        &txn,
        &app.clock,
        events::ComplaintClosed {
            complaint: Uuid::now_v7(),
            hospital: Uuid::now_v7(),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(worker.drain().await.unwrap(), 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE status = 'DONE'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_outbox_row_stores_the_event_as_type_and_payload() {
    let app = spawn_app().await;
    let e = publish_in_txn(&app, true).await;
    let row = px360::platform::jobs::model::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.kind, events::DISPATCH_KIND);
    assert_eq!(row.payload["type"], "SurveyScoredNegative");
    assert_eq!(
        row.payload["payload"]["survey_instance"],
        e.survey_instance.to_string()
    );
}
