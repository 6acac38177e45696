//! The permission table: which operations each role may perform on each resource. This is the single
//! source; `docs/rbac.md` is generated from it (`cargo test` fails when the document is stale; run
//! `PX360_WRITE_DOCS=1 cargo test rbac_doc` to rewrite it).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    View,
    Create,
    Edit,
    Delete,
    Transition,
    Assign,
    Approve,
    Export,
    Configure,
}

impl Operation {
    pub const ALL: [Operation; 9] = [
        Operation::View,
        Operation::Create,
        Operation::Edit,
        Operation::Delete,
        Operation::Transition,
        Operation::Assign,
        Operation::Approve,
        Operation::Export,
        Operation::Configure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::View => "view",
            Operation::Create => "create",
            Operation::Edit => "edit",
            Operation::Delete => "delete",
            Operation::Transition => "transition",
            Operation::Assign => "assign",
            Operation::Approve => "approve",
            Operation::Export => "export",
            Operation::Configure => "configure",
        }
    }
}

/// Everything RBAC protects, including the resources of modules still to come, so the table is complete
/// from the start and later modules only use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Users,
    Roles,
    ApiKeys,
    AuditLog,
    Hospitals,
    HospitalSettings,
    Departments,
    Physicians,
    Employees,
    Patients,
    Journeys,
    Integrations,
    Surveys,
    Notifications,
    Complaints,
    Feedback,
    Actions,
    CallCenter,
    Social,
    Sentiment,
    Analytics,
    PhysicianRatings,
    Projects,
}

impl Resource {
    pub const ALL: [Resource; 23] = [
        Resource::Users,
        Resource::Roles,
        Resource::ApiKeys,
        Resource::AuditLog,
        Resource::Hospitals,
        Resource::HospitalSettings,
        Resource::Departments,
        Resource::Physicians,
        Resource::Employees,
        Resource::Patients,
        Resource::Journeys,
        Resource::Integrations,
        Resource::Surveys,
        Resource::Notifications,
        Resource::Complaints,
        Resource::Feedback,
        Resource::Actions,
        Resource::CallCenter,
        Resource::Social,
        Resource::Sentiment,
        Resource::Analytics,
        Resource::PhysicianRatings,
        Resource::Projects,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Users => "users",
            Resource::Roles => "roles",
            Resource::ApiKeys => "api_keys",
            Resource::AuditLog => "audit_log",
            Resource::Hospitals => "hospitals",
            Resource::HospitalSettings => "hospital_settings",
            Resource::Departments => "departments",
            Resource::Physicians => "physicians",
            Resource::Employees => "employees",
            Resource::Patients => "patients",
            Resource::Journeys => "journeys",
            Resource::Integrations => "integrations",
            Resource::Surveys => "surveys",
            Resource::Notifications => "notifications",
            Resource::Complaints => "complaints",
            Resource::Feedback => "feedback",
            Resource::Actions => "actions",
            Resource::CallCenter => "callcenter",
            Resource::Social => "social",
            Resource::Sentiment => "sentiment",
            Resource::Analytics => "analytics",
            Resource::PhysicianRatings => "physician_ratings",
            Resource::Projects => "projects",
        }
    }
}

use super::Role;
use Operation::*;
use Resource as R;

const ALL: &[Operation] = &Operation::ALL;
const VIEW: &[Operation] = &[View];
const VIEW_EXPORT: &[Operation] = &[View, Export];
const NONE: &[Operation] = &[];
/// Work items (complaints, actions, feedback) handled within a department.
const WORK_DEPT: &[Operation] = &[View, Edit, Transition, Assign, Export];
/// Work items acted on by the person they are assigned to.
const WORK_ASSIGNED: &[Operation] = &[View, Edit, Transition];
const COORDINATE: &[Operation] = &[View, Create, Edit, Transition, Assign, Export];
const COORDINATE_APPROVE: &[Operation] = &[View, Create, Edit, Transition, Assign, Approve, Export];

