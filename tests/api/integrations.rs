//! Integrations end to end over HTTP: the acceptance points of the intake issue, on SQLite and (same
//! code) PostgreSQL.

use px360::platform::clock::Clock;
use px360::platform::rbac::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app, spawn_app_configured};

/// A hospital with a department, a physician, a patient, a hospital admin token and an integration key.
pub struct Site {
    pub hospital: Uuid,
    pub admin: Uuid,
    pub department: Uuid,
    pub physician: Uuid,
    pub patient: Uuid,
    pub token: String,
    pub key: String,
}

pub async fn site(app: &TestApp, code: &str) -> Site {
    let hospital = factory::hospital(app, code).await;
    let department = factory::department(app, hospital, "CARD", None).await;
    let physician = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO physicians (id, hospital_id, department_id, license_number, first_name_en, last_name_en, \
         first_name_ar, last_name_ar, specialty, active, created_at, updated_at) \
         VALUES ($1, $2, $3, 'PHY001', 'Omar', 'Haddad', 'عمر', 'حداد', 'Cardiology', $4, $5, $5)",
        vec![physician.into(), hospital.into(), department.into(), true.into(), app.clock.now().into()],
    )
    .await;
    let patient = patient(app, hospital, "MRN001").await;
    let (admin, token) = factory::user(app, Role::HospitalAdmin, Some(hospital), None).await;
    let key = factory::api_key(app, hospital, Role::HospitalAdmin).await;
    Site {
        hospital,
        admin,
        department,
        physician,
        patient,
        token,
        key,
    }
}

pub async fn patient(app: &TestApp, hospital: Uuid, mrn: &str) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, \
         search_text, preferred_language, gender, opt_out, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Ahmed', 'Otaibi', 'أحمد', 'العتيبي', '', 'ar', 'MALE', $4, $5, $5)",
        vec![id.into(), hospital.into(), mrn.into(), false.into(), app.clock.now().into()],
    )
    .await;
    id
}

pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

pub async fn event(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/integrations/events/"))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn hl7(app: &TestApp, key: &str, msg: &str) -> (StatusCode, String) {
    let r = app
        .client
        .post(app.url("/api/integrations/hl7v2/"))
        .header("X-API-Key", key)
        .header("Content-Type", "x-application/hl7-v2+er7")
        .body(msg.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.text().await.unwrap())
}

pub const OPD_STAGES: &[(&str, &str)] = &[
    ("OPD_MD_CONSULT", "OPD_VISIT_COMPLETED"),
    ("LAB", "LAB_ORDER_COMPLETED"),
    ("RADIOLOGY", "RADIOLOGY_REPORT_FINALIZED"),
    ("PHARMACY", "PHARMACY_DISPENSED"),
];

/// A template of `journey_type` with `stages` (code, trigger), through the API; returns its id.
pub async fn template(
    app: &TestApp,
    s: &Site,
    journey_type: &str,
    stages: &[(&str, &str)],
) -> Uuid {
    let (st, t) = post(
        app,
        "/api/journeys/templates/",
        &s.token,
        json!({"hospital": s.hospital, "journey_type": journey_type, "name_en": format!("{journey_type} journey"),
               "name_ar": "رحلة", "active": true}),
    )
    .await;
    assert_eq!(st, 201, "{t}");
    let id: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    for (i, (code, trigger)) in stages.iter().enumerate() {
        let (st, b) = post(
            app,
            "/api/journeys/stage-templates/",
            &s.token,
            json!({"journey_template": id, "code": code, "name_en": code, "name_ar": code, "order": i + 1,
                   "trigger_event_code": trigger, "auto_send_survey": true, "survey_delay_hours": 2}),
        )
        .await;
        assert_eq!(st, 201, "{b}");
    }
    id
}

