//! Notifications: the send interface, delivery with retries, quiet hours, opt-out, backends.

use chrono::{DateTime, TimeZone, Utc};
use px360::apps::notifications::{Channel, Outgoing, Recipient, SmsEncoding, send, sms_segments};
use px360::platform::clock::Clock;
use px360::platform::db::stmt;
use px360::platform::i18n::Lang;
use px360::platform::rbac::Role;
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

use crate::helpers::{TestApp, factory, spawn_app};

/// Local Riyadh time (UTC+3) on 2026-11-26 (a Thursday).
pub fn riyadh(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Riyadh
        .with_ymd_and_hms(2026, 11, day, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// A patient with a phone and an email; returns its id.
pub async fn patient(app: &TestApp, hospital: Uuid, lang: &str, opt_out: bool) -> Uuid {
    let id = Uuid::now_v7();
    let now = app.clock.now();
    let tail = &id.simple().to_string()[26..];
    factory::exec(
        app,
        "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, \
         search_text, phone, email, preferred_language, gender, opt_out, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Sara', 'Alqahtani', 'سارة', 'القحطاني', 'sara', $4, $5, $6, 'FEMALE', $7, $8, $8)",
        vec![
            id.into(),
            hospital.into(),
            format!("MRN-{tail}").into(),
            "+966501234512".into(),
            format!("sara.{tail}@example.sa").into(),
            lang.into(),
            opt_out.into(),
            now.into(),
        ],
    )
    .await;
    id
}

/// One row of `notification_logs` as JSON-ish values for assertions.
pub async fn log_row(app: &TestApp, id: Uuid) -> serde_json::Value {
    let db = app.db();
    let r = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT status, reason, attempts, body, subject, channel, recipient, error, provider, \
             provider_message_id, language FROM notification_logs WHERE id = $1",
            vec![id.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let s = |i: usize| r.try_get_by_index::<String>(i).unwrap_or_default();
    serde_json::json!({
        "status": s(0), "reason": s(1), "attempts": r.try_get_by_index::<i32>(2).unwrap(),
        "body": s(3), "subject": s(4), "channel": s(5), "recipient": s(6), "error": s(7),
        "provider": s(8), "provider_message_id": r.try_get_by_index::<Option<String>>(9).unwrap(),
        "language": s(10),
    })
}

pub async fn scheduled_for(app: &TestApp, id: Uuid) -> DateTime<Utc> {
    let db = app.db();
    let r = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT scheduled_for FROM notification_logs WHERE id = $1",
            vec![id.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    r.try_get_by_index::<DateTime<Utc>>(0).unwrap()
}

async fn send_now(app: &TestApp, msg: Outgoing) -> px360::apps::notifications::Queued {
    send(app.db(), &app.clock, msg).await.unwrap()
}

#[tokio::test]
async fn a_patient_sms_is_rendered_in_the_patients_language_logged_and_sent_by_the_console() {
    let app = spawn_app().await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HNA").await;
    let p = patient(&app, h, "ar", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p))
            .var(
                "survey_link",
                "http://127.0.0.1:8000/s/abcdefghijklmnopqrstuvwx",
            )
            .related("survey_instance", Uuid::now_v7()),
    )
    .await;
    assert_eq!(q.status, "PENDING");
    // Hospital default channel: SMS; daytime: due now.
    assert_eq!(q.run_at, Some(riyadh(26, 10, 0)));
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["channel"], "SMS");
    assert_eq!(row["language"], "ar");
    let body = row["body"].as_str().unwrap();
    assert!(
        body.starts_with("مستشفى HNA: قيّم زيارتك http://127.0.0.1:8000/s/abcdefghijklmnopqrstuvwx"),
        "{body}"
    );
    assert!(
        body.contains("/o/"),
        "opt-out link in every patient message: {body}"
    );
    assert_eq!(app.run_jobs().await, 1);
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["status"], "SENT");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["provider"], "console");
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'notification.sent'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_rolled_back_caller_sends_nothing() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HRB").await;
    let p = patient(&app, h, "en", false).await;
    let txn = app.db().begin().await.unwrap();
    send(
        &txn,
        &app.clock,
        Outgoing::new("survey_reminder", Recipient::Patient(p)).channel(Channel::Email),
    )
    .await
    .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM notification_logs").await,
        0
    );
    assert_eq!(app.run_jobs().await, 0);
}

