//! Business rules of the organisations module. Each public function is one use case: it checks
//! permission and scope through `platform::rbac`, validates the whole input (collecting every field
//! error), writes in one transaction and audits the change.

pub mod departments;
pub mod employees;
pub mod hospitals;
pub mod import;
pub mod integration;
pub mod patients;
pub mod physicians;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::validate::{Email, Phone};

use super::model::{choice_error, department, hospital};

/// How a write body is read: POST and PUT need every required field, PATCH only what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Replace,
    Patch,
}

pub(crate) const REQUIRED: &str = "This field is required.";
pub(crate) const BLANK: &str = "This field may not be blank.";

pub(crate) fn invalid_pk(id: Uuid) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

/// Collects field errors while applying a request body onto a row.
pub(crate) struct Form {
    pub errors: FieldErrors,
    pub mode: Mode,
}

impl Form {
    pub fn new(mode: Mode) -> Self {
        Self {
            errors: FieldErrors::new(),
            mode,
        }
    }

    fn needs(&self) -> bool {
        self.mode != Mode::Patch
    }

    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.errors.add(field, msg);
    }

    /// Whether `field` has an error already (so later checks on it can be skipped).
    pub fn has(&self, field: &str) -> bool {
        self.errors.0.contains_key(field)
    }

    /// A required, non-blank text field.
    pub fn text(&mut self, field: &str, given: Option<String>, slot: &mut String, max: usize) {
        match given {
            Some(v) => {
                let v = v.trim().to_string();
                if v.is_empty() {
                    self.add(field, BLANK);
                } else if v.chars().count() > max {
                    self.add(
                        field,
                        format!("Ensure this field has no more than {max} characters."),
                    );
                } else {
                    *slot = v;
                }
            }
            None if self.needs() => self.add(field, REQUIRED),
            None => {}
        }
    }

    /// An optional text field that may be blank.
    pub fn opt_text(&mut self, field: &str, given: Option<String>, slot: &mut String, max: usize) {
        if let Some(v) = given {
            let v = v.trim().to_string();
            if v.chars().count() > max {
                self.add(
                    field,
                    format!("Ensure this field has no more than {max} characters."),
                );
            } else {
                *slot = v;
            }
        }
    }

    /// A required choice among `allowed` (case-sensitive wire values).
    pub fn choice(
        &mut self,
        field: &str,
        given: Option<String>,
        slot: &mut String,
        allowed: &[&str],
        required: bool,
    ) {
        match given {
            Some(v) if allowed.contains(&v.as_str()) => *slot = v,
            Some(v) => self.add(field, choice_error(&v, allowed)),
            None if required && self.needs() => self.add(field, REQUIRED),
            None => {}
        }
    }

    pub fn flag(&mut self, given: Option<bool>, slot: &mut bool) {
        if let Some(v) = given {
            *slot = v;
        }
    }

    pub fn phone(&mut self, field: &str, given: Option<Option<String>>, slot: &mut Option<String>) {
        match given {
            Some(Some(v)) if !v.trim().is_empty() => match Phone::parse(&v) {
                Ok(p) => *slot = Some(p.into_inner()),
                Err(m) => self.add(field, m),
            },
            Some(_) => *slot = None,
            None => {}
        }
    }

    pub fn email(&mut self, field: &str, given: Option<Option<String>>, slot: &mut Option<String>) {
        match given {
            Some(Some(v)) if !v.trim().is_empty() => match Email::parse(&v) {
                Ok(e) => *slot = Some(e.into_inner()),
                Err(m) => self.add(field, m),
            },
            Some(_) => *slot = None,
            None => {}
        }
    }

    /// A required foreign key given as an id (checked against the database later).
    pub fn fk(&mut self, field: &str, given: Option<Uuid>, slot: &mut Uuid) -> bool {
        match given {
            Some(v) => {
                let changed = *slot != v;
                *slot = v;
                changed
            }
            None if self.needs() => {
                self.add(field, REQUIRED);
                false
            }
            None => false,
        }
    }

    /// An optional foreign key; `null` clears it. Returns whether the value changed.
    pub fn opt_fk(&mut self, given: Option<Option<Uuid>>, slot: &mut Option<Uuid>) -> bool {
        match given {
            Some(v) => {
                let changed = *slot != v;
                *slot = v;
                changed
            }
            None => false,
        }
    }

    pub fn finish(self) -> AppResult<()> {
        self.errors.into_result()
    }
}

