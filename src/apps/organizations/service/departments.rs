//! Departments: a tree per hospital with a materialised `path` (`/<root id>/…/<own id>/`) so subtree
//! scopes are one `LIKE` query. Moving a department rewrites its whole subtree's paths in the same
//! transaction; cycles are refused.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Form, Mode, Reach, audit, changed, check_department, check_hospital, check_placement,
    keep_hospital,
};
use crate::apps::organizations::model::{CATEGORIES, department};
use crate::apps::organizations::wire::{DepartmentIn, DepartmentOut};
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;

const CODE_TAKEN: &str = "A department with this code already exists in this hospital.";
const R: Resource = Resource::Departments;

fn cols() -> ScopeColumns<department::Column> {
    ScopeColumns {
        hospital: Some(department::Column::HospitalId),
        department: Some(department::Column::Id),
        physician: None,
        assignee: None,
    }
}

fn reach(m: &department::Model) -> Reach {
    Reach {
        hospital: m.hospital_id,
        department: Some(m.id),
        physician: None,
        department_column: true,
        physician_column: false,
        assignee: None,
    }
}

fn spec() -> ListSpec<department::Entity> {
    use department::Column as C;
    ListSpec {
        search: vec![C::Code, C::NameEn, C::NameAr],
        ordering: vec![
            ("code", C::Code),
            ("name_en", C::NameEn),
            ("path", C::Path),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::Code, Order::Asc), (C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "parent",
                column: C::ParentId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "category",
                column: C::Category,
                kind: FilterKind::Choice(CATEGORIES),
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
pub async fn list(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<DepartmentOut>> {
    let select = rbac::scoped(
        department::Entity::find().filter(department::Column::DeletedAt.is_null()),
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
) -> AppResult<department::Model> {
    rbac::find_visible(
        conn,
        department::Entity::find_by_id(id).filter(department::Column::DeletedAt.is_null()),
        p,
        R,
        cols(),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<DepartmentOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

fn apply(form: &mut Form, i: DepartmentIn, m: &mut department::Model) -> bool {
    form.text("code", i.code, &mut m.code, 32);
    form.text("name_en", i.name_en, &mut m.name_en, 200);
    form.text("name_ar", i.name_ar, &mut m.name_ar, 200);
    form.choice("category", i.category, &mut m.category, CATEGORIES, true);
    form.flag(i.active, &mut m.active);
    form.opt_fk(i.parent, &mut m.parent_id)
}

async fn code_taken<C: ConnectionTrait>(conn: &C, m: &department::Model) -> AppResult<bool> {
    Ok(department::Entity::find()
        .filter(department::Column::HospitalId.eq(m.hospital_id))
        .filter(department::Column::Code.eq(m.code.as_str()))
        .filter(department::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

/// Resolves `m.parent_id` and sets `m.path`; refuses a parent in the department's own subtree.
async fn place<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    m: &mut department::Model,
) -> AppResult<()> {
    let own = format!("{}/", m.id);
    let Some(parent) = m.parent_id else {
        m.path = format!("/{own}");
        return Ok(());
    };
    if parent == m.id {
        form.add("parent", "A department cannot be its own parent.");
        return Ok(());
    }
    if let Some(pd) = check_department(conn, p, form, "parent", parent, m.hospital_id).await? {
        if pd.path.contains(&format!("/{own}")) {
            form.add(
                "parent",
                "A department cannot be moved under one of its own sub-departments.",
            );
        } else {
            m.path = format!("{}{own}", pd.path);
        }
    }
    Ok(())
}

/// # Errors
/// 403 without create permission; 400 with every invalid field (a hospital or parent out of scope
/// reads like a nonexistent one).
pub async fn create(state: &AppState, p: &Principal, i: DepartmentIn) -> AppResult<DepartmentOut> {
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
    i: DepartmentIn,
) -> AppResult<DepartmentOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = department::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        parent_id: None,
        code: String::new(),
        name_en: String::new(),
        name_ar: String::new(),
        category: String::new(),
        path: String::new(),
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    let hospital = i.hospital;
    form.fk("hospital", hospital, &mut m.hospital_id);
    apply(&mut form, i, &mut m);
    {
        if hospital.is_some() {
            check_hospital(txn, p, R, Operation::Create, &mut form, m.hospital_id).await?;
            if !form.has("hospital") {
                place(txn, p, &mut form, &mut m).await?;
                if !form.has("code") && code_taken(txn, &m).await? {
                    form.add("code", CODE_TAKEN);
                }
            }
        }
        let r = Reach {
            department: m.parent_id,
            ..reach(&m)
        };
        check_placement(p, R, Operation::Create, &mut form, r, "parent");
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "department.created",
            saved.id,
            Some(saved.hospital_id),
            json!({"code": saved.code}),
        )
        .await?;
        Ok(saved.into())
    }
}

/// PATCH or PUT. A new parent moves the whole subtree.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields or a cycle.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: DepartmentIn,
    mode: Mode,
) -> AppResult<DepartmentOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, reach(&before))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        keep_hospital(&mut form, i.hospital, before.hospital_id);
        let moved = apply(&mut form, i, &mut m);
        if moved {
            place(txn, p, &mut form, &mut m).await?;
        }
        if !form.has("code") && m.code != before.code && code_taken(txn, &m).await? {
            form.add("code", CODE_TAKEN);
        }
        check_placement(p, R, Operation::Edit, &mut form, reach(&m), "parent");
        form.finish()?;
        let now = state.clock.now();
        m.updated_at = now;
        let fields = changed!(before, m; parent_id, code, name_en, name_ar, category, active);
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        if saved.path != before.path {
            let subtree = department::Entity::find()
                .filter(department::Column::Path.starts_with(before.path.as_str()))
                .filter(department::Column::Id.ne(id))
                .all(txn)
                .await?;
            for d in subtree {
                let suffix = d.path[before.path.len()..].to_string();
                let mut am = d.into_active_model();
                am.path = sea_orm::Set(format!("{}{suffix}", saved.path));
                am.updated_at = sea_orm::Set(now);
                am.update(txn).await?;
            }
        }
        audit(
            txn,
            state,
            p,
            "department.updated",
            id,
            Some(saved.hospital_id),
            json!({"fields": fields}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// Soft-deletes a department without live sub-departments.
///
/// # Errors
/// 404 out of view scope, 403 without delete permission, 400 while it has live children.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(R, Operation::Delete, reach(&m))?;
        let children = department::Entity::find()
            .filter(department::Column::ParentId.eq(id))
            .filter(department::Column::DeletedAt.is_null())
            .count(txn)
            .await?;
        if children > 0 {
            return Err(AppError::BadRequest(
                "This department has active sub-departments; move or delete them first.".into(),
            ));
        }
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.update(txn).await?;
        audit(
            txn,
            state,
            p,
            "department.deleted",
            id,
            Some(hospital),
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