pub async fn instance(app: &TestApp, s: &Site, template: Uuid, encounter: &str) -> Value {
    let (st, b) = post(
        app,
        "/api/journeys/instances/",
        &s.token,
        json!({"journey_template": template, "patient": s.patient, "encounter_id": encounter}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    b
}

async fn mapping(
    app: &TestApp,
    s: &Site,
    source: &str,
    external: &str,
    code: &str,
    create: Option<&str>,
) {
    let (st, b) = post(
        app,
        "/api/integrations/mappings/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": source, "external_code": external, "event_code": code,
               "journey_type": create, "create_instance": create.is_some()}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
}

async fn event_row(app: &TestApp, s: &Site, id: &str) -> Value {
    get(app, &format!("/api/integrations/events/{id}/"), &s.token).await
}

fn opd_event(external: Option<&str>) -> Value {
    let mut b = json!({
        "source_system": "his", "event_code": "OPD_VISIT_COMPLETED", "encounter_id": "ENC123",
        "patient_identifier": "MRN001", "occurred_at": "2026-01-05T09:30:00Z",
        "payload_json": {"physician_license": "PHY001", "department_code": "CARD"}
    });
    if let Some(x) = external {
        b["external_id"] = json!(x);
    }
    b
}

#[tokio::test]
async fn the_opd_example_works_through_the_api_alone_and_a_duplicate_completes_nothing_twice() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    let inst = instance(&app, &s, t, "ENC123").await;
    let stages = inst["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4);
    assert!(stages.iter().all(|st| st["status"] == "PENDING"));
    assert_eq!(stages[0]["code"], "OPD_MD_CONSULT");

    let (st, first) = event(&app, &s.key, opd_event(Some("MSG-1"))).await;
    assert_eq!(st, 202, "{first}");
    assert_eq!(first["status"], "PENDING");
    let id = first["id"].as_str().unwrap().to_string();
    assert!(app.run_jobs().await >= 1);

    let inst_id = inst["id"].as_str().unwrap();
    let now = get(
        &app,
        &format!("/api/journeys/instances/{inst_id}/"),
        &s.token,
    )
    .await;
    let st0 = &now["stages"][0];
    assert_eq!(st0["status"], "COMPLETED");
    assert_eq!(st0["completed_at"], "2026-01-05T09:30:00Z");
    assert_eq!(st0["physician"], json!(s.physician));
    assert_eq!(st0["department"], json!(s.department));
    assert_eq!(st0["inbound_event"], json!(id));
    assert_eq!(now["stages"][1]["status"], "PENDING");
    let ev = event_row(&app, &s, &id).await;
    assert_eq!(ev["status"], "PROCESSED", "{ev}");
    assert_eq!(ev["stage_instance"], st0["id"]);

    // The same event again: answered with the first event, nothing completes twice.
    let (st, dup) = event(&app, &s.key, opd_event(Some("MSG-1"))).await;
    assert_eq!(st, 200, "{dup}");
    assert_eq!(dup["id"], json!(id));
    app.run_jobs().await;
    let after = get(
        &app,
        &format!("/api/journeys/instances/{inst_id}/progress/"),
        &s.token,
    )
    .await;
    assert_eq!(after["completed"], 1);
    assert_eq!(after["next_stage"]["code"], "LAB");
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM inbound_events").await,
        1
    );

    // Every step is audited, and a StageCompleted event was published.
    for action in [
        "inbound_event.received",
        "inbound_event.processed",
        "journey_stage.completed",
    ] {
        let n = factory::count(
            &app,
            &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"),
        )
        .await;
        assert_eq!(n, 1, "{action}");
    }
    let published = factory::count(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'events.dispatch' AND CAST(payload AS TEXT) LIKE '%StageCompleted%'",
    )
    .await;
    assert_eq!(published, 1);
}

#[tokio::test]
async fn without_an_external_id_the_same_payload_is_a_duplicate_for_24_hours() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let (a, first) = event(&app, &s.key, opd_event(None)).await;
    assert_eq!(a, 202);
    let (b, again) = event(&app, &s.key, opd_event(None)).await;
    assert_eq!(b, 200);
    assert_eq!(again["id"], first["id"]);
    app.clock.advance(chrono::Duration::hours(25));
    let (c, later) = event(&app, &s.key, opd_event(None)).await;
    assert_eq!(c, 202);
    assert_ne!(later["id"], first["id"]);
}

