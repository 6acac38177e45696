//! JSON handlers under `/api/notifications/`: extract → one service call → response.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{inbox, logs, optout, templates};
use super::wire::{InboundIn, InboundOut, InboxOut, LogOut, TemplateIn, TemplateOut, UnreadOut};
use crate::apps::organizations::service::path_id;
use crate::platform::auth::Auth;
use crate::platform::db::begin_write;
use crate::platform::error::{AppError, AppResult};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

/// The header an inbound gateway webhook must carry.
pub const WEBHOOK_SECRET_HEADER: &str = "x-px360-webhook-secret";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_logs))
        .routes(routes!(get_log))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, patch_template, delete_template))
        .routes(routes!(list_inbox))
        .routes(routes!(inbox_unread_count))
        .routes(routes!(inbox_read))
        .routes(routes!(inbox_read_all))
        .routes(routes!(inbound))
}

/// Notification log rows in the caller's scope (recipients masked). Filters: `channel`, `status`,
/// `hospital`, `patient`, `template_code`, `related_type`, `related_id`, `created_from`, `created_to`.
#[utoipa::path(get, path = "/api/notifications/logs/", tag = "notifications",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("channel" = Option<String>, Query, description = "SMS, WHATSAPP, EMAIL, IN_APP (comma-separated)"),
        ("status" = Option<String>, Query, description = "PENDING, SENT, DELIVERED, FAILED, SKIPPED"),
        ("hospital" = Option<uuid::Uuid>, Query),
        ("created_from" = Option<String>, Query), ("created_to" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<LogOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_logs(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<LogOut>>> {
    Ok(Json(
        logs::list(&s, &p, &q).await?.map(|m| LogOut::new(m, false)),
    ))
}

/// One log row with the full rendered message.
#[utoipa::path(get, path = "/api/notifications/logs/{id}/", tag = "notifications",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = LogOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_log(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<LogOut>> {
    Ok(Json(LogOut::new(
        logs::get(&s.db, &p, path_id(&id)?).await?,
        true,
    )))
}

/// Templates: the global ones and the caller's hospitals' overrides.
#[utoipa::path(get, path = "/api/notifications/templates/", tag = "notifications",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("hospital" = Option<uuid::Uuid>, Query), ("channel" = Option<String>, Query),
        ("code" = Option<String>, Query), ("active" = Option<bool>, Query),
    ),
    responses((status = 200, body = Page<TemplateOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_templates(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<TemplateOut>>> {
    Ok(Json(templates::list(&s, &p, &q).await?))
}

/// Create a template (bilingual; variables are checked: unknown `{names}` or unbalanced braces → 400).
#[utoipa::path(post, path = "/api/notifications/templates/", tag = "notifications", request_body = TemplateIn,
    responses((status = 201, body = TemplateOut), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn create_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<TemplateIn>,
) -> AppResult<(StatusCode, Json<TemplateOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(templates::create(&s, &p, body).await?),
    ))
}

/// Retrieve a template.
#[utoipa::path(get, path = "/api/notifications/templates/{id}/", tag = "notifications",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TemplateOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<TemplateOut>> {
    Ok(Json(templates::get(&s, &p, path_id(&id)?).await?))
}

/// Change some fields of a template.
#[utoipa::path(patch, path = "/api/notifications/templates/{id}/", tag = "notifications",
    params(("id" = uuid::Uuid, Path)), request_body = TemplateIn,
    responses((status = 200, body = TemplateOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn patch_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplateIn>,
) -> AppResult<Json<TemplateOut>> {
    Ok(Json(templates::update(&s, &p, path_id(&id)?, body).await?))
}

/// Delete a template (soft delete).
#[utoipa::path(delete, path = "/api/notifications/templates/{id}/", tag = "notifications",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn delete_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    templates::delete(&s, &p, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    #[serde(default)]
    unread: Option<String>,
}

