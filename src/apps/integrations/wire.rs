//! Request and response bodies of the integrations API (SPEC.md "Event body", "Wire formats").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::validate::nullable;

use super::model::{config, event_mapping, inbound_event};

/// One inbound event (POST /api/integrations/events/). Every field is optional here so that every
/// missing one is reported at once.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct EventIn {
    /// The sending system, e.g. `his`, `lab`, `ris`, `pharmacy`.
    pub source_system: Option<String>,
    /// The sender's event code, e.g. `OPD_VISIT_COMPLETED` (mapped through event mappings when one exists).
    pub event_code: Option<String>,
    pub encounter_id: Option<String>,
    /// The patient's MRN.
    pub patient_identifier: Option<String>,
    /// Needed only when neither the API key nor a single-hospital deployment says which hospital.
    pub hospital_code: Option<String>,
    /// The sender's unique message id; a second event with the same one is a duplicate.
    pub external_id: Option<String>,
    /// RFC 3339; defaults to the time of receipt.
    pub occurred_at: Option<String>,
    /// Anything else; `physician_license` and `department_code` are used when present.
    #[schema(value_type = Option<Object>)]
    pub payload_json: Option<Value>,
}

/// The answer to an accepted event: 202 when new, 200 (with the first event's id) for a duplicate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventAccepted {
    pub id: Uuid,
    pub status: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub source_system: String,
    pub event_code: String,
    /// JSON, HL7V2 or FHIR
    pub format: String,
    pub external_id: Option<String>,
    pub encounter_id: String,
    pub patient_identifier: Option<String>,
    #[schema(value_type = Object)]
    pub payload_json: Value,
    pub payload_hash: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    /// PENDING, PROCESSING, PROCESSED, IGNORED, FAILED or DEAD
    pub status: String,
    pub attempts: i32,
    /// What processing did, or why the event was ignored.
    pub result: Option<String>,
    pub error: Option<String>,
    /// The internal code the event was mapped to.
    pub mapped_event_code: Option<String>,
    pub journey_instance: Option<Uuid>,
    pub stage_instance: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<inbound_event::Model> for EventOut {
    fn from(m: inbound_event::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            source_system: m.source_system,
            event_code: m.event_code,
            format: m.format,
            external_id: m.external_id,
            encounter_id: m.encounter_id,
            patient_identifier: m.patient_identifier,
            payload_json: m.payload_json,
            payload_hash: m.payload_hash,
            occurred_at: m.occurred_at,
            received_at: m.received_at,
            processed_at: m.processed_at,
            status: m.status,
            attempts: m.attempts,
            result: m.result,
            error: m.error,
            mapped_event_code: m.mapped_event_code,
            journey_instance: m.journey_instance_id,
            stage_instance: m.stage_instance_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One line of a bulk answer (SPEC.md "Bulk endpoints").
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub index: usize,
    /// 201 stored, 200 duplicate, 400 refused (see `errors`).
    pub status: u16,
    pub id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub errors: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub results: Vec<BulkItem>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MappingIn {
    pub hospital: Option<Uuid>,
    pub source_system: Option<String>,
    /// The sender's code: `OPD_VISIT_COMPLETED`, `ADT^A04`, `ENCOUNTER-AMB-FINISHED`, …
    pub external_code: Option<String>,
    /// The internal code stage templates trigger on.
    pub event_code: Option<String>,
    /// EMS, INPATIENT, OPD or DAY_CASE; needed with `create_instance`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub journey_type: Option<Option<String>>,
    /// Start the journey from the hospital's active template when the encounter has none yet.
    pub create_instance: Option<bool>,
    pub active: Option<bool>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub source_system: String,
    pub external_code: String,
    pub event_code: String,
    pub journey_type: Option<String>,
    pub create_instance: bool,
    pub active: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<event_mapping::Model> for MappingOut {
    fn from(m: event_mapping::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            source_system: m.source_system,
            external_code: m.external_code,
            event_code: m.event_code,
            journey_type: m.journey_type,
            create_instance: m.create_instance,
            active: m.active,
            description: m.description,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConfigIn {
    pub hospital: Option<Uuid>,
    pub source_system: Option<String>,
    pub name: Option<String>,
    /// JSON, HL7V2 or FHIR
    pub protocol: Option<String>,
    /// An inactive source's events are stored and IGNORED.
    pub active: Option<bool>,
    /// When true, JSON events whose code has no mapping are IGNORED instead of used as they are.
    pub require_mapping: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Option<Value>>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigOut {
    pub id: Uuid,
    pub hospital: Uuid,
    pub source_system: String,
    pub name: String,
    pub protocol: String,
    pub active: bool,
    pub require_mapping: bool,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<config::Model> for ConfigOut {
    fn from(m: config::Model) -> Self {
        Self {
            id: m.id,
            hospital: m.hospital_id,
            source_system: m.source_system,
            name: m.name,
            protocol: m.protocol,
            active: m.active,
            require_mapping: m.require_mapping,
            settings: m.settings,
            description: m.description,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
