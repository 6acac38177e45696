//! The one send interface and its rules (SPEC "notifications"). [`send`] runs inside the caller's
//! transaction: it resolves channel, recipient and language, honours the patient's opt-out, renders the
//! bilingual template, writes the NotificationLog row (`PENDING`) and enqueues a
//! `notifications.deliver` job (deferred past quiet hours for SMS and WhatsApp). A caller that rolls
//! back therefore sends nothing. Delivery, retries and the backends live in [`deliver`].

pub mod defaults;
pub mod deliver;
pub mod inbox;
pub mod logs;
pub mod optout;
pub mod quiet;
pub mod render;
pub mod segments;
pub mod templates;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::model::{log, template};
use crate::apps::{accounts, organizations};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::error::AppError;
use crate::platform::i18n::{self, Lang};
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, NewJob};

pub use segments::{SmsEncoding, SmsSegments, sms_segments};

/// The job that delivers one log row.
pub const DELIVER_JOB: &str = "notifications.deliver";

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";
/// Deliberately not sent (opted out, channel disabled, no address); `reason` says why.
pub const SKIPPED: &str = "SKIPPED";
pub const STATUSES: &[&str] = &[PENDING, SENT, DELIVERED, FAILED, SKIPPED];

/// Reasons on `SKIPPED` / `FAILED` rows.
pub const OPTED_OUT: &str = "OPTED_OUT";
pub const CHANNEL_DISABLED: &str = "CHANNEL_DISABLED";
pub const NO_ADDRESS: &str = "NO_ADDRESS";
pub const NO_TEMPLATE: &str = "NO_TEMPLATE";
pub const UNKNOWN_RECIPIENT: &str = "UNKNOWN_RECIPIENT";
pub const DELIVERY_ERROR: &str = "DELIVERY_ERROR";

/// Upper bound of delivery attempts on the job row; the configured maximum
/// (`PX360_NOTIFY_MAX_ATTEMPTS`, at most 20) decides when a message is FAILED.
pub(crate) const JOB_MAX_ATTEMPTS: i32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Sms,
    Whatsapp,
    Email,
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Email,
        Channel::InApp,
    ];
    pub const CODES: &'static [&'static str] = &["SMS", "WHATSAPP", "EMAIL", "IN_APP"];

    pub fn code(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Whatsapp => "WHATSAPP",
            Channel::Email => "EMAIL",
            Channel::InApp => "IN_APP",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        Self::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code.trim()))
    }

    /// SMS and WhatsApp wake phones: they respect quiet hours.
    pub fn is_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Whatsapp)
    }
}

/// Who gets the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A patient: phone or email from the patient record; honours the patient's opt-out.
    Patient(Uuid),
    /// A staff user: email, phone, or the in-app inbox.
    User(Uuid),
    /// A bare address: an email (contains `@`) or an E.164 phone number.
    Address(String),
}

/// One message to send. Build with [`Outgoing::new`] and the setters.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `None`: the patient's hospital for patients, none otherwise.
    pub hospital: Option<Uuid>,
    /// `None`: the hospital's default channel (patients), EMAIL otherwise (IN_APP is never a default).
    pub channel: Option<Channel>,
    pub recipient: Recipient,
    /// Template code, e.g. `survey_invitation`.
    pub template: String,
    /// Variables for the template (see `render::VARIABLES`).
    pub context: BTreeMap<String, String>,
    /// `None`: the recipient's preferred language (English when unknown).
    pub language: Option<Lang>,
    /// The object the message is about, e.g. `("survey_instance", id)`; filterable in the log.
    pub related: Option<(String, Uuid)>,
    /// Deliver no earlier than this (quiet hours are applied at this time).
    pub not_before: Option<DateTime<Utc>>,
}

impl Outgoing {
    pub fn new(template: impl Into<String>, recipient: Recipient) -> Self {
        Self {
            hospital: None,
            channel: None,
            recipient,
            template: template.into(),
            context: BTreeMap::new(),
            language: None,
            related: None,
            not_before: None,
        }
    }

    pub fn hospital(mut self, h: Uuid) -> Self {
        self.hospital = Some(h);
        self
    }

    pub fn channel(mut self, c: Channel) -> Self {
        self.channel = Some(c);
        self
    }

    pub fn var(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.context.insert(k.into(), v.into());
        self
    }

    pub fn language(mut self, l: Lang) -> Self {
        self.language = Some(l);
        self
    }

