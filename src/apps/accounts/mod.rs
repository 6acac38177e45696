//! accounts: users (email login), the eight roles, role assignments, JWT with rotating refresh tokens,
//! password reset and invitations, integration API keys.

pub(crate) mod api;
pub mod model;
pub mod password;
pub mod service;
pub mod views;

pub use api::router;
pub use service::{create_admin, create_default_roles};

// ------------------------------------------------------------------------------------ facade for others

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::platform::error::AppResult;
use crate::platform::rbac::Role;

/// Active, non-service users holding `role` at `hospital` (and `department`, when given), oldest
/// assignment first; for a PX_ADMIN the hospital is ignored. Used to route and escalate work items.
///
/// # Errors
/// Database errors.
pub async fn users_with_role<C: ConnectionTrait>(
    conn: &C,
    role: Role,
    hospital: Option<Uuid>,
    department: Option<Uuid>,
) -> AppResult<Vec<Uuid>> {
    use model::{role_assignment as ra, user};
    let mut q = ra::Entity::find().filter(ra::Column::Role.eq(role.code()));
    if role != Role::PxAdmin {
        q = q.filter(ra::Column::HospitalId.eq(hospital));
        if let Some(d) = department {
            q = q.filter(ra::Column::DepartmentId.eq(d));
        }
    }
    let rows = q
        .order_by_asc(ra::Column::CreatedAt)
        .order_by_asc(ra::Column::UserId)
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let live: Vec<Uuid> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::IsServiceAccount.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let mut out = vec![];
    for id in ids {
        if live.contains(&id) && !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// A user's display name and email, for other modules' read models.
#[derive(Debug, Clone)]
pub struct UserName {
    pub name_en: String,
    pub name_ar: String,
    pub email: String,
}

/// Display names of the given users (deleted ones included: history keeps its names).
///
/// # Errors
/// Database errors.
pub async fn user_names<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, UserName>> {
    use model::user;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| {
            let en = format!("{} {}", u.first_name_en, u.last_name_en)
                .trim()
                .to_string();
            let ar = format!("{} {}", u.first_name_ar, u.last_name_ar)
                .trim()
                .to_string();
            (
                u.id,
                UserName {
                    name_en: if en.is_empty() { u.email.clone() } else { en },
                    name_ar: if ar.is_empty() { u.email.clone() } else { ar },
                    email: u.email,
                },
            )
        })
        .collect())
}

/// Whether `id` is a live, active user.
///
/// # Errors
/// Database errors.
pub async fn user_is_active<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<bool> {
    use model::user;
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::IsActive.eq(true))
        .one(conn)
        .await?
        .is_some())
}

/// What the notifications module needs to reach a staff user.
#[derive(Debug, Clone)]
pub struct UserContact {
    pub id: uuid::Uuid,
    pub email: String,
    pub phone: Option<String>,
    pub name_en: String,
    pub name_ar: String,
    /// `en` or `ar`.
    pub preferred_language: String,
}

/// A live, active user's contact details (no permission check: callers have checked their own).
///
/// # Errors
/// Database errors.
pub async fn user_contact<C: sea_orm::ConnectionTrait>(
    conn: &C,
    id: uuid::Uuid,
) -> crate::platform::error::AppResult<Option<UserContact>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(model::user::Entity::find_by_id(id)
        .filter(model::user::Column::DeletedAt.is_null())
        .filter(model::user::Column::IsActive.eq(true))
        .one(conn)
        .await?
        .map(|u| UserContact {
            id: u.id,
            email: u.email,
            phone: u.phone,
            name_en: format!("{} {}", u.first_name_en, u.last_name_en)
                .trim()
                .to_string(),
            name_ar: format!("{} {}", u.first_name_ar, u.last_name_ar)
                .trim()
                .to_string(),
            preferred_language: u.preferred_language,
        }))
}
