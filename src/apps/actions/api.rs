//! JSON handlers under `/api/actions/`: extract → one service call → response.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::attachments::{self, Upload};
use super::service::config::{self, routing_rules, sla_configs};
use super::service::{Mode, actions};
use super::wire::{
    ActionIn, ActionOut, ApproveIn, AssignIn, AttachmentOut, CommentIn, EscalateIn,
    EscalationChainIn, EscalationLevelOut, LogOut, RejectIn, RoutingRuleIn, RoutingRuleOut,
    SlaConfigIn, SlaConfigOut, TransitionIn,
};
use crate::apps::organizations::service::path_id;
use crate::platform::auth::Auth;
use crate::platform::error::{AppError, AppResult};
use crate::platform::json::ApiJson;
use crate::platform::limits;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    // The configured attachment limit (at most 1 GiB) is enforced while reading the parts.
    let uploads = OpenApiRouter::new()
        .routes(routes!(list_attachments, upload_attachment))
        .layer(limits::limit(1024 * limits::MIB + limits::MIB));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(list_actions, create_action))
        .routes(routes!(get_action, patch_action))
        .routes(routes!(transition))
        .routes(routes!(assign))
        .routes(routes!(escalate))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(list_logs, add_comment))
        .routes(routes!(download_attachment))
        .routes(routes!(list_sla_configs, create_sla_config))
        .routes(routes!(
            get_sla_config,
            patch_sla_config,
            put_sla_config,
            delete_sla_config
        ))
        .routes(routes!(list_routing_rules, create_routing_rule))
        .routes(routes!(
            get_routing_rule,
            patch_routing_rule,
            put_routing_rule,
            delete_routing_rule
        ))
        .routes(routes!(escalation_levels, set_escalation_chain))
}

/// The Action Center board: actions in the caller's scope. Filters: `status`, `priority`, `severity`,
/// `category`, `source` (source type), `source_id`, `department`, `assignee`, `hospital`,
/// `created_after` / `created_before`, `due_after` / `due_before`, `sla` (`DUE_SOON`, `OVERDUE`),
/// `escalated`, `mine`, `open`; `search` over the title; `ordering` by `created_at`, `due_at`,
/// `priority`, `status`, `title`, `escalation_level`.
#[utoipa::path(get, path = "/api/actions/actions/", tag = "actions",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("status" = Option<String>, Query), ("priority" = Option<String>, Query),
        ("source" = Option<String>, Query), ("department" = Option<uuid::Uuid>, Query),
        ("assignee" = Option<uuid::Uuid>, Query), ("hospital" = Option<uuid::Uuid>, Query),
        ("sla" = Option<String>, Query, description = "DUE_SOON or OVERDUE"),
        ("created_after" = Option<String>, Query), ("created_before" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<ActionOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_actions(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<ActionOut>>> {
    Ok(Json(actions::list(&s, &p, &q).await?))
}

/// Open an action by hand (routing and SLA apply as for triggered ones).
#[utoipa::path(post, path = "/api/actions/actions/", tag = "actions", request_body = ActionIn,
    responses((status = 201, body = ActionOut), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn create_action(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<ActionIn>,
) -> AppResult<(StatusCode, Json<ActionOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(actions::create(&s, &p, body).await?),
    ))
}

/// Retrieve an action (with its SLA status and allowed transitions).
#[utoipa::path(get, path = "/api/actions/actions/{id}/", tag = "actions",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ActionOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_action(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::get(&s, &p, path_id(&id)?).await?))
}

/// Change title, description, category, priority or severity.
#[utoipa::path(patch, path = "/api/actions/actions/{id}/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = ActionIn,
    responses((status = 200, body = ActionOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn patch_action(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::update(&s, &p, path_id(&id)?, body).await?))
}

