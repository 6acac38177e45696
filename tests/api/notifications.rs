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

// ---------------------------------------------------------------- backends

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use px360::startup::ServeOptions;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::spawn_app_configured;

const NO_BG: ServeOptions = ServeOptions {
    worker: false,
    scheduler: false,
};

/// One message an in-test SMTP server received: envelope recipients and the DATA lines.
#[derive(Debug, Clone)]
struct Mail {
    rcpt: Vec<String>,
    data: Vec<String>,
}

/// A minimal SMTP sink on a random port (plain SMTP, no TLS): enough of RFC 5321 for a client.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let out = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let got = got.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut rcpt = vec![];
                while let Ok(Some(line)) = lines.next_line().await {
                    let up = line.to_ascii_uppercase();
                    let reply: &[u8] = if up.starts_with("EHLO") || up.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if up.starts_with("RCPT TO:") {
                        rcpt.push(line[8..].trim().to_string());
                        b"250 OK\r\n"
                    } else if up == "DATA" {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = vec![];
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push(l);
                        }
                        got.lock().unwrap().push(Mail {
                            rcpt: std::mem::take(&mut rcpt),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if up == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, out)
}

/// The decoded text body of a single-part base64 email.
fn mail_body(m: &Mail) -> String {
    let blank = m.data.iter().position(|l| l.is_empty()).unwrap();
    let b64: String = m.data[blank + 1..].concat();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_smtp_sink_receives_the_email_in_the_patients_language() {
    let (port, inbox) = smtp_sink().await;
    let port = port.to_string();
    let app = spawn_app_configured(
        NO_BG,
        &[
            ("PX360_EMAIL_BACKEND", "smtp"),
            ("PX360_SMTP_HOST", "127.0.0.1"),
            ("PX360_SMTP_PORT", &port),
            ("PX360_SMTP_TLS", "none"),
            ("PX360_SMTP_FROM", "PX360 <no-reply@hospital.sa>"),
        ],
    )
    .await;
    let h = factory::hospital(&app, "HSM").await;
    let p = patient(&app, h, "ar", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p))
            .channel(Channel::Email)
            .var("survey_link", "http://127.0.0.1:8000/s/tok"),
    )
    .await;
    assert_eq!(app.run_jobs().await, 1);
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["status"], "SENT", "{row}");
    assert_eq!(row["provider"], "smtp");
    let mails = inbox.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].rcpt[0].contains("@example.sa"),
        "{:?}",
        mails[0].rcpt
    );
    let body = mail_body(&mails[0]);
    assert!(body.starts_with("عزيزنا سارة القحطاني،"), "{body}");
    assert!(body.contains("http://127.0.0.1:8000/s/tok"));
    assert!(body.contains("لإيقاف الرسائل: http://127.0.0.1:8000/o/"));
    // The Arabic subject travels RFC 2047-encoded.
    assert!(
        mails[0]
            .data
            .iter()
            .any(|l| l.starts_with("Subject: =?utf-8?b?")),
        "{:?}",
        mails[0].data
    );
}

/// A local HTTP gateway: fails the first `fail_first` requests with 500, then answers `{"id": "gw-N"}`.
async fn gateway(fail_first: usize) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let hits: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let h2 = hits.clone();
    let router = axum::Router::new().route(
        "/send",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let hits = h2.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let mut g = hits.lock().unwrap();
                g.push((auth, body));
                let n = g.len();
                if n <= fail_first {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "upstream down".to_string(),
                    )
                } else {
                    (StatusCode::OK, format!("{{\"id\": \"gw-{n}\"}}"))
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(l, router).await.ok();
    });
    (format!("http://{addr}/send"), hits)
}

async fn gateway_app(url: &str) -> TestApp {
    spawn_app_configured(
        NO_BG,
        &[
            ("PX360_SMS_BACKEND", "http"),
            ("PX360_SMS_GATEWAY_URL", url),
            ("PX360_SMS_GATEWAY_AUTH", "Bearer gw-token"),
            ("PX360_SMS_INBOUND_SECRET", "hook-secret-123"),
        ],
    )
    .await
}

