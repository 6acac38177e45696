//! The throughput machinery keeps every rule of single-event intake and processing: group-committed
//! intake deduplicates inside a batch and across batches and never lets one bad event fail the others;
//! batch processing isolates a failing event; the cached API-key principal honours revocation.

use px360::apps::integrations::service::intake;
use px360::apps::integrations::wire::EventIn;
use px360::platform::audit::Actor;
use px360::platform::clock::Clock;
use px360::platform::rbac::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app};
use crate::integrations::{OPD_STAGES, event, get, instance, site, template};

fn body(external: Option<&str>, encounter: &str) -> EventIn {
    serde_json::from_value(json!({
        "source_system": "his", "event_code": "OPD_VISIT_COMPLETED", "encounter_id": encounter,
        "external_id": external, "payload_json": {"department_code": "CARD"}
    }))
    .unwrap()
}

/// Submits all `bodies` at once; on the test's single-threaded runtime every one is queued before the
/// flusher runs, so they form one batch.
async fn submit_together(
    app: &TestApp,
    hospital: Uuid,
    bodies: Vec<EventIn>,
) -> Vec<Result<(Uuid, bool), String>> {
    let futs = bodies.into_iter().map(|b| {
        let (ev, _) = intake::from_json(b).unwrap();
        let actor = Actor::system();
        async move {
            app.state
                .intake
                .submit(&app.state, actor, hospital, ev)
                .await
                .map(|a| (a.id, a.duplicate))
                .map_err(|e| e.to_string())
        }
    });
    futures::future::join_all(futs).await
}

#[tokio::test]
async fn one_intake_batch_deduplicates_inside_itself_and_against_earlier_events() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let (st, first) = event(
        &app,
        &s.key,
        json!({"source_system": "his", "event_code": "OPD_VISIT_COMPLETED",
               "encounter_id": "E0", "external_id": "X-OLD"}),
    )
    .await;
    assert_eq!(st, 202, "{first}");
    let old: Uuid = first["id"].as_str().unwrap().parse().unwrap();
    let before = app.state.intake.batches_written();

    let r = submit_together(
        &app,
        s.hospital,
        vec![
            body(Some("X1"), "E1"),
            body(Some("X1"), "E1"), // same external id inside the batch
            body(None, "E2"),
            body(None, "E2"), // same payload, no external id, inside the batch
            body(Some("X2"), "E3"),
            body(Some("X-OLD"), "E0"), // stored by an earlier batch
        ],
    )
    .await;
    let r: Vec<(Uuid, bool)> = r.into_iter().map(Result::unwrap).collect();
    assert_eq!(app.state.intake.batches_written(), before + 1, "one batch");
    assert!(!r[0].1 && r[1].1 && r[0].0 == r[1].0, "{r:?}");
    assert!(!r[2].1 && r[3].1 && r[2].0 == r[3].0, "{r:?}");
    assert!(!r[4].1);
    assert_eq!(r[5], (old, true));
    // Three new events, each with its job and its audit row, nothing more.
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM inbound_events").await,
        4
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'integrations.process_event'"
        )
        .await,
        4
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.received'"
        )
        .await,
        4
    );
    // Across batches too: the same events again are all duplicates of the first ones.
    let again = submit_together(
        &app,
        s.hospital,
        vec![body(Some("X1"), "E1"), body(None, "E2")],
    )
    .await;
    assert_eq!(again[0], Ok((r[0].0, true)));
    assert_eq!(again[1], Ok((r[2].0, true)));
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM inbound_events").await,
        4
    );
}

