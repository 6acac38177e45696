//! Delivery: a completed stage creates its survey instance and schedules the invitation (SPEC rule 3,
//! idempotent: one instance per stage instance by a unique index); the `surveys.invite` job sends the
//! invitation, the reminder or a staff resend; the `surveys.sweep` schedule sends the one reminder to
//! non-responders and expires old links; `EncounterCancelled` cancels invitations not yet sent.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit;
use super::templates::current_version;
use crate::apps::journeys;
use crate::apps::notifications::{self, Channel, Outgoing, Recipient};
use crate::apps::organizations;
use crate::apps::surveys::model::{
    CANCELLED, EXPIRED, FAILED, OPENED, PENDING, SENT, instance, template,
};
use crate::apps::surveys::token;
use crate::platform::audit::Actor;
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::i18n::Lang;
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, NewJob};

/// The job that sends one invitation (first send, reminder or resend).
pub const INVITE_JOB: &str = "surveys.invite";
/// The scheduled sweep: reminders to non-responders and link expiry.
pub const SWEEP_JOB: &str = "surveys.sweep";

/// Which message an invitation job sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Send {
    Invitation,
    Reminder,
    Resend,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitePayload {
    pub survey_instance: Uuid,
    pub send: Send,
}

/// Enqueues an invitation job in the caller's transaction. `dedupe` keeps each send to one job.
///
/// # Errors
/// Database errors.
pub async fn enqueue_send<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    instance: Uuid,
    send: Send,
    at: DateTime<Utc>,
    dedupe: String,
) -> AppResult<bool> {
    let job = NewJob::new(
        INVITE_JOB,
        InvitePayload {
            survey_instance: instance,
            send,
        },
    )
    .run_at(at)
    .max_attempts(5)
    .dedupe(dedupe);
    Ok(jobs::enqueue(conn, clock, job).await?.is_some())
}

/// What to create: the survey of a stage, of a complaint's resolution, or a manual one.
#[derive(Debug, Clone)]
pub struct NewInstance {
    pub template: template::Model,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub physician: Option<Uuid>,
    pub patient: Option<Uuid>,
    pub journey_instance: Option<Uuid>,
    pub stage_instance: Option<Uuid>,
    pub encounter_id: String,
    pub journey_type: String,
    pub stage_code: String,
    /// When the invitation should go out.
    pub send_at: DateTime<Utc>,
}

/// Creates a survey instance and schedules its invitation, in the caller's transaction. The channel
/// is the hospital's default; the recipient and language come from the patient. A patient who opted
/// out gets a CANCELLED instance and no invitation.
///
/// # Errors
/// Database errors (a second instance for one stage instance violates a unique index).
pub async fn create_instance<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    secret: &str,
    actor: &Actor,
    n: NewInstance,
) -> AppResult<instance::Model> {
    let now = clock.now();
    let settings = organizations::hospital_settings(conn, n.hospital).await?;
    let contact = match n.patient {
        Some(p) => organizations::patient_contact(conn, p).await?,
        None => None,
    };
    let channel = settings.default_channel.clone();
    let recipient = contact
        .as_ref()
        .and_then(|c| {
            if channel == "EMAIL" {
                c.email.clone()
            } else {
                c.phone.clone()
            }
        })
        .unwrap_or_default();
    let opted_out = contact.as_ref().is_some_and(|c| c.opt_out);
    let id = new_id();
    let send_at = n.send_at.max(now);
    let validity = i64::from(settings.survey_link_validity_days.max(1));
    let m = instance::Model {
        id,
        survey_template_id: n.template.id,
        hospital_id: n.hospital,
        department_id: n.department,
        physician_id: n.physician,
        patient_id: n.patient,
        journey_instance_id: n.journey_instance,
        stage_instance_id: n.stage_instance,
        encounter_id: n.encounter_id,
        journey_type: n.journey_type,
        stage_code: n.stage_code,
        channel,
        recipient,
        language: contact.map_or_else(
            || "ar".to_string(),
            |c| {
                if c.preferred_language == "en" {
                    "en".into()
                } else {
                    "ar".into()
                }
            },
        ),
        token_hash: String::new(),
        status: if opted_out { CANCELLED } else { PENDING }.into(),
        scheduled_at: Some(send_at),
        sent_at: None,
        opened_at: None,
        completed_at: None,
        expires_at: send_at + Duration::days(validity),
        reminded_at: None,
        send_count: 0,
        score: None,
        is_negative: false,
        created_at: now,
        updated_at: now,
    };
    // The hash needs the id; the token itself is recomputed when a message is sent.
    let m = instance::Model {
        token_hash: token::hash(&token::for_instance(secret, id)),
        ..m
    };
    let saved = m.into_active_model().reset_all().insert(conn).await?;
    audit(
        conn,
        clock,
        actor,
        "survey_instance.created",
        saved.id,
        saved.hospital_id,
        json!({"survey_template": saved.survey_template_id, "stage_instance": saved.stage_instance_id,
               "status": saved.status, "scheduled_at": saved.scheduled_at}),
    )
    .await?;
    if !opted_out {
        enqueue_send(
            conn,
            clock,
            saved.id,
            Send::Invitation,
            send_at,
            format!("survey-invite:{}", saved.id),
        )
        .await?;
    }
    Ok(saved)
}