/// Where a row sits, for scope checks.
pub(crate) use crate::platform::rbac::Reach;

/// Parses a path id; anything but a UUID is simply not found (as DRF's URL patterns do).
pub fn path_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// Records `action` (`<object type>.<verb>`) for object `id` on `conn` (the caller's transaction).
pub(crate) async fn audit<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    p: &Principal,
    action: &str,
    id: Uuid,
    hospital: Option<Uuid>,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new(action)
            .object(action.split('.').next().unwrap_or(action), id)
            .hospital(hospital)
            .details(details),
    )
    .await?;
    Ok(())
}

/// Checks the target hospital of a new row: it must exist, be live and lie within the caller's reach
/// for `op` on `resource`; otherwise a 400 on `hospital` worded exactly like a nonexistent id.
pub(crate) async fn check_hospital<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    resource: Resource,
    op: Operation,
    form: &mut Form,
    id: Uuid,
) -> AppResult<()> {
    if form.has("hospital") {
        return Ok(());
    }
    let live = hospital::Entity::find_by_id(id)
        .filter(hospital::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .is_some();
    if !live || !p.reaches(resource, op, Reach::hospital(id)) {
        form.add("hospital", invalid_pk(id));
    }
    Ok(())
}

/// Checks a department reference (`department` or `parent`): live, in the caller's department View
/// scope and in `hospital`.
pub(crate) async fn check_department<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    field: &str,
    id: Uuid,
    hospital: Uuid,
) -> AppResult<Option<department::Model>> {
    let found = department::Entity::find_by_id(id)
        .filter(department::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .filter(|d| {
            p.reaches(
                Resource::Departments,
                Operation::View,
                Reach {
                    hospital: d.hospital_id,
                    department: Some(d.id),
                    physician: None,
                    department_column: true,
                    physician_column: false,
                    assignee: None,
                },
            )
        });
    match found {
        None => {
            form.add(field, invalid_pk(id));
            Ok(None)
        }
        Some(d) if d.hospital_id != hospital => {
            form.add(field, "Must belong to the same hospital.");
            Ok(None)
        }
        Some(d) => Ok(Some(d)),
    }
}

/// Checks a user reference: the user exists and is not deleted.
pub(crate) async fn check_user<C: ConnectionTrait>(
    conn: &C,
    form: &mut Form,
    id: Uuid,
) -> AppResult<()> {
    let row = conn
        .query_one_raw(stmt(
            conn.get_database_backend(),
            "SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL",
            vec![id.into()],
        ))
        .await?;
    if row.is_none() {
        form.add("user", invalid_pk(id));
    }
    Ok(())
}

/// After all references are valid: the finished row must lie within the caller's reach for `op`,
/// otherwise 400 on the most specific field that placed it there.
pub(crate) fn check_placement(
    p: &Principal,
    resource: Resource,
    op: Operation,
    form: &mut Form,
    r: Reach,
    department_field: &str,
) {
    if !form.errors.is_empty() || p.reaches(resource, op, r) {
        return;
    }
    match r.department {
        Some(d) if r.department_column => form.add(department_field, invalid_pk(d)),
        _ => form.add("hospital", invalid_pk(r.hospital)),
    }
}

/// Names of the listed fields whose values differ between two rows (audit details carry which fields
/// changed, never the values, so no personal data is copied into the log).
macro_rules! changed {
    ($a:expr, $b:expr; $($f:ident),+ $(,)?) => {{
        let mut v: Vec<&'static str> = Vec::new();
        $( if $a.$f != $b.$f { v.push(stringify!($f)); } )+
        v
    }};
}
pub(crate) use changed;

pub(crate) fn not_changeable(form: &mut Form, field: &str) {
    form.add(field, "This field cannot be changed.");
}

/// `hospital` is fixed once a row exists: moving rows between hospitals would orphan their history.
pub(crate) fn keep_hospital(form: &mut Form, given: Option<Uuid>, current: Uuid) {
    if given.is_some_and(|h| h != current) {
        not_changeable(form, "hospital");
    }
}
