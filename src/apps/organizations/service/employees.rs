//! Employees (staff records): employee number unique per hospital, optional department, user link and
//! manager (`reports_to`, in the same hospital, never forming a loop).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Form, Mode, Reach, audit, changed, check_department, check_hospital, check_placement,
    check_user, invalid_pk, keep_hospital,
};
use crate::apps::organizations::model::employee;
use crate::apps::organizations::wire::{EmployeeIn, EmployeeOut};
use crate::platform::db::in_txn;
use crate::platform::error::{AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;

const NUMBER_TAKEN: &str = "An employee with this employee number already exists in this hospital.";
const R: Resource = Resource::Employees;
/// A management chain longer than this is treated as a loop.
const MAX_CHAIN: usize = 64;

fn cols() -> ScopeColumns<employee::Column> {
    ScopeColumns {
        hospital: Some(employee::Column::HospitalId),
        department: Some(employee::Column::DepartmentId),
        physician: None,
        assignee: None,
    }
}

fn reach(m: &employee::Model) -> Reach {
    Reach {
        hospital: m.hospital_id,
        department: m.department_id,
        physician: None,
        department_column: true,
        physician_column: false,
        assignee: None,
    }
}

fn spec() -> ListSpec<employee::Entity> {
    use employee::Column as C;
    ListSpec {
        search: vec![
            C::EmployeeNumber,
            C::FirstNameEn,
            C::LastNameEn,
            C::FirstNameAr,
            C::LastNameAr,
            C::JobTitle,
        ],
        ordering: vec![
            ("employee_number", C::EmployeeNumber),
            ("last_name_en", C::LastNameEn),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "department",
                column: C::DepartmentId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "user",
                column: C::UserId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "reports_to",
                column: C::ReportsToId,
                kind: FilterKind::Uuid,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<EmployeeOut>> {
    let select = rbac::scoped(
        employee::Entity::find().filter(employee::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        cols(),
    )?;
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(Into::into))
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<employee::Model> {
    rbac::find_visible(
        conn,
        employee::Entity::find_by_id(id).filter(employee::Column::DeletedAt.is_null()),
        p,
        R,
        cols(),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<EmployeeOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

struct Changes {
    department: bool,
    user: bool,
    reports_to: bool,
}

fn apply(form: &mut Form, i: EmployeeIn, m: &mut employee::Model) -> Changes {
    form.text(
        "employee_number",
        i.employee_number,
        &mut m.employee_number,
        50,
    );
    form.text("first_name_en", i.first_name_en, &mut m.first_name_en, 100);
    form.text("last_name_en", i.last_name_en, &mut m.last_name_en, 100);
    form.opt_text("first_name_ar", i.first_name_ar, &mut m.first_name_ar, 100);
    form.opt_text("last_name_ar", i.last_name_ar, &mut m.last_name_ar, 100);
    form.opt_text("job_title", i.job_title, &mut m.job_title, 150);
    Changes {
        department: form.opt_fk(i.department, &mut m.department_id),
        user: form.opt_fk(i.user, &mut m.user_id),
        reports_to: form.opt_fk(i.reports_to, &mut m.reports_to_id),
    }
}

async fn check_manager<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    m: &employee::Model,
    manager: Uuid,
) -> AppResult<()> {
    if manager == m.id {
        form.add("reports_to", "An employee cannot report to themselves.");
        return Ok(());
    }
    let found = employee::Entity::find_by_id(manager)
        .filter(employee::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .filter(|e| p.reaches(R, Operation::View, reach(e)));
    let Some(boss) = found else {
        form.add("reports_to", invalid_pk(manager));
        return Ok(());
    };
    if boss.hospital_id != m.hospital_id {
        form.add("reports_to", "Must belong to the same hospital.");
        return Ok(());
    }
    // Walk up the chain: reaching this employee again would make a loop.
    let mut next = boss.reports_to_id;
    for _ in 0..MAX_CHAIN {
        let Some(up) = next else { return Ok(()) };
        if up == m.id {
            form.add("reports_to", "This would make a reporting loop.");
            return Ok(());
        }
        next = employee::Entity::find_by_id(up)
            .one(conn)
            .await?
            .and_then(|e| e.reports_to_id);
    }
    form.add("reports_to", "This would make a reporting loop.");
    Ok(())
}

async fn check_refs<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    m: &employee::Model,
    c: Changes,
    number_changed: bool,
) -> AppResult<()> {
    if c.department
        && let Some(d) = m.department_id
    {
        check_department(conn, p, form, "department", d, m.hospital_id).await?;
    }
    if c.user
        && let Some(u) = m.user_id
    {
        check_user(conn, form, u).await?;
    }
    if c.reports_to
        && let Some(b) = m.reports_to_id
    {
        check_manager(conn, p, form, m, b).await?;
    }
    if number_changed && !form.has("employee_number") {
        let taken = employee::Entity::find()
            .filter(employee::Column::HospitalId.eq(m.hospital_id))
            .filter(employee::Column::EmployeeNumber.eq(m.employee_number.as_str()))
            .filter(employee::Column::Id.ne(m.id))
            .count(conn)
            .await?
            > 0;
        if taken {
            form.add("employee_number", NUMBER_TAKEN);
        }
    }
    Ok(())
}

/// # Errors
/// 403 without create permission; 400 with every invalid field.
pub async fn create(state: &AppState, p: &Principal, i: EmployeeIn) -> AppResult<EmployeeOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = employee::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        department_id: None,
        user_id: None,
        employee_number: String::new(),
        first_name_en: String::new(),
        last_name_en: String::new(),
        first_name_ar: String::new(),
        last_name_ar: String::new(),
        job_title: String::new(),
        reports_to_id: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    let hospital = i.hospital;
    form.fk("hospital", hospital, &mut m.hospital_id);
    let changes = apply(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        if hospital.is_some() {
            check_hospital(txn, p, R, Operation::Create, &mut form, m.hospital_id).await?;
            if !form.has("hospital") {
                check_refs(txn, p, &mut form, &m, changes, true).await?;
            }
        }
        check_placement(p, R, Operation::Create, &mut form, reach(&m), "department");
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "employee_number", NUMBER_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "employee.created",
            saved.id,
            Some(saved.hospital_id),
            json!({}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// PATCH or PUT.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: EmployeeIn,
    mode: Mode,
) -> AppResult<EmployeeOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, reach(&before))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        keep_hospital(&mut form, i.hospital, before.hospital_id);
        let changes = apply(&mut form, i, &mut m);
        let number_changed = m.employee_number != before.employee_number;
        check_refs(txn, p, &mut form, &m, changes, number_changed).await?;
        check_placement(p, R, Operation::Edit, &mut form, reach(&m), "department");
        form.finish()?;
        m.updated_at = state.clock.now();
        let fields = changed!(before, m; department_id, user_id, employee_number, first_name_en,
            last_name_en, first_name_ar, last_name_ar, job_title, reports_to_id);
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "employee_number", NUMBER_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "employee.updated",
            id,
            Some(saved.hospital_id),
            json!({"fields": fields}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without delete permission.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(R, Operation::Delete, reach(&m))?;
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.update(txn).await?;
        audit(
            txn,
            state,
            p,
            "employee.deleted",
            id,
            Some(hospital),
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