#[tokio::test]
async fn one_bad_event_does_not_fail_the_others_of_its_batch() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let ghost = Uuid::now_v7(); // no such hospital: its row breaks the batch's multi-row insert
    let futs = [(s.hospital, "G1"), (ghost, "G2"), (s.hospital, "G3")]
        .into_iter()
        .map(|(h, x)| {
            let (ev, _) = intake::from_json(body(Some(x), "E1")).unwrap();
            let app = &app;
            async move {
                app.state
                    .intake
                    .submit(&app.state, Actor::system(), h, ev)
                    .await
            }
        });
    let r = futures::future::join_all(futs).await;
    assert!(r[0].as_ref().is_ok_and(|a| !a.duplicate), "{:?}", r[0]);
    assert!(r[1].is_err(), "the event of an unknown hospital is refused");
    assert!(r[2].as_ref().is_ok_and(|a| !a.duplicate), "{:?}", r[2]);
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM inbound_events").await,
        2
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.received'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_failing_event_of_a_processing_batch_fails_alone() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    instance(&app, &s, t, "ENC-A").await;
    instance(&app, &s, t, "ENC-B").await;
    // Starting an INPATIENT journey fails: the hospital has no active INPATIENT template.
    let (st, b) = crate::integrations::post(
        &app,
        "/api/integrations/mappings/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "his", "external_code": "ADMITTED",
               "event_code": "ADMITTED", "journey_type": "INPATIENT", "create_instance": true}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let mut ids = vec![];
    for (x, enc, code) in [
        ("P1", "ENC-A", "OPD_VISIT_COMPLETED"),
        ("P2", "ENC-IP", "ADMITTED"),
        ("P3", "ENC-B", "OPD_VISIT_COMPLETED"),
    ] {
        let (st, a) = event(
            &app,
            &s.key,
            json!({"source_system": "his", "event_code": code, "encounter_id": enc,
                   "patient_identifier": "MRN001", "external_id": x}),
        )
        .await;
        assert_eq!(st, 202, "{a}");
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    // One claim takes all three into one batch.
    assert_eq!(app.worker().run_once().await.unwrap(), 3);
    let status = |v: &Value| v["status"].as_str().unwrap_or_default().to_string();
    let mut rows = vec![];
    for id in &ids {
        rows.push(get(&app, &format!("/api/integrations/events/{id}/"), &s.token).await);
    }
    assert_eq!(status(&rows[0]), "PROCESSED", "{}", rows[0]);
    assert_eq!(status(&rows[1]), "FAILED", "{}", rows[1]);
    assert_eq!(status(&rows[2]), "PROCESSED", "{}", rows[2]);
    assert_eq!(rows[1]["attempts"], 1);
    // The failing event left nothing behind (its savepoint rolled back); the others completed.
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM journey_instances").await,
        2
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM journey_stage_instances WHERE status = 'COMPLETED'"
        )
        .await,
        2
    );
    for (action, n) in [
        ("inbound_event.processed", 2),
        ("inbound_event.failed", 1),
        ("journey_stage.completed", 2),
    ] {
        assert_eq!(
            factory::count(
                &app,
                &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")
            )
            .await,
            n,
            "{action}"
        );
    }
    // Each completed stage published its StageCompleted; the failed job waits for its retry.
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'events.dispatch' AND CAST(payload AS TEXT) LIKE '%StageCompleted%'"
        )
        .await,
        2
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'integrations.process_event' AND status = 'PENDING' AND attempts = 1"
        )
        .await,
        1
    );
    // Run again: the failure does not undo the others, and nothing is applied twice.
    app.clock.advance(chrono::Duration::hours(1));
    app.run_jobs().await;
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.processed'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_cached_api_key_revoked_elsewhere_stops_working_within_a_second() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    let key = factory::api_key(&app, h, Role::HospitalAdmin).await;
    let roles = |k: &str| {
        app.client
            .get(app.url("/api/auth/roles/"))
            .header("X-API-Key", k)
            .send()
    };
    assert_eq!(roles(&key).await.unwrap().status(), 200);
    // A wrong secret with a known prefix is never served from the cache.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    assert_eq!(roles(&wrong).await.unwrap().status(), 401);
    // Revoked by another server process (straight in the database): this one still trusts its cached
    // answer for up to a second, then asks again.
    exec(
        &app,
        "UPDATE api_keys SET revoked_at = $1",
        vec![app.clock.now().into()],
    )
    .await;
    app.clock.advance(chrono::Duration::milliseconds(500));
    assert_eq!(roles(&key).await.unwrap().status(), 200);
    app.clock.advance(chrono::Duration::milliseconds(600));
    assert_eq!(roles(&key).await.unwrap().status(), 401);
}
