//! The journeys and integrations console over HTTP: every page in English and Arabic, the template
//! builder (reorder through the service, validation), the test panel (answers without writing), the
//! journey page (stepper, stage cards, timeline) and the inbound events console (reprocess one or a
//! selection, refusals, RBAC and scope).

use px360::platform::rbac::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app};
use crate::integrations::{OPD_STAGES, Site, event, get, hl7, instance, post, site, template};
use crate::ui::{Browser, person};

/// An OPD JSON event for `encounter` (physician PHY001, department CARD).
fn opd(code: &str, encounter: &str, external: &str) -> Value {
    json!({"source_system": "his", "event_code": code, "encounter_id": encounter,
           "patient_identifier": "MRN001", "external_id": external, "occurred_at": "2026-01-05T09:30:00Z",
           "payload_json": {"physician_license": "PHY001", "department_code": "CARD"}})
}

async fn signed_in<'a>(app: &'a TestApp, role: Role, hospital: Option<Uuid>) -> Browser<'a> {
    let (_, email) = person(app, role, hospital, None).await;
    let mut b = Browser::new(app);
    b.login(&email).await;
    b
}

fn stage_id(t: &Value, code: &str) -> String {
    t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn codes(t: &Value) -> Vec<String> {
    t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_string())
        .collect()
}

/// A site with an OPD template, a journey for ENC123 whose first stage an event completed, an
/// ignored event, a mapping and a config.
async fn world(app: &TestApp) -> (Site, Uuid, Value, Value) {
    let s = site(app, "HH-RUH").await;
    let t = template(app, &s, "OPD", OPD_STAGES).await;
    let i = instance(app, &s, t, "ENC123").await;
    let (st, ev) = event(app, &s.key, opd("OPD_VISIT_COMPLETED", "ENC123", "M1")).await;
    assert_eq!(st, 202, "{ev}");
    event(app, &s.key, opd("OPD_VISIT_COMPLETED", "ENC-NONE", "M2")).await;
    assert!(app.run_jobs().await >= 2);
    (s, t, i, ev)
}

