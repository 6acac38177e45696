//! FHIR R4 Encounters (alone or in a Bundle) turned into inbound events, and OperationOutcome for
//! errors. Own serde structs for the few elements used: no maintained crate offers R4 cleanly.
//!
//! An Encounter becomes one event: external code `ENCOUNTER-<CLASS>-<STATUS>` (e.g.
//! `ENCOUNTER-AMB-FINISHED`, mapped to an internal code by the hospital's event mappings), encounter id
//! from the first `identifier.value` (else the resource id), MRN from `subject.identifier.value`,
//! physician licence from the first `participant.individual.identifier.value`, department code from
//! `serviceType.coding[0].code`, time from `period.end` (finished) or `period.start`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Encounter classes PX360 maps (v3 ActCode): inpatient, ambulatory, emergency.
pub const CLASSES: &[&str] = &["IMP", "AMB", "EMER"];
/// R4 Encounter.status values.
pub const STATUSES: &[&str] = &[
    "planned",
    "arrived",
    "triaged",
    "in-progress",
    "onleave",
    "finished",
    "cancelled",
    "entered-in-error",
    "unknown",
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CodeableConcept {
    #[serde(default)]
    pub coding: Vec<Coding>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    pub reference: Option<String>,
    pub identifier: Option<Identifier>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Participant {
    pub individual: Option<Reference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub version_id: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encounter {
    pub id: Option<String>,
    pub meta: Option<Meta>,
    #[serde(default)]
    pub identifier: Vec<Identifier>,
    pub status: Option<String>,
    /// R4: a single Coding.
    pub class: Option<Coding>,
    pub service_type: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    #[serde(default)]
    pub participant: Vec<Participant>,
    pub period: Option<Period>,
}

/// One OperationOutcome issue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Issue {
    pub severity: &'static str,
    pub code: &'static str,
    pub diagnostics: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl Issue {
    pub fn invalid(expression: impl Into<String>, diagnostics: impl Into<String>) -> Self {
        Self {
            severity: "error",
            code: "invalid",
            diagnostics: diagnostics.into(),
            expression: vec![expression.into()],
        }
    }
}

/// The OperationOutcome resource for `issues`.
pub fn outcome(issues: &[Issue]) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// An Encounter as an inbound event.
#[derive(Debug, Clone, PartialEq)]
pub struct EncounterEvent {
    pub source_system: Option<String>,
    pub event_code: String,
    pub external_id: String,
    pub encounter_id: String,
    pub mrn: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub physician_license: Option<String>,
    pub department_code: Option<String>,
    pub resource: Value,
}

fn time(v: Option<&str>) -> Option<DateTime<Utc>> {
    v.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn non_empty(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Reads one Encounter resource (`at` is its FHIRPath location for error messages).
///
/// # Errors
/// Every problem found, as OperationOutcome issues.
pub fn encounter(resource: &Value, at: &str) -> Result<EncounterEvent, Vec<Issue>> {
    if resource.get("resourceType").and_then(Value::as_str) != Some("Encounter") {
        return Err(vec![Issue::invalid(
            format!("{at}.resourceType"),
            "expected an Encounter (or a Bundle of Encounters)",
        )]);
    }
    let e: Encounter = serde_json::from_value(resource.clone()).map_err(|err| {
        vec![Issue::invalid(
            at.to_string(),
            format!("not a valid R4 Encounter: {err}"),
        )]
    })?;
    let mut issues = vec![];
    let status = e.status.clone().unwrap_or_default();
    if status.is_empty() {
        issues.push(Issue::invalid(format!("{at}.status"), "status is required"));
    } else if !STATUSES.contains(&status.as_str()) {
        issues.push(Issue::invalid(
            format!("{at}.status"),
            format!("'{status}' is not an R4 Encounter status"),
        ));
    }
    let class = e
        .class
        .as_ref()
        .and_then(|c| non_empty(c.code.as_ref()))
        .unwrap_or_default()
        .to_ascii_uppercase();
    if class.is_empty() {
        issues.push(Issue::invalid(
            format!("{at}.class"),
            "class.code is required",
        ));
    } else if !CLASSES.contains(&class.as_str()) {
        issues.push(Issue::invalid(
            format!("{at}.class"),
            format!("class '{class}' is not one of {}", CLASSES.join(", ")),
        ));
    }
    let encounter_id = e
        .identifier
        .iter()
        .find_map(|i| non_empty(i.value.as_ref()))
        .or_else(|| non_empty(e.id.as_ref()));
    if encounter_id.is_none() {
        issues.push(Issue::invalid(
            format!("{at}.identifier"),
            "an identifier value (the encounter id) or a resource id is required",
        ));
    }
    let period = e.period.clone().unwrap_or_default();
    for (name, v) in [("start", &period.start), ("end", &period.end)] {
        if let Some(s) = v
            && time(Some(s)).is_none()
        {
            issues.push(Issue::invalid(
                format!("{at}.period.{name}"),
                "must be a dateTime with a time zone",
            ));
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let encounter_id = encounter_id.unwrap_or_default();
    let occurred_at = if status == "finished" {
        time(period.end.as_deref()).or_else(|| time(period.start.as_deref()))
    } else {
        time(period.start.as_deref())
    };
    let status_code = status.to_ascii_uppercase().replace('-', "_");
    let version = e
        .meta
        .as_ref()
        .and_then(|m| non_empty(m.version_id.as_ref()));
    let resource_id = non_empty(e.id.as_ref()).unwrap_or_else(|| encounter_id.clone());
    Ok(EncounterEvent {
        source_system: e.meta.as_ref().and_then(|m| non_empty(m.source.as_ref())),
        event_code: format!("ENCOUNTER-{class}-{status_code}"),
        // The same resource version (or the same status of it) twice is a duplicate.
        external_id: match version {
            Some(v) => format!("Encounter/{resource_id}/_history/{v}"),
            None => format!("Encounter/{resource_id}/{status}"),
        },
        mrn: e
            .subject
            .as_ref()
            .and_then(|s| s.identifier.as_ref())
            .and_then(|i| non_empty(i.value.as_ref())),
        physician_license: e
            .participant
            .iter()
            .filter_map(|p| p.individual.as_ref())
            .filter_map(|r| r.identifier.as_ref())
            .find_map(|i| non_empty(i.value.as_ref())),
        department_code: e
            .service_type
            .as_ref()
            .and_then(|s| s.coding.first())
            .and_then(|c| non_empty(c.code.as_ref())),
        encounter_id,
        occurred_at,
        resource: resource.clone(),
    })
}

/// An Encounter or a Bundle of them (non-Encounter entries such as Patient are skipped).
///
/// # Errors
/// Every problem found in any entry; nothing is taken when one entry is invalid.
pub fn encounters(body: &Value) -> Result<Vec<EncounterEvent>, Vec<Issue>> {
    match body.get("resourceType").and_then(Value::as_str) {
        Some("Encounter") => encounter(body, "Encounter").map(|e| vec![e]),
        Some("Bundle") => {
            let entries = body
                .get("entry")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut out = vec![];
            let mut issues = vec![];
            for (i, entry) in entries.iter().enumerate() {
                let Some(r) = entry.get("resource") else {
                    issues.push(Issue::invalid(
                        format!("Bundle.entry[{i}]"),
                        "entry has no resource",
                    ));
                    continue;
                };
                if r.get("resourceType").and_then(Value::as_str) != Some("Encounter") {
                    continue;
                }
                match encounter(r, &format!("Bundle.entry[{i}].resource")) {
                    Ok(e) => out.push(e),
                    Err(mut is) => issues.append(&mut is),
                }
            }
            if out.is_empty() && issues.is_empty() {
                issues.push(Issue::invalid(
                    "Bundle.entry",
                    "the Bundle holds no Encounter",
                ));
            }
            if issues.is_empty() {
                Ok(out)
            } else {
                Err(issues)
            }
        }
        _ => Err(vec![Issue::invalid(
            "resourceType",
            "expected an Encounter or a Bundle of Encounters",
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(status: &str) -> Value {
        json!({
            "resourceType": "Encounter", "id": "e1", "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "identifier": [{"system": "urn:his:visit", "value": "ENC900"}],
            "subject": {"identifier": {"value": "MRN900"}},
            "participant": [{"individual": {"identifier": {"value": "PHY001"}}}],
            "serviceType": {"coding": [{"code": "CARD"}]},
            "period": {"start": "2026-01-05T09:00:00+03:00", "end": "2026-01-05T09:40:00+03:00"}
        })
    }

    #[test]
    fn a_finished_ambulatory_encounter_becomes_an_event() {
        let e = encounter(&enc("finished"), "Encounter").unwrap();
        assert_eq!(e.event_code, "ENCOUNTER-AMB-FINISHED");
        assert_eq!(e.encounter_id, "ENC900");
        assert_eq!(e.mrn.as_deref(), Some("MRN900"));
        assert_eq!(e.physician_license.as_deref(), Some("PHY001"));
        assert_eq!(e.department_code.as_deref(), Some("CARD"));
        assert_eq!(e.external_id, "Encounter/e1/finished");
        assert_eq!(
            e.occurred_at.unwrap().to_rfc3339(),
            "2026-01-05T06:40:00+00:00"
        );
        let p = encounter(&enc("in-progress"), "Encounter").unwrap();
        assert_eq!(p.event_code, "ENCOUNTER-AMB-IN_PROGRESS");
        assert_eq!(
            p.occurred_at.unwrap().to_rfc3339(),
            "2026-01-05T06:00:00+00:00"
        );
    }

    #[test]
    fn invalid_resources_list_every_issue() {
        let mut bad = enc("done");
        bad["class"]["code"] = json!("HH");
        bad["identifier"] = json!([]);
        bad["id"] = Value::Null;
        let issues = encounter(&bad, "Encounter").unwrap_err();
        assert_eq!(issues.len(), 3, "{issues:?}");
        assert!(encounters(&json!({"resourceType": "Patient"})).is_err());
        let o = outcome(&issues);
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert_eq!(o["issue"][0]["severity"], "error");
    }

    #[test]
    fn bundles_take_encounters_and_skip_other_resources() {
        let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": enc("finished")},
        ]});
        assert_eq!(encounters(&b).unwrap().len(), 1);
        let empty = json!({"resourceType": "Bundle", "entry": []});
        assert!(encounters(&empty).is_err());
    }
}