/// Move the action along its workflow (`{"status", "note"}`); CLOSED only through `approve`.
#[utoipa::path(post, path = "/api/actions/actions/{id}/transition/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = TransitionIn,
    responses((status = 200, body = ActionOut), (status = 400, description = "`{\"status\": [\"cannot move from X to Y; allowed: A, B\"]}`"),
        (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn transition(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransitionIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(
        actions::transition(&s, &p, path_id(&id)?, body).await?,
    ))
}

/// Reassign (`{"assignee", "department", "note"}`).
#[utoipa::path(post, path = "/api/actions/actions/{id}/assign/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = AssignIn,
    responses((status = 200, body = ActionOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn assign(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::assign(&s, &p, path_id(&id)?, body).await?))
}

/// Escalate one level of the hospital's escalation chain (`{"reason"}`).
#[utoipa::path(post, path = "/api/actions/actions/{id}/escalate/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = EscalateIn,
    responses((status = 200, body = ActionOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn escalate(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EscalateIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::escalate(&s, &p, path_id(&id)?, body).await?))
}

/// Approve and close (`{"note"}`): PENDING_APPROVAL → CLOSED; refused without evidence when required.
#[utoipa::path(post, path = "/api/actions/actions/{id}/approve/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = ApproveIn,
    responses((status = 200, body = ActionOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn approve(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApproveIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::approve(&s, &p, path_id(&id)?, body).await?))
}

/// Send back to IN_PROGRESS with a reason (`{"reason"}`).
#[utoipa::path(post, path = "/api/actions/actions/{id}/reject/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = RejectIn,
    responses((status = 200, body = ActionOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn reject(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectIn>,
) -> AppResult<Json<ActionOut>> {
    Ok(Json(actions::reject(&s, &p, path_id(&id)?, body).await?))
}

/// The action's timeline: every change, comment, reminder, escalation and notification.
#[utoipa::path(get, path = "/api/actions/actions/{id}/logs/", tag = "actions",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<LogOut>), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_logs(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<LogOut>>> {
    Ok(Json(actions::logs(&s, &p, path_id(&id)?).await?))
}

/// Add a comment to the discussion (`{"message"}`).
#[utoipa::path(post, path = "/api/actions/actions/{id}/logs/", tag = "actions",
    params(("id" = uuid::Uuid, Path)), request_body = CommentIn,
    responses((status = 201, body = LogOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn add_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommentIn>,
) -> AppResult<(StatusCode, Json<LogOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(actions::comment(&s, &p, path_id(&id)?, body).await?),
    ))
}

/// The action's attachments (evidence).
#[utoipa::path(get, path = "/api/actions/actions/{id}/attachments/", tag = "actions",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<AttachmentOut>), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_attachments(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<AttachmentOut>>> {
    Ok(Json(attachments::list(&s, &p, path_id(&id)?).await?))
}

/// Reads the multipart parts `file`, `is_evidence` and `note`, stopping at `max` bytes of file.
///
/// # Errors
/// 413 over `max`; 400 for a malformed body or no file.
pub async fn read_upload(mut mp: Multipart, max: usize) -> AppResult<Upload> {
    let mut u = Upload {
        is_evidence: true,
        ..Default::default()
    };
    let mut got_file = false;
    let mut too_big = false;
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::field("file", e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "file" => {
                got_file = true;
                u.file_name = field.file_name().unwrap_or("file").to_string();
                u.content_type = field.content_type().map(str::to_string);
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        AppError::PayloadTooLarge(e.body_text())
                    } else {
                        AppError::field("file", e.body_text())
                    }
                })? {
                    // Past the limit the rest is read and dropped, so the client gets its 413
                    // instead of a reset connection; nothing of it is kept.
                    if too_big || u.bytes.len() + chunk.len() > max {
                        too_big = true;
                        u.bytes.clear();
                        continue;
                    }
                    u.bytes.extend_from_slice(&chunk);
                }
            }
            "is_evidence" => {
                let v = field.text().await.unwrap_or_default();
                u.is_evidence = !matches!(v.trim(), "false" | "0" | "off" | "no");
            }
            "note" => u.note = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    if too_big {
        return Err(AppError::PayloadTooLarge(format!(
            "The file is larger than the limit of {} MiB.",
            max / limits::MIB
        )));
    }
    if !got_file {
        return Err(AppError::field("file", "No file was submitted."));
    }
    Ok(u)
}

/// Attach a file (multipart: `file`, optional `is_evidence` (default true) and `note`). Size and type
/// limits come from the configuration; a refused file is not stored.
#[utoipa::path(post, path = "/api/actions/actions/{id}/attachments/", tag = "actions",
    params(("id" = uuid::Uuid, Path)),
    request_body(content_type = "multipart/form-data", description = "file, is_evidence, note"),
    responses((status = 201, body = AttachmentOut), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 413)),
    security(("jwt" = []), ("api_key" = [])))]
async fn upload_attachment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    mp: Multipart,
) -> AppResult<(StatusCode, Json<AttachmentOut>)> {
    let id = path_id(&id)?;
    // Scope before reading the body: an out-of-scope caller learns nothing and uploads nothing.
    actions::get(&s, &p, id).await?;
    let u = read_upload(mp, s.config.attachment_max_bytes).await?;
    Ok((
        StatusCode::CREATED,
        Json(attachments::upload(&s, &p, id, u).await?),
    ))
}

