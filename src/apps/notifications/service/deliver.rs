//! Delivery of one NotificationLog row: the `notifications.deliver` job. Backends per channel come from
//! configuration (`console` by default). A failed attempt records the error and the attempt count on
//! the log row and lets the job retry with the worker's backoff (10 s, 20 s, 40 s, …); after the
//! configured number of attempts the row is `FAILED` and the job `DEAD`.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    Channel, DELIVER_JOB, DELIVERED, DELIVERY_ERROR, FAILED, OPTED_OUT, PENDING, SENT, SKIPPED,
};
use crate::apps::notifications::config::{
    Backend, GatewayConfig, NotifyConfig, SmtpConfig, SmtpTls,
};
use crate::apps::notifications::model::{inbox, log};
use crate::apps::organizations;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, JobContext, JobError, NewJob};

#[derive(Deserialize)]
struct Payload {
    log: Uuid,
}

/// The delivery job's handler state: configuration and one HTTP client for the gateways.
#[derive(Clone)]
pub struct Deliverer {
    cfg: Arc<NotifyConfig>,
    http: reqwest::Client,
}

/// What a backend answered.
struct Sent {
    provider: &'static str,
    message_id: String,
    delivered: bool,
}

impl Deliverer {
    pub fn new(cfg: NotifyConfig) -> Self {
        Self {
            cfg: Arc::new(cfg),
            http: reqwest::Client::builder()
                .timeout(StdDuration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Runs one delivery job.
    ///
    /// # Errors
    /// [`JobError::Retry`] after a failed attempt that may be retried; [`JobError::Permanent`] after the
    /// last one (the log row is then `FAILED`) or for a payload naming no log row.
    pub async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let p: Payload = ctx.payload()?;
        let clock = ctx.clock.as_ref();
        let Some(row) = log::Entity::find_by_id(p.log).one(&ctx.db).await? else {
            return Err(JobError::Permanent(anyhow::anyhow!(
                "notification log {} does not exist",
                p.log
            )));
        };
        if row.status != PENDING {
            // Already delivered, failed or skipped (a re-run after a crash): nothing to do.
            return Ok(());
        }
        let channel = Channel::parse(&row.channel).unwrap_or(Channel::Email);

        // The patient may have opted out after the message was queued.
        if let Some(pid) = row.patient_id
            && organizations::patient_contact(&ctx.db, pid)
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?
                .is_some_and(|c| c.opt_out)
        {
            let txn = ctx.begin().await?;
            let mut a = row.clone().into_active_model();
            a.status = Set(SKIPPED.into());
            a.reason = Set(OPTED_OUT.into());
            a.error = Set("The patient opted out before delivery.".into());
            a.updated_at = Set(clock.now());
            let m = a.update(&txn).await?;
            audit_outcome(&txn, clock, &m, "notification.skipped").await?;
            return ctx.complete(txn).await;
        }

        // A retry (or a message queued long ago) must not wake a patient at night either.
        if channel.is_phone()
            && let Some(until) = self.quiet_until(&ctx.db, &row, clock.now()).await?
        {
            let txn = ctx.begin().await?;
            let mut a = row.clone().into_active_model();
            a.scheduled_for = Set(until);
            a.updated_at = Set(clock.now());
            a.update(&txn).await?;
            jobs::enqueue(
                &txn,
                clock,
                NewJob::new(DELIVER_JOB, json!({ "log": row.id }))
                    .run_at(until)
                    .max_attempts(super::JOB_MAX_ATTEMPTS)
                    .dedupe(format!("notify:{}:{}", row.id, until.timestamp())),
            )
            .await?;
            return ctx.complete(txn).await;
        }

        let outcome = self.send_via_backend(&ctx.db, channel, &row).await;
        let now = clock.now();
        let attempts = row.attempts + 1;
        match outcome {
            Ok(sent) => {
                let txn = ctx.begin().await?;
                if channel == Channel::InApp
                    && let Some(user) = row.user_id
                {
                    insert_inbox(&txn, &row, user, now).await?;
                }
                let mut a = row.clone().into_active_model();
                a.status = Set(if sent.delivered { DELIVERED } else { SENT }.into());
                a.attempts = Set(attempts);
                a.max_attempts = Set(self.cfg.max_attempts);
                a.provider = Set(sent.provider.into());
                a.provider_message_id = Set(Some(sent.message_id));
                a.sent_at = Set(Some(now));
                if sent.delivered {
                    a.delivered_at = Set(Some(now));
                }
                a.updated_at = Set(now);
                let m = a.update(&txn).await?;
                audit_outcome(&txn, clock, &m, "notification.sent").await?;
                ctx.complete(txn).await
            }
            Err(e) => {
                let last = attempts >= self.cfg.max_attempts;
                let txn = ctx.begin().await?;
                let mut a = row.clone().into_active_model();
                a.attempts = Set(attempts);
                a.max_attempts = Set(self.cfg.max_attempts);
                a.error = Set(e.chars().take(2000).collect());
                a.updated_at = Set(now);
                if last {
                    a.status = Set(FAILED.into());
                    a.reason = Set(DELIVERY_ERROR.into());
                }
                let m = a.update(&txn).await?;
                if last {
                    audit_outcome(&txn, clock, &m, "notification.failed").await?;
                }
                txn.commit().await?;
                let err = anyhow::anyhow!("delivery attempt {attempts} failed: {e}");
                Err(if last {
                    JobError::Permanent(err)
                } else {
                    JobError::Retry(err)
                })
            }
        }
    }

    async fn quiet_until<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &log::Model,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, JobError> {
        let Some(h) = row.hospital_id else {
            return Ok(None);
        };
        let s = organizations::hospital_settings(conn, h)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
        Ok(s.timezone.parse::<chrono_tz::Tz>().ok().and_then(|tz| {
            super::quiet::quiet_until(now, tz, &s.quiet_hours_start, &s.quiet_hours_end)
        }))
    }

    async fn send_via_backend<C: ConnectionTrait>(
        &self,
        _conn: &C,
        channel: Channel,
        row: &log::Model,
    ) -> Result<Sent, String> {
        match channel {
            Channel::InApp => Ok(Sent {
                provider: "inbox",
                message_id: row.id.to_string(),
                delivered: true,
            }),
            Channel::Email => match &self.cfg.email {
                Backend::Console => Ok(console(row)),
                Backend::Real(c) => send_smtp(c, row).await,
            },
            Channel::Sms => match &self.cfg.sms {
                Backend::Console => Ok(console(row)),
                Backend::Real(c) => send_gateway(&self.http, c, row).await,
            },
            Channel::Whatsapp => match &self.cfg.whatsapp {
                Backend::Console => Ok(console(row)),
                Backend::Real(c) => send_gateway(&self.http, c, row).await,
            },
        }
    }
}

/// The console backend: the full message is already on the log row; it is also written to the
/// process log (target `notifications`) so a developer sees it.
fn console(row: &log::Model) -> Sent {
    tracing::info!(
        target: "notifications",
        log = %row.id,
        channel = %row.channel,
        to = %super::mask_recipient(&row.channel, &row.recipient),
        subject = %row.subject,
        body = %row.body,
        "message (console backend)"
    );
    Sent {
        provider: "console",
        message_id: format!("console-{}", row.id),
        delivered: false,
    }
}

async fn send_smtp(c: &SmtpConfig, row: &log::Model) -> Result<Sent, String> {
    let from: Mailbox = c
        .from
        .parse()
        .map_err(|e| format!("invalid sender address: {e}"))?;
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| format!("invalid recipient address: {e}"))?;
    let message_id = format!("<{}@px360>", row.id);
    let email = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(message_id.clone()))
        .header(ContentType::TEXT_PLAIN)
        .body(row.body.clone())
        .map_err(|e| format!("could not build the email: {e}"))?;
    let builder = match c.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
            .map_err(|e| format!("SMTP TLS setup failed: {e}"))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
            .map_err(|e| format!("SMTP TLS setup failed: {e}"))?,
    };
    let mut builder = builder
        .port(c.port)
        .timeout(Some(StdDuration::from_secs(c.timeout_secs)));
    if let (Some(u), Some(p)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.expose().clone()));
    }
    builder
        .build()
        .send(email)
        .await
        .map_err(|e| format!("SMTP: {e}"))?;
    Ok(Sent {
        provider: "smtp",
        message_id,
        delivered: false,
    })
}

