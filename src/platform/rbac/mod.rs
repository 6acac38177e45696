//! RBAC as one mechanism (SPEC.md "Roles and scope").
//!
//! * [`Role`]: the eight roles with their wire codes and levels.
//! * [`permissions::grants`]: the (role, resource) → operations table, kept as data and printed into
//!   `docs/rbac.md` (a test fails when the document drifts).
//! * [`Principal`]: who is calling (a user by JWT or session, or an integration by API key) with their
//!   role assignments, each already resolved to its reach (hospital, department subtree, physician).
//! * [`Principal::scope`]: for one (resource, operation) the union of the reaches of the assignments whose
//!   role grants it; repositories pass it to [`Scope::condition`] with the resource's [`ScopeColumns`] so
//!   no handler ever writes a scope filter by hand. Out-of-scope objects answer 404; an operation no
//!   assignment grants answers 403.

pub mod permissions;

use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, SimpleExpr};
use sea_orm::{Condition, EntityTrait, QueryFilter, Select};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::error::{AppError, AppResult};

pub use permissions::{Operation, Resource};

/// The eight roles. On the wire: UPPER_SNAKE codes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    PxAdmin,
    HospitalAdmin,
    DepartmentManager,
    PxCoordinator,
    Physician,
    Nurse,
    Staff,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::PxAdmin,
        Role::HospitalAdmin,
        Role::DepartmentManager,
        Role::PxCoordinator,
        Role::Physician,
        Role::Nurse,
        Role::Staff,
        Role::Viewer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::PxAdmin => "PX_ADMIN",
            Role::HospitalAdmin => "HOSPITAL_ADMIN",
            Role::DepartmentManager => "DEPARTMENT_MANAGER",
            Role::PxCoordinator => "PX_COORDINATOR",
            Role::Physician => "PHYSICIAN",
            Role::Nurse => "NURSE",
            Role::Staff => "STAFF",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn level(self) -> i32 {
        match self {
            Role::PxAdmin => 100,
            Role::HospitalAdmin => 80,
            Role::DepartmentManager => 60,
            Role::PxCoordinator => 50,
            Role::Physician => 40,
            Role::Nurse => 30,
            Role::Staff => 20,
            Role::Viewer => 10,
        }
    }

    /// # Errors
    /// 400-ready message listing the allowed codes.
    pub fn parse(code: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| {
                format!(
                    "\"{code}\" is not a valid choice; allowed: {}",
                    Role::ALL.map(Role::code).join(", ")
                )
            })
    }

    /// Department-level roles must name a department; PX_ADMIN must not name a hospital.
    pub fn needs_department(self) -> bool {
        matches!(self, Role::DepartmentManager | Role::Nurse | Role::Staff)
    }
}

/// One role assignment resolved to what it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub hospital: Option<Uuid>,
    pub department: Option<Uuid>,
    /// The department and all its descendants (empty when `department` is None).
    pub departments: BTreeSet<Uuid>,
}

/// The caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    pub grants: Vec<Grant>,
    /// Physician records linked to this user (`physicians.user_id`).
    pub physician_ids: BTreeSet<Uuid>,
    /// Set when authenticated by an API key: every reach is clipped to this hospital.
    pub api_key_hospital: Option<Uuid>,
    pub ip: Option<String>,
}

/// What one (resource, operation) lets the principal reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub all: bool,
    pub hospitals: BTreeSet<Uuid>,
    pub departments: BTreeSet<Uuid>,
    pub physicians: BTreeSet<Uuid>,
    /// The caller's own user id: "items assigned to them" (and their own user record).
    pub user: Option<Uuid>,
    /// For department-level grants on resources without a department column: their hospitals.
    pub fallback_hospitals: BTreeSet<Uuid>,
    /// Whether any assignment grants the operation at all.
    pub granted: bool,
}

/// Which columns of a table carry the scope. `None` means the table has no such column.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScopeColumns<C> {
    pub hospital: Option<C>,
    pub department: Option<C>,
    pub physician: Option<C>,
    /// A user column that makes a row "assigned to" (or owned by) that user.
    pub assignee: Option<C>,
}

/// One row's scope values, described like its table's [`ScopeColumns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub hospital: Uuid,
    pub department: Option<Uuid>,
    pub physician: Option<Uuid>,
    pub assignee: Option<Uuid>,
    /// Whether the table has a department column (department-level grants then reach by department,
    /// not by hospital).
    pub department_column: bool,
    /// Whether the table has a physician column (physician grants then reach by physician).
    pub physician_column: bool,
}

impl Reach {
    /// A row of a hospital-wide table (no department or physician column).
    pub fn hospital(hospital: Uuid) -> Self {
        Self {
            hospital,
            department: None,
            physician: None,
            assignee: None,
            department_column: false,
            physician_column: false,
        }
    }

    /// A row of a table with a department column.
    pub fn department(hospital: Uuid, department: Option<Uuid>) -> Self {
        Self {
            department,
            department_column: true,
            ..Self::hospital(hospital)
        }
    }
}