/// `Content-Disposition` for a stored file name (RFC 6266 with an RFC 5987 UTF-8 form).
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Download an attachment (only for callers who may view its action).
#[utoipa::path(get, path = "/api/actions/attachments/{id}/", tag = "actions",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the file"), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn download_attachment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (name, kind, bytes) = attachments::download(&s, &p, path_id(&id)?).await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_DISPOSITION, disposition(&name)),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// List, create, retrieve, patch, put and (soft) delete of one configuration resource.
macro_rules! crud {
    (
        $svc:ident, $noun:literal, $list_path:literal, $item_path:literal, $In:ident, $Out:ident,
        $list:ident, $create:ident, $get:ident, $patch:ident, $put:ident, $delete:ident
    ) => {
        #[doc = concat!("List ", $noun, "s in the caller's scope.")]
        #[utoipa::path(get, path = $list_path, tag = "actions",
            params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
                ("hospital" = Option<uuid::Uuid>, Query), ("ordering" = Option<String>, Query)),
            responses((status = 200, body = Page<$Out>), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $list(State(s): State<AppState>, Auth(p): Auth, q: ListQuery) -> AppResult<Json<Page<$Out>>> {
            Ok(Json($svc::list(&s, &p, &q).await?))
        }

        #[doc = concat!("Create a ", $noun, ".")]
        #[utoipa::path(post, path = $list_path, tag = "actions", request_body = $In,
            responses((status = 201, body = $Out), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $create(State(s): State<AppState>, Auth(p): Auth, ApiJson(body): ApiJson<$In>) -> AppResult<(StatusCode, Json<$Out>)> {
            Ok((StatusCode::CREATED, Json($svc::create(&s, &p, body).await?)))
        }

        #[doc = concat!("Retrieve a ", $noun, ".")]
        #[utoipa::path(get, path = $item_path, tag = "actions", params(("id" = uuid::Uuid, Path)),
            responses((status = 200, body = $Out), (status = 401), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::get(&s, &p, path_id(&id)?).await?))
        }

        #[doc = concat!("Change some fields of a ", $noun, ".")]
        #[utoipa::path(patch, path = $item_path, tag = "actions", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $patch(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Patch).await?))
        }

        #[doc = concat!("Replace a ", $noun, ".")]
        #[utoipa::path(put, path = $item_path, tag = "actions", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $put(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Replace).await?))
        }

        #[doc = concat!("Delete a ", $noun, " (soft delete).")]
        #[utoipa::path(delete, path = $item_path, tag = "actions", params(("id" = uuid::Uuid, Path)),
            responses((status = 204), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<StatusCode> {
            $svc::delete(&s, &p, path_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    sla_configs,
    "action SLA config",
    "/api/actions/sla-configs/",
    "/api/actions/sla-configs/{id}/",
    SlaConfigIn,
    SlaConfigOut,
    list_sla_configs,
    create_sla_config,
    get_sla_config,
    patch_sla_config,
    put_sla_config,
    delete_sla_config
);
crud!(
    routing_rules,
    "routing rule",
    "/api/actions/routing-rules/",
    "/api/actions/routing-rules/{id}/",
    RoutingRuleIn,
    RoutingRuleOut,
    list_routing_rules,
    create_routing_rule,
    get_routing_rule,
    patch_routing_rule,
    put_routing_rule,
    delete_routing_rule
);

/// Each visible hospital's escalation chain (from its settings), level by level (`?hospital=`).
#[utoipa::path(get, path = "/api/actions/escalation-levels/", tag = "actions",
    params(("hospital" = Option<uuid::Uuid>, Query)),
    responses((status = 200, body = Vec<EscalationLevelOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn escalation_levels(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Vec<EscalationLevelOut>>> {
    Ok(Json(config::escalation_levels(&s, &p, &q).await?))
}

/// Replace a hospital's escalation chain (`{"hospital", "escalation_chain": ["DEPARTMENT_MANAGER", …]}`).
#[utoipa::path(put, path = "/api/actions/escalation-levels/", tag = "actions",
    request_body = EscalationChainIn,
    responses((status = 200, body = Vec<EscalationLevelOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn set_escalation_chain(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<EscalationChainIn>,
) -> AppResult<Json<Vec<EscalationLevelOut>>> {
    Ok(Json(config::set_escalation_chain(&s, &p, body).await?))
}
