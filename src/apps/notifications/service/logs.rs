//! The notification log: lists and details for the API and the console (read-only), and delivery
//! receipts from gateways.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter, Set,
};
use uuid::Uuid;

use super::{DELIVERED, FAILED, SENT, STATUSES};
use crate::apps::notifications::model::log;
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;

pub(crate) const R: Resource = Resource::Notifications;

pub(crate) fn cols() -> ScopeColumns<log::Column> {
    ScopeColumns {
        hospital: Some(log::Column::HospitalId),
        department: None,
        physician: None,
        assignee: None,
    }
}

pub fn spec() -> ListSpec<log::Entity> {
    use log::Column as C;
    ListSpec {
        search: vec![C::TemplateCode, C::Subject, C::ProviderMessageId],
        ordering: vec![
            ("created_at", C::CreatedAt),
            ("scheduled_for", C::ScheduledFor),
            ("status", C::Status),
            ("channel", C::Channel),
            ("attempts", C::Attempts),
        ],
        default_ordering: vec![(C::CreatedAt, Order::Desc), (C::Id, Order::Desc)],
        filters: vec![
            Filter {
                name: "channel",
                column: C::Channel,
                kind: FilterKind::Choice(super::Channel::CODES),
            },
            Filter {
                name: "status",
                column: C::Status,
                kind: FilterKind::Choice(STATUSES),
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "patient",
                column: C::PatientId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "template_code",
                column: C::TemplateCode,
                kind: FilterKind::Text,
            },
            Filter {
                name: "related_type",
                column: C::RelatedType,
                kind: FilterKind::Text,
            },
            Filter {
                name: "related_id",
                column: C::RelatedId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "created_from",
                column: C::CreatedAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "created_to",
                column: C::CreatedAt,
                kind: FilterKind::To,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<log::Model>> {
    let select = rbac::scoped(log::Entity::find(), p, R, Operation::View, cols())?;
    paginate(&state.db, select, &spec(), q).await
}

/// # Errors
/// 404 when not visible.
pub async fn get<C: ConnectionTrait>(conn: &C, p: &Principal, id: Uuid) -> AppResult<log::Model> {
    rbac::find_visible(conn, log::Entity::find_by_id(id), p, R, cols()).await
}

/// A gateway's delivery receipt: `DELIVERED` or `FAILED` for the row with this provider message id.
/// Returns how many rows changed.
///
/// # Errors
/// Database errors.
pub async fn receipt<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    provider_id: &str,
    status: &str,
    error: Option<&str>,
) -> AppResult<usize> {
    let status = status.trim().to_ascii_uppercase();
    if status != DELIVERED && status != FAILED {
        return Ok(0);
    }
    let rows = log::Entity::find()
        .filter(log::Column::ProviderMessageId.eq(provider_id))
        .filter(log::Column::Status.eq(SENT))
        .all(conn)
        .await?;
    let n = rows.len();
    for r in rows {
        let mut a = r.into_active_model();
        a.status = Set(status.clone());
        if status == DELIVERED {
            a.delivered_at = Set(Some(clock.now()));
        } else {
            a.reason = Set(super::DELIVERY_ERROR.into());
            a.error = Set(error
                .unwrap_or("The gateway reported a failed delivery.")
                .into());
        }
        a.updated_at = Set(clock.now());
        a.update(conn).await?;
    }
    Ok(n)
}
