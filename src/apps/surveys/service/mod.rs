//! Business rules of the surveys module. Each public function is one use case: permission and scope
//! through `platform::rbac`, the whole input validated at once, one transaction, every write audited.
//! Templates and questions are hospital-wide; instances and responses also carry department and
//! physician, so department roles see their department's surveys and physicians their own ratings.

pub mod analytics;
pub mod delivery;
pub mod instances;
pub mod public;
pub mod questions;
pub mod templates;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::rbac::{Reach, Resource, ScopeColumns};

pub(crate) use crate::apps::organizations::service::{Form, Mode};

pub(crate) const R: Resource = Resource::Surveys;

pub(crate) fn hospital_cols<C>(hospital: C) -> ScopeColumns<C> {
    ScopeColumns {
        hospital: Some(hospital),
        department: None,
        physician: None,
        assignee: None,
    }
}

/// Instances and responses: hospital, department and physician columns.
pub(crate) fn survey_cols<C>(hospital: C, department: C, physician: C) -> ScopeColumns<C> {
    ScopeColumns {
        hospital: Some(hospital),
        department: Some(department),
        physician: Some(physician),
        assignee: None,
    }
}

pub(crate) fn survey_reach(
    hospital: Uuid,
    department: Option<Uuid>,
    physician: Option<Uuid>,
) -> Reach {
    Reach {
        hospital,
        department,
        physician,
        assignee: None,
        department_column: true,
        physician_column: true,
    }
}

/// Records `action` (`<object type>.<verb>`) on `conn` (the caller's transaction).
pub(crate) async fn audit<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
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
