//! Request and response bodies of `/api/notifications/`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{inbox, log, template};
use super::service::mask_recipient;

/// One NotificationLog row. The recipient is always masked (`+9665•••••12`, `a•••@x.sa`); `body` (the
/// full rendered message) is in the detail only.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogOut {
    pub id: Uuid,
    pub hospital: Option<Uuid>,
    /// SMS, WHATSAPP, EMAIL or IN_APP
    pub channel: String,
    pub template_code: String,
    pub language: String,
    /// PATIENT, USER or ADDRESS
    pub recipient_type: String,
    pub patient: Option<Uuid>,
    pub user: Option<Uuid>,
    pub recipient: String,
    pub subject: String,
    /// PENDING, SENT, DELIVERED, FAILED or SKIPPED
    pub status: String,
    /// OPTED_OUT, CHANNEL_DISABLED, NO_ADDRESS, NO_TEMPLATE, UNKNOWN_RECIPIENT, DELIVERY_ERROR or empty
    pub reason: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub error: String,
    pub related_type: Option<String>,
    pub related_id: Option<Uuid>,
    pub scheduled_for: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl LogOut {
    pub fn new(m: log::Model, with_body: bool) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            recipient: mask_recipient(&m.channel, &m.recipient),
            channel: m.channel,
            template_code: m.template_code,
            language: m.language,
            recipient_type: m.recipient_type,
            patient: m.patient_id,
            user: m.user_id,
            subject: m.subject,
            status: m.status,
            reason: m.reason,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            provider: m.provider,
            provider_message_id: m.provider_message_id,
            error: m.error,
            related_type: m.related_type,
            related_id: m.related_id,
            scheduled_for: m.scheduled_for,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            body: with_body.then_some(m.body),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TemplateIn {
    /// lower_snake code, e.g. `survey_invitation`
    pub code: Option<String>,
    /// Omit or null for a global template (PX admins only).
    pub hospital: Option<Uuid>,
    /// SMS, WHATSAPP, EMAIL, IN_APP, or null for every channel
    pub channel: Option<String>,
    pub description: Option<String>,
    pub subject_en: Option<String>,
    pub subject_ar: Option<String>,
    pub body_en: Option<String>,
    pub body_ar: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    pub id: Uuid,
    pub code: String,
    pub hospital: Option<Uuid>,
    pub channel: Option<String>,
    pub description: String,
    pub subject_en: String,
    pub subject_ar: String,
    pub body_en: String,
    pub body_ar: String,
    pub active: bool,
    /// The variables the bodies and subjects use.
    pub variables: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<template::Model> for TemplateOut {
    fn from(m: template::Model) -> Self {
        let mut vars = std::collections::BTreeSet::new();
        for t in [&m.subject_en, &m.subject_ar, &m.body_en, &m.body_ar] {
            if let Ok(v) = super::service::render::variables(t) {
                vars.extend(v);
            }
        }
        Self {
            id: m.id,
            code: m.code,
            hospital: m.hospital_id,
            channel: m.channel,
            description: m.description,
            subject_en: m.subject_en,
            subject_ar: m.subject_ar,
            body_en: m.body_en,
            body_ar: m.body_ar,
            active: m.active,
            variables: vars.into_iter().collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxOut {
    pub id: Uuid,
    pub hospital: Option<Uuid>,
    pub title: String,
    pub body: String,
    /// A console path, or empty.
    pub link: String,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<inbox::Model> for InboxOut {
    fn from(m: inbox::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            title: m.title,
            body: m.body,
            link: m.link,
            read: m.read_at.is_some(),
            read_at: m.read_at,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadOut {
    pub unread: u64,
}

/// An inbound gateway webhook: a patient's reply (`from` + `text`) or a delivery receipt
/// (`message_id` + `status`). Several field spellings are accepted so common gateways need no adapter.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InboundIn {
    #[serde(alias = "sender", alias = "msisdn", alias = "From")]
    pub from: Option<String>,
    #[serde(alias = "body", alias = "message", alias = "Body")]
    pub text: Option<String>,
    #[serde(alias = "id", alias = "reference")]
    pub message_id: Option<String>,
    /// DELIVERED or FAILED (lower case accepted)
    pub status: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundOut {
    /// STOP (patients opted out), RECEIPT (a log row updated) or IGNORED
    pub result: String,
    pub opted_out: usize,
    pub updated: usize,
}