#[tokio::test]
async fn a_gateway_answering_500_is_retried_with_backoff_then_failed_with_the_error() {
    let (url, hits) = gateway(usize::MAX).await;
    let app = gateway_app(&url).await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HGW").await;
    let p = patient(&app, h, "en", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)).channel(Channel::Sms),
    )
    .await;
    assert_eq!(app.run_jobs().await, 1);
    let row = log_row(&app, q.log_id).await;
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("PENDING"), Some(1))
    );
    assert!(row["error"].as_str().unwrap().contains("HTTP 500"), "{row}");
    // Backoff: the retry is not due until the clock moves.
    assert_eq!(app.run_jobs().await, 0);
    for attempt in 2..=5 {
        app.clock.advance(chrono::Duration::minutes(10));
        assert_eq!(app.run_jobs().await, 1, "attempt {attempt}");
        assert_eq!(log_row(&app, q.log_id).await["attempts"], attempt);
    }
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["status"], "FAILED");
    assert_eq!(row["reason"], "DELIVERY_ERROR");
    assert!(
        row["error"].as_str().unwrap().contains("upstream down"),
        "{row}"
    );
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.run_jobs().await, 0, "no attempt after FAILED");
    assert_eq!(hits.lock().unwrap().len(), 5);
    assert_eq!(hits.lock().unwrap()[0].0, "Bearer gw-token");
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.deliver' AND status = 'DEAD'"
        )
        .await,
        1
    );
    // The API shows the attempts and the error.
    let (_, token) = factory::user(&app, Role::PxAdmin, None, None).await;
    let v: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/notifications/logs/{}/", q.log_id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["attempts"], 5);
    assert_eq!(v["status"], "FAILED");
    assert!(v["error"].as_str().unwrap().contains("HTTP 500"));
}

#[tokio::test]
async fn a_gateway_that_recovers_sends_and_a_receipt_marks_the_message_delivered() {
    let (url, hits) = gateway(2).await;
    let app = gateway_app(&url).await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HGR").await;
    let p = patient(&app, h, "en", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)).channel(Channel::Sms),
    )
    .await;
    for _ in 0..3 {
        app.run_jobs().await;
        app.clock.advance(chrono::Duration::minutes(5));
    }
    let row = log_row(&app, q.log_id).await;
    assert_eq!(row["status"], "SENT");
    assert_eq!(row["attempts"], 3);
    assert_eq!(row["provider_message_id"], "gw-3");
    // The gateway got the JSON body with the phone and the rendered text.
    let body: serde_json::Value = serde_json::from_str(&hits.lock().unwrap()[2].1).unwrap();
    assert_eq!(body["to"], "+966501234512");
    assert!(body["text"].as_str().unwrap().contains("Hospital HGR"));
    let r = app
        .client
        .post(app.url("/api/notifications/inbound/sms/"))
        .header("X-PX360-Webhook-Secret", "hook-secret-123")
        .json(&serde_json::json!({"message_id": "gw-3", "status": "delivered"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(log_row(&app, q.log_id).await["status"], "DELIVERED");
}

#[tokio::test]
async fn a_stop_reply_through_the_inbound_webhook_opts_the_patient_out() {
    let (url, _) = gateway(0).await;
    let app = gateway_app(&url).await;
    let h = factory::hospital(&app, "HST").await;
    let p = patient(&app, h, "ar", false).await;
    let hook = app.url("/api/notifications/inbound/sms/");
    let stop = serde_json::json!({"from": "+966501234512", "text": "إيقاف"});
    let r = app.client.post(&hook).json(&stop).send().await.unwrap();
    assert_eq!(r.status(), 403, "no secret");
    let r = app
        .client
        .post(&hook)
        .header("X-PX360-Webhook-Secret", "wrong")
        .json(&stop)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "wrong secret");
    let r = app
        .client
        .post(app.url("/api/notifications/inbound/whatsapp/"))
        .header("X-PX360-Webhook-Secret", "hook-secret-123")
        .json(&stop)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "another gateway's secret does not open this one"
    );
    let v: serde_json::Value = app
        .client
        .post(&hook)
        .header("X-PX360-Webhook-Secret", "hook-secret-123")
        .json(&stop)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"], "STOP");
    assert_eq!(v["opted_out"], 1);
    let q = send_now(
        &app,
        Outgoing::new("survey_reminder", Recipient::Patient(p)),
    )
    .await;
    assert_eq!(q.reason, Some("OPTED_OUT"));
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.opted_out'"
        )
        .await,
        1
    );
}