/// The `StageCompleted` subscriber: when the stage has auto-send and a survey template, create the
/// instance (at most one per stage instance) and schedule the invitation after the stage's delay.
/// Returns the new instance, or `None` when nothing was due or it already exists.
///
/// # Errors
/// Database errors (the job then retries).
pub async fn on_stage_completed<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    secret: &str,
    stage_instance: Uuid,
) -> AppResult<Option<instance::Model>> {
    let Some(s) = journeys::stage_survey(conn, stage_instance).await? else {
        return Ok(None);
    };
    let Some(bound) = s.survey_template else {
        return Ok(None);
    };
    if !s.auto_send_survey {
        return Ok(None);
    }
    let exists = instance::Entity::find()
        .filter(instance::Column::StageInstanceId.eq(stage_instance))
        .select_only()
        .column(instance::Column::Id)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let Some(t) = current_version(conn, bound).await? else {
        tracing::info!(%stage_instance, template = %bound, "stage survey template is inactive or deleted; no survey");
        return Ok(None);
    };
    if t.hospital_id != s.hospital {
        tracing::warn!(%stage_instance, "stage survey template belongs to another hospital; no survey");
        return Ok(None);
    }
    let completed = s.completed_at.unwrap_or_else(|| clock.now());
    let n = NewInstance {
        template: t,
        hospital: s.hospital,
        department: s.department,
        physician: s.physician,
        patient: Some(s.patient),
        journey_instance: Some(s.journey_instance),
        stage_instance: Some(s.stage_instance),
        encounter_id: s.encounter_id,
        journey_type: s.journey_type,
        stage_code: s.stage_code,
        send_at: completed + Duration::hours(i64::from(s.survey_delay_hours)),
    };
    Ok(Some(
        create_instance(conn, clock, secret, &Actor::system(), n).await?,
    ))
}

/// What one invitation job sent.
pub struct Sent {
    pub instance: instance::Model,
    /// The NotificationLog row of the message.
    pub notification_log: Uuid,
    pub send: Send,
}

/// Runs one invitation job: skips instances that can no longer be answered (and expires the overdue
/// ones), fails those without a recipient, otherwise sends the message through notifications (in the
/// caller's transaction) and records the send; a message notifications refuses (opted out, no
/// address, channel off) marks a first invitation FAILED. Returns what was sent, if anything.
///
/// # Errors
/// Database errors.
pub async fn run_send<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    secret: &str,
    public_url: &str,
    p: &InvitePayload,
) -> AppResult<Option<Sent>> {
    let now = clock.now();
    let Some(m) = instance::Entity::find_by_id(p.survey_instance)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let allowed: &[&str] = match p.send {
        Send::Invitation => &[PENDING],
        Send::Reminder => &[SENT, OPENED],
        Send::Resend => &[PENDING, SENT, OPENED, FAILED],
    };
    if !allowed.contains(&m.status.as_str()) {
        return Ok(None);
    }
    if m.expires_at <= now {
        set_status(conn, clock, &m, EXPIRED, "survey_instance.expired").await?;
        return Ok(None);
    }
    if p.send == Send::Reminder && m.reminded_at.is_some() {
        return Ok(None);
    }
    if m.recipient.trim().is_empty() {
        set_status(conn, clock, &m, FAILED, "survey_instance.failed").await?;
        return Ok(None);
    }
    let link = format!(
        "{}/s/{}",
        public_url.trim_end_matches('/'),
        token::for_instance(secret, m.id)
    );
    // The one send interface, in this job's transaction: the NotificationLog row and its delivery
    // job exist exactly when this send is recorded (quiet hours and opt-out are applied there).
    let template = match p.send {
        Send::Reminder => "survey_reminder",
        Send::Invitation | Send::Resend => "survey_invitation",
    };
    let recipient = match m.patient_id {
        Some(patient) => Recipient::Patient(patient),
        None => Recipient::Address(m.recipient.clone()),
    };
    let mut msg = Outgoing::new(template, recipient)
        .hospital(m.hospital_id)
        .var("survey_link", link.clone())
        .related("survey_instance", m.id)
        .language(if m.language == "en" {
            Lang::En
        } else {
            Lang::Ar
        });
    if let Some(c) = Channel::parse(&m.channel) {
        msg = msg.channel(c);
    }
    let queued = notifications::send(conn, clock, msg).await?;
    let action = match p.send {
        Send::Invitation => "survey_instance.sent",
        Send::Reminder => "survey_instance.reminded",
        Send::Resend => "survey_instance.resent",
    };
    let mut am = m.clone().into_active_model();
    am.updated_at = sea_orm::Set(now);
    if p.send == Send::Reminder {
        // One reminder only, whether or not the message could go out.
        am.reminded_at = sea_orm::Set(Some(now));
    }
    if queued.is_suppressed() {
        if m.status == PENDING {
            am.status = sea_orm::Set(FAILED.into());
        }
        let saved = am.update(conn).await?;
        audit(
            conn,
            clock,
            &Actor::system(),
            "survey_instance.failed",
            saved.id,
            saved.hospital_id,
            json!({"send": p.send, "notification_log": queued.log_id, "reason": queued.reason}),
        )
        .await?;
        return Ok(None);
    }
    if m.status == PENDING || m.status == FAILED {
        am.status = sea_orm::Set(SENT.into());
    }
    if m.sent_at.is_none() {
        am.sent_at = sea_orm::Set(Some(now));
    }
    am.send_count = sea_orm::Set(m.send_count + 1);
    let saved = am.update(conn).await?;
    audit(
        conn,
        clock,
        &Actor::system(),
        action,
        saved.id,
        saved.hospital_id,
        json!({"channel": saved.channel, "send_count": saved.send_count, "notification_log": queued.log_id}),
    )
    .await?;
    Ok(Some(Sent {
        instance: saved,
        notification_log: queued.log_id,
        send: p.send,
    }))
}