    pub fn related(mut self, kind: impl Into<String>, id: Uuid) -> Self {
        self.related = Some((kind.into(), id));
        self
    }

    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.not_before = Some(at);
        self
    }
}

/// What [`send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The NotificationLog row (written in every case).
    pub log_id: Uuid,
    /// `PENDING` (a delivery job is queued), `SKIPPED` or `FAILED` (nothing will be sent).
    pub status: &'static str,
    /// When delivery is due, for `PENDING`.
    pub run_at: Option<DateTime<Utc>>,
    /// Why nothing will be sent (`OPTED_OUT`, `CHANNEL_DISABLED`, `NO_ADDRESS`, …).
    pub reason: Option<&'static str>,
}

impl Queued {
    /// Whether the message will not be sent (opted out, disabled channel, no address, …).
    pub fn is_suppressed(&self) -> bool {
        self.status != PENDING
    }
}

static PUBLIC_URL: OnceLock<String> = OnceLock::new();

/// Sets the public base URL used in opt-out links (once per process, at start-up).
pub fn set_public_url(url: &str) {
    let _ = PUBLIC_URL.set(url.trim_end_matches('/').to_string());
}

pub(crate) fn public_url() -> &'static str {
    PUBLIC_URL
        .get()
        .map(String::as_str)
        .unwrap_or("http://127.0.0.1:8000")
}

/// The resolved recipient.
struct Target {
    patient: Option<Uuid>,
    user: Option<Uuid>,
    hospital: Option<Uuid>,
    phone: Option<String>,
    email: Option<String>,
    name_en: String,
    name_ar: String,
    language: Option<Lang>,
    opted_out: bool,
}