// ---------------------------------------------------------------- opt-out link, API, console

use crate::ui::{Browser, person};

fn opt_out_token(body: &str) -> String {
    let i = body.find("/o/").unwrap() + 3;
    body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn the_opt_out_link_asks_then_records_the_opt_out_on_a_bilingual_page() {
    let app = spawn_app().await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HOL2").await;
    let p = patient(&app, h, "ar", false).await;
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)),
    )
    .await;
    let token = opt_out_token(log_row(&app, q.log_id).await["body"].as_str().unwrap());
    assert_eq!(token.len(), 16);
    let mut b = Browser::new(&app);
    let (s, html) = b.get(&format!("/o/{token}")).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("إيقاف رسائل المستشفى؟") && html.contains("Stop messages from the hospital?")
    );
    // Only the confirmation opts out (a link preview's GET must not).
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM patients WHERE opt_out = TRUE").await,
        0
    );
    let (s, html, _) = b.post(&format!("/o/{token}"), &[]).await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("لن تصلك رسائل أخرى") && html.contains("You will receive no more messages")
    );
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM patients WHERE opt_out = TRUE").await,
        1
    );
    let (s, html) = b.get("/o/not-a-real-token").await;
    assert_eq!(s, 404);
    assert!(html.contains("This link is not valid"));
    let q2 = send_now(
        &app,
        Outgoing::new("survey_reminder", Recipient::Patient(p)),
    )
    .await;
    assert_eq!(q2.status, "SKIPPED");
}

#[tokio::test]
async fn logs_are_scoped_masked_and_filterable_and_templates_are_validated() {
    let app = spawn_app().await;
    app.clock.set(riyadh(26, 10, 0));
    let h = factory::hospital(&app, "HAPI").await;
    let other = factory::hospital(&app, "HOTH").await;
    let p = patient(&app, h, "en", false).await;
    let p2 = patient(&app, h, "en", true).await;
    let po = patient(&app, other, "en", false).await;
    let sent = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)),
    )
    .await;
    send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p2)),
    )
    .await;
    let theirs = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(po)),
    )
    .await;
    let (_, coord) = factory::user(&app, Role::PxCoordinator, Some(h), None).await;
    let get = |path: String, token: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, v) = get("/api/notifications/logs/".into(), coord.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(v["count"], 2, "only the coordinator's hospital");
    let row = &v["results"][0];
    assert_eq!(row["recipient"], "+9665••••••12");
    assert!(row.get("body").is_none(), "lists carry no message bodies");
    let (_, v) = get(
        "/api/notifications/logs/?status=SKIPPED&channel=SMS".into(),
        coord.clone(),
    )
    .await;
    assert_eq!(v["count"], 1);
    assert_eq!(v["results"][0]["reason"], "OPTED_OUT");
    let (s, _) = get("/api/notifications/logs/?status=LOST".into(), coord.clone()).await;
    assert_eq!(s, 400);
    let (s, v) = get(
        format!("/api/notifications/logs/{}/", sent.log_id),
        coord.clone(),
    )
    .await;
    assert_eq!(s, 200);
    assert!(v["body"].as_str().unwrap().contains("Hospital HAPI"));
    let (s, _) = get(
        format!("/api/notifications/logs/{}/", theirs.log_id),
        coord.clone(),
    )
    .await;
    assert_eq!(s, 404, "another hospital's log is not found");

    // Templates: the coordinator sees the global defaults but may not change them.
    let (_, v) = get(
        "/api/notifications/templates/?code=survey_invitation".into(),
        coord.clone(),
    )
    .await;
    assert_eq!(v["count"], 2);
    let (_, admin) = factory::user(&app, Role::HospitalAdmin, Some(h), None).await;
    let post = |body: serde_json::Value, token: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/api/notifications/templates/"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let good = serde_json::json!({
        "code": "survey_invitation", "hospital": h, "channel": "SMS",
        "body_en": "{hospital_name} asks: {survey_link} {opt_out_link}",
        "body_ar": "{hospital_name} يسأل: {survey_link} {opt_out_link}"
    });
    let (s, _) = post(good.clone(), coord.clone()).await;
    assert_eq!(s, 403, "a coordinator only views notification templates");
    let mut bad = good.clone();
    bad["body_en"] = "Hi {patient_nam}".into();
    let (s, v) = post(bad, admin.clone()).await;
    assert_eq!(s, 400);
    assert!(
        v["body_en"][0].as_str().unwrap().contains("{patient_nam}"),
        "{v}"
    );
    let mut mismatch = good.clone();
    mismatch["body_ar"] = "{hospital_name} يسأل".into();
    let (s, v) = post(mismatch, admin.clone()).await;
    assert_eq!(s, 400);
    assert!(
        v["body_ar"][0].as_str().unwrap().contains("same variables"),
        "{v}"
    );
    let mut global = good.clone();
    global["hospital"] = serde_json::Value::Null;
    let (s, _) = post(global, admin.clone()).await;
    assert_eq!(s, 403, "global templates are the PX admin's");
    let (s, v) = post(good.clone(), admin.clone()).await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = post(good, admin.clone()).await;
    assert_eq!(s, 400, "one template per code, hospital and channel");
    // The hospital's override wins.
    let q = send_now(
        &app,
        Outgoing::new("survey_invitation", Recipient::Patient(p)).var("survey_link", "L"),
    )
    .await;
    assert!(
        log_row(&app, q.log_id).await["body"]
            .as_str()
            .unwrap()
            .starts_with("Hospital HAPI asks: L http")
    );
}