/// Fills a gateway body template: JSON-escaped for a JSON content type, form-encoded otherwise.
pub fn gateway_body(template: &str, content_type: &str, to: &str, body: &str, id: &str) -> String {
    let json = content_type.contains("json");
    let esc = |v: &str| {
        if json {
            let s = serde_json::to_string(v).unwrap_or_default();
            s[1..s.len().saturating_sub(1).max(1)].to_string()
        } else {
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
        }
    };
    template
        .replace("{to}", &esc(to))
        .replace("{message_id}", &esc(id))
        .replace("{body}", &esc(body))
}

async fn send_gateway(
    http: &reqwest::Client,
    c: &GatewayConfig,
    row: &log::Model,
) -> Result<Sent, String> {
    let body = gateway_body(
        &c.body_template,
        &c.content_type,
        &row.recipient,
        &row.body,
        &row.id.to_string(),
    );
    let mut req = http
        .post(&c.url)
        .timeout(StdDuration::from_secs(c.timeout_secs))
        .header(reqwest::header::CONTENT_TYPE, &c.content_type)
        .body(body);
    if let Some(a) = &c.auth {
        req = req.header(reqwest::header::AUTHORIZATION, a.expose());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("gateway unreachable: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let snippet: String = text.chars().take(300).collect();
        return Err(format!(
            "gateway answered HTTP {}: {snippet}",
            status.as_u16()
        ));
    }
    let id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer(&c.id_pointer).map(|x| match x.as_str() {
                Some(s) => s.to_string(),
                None => x.to_string(),
            })
        })
        .unwrap_or_else(|| row.id.to_string());
    Ok(Sent {
        provider: "http",
        message_id: id,
        delivered: false,
    })
}

