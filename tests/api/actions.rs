//! The PX Action Center: triggers (events published directly), routing, SLA due dates on the hospital
//! calendar, reminders and escalation with a moved clock, the workflow rules of SPEC.md rule 8,
//! evidence files and the board's filters.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Riyadh;
use px360::platform::events::{self, CallRatedLow, SurveyCompleted, SurveyScoredNegative};
use px360::platform::rbac::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, factory, spawn_app, spawn_app_configured};
use px360::startup::ServeOptions;

/// Riyadh local time on a day of November 2026 (the 26th is a Thursday).
fn ry(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Riyadh
        .with_ymd_and_hms(2026, 11, d, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let url = app.url(path);
    let r = match method {
        "get" => app.client.get(url),
        "patch" => app.client.patch(url).json(&body),
        "put" => app.client.put(url).json(&body),
        _ => app.client.post(url).json(&body),
    }
    .bearer_auth(token)
    .send()
    .await
    .unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A hospital with a department, its people and an 8-hour business SLA (reminder 2 h before,
/// escalation every 4 h), routing stage-survey actions to a named staff member.
struct Site {
    hospital: Uuid,
    dept: Uuid,
    staff: (Uuid, String),
    manager: (Uuid, String),
    admin: (Uuid, String),
    px_admin: (Uuid, String),
    coordinator: (Uuid, String),
    viewer: (Uuid, String),
}

async fn site(app: &TestApp, code: &str) -> Site {
    let hospital = factory::hospital(app, code).await;
    let dept = factory::department(app, hospital, &format!("{code}-CARD"), None).await;
    let staff = factory::user(app, Role::Staff, Some(hospital), Some(dept)).await;
    let manager = factory::user(app, Role::DepartmentManager, Some(hospital), Some(dept)).await;
    let admin = factory::user(app, Role::HospitalAdmin, Some(hospital), None).await;
    let px_admin = factory::user(app, Role::PxAdmin, None, None).await;
    let coordinator = factory::user(app, Role::PxCoordinator, Some(hospital), None).await;
    let viewer = factory::user(app, Role::Viewer, Some(hospital), None).await;
    let (s, b) = call(
        app,
        "post",
        "/api/actions/sla-configs/",
        &admin.1,
        json!({"hospital": hospital, "hours": 8, "reminder_hours_before": 2,
               "escalation_interval_hours": 4, "hour_mode": "BUSINESS"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = call(
        app,
        "post",
        "/api/actions/routing-rules/",
        &admin.1,
        json!({"hospital": hospital, "name": "Stage surveys to the unit lead", "order": 10,
               "source_type": "SURVEY", "target": "USER", "target_user": staff.0}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    Site {
        hospital,
        dept,
        staff,
        manager,
        admin,
        px_admin,
        coordinator,
        viewer,
    }
}

/// A fresh access token (tests move the clock past a token's lifetime).
fn tok(app: &TestApp, user: &(Uuid, String)) -> String {
    factory::token(app, user.0)
}

async fn negative_survey(app: &TestApp, s: &Site, kind: &str, instance: Uuid) {
    events::publish(
        app.db(),
        app.state.clock.as_ref(),
        SurveyScoredNegative {
            survey_instance: instance,
            hospital: s.hospital,
            department: Some(s.dept),
            physician: None,
            template_kind: kind.into(),
            score: 35.0,
        },
    )
    .await
    .unwrap();
    app.run_jobs().await;
}

async fn actions_of(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (s, b) = call(
        app,
        "get",
        &format!("/api/actions/actions/?{query}"),
        token,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["results"].as_array().unwrap().clone()
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_negative_stage_survey_opens_exactly_one_routed_action_due_by_the_business_calendar() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    app.clock.set(ry(26, 15, 0));
    let instance = Uuid::now_v7();
    negative_survey(&app, &s, "STAGE", instance).await;
    // The same answer again (a re-delivered event): still one action.
    negative_survey(&app, &s, "STAGE", instance).await;
    // A dissatisfied resolution survey goes through ResolutionDissatisfied, not here.
    negative_survey(&app, &s, "RESOLUTION_SATISFACTION", Uuid::now_v7()).await;
    // A positive answer publishes no negative event: nothing opens.
    events::publish(
        app.db(),
        app.state.clock.as_ref(),
        SurveyCompleted {
            survey_instance: Uuid::now_v7(),
            hospital: s.hospital,
            template_kind: "STAGE".into(),
            score: Some(90.0),
            is_negative: false,
        },
    )
    .await
    .unwrap();
    app.run_jobs().await;

    let all = actions_of(&app, &tok(&app, &s.admin), "").await;
    assert_eq!(all.len(), 1, "{all:?}");
    let a = &all[0];
    assert_eq!(a["source_type"], "SURVEY");
    assert_eq!(a["source_id"], instance.to_string());
    assert_eq!(a["source_url"], format!("/surveys/instances/{instance}/"));
    assert_eq!(a["status"], "OPEN");
    assert_eq!(a["assignee"], s.staff.0.to_string(), "routed by the rule");
    assert_eq!(a["hour_mode"], "BUSINESS");
    // Thursday 15:00 + 8 business hours (Sun–Thu 08:00–16:00) = Sunday 15:00.
    assert_eq!(at(&a["due_at"]), ry(29, 15, 0));
    assert_eq!(at(&a["remind_at"]), ry(29, 13, 0));
    let audited = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'action.created'",
    )
    .await;
    assert_eq!(audited, 1);
    let queued = factory::count(
        &app,
        "SELECT COUNT(*) FROM notification_logs WHERE template_code = 'action_assigned'",
    )
    .await;
    assert_eq!(
        queued, 2,
        "the assignee is notified once, in-app and by email"
    );

    // With the trigger switched off nothing opens.
    let (st, b) = call(
        &app,
        "patch",
        &format!("/api/organizations/hospitals/{}/settings/", s.hospital),
        &tok(&app, &s.admin),
        json!({"action_triggers": {"NEGATIVE_STAGE_SURVEY": false}}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    assert_eq!(actions_of(&app, &tok(&app, &s.admin), "").await.len(), 1);
}

#[tokio::test]
async fn a_holiday_moves_the_due_date_to_the_next_working_day() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    let (st, b) = call(
        &app,
        "patch",
        &format!("/api/organizations/hospitals/{}/settings/", s.hospital),
        &tok(&app, &s.admin),
        json!({"holidays": ["2026-11-29"]}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    app.clock.set(ry(26, 15, 0));
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    let a = &actions_of(&app, &tok(&app, &s.admin), "").await[0];
    assert_eq!(at(&a["due_at"]), ry(30, 15, 0));
}

#[tokio::test]
async fn other_triggers_open_actions_and_respect_thresholds() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    for rating in [2, 3] {
        events::publish(
            app.db(),
            app.state.clock.as_ref(),
            CallRatedLow {
                interaction: Uuid::now_v7(),
                hospital: s.hospital,
                department: Some(s.dept),
                rating,
            },
        )
        .await
        .unwrap();
    }
    app.run_jobs().await;
    let all = actions_of(&app, &tok(&app, &s.admin), "source=CALL_CENTER").await;
    assert_eq!(
        all.len(),
        1,
        "only the rating at or below the threshold (2)"
    );
    // Routed without a matching rule: the department's manager.
    assert_eq!(all[0]["assignee"], s.manager.0.to_string());
}

async fn sweep(app: &TestApp) -> px360::apps::actions::SweepOutcome {
    let out = px360::apps::actions::sweep(app.db(), app.state.clock.as_ref())
        .await
        .unwrap();
    app.run_jobs().await;
    out
}

#[tokio::test]
async fn overdue_actions_are_reminded_once_then_escalated_one_level_per_interval() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    app.clock.set(ry(26, 15, 0));
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    let id = actions_of(&app, &tok(&app, &s.admin), "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = async |app: &TestApp| {
        call(
            app,
            "get",
            &format!("/api/actions/actions/{id}/"),
            &tok(app, &s.px_admin),
            json!({}),
        )
        .await
        .1
    };

    app.clock.set(ry(29, 12, 59));
    assert_eq!(
        sweep(&app).await.reminded,
        0,
        "not yet two hours before due"
    );
    app.clock.set(ry(29, 13, 30));
    assert_eq!(sweep(&app).await.reminded, 1);
    assert_eq!(sweep(&app).await.reminded, 0, "a reminder is sent once");
    assert!(get(&app).await["reminded_at"].is_string());

    // Due Sunday 15:00: level 1 of the default chain, the department manager.
    app.clock.set(ry(29, 15, 0));
    let out = sweep(&app).await;
    assert_eq!(out.escalated, 1);
    let a = get(&app).await;
    assert_eq!(a["escalation_level"], 1);
    assert_eq!(a["assignee"], s.manager.0.to_string());
    assert_eq!(a["sla_status"], "OVERDUE");
    assert_eq!(sweep(&app).await.escalated, 0, "never twice per level");
    // Next interval: 4 business hours later = Monday 11:00.
    assert_eq!(at(&a["escalate_at"]), ry(30, 11, 0));
    app.clock.set(ry(30, 10, 59));
    assert_eq!(sweep(&app).await.escalated, 0);
    app.clock.set(ry(30, 11, 0));
    assert_eq!(sweep(&app).await.escalated, 1);
    let a = get(&app).await;
    assert_eq!(a["escalation_level"], 2);
    assert_eq!(a["assignee"], s.admin.0.to_string());
    app.clock.set(ry(30, 15, 0));
    assert_eq!(sweep(&app).await.escalated, 1);
    let a = get(&app).await;
    assert_eq!(a["escalation_level"], 3);
    assert_eq!(a["assignee"], s.px_admin.0.to_string());
    // Top of the chain: nothing more, ever.
    app.clock.set(ry(30, 23, 0) + chrono::Duration::days(7));
    assert_eq!(sweep(&app).await.escalated, 0);
    assert_eq!(sweep(&app).await.escalated, 0);

    let audited = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'action.escalated'",
    )
    .await;
    assert_eq!(audited, 3);
    let reminders = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'action.reminder'",
    )
    .await;
    assert_eq!(reminders, 1);
    let escalated_events = factory::count(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'events.dispatch' AND CAST(payload AS TEXT) LIKE '%ActionEscalated%'",
    )
    .await;
    assert_eq!(escalated_events, 3);
    let (_, logs) = call(
        &app,
        "get",
        &format!("/api/actions/actions/{id}/logs/"),
        &tok(&app, &s.px_admin),
        json!({}),
    )
    .await;
    let notes: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "NOTIFICATION" && l["details"]["template"] == "action_escalated")
        .collect();
    assert_eq!(notes.len(), 3, "each new assignee notified");
    assert_eq!(notes[0]["details"]["channels"], json!(["IN_APP", "EMAIL"]));
    let sent = factory::count(
        &app,
        "SELECT COUNT(*) FROM notification_logs WHERE template_code = 'action_escalated' AND related_type = 'action'",
    )
    .await;
    assert_eq!(sent, 6, "three levels, in-app and by email");
    let reminded = factory::count(
        &app,
        "SELECT COUNT(*) FROM notification_logs WHERE template_code = 'action_reminder'",
    )
    .await;
    assert_eq!(reminded, 2);
    // The board finds it among the escalated and the overdue.
    assert_eq!(
        actions_of(&app, &tok(&app, &s.px_admin), "escalated=true&sla=OVERDUE")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn waiting_pauses_the_sla_clock_and_resuming_credits_the_time() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    app.clock.set(ry(29, 8, 0));
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    let a = &actions_of(&app, &tok(&app, &s.admin), "").await[0];
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(at(&a["due_at"]), ry(29, 16, 0));
    let path = format!("/api/actions/actions/{id}/transition/");
    for status in ["IN_PROGRESS", "WAITING"] {
        app.clock.set(ry(29, 10, 0));
        let (st, b) = call(
            &app,
            "post",
            &path,
            &tok(&app, &s.staff),
            json!({"status": status}),
        )
        .await;
        assert_eq!(st, 200, "{b}");
    }
    app.clock.set(ry(29, 13, 0));
    let (st, b) = call(
        &app,
        "post",
        &path,
        &tok(&app, &s.staff),
        json!({"status": "IN_PROGRESS", "note": "lab replied"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // Three hours waiting are credited: due 16:00 + 3 business hours = Monday 11:00.
    assert_eq!(at(&b["due_at"]), ry(30, 11, 0));
    assert_eq!(b["paused_seconds"], 3 * 3600);
}

#[tokio::test]
async fn the_workflow_is_enforced_in_one_place() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    let other = site(&app, "JED").await;
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    let id = actions_of(&app, &tok(&app, &s.admin), "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/api/actions/actions/{id}/");
    let t = |suffix: &str| format!("{base}{suffix}/");

    // Only approve closes.
    let (st, b) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.staff),
        json!({"status": "CLOSED"}),
    )
    .await;
    assert_eq!(st, 400);
    let msg = b["status"][0].as_str().unwrap();
    assert!(
        msg.starts_with("cannot move from OPEN to CLOSED; allowed: IN_PROGRESS, CANCELLED"),
        "{msg}"
    );
    // Unknown status and illegal moves name the allowed transitions.
    let (st, b) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.staff),
        json!({"status": "FROZEN"}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        b,
        json!({"status": ["cannot move from OPEN to FROZEN; allowed: IN_PROGRESS, CANCELLED"]})
    );
    let (st, b) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.staff),
        json!({"status": "PENDING_APPROVAL"}),
    )
    .await;
    assert_eq!((st, b["status"][0].as_str().is_some()), (400, true));
    // A viewer cannot transition; another hospital's people do not see it.
    let (st, _) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.viewer),
        json!({"status": "IN_PROGRESS"}),
    )
    .await;
    assert_eq!(st, 403);
    for token in [
        &tok(&app, &other.admin),
        &tok(&app, &other.staff),
        &tok(&app, &other.coordinator),
    ] {
        let (st, _) = call(&app, "get", &base, token, json!({})).await;
        assert_eq!(st, 404);
        let (st, _) = call(
            &app,
            "post",
            &t("transition"),
            token,
            json!({"status": "IN_PROGRESS"}),
        )
        .await;
        assert_eq!(st, 404);
    }

    for status in ["IN_PROGRESS", "PENDING_APPROVAL"] {
        let (st, b) = call(
            &app,
            "post",
            &t("transition"),
            &tok(&app, &s.staff),
            json!({"status": status}),
        )
        .await;
        assert_eq!(st, 200, "{b}");
    }
    // A department manager cannot approve.
    let (st, _) = call(
        &app,
        "post",
        &t("approve"),
        &tok(&app, &s.manager),
        json!({}),
    )
    .await;
    assert_eq!(st, 403);
    // Evidence is required by default.
    let (st, b) = call(
        &app,
        "post",
        &t("approve"),
        &tok(&app, &s.coordinator),
        json!({"note": "ok"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        b["evidence"][0].as_str().unwrap().contains("evidence"),
        "{b}"
    );
    // Reject sends it back with the reason on the timeline.
    let (st, _) = call(
        &app,
        "post",
        &t("reject"),
        &tok(&app, &s.coordinator),
        json!({}),
    )
    .await;
    assert_eq!(st, 400, "a reason is required");
    let (st, b) = call(
        &app,
        "post",
        &t("reject"),
        &tok(&app, &s.coordinator),
        json!({"reason": "attach the new rota"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "IN_PROGRESS");
    let (_, logs) = call(&app, "get", &t("logs"), &tok(&app, &s.staff), json!({})).await;
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "REJECTED" && l["message"] == "attach the new rota")
    );

    // Evidence, then approval by the coordinator closes it.
    let part = reqwest::multipart::Part::bytes(b"%PDF-1.7 rota".to_vec())
        .file_name("rota.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let r = app
        .client
        .post(app.url(&t("attachments")))
        .bearer_auth(tok(&app, &s.staff))
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", part)
                .text("note", "new rota"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (st, _) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.staff),
        json!({"status": "PENDING_APPROVAL"}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, b) = call(
        &app,
        "post",
        &t("approve"),
        &tok(&app, &s.coordinator),
        json!({"note": "good"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "CLOSED");
    assert_eq!(b["approved_by"], s.coordinator.0.to_string());
    assert!(b["closed_at"].is_string());
    let (st, b) = call(
        &app,
        "post",
        &t("transition"),
        &tok(&app, &s.admin),
        json!({"status": "OPEN"}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        b["status"][0],
        "cannot move from CLOSED to OPEN; allowed: none"
    );
    let changes = factory::count(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('action.status_changed', 'action.approved', 'action.rejected')",
    )
    .await;
    assert_eq!(changes, 5);
    // A new negative answer about the same instance may open a new action now that this one is closed.
}

#[tokio::test]
async fn attachments_are_limited_by_size_and_type_and_served_only_in_scope() {
    let app = spawn_app_configured(
        ServeOptions {
            worker: false,
            scheduler: false,
        },
        &[("PX360_ATTACHMENT_MAX_MB", "1")],
    )
    .await;
    let s = site(&app, "RUH").await;
    let other = site(&app, "JED").await;
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;
    let id = actions_of(&app, &tok(&app, &s.admin), "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upload = async |name: &str, mime: &str, bytes: Vec<u8>, token: &str| {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap();
        let r = app
            .client
            .post(app.url(&format!("/api/actions/actions/{id}/attachments/")))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let files = || {
        let dir = app.state.config.data_dir.join("attachments");
        walk(&dir)
    };
    let mut big = b"%PDF".to_vec();
    big.resize(1024 * 1024 + 10, b'x');
    let (st, _) = upload("big.pdf", "application/pdf", big, &tok(&app, &s.staff)).await;
    assert_eq!(st, 413);
    let (st, b) = upload(
        "page.html",
        "text/html",
        b"<html>".to_vec(),
        &tok(&app, &s.staff),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        b["file"][0].as_str().unwrap().contains("not accepted"),
        "{b}"
    );
    let (st, _) = upload(
        "fake.pdf",
        "application/pdf",
        b"MZ\x90\x00".to_vec(),
        &tok(&app, &s.staff),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM px_action_attachments").await,
        0
    );
    assert_eq!(files(), 0, "nothing stored");
    let (st, _) = upload(
        "x.pdf",
        "application/pdf",
        b"%PDF-1".to_vec(),
        &tok(&app, &other.admin),
    )
    .await;
    assert_eq!(st, 404);
    let (st, b) = upload(
        "صورة.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nrest".to_vec(),
        &tok(&app, &s.staff),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(files(), 1);
    let href = b["download_url"].as_str().unwrap().to_string();
    let r = app
        .client
        .get(app.url(&href))
        .bearer_auth(tok(&app, &s.coordinator))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\x89PNG\r\n\x1a\nrest");
    let r = app
        .client
        .get(app.url(&href))
        .bearer_auth(tok(&app, &other.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = app.client.get(app.url(&href)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn the_board_filters_by_view_and_actions_are_managed_by_hand() {
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    let (st, b) = call(
        &app,
        "post",
        "/api/actions/actions/",
        &tok(&app, &s.coordinator),
        json!({"hospital": s.hospital, "department": s.dept, "title": "تحسين وقت الانتظار في العيادات",
               "priority": "HIGH", "category": "WAITING_TIME"}),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["source_type"], "MANUAL");
    assert_eq!(
        b["assignee"],
        s.manager.0.to_string(),
        "no rule matches: the manager"
    );
    let id = b["id"].as_str().unwrap().to_string();
    let (st, b) = call(
        &app,
        "post",
        "/api/actions/actions/",
        &tok(&app, &s.coordinator),
        json!({"hospital": s.hospital, "priority": "URGENT"}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(b["title"].is_array() && b["priority"].is_array(), "{b}");
    negative_survey(&app, &s, "STAGE", Uuid::now_v7()).await;

    assert_eq!(
        actions_of(&app, &tok(&app, &s.admin), "source=SURVEY")
            .await
            .len(),
        1
    );
    assert_eq!(
        actions_of(&app, &tok(&app, &s.admin), "priority=HIGH,MEDIUM")
            .await
            .len(),
        2
    );
    assert_eq!(
        actions_of(&app, &tok(&app, &s.manager), "mine=true")
            .await
            .len(),
        1
    );
    assert_eq!(
        actions_of(&app, &tok(&app, &s.staff), "mine=true")
            .await
            .len(),
        1
    );
    assert_eq!(
        actions_of(&app, &tok(&app, &s.admin), "sla=OVERDUE")
            .await
            .len(),
        0
    );
    let (st, b) = call(
        &app,
        "get",
        "/api/actions/actions/?sla=LATE",
        &tok(&app, &s.admin),
        json!({}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        b["sla"][0]
            .as_str()
            .unwrap()
            .contains("allowed: DUE_SOON, OVERDUE")
    );

    // Assign and escalate by hand.
    let (st, b) = call(
        &app,
        "post",
        &format!("/api/actions/actions/{id}/assign/"),
        &tok(&app, &s.manager),
        json!({"assignee": s.staff.0, "note": "please own this"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["assignee"], s.staff.0.to_string());
    let (st, b) = call(
        &app,
        "post",
        &format!("/api/actions/actions/{id}/escalate/"),
        &tok(&app, &s.manager),
        json!({"reason": "needs the hospital's decision"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["escalation_level"], 1);
    assert_eq!(b["assignee"], s.manager.0.to_string());
    let (st, _) = call(
        &app,
        "post",
        &format!("/api/actions/actions/{id}/assign/"),
        &tok(&app, &s.viewer),
        json!({"assignee": s.staff.0}),
    )
    .await;
    assert_eq!(st, 403);
    // Escalation levels come from the hospital's chain.
    let (st, b) = call(
        &app,
        "get",
        &format!("/api/actions/escalation-levels/?hospital={}", s.hospital),
        &tok(&app, &s.admin),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let roles: Vec<&str> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["DEPARTMENT_MANAGER", "HOSPITAL_ADMIN", "PX_ADMIN"]);
    // Configuration needs `configure`: a coordinator may not change SLA configs.
    let (st, _) = call(
        &app,
        "post",
        "/api/actions/sla-configs/",
        &tok(&app, &s.coordinator),
        json!({"hospital": s.hospital, "hours": 4, "hour_mode": "CALENDAR"}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, b) = call(&app, "post", "/api/actions/sla-configs/", &tok(&app, &s.admin),
        json!({"hospital": s.hospital, "hours": 4, "reminder_hours_before": 6, "hour_mode": "WEEKLY"})).await;
    assert_eq!(st, 400);
    assert!(
        b["hour_mode"].is_array() && b["reminder_hours_before"].is_array(),
        "{b}"
    );
}

#[tokio::test]
async fn the_console_board_detail_and_sla_panel_work_in_both_languages() {
    use crate::ui::{Browser, person};
    use reqwest::StatusCode;
    let app = spawn_app().await;
    let s = site(&app, "RUH").await;
    let instance = Uuid::now_v7();
    negative_survey(&app, &s, "STAGE", instance).await;
    let id = actions_of(&app, &tok(&app, &s.admin), "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, email) = person(&app, Role::HospitalAdmin, Some(s.hospital), None).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let pages = [
        "/actions/".to_string(),
        "/actions/?view=overdue".into(),
        "/actions/?view=mine".into(),
        "/actions/?view=surveys&status=OPEN&sla=DUE_SOON".into(),
        "/actions/sla/".into(),
        format!("/actions/actions/{id}/"),
        format!("/actions/actions/{id}/edit/"),
        "/actions/actions/".into(),
        "/actions/actions/new/".into(),
        "/actions/sla-configs/".into(),
        "/actions/sla-configs/new/".into(),
        "/actions/routing-rules/".into(),
        "/actions/routing-rules/new/".into(),
    ];
    for lang in ["en", "ar"] {
        b.post("/lang/", &[("lang", lang), ("next", "/")]).await;
        for p in &pages {
            let (st, body) = b.get(p).await;
            assert_eq!(st, StatusCode::OK, "{lang} {p}");
            assert!(body.contains(&format!("lang=\"{lang}\"")), "{lang} {p}");
            assert!(
                !body.contains(">px.") && !body.contains("{{"),
                "{lang} {p}: untranslated key"
            );
        }
    }
    let (_, detail) = b.get(&format!("/actions/actions/{id}/")).await;
    assert!(
        detail.contains(&format!("/surveys/instances/{instance}/")),
        "links to its source"
    );
    for tab in ["#evidence", "#discussion", "#sla", "#approval"] {
        assert!(
            detail.contains(&format!("data-bs-target=\"{tab}\"")),
            "{tab}"
        );
    }
    let (_, board) = b.get("/actions/").await;
    assert!(board.contains("sla-progress") && board.contains("data-select-all"));
    // htmx asks for the board only.
    let r = b_get_htmx(&app, &mut b, "/actions/?status=OPEN").await;
    assert!(!r.contains("<html") && r.contains("action-row"));

    // A row quick action, then a bulk move.
    let (st, _, loc) = b
        .post(
            &format!("/actions/actions/{id}/transition/"),
            &[("status", "IN_PROGRESS")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        loc.as_deref(),
        Some(format!("/actions/actions/{id}/").as_str())
    );
    let (st, _, _) = b
        .post(
            "/actions/bulk/",
            &[
                ("ids", id.as_str()),
                ("op", "status"),
                ("status", "WAITING"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, a) = call(
        &app,
        "get",
        &format!("/api/actions/actions/{id}/"),
        &tok(&app, &s.admin),
        json!({}),
    )
    .await;
    assert_eq!(a["status"], "WAITING");
    let (_, detail) = b.get(&format!("/actions/actions/{id}/")).await;
    assert!(detail.contains("data-testid=\"action-status\">انتظار") || detail.contains("بالانتظار"));
}

async fn b_get_htmx(app: &TestApp, b: &mut crate::ui::Browser<'_>, path: &str) -> String {
    let _ = app;
    b.get_htmx(path).await
}
