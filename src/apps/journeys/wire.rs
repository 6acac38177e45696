//! Request and response bodies of the journeys API (SPEC.md "Wire formats"). Requests carry every field
//! as optional so one type serves POST, PUT and PATCH and every missing field is reported at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::validate::nullable;

use super::model::{instance, stage_instance, stage_template, template};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TemplateIn {
    pub hospital: Option<Uuid>,
    /// EMS, INPATIENT, OPD or DAY_CASE
    pub journey_type: Option<String>,
    pub name_en: Option<String>,
    pub name_ar: Option<String>,
    pub description: Option<String>,
    /// At most one active template per hospital and journey type.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub journey_type: String,
    pub name_en: String,
    pub name_ar: String,
    pub description: String,
    /// Numbered per hospital and journey type, from 1 (read-only).
    pub version: i32,
    pub active: bool,
    /// The template's stages in order (read-only; edit them under `stage-templates/`).
    pub stages: Vec<StageTemplateOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TemplateOut {
    pub fn new(m: template::Model, stages: Vec<StageTemplateOut>) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            journey_type: m.journey_type,
            name_en: m.name_en,
            name_ar: m.name_ar,
            description: m.description,
            version: m.version,
            active: m.active,
            stages,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StageTemplateIn {
    pub journey_template: Option<Uuid>,
    pub code: Option<String>,
    pub name_en: Option<String>,
    pub name_ar: Option<String>,
    pub order: Option<i64>,
    /// The (mapped) inbound event code that completes this stage, e.g. `OPD_VISIT_COMPLETED`.
    pub trigger_event_code: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub survey_template: Option<Option<Uuid>>,
    pub auto_send_survey: Option<bool>,
    /// 0 to 72.
    pub survey_delay_hours: Option<i64>,
    pub requires_physician: Option<bool>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageTemplateOut {
    pub id: Uuid,
    pub journey_template: Uuid,
    pub hospital: Uuid,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub order: i32,
    pub trigger_event_code: String,
    pub survey_template: Option<Uuid>,
    pub auto_send_survey: bool,
    pub survey_delay_hours: i32,
    pub requires_physician: bool,
    pub optional: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<stage_template::Model> for StageTemplateOut {
    fn from(m: stage_template::Model) -> Self {
        Self {
            id: m.id,
            journey_template: m.journey_template_id,
            hospital: m.hospital_id,
            code: m.code,
            name_en: m.name_en,
            name_ar: m.name_ar,
            order: m.stage_order,
            trigger_event_code: m.trigger_event_code,
            survey_template: m.survey_template_id,
            auto_send_survey: m.auto_send_survey,
            survey_delay_hours: m.survey_delay_hours,
            requires_physician: m.requires_physician,
            optional: m.optional,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InstanceIn {
    /// The template to follow; or give `hospital` and `journey_type` to use that hospital's active one.
    pub journey_template: Option<Uuid>,
    pub hospital: Option<Uuid>,
    pub journey_type: Option<String>,
    pub patient: Option<Uuid>,
    pub encounter_id: Option<String>,
    /// On update only: ACTIVE, COMPLETED or CANCELLED.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub journey_template: Uuid,
    pub journey_type: String,
    pub patient: Uuid,
    pub encounter_id: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub stages: Vec<StageInstanceOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InstanceOut {
    pub fn new(m: instance::Model, journey_type: String, stages: Vec<StageInstanceOut>) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            journey_template: m.journey_template_id,
            journey_type,
            patient: m.patient_id,
            encounter_id: m.encounter_id,
            status: m.status,
            started_at: m.started_at,
            completed_at: m.completed_at,
            stages,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StageInstanceIn {
    /// PENDING, IN_PROGRESS, COMPLETED or SKIPPED
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub physician: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department: Option<Option<Uuid>>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageInstanceOut {
    pub id: Uuid,
    pub journey_instance: Uuid,
    pub stage_template: Uuid,
    pub hospital: Uuid,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub order: i32,
    pub trigger_event_code: String,
    pub optional: bool,
    pub status: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub physician: Option<Uuid>,
    pub department: Option<Uuid>,
    /// The inbound event that completed the stage, if an event did.
    pub inbound_event: Option<Uuid>,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StageInstanceOut {
    pub fn new(m: stage_instance::Model, t: &stage_template::Model) -> Self {
        Self {
            id: m.id,
            journey_instance: m.journey_instance_id,
            stage_template: m.stage_template_id,
            hospital: m.hospital_id,
            code: t.code.clone(),
            name_en: t.name_en.clone(),
            name_ar: t.name_ar.clone(),
            order: m.stage_order,
            trigger_event_code: t.trigger_event_code.clone(),
            optional: t.optional,
            status: m.status,
            completed_at: m.completed_at,
            physician: m.physician_id,
            department: m.department_id,
            inbound_event: m.inbound_event_id,
            note: m.note,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// How far an encounter has come.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressOut {
    pub journey_instance: Uuid,
    pub encounter_id: String,
    pub journey_type: String,
    pub status: String,
    pub total_stages: usize,
    pub completed: usize,
    pub skipped: usize,
    pub pending: usize,
    /// Completed or skipped stages as a share of all stages, 0–100.
    pub percent: u32,
    /// The first stage, in order, that is neither completed nor skipped.
    pub next_stage: Option<StageInstanceOut>,
    pub stages: Vec<StageInstanceOut>,
}

/// "Which stage would this event complete?" — answered without writing anything.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SimulateIn {
    pub event_code: Option<String>,
    /// For a template: codes of stages to treat as already completed.
    #[serde(default)]
    pub completed: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimulateOut {
    pub event_code: String,
    /// The stage that would complete, or null.
    pub stage: Option<SimulatedStage>,
    /// Why nothing would complete (null when a stage would).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulatedStage {
    pub stage_template: Uuid,
    /// Set when simulating on an instance.
    pub stage_instance: Option<Uuid>,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub order: i32,
}