async fn insert_inbox<C: ConnectionTrait>(
    conn: &C,
    row: &log::Model,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    let title = if row.subject.trim().is_empty() {
        row.body.lines().next().unwrap_or_default().to_string()
    } else {
        row.subject.clone()
    };
    let link = console_link(row.related_type.as_deref(), row.related_id);
    let r = inbox::Entity::insert(inbox::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user),
        hospital_id: Set(row.hospital_id),
        log_id: Set(Some(row.id)),
        title: Set(title.chars().take(300).collect()),
        body: Set(row.body.clone()),
        link: Set(link),
        read_at: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(inbox::Column::LogId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let _ = r;
    Ok(())
}

/// The console page of the object a message is about, for the bell's links.
pub fn console_link(kind: Option<&str>, id: Option<Uuid>) -> String {
    match (kind, id) {
        (Some("action"), Some(id)) => format!("/actions/actions/{id}/"),
        (Some("complaint"), Some(id)) => format!("/complaints/complaints/{id}/"),
        (Some("survey_instance"), Some(id)) => format!("/surveys/instances/{id}/"),
        (Some("patient"), Some(id)) => format!("/organizations/patients/{id}/"),
        _ => String::new(),
    }
}

async fn audit_outcome<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    m: &log::Model,
    action: &str,
) -> Result<(), JobError> {
    audit::record(
        conn,
        clock,
        &Actor::system(),
        AuditEntry::new(action)
            .object("notification_log", m.id)
            .hospital(m.hospital_id)
            .details(json!({
                "channel": m.channel,
                "template": m.template_code,
                "status": m.status,
                "attempts": m.attempts,
                "reason": m.reason,
                "related_type": m.related_type,
                "related_id": m.related_id,
            })),
    )
    .await
    .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_bodies_escape_for_their_content_type() {
        let b = gateway_body(
            r#"{"to": "{to}", "text": "{body}"}"#,
            "application/json",
            "+966500000001",
            "سطر \"1\"\nline 2",
            "x",
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["text"], "سطر \"1\"\nline 2");
        let f = gateway_body(
            "to={to}&msg={body}",
            "application/x-www-form-urlencoded",
            "+966500000001",
            "a b&c",
            "x",
        );
        assert_eq!(f, "to=%2B966500000001&msg=a+b%26c");
    }
}