/// The caller's own in-app notifications, newest first (`?unread=true` for unread only).
#[utoipa::path(get, path = "/api/notifications/inbox/", tag = "notifications",
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("unread" = Option<bool>, Query)),
    responses((status = 200, body = Page<InboxOut>), (status = 401)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_inbox(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<InboxQuery>,
    q: ListQuery,
) -> AppResult<Json<Page<InboxOut>>> {
    let unread = matches!(f.unread.as_deref(), Some("true" | "1" | "yes"));
    Ok(Json(
        inbox::list(&s.db, p.user_id, unread, &q)
            .await?
            .map(InboxOut::from),
    ))
}

/// How many of the caller's in-app notifications are unread (the bell's badge).
#[utoipa::path(get, path = "/api/notifications/inbox/unread_count/", tag = "notifications",
    responses((status = 200, body = UnreadOut), (status = 401)),
    security(("jwt" = []), ("api_key" = [])))]
async fn inbox_unread_count(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<UnreadOut>> {
    Ok(Json(UnreadOut {
        unread: inbox::unread_count(&s.db, p.user_id).await?,
    }))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(post, path = "/api/notifications/inbox/{id}/read/", tag = "notifications",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = InboxOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn inbox_read(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<InboxOut>> {
    let txn = begin_write(&s.db).await?;
    let m = inbox::mark_read(&txn, s.clock.as_ref(), p.user_id, path_id(&id)?).await?;
    txn.commit().await?;
    Ok(Json(m.into()))
}

/// Mark all of the caller's notifications read.
#[utoipa::path(post, path = "/api/notifications/inbox/read_all/", tag = "notifications",
    responses((status = 200, body = UnreadOut), (status = 401)),
    security(("jwt" = []), ("api_key" = [])))]
async fn inbox_read_all(State(s): State<AppState>, Auth(p): Auth) -> AppResult<Json<UnreadOut>> {
    let txn = begin_write(&s.db).await?;
    inbox::mark_all_read(&txn, s.clock.as_ref(), p.user_id).await?;
    txn.commit().await?;
    Ok(Json(UnreadOut { unread: 0 }))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A gateway's inbound webhook (`gateway` = `sms` or `whatsapp`), authenticated by the gateway's shared
/// secret in the `X-PX360-Webhook-Secret` header (`PX360_SMS_INBOUND_SECRET`,
/// `PX360_WHATSAPP_INBOUND_SECRET`). A reply whose whole text is a stop word (STOP, UNSUBSCRIBE, إيقاف,
/// إلغاء, …) opts out every patient with that phone number; a delivery receipt (`message_id` +
/// `status` DELIVERED / FAILED) updates the log row.
#[utoipa::path(post, path = "/api/notifications/inbound/{gateway}/", tag = "notifications",
    params(("gateway" = String, Path, description = "sms or whatsapp"),
           ("X-PX360-Webhook-Secret" = String, Header)),
    request_body = InboundIn,
    responses((status = 200, body = InboundOut), (status = 400), (status = 403), (status = 404)))]
async fn inbound(
    State(s): State<AppState>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InboundIn>,
) -> AppResult<Json<InboundOut>> {
    if gateway != "sms" && gateway != "whatsapp" {
        return Err(AppError::NotFound);
    }
    let Some(secret) = s.config.notifications.inbound_secret(&gateway) else {
        return Err(AppError::Forbidden(
            "This gateway has no inbound webhook configured.".into(),
        ));
    };
    let given = headers
        .get(WEBHOOK_SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same(given, secret.expose().as_bytes()) {
        return Err(AppError::Forbidden("Invalid webhook secret.".into()));
    }
    let txn = begin_write(&s.db).await?;
    let clock = s.clock.as_ref();
    let out = if let (Some(from), Some(text)) = (&body.from, &body.text) {
        if optout::is_stop(text) {
            let phone = from.trim().to_string();
            let n = optout::opt_out_by_phone(&txn, clock, &phone, &gateway).await?;
            InboundOut {
                result: "STOP".into(),
                opted_out: n,
                updated: 0,
            }
        } else {
            InboundOut {
                result: "IGNORED".into(),
                opted_out: 0,
                updated: 0,
            }
        }
    } else if let (Some(id), Some(status)) = (&body.message_id, &body.status) {
        let n = logs::receipt(&txn, clock, id, status, body.error.as_deref()).await?;
        InboundOut {
            result: "RECEIPT".into(),
            opted_out: 0,
            updated: n,
        }
    } else {
        return Err(AppError::BadRequest(
            "Expected a reply (from, text) or a delivery receipt (message_id, status).".into(),
        ));
    };
    txn.commit().await?;
    Ok(Json(out))
}