/// Queues one message in the caller's transaction (see the module documentation).
///
/// Every call writes a NotificationLog row. A message that will not be sent — the patient opted out,
/// the channel is disabled for the hospital, the recipient has no address for the channel — is logged
/// `SKIPPED` with the reason; an unknown recipient or template is logged `FAILED`. Neither is an error:
/// the caller's own work (creating a survey instance, escalating an action) goes on.
///
/// # Errors
/// Database errors only; the caller should roll back.
pub async fn send<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    msg: Outgoing,
) -> Result<Queued, AppError> {
    let now = clock.now();
    let target = resolve(conn, &msg.recipient).await?;
    let hospital = msg.hospital.or(target.as_ref().and_then(|t| t.hospital));
    let settings = match hospital {
        Some(h) => Some(organizations::hospital_settings(conn, h).await?),
        None => None,
    };
    let is_patient = matches!(msg.recipient, Recipient::Patient(_));
    let channel = msg
        .channel
        .unwrap_or_else(|| match (&settings, is_patient, &msg.recipient) {
            (Some(s), true, _) => Channel::parse(&s.default_channel).unwrap_or(Channel::Sms),
            (_, _, Recipient::Address(a)) if !a.contains('@') => Channel::Sms,
            _ => Channel::Email,
        });
    let language = msg
        .language
        .or(target.as_ref().and_then(|t| t.language))
        .unwrap_or(Lang::En);

    let mut row = log::ActiveModel {
        id: Set(new_id()),
        hospital_id: Set(hospital),
        channel: Set(channel.code().into()),
        template_code: Set(msg.template.clone()),
        language: Set(language.code().into()),
        recipient_type: Set(match msg.recipient {
            Recipient::Patient(_) => "PATIENT",
            Recipient::User(_) => "USER",
            Recipient::Address(_) => "ADDRESS",
        }
        .into()),
        patient_id: Set(target.as_ref().and_then(|t| t.patient)),
        user_id: Set(target.as_ref().and_then(|t| t.user)),
        recipient: Set(String::new()),
        subject: Set(String::new()),
        body: Set(String::new()),
        status: Set(PENDING.into()),
        reason: Set(String::new()),
        attempts: Set(0),
        max_attempts: Set(0),
        provider: Set(String::new()),
        provider_message_id: Set(None),
        error: Set(String::new()),
        related_type: Set(msg.related.as_ref().map(|r| r.0.clone())),
        related_id: Set(msg.related.as_ref().map(|r| r.1)),
        scheduled_for: Set(msg.not_before.unwrap_or(now).max(now)),
        sent_at: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let log_id = *row.id.as_ref();

    let Some(target) = target else {
        return finish_unsent(
            conn,
            clock,
            row,
            FAILED,
            UNKNOWN_RECIPIENT,
            "The recipient does not exist or is inactive.",
        )
        .await;
    };
    let address = match channel {
        Channel::Sms | Channel::Whatsapp => target.phone.clone(),
        Channel::Email => target.email.clone(),
        Channel::InApp => target.user.map(|u| u.to_string()),
    };
    row.recipient = Set(address.clone().unwrap_or_default());
    if target.opted_out {
        return finish_unsent(
            conn,
            clock,
            row,
            SKIPPED,
            OPTED_OUT,
            "The patient opted out of messages.",
        )
        .await;
    }
    if let (Some(s), true) = (&settings, is_patient)
        && !s.enabled_channels.iter().any(|c| c == channel.code())
    {
        return finish_unsent(
            conn,
            clock,
            row,
            SKIPPED,
            CHANNEL_DISABLED,
            &format!("{} is not enabled for this hospital.", channel.code()),
        )
        .await;
    }
    if address.is_none() {
        return finish_unsent(
            conn,
            clock,
            row,
            SKIPPED,
            NO_ADDRESS,
            &format!("The recipient has no address for {}.", channel.code()),
        )
        .await;
    }
    let Some(tpl) = find_template(conn, &msg.template, hospital, channel).await? else {
        return finish_unsent(
            conn,
            clock,
            row,
            FAILED,
            NO_TEMPLATE,
            &format!(
                "No active template \"{}\" for {}.",
                msg.template,
                channel.code()
            ),
        )
        .await;
    };

    // The context: what the caller gave, plus what we know. The caller's values win, except the
    // opt-out link, which is always ours.
    let mut ctx = msg.context.clone();
    let name = match language {
        Lang::Ar if !target.name_ar.is_empty() => target.name_ar.clone(),
        _ => target.name_en.clone(),
    };
    if is_patient {
        ctx.entry("patient_name".into())
            .or_insert_with(|| name.clone());
    }
    ctx.entry("recipient_name".into()).or_insert(name);
    if let Some(h) = hospital
        && !ctx.contains_key("hospital_name")
        && let Some((en, ar)) = organizations::hospital_names(conn, h).await?
    {
        ctx.insert(
            "hospital_name".into(),
            if language == Lang::Ar && !ar.is_empty() {
                ar
            } else {
                en
            },
        );
    }
    let wants_opt_out = is_patient && channel != Channel::InApp;
    if wants_opt_out && let Some(p) = target.patient {
        let link = optout::issue(conn, clock, p, hospital, log_id).await?;
        ctx.insert("opt_out_link".into(), link);
    }

    let (subject_src, body_src) = match language {
        Lang::Ar if !tpl.body_ar.trim().is_empty() => (&tpl.subject_ar, &tpl.body_ar),
        _ => (&tpl.subject_en, &tpl.body_en),
    };
    let (subject, _) = render::render(subject_src, &ctx);
    let (mut body, missing) = render::render(body_src, &ctx);
    if wants_opt_out
        && !body_src.contains("{opt_out_link}")
        && let Some(link) = ctx.get("opt_out_link")
    {
        body.push('\n');
        body.push_str(&i18n::tf(
            language,
            "notify.opt_out_line",
            &[("link", link)],
        ));
    }
    let mut run_at = msg.not_before.unwrap_or(now).max(now);
    if channel.is_phone()
        && let Some(s) = &settings
        && let Ok(tz) = s.timezone.parse::<chrono_tz::Tz>()
        && let Some(until) =
            quiet::quiet_until(run_at, tz, &s.quiet_hours_start, &s.quiet_hours_end)
    {
        run_at = until;
    }
    row.subject = Set(subject);
    row.body = Set(body);
    row.scheduled_for = Set(run_at);
    if !missing.is_empty() {
        // Not fatal: the message still goes; the log shows what the caller forgot.
        row.error = Set(format!(
            "Missing variables rendered empty: {}",
            missing.join(", ")
        ));
    }
    row.insert(conn).await?;
    jobs::enqueue(
        conn,
        clock,
        NewJob::new(DELIVER_JOB, json!({ "log": log_id }))
            .run_at(run_at)
            .max_attempts(JOB_MAX_ATTEMPTS)
            .dedupe(format!("notify:{log_id}")),
    )
    .await?;
    Ok(Queued {
        log_id,
        status: PENDING,
        run_at: Some(run_at),
        reason: None,
    })
}

/// Writes a row that will not be sent, audits it and reports it.
async fn finish_unsent<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    mut row: log::ActiveModel,
    status: &'static str,
    reason: &'static str,
    message: &str,
) -> Result<Queued, AppError> {
    row.status = Set(status.into());
    row.reason = Set(reason.into());
    row.error = Set(message.into());
    let m = row.insert(conn).await?;
    audit::record(
        conn,
        clock,
        &Actor::system(),
        AuditEntry::new(if status == SKIPPED {
            "notification.skipped"
        } else {
            "notification.failed"
        })
        .object("notification_log", m.id)
        .hospital(m.hospital_id)
        .details(json!({"channel": m.channel, "template": m.template_code, "reason": reason})),
    )
    .await?;
    Ok(Queued {
        log_id: m.id,
        status,
        run_at: None,
        reason: Some(reason),
    })
}