#[tokio::test]
async fn an_unknown_encounter_and_an_unmapped_code_are_ignored_with_the_reason() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    instance(&app, &s, t, "ENC123").await;
    let mut unknown = opd_event(Some("U1"));
    unknown["encounter_id"] = json!("ENC-NOPE");
    let (_, a) = event(&app, &s.key, unknown).await;
    let mut nomatch = opd_event(Some("U2"));
    nomatch["event_code"] = json!("SOMETHING_ELSE");
    let (_, b) = event(&app, &s.key, nomatch).await;
    // HL7 codes must be mapped.
    let (_, ack) = hl7(&app, &s.key, &adt("A01", "M1", "ENC123")).await;
    assert!(ack.contains("MSA|AA|M1"), "{ack}");
    app.run_jobs().await;
    let a = event_row(&app, &s, a["id"].as_str().unwrap()).await;
    assert_eq!(a["status"], "IGNORED");
    assert!(
        a["result"]
            .as_str()
            .unwrap()
            .contains("no journey for encounter ENC-NOPE"),
        "{a}"
    );
    let b = event_row(&app, &s, b["id"].as_str().unwrap()).await;
    assert_eq!(b["status"], "IGNORED");
    assert!(b["result"].as_str().unwrap().contains("no stage"), "{b}");
    let list = get(
        &app,
        "/api/integrations/events/?status=IGNORED&source_system=HIS",
        &s.token,
    )
    .await;
    assert_eq!(list["count"], 1);
    assert!(
        list["results"][0]["result"]
            .as_str()
            .unwrap()
            .contains("no event mapping for ADT^A01")
    );
}

#[tokio::test]
async fn a_processing_error_fails_is_retried_goes_dead_and_reprocess_works_once_fixed() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    // The mapping starts INPATIENT journeys, but the hospital has no active INPATIENT template yet.
    mapping(&app, &s, "his", "ADMITTED", "ADMITTED", Some("INPATIENT")).await;
    let mut body = opd_event(Some("F1"));
    body["event_code"] = json!("ADMITTED");
    body["encounter_id"] = json!("ENC-IP-1");
    let (_, ev) = event(&app, &s.key, body).await;
    let id = ev["id"].as_str().unwrap().to_string();
    app.run_jobs().await;
    let e = event_row(&app, &s, &id).await;
    assert_eq!(e["status"], "FAILED");
    assert_eq!(e["attempts"], 1);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("no active INPATIENT journey template"),
        "{e}"
    );
    // Retries with backoff until DEAD (5 attempts by default); time is moved, not waited for.
    for _ in 0..10 {
        app.clock.advance(chrono::Duration::hours(2));
        app.run_jobs().await;
    }
    // Access tokens last 15 minutes; the clock moved on by hours.
    let s = Site {
        token: factory::token(&app, s.admin),
        ..s
    };
    let e = event_row(&app, &s, &id).await;
    assert_eq!(e["status"], "DEAD", "{e}");
    assert_eq!(e["attempts"], 5);
    // Nothing was half-written by the failed attempts.
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM journey_instances").await,
        0
    );
    // A PROCESSED event cannot be reprocessed, but a DEAD one can once the cause is fixed.
    template(
        &app,
        &s,
        "INPATIENT",
        &[("ADMISSION", "ADMITTED"), ("DISCHARGE", "DISCHARGED")],
    )
    .await;
    let r = app
        .client
        .post(app.url(&format!("/api/integrations/events/{id}/reprocess/")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    app.run_jobs().await;
    let e = event_row(&app, &s, &id).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    assert!(
        e["result"]
            .as_str()
            .unwrap()
            .contains("started the journey"),
        "{e}"
    );
    let r = app
        .client
        .post(app.url(&format!("/api/integrations/events/{id}/reprocess/")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let n = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'inbound_event.failed'",
    )
    .await;
    assert_eq!(n, 5);
}

pub fn adt(trigger: &str, control: &str, visit: &str) -> String {
    format!(
        "MSH|^~\\&|HIS|RUH|PX360|HH-RUH|20260105093000+0300||ADT^{trigger}|{control}|P|2.5\r\
         EVN|{trigger}|20260105093000+0300\r\
         PID|1||MRN777^^^RUH^MR||Al-Harbi^Mohammed||19800203|M\r\
         PV1|1|I|CARD^^^RUH||||PHY001^Haddad^Omar|||CARD|||||||||{visit}\r"
    )
}

#[tokio::test]
async fn adt_a04_then_a03_drive_an_encounter_and_a_malformed_message_changes_nothing() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    template(
        &app,
        &s,
        "INPATIENT",
        &[("ADMISSION", "ADMITTED"), ("DISCHARGE", "DISCHARGED")],
    )
    .await;
    mapping(&app, &s, "HIS", "ADT^A04", "ADMITTED", Some("INPATIENT")).await;
    mapping(&app, &s, "HIS", "ADT^A03", "DISCHARGED", None).await;

    let (st, ack) = hl7(&app, &s.key, &adt("A04", "MSG-A04", "V100")).await;
    assert_eq!(st, 200);
    assert!(ack.starts_with("MSH|^~\\&|PX360|"), "{ack}");
    assert!(ack.contains("\rMSA|AA|MSG-A04|"), "{ack}");
    app.run_jobs().await;
    // LF-separated segments work too.
    let (_, ack) = hl7(
        &app,
        &s.key,
        &adt("A03", "MSG-A03", "V100").replace('\r', "\n"),
    )
    .await;
    assert!(ack.contains("MSA|AA|MSG-A03|"), "{ack}");
    app.run_jobs().await;

    let list = get(&app, "/api/journeys/instances/?encounter_id=V100", &s.token).await;
    assert_eq!(list["count"], 1);
    let inst = &list["results"][0];
    assert_eq!(inst["status"], "COMPLETED");
    assert_eq!(inst["stages"][0]["status"], "COMPLETED");
    assert_eq!(inst["stages"][1]["status"], "COMPLETED");
    assert_eq!(inst["stages"][0]["physician"], json!(s.physician));
    // The patient was created from PID.
    let pats = get(&app, "/api/organizations/patients/?mrn=MRN777", &s.token).await;
    assert_eq!(pats["count"], 1);
    assert_eq!(pats["results"][0]["last_name_en"], "Al-Harbi");

    let before_stages = factory::count(
        &app,
        "SELECT COUNT(*) FROM journey_stage_instances WHERE status = 'COMPLETED'",
    )
    .await;
    let before_jobs = factory::count(&app, "SELECT COUNT(*) FROM jobs").await;
    let (st, ack) = hl7(&app, &s.key, "this is not HL7 at all").await;
    assert_eq!(st, 200);
    assert!(ack.contains("MSA|AR|"), "{ack}");
    let missing_visit = adt("A03", "MSG-BAD", "");
    let (_, ack) = hl7(&app, &s.key, &missing_visit).await;
    assert!(
        ack.contains("MSA|AE|MSG-BAD|") && ack.contains("PV1-19"),
        "{ack}"
    );
    app.run_jobs().await;
    let failed = get(
        &app,
        "/api/integrations/events/?status=FAILED&format=HL7V2",
        &s.token,
    )
    .await;
    assert_eq!(failed["count"], 2, "{failed}");
    assert!(
        failed["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["error"].is_null())
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM journey_stage_instances WHERE status = 'COMPLETED'"
        )
        .await,
        before_stages
    );
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM jobs").await,
        before_jobs
    );
}

