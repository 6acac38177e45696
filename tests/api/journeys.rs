//! The journeys API: templates and stages (validation, one active template per type), instances
//! (one per encounter, stages created PENDING), progress, manual stage changes and simulation.

use px360::platform::rbac::Role;
use serde_json::{Value, json};

use crate::helpers::{factory, spawn_app};
use crate::integrations::{OPD_STAGES, get, instance, post, site, template};

#[tokio::test]
async fn stage_templates_are_validated_field_by_field() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(
        &app,
        &s,
        "OPD",
        &[("OPD_MD_CONSULT", "OPD_VISIT_COMPLETED")],
    )
    .await;
    let (st, e) = post(
        &app,
        "/api/journeys/stage-templates/",
        &s.token,
        json!({"journey_template": t, "code": "bad code", "survey_delay_hours": 73, "trigger_event_code": ""}),
    )
    .await;
    assert_eq!(st, 400);
    for f in [
        "code",
        "name_en",
        "order",
        "survey_delay_hours",
        "trigger_event_code",
    ] {
        assert!(e.get(f).is_some(), "{f}: {e}");
    }
    let (st, e) = post(
        &app,
        "/api/journeys/stage-templates/",
        &s.token,
        json!({"journey_template": t, "code": "OPD_MD_CONSULT", "name_en": "Again", "order": 2, "trigger_event_code": "X"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        e["code"][0]
            .as_str()
            .unwrap()
            .contains("already has a stage"),
        "{e}"
    );
    let (st, e) = post(
        &app,
        "/api/journeys/templates/",
        &s.token,
        json!({"hospital": s.hospital, "journey_type": "DENTAL", "name_en": "x"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        e["journey_type"][0]
            .as_str()
            .unwrap()
            .contains("allowed: EMS, INPATIENT, OPD, DAY_CASE")
    );
}

#[tokio::test]
async fn activating_a_template_deactivates_the_previous_one_of_its_type() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let first = template(&app, &s, "OPD", OPD_STAGES).await;
    let second = template(&app, &s, "OPD", OPD_STAGES).await;
    let a = get(&app, &format!("/api/journeys/templates/{first}/"), &s.token).await;
    let b = get(
        &app,
        &format!("/api/journeys/templates/{second}/"),
        &s.token,
    )
    .await;
    assert_eq!(a["active"], false);
    assert_eq!(b["active"], true);
    assert_eq!(a["version"], 1);
    assert_eq!(b["version"], 2);
    assert_eq!(b["stages"].as_array().unwrap().len(), 4);
    let active = get(
        &app,
        "/api/journeys/templates/?journey_type=OPD&active=true",
        &s.token,
    )
    .await;
    assert_eq!(active["count"], 1);
    // An instance by hospital and type uses the active template.
    let (st, i) = post(
        &app,
        "/api/journeys/instances/",
        &s.token,
        json!({"hospital": s.hospital, "journey_type": "OPD", "patient": s.patient, "encounter_id": "E1"}),
    )
    .await;
    assert_eq!(st, 201, "{i}");
    assert_eq!(i["journey_template"], json!(second));
}

#[tokio::test]
async fn an_encounter_has_one_journey_and_a_patient_must_belong_to_the_hospital() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let other = site(&app, "HH-JED").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    instance(&app, &s, t, "ENC1").await;
    let (st, e) = post(
        &app,
        "/api/journeys/instances/",
        &s.token,
        json!({"journey_template": t, "patient": s.patient, "encounter_id": "ENC1"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e.get("encounter_id").is_some(), "{e}");
    let (st, e) = post(
        &app,
        "/api/journeys/instances/",
        &s.token,
        json!({"journey_template": t, "patient": other.patient, "encounter_id": "ENC2"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e.get("patient").is_some(), "{e}");
    // The other hospital's admin cannot see this hospital's journeys.
    let list = get(&app, "/api/journeys/instances/", &other.token).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn simulation_says_which_stage_an_event_would_complete_without_writing() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(
        &app,
        &s,
        "OPD",
        &[
            ("LAB_1", "LAB_ORDER_COMPLETED"),
            ("CONSULT", "OPD_VISIT_COMPLETED"),
            ("LAB_2", "LAB_ORDER_COMPLETED"),
        ],
    )
    .await;
    let sim = |body: Value| {
        let app = &app;
        let token = s.token.clone();
        async move {
            post(
                app,
                &format!("/api/journeys/templates/{t}/simulate/"),
                &token,
                body,
            )
            .await
        }
    };
    let (st, r) = sim(json!({"event_code": "LAB_ORDER_COMPLETED"})).await;
    assert_eq!(st, 200);
    assert_eq!(r["stage"]["code"], "LAB_1");
    let (_, r) = sim(json!({"event_code": "LAB_ORDER_COMPLETED", "completed": ["LAB_1"]})).await;
    assert_eq!(r["stage"]["code"], "LAB_2");
    let (_, r) =
        sim(json!({"event_code": "LAB_ORDER_COMPLETED", "completed": ["LAB_1", "LAB_2"]})).await;
    assert!(r["stage"].is_null());
    assert!(r["reason"].as_str().unwrap().contains("already completed"));
    let (st, e) = sim(json!({})).await;
    assert_eq!(st, 400);
    assert!(e.get("event_code").is_some());
    let i = instance(&app, &s, t, "ENC9").await;
    let (_, r) = post(
        &app,
        &format!(
            "/api/journeys/instances/{}/simulate/",
            i["id"].as_str().unwrap()
        ),
        &s.token,
        json!({"event_code": "OPD_VISIT_COMPLETED"}),
    )
    .await;
    assert_eq!(r["stage"]["code"], "CONSULT");
    assert_eq!(r["stage"]["stage_instance"], i["stages"][1]["id"]);
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM journey_stage_instances WHERE status = 'COMPLETED'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn stages_changed_by_hand_are_audited_and_complete_the_journey() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(
        &app,
        &s,
        "EMS",
        &[("DISPATCH", "EMS_DISPATCHED"), ("HANDOVER", "EMS_HANDOVER")],
    )
    .await;
    let i = instance(&app, &s, t, "EMS-1").await;
    let patch = |id: Value, body: Value| {
        let app = &app;
        let token = s.token.clone();
        async move {
            let r = app
                .client
                .patch(app.url(&format!(
                    "/api/journeys/stage-instances/{}/",
                    id.as_str().unwrap()
                )))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let st = r.status();
            (st, r.json::<Value>().await.unwrap())
        }
    };
    let (st, b) = patch(
        i["stages"][0]["id"].clone(),
        json!({"status": "SKIPPED", "note": "no dispatch record"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = patch(
        i["stages"][1]["id"].clone(),
        json!({"status": "COMPLETED", "physician": s.physician}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert!(!b["completed_at"].is_null());
    let (st, e) = patch(i["stages"][1]["id"].clone(), json!({"status": "PENDING"})).await;
    assert_eq!(st, 400);
    assert!(
        e["status"][0]
            .as_str()
            .unwrap()
            .contains("cannot move from COMPLETED")
    );
    let p = get(
        &app,
        &format!(
            "/api/journeys/instances/{}/progress/",
            i["id"].as_str().unwrap()
        ),
        &s.token,
    )
    .await;
    assert_eq!(p["status"], "COMPLETED");
    assert_eq!(p["percent"], 100);
    assert_eq!(p["skipped"], 1);
    let n = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'journey_stage.status_changed'",
    )
    .await;
    assert_eq!(n, 2);
    // A viewer sees but cannot change.
    let (_, viewer) = factory::user(&app, Role::Viewer, Some(s.hospital), None).await;
    let r = app
        .client
        .patch(app.url(&format!(
            "/api/journeys/stage-instances/{}/",
            i["stages"][0]["id"].as_str().unwrap()
        )))
        .bearer_auth(&viewer)
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
