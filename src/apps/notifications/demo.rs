//! Demo data for `serve --demo`: a few weeks of patient messages (SMS, WhatsApp, email; Arabic and
//! English; sent, delivered, failed, skipped, deferred by quiet hours) and in-app notifications for the
//! demo staff. Messages go through [`super::send`] on the seed's clock, so their text, opt-out links and
//! quiet-hour deferrals are real; the delivery outcome is then written as a gateway would have reported it.

use chrono::Duration;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::service::{Channel, Outgoing, Recipient, send};
use crate::platform::clock::{Clock, TestClock};
use crate::platform::db::stmt;
use crate::platform::state::AppState;

async fn ids(
    state: &AppState,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> anyhow::Result<Vec<Uuid>> {
    let db = &state.db;
    let rows = db
        .query_all_raw(stmt(db.get_database_backend(), sql, values))
        .await?;
    let mut out = vec![];
    for r in rows {
        out.push(r.try_get_by_index::<Uuid>(0)?);
    }
    Ok(out)
}

async fn exec(state: &AppState, sql: &str, values: Vec<sea_orm::Value>) -> anyhow::Result<()> {
    let db = &state.db;
    db.execute_raw(stmt(db.get_database_backend(), sql, values))
        .await?;
    Ok(())
}

/// Seeds the demo messages. `clock` is the seed's clock (it is moved forward here).
///
/// # Errors
/// Database errors.
pub async fn seed(
    state: &AppState,
    clock: &TestClock,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    clock.set(now - Duration::days(21));
    let base = super::service::public_url();
    let hospitals = ids(state, "SELECT id FROM hospitals ORDER BY code DESC", vec![]).await?;
    let mut k = 0usize;
    let mut finals: Vec<(Uuid, usize)> = vec![];
    for h in &hospitals {
        let patients = ids(
            state,
            "SELECT id FROM patients WHERE hospital_id = $1 ORDER BY mrn LIMIT 36",
            vec![(*h).into()],
        )
        .await?;
        for p in patients {
            k += 1;
            let channel = [
                Channel::Sms,
                Channel::Sms,
                Channel::Whatsapp,
                Channel::Email,
            ][k % 4];
            let template = if k.is_multiple_of(5) {
                "survey_reminder"
            } else {
                "survey_invitation"
            };
            let token: String = format!(
                "{:0>24}",
                format!("demo{k}x{}", &p.simple().to_string()[20..])
            );
            let q = send(
                &state.db,
                clock,
                Outgoing::new(template, Recipient::Patient(p))
                    .hospital(*h)
                    .channel(channel)
                    .var("survey_link", format!("{base}/s/{token}")),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !q.is_suppressed() {
                finals.push((q.log_id, k));
            }
            // Some messages are queued in the evening, so quiet hours defer them to the morning.
            clock.advance(Duration::minutes(if k.is_multiple_of(3) {
                700
            } else {
                430
            }));
        }
    }
    // What the gateways reported. Every tenth message failed after five attempts; the newest few stay
    // PENDING for the live worker to deliver.
    let n = finals.len();
    for (i, (log, k)) in finals.into_iter().enumerate() {
        if i + 3 >= n {
            continue;
        }
        let (status, attempts, error, reason) = match k % 10 {
            0 => (
                "FAILED",
                5,
                "delivery attempt 5 failed: gateway answered HTTP 503: Service Unavailable",
                "DELIVERY_ERROR",
            ),
            1 | 4 => ("SENT", 1, "", ""),
            7 => ("DELIVERED", 2, "gateway answered HTTP 502: Bad Gateway", ""),
            _ => ("DELIVERED", 1, "", ""),
        };
        exec(
            state,
            "UPDATE notification_logs SET status = $1, attempts = $2, max_attempts = 5, error = $3, reason = $4, \
             provider = CASE WHEN channel = 'EMAIL' THEN 'smtp' ELSE 'http' END, \
             provider_message_id = CASE WHEN $1 = 'FAILED' THEN NULL ELSE $5 END, \
             sent_at = CASE WHEN $1 = 'FAILED' THEN NULL ELSE scheduled_for END, \
             delivered_at = CASE WHEN $1 = 'DELIVERED' THEN scheduled_for END WHERE id = $6",
            vec![
                status.into(),
                attempts.into(),
                error.into(),
                reason.into(),
                format!("gw-{}", &log.simple().to_string()[16..]).into(),
                log.into(),
            ],
        )
        .await?;
        exec(
            state,
            "UPDATE jobs SET status = 'DONE', finished_at = run_at, attempts = $1 WHERE dedupe_key = $2",
            vec![attempts.into(), format!("notify:{log}").into()],
        )
        .await?;
    }

    // The demo staff's bell: a few assignments, reminders and escalations (delivered by the worker).
    let staff = ids(
        state,
        "SELECT id FROM users WHERE email IN ('px.coordinator@demo.px360.sa', 'hospital.admin@demo.px360.sa', \
         'cardiology.manager@demo.px360.sa', 'nurse@demo.px360.sa', 'px.admin@demo.px360.sa')",
        vec![],
    )
    .await?;
    let items: [(&str, &str, &str, &str); 4] = [
        (
            "action_assigned",
            "ACT-1042",
            "Long waiting time at the pharmacy",
            "2",
        ),
        (
            "action_reminder",
            "ACT-1038",
            "Rude reception at the OPD desk",
            "1",
        ),
        (
            "action_escalated",
            "ACT-1017",
            "Discharge summary delayed three days",
            "2",
        ),
        (
            "action_assigned",
            "ACT-1051",
            "Parking signs in Arabic are missing",
            "1",
        ),
    ];
    let h = hospitals.last().copied();
    for u in staff {
        for (i, (tpl, reference, title, level)) in items.iter().enumerate() {
            clock.advance(Duration::minutes(37));
            let mut msg = Outgoing::new(*tpl, Recipient::User(u))
                .channel(Channel::InApp)
                .var("action_ref", *reference)
                .var("action_title", *title)
                .var("level", *level)
                .var(
                    "due_at",
                    (clock.now() + Duration::days(2))
                        .format("%Y-%m-%d")
                        .to_string(),
                )
                .var("action_link", "/")
                .related("action", Uuid::now_v7());
            if let Some(h) = h {
                msg = msg.hospital(h);
            }
            if i == 3 {
                // One by email too, so the log shows staff email.
                send(&state.db, clock, msg.clone().channel(Channel::Email))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            send(&state.db, clock, msg)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(())
}