/// The table. Scope (which hospital / department / own records) is applied separately by `Scope`.
pub fn grants(role: Role, resource: Resource) -> &'static [Operation] {
    match role {
        Role::PxAdmin => ALL,
        Role::HospitalAdmin => match resource {
            // Everything within its hospital except creating hospitals (and granting PX_ADMIN,
            // which the accounts service refuses).
            R::Hospitals => &[View, Edit, Export],
            R::Roles => VIEW,
            R::AuditLog => VIEW_EXPORT,
            _ => ALL,
        },
        Role::DepartmentManager => match resource {
            R::Departments | R::Physicians | R::Employees => &[View, Edit, Export],
            R::Complaints | R::Actions | R::Feedback => WORK_DEPT,
            R::Users | R::Roles | R::Hospitals | R::Patients | R::Journeys | R::Surveys => VIEW,
            R::CallCenter | R::Analytics | R::PhysicianRatings | R::Projects => VIEW_EXPORT,
            _ => NONE,
        },
        Role::PxCoordinator => match resource {
            R::Actions => COORDINATE_APPROVE,
            R::Complaints | R::Feedback | R::Surveys | R::CallCenter | R::Social | R::Projects => {
                COORDINATE
            }
            R::Patients => &[View, Create, Edit, Export],
            R::Journeys | R::Integrations | R::Notifications | R::Sentiment | R::Analytics => {
                VIEW_EXPORT
            }
            R::PhysicianRatings => VIEW_EXPORT,
            R::Users | R::Roles | R::Hospitals | R::Departments | R::Physicians | R::Employees => {
                VIEW
            }
            _ => NONE,
        },
        Role::Physician => match resource {
            // Surveys: their own ratings (instances and answers linked to their physician record).
            R::PhysicianRatings | R::Feedback | R::Physicians | R::Surveys => VIEW,
            R::Hospitals | R::Departments | R::Roles => VIEW,
            R::Complaints | R::Actions => WORK_ASSIGNED,
            _ => NONE,
        },
        Role::Nurse => match resource {
            R::Hospitals | R::Departments | R::Physicians | R::Roles | R::Patients => VIEW,
            R::Complaints | R::Actions | R::Feedback => WORK_ASSIGNED,
            _ => NONE,
        },
        Role::Staff => match resource {
            R::Hospitals | R::Departments | R::Physicians | R::Roles => VIEW,
            R::Complaints | R::Actions | R::Feedback => WORK_ASSIGNED,
            _ => NONE,
        },
        Role::Viewer => match resource {
            R::ApiKeys | R::AuditLog | R::HospitalSettings | R::Integrations => NONE,
            _ => VIEW,
        },
    }
}

/// The table as Markdown, for `docs/rbac.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# RBAC permission table\n\n\
         Generated from `src/platform/rbac/permissions.rs` (a test fails when this file is stale; \
         regenerate with `PX360_WRITE_DOCS=1 cargo test rbac_doc`).\n\n\
         Scope is applied on top of this table: PX_ADMIN reaches everything; HOSPITAL_ADMIN, \
         PX_COORDINATOR and VIEWER reach their hospital; DEPARTMENT_MANAGER, NURSE and STAFF reach their \
         department and its descendants (and, for tables without a department, their hospital); \
         PHYSICIAN reaches records linked to their physician record (and, for tables without a physician, \
         their hospital); everyone reaches items assigned to them. An API key reaches only its hospital. \
         Objects out of scope answer 404; operations not granted answer 403.\n\n\
         Operations: view, create, edit, delete, transition, assign, approve, export, configure.\n\n",
    );
    out.push_str("| resource |");
    for r in Role::ALL {
        out.push_str(&format!(" {} |", r.code()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for res in Resource::ALL {
        out.push_str(&format!("| {} |", res.as_str()));
        for role in Role::ALL {
            let ops = grants(role, res);
            let cell = if ops.len() == Operation::ALL.len() {
                "all".to_string()
            } else if ops.is_empty() {
                "—".to_string()
            } else {
                ops.iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_doc_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rbac.md");
        let want = markdown();
        if std::env::var("PX360_WRITE_DOCS").is_ok() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/rbac.md is stale: run PX360_WRITE_DOCS=1 cargo test rbac_doc"
        );
    }

    #[test]
    fn only_px_admin_may_create_hospitals() {
        for r in Role::ALL {
            assert_eq!(
                grants(r, Resource::Hospitals).contains(&Operation::Create),
                r == Role::PxAdmin
            );
        }
    }

    #[test]
    fn viewers_only_view() {
        for res in Resource::ALL {
            assert!(
                grants(Role::Viewer, res)
                    .iter()
                    .all(|o| *o == Operation::View)
            );
        }
    }

    #[test]
    fn only_admins_and_coordinators_approve_actions() {
        for r in Role::ALL {
            let may = grants(r, Resource::Actions).contains(&Operation::Approve);
            assert_eq!(
                may,
                matches!(r, Role::PxAdmin | Role::HospitalAdmin | Role::PxCoordinator),
                "{r:?}"
            );
        }
    }
}