async fn set_status<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    m: &instance::Model,
    status: &str,
    action: &str,
) -> AppResult<()> {
    let mut am = m.clone().into_active_model();
    am.status = sea_orm::Set(status.into());
    am.updated_at = sea_orm::Set(clock.now());
    am.update(conn).await?;
    audit(
        conn,
        clock,
        &Actor::system(),
        action,
        m.id,
        m.hospital_id,
        json!({"from": m.status}),
    )
    .await
}

/// The scheduled sweep: expires links past their date, and enqueues the one reminder for every
/// instance sent at least the hospital's `reminder_after_days` ago and still unanswered (0 = off).
/// Returns (expired, reminders enqueued).
///
/// # Errors
/// Database errors.
pub async fn sweep<C: ConnectionTrait>(conn: &C, clock: &dyn Clock) -> AppResult<(u64, u64)> {
    let now = clock.now();
    let expired = instance::Entity::update_many()
        .col_expr(instance::Column::Status, Expr::value(EXPIRED))
        .col_expr(instance::Column::UpdatedAt, Expr::value(now))
        .filter(instance::Column::Status.is_in([PENDING, SENT, OPENED, FAILED]))
        .filter(instance::Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?
        .rows_affected;
    let candidates = instance::Entity::find()
        .filter(instance::Column::Status.is_in([SENT, OPENED]))
        .filter(instance::Column::RemindedAt.is_null())
        .filter(instance::Column::SentAt.lte(now - Duration::days(1)))
        .limit(5000)
        .all(conn)
        .await?;
    let mut settings = std::collections::HashMap::new();
    let mut reminded = 0;
    for m in candidates {
        if let std::collections::hash_map::Entry::Vacant(e) = settings.entry(m.hospital_id) {
            let s = organizations::hospital_settings(conn, m.hospital_id).await?;
            e.insert(s.reminder_after_days);
        }
        let days = settings.get(&m.hospital_id).copied().unwrap_or(0);
        let Some(sent) = m.sent_at else { continue };
        if days <= 0 || sent + Duration::days(i64::from(days)) > now {
            continue;
        }
        if enqueue_send(
            conn,
            clock,
            m.id,
            Send::Reminder,
            now,
            format!("survey-remind:{}", m.id),
        )
        .await?
        {
            reminded += 1;
        }
    }
    Ok((expired, reminded))
}

/// The `EncounterCancelled` subscriber: invitations of the encounter not yet sent are cancelled.
/// Returns how many.
///
/// # Errors
/// Database errors.
pub async fn on_encounter_cancelled<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    hospital: Uuid,
    encounter_id: &str,
    journey_instance: Option<Uuid>,
) -> AppResult<u64> {
    let mut q = instance::Entity::find()
        .filter(instance::Column::HospitalId.eq(hospital))
        .filter(instance::Column::Status.eq(PENDING));
    q = match journey_instance {
        Some(j) => q.filter(
            sea_orm::Condition::any()
                .add(instance::Column::JourneyInstanceId.eq(j))
                .add(instance::Column::EncounterId.eq(encounter_id)),
        ),
        None => q.filter(instance::Column::EncounterId.eq(encounter_id)),
    };
    let rows = q.all(conn).await?;
    let n = rows.len() as u64;
    for m in rows {
        set_status(conn, clock, &m, CANCELLED, "survey_instance.cancelled").await?;
    }
    Ok(n)
}