impl Principal {
    pub fn is_px_admin(&self) -> bool {
        self.api_key_hospital.is_none() && self.grants.iter().any(|g| g.role == Role::PxAdmin)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// Whether any assignment grants `op` on `resource` (regardless of which objects).
    pub fn can(&self, resource: Resource, op: Operation) -> bool {
        self.grants
            .iter()
            .any(|g| permissions::grants(g.role, resource).contains(&op))
    }

    /// 403 unless some assignment grants `op` on `resource`.
    ///
    /// # Errors
    /// [`AppError::Forbidden`].
    pub fn require(&self, resource: Resource, op: Operation) -> AppResult<()> {
        if self.can(resource, op) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Whether `op` on `resource` reaches the row `r`.
    pub fn reaches(&self, resource: Resource, op: Operation, r: Reach) -> bool {
        self.scope(resource, op).reaches(r)
    }

    /// For an object already found in the caller's View scope: 403 unless `op` is granted and reaches it.
    ///
    /// # Errors
    /// [`AppError::Forbidden`].
    pub fn allow(&self, resource: Resource, op: Operation, r: Reach) -> AppResult<()> {
        self.require(resource, op)?;
        if self.reaches(resource, op, r) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// The reach of `op` on `resource`: the union over the assignments whose role grants it.
    pub fn scope(&self, resource: Resource, op: Operation) -> Scope {
        let mut s = Scope {
            user: Some(self.user_id),
            ..Default::default()
        };
        for g in &self.grants {
            if !permissions::grants(g.role, resource).contains(&op) {
                continue;
            }
            if let Some(h) = self.api_key_hospital {
                // An API key never reaches beyond its hospital, whatever its service account holds.
                if g.role == Role::PxAdmin {
                    s.granted = true;
                    s.hospitals.insert(h);
                    continue;
                }
                if g.hospital != Some(h) {
                    continue;
                }
            }
            s.granted = true;
            match g.role {
                Role::PxAdmin => s.all = true,
                Role::Physician => {
                    s.physicians.extend(self.physician_ids.iter().copied());
                    s.fallback_hospitals.extend(g.hospital);
                }
                _ if g.department.is_some() => {
                    s.departments.extend(g.departments.iter().copied());
                    s.fallback_hospitals.extend(g.hospital);
                }
                _ => s.hospitals.extend(g.hospital),
            }
        }
        s
    }
}

impl Scope {
    /// The SQL condition selecting exactly the rows this scope reaches.
    pub fn condition<C: IntoColumnRef + Copy>(&self, cols: ScopeColumns<C>) -> Condition {
        if self.all {
            return Condition::all();
        }
        let mut any = Condition::any();
        let mut reaches_something = false;
        if let Some(h) = cols.hospital {
            let mut hs: Vec<Uuid> = self.hospitals.iter().copied().collect();
            if cols.department.is_none() && cols.physician.is_none() {
                // Department- and physician-level grants reach hospital-wide tables through their hospital.
                hs.extend(self.fallback_hospitals.iter().copied());
            }
            if !hs.is_empty() {
                any = any.add(Expr::col(h).is_in(hs));
                reaches_something = true;
            }
        }
        if let Some(d) = cols.department
            && !self.departments.is_empty()
        {
            any = any.add(Expr::col(d).is_in(self.departments.iter().copied()));
            reaches_something = true;
        }
        if let Some(p) = cols.physician
            && !self.physicians.is_empty()
        {
            any = any.add(Expr::col(p).is_in(self.physicians.iter().copied()));
            reaches_something = true;
        }
        if let (Some(a), Some(u)) = (cols.assignee, self.user) {
            any = any.add(Expr::col(a).eq(u));
            reaches_something = true;
        }
        if !reaches_something {
            return Condition::all().add(never());
        }
        any
    }

    /// Whether one row is reached: the same rule as [`Scope::condition`], for objects already loaded and
    /// for the target of a create (its hospital, department or parent).
    pub fn reaches(&self, r: Reach) -> bool {
        if self.all || self.hospitals.contains(&r.hospital) {
            return true;
        }
        if !r.department_column
            && !r.physician_column
            && self.fallback_hospitals.contains(&r.hospital)
        {
            return true;
        }
        if r.department.is_some_and(|d| self.departments.contains(&d)) {
            return true;
        }
        if r.physician.is_some_and(|p| self.physicians.contains(&p)) {
            return true;
        }
        matches!((r.assignee, self.user), (Some(a), Some(u)) if a == u)
    }
}

fn forbidden() -> AppError {
    AppError::Forbidden("You do not have permission to perform this action.".into())
}

fn never() -> SimpleExpr {
    Expr::val(1).eq(0)
}

/// Applies the caller's scope for (`resource`, `op`) to a query. 403 when no assignment grants `op`.
///
/// # Errors
/// [`AppError::Forbidden`] when the operation is not granted at all.
pub fn scoped<E: EntityTrait>(
    select: Select<E>,
    principal: &Principal,
    resource: Resource,
    op: Operation,
    cols: ScopeColumns<E::Column>,
) -> AppResult<Select<E>> {
    principal.require(resource, op)?;
    Ok(select.filter(principal.scope(resource, op).condition(cols)))
}

/// One object by a query (usually `find_by_id` minus soft-deleted rows) within the caller's View scope.
/// Anything not visible — out of scope, no View grant at all, or absent — is 404, so existence never leaks.
///
/// # Errors
/// [`AppError::NotFound`]; database errors.
pub async fn find_visible<E, C>(
    conn: &C,
    select: Select<E>,
    principal: &Principal,
    resource: Resource,
    cols: ScopeColumns<E::Column>,
) -> AppResult<E::Model>
where
    E: EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    if !principal.can(resource, Operation::View) {
        return Err(AppError::NotFound);
    }
    select
        .filter(principal.scope(resource, Operation::View).condition(cols))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(grants: Vec<Grant>) -> Principal {
        Principal {
            user_id: Uuid::now_v7(),
            email: "x@example.sa".into(),
            grants,
            physician_ids: BTreeSet::new(),
            api_key_hospital: None,
            ip: None,
        }
    }

    fn grant(role: Role, h: Option<Uuid>, d: Option<Uuid>, sub: &[Uuid]) -> Grant {
        Grant {
            role,
            hospital: h,
            department: d,
            departments: sub.iter().copied().collect(),
        }
    }

    #[test]
    fn role_codes_round_trip_and_unknown_codes_list_the_allowed_values() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Ok(r));
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.code())
            );
        }
        let e = Role::parse("GOD").unwrap_err();
        assert!(e.contains("allowed: PX_ADMIN, HOSPITAL_ADMIN"), "{e}");
    }

    #[test]
    fn a_hospital_admin_reaches_only_its_hospital() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let p = principal(vec![grant(Role::HospitalAdmin, Some(a), None, &[])]);
        let s = p.scope(Resource::Patients, Operation::View);
        assert!(s.granted && !s.all);
        assert!(s.reaches(Reach::hospital(a)));
        assert!(!s.reaches(Reach::hospital(b)));
    }

    #[test]
    fn a_department_manager_reaches_its_subtree_only() {
        let h = Uuid::now_v7();
        let (d, child, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let p = principal(vec![grant(
            Role::DepartmentManager,
            Some(h),
            Some(d),
            &[d, child],
        )]);
        let s = p.scope(Resource::Departments, Operation::View);
        assert!(s.reaches(Reach::department(h, Some(child))));
        assert!(!s.reaches(Reach::department(h, Some(other))));
    }

    #[test]
    fn department_roles_reach_hospital_wide_rows_but_not_sibling_department_rows() {
        let h = Uuid::now_v7();
        let (d, sibling) = (Uuid::now_v7(), Uuid::now_v7());
        let p = principal(vec![grant(Role::Nurse, Some(h), Some(d), &[d])]);
        let s = p.scope(Resource::Patients, Operation::View);
        assert!(s.reaches(Reach::hospital(h)));
        let s = p.scope(Resource::Physicians, Operation::View);
        assert!(s.reaches(Reach::department(h, Some(d))));
        assert!(!s.reaches(Reach::department(h, Some(sibling))));
        assert!(!s.reaches(Reach::department(h, None)));
        assert!(
            p.allow(
                Resource::Physicians,
                Operation::View,
                Reach::department(h, Some(d))
            )
            .is_ok()
        );
        assert!(
            p.allow(
                Resource::Physicians,
                Operation::Edit,
                Reach::department(h, Some(d))
            )
            .is_err()
        );
    }

    #[test]
    fn a_viewer_cannot_edit() {
        let p = principal(vec![grant(Role::Viewer, Some(Uuid::now_v7()), None, &[])]);
        assert!(p.can(Resource::Patients, Operation::View));
        assert!(p.require(Resource::Patients, Operation::Edit).is_err());
    }

    #[test]
    fn px_admin_reaches_everything_but_not_through_an_api_key() {
        let mut p = principal(vec![grant(Role::PxAdmin, None, None, &[])]);
        assert!(p.scope(Resource::Hospitals, Operation::Create).all);
        let h = Uuid::now_v7();
        p.api_key_hospital = Some(h);
        let s = p.scope(Resource::Patients, Operation::View);
        assert!(!s.all);
        assert!(s.reaches(Reach::hospital(h)));
        assert!(!s.reaches(Reach::hospital(Uuid::now_v7())));
    }

    #[test]
    fn items_assigned_to_the_caller_are_reached() {
        let p = principal(vec![grant(
            Role::Staff,
            Some(Uuid::now_v7()),
            Some(Uuid::now_v7()),
            &[],
        )]);
        let s = p.scope(Resource::Actions, Operation::View);
        assert!(s.reaches(Reach {
            assignee: Some(p.user_id),
            ..Reach::department(Uuid::now_v7(), Some(Uuid::now_v7()))
        }));
    }
}
