//! The surveys API end to end: a completed OPD stage creates one survey instance, the invitation job
//! sends it after the stage's delay, the link opens the form, the answers are validated per question,
//! scored (SPEC rule 6) and published; bad, expired and used links; reminders, resends, cancellation,
//! versioning, physicians' scope and the analytics aggregates.

use px360::apps::surveys::service::delivery;
use px360::apps::surveys::token;
use px360::platform::clock::Clock;
use px360::platform::events::{self, EncounterCancelled};
use px360::platform::rbac::Role;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, TransactionTrait, Value as DbValue};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app};
use crate::integrations::{OPD_STAGES, Site, event, get, post, site, template};

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let url = app.url(path);
    let r = match method {
        "patch" => app.client.patch(url),
        "put" => app.client.put(url),
        "delete" => app.client.delete(url),
        _ => app.client.post(url),
    }
    .bearer_auth(token)
    .json(&body)
    .send()
    .await
    .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn count_where(app: &TestApp, sql: &str, values: Vec<DbValue>) -> i64 {
    let db = app.db();
    let row = db
        .query_one_raw(px360::platform::db::stmt(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn public_get(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(&format!("/api/surveys/public/{token}/")))
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn public_submit(app: &TestApp, token: &str, answers: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/surveys/public/{token}/submit/")))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// An OPD consult template (AVERAGE): a rating, a yes/no, a choice and a follow-up text shown only
/// when the rating is 2 or less. Returns (template, [rating, yes/no, choice, follow-up]).
pub async fn consult_template(app: &TestApp, s: &Site, method: &str) -> (Uuid, Vec<Uuid>) {
    let (st, t) = post(
        app,
        "/api/surveys/templates/",
        &s.token,
        json!({"hospital": s.hospital, "name_en": "OPD consultation", "name_ar": "استشارة العيادات",
               "kind": "STAGE", "scoring_method": method}),
    )
    .await;
    assert_eq!(st, 201, "{t}");
    let tid: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let mut ids = vec![];
    let bodies = [
        json!({"order": 1, "question_type": "RATING", "text_en": "How was your doctor?", "text_ar": "كيف كان طبيبك؟"}),
        json!({"order": 2, "question_type": "YES_NO", "text_en": "Were you seen on time?", "text_ar": "هل تمت رؤيتك في الموعد؟"}),
        json!({"order": 3, "question_type": "SINGLE_CHOICE", "text_en": "The clinic was", "text_ar": "كانت العيادة",
               "choices": [{"value": "clean", "label_en": "Clean", "label_ar": "نظيفة", "score": 100},
                           {"value": "dirty", "label_en": "Not clean", "label_ar": "غير نظيفة", "score": 0}]}),
    ];
    for b in bodies {
        let mut b = b;
        b["survey_template"] = json!(tid);
        let (st, q) = post(app, "/api/surveys/questions/", &s.token, b).await;
        assert_eq!(st, 201, "{q}");
        ids.push(q["id"].as_str().unwrap().parse().unwrap());
    }
    let (st, q) = post(
        app,
        "/api/surveys/questions/",
        &s.token,
        json!({"survey_template": tid, "order": 4, "question_type": "TEXT", "text_en": "What went wrong?",
               "text_ar": "ما الذي لم يكن جيدًا؟", "required": true,
               "branch": {"question": ids[0], "op": "lte", "value": 2}}),
    )
    .await;
    assert_eq!(st, 201, "{q}");
    ids.push(q["id"].as_str().unwrap().parse().unwrap());
    (tid, ids)
}

/// An OPD journey whose consult stage sends `survey` (2 h delay), and a phone for the patient.
pub async fn bind(app: &TestApp, s: &Site, survey: Uuid) -> Uuid {
    let j = template(app, s, "OPD", OPD_STAGES).await;
    let t = get(app, &format!("/api/journeys/templates/{j}/"), &s.token).await;
    let stage = t["stages"][0]["id"].as_str().unwrap().to_string();
    let (st, b) = send(
        app,
        "patch",
        &format!("/api/journeys/stage-templates/{stage}/"),
        &s.token,
        json!({"survey_template": survey, "auto_send_survey": true, "survey_delay_hours": 2}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    exec(
        app,
        "UPDATE patients SET phone = '+966500000001' WHERE id = $1",
        vec![s.patient.into()],
    )
    .await;
    j
}

pub fn opd_event(external: &str, encounter: &str) -> Value {
    json!({
        "source_system": "his", "event_code": "OPD_VISIT_COMPLETED", "encounter_id": encounter,
        "patient_identifier": "MRN001", "occurred_at": chrono::Utc::now().to_rfc3339(),
        "external_id": external,
        "payload_json": {"physician_license": "PHY001", "department_code": "CARD"}
    })
}

/// Completes the consult stage of a new encounter and runs the jobs; returns the survey instance.
pub async fn completed_stage_survey(app: &TestApp, s: &Site, encounter: &str) -> Value {
    let (st, b) = post(
        app,
        "/api/journeys/instances/",
        &s.token,
        json!({"hospital": s.hospital, "journey_type": "OPD", "patient": s.patient, "encounter_id": encounter}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = event(app, &s.key, opd_event(&format!("X-{encounter}"), encounter)).await;
    assert!(st == 202 || st == 200, "{st} {b}");
    app.run_jobs().await;
    let list = get(
        app,
        &format!("/api/surveys/instances/?encounter_id={encounter}"),
        &s.token,
    )
    .await;
    assert_eq!(list["count"], 1, "{list}");
    list["results"][0].clone()
}

fn link_token(app: &TestApp, instance: &Value) -> String {
    let id: Uuid = instance["id"].as_str().unwrap().parse().unwrap();
    token::for_instance(app.state.keys.secret.expose(), id)
}

#[tokio::test]
async fn an_opd_stage_completion_leads_to_a_sent_opened_answered_and_scored_survey() {
    let app = spawn_app().await;
    let mut s = site(&app, "HH-RUH").await;
    let (tid, q) = consult_template(&app, &s, "AVERAGE").await;
    bind(&app, &s, tid).await;
    let inst = completed_stage_survey(&app, &s, "ENC1").await;
    assert_eq!(inst["status"], "PENDING");
    assert_eq!(inst["survey_template"], json!(tid));
    assert_eq!(inst["journey_type"], "OPD");
    assert_eq!(inst["stage_code"], "OPD_MD_CONSULT");
    assert_eq!(inst["department"], json!(s.department));
    assert_eq!(inst["physician"], json!(s.physician));
    assert_eq!(inst["recipient"], "+966500000001");
    assert_eq!(inst["language"], "ar");
    let id = inst["id"].as_str().unwrap().to_string();

    // The same stage never gets a second survey (the subscriber is idempotent).
    let si: Uuid = inst["stage_instance"].as_str().unwrap().parse().unwrap();
    let again =
        delivery::on_stage_completed(app.db(), &app.clock, app.state.keys.secret.expose(), si)
            .await
            .unwrap();
    assert!(again.is_none());

    // Not sent before the stage's 2 h delay; sent after it, and audited.
    app.run_jobs().await;
    let i = get(&app, &format!("/api/surveys/instances/{id}/"), &s.token).await;
    assert_eq!(i["status"], "PENDING");
    app.clock.advance(chrono::Duration::minutes(121));
    s.token = factory::token(&app, s.admin);
    app.run_jobs().await;
    let i = get(&app, &format!("/api/surveys/instances/{id}/"), &s.token).await;
    assert_eq!(i["status"], "SENT", "{i}");
    assert_eq!(i["send_count"], 1);
    let iid: Uuid = id.parse().unwrap();
    assert_eq!(
        count_where(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_instance.sent' AND object_id = $1",
            vec![iid.to_string().into()]).await,
        1
    );

    // The invitation is a NotificationLog row (template survey_invitation, in Arabic) whose body
    // carries the link; that link is what opens the form.
    let db = app.db();
    let row = db
        .query_one_raw(px360::platform::db::stmt(
            db.get_database_backend(),
            "SELECT body, template_code, language, channel FROM notification_logs \
             WHERE related_type = 'survey_instance' AND related_id = $1",
            vec![iid.into()],
        ))
        .await
        .unwrap()
        .expect("a NotificationLog row for the invitation");
    let body: String = row.try_get_by_index(0).unwrap();
    let template_code: String = row.try_get_by_index(1).unwrap();
    assert_eq!(template_code, "survey_invitation");
    assert_eq!(row.try_get_by_index::<String>(2).unwrap(), "ar");
    assert_eq!(row.try_get_by_index::<String>(3).unwrap(), "SMS");
    let start = body.find("/s/").expect("a survey link in the message") + 3;
    let tok: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(tok, link_token(&app, &i));
    // The link opens the form (OPENED); the token is stored only as its hash.
    assert!(tok.len() <= 24);
    assert_eq!(
        count_where(
            &app,
            "SELECT COUNT(*) FROM survey_instances WHERE token_hash = $1",
            vec![tok.clone().into()]
        )
        .await,
        0
    );
    let (st, form) = public_get(&app, &tok).await;
    assert_eq!(st, 200, "{form}");
    assert_eq!(form["language"], "ar");
    assert_eq!(form["questions"].as_array().unwrap().len(), 4);
    assert!(form.get("patient").is_none() && form.get("recipient").is_none());
    let i = get(&app, &format!("/api/surveys/instances/{id}/"), &s.token).await;
    assert_eq!(i["status"], "OPENED");

    // Low answers: (0 + 0 + 0) / 3 = 0 < 60 → negative, with the follow-up now required and given.
    let (st, b) = public_submit(
        &app,
        &tok,
        json!({q[0].to_string(): 1, q[1].to_string(): false, q[2].to_string(): "dirty", q[3].to_string(): "Long wait"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "COMPLETED");
    let i = get(&app, &format!("/api/surveys/instances/{id}/"), &s.token).await;
    assert_eq!(i["status"], "COMPLETED");
    assert_eq!(i["score"], json!(0.0));
    assert_eq!(i["is_negative"], true);
    let answers = get(
        &app,
        &format!("/api/surveys/responses/?survey_instance={id}"),
        &s.token,
    )
    .await;
    assert_eq!(answers["count"], 4);
    // The outbox holds SurveyCompleted and SurveyScoredNegative for this instance.
    for ty in ["SurveyCompleted", "SurveyScoredNegative"] {
        let n = factory::count(
            &app,
            &format!("SELECT COUNT(*) FROM jobs WHERE kind = 'events.dispatch' AND CAST(payload AS TEXT) LIKE '%{ty}%' AND CAST(payload AS TEXT) LIKE '%{id}%'"),
        )
        .await;
        assert_eq!(n, 1, "{ty}");
    }
    assert_eq!(
        count_where(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_instance.completed' AND object_id = $1",
            vec![iid.to_string().into()]).await,
        1
    );

    // Used: the API says 410 and nothing changes; an altered token is 404.
    let (st, _) = public_get(&app, &tok).await;
    assert_eq!(st, 410);
    let (st, _) = public_submit(&app, &tok, json!({q[0].to_string(): 5})).await;
    assert_eq!(st, 410);
    let mut altered = tok.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let (st, b) = public_get(&app, &altered).await;
    assert_eq!(st, 404);
    assert_eq!(b, json!({"detail": "Not found."}));
    assert_eq!(
        answers["count"],
        get(
            &app,
            &format!("/api/surveys/responses/?survey_instance={id}"),
            &s.token
        )
        .await["count"]
    );
}

#[tokio::test]
async fn bad_answers_are_refused_per_question_and_nothing_is_saved() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let (tid, q) = consult_template(&app, &s, "AVERAGE").await;
    bind(&app, &s, tid).await;
    let inst = completed_stage_survey(&app, &s, "ENC2").await;
    let tok = link_token(&app, &inst);
    let unknown = Uuid::now_v7().to_string();
    let (st, e) = public_submit(
        &app,
        &tok,
        // rating out of range, yes/no missing (required), a choice not offered, an unknown question,
        // and the follow-up answered although a rating of 6 could never show it.
        json!({q[0].to_string(): 6, q[2].to_string(): "sparkling", &unknown: 3, q[3].to_string(): "hidden"}),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(
        e[q[0].to_string()][0].as_str().unwrap().contains("1 to 5"),
        "{e}"
    );
    assert!(
        e[q[1].to_string()][0].as_str().unwrap().contains("answer"),
        "{e}"
    );
    assert!(
        e[q[2].to_string()][0].as_str().unwrap().contains("options"),
        "{e}"
    );
    assert!(e[&unknown][0].as_str().unwrap().contains("not part"), "{e}");
    // A valid high rating hides the follow-up: answering it is refused too.
    let (st, e) = public_submit(
        &app,
        &tok,
        json!({q[0].to_string(): 5, q[1].to_string(): true, q[2].to_string(): "clean", q[3].to_string(): "hidden"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        e[q[3].to_string()][0]
            .as_str()
            .unwrap()
            .contains("not shown"),
        "{e}"
    );
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM survey_responses").await,
        0
    );
    let i = get(
        &app,
        &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_ne!(i["status"], "COMPLETED");
    // The same answers without the hidden one: 100 → not negative.
    let (st, _) = public_submit(
        &app,
        &tok,
        json!({q[0].to_string(): 5, q[1].to_string(): true, q[2].to_string(): "clean"}),
    )
    .await;
    assert_eq!(st, 200);
    let i = get(
        &app,
        &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["score"], json!(100.0));
    assert_eq!(i["is_negative"], false);
}

#[tokio::test]
async fn an_expired_link_is_gone_and_nothing_changes() {
    let app = spawn_app().await;
    let mut s = site(&app, "HH-RUH").await;
    let (tid, q) = consult_template(&app, &s, "AVERAGE").await;
    bind(&app, &s, tid).await;
    let inst = completed_stage_survey(&app, &s, "ENC3").await;
    let tok = link_token(&app, &inst);
    app.clock.advance(chrono::Duration::days(33));
    s.token = factory::token(&app, s.admin);
    let (st, b) = public_get(&app, &tok).await;
    assert_eq!(st, 410, "{b}");
    let (st, _) = public_submit(&app, &tok, json!({q[0].to_string(): 5})).await;
    assert_eq!(st, 410);
    let i = get(
        &app,
        &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["status"], "PENDING");
    assert!(i["opened_at"].is_null());
    // The sweep then marks it EXPIRED; the invitation job finds nothing to send.
    delivery::sweep(app.db(), &app.clock).await.unwrap();
    app.run_jobs().await;
    let i = get(
        &app,
        &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["status"], "EXPIRED");
    assert_eq!(i["send_count"], 0);
}

#[tokio::test]
async fn one_reminder_goes_to_non_responders_and_a_resend_is_logged() {
    let app = spawn_app().await;
    let mut s = site(&app, "HH-RUH").await;
    let (tid, _) = consult_template(&app, &s, "AVERAGE").await;
    bind(&app, &s, tid).await;
    let a = completed_stage_survey(&app, &s, "ENC4").await;
    let b = completed_stage_survey(&app, &s, "ENC5").await;
    app.clock.advance(chrono::Duration::hours(3));
    s.token = factory::token(&app, s.admin);
    app.run_jobs().await;
    // B answers; A does not.
    let btok = link_token(&app, &b);
    let form = public_get(&app, &btok).await.1;
    let mut answers = serde_json::Map::new();
    for q in form["questions"].as_array().unwrap() {
        let v = match q["question_type"].as_str().unwrap() {
            "RATING" => json!(4),
            "YES_NO" => json!(true),
            "SINGLE_CHOICE" => json!("clean"),
            _ => continue,
        };
        answers.insert(q["id"].as_str().unwrap().into(), v);
    }
    assert_eq!(
        public_submit(&app, &btok, Value::Object(answers)).await.0,
        200
    );
    // Default setting: 3 days. Nothing after 2 days; one reminder for A after 3, never a second.
    app.clock.advance(chrono::Duration::days(2));
    s.token = factory::token(&app, s.admin);
    delivery::sweep(app.db(), &app.clock).await.unwrap();
    app.run_jobs().await;
    let path = |v: &Value| format!("/api/surveys/instances/{}/", v["id"].as_str().unwrap());
    assert!(get(&app, &path(&a), &s.token).await["reminded_at"].is_null());
    app.clock.advance(chrono::Duration::days(1));
    s.token = factory::token(&app, s.admin);
    for _ in 0..2 {
        delivery::sweep(app.db(), &app.clock).await.unwrap();
        app.run_jobs().await;
        app.clock.advance(chrono::Duration::days(1));
        s.token = factory::token(&app, s.admin);
    }
    let ai = get(&app, &path(&a), &s.token).await;
    assert!(!ai["reminded_at"].is_null());
    assert_eq!(ai["send_count"], 2);
    let bi = get(&app, &path(&b), &s.token).await;
    assert_eq!(bi["send_count"], 1);
    assert!(bi["reminded_at"].is_null());
    // Staff resend: audited, sent, counted; refused once answered.
    let (st, r) = post(
        &app,
        &format!("{}resend/", path(&a)),
        &s.token,
        json!({"note": "patient asked"}),
    )
    .await;
    assert_eq!(st, 202, "{r}");
    app.run_jobs().await;
    assert_eq!(get(&app, &path(&a), &s.token).await["send_count"], 3);
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_instance.resend_requested'"
        )
        .await,
        1
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_instance.resent'"
        )
        .await,
        1
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'survey_instance.reminded'"
        )
        .await,
        1
    );
    let (st, e) = post(&app, &format!("{}resend/", path(&b)), &s.token, json!({})).await;
    assert_eq!(st, 400, "{e}");
    // A viewer may not resend.
    let (_, viewer) = factory::user(&app, Role::Viewer, Some(s.hospital), None).await;
    let (st, _) = post(&app, &format!("{}resend/", path(&a)), &viewer, json!({})).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn a_cancelled_encounter_cancels_invitations_not_yet_sent() {
    let app = spawn_app().await;
    let mut s = site(&app, "HH-RUH").await;
    let (tid, _) = consult_template(&app, &s, "AVERAGE").await;
    bind(&app, &s, tid).await;
    let inst = completed_stage_survey(&app, &s, "ENC6").await;
    let txn = app.db().begin().await.unwrap();
    events::publish(
        &txn,
        &app.clock,
        EncounterCancelled {
            hospital: s.hospital,
            encounter_id: "ENC6".into(),
            journey_instance: inst["journey_instance"]
                .as_str()
                .map(|j| j.parse().unwrap()),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    app.run_jobs().await;
    app.clock.advance(chrono::Duration::hours(3));
    s.token = factory::token(&app, s.admin);
    app.run_jobs().await;
    let i = get(
        &app,
        &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
        &s.token,
    )
    .await;
    assert_eq!(i["status"], "CANCELLED");
    assert_eq!(i["send_count"], 0);
    let (st, _) = public_get(&app, &link_token(&app, &inst)).await;
    assert_eq!(st, 410);
}

#[tokio::test]
async fn editing_a_template_in_use_creates_a_version_and_old_answers_keep_their_questions() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let (tid, q) = consult_template(&app, &s, "AVERAGE").await;
    // Not in use yet: edits stay on the same version.
    let (st, t) = send(
        &app,
        "patch",
        &format!("/api/surveys/templates/{tid}/"),
        &s.token,
        json!({"negative_threshold": 70}),
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["version"], 1);
    bind(&app, &s, tid).await;
    let inst = completed_stage_survey(&app, &s, "ENC7").await;
    let (st, nq) = send(
        &app,
        "patch",
        &format!("/api/surveys/questions/{}/", q[0]),
        &s.token,
        json!({"text_en": "Rate your doctor"}),
    )
    .await;
    assert_eq!(st, 200, "{nq}");
    assert_ne!(nq["id"], json!(q[0]));
    let new_t = nq["survey_template"].as_str().unwrap().to_string();
    assert_ne!(new_t, tid.to_string());
    let v2 = get(&app, &format!("/api/surveys/templates/{new_t}/"), &s.token).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["active"], true);
    assert_eq!(v2["negative_threshold"], 70);
    assert_eq!(v2["questions"].as_array().unwrap().len(), 4);
    // The follow-up's condition points at the new version's rating question.
    assert_eq!(v2["questions"][3]["branch"]["question"], nq["id"]);
    let v1 = get(&app, &format!("/api/surveys/templates/{tid}/"), &s.token).await;
    assert_eq!(v1["active"], false);
    assert_eq!(v1["questions"][0]["text_en"], "How was your doctor?");
    // The old instance is still answered against version 1.
    let form = public_get(&app, &link_token(&app, &inst)).await.1;
    assert_eq!(form["questions"][0]["id"], json!(q[0]));
    // New stages use the newest active version.
    let inst2 = completed_stage_survey(&app, &s, "ENC8").await;
    assert_eq!(inst2["survey_template"], json!(new_t));
    // Bad branch JSON is refused with a message.
    let (st, e) = post(
        &app,
        "/api/surveys/questions/",
        &s.token,
        json!({"survey_template": new_t, "order": 0, "question_type": "TEXT", "text_en": "x",
               "branch": {"question": nq["id"], "op": "lte", "value": 2}}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e["branch"][0].as_str().unwrap().contains("earlier"), "{e}");
    let (st, e) = post(&app, "/api/surveys/questions/", &s.token,
        json!({"survey_template": new_t, "order": 9, "question_type": "TEXT", "text_en": "x", "branch": {"when": 1}})).await;
    assert_eq!(st, 400);
    assert!(e["branch"].is_array(), "{e}");
}

#[tokio::test]
async fn nps_surveys_score_the_answer_physicians_see_their_own_and_analytics_aggregate() {
    let app = spawn_app().await;
    let s = site(&app, "HH-RUH").await;
    let (st, t) = post(&app, "/api/surveys/templates/", &s.token,
        json!({"hospital": s.hospital, "name_en": "Recommend", "name_ar": "التوصية", "kind": "STAGE", "scoring_method": "NPS"})).await;
    assert_eq!(st, 201);
    let tid: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let (_, q) = post(&app, "/api/surveys/questions/", &s.token,
        json!({"survey_template": tid, "order": 1, "question_type": "NPS", "text_en": "Recommend us?", "text_ar": "هل توصي بنا؟"})).await;
    bind(&app, &s, tid).await;
    let mut scores = vec![];
    for (n, v) in [10, 9, 8, 7, 6, 0].into_iter().enumerate() {
        let inst = completed_stage_survey(&app, &s, &format!("N{n}")).await;
        let (st, b) = public_submit(
            &app,
            &link_token(&app, &inst),
            json!({q["id"].as_str().unwrap(): v}),
        )
        .await;
        assert_eq!(st, 200, "{b}");
        let i = get(
            &app,
            &format!("/api/surveys/instances/{}/", inst["id"].as_str().unwrap()),
            &s.token,
        )
        .await;
        scores.push((
            i["score"].as_f64().unwrap(),
            i["is_negative"].as_bool().unwrap(),
        ));
    }
    assert_eq!(scores[4], (6.0, true), "a 6 is a detractor");
    assert_eq!(scores[3], (7.0, false));
    let a = get(&app, "/api/surveys/analytics/", &s.token).await;
    assert_eq!(a["completed"], 6);
    assert_eq!(a["negative"], 2);
    assert_eq!(a["nps"], json!(0.0), "{a}");
    assert_eq!(a["by_stage"][0]["key"], "OPD_MD_CONSULT");
    assert_eq!(a["by_department"][0]["key"], json!(s.department));
    assert_eq!(a["heatmap"][0]["stage"], "OPD_MD_CONSULT");
    // 0–10 answers count ×10 on the 0–100 satisfaction scale: mean of 100,90,80,70,60,0 = 66.7.
    assert_eq!(a["average"], json!(66.7));

    // A physician sees the surveys linked to them, not another physician's.
    let (pu, ptoken) = factory::user(&app, Role::Physician, Some(s.hospital), None).await;
    exec(
        &app,
        "UPDATE physicians SET user_id = $1 WHERE id = $2",
        vec![pu.into(), s.physician.into()],
    )
    .await;
    let mine = get(&app, "/api/surveys/instances/", &ptoken).await;
    assert_eq!(mine["count"], 6);
    assert!(
        mine["results"][0]["patient"].is_null(),
        "physicians do not see patient links"
    );
    let (ou, otoken) = factory::user(&app, Role::Physician, Some(s.hospital), None).await;
    let other = Uuid::now_v7();
    exec(&app, "INSERT INTO physicians (id, hospital_id, department_id, license_number, first_name_en, last_name_en, \
         first_name_ar, last_name_ar, specialty, active, user_id, created_at, updated_at) \
         VALUES ($1, $2, $3, 'PHY002', 'Sara', 'Ali', 'سارة', 'علي', 'ENT', $4, $5, $6, $6)",
        vec![other.into(), s.hospital.into(), s.department.into(), true.into(), ou.into(), app.clock.now().into()]).await;
    assert_eq!(
        get(&app, "/api/surveys/instances/", &otoken).await["count"],
        0
    );
    assert_eq!(
        get(&app, "/api/surveys/analytics/", &otoken).await["completed"],
        0
    );
}