#[tokio::test]
async fn every_journeys_and_integrations_page_renders_in_english_and_arabic() {
    let app = spawn_app().await;
    let (s, t, i, ev) = world(&app).await;
    let (st, m) = post(
        &app,
        "/api/integrations/mappings/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "HIS", "external_code": "ADT^A04",
               "event_code": "OPD_VISIT_COMPLETED", "journey_type": "OPD", "create_instance": true}),
    )
    .await;
    assert_eq!(st, 201, "{m}");
    let (st, c) = post(
        &app,
        "/api/integrations/configs/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "his", "name": "HIS JSON", "protocol": "JSON"}),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    let sid = stage_id(&tv, "LAB");
    let (iid, eid) = (i["id"].as_str().unwrap(), ev["id"].as_str().unwrap());
    let (mid, cid) = (m["id"].as_str().unwrap(), c["id"].as_str().unwrap());
    let mut b = signed_in(&app, Role::PxAdmin, None).await;
    let pages = [
        "/journeys/templates/".to_string(),
        "/journeys/templates/?journey_type=OPD&active=true".into(),
        "/journeys/templates/new/".into(),
        format!("/journeys/templates/{t}/"),
        format!("/journeys/templates/{t}/edit/"),
        format!("/journeys/templates/{t}/stages/new/"),
        format!("/journeys/templates/{t}/stages/{sid}/edit/"),
        "/journeys/instances/".into(),
        format!(
            "/journeys/instances/?journey_type=OPD&stage_status=COMPLETED&department={}&mrn=MRN001",
            s.department
        ),
        format!("/journeys/instances/{iid}/"),
        "/integrations/events/".into(),
        "/integrations/events/?status=IGNORED&source_system=his&received_after=2020-01-01".into(),
        format!("/integrations/events/{eid}/"),
        "/integrations/mappings/".into(),
        "/integrations/mappings/new/".into(),
        format!("/integrations/mappings/{mid}/"),
        format!("/integrations/mappings/{mid}/edit/"),
        "/integrations/configs/".into(),
        "/integrations/configs/new/".into(),
        format!("/integrations/configs/{cid}/"),
        format!("/integrations/configs/{cid}/edit/"),
    ];
    for lang in ["en", "ar"] {
        b.post("/lang/", &[("lang", lang), ("next", "/")]).await;
        for p in &pages {
            let (st, body) = b.get(p).await;
            assert_eq!(st, StatusCode::OK, "{lang} {p}");
            assert!(body.contains(&format!("lang=\"{lang}\"")), "{lang} {p}");
            let rtl = body.contains("dir=\"rtl\"") && body.contains("bootstrap.rtl.min.");
            assert_eq!(rtl, lang == "ar", "{lang} {p}: RTL layout");
            assert!(
                !body.contains("{{") && !body.contains("\"nav.") && !body.contains(">journey."),
                "{lang} {p}: untranslated key"
            );
            assert!(body.contains("/integrations/events/"), "{lang} {p}: nav");
        }
    }
    // The journey page: the stepper in stage order, the completing event linked, the timeline.
    let (_, page) = b.get(&format!("/journeys/instances/{iid}/")).await;
    assert!(page.contains("data-testid=\"stepper\""));
    let order: Vec<usize> = ["OPD_MD_CONSULT", "LAB", "RADIOLOGY", "PHARMACY"]
        .iter()
        .map(|c| page.find(&format!("data-code=\"{c}\"")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "stepper order");
    assert!(page.contains("stepper-completed") && page.contains("aria-current=\"step\""));
    assert!(page.contains(&format!("href=\"/integrations/events/{eid}/\"")));
    assert!(page.contains("data-testid=\"timeline\""));
    assert!(page.contains("عمر حداد"), "physician in Arabic");
    // Filters of the journey list go through the service.
    let (_, list) = b.get("/journeys/instances/?mrn=MRN001").await;
    assert!(list.contains("ENC123"));
    let (_, list) = b.get("/journeys/instances/?mrn=MRN999").await;
    assert!(!list.contains("ENC123"));
    let (_, list) = b.get("/journeys/instances/?stage_status=SKIPPED").await;
    assert!(!list.contains("ENC123"));
    // The events console: badges translated, the ignored event's reason on its page.
    let (_, list) = b.get("/integrations/events/?status=IGNORED").await;
    assert!(list.contains("ENC-NONE") && !list.contains(">ENC123<"));
    assert!(list.contains("متجاهَل"), "IGNORED badge in Arabic");
}

#[tokio::test]
async fn the_builder_reorders_stages_through_the_service_and_validates_the_delay() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    let mut b = signed_in(&app, Role::HospitalAdmin, Some(s.hospital)).await;
    let (st, page) = b.get(&format!("/journeys/templates/{t}/")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("data-testid=\"test-panel\""));
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    let first = stage_id(&tv, "OPD_MD_CONSULT");
    // A plain form POST moves the first stage down and comes back to the builder.
    let (st, _, loc) = b
        .post(
            &format!("/journeys/templates/{t}/stages/{first}/move/"),
            &[("direction", "down")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.unwrap(), format!("/journeys/templates/{t}/"));
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    assert_eq!(
        codes(&tv),
        ["LAB", "OPD_MD_CONSULT", "RADIOLOGY", "PHARMACY"]
    );
    let orders: Vec<i64> = tv["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["order"].as_i64().unwrap())
        .collect();
    assert_eq!(orders, [1, 2, 3, 4], "contiguous");
    // htmx: the stage list comes back alone, in the new order.
    let pharmacy = stage_id(&tv, "PHARMACY");
    let r = b
        .client
        .post(app.url(&format!("/journeys/templates/{t}/stages/{pharmacy}/move/")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", b.csrf.clone())
        .form(&[("direction", "up")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let frag = r.text().await.unwrap();
    assert!(frag.starts_with("<div id=\"stages\">") && !frag.contains("<html"));
    assert!(
        frag.find("data-code=\"PHARMACY\"").unwrap()
            < frag.find("data-code=\"RADIOLOGY\"").unwrap()
    );
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    assert_eq!(
        codes(&tv),
        ["LAB", "OPD_MD_CONSULT", "PHARMACY", "RADIOLOGY"]
    );
    // Moving the last stage down changes nothing and audits nothing more.
    let radiology = stage_id(&tv, "RADIOLOGY");
    b.post(
        &format!("/journeys/templates/{t}/stages/{radiology}/move/"),
        &[("direction", "down")],
    )
    .await;
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'journey_template.stages_reordered'"
        )
        .await,
        2
    );
    // A stage of another template is not found under this one.
    let other = template(&app, &s, "EMS", &[("DISPATCH", "EMS_DISPATCHED")]).await;
    let ov = get(&app, &format!("/api/journeys/templates/{other}/"), &s.token).await;
    let dispatch = stage_id(&ov, "DISPATCH");
    let (st, _, _) = b
        .post(
            &format!("/journeys/templates/{t}/stages/{dispatch}/move/"),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Adding a stage: 73 hours is refused beside the field, with what was typed kept.
    let new = format!("/journeys/templates/{t}/stages/new/");
    b.get(&new).await;
    let form = [
        ("code", "FOLLOW_UP"),
        ("name_en", "Follow-up call"),
        ("name_ar", "مكالمة المتابعة"),
        ("trigger_event_code", "FOLLOW_UP_DONE"),
        ("auto_send_survey", "true"),
        ("survey_delay_hours", "73"),
    ];
    let (st, body, _) = b.post(&new, &form).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("Ensure this value is between 0 and 72."),
        "{body}"
    );
    assert!(body.contains("value=\"FOLLOW_UP_DONE\""));
    let mut ok = form;
    ok[5] = ("survey_delay_hours", "24");
    let (st, _, loc) = b.post(&new, &ok).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.unwrap(), format!("/journeys/templates/{t}/"));
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    let last = tv["stages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["code"], "FOLLOW_UP");
    assert_eq!(last["order"], 5);
    assert_eq!(last["survey_delay_hours"], 24);
    // Edit and delete go through the service too (audited).
    let fid = last["id"].as_str().unwrap().to_string();
    let edit = format!("/journeys/templates/{t}/stages/{fid}/edit/");
    b.get(&edit).await;
    let mut changed = ok;
    changed[1] = ("name_en", "Follow-up phone call");
    let (st, _, _) = b.post(&edit, &changed).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _, _) = b
        .post(
            &format!("/journeys/templates/{t}/stages/{fid}/delete/"),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let tv = get(&app, &format!("/api/journeys/templates/{t}/"), &s.token).await;
    assert_eq!(tv["stages"].as_array().unwrap().len(), 4);
    for action in [
        "journey_stage_template.created",
        "journey_stage_template.updated",
        "journey_stage_template.deleted",
    ] {
        let n = factory::count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND object_id = '{fid}'"
            ),
        )
        .await;
        assert!(n >= 1, "{action}");
    }
    // A viewer sees the builder but cannot move stages.
    let mut v = signed_in(&app, Role::Viewer, Some(s.hospital)).await;
    let (st, page) = v.get(&format!("/journeys/templates/{t}/")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("data-testid=\"move-up\""));
    let (st, _, _) = v
        .post(
            &format!("/journeys/templates/{t}/stages/{first}/move/"),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = vec![];
    for table in [
        "journey_stage_instances",
        "journey_instances",
        "inbound_events",
        "audit_log",
        "jobs",
    ] {
        out.push(factory::count(app, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    out
}

#[tokio::test]
async fn the_test_panel_names_the_stage_or_the_reason_and_writes_nothing() {
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
    instance(&app, &s, t, "ENC1").await;
    let mut b = signed_in(&app, Role::HospitalAdmin, Some(s.hospital)).await;
    let url = format!("/journeys/templates/{t}/test/");
    let (_, page) = b.get(&format!("/journeys/templates/{t}/")).await;
    assert!(
        page.contains("<option value=\"LAB_ORDER_COMPLETED\">"),
        "datalist"
    );
    let before = counts(&app).await;
    let (st, body, _) = b.post(&url, &[("event_code", "LAB_ORDER_COMPLETED")]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("data-stage=\"LAB_1\""), "{body}");
    let (_, body, _) = b
        .post(
            &url,
            &[
                ("event_code", "LAB_ORDER_COMPLETED"),
                ("completed", "LAB_1"),
            ],
        )
        .await;
    assert!(body.contains("data-stage=\"LAB_2\""));
    // The ticked stages stay ticked on the answer page.
    assert!(body.contains("value=\"LAB_1\" id=") && body.contains(" checked>"));
    let (_, body, _) = b
        .post(
            &url,
            &[
                ("event_code", "LAB_ORDER_COMPLETED"),
                ("completed", "LAB_1"),
                ("completed", "LAB_2"),
            ],
        )
        .await;
    assert!(body.contains("data-stage=\"\""));
    assert!(body.contains("every stage triggered by LAB_ORDER_COMPLETED is already completed"));
    // Free text, through htmx: only the answer comes back, in Arabic for an Arabic page.
    b.post("/lang/", &[("lang", "ar"), ("next", "/")]).await;
    let r = b
        .client
        .post(app.url(&url))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", b.csrf.clone())
        .form(&[("event_code", "PHARMACY_DISPENSED")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let frag = r.text().await.unwrap();
    assert!(!frag.contains("<html") && frag.contains("data-stage=\"\""));
    assert!(
        frag.contains("لا توجد مرحلة في الرحلة يُطلقها PHARMACY_DISPENSED"),
        "{frag}"
    );
    let (_, body, _) = b.post(&url, &[("event_code", " ")]).await;
    assert!(body.contains("أدخل رمز الحدث."));
    // Nothing was written: no stage, journey, event, audit row or job.
    assert_eq!(counts(&app).await, before);
    let stages = get(
        &app,
        "/api/journeys/stage-instances/?status=COMPLETED",
        &s.token,
    )
    .await;
    assert_eq!(stages["count"], 0);
}

#[tokio::test]
async fn events_are_reprocessed_from_the_console_one_or_a_selection_within_rbac_and_scope() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    // The mapping starts INPATIENT journeys, but there is no active INPATIENT template: FAILED.
    let (st, _) = post(
        &app,
        "/api/integrations/mappings/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "his", "external_code": "ADMITTED",
               "event_code": "ADMITTED", "journey_type": "INPATIENT", "create_instance": true}),
    )
    .await;
    assert_eq!(st, 201);
    let (_, ev) = event(&app, &s.key, opd("ADMITTED", "ENC-IP-1", "F1")).await;
    let id = ev["id"].as_str().unwrap().to_string();
    app.run_jobs().await;
    let e = get(&app, &format!("/api/integrations/events/{id}/"), &s.token).await;
    assert_eq!(e["status"], "FAILED", "{e}");
    // The retries ran out (the API test walks them with the clock): the event is DEAD.
    exec(
        &app,
        "UPDATE inbound_events SET status = 'DEAD', attempts = 5 WHERE id = $1",
        vec![Uuid::parse_str(&id).unwrap().into()],
    )
    .await;
    let mut b = signed_in(&app, Role::HospitalAdmin, Some(s.hospital)).await;
    let (st, page) = b.get(&format!("/integrations/events/{id}/")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("data-testid=\"reprocess\""));
    assert!(
        page.contains("no active INPATIENT journey template"),
        "error shown"
    );
    let (_, list) = b.get("/integrations/events/?status=DEAD").await;
    assert!(
        list.contains(&format!("name=\"ids\" value=\"{id}\"")),
        "selectable"
    );
    // Fix the cause, then reprocess from the console.
    template(
        &app,
        &s,
        "INPATIENT",
        &[("ADMISSION", "ADMITTED"), ("DISCHARGE", "DISCHARGED")],
    )
    .await;
    let (st, _, loc) = b
        .post(&format!("/integrations/events/{id}/reprocess/"), &[])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.unwrap(), format!("/integrations/events/{id}/"));
    let (_, page) = b.get(&format!("/integrations/events/{id}/")).await;
    assert!(page.contains("The event was sent back for processing."));
    app.run_jobs().await;
    let e = get(&app, &format!("/api/integrations/events/{id}/"), &s.token).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.reprocess_requested'"
        )
        .await,
        1
    );
    // The event page now links its journey.
    let (_, page) = b.get(&format!("/integrations/events/{id}/")).await;
    assert!(page.contains("data-testid=\"event-journey\""));
    // A PROCESSED event is refused with a message, and nothing changes.
    let (st, _, _) = b
        .post(&format!("/integrations/events/{id}/reprocess/"), &[])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page) = b.get(&format!("/integrations/events/{id}/")).await;
    assert!(
        page.contains("An event in status “Processed” cannot be reprocessed."),
        "refusal flash"
    );
    assert_eq!(
        get(&app, &format!("/api/integrations/events/{id}/"), &s.token).await["status"],
        "PROCESSED"
    );
    // Bulk: two garbled HL7 messages (stored FAILED) and the processed event; only the failed go.
    hl7(&app, &s.key, "MSH|^~\\&|HIS|garbled-1").await;
    hl7(&app, &s.key, "MSH|^~\\&|HIS|garbled-2").await;
    let failed = get(&app, "/api/integrations/events/?status=FAILED", &s.token).await;
    let ids: Vec<String> = failed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{failed}");
    b.get("/integrations/events/?status=FAILED").await;
    let (st, _, loc) = b
        .post(
            "/integrations/events/reprocess/",
            &[
                ("ids", ids[0].as_str()),
                ("ids", ids[1].as_str()),
                ("ids", id.as_str()),
                ("next", "/integrations/events/?status=FAILED"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/integrations/events/?status=FAILED"));
    let (_, page) = b.get("/integrations/events/").await;
    assert!(
        page.contains("Sent 2 back for processing; 1 skipped."),
        "bulk flash"
    );
    for i in &ids {
        let e = get(&app, &format!("/api/integrations/events/{i}/"), &s.token).await;
        assert_eq!(e["status"], "PENDING", "{e}");
    }
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.reprocess_requested'"
        )
        .await,
        3
    );
    // A viewer may not open the events console nor reprocess (403).
    let mut v = signed_in(&app, Role::Viewer, Some(s.hospital)).await;
    let (st, _) = v.get("/integrations/events/").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = v
        .post(&format!("/integrations/events/{}/reprocess/", ids[0]), &[])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Another hospital's admin does not find this hospital's event (404), for the page and the POST.
    let other = site(&app, "HH-JED").await;
    let mut o = signed_in(&app, Role::HospitalAdmin, Some(other.hospital)).await;
    let (st, _) = o.get(&format!("/integrations/events/{id}/")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = o
        .post(&format!("/integrations/events/{id}/reprocess/"), &[])
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, list) = o.get("/integrations/events/").await;
    assert!(!list.contains(&id));
    // The viewer, whose role may view journeys, sees a journey page without the event links.
    let (_, list) = v.get("/journeys/instances/").await;
    assert!(list.contains("ENC-IP-1"));
}