#[tokio::test]
async fn an_opted_out_patient_gets_nothing_and_the_log_says_why() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HOO").await;
    let p = patient(&app, h, "en", true).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)),
    )
    .await;
    assert!(q.is_suppressed());
    assert_eq!((q.status, q.reason), ("SKIPPED", Some("OPTED_OUT")));
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["status"], "SKIPPED");
    assert_eq!(row["reason"], "OPTED_OUT");
    assert_eq!(
        app.run_jobs().await,
        0,
        "no delivery job for an opted-out patient"
    );
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'notification.skipped'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_patient_who_opts_out_after_queueing_is_skipped_at_delivery() {
    let app = spawn_app().await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HOL").await;
    let p = patient(&app, h, "en", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)),
    )
    .await;
    factory::exec(
        &app,
        "UPDATE patients SET opt_out = $1 WHERE id = $2",
        vec![true.into(), p.into()],
    )
    .await;
    app.run_jobs().await;
    let row = log_row(&app, q.log_id).await;
    assert_eq!(
        (row["status"].as_str(), row["reason"].as_str()),
        (Some("SKIPPED"), Some("OPTED_OUT"))
    );
}

#[tokio::test]
async fn an_sms_due_at_23_hospital_time_is_sent_at_08() {
    let app = spawn_app().await;
    // Default settings: quiet hours 22:00–08:00, Asia/Riyadh.
    app.clock.set(riyadh(26, 23, 0));
    let h = factory::hospital(&app, "HQH").await;
    let p = patient(&app, h, "en", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)).channel(Channel::Sms),
    )
    .await;
    assert_eq!(q.run_at, Some(riyadh(27, 8, 0)));
    assert_eq!(scheduled_for(&app, q.log_id).await, riyadh(27, 8, 0));
    // Nothing is due during the night.
    app.clock.set(riyadh(27, 7, 59));
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(log_row(&app, q.log_id).await["status"], "PENDING");
    app.clock.set(riyadh(27, 8, 0));
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(log_row(&app, q.log_id).await["status"], "SENT");
    // Email is not held back by quiet hours.
    app.clock.set(riyadh(27, 23, 0));
    let e = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)).channel(Channel::Email),
    )
    .await;
    assert_eq!(e.run_at, Some(riyadh(27, 23, 0)));
}

#[tokio::test]
async fn an_arabic_sms_invitation_fits_two_segments() {
    let app = spawn_app().await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HSEG").await;
    // A realistic Arabic hospital name.
    factory::exec(
        &app,
        "UPDATE hospitals SET name_ar = $1 WHERE id = $2",
        vec!["مستشفى الحمادي بالرياض".into(), h.into()],
    )
    .await;
    let p = patient(&app, h, "ar", false).await;
    // A survey token is at most 24 characters (SPEC rule 5).
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p))
            .channel(Channel::Sms)
            .var(
                "survey_link",
                format!("http://127.0.0.1:8000/s/{}", "A".repeat(24)),
            ),
    )
    .await;
    let row = log_row(&app, q.log_id).await;
    let body = row["body"].as_str().unwrap();
    let seg = sms_segments(body);
    assert_eq!(seg.encoding, SmsEncoding::Ucs2);
    assert!(
        seg.segments <= 2,
        "{} UTF-16 units in {} segments: {body}",
        seg.units,
        seg.segments
    );
}

#[tokio::test]
async fn staff_in_app_notifications_land_in_the_users_inbox() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HIA").await;
    let (u, _) = factory::user(&app, Role::PxCoordinator, Some(h), None).await;
    let action = Uuid::now_v7();
    let q = send_now(
        &app,
        Outgoing::new("action_assigned", Recipient::User(u))
            .hospital(h)
            .channel(Channel::InApp)
            .language(Lang::En)
            .var("action_ref", "ACT-7")
            .var("action_title", "Fix parking signs")
            .var("due_at", "2026-11-30")
            .related("action", action),
    )
    .await;
    assert_eq!(q.status, "PENDING");
    app.run_jobs().await;
    assert_eq!(log_row(&app, q.log_id).await["status"], "DELIVERED");
    assert_eq!(
        factory::count(
            &app,
            &format!("SELECT COUNT(*) FROM notification_inbox WHERE read_at IS NULL AND link = '/actions/actions/{action}/'")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_password_reset_email_goes_through_notifications() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HPR").await;
    let (u, _) = factory::user(
        &app,
        Role::Staff,
        Some(h),
        Some(factory::department(&app, h, "D1", None).await),
    )
    .await;
    let db = app.db();
    let email: String = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT email FROM users WHERE id = $1",
            vec![u.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let r = app
        .client
        .post(app.url("/api/auth/password/reset/"))
        .json(&serde_json::json!({"email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM notification_logs WHERE template_code = 'password_reset' AND channel = 'EMAIL' AND body LIKE '%/password-reset/%'"
        )
        .await,
        1
    );
    app.run_jobs().await;
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM notification_logs WHERE status = 'SENT'"
        )
        .await,
        1
    );
}
