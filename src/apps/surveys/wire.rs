//! Request and response bodies of the surveys API (SPEC.md "Wire formats"). Requests carry every field
//! as optional so one type serves POST, PUT and PATCH and every missing field is reported at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::validate::nullable;

use super::engine::{Branch, Choice};
use super::model::{instance, question, response, template};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TemplateIn {
    pub hospital: Option<Uuid>,
    pub name_en: Option<String>,
    pub name_ar: Option<String>,
    pub description: Option<String>,
    /// STAGE, RESOLUTION_SATISFACTION or GENERAL
    pub kind: Option<String>,
    /// AVERAGE, WEIGHTED or NPS
    pub scoring_method: Option<String>,
    /// 0–100; null uses the hospital's setting.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub negative_threshold: Option<Option<i64>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateOut {
    pub id: Uuid,
    pub hospital: Uuid,
    /// The id of the template's first version; every version shares it (read-only).
    pub family: Uuid,
    /// Editing a template that has instances creates a new version (read-only).
    pub version: i32,
    pub name_en: String,
    pub name_ar: String,
    pub description: String,
    pub kind: String,
    pub scoring_method: String,
    pub negative_threshold: Option<i32>,
    pub active: bool,
    /// The questions in order (read-only here; edit them under `questions/`).
    pub questions: Vec<QuestionOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TemplateOut {
    pub fn new(m: template::Model, questions: Vec<QuestionOut>) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            family: m.family_id,
            version: m.version,
            name_en: m.name_en,
            name_ar: m.name_ar,
            description: m.description,
            kind: m.kind,
            scoring_method: m.scoring_method,
            negative_threshold: m.negative_threshold,
            active: m.active,
            questions,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct QuestionIn {
    pub survey_template: Option<Uuid>,
    pub order: Option<i64>,
    /// RATING (1–5), NPS (0–10), LIKERT (1–5), YES_NO, SINGLE_CHOICE, MULTIPLE_CHOICE or TEXT
    pub question_type: Option<String>,
    pub text_en: Option<String>,
    pub text_ar: Option<String>,
    /// For SINGLE_CHOICE / MULTIPLE_CHOICE: `[{"value", "label_en", "label_ar", "score"}]`.
    pub choices: Option<Value>,
    pub required: Option<bool>,
    /// For WEIGHTED scoring; 0–100, default 1.
    pub weight: Option<f64>,
    /// `{"question": <earlier question id>, "op": "eq|ne|lt|lte|gt|gte|in|answered", "value": …}`;
    /// null shows the question always.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub branch: Option<Option<Value>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionOut {
    pub id: Uuid,
    pub survey_template: Uuid,
    pub hospital: Uuid,
    pub order: i32,
    pub question_type: String,
    pub text_en: String,
    pub text_ar: String,
    pub choices: Vec<Choice>,
    pub required: bool,
    pub weight: f64,
    #[schema(value_type = Option<Object>)]
    pub branch: Option<Branch>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<question::Model> for QuestionOut {
    fn from(m: question::Model) -> Self {
        Self {
            id: m.id,
            survey_template: m.survey_template_id,
            hospital: m.hospital_id,
            order: m.question_order,
            question_type: m.question_type,
            text_en: m.text_en,
            text_ar: m.text_ar,
            choices: serde_json::from_value(m.choices).unwrap_or_default(),
            required: m.required,
            weight: m.weight,
            branch: m.branch.and_then(|b| serde_json::from_value(b).ok()),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstanceOut {
    pub id: Uuid,
    pub survey_template: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub physician: Option<Uuid>,
    pub patient: Option<Uuid>,
    pub journey_instance: Option<Uuid>,
    pub stage_instance: Option<Uuid>,
    pub encounter_id: String,
    /// EMS, INPATIENT, OPD or DAY_CASE (copied from the journey).
    pub journey_type: String,
    /// The stage template's code (copied from the journey).
    pub stage_code: String,
    pub channel: String,
    /// Phone or e-mail the invitation goes to (masked for roles that may not see patients).
    pub recipient: String,
    pub language: String,
    /// PENDING, SENT, OPENED, COMPLETED, EXPIRED, CANCELLED or FAILED
    pub status: String,
    /// When the invitation is due to go out.
    pub scheduled_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub reminded_at: Option<DateTime<Utc>>,
    /// Invitations sent so far (first send, reminder and resends).
    pub send_count: i32,
    pub score: Option<f64>,
    pub is_negative: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<instance::Model> for InstanceOut {
    fn from(m: instance::Model) -> Self {
        Self {
            id: m.id,
            survey_template: m.survey_template_id,
            hospital: m.hospital_id,
            department: m.department_id,
            physician: m.physician_id,
            patient: m.patient_id,
            journey_instance: m.journey_instance_id,
            stage_instance: m.stage_instance_id,
            encounter_id: m.encounter_id,
            journey_type: m.journey_type,
            stage_code: m.stage_code,
            channel: m.channel,
            recipient: m.recipient,
            language: m.language,
            status: m.status,
            scheduled_at: m.scheduled_at,
            sent_at: m.sent_at,
            opened_at: m.opened_at,
            completed_at: m.completed_at,
            expires_at: m.expires_at,
            reminded_at: m.reminded_at,
            send_count: m.send_count,
            score: m.score,
            is_negative: m.is_negative,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseOut {
    pub id: Uuid,
    pub survey_instance: Uuid,
    pub question: Uuid,
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub physician: Option<Uuid>,
    #[schema(value_type = Object)]
    pub value: Value,
    pub text_value: String,
    pub score: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl From<response::Model> for ResponseOut {
    fn from(m: response::Model) -> Self {
        Self {
            id: m.id,
            survey_instance: m.survey_instance_id,
            question: m.question_id,
            hospital: m.hospital_id,
            department: m.department_id,
            physician: m.physician_id,
            value: m.value,
            text_value: m.text_value,
            score: m.score,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResendIn {
    /// Why the invitation is sent again (kept in the audit log).
    pub note: Option<String>,
}

/// What the patient's form needs: nothing about the patient beyond the language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicSurvey {
    pub status: String,
    /// The patient's language (`ar` or `en`), the form's default.
    pub language: String,
    pub title_en: String,
    pub title_ar: String,
    pub hospital_en: String,
    pub hospital_ar: String,
    pub expires_at: DateTime<Utc>,
    pub questions: Vec<PublicQuestion>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicQuestion {
    pub id: Uuid,
    pub order: i32,
    pub question_type: String,
    pub text_en: String,
    pub text_ar: String,
    pub required: bool,
    pub choices: Vec<Choice>,
    #[schema(value_type = Option<Object>)]
    pub branch: Option<Branch>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SubmitIn {
    /// Question id → answer (a number, `true`/`false`, a choice value, a list of choice values, or text).
    #[schema(value_type = Object)]
    pub answers: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmitOut {
    pub status: String,
}