#[tokio::test]
async fn a08_updates_demographics_a40_merges_and_a11_cancels_the_encounter() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    let inst = instance(&app, &s, t, "ENC123").await; // patient MRN001
    let a08 = "MSH|^~\\&|HIS|RUH|PX360|HH-RUH|20260105093000||ADT^A08|M08|P|2.5\rPID|1||MRN001||Otaibi^Khalid||19700101|M\r";
    let (_, ack) = hl7(&app, &s.key, a08).await;
    assert!(ack.contains("MSA|AA|M08"), "{ack}");
    // MRN002 is merged into MRN001's record: journeys of MRN002 follow MRN001.
    let other = patient(&app, s.hospital, "MRN002").await;
    exec(
        &app,
        "UPDATE journey_instances SET patient_id = $1",
        vec![other.into()],
    )
    .await;
    let a40 = "MSH|^~\\&|HIS|RUH|PX360|HH-RUH|20260105093000||ADT^A40|M40|P|2.5\rPID|1||MRN001\rMRG|MRN002\r";
    let (_, ack) = hl7(&app, &s.key, a40).await;
    assert!(ack.contains("MSA|AA|M40"), "{ack}");
    let (_, ack) = hl7(&app, &s.key, &adt("A11", "M11", "ENC123")).await;
    assert!(ack.contains("MSA|AA|M11"), "{ack}");
    app.run_jobs().await;

    let p = get(
        &app,
        &format!("/api/organizations/patients/{}/", s.patient),
        &s.token,
    )
    .await;
    assert_eq!(p["first_name_en"], "Khalid");
    assert_eq!(p["date_of_birth"], "1970-01-01");
    let i = get(
        &app,
        &format!("/api/journeys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["patient"], json!(s.patient));
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.merged'"
        )
        .await,
        1
    );
    let cancelled = factory::count(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'events.dispatch' AND CAST(payload AS TEXT) LIKE '%EncounterCancelled%'",
    )
    .await;
    assert_eq!(cancelled, 1);
    let processed = get(&app, "/api/integrations/events/?status=PROCESSED", &s.token).await;
    assert_eq!(processed["count"], 3, "{processed}");
}