#[tokio::test]
async fn the_bell_shows_unread_notifications_and_opening_one_marks_it_read() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HBL").await;
    let (u, email) = person(&app, Role::PxCoordinator, Some(h), None).await;
    let action = Uuid::now_v7();
    send_now(
        &app,
        Outgoing::new("action_escalated", Recipient::User(u))
            .hospital(h)
            .channel(Channel::InApp)
            .var("action_ref", "ACT-9")
            .var("action_title", "Long wait at pharmacy")
            .var("level", "2")
            .related("action", action),
    )
    .await;
    app.run_jobs().await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let (s, page) = b.get("/").await;
    assert_eq!(s, 200);
    assert!(page.contains("hx-get=\"/notifications/bell/\""));
    let (s, bell) = b.get("/notifications/bell/").await;
    assert_eq!(s, 200);
    assert!(bell.contains("data-testid=\"bell-count\">1<"), "{bell}");
    assert!(bell.contains("Escalated (level 2): ACT-9 Long wait at pharmacy"));
    let id: String = {
        let i = bell.find("/notifications/inbox/").unwrap() + "/notifications/inbox/".len();
        bell[i..i + 36].to_string()
    };
    let (s, _, loc) = b
        .post(&format!("/notifications/inbox/{id}/open/"), &[])
        .await;
    assert_eq!(s, 303);
    assert_eq!(
        loc.as_deref(),
        Some(format!("/actions/actions/{action}/").as_str())
    );
    let (_, bell) = b.get("/notifications/bell/").await;
    assert!(!bell.contains("bell-count"));
    // The API inbox agrees, and only shows the caller's own.
    let token = factory::token(&app, u);
    let v: serde_json::Value = app
        .client
        .get(app.url("/api/notifications/inbox/unread_count/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["unread"], 0);
    let (_, other) = factory::user(&app, Role::PxCoordinator, Some(h), None).await;
    let r = app
        .client
        .post(app.url(&format!("/api/notifications/inbox/{id}/read/")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The log and template consoles render.
    let (s, html) = b.get("/notifications/logs/").await;
    assert_eq!(s, 200);
    assert!(html.contains("IN_APP") || html.contains("In-app"));
    let (s, _) = b.get("/notifications/templates/").await;
    assert_eq!(s, 200);
}