async fn resolve<C: ConnectionTrait>(conn: &C, r: &Recipient) -> Result<Option<Target>, AppError> {
    Ok(match r {
        Recipient::Patient(id) => {
            organizations::patient_contact(conn, *id)
                .await?
                .map(|p| Target {
                    patient: Some(p.id),
                    user: None,
                    hospital: Some(p.hospital),
                    phone: p.phone,
                    email: p.email,
                    name_en: p.name_en,
                    name_ar: p.name_ar,
                    language: Lang::parse(&p.preferred_language),
                    opted_out: p.opt_out,
                })
        }
        Recipient::User(id) => accounts::user_contact(conn, *id).await?.map(|u| Target {
            patient: None,
            user: Some(u.id),
            hospital: None,
            phone: u.phone,
            email: Some(u.email),
            name_en: u.name_en,
            name_ar: u.name_ar,
            language: Lang::parse(&u.preferred_language),
            opted_out: false,
        }),
        Recipient::Address(a) => {
            let a = a.trim().to_string();
            let email = a.contains('@');
            Some(Target {
                patient: None,
                user: None,
                hospital: None,
                phone: (!email && !a.is_empty()).then(|| a.clone()),
                email: email.then_some(a),
                name_en: String::new(),
                name_ar: String::new(),
                language: None,
                opted_out: false,
            })
        }
    })
}

/// The most specific live, active template: hospital + channel, hospital, global + channel, global.
///
/// # Errors
/// Database errors.
pub async fn find_template<C: ConnectionTrait>(
    conn: &C,
    code: &str,
    hospital: Option<Uuid>,
    channel: Channel,
) -> Result<Option<template::Model>, AppError> {
    let mut hosp = Condition::any().add(template::Column::HospitalId.is_null());
    if let Some(h) = hospital {
        hosp = hosp.add(template::Column::HospitalId.eq(h));
    }
    let rows = template::Entity::find()
        .filter(template::Column::Code.eq(code))
        .filter(template::Column::DeletedAt.is_null())
        .filter(template::Column::Active.eq(true))
        .filter(hosp)
        .filter(
            Condition::any()
                .add(template::Column::Channel.is_null())
                .add(template::Column::Channel.eq(channel.code())),
        )
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .max_by_key(|t| (t.hospital_id.is_some(), t.channel.is_some(), t.updated_at)))
}

/// Masks an address for lists: `+9665•••••12`, `a•••@x.sa`; an in-app user id is shown as is.
pub fn mask_recipient(channel: &str, r: &str) -> String {
    if channel == "IN_APP" || r.is_empty() {
        return r.to_string();
    }
    if let Some((local, domain)) = r.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    let chars: Vec<char> = r.chars().collect();
    if chars.len() <= 7 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_masked_as_agreed() {
        assert_eq!(mask_recipient("SMS", "+966512345612"), "+9665••••••12");
        assert_eq!(mask_recipient("EMAIL", "ahmed@x.sa"), "a•••@x.sa");
        assert_eq!(mask_recipient("SMS", "12345"), "•••••");
        let u = "0193a1b0-0000-7000-8000-000000000001";
        assert_eq!(mask_recipient("IN_APP", u), u);
    }

    #[test]
    fn channels_round_trip_their_wire_codes() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.code()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.code()));
        }
        assert_eq!(Channel::parse("whatsapp"), Some(Channel::Whatsapp));
        assert_eq!(Channel::parse("FAX"), None);
    }
}
