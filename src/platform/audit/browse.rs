//! Reading the audit log: a filterable, read-only list and detail, in the caller's scope (a hospital
//! admin sees its hospital's rows; sign-ins and other rows without a hospital are for PX admins).
//! Served at `/api/audit/` and in the console.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::model;
use crate::platform::auth::Auth;
use crate::platform::error::{AppError, AppResult};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;
use crate::platform::ui::resource::{Caps, Col, FilterDef, Input, Kind, Label, Ops, ResourceDef};

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// The user who acted (null for the system or an unknown email at sign-in).
    pub actor: Option<Uuid>,
    pub actor_label: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub hospital: Option<Uuid>,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    /// Whether the sealer has chained this row yet.
    pub sealed: bool,
}

fn out(m: model::Model) -> AuditOut {
    AuditOut {
        id: m.id,
        seq: m.seq,
        occurred_at: m.occurred_at,
        actor: m.actor_id,
        actor_label: m.actor_label,
        action: m.action,
        object_type: m.object_type,
        object_id: m.object_id,
        hospital: m.hospital_id,
        ip: m.ip,
        details: serde_json::from_str(&m.details).unwrap_or(Value::Null),
        sealed: m.hash.is_some(),
    }
}

fn cols() -> ScopeColumns<model::Column> {
    ScopeColumns {
        hospital: Some(model::Column::HospitalId),
        department: None,
        physician: None,
        assignee: None,
    }
}

fn spec() -> ListSpec<model::Entity> {
    use model::Column as C;
    ListSpec {
        search: vec![C::Action, C::ActorLabel, C::ObjectId],
        ordering: vec![
            ("occurred_at", C::OccurredAt),
            ("seq", C::Seq),
            ("action", C::Action),
        ],
        default_ordering: vec![(C::Seq, Order::Desc)],
        filters: vec![
            Filter {
                name: "action",
                column: C::Action,
                kind: FilterKind::Text,
            },
            Filter {
                name: "object_type",
                column: C::ObjectType,
                kind: FilterKind::Text,
            },
            Filter {
                name: "object_id",
                column: C::ObjectId,
                kind: FilterKind::Text,
            },
            Filter {
                name: "actor",
                column: C::ActorId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "occurred_after",
                column: C::OccurredAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "occurred_before",
                column: C::OccurredAt,
                kind: FilterKind::To,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission on the audit log; 400 for bad list parameters.
pub async fn list(s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<AuditOut>> {
    let select = rbac::scoped(
        model::Entity::find(),
        p,
        Resource::AuditLog,
        Operation::View,
        cols(),
    )?;
    Ok(paginate(&s.db, select, &spec(), q).await?.map(out))
}

/// # Errors
/// 404 when out of scope or absent.
pub async fn get(s: &AppState, p: &Principal, id: Uuid) -> AppResult<AuditOut> {
    let row = rbac::find_visible(
        &s.db,
        model::Entity::find().filter(model::Column::Id.eq(id)),
        p,
        Resource::AuditLog,
        cols(),
    )
    .await?;
    Ok(out(row))
}

/// The audit log in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/audit/", tag = "audit",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("search" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("action" = Option<String>, Query), ("object_type" = Option<String>, Query),
        ("object_id" = Option<String>, Query), ("actor" = Option<Uuid>, Query), ("hospital" = Option<Uuid>, Query),
        ("occurred_after" = Option<String>, Query), ("occurred_before" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<AuditOut>), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn api_list(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<AuditOut>>> {
    Ok(Json(list(&s, &p, &q).await?))
}

/// One audit row.
#[utoipa::path(get, path = "/api/audit/{id}/", tag = "audit", params(("id" = Uuid, Path)),
    responses((status = 200, body = AuditOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn api_get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<AuditOut>> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    Ok(Json(get(&s, &p, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_get))
}

pub struct AuditOps;

#[async_trait]
impl Ops for AuditOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(list(s, p, q)
            .await?
            .map(|a| serde_json::to_value(a).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(get(s, p, id).await?).unwrap_or_default())
    }
    async fn create(&self, _: &AppState, _: &Principal, _: Value) -> AppResult<Value> {
        Err(AppError::MethodNotAllowed)
    }
    async fn update(&self, _: &AppState, _: &Principal, _: Uuid, _: Value) -> AppResult<Value> {
        Err(AppError::MethodNotAllowed)
    }
    async fn delete(&self, _: &AppState, _: &Principal, _: Uuid) -> AppResult<()> {
        Err(AppError::MethodNotAllowed)
    }
}

/// The console's audit log: filterable and read-only.
pub fn resource() -> ResourceDef {
    let columns = vec![
        Col::new("occurred_at", "audit.occurred_at", Kind::DateTime).sort("occurred_at"),
        Col::new("action", "audit.action", Kind::Code).sort("action"),
        Col::new("actor_label", "audit.actor", Kind::Text),
        Col::new("object_type", "audit.object_type", Kind::Code),
        Col::new("object_id", "audit.object_id", Kind::Code).optional(),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("ip", "audit.ip", Kind::Code).optional(),
        Col::new("sealed", "audit.sealed", Kind::Bool).optional(),
    ];
    let mut detail = columns.clone();
    detail.push(Col::new("seq", "audit.seq", Kind::Number));
    detail.push(Col::new("details", "audit.details", Kind::Json));
    ResourceDef {
        module: "audit",
        slug: "log",
        resource: Resource::AuditLog,
        title: "nav.audit",
        singular: "audit.singular",
        icon: "journal-text",
        columns,
        filters: vec![
            FilterDef::new("action", "audit.action", Input::Text { max: 100 }),
            FilterDef::new("object_type", "audit.object_type", Input::Text { max: 100 }),
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("actor", "audit.actor", Input::Ref("user")),
            FilterDef::new("occurred_after", "audit.from", Input::Date),
            FilterDef::new("occurred_before", "audit.to", Input::Date),
        ],
        fields: vec![],
        detail,
        label: Label::Key("action"),
        caps: Caps::READ_ONLY,
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(AuditOps),
    }
}
