//! accounts: users (email login), the eight roles, role assignments, JWT with rotating refresh tokens,
//! password reset and invitations, integration API keys.

mod api;
pub mod model;
pub mod password;
pub mod service;
pub mod views;

pub use api::router;
pub use service::{create_admin, create_default_roles};

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
