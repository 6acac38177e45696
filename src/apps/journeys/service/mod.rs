//! Business rules of the journeys module. Each public function is one use case: permission and scope
//! through `platform::rbac`, the whole input validated at once, one transaction, every write audited.
//! Journey rows are hospital-wide (no department column): any role that may view journeys sees its
//! hospital's journeys.

pub mod builder;
pub mod engine;
pub mod instances;
pub mod stages;
pub mod templates;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::error::AppResult;
use crate::platform::rbac::{Resource, ScopeColumns};

pub(crate) use crate::apps::organizations::service::{Form, Mode};

pub(crate) const R: Resource = Resource::Journeys;

/// Every journey table carries `hospital_id` and nothing finer.
pub(crate) fn hospital_cols<C>(hospital: C) -> ScopeColumns<C> {
    ScopeColumns {
        hospital: Some(hospital),
        department: None,
        physician: None,
        assignee: None,
    }
}

/// Records `action` (`<object type>.<verb>`) on `conn` (the caller's transaction).
pub(crate) async fn audit<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn crate::platform::clock::Clock,
    actor: &Actor,
    action: &str,
    id: Uuid,
    hospital: Uuid,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        clock,
        actor,
        AuditEntry::new(action)
            .object(action.split('.').next().unwrap_or(action), id)
            .hospital(Some(hospital))
            .details(details),
    )
    .await?;
    Ok(())
}

pub(crate) fn invalid_pk(id: Uuid) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

/// An event or stage code: 1–100 characters of A–Z, 0–9, `_`, `-`, `^`, `.` (HL7 codes such as
/// `ADT^A04` are mapped to internal codes, but a trigger may name either).
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 100
        && code.chars().all(|c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '^' | '.')
        })
}

pub(crate) const CODE_HINT: &str =
    "Use 1 to 100 characters: capital letters A-Z, digits, '_', '-', '^' or '.'.";