fn encounter(status: &str) -> Value {
    json!({
        "resourceType": "Encounter", "id": "fhir-enc-1", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "identifier": [{"system": "urn:his:visit", "value": "ENC123"}],
        "subject": {"identifier": {"value": "MRN001"}},
        "participant": [{"individual": {"identifier": {"value": "PHY001"}}}],
        "period": {"start": "2026-01-05T09:00:00+03:00", "end": "2026-01-05T09:40:00+03:00"}
    })
}

#[tokio::test]
async fn a_fhir_encounter_completes_the_mapped_stage_and_an_invalid_one_gets_an_operation_outcome()
{
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    let inst = instance(&app, &s, t, "ENC123").await;
    mapping(
        &app,
        &s,
        "fhir",
        "ENCOUNTER-AMB-FINISHED",
        "OPD_VISIT_COMPLETED",
        None,
    )
    .await;
    let send = |body: Value| {
        let app = &app;
        let key = s.key.clone();
        async move {
            let r = app
                .client
                .post(app.url("/api/integrations/fhir/"))
                .header("X-API-Key", key)
                .header("Content-Type", "application/fhir+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let st = r.status();
            (st, r.json::<Value>().await.unwrap())
        }
    };
    let (st, b) = send(json!({"resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}, {"resource": encounter("finished")}]}))
    .await;
    assert_eq!(st, 202, "{b}");
    app.run_jobs().await;
    let i = get(
        &app,
        &format!("/api/journeys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["stages"][0]["status"], "COMPLETED");
    assert_eq!(i["stages"][0]["completed_at"], "2026-01-05T06:40:00Z");

    let mut bad = encounter("done");
    bad["class"]["code"] = json!("XYZ");
    let (st, o) = send(bad).await;
    assert_eq!(st, 400);
    assert_eq!(o["resourceType"], "OperationOutcome");
    assert_eq!(o["issue"].as_array().unwrap().len(), 2, "{o}");
    let (st, o) = send(json!({"resourceType": "Observation"})).await;
    assert_eq!(st, 400);
    assert_eq!(o["resourceType"], "OperationOutcome");
    let r = app
        .client
        .post(app.url("/api/integrations/fhir/"))
        .header("X-API-Key", &s.key)
        .header("Content-Type", "application/fhir+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM inbound_events").await,
        1
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_the_right_status() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let b = site(&app, "HH-JED").await;
    let tb = template(&app, &b, "OPD", OPD_STAGES).await;
    let b_inst = instance(&app, &b, tb, "ENC-B").await;

    // Invalid JSON.
    let r = app
        .client
        .post(app.url("/api/integrations/events/"))
        .header("X-API-Key", &s.key)
        .header("Content-Type", "application/json")
        .body("{\"source_system\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("JSON parse error")
    );
    // Missing fields, each on its own.
    let (st, e) = event(&app, &s.key, json!({"source_system": "his"})).await;
    assert_eq!(st, 400);
    assert_eq!(e["encounter_id"][0], "This field is required.");
    assert_eq!(e["event_code"][0], "This field is required.");
    // Over 256 KiB.
    let mut big = opd_event(Some("BIG"));
    big["payload_json"]["filler"] = json!("x".repeat(300 * 1024));
    let (st, _) = event(&app, &s.key, big).await;
    assert_eq!(st, 413);
    // Wrong key.
    let (st, _) = event(&app, "px_000000000000_nope", opd_event(None)).await;
    assert_eq!(st, 401);
    // Another hospital's code with a hospital-scoped key.
    let mut other = opd_event(Some("X1"));
    other["hospital_code"] = json!("HH-JED");
    let (st, _) = event(&app, &s.key, other).await;
    assert_eq!(st, 403);
    let mut inside = opd_event(Some("X2"));
    inside["payload_json"]["hospital_code"] = json!("HH-JED");
    let (st, _) = event(&app, &s.key, inside).await;
    assert_eq!(st, 403);
    // Another hospital's encounter: stored for the key's hospital, where it matches nothing.
    let mut enc_b = opd_event(Some("X3"));
    enc_b["encounter_id"] = json!("ENC-B");
    let (st, ev) = event(&app, &s.key, enc_b).await;
    assert_eq!(st, 202);
    app.run_jobs().await;
    assert_eq!(
        event_row(&app, &s, ev["id"].as_str().unwrap()).await["status"],
        "IGNORED"
    );
    let bi = get(
        &app,
        &format!(
            "/api/journeys/instances/{}/",
            b_inst["id"].as_str().unwrap()
        ),
        &b.token,
    )
    .await;
    assert!(
        bi["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == "PENDING")
    );
    // A user (JWT) of two hospitals must say which; a PX admin without a code is refused with 400.
    let (_, px) = factory::user(&app, Role::PxAdmin, None, None).await;
    let (st, e) = post(
        &app,
        "/api/integrations/events/",
        &px,
        opd_event(Some("X4")),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e.get("hospital_code").is_some(), "{e}");
    // A read-only key may not send events.
    let viewer = factory::api_key(&app, s.hospital, Role::Viewer).await;
    let (st, _) = event(&app, &viewer, opd_event(Some("X5"))).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn bulk_create_answers_each_item_and_refuses_more_than_a_thousand() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let r = app
        .client
        .post(app.url("/api/integrations/events/bulk_create/"))
        .header("X-API-Key", &s.key)
        .json(&json!([opd_event(Some("B1")), opd_event(Some("B1")), {"source_system": "his"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let res = b["results"].as_array().unwrap();
    assert_eq!(res[0]["status"], 201);
    assert_eq!(res[1]["status"], 200);
    assert_eq!(res[1]["id"], res[0]["id"]);
    assert_eq!(res[2]["status"], 400);
    assert_eq!(res[2]["errors"]["event_code"][0], "This field is required.");
    let many: Vec<Value> = (0..1001)
        .map(|i| opd_event(Some(&format!("M{i}"))))
        .collect();
    let r = app
        .client
        .post(app.url("/api/integrations/events/bulk_create/"))
        .header("X-API-Key", &s.key)
        .json(&many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn intake_is_rate_limited_per_key_with_retry_after() {
    let app = spawn_app_configured(
        px360::startup::ServeOptions {
            worker: false,
            scheduler: false,
        },
        &[
            ("PX360_INTAKE_RATE_PER_MINUTE", "1"),
            ("PX360_INTAKE_BURST", "2"),
        ],
    )
    .await;
    let s = site(&app, "HH-RUH").await;
    let other = factory::api_key(&app, s.hospital, Role::HospitalAdmin).await;
    for i in 0..2 {
        let (st, _) = event(&app, &s.key, opd_event(Some(&format!("R{i}")))).await;
        assert_eq!(st, 202);
    }
    let r = app
        .client
        .post(app.url("/api/integrations/events/"))
        .header("X-API-Key", &s.key)
        .json(&opd_event(Some("R3")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // Another key has its own allowance.
    let (st, _) = event(&app, &other, opd_event(Some("R4"))).await;
    assert_eq!(st, 202);
}

#[tokio::test]
async fn configs_switch_a_source_off_and_can_require_mappings() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let t = template(&app, &s, "OPD", OPD_STAGES).await;
    instance(&app, &s, t, "ENC123").await;
    let (st, c) = post(
        &app,
        "/api/integrations/configs/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "his", "name": "HIS", "protocol": "JSON", "require_mapping": true}),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    let (_, e1) = event(&app, &s.key, opd_event(Some("C1"))).await;
    app.run_jobs().await;
    let e1 = event_row(&app, &s, e1["id"].as_str().unwrap()).await;
    assert_eq!(e1["status"], "IGNORED");
    assert!(
        e1["result"].as_str().unwrap().contains("no event mapping"),
        "{e1}"
    );
    let r = app
        .client
        .patch(app.url(&format!(
            "/api/integrations/configs/{}/",
            c["id"].as_str().unwrap()
        )))
        .bearer_auth(&s.token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, e2) = event(&app, &s.key, opd_event(Some("C2"))).await;
    app.run_jobs().await;
    let e2 = event_row(&app, &s, e2["id"].as_str().unwrap()).await;
    assert!(
        e2["result"].as_str().unwrap().contains("switched off"),
        "{e2}"
    );
    // Duplicate mapping codes are refused.
    mapping(&app, &s, "his", "X", "OPD_VISIT_COMPLETED", None).await;
    let (st, e) = post(
        &app,
        "/api/integrations/mappings/",
        &s.token,
        json!({"hospital": s.hospital, "source_system": "his", "external_code": "X", "event_code": "LAB_ORDER_COMPLETED"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e.get("external_code").is_some());
}
