//! Physicians: license number unique per hospital, optional department and user link.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Form, Mode, Reach, audit, changed, check_department, check_hospital, check_placement,
    check_user, keep_hospital,
};
use crate::apps::organizations::model::physician;
use crate::apps::organizations::wire::{PhysicianIn, PhysicianOut};
use crate::platform::db::in_txn;
use crate::platform::error::{AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;

const LICENSE_TAKEN: &str = "A physician with this license number already exists in this hospital.";
const R: Resource = Resource::Physicians;

fn cols() -> ScopeColumns<physician::Column> {
    ScopeColumns {
        hospital: Some(physician::Column::HospitalId),
        department: Some(physician::Column::DepartmentId),
        physician: Some(physician::Column::Id),
        assignee: None,
    }
}

fn reach(m: &physician::Model) -> Reach {
    Reach {
        hospital: m.hospital_id,
        department: m.department_id,
        physician: Some(m.id),
        department_column: true,
        physician_column: true,
        assignee: None,
    }
}

fn spec() -> ListSpec<physician::Entity> {
    use physician::Column as C;
    ListSpec {
        search: vec![
            C::LicenseNumber,
            C::FirstNameEn,
            C::LastNameEn,
            C::FirstNameAr,
            C::LastNameAr,
            C::Specialty,
        ],
        ordering: vec![
            ("license_number", C::LicenseNumber),
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
                name: "license_number",
                column: C::LicenseNumber,
                kind: FilterKind::Text,
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<PhysicianOut>> {
    let select = rbac::scoped(
        physician::Entity::find().filter(physician::Column::DeletedAt.is_null()),
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
) -> AppResult<physician::Model> {
    rbac::find_visible(
        conn,
        physician::Entity::find_by_id(id).filter(physician::Column::DeletedAt.is_null()),
        p,
        R,
        cols(),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<PhysicianOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

/// Applies the body; returns whether (department, user) changed.
fn apply(form: &mut Form, i: PhysicianIn, m: &mut physician::Model) -> (bool, bool) {
    form.text(
        "license_number",
        i.license_number,
        &mut m.license_number,
        50,
    );
    form.text("first_name_en", i.first_name_en, &mut m.first_name_en, 100);
    form.text("last_name_en", i.last_name_en, &mut m.last_name_en, 100);
    form.opt_text("first_name_ar", i.first_name_ar, &mut m.first_name_ar, 100);
    form.opt_text("last_name_ar", i.last_name_ar, &mut m.last_name_ar, 100);
    form.opt_text("specialty", i.specialty, &mut m.specialty, 100);
    form.phone("phone", i.phone, &mut m.phone);
    form.email("email", i.email, &mut m.email);
    form.flag(i.active, &mut m.active);
    let d = form.opt_fk(i.department, &mut m.department_id);
    let u = form.opt_fk(i.user, &mut m.user_id);
    (d, u)
}

async fn license_taken<C: ConnectionTrait>(conn: &C, m: &physician::Model) -> AppResult<bool> {
    Ok(physician::Entity::find()
        .filter(physician::Column::HospitalId.eq(m.hospital_id))
        .filter(physician::Column::LicenseNumber.eq(m.license_number.as_str()))
        .filter(physician::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

async fn check_refs<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    m: &physician::Model,
    (dept_changed, user_changed): (bool, bool),
    license_changed: bool,
) -> AppResult<()> {
    if dept_changed && let Some(d) = m.department_id {
        check_department(conn, p, form, "department", d, m.hospital_id).await?;
    }
    if user_changed && let Some(u) = m.user_id {
        check_user(conn, form, u).await?;
    }
    if license_changed && !form.has("license_number") && license_taken(conn, m).await? {
        form.add("license_number", LICENSE_TAKEN);
    }
    Ok(())
}

/// # Errors
/// 403 without create permission; 400 with every invalid field.
pub async fn create(state: &AppState, p: &Principal, i: PhysicianIn) -> AppResult<PhysicianOut> {
    in_txn(&state.db, async move |txn| {
        create_in(txn, state, p, i).await
    })
    .await
}

/// [`create`] inside the caller's transaction (imports run many in one).
///
/// # Errors
/// As [`create`].
pub async fn create_in<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    p: &Principal,
    i: PhysicianIn,
) -> AppResult<PhysicianOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = physician::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        department_id: None,
        user_id: None,
        license_number: String::new(),
        first_name_en: String::new(),
        last_name_en: String::new(),
        first_name_ar: String::new(),
        last_name_ar: String::new(),
        specialty: String::new(),
        phone: None,
        email: None,
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    let hospital = i.hospital;
    form.fk("hospital", hospital, &mut m.hospital_id);
    let refs = apply(&mut form, i, &mut m);
    {
        if hospital.is_some() {
            check_hospital(txn, p, R, Operation::Create, &mut form, m.hospital_id).await?;
            if !form.has("hospital") {
                check_refs(txn, p, &mut form, &m, refs, true).await?;
            }
        }
        check_placement(
            p,
            R,
            Operation::Create,
            &mut form,
            Reach {
                physician: None,
                ..reach(&m)
            },
            "department",
        );
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "license_number", LICENSE_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "physician.created",
            saved.id,
            Some(saved.hospital_id),
            json!({}),
        )
        .await?;
        Ok(saved.into())
    }
}

/// PATCH or PUT.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: PhysicianIn,
    mode: Mode,
) -> AppResult<PhysicianOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, reach(&before))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        keep_hospital(&mut form, i.hospital, before.hospital_id);
        let refs = apply(&mut form, i, &mut m);
        check_refs(
            txn,
            p,
            &mut form,
            &m,
            refs,
            m.license_number != before.license_number,
        )
        .await?;
        check_placement(p, R, Operation::Edit, &mut form, reach(&m), "department");
        form.finish()?;
        m.updated_at = state.clock.now();
        let fields = changed!(before, m; department_id, user_id, license_number, first_name_en,
            last_name_en, first_name_ar, last_name_ar, specialty, phone, email, active);
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "license_number", LICENSE_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "physician.updated",
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
            "physician.deleted",
            id,
            Some(hospital),
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
