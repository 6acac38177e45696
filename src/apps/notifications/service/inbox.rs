//! Staff in-app notifications (the topbar bell): every user sees and marks only their own.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use crate::apps::notifications::model::inbox;
use crate::platform::clock::Clock;
use crate::platform::error::{AppError, AppResult};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};

pub fn spec() -> ListSpec<inbox::Entity> {
    use inbox::Column as C;
    ListSpec {
        search: vec![C::Title, C::Body],
        ordering: vec![("created_at", C::CreatedAt)],
        default_ordering: vec![(C::CreatedAt, Order::Desc), (C::Id, Order::Desc)],
        filters: vec![Filter {
            name: "hospital",
            column: C::HospitalId,
            kind: FilterKind::Uuid,
        }],
    }
}

/// The user's notifications, newest first; `unread_only` hides read ones.
///
/// # Errors
/// 400 for bad list parameters.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    unread_only: bool,
    q: &ListQuery,
) -> AppResult<Page<inbox::Model>> {
    let mut select = inbox::Entity::find().filter(inbox::Column::UserId.eq(user));
    if unread_only {
        select = select.filter(inbox::Column::ReadAt.is_null());
    }
    paginate(conn, select, &spec(), q).await
}

/// The newest `n` notifications of the user (for the bell's dropdown).
///
/// # Errors
/// Database errors.
pub async fn latest<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    n: u64,
) -> AppResult<Vec<inbox::Model>> {
    Ok(inbox::Entity::find()
        .filter(inbox::Column::UserId.eq(user))
        .order_by(inbox::Column::CreatedAt, Order::Desc)
        .order_by(inbox::Column::Id, Order::Desc)
        .limit(n)
        .all(conn)
        .await?)
}

/// # Errors
/// Database errors.
pub async fn unread_count<C: ConnectionTrait>(conn: &C, user: Uuid) -> AppResult<u64> {
    Ok(inbox::Entity::find()
        .filter(inbox::Column::UserId.eq(user))
        .filter(inbox::Column::ReadAt.is_null())
        .count(conn)
        .await?)
}

/// Marks one of the user's notifications read (idempotent). Another user's id is 404.
///
/// # Errors
/// 404 when it is not the user's.
pub async fn mark_read<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    user: Uuid,
    id: Uuid,
) -> AppResult<inbox::Model> {
    let row = inbox::Entity::find_by_id(id)
        .filter(inbox::Column::UserId.eq(user))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.read_at.is_some() {
        return Ok(row);
    }
    inbox::Entity::update_many()
        .col_expr(inbox::Column::ReadAt, Expr::value(clock.now()))
        .filter(inbox::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(inbox::Model {
        read_at: Some(clock.now()),
        ..row
    })
}

/// Marks every unread notification of the user read; returns how many.
///
/// # Errors
/// Database errors.
pub async fn mark_all_read<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    user: Uuid,
) -> AppResult<u64> {
    Ok(inbox::Entity::update_many()
        .col_expr(inbox::Column::ReadAt, Expr::value(clock.now()))
        .filter(inbox::Column::UserId.eq(user))
        .filter(inbox::Column::ReadAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}
