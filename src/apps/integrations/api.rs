//! Handlers under `/api/integrations/`: extract → one service call → response. HL7 v2 answers an HL7
//! ACK; FHIR answers OperationOutcome on errors.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::fhir;
use super::service::{admin, channels, intake};
use super::wire::{
    BulkResult, ConfigIn, ConfigOut, EventAccepted, EventIn, EventOut, MappingIn, MappingOut,
};
use crate::apps::organizations::service::{Mode, path_id};
use crate::platform::auth::Auth;
use crate::platform::error::{AppError, AppResult};
use crate::platform::json::ApiJson;
use crate::platform::limits;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let single = OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(receive_hl7))
        .routes(routes!(receive_fhir))
        .layer(limits::limit(limits::INBOUND_EVENT));
    let bulk = OpenApiRouter::new()
        .routes(routes!(bulk_create))
        .layer(limits::limit(limits::BULK));
    OpenApiRouter::new()
        .merge(single)
        .merge(bulk)
        .routes(routes!(get_event))
        .routes(routes!(reprocess_event))
        .routes(routes!(list_mappings, create_mapping))
        .routes(routes!(
            get_mapping,
            patch_mapping,
            put_mapping,
            delete_mapping
        ))
        .routes(routes!(list_configs, create_config))
        .routes(routes!(get_config, patch_config, put_config, delete_config))
}

/// Store one inbound event. 202 `{"id", "status": "PENDING"}` once it is durably stored; a duplicate
/// (same external_id, or the same payload within 24 hours without one) answers 200 with the first event.
#[utoipa::path(post, path = "/api/integrations/events/", tag = "integrations", request_body = EventIn,
    responses((status = 202, body = EventAccepted), (status = 200, body = EventAccepted, description = "duplicate"),
        (status = 400), (status = 401), (status = 403), (status = 413), (status = 415), (status = 429)),
    security(("jwt" = []), ("api_key" = [])))]
async fn create_event(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<EventIn>,
) -> AppResult<(StatusCode, Json<EventAccepted>)> {
    let a = intake::accept_json(&s, &p, body).await?;
    let code = if a.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(a)))
}

/// Store up to 1,000 events (8 MiB); each item answers on its own: 201 stored, 200 duplicate, 400.
#[utoipa::path(post, path = "/api/integrations/events/bulk_create/", tag = "integrations",
    request_body = Vec<EventIn>,
    responses((status = 200, body = BulkResult), (status = 400), (status = 401), (status = 403), (status = 413), (status = 429)),
    security(("jwt" = []), ("api_key" = [])))]
async fn bulk_create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<Vec<Value>>,
) -> AppResult<Json<BulkResult>> {
    Ok(Json(channels::accept_bulk(&s, &p, body).await?))
}

/// List inbound events (filters: status, format, source_system, event_code, encounter_id, external_id,
/// hospital, journey_instance, received_after/before, occurred_after/before).
#[utoipa::path(get, path = "/api/integrations/events/", tag = "integrations",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("search" = Option<String>, Query),
        ("ordering" = Option<String>, Query), ("status" = Option<String>, Query),
        ("source_system" = Option<String>, Query), ("event_code" = Option<String>, Query),
        ("encounter_id" = Option<String>, Query), ("hospital" = Option<uuid::Uuid>, Query),
        ("received_after" = Option<String>, Query), ("received_before" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<EventOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<EventOut>>> {
    Ok(Json(admin::list_events(&s, &p, &q).await?))
}

/// Retrieve an inbound event with its processing result.
#[utoipa::path(get, path = "/api/integrations/events/{id}/", tag = "integrations",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = EventOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_event(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<EventOut>> {
    Ok(Json(admin::get_event(&s, &p, path_id(&id)?).await?))
}

/// Send a DEAD, FAILED or IGNORED event back for processing.
#[utoipa::path(post, path = "/api/integrations/events/{id}/reprocess/", tag = "integrations",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = EventOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn reprocess_event(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<EventOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(admin::reprocess(&s, &p, path_id(&id)?).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ChannelQuery {
    /// The hospital, when neither the API key nor the message says.
    hospital_code: Option<String>,
    /// FHIR only: the source system (default `meta.source`, else `fhir`).
    source_system: Option<String>,
}

/// A body of one of the given media types, within the route's size limit.
struct RawBody(Bytes);

async fn raw_body(req: Request, allowed: &[&str], what: &str) -> Result<RawBody, AppError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !allowed.contains(&mime.as_str()) {
        return Err(AppError::UnsupportedMediaType(format!(
            "Unsupported media type in request; expected {what}."
        )));
    }
    let bytes = Bytes::from_request(req, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge("Request body is larger than this endpoint accepts.".into())
        } else {
            AppError::BadRequest(format!(
                "Could not read the request body: {}",
                r.body_text()
            ))
        }
    })?;
    Ok(RawBody(bytes))
}

struct Hl7Body(String);

impl<S: Send + Sync> FromRequest<S> for Hl7Body {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let RawBody(b) = raw_body(
            req,
            &[
                "text/plain",
                "x-application/hl7-v2+er7",
                "application/hl7-v2",
                "application/hl7-v2+er7",
            ],
            "text/plain or x-application/hl7-v2+er7",
        )
        .await?;
        // HL7 v2 is usually ASCII or Latin-1 on the wire; anything not UTF-8 is read leniently.
        Ok(Hl7Body(String::from_utf8_lossy(&b).into_owned()))
    }
}

/// Receive one HL7 v2 message (ER7; segments separated by CR or LF). Answers an HL7 ACK: MSA|AA when
/// stored, AE when a required field is missing, AR when it cannot be read (both stored FAILED).
#[utoipa::path(post, path = "/api/integrations/hl7v2/", tag = "integrations",
    params(ChannelQuery),
    request_body(content = String, content_type = "x-application/hl7-v2+er7"),
    responses((status = 200, description = "HL7 ACK", content_type = "x-application/hl7-v2+er7", body = String),
        (status = 401), (status = 403), (status = 413), (status = 415), (status = 429)),
    security(("jwt" = []), ("api_key" = [])))]
async fn receive_hl7(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ChannelQuery>,
    Hl7Body(raw): Hl7Body,
) -> AppResult<Response> {
    let ack = channels::accept_hl7(
        &s,
        channels::Hl7Caller::Api(&p),
        &raw,
        q.hospital_code.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "x-application/hl7-v2+er7")],
        ack,
    )
        .into_response())
}

fn operation_outcome(status: StatusCode, issues: &[fhir::Issue]) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json")],
        Json(fhir::outcome(issues)),
    )
        .into_response()
}

/// Receive a FHIR R4 Encounter or a Bundle of Encounters. 202 `{"results": [{"id", "status"}]}`; an
/// invalid resource answers 400 with an OperationOutcome and stores nothing.
#[utoipa::path(post, path = "/api/integrations/fhir/", tag = "integrations",
    params(ChannelQuery),
    request_body(content = Object, content_type = "application/fhir+json"),
    responses((status = 202, description = "accepted"), (status = 400, description = "OperationOutcome"),
        (status = 401), (status = 403), (status = 413), (status = 415), (status = 429)),
    security(("jwt" = []), ("api_key" = [])))]
async fn receive_fhir(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ChannelQuery>,
    req: Request,
) -> Response {
    let body = match raw_body(
        req,
        &["application/fhir+json", "application/json"],
        "application/fhir+json",
    )
    .await
    {
        Ok(RawBody(b)) => b,
        Err(e) => return e.into_response(),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return operation_outcome(
                StatusCode::BAD_REQUEST,
                &[fhir::Issue {
                    severity: "error",
                    code: "structure",
                    diagnostics: format!("not valid JSON: {e}"),
                    expression: vec![],
                }],
            );
        }
    };
    match channels::accept_fhir(
        &s,
        &p,
        &value,
        q.source_system.as_deref(),
        q.hospital_code.as_deref(),
    )
    .await
    {
        Ok(accepted) => {
            let all_dup = accepted.iter().all(|a| a.duplicate);
            let code = if all_dup {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            (code, Json(serde_json::json!({"results": accepted}))).into_response()
        }
        Err(Ok(issues)) => operation_outcome(StatusCode::BAD_REQUEST, &issues),
        Err(Err(e)) if e.status() == StatusCode::BAD_REQUEST => operation_outcome(
            StatusCode::BAD_REQUEST,
            &[fhir::Issue::invalid("", e.body().to_string())],
        ),
        Err(Err(e)) => e.into_response(),
    }
}

/// List, create, retrieve, patch, put and (soft) delete of one configuration resource.
macro_rules! crud {
    (
        $noun:literal, $list_path:literal, $item_path:literal, $In:ident, $Out:ident,
        $list:ident => $slist:path, $create:ident => $screate:path, $get:ident => $sget:path,
        $patch:ident, $put:ident => $supdate:path, $delete:ident => $sdelete:path
    ) => {
        #[doc = concat!("List ", $noun, "s in the caller's scope.")]
        #[utoipa::path(get, path = $list_path, tag = "integrations",
            params(
                ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
                ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
            ),
            responses((status = 200, body = Page<$Out>), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $list(State(s): State<AppState>, Auth(p): Auth, q: ListQuery) -> AppResult<Json<Page<$Out>>> {
            Ok(Json($slist(&s, &p, &q).await?))
        }

        #[doc = concat!("Create a ", $noun, " (configure permission).")]
        #[utoipa::path(post, path = $list_path, tag = "integrations", request_body = $In,
            responses((status = 201, body = $Out), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $create(State(s): State<AppState>, Auth(p): Auth, ApiJson(body): ApiJson<$In>) -> AppResult<(StatusCode, Json<$Out>)> {
            Ok((StatusCode::CREATED, Json($screate(&s, &p, body).await?)))
        }

        #[doc = concat!("Retrieve a ", $noun, ".")]
        #[utoipa::path(get, path = $item_path, tag = "integrations", params(("id" = uuid::Uuid, Path)),
            responses((status = 200, body = $Out), (status = 401), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<Json<$Out>> {
            Ok(Json($sget(&s, &p, path_id(&id)?).await?))
        }

        #[doc = concat!("Change some fields of a ", $noun, ".")]
        #[utoipa::path(patch, path = $item_path, tag = "integrations", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $patch(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($supdate(&s, &p, path_id(&id)?, body, Mode::Patch).await?))
        }

        #[doc = concat!("Replace a ", $noun, ".")]
        #[utoipa::path(put, path = $item_path, tag = "integrations", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $put(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($supdate(&s, &p, path_id(&id)?, body, Mode::Replace).await?))
        }

        #[doc = concat!("Delete a ", $noun, " (soft delete).")]
        #[utoipa::path(delete, path = $item_path, tag = "integrations", params(("id" = uuid::Uuid, Path)),
            responses((status = 204), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<StatusCode> {
            $sdelete(&s, &p, path_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    "event mapping",
    "/api/integrations/mappings/",
    "/api/integrations/mappings/{id}/",
    MappingIn,
    MappingOut,
    list_mappings => admin::list_mappings,
    create_mapping => admin::create_mapping,
    get_mapping => admin::get_mapping,
    patch_mapping,
    put_mapping => admin::update_mapping,
    delete_mapping => admin::delete_mapping
);
crud!(
    "integration config",
    "/api/integrations/configs/",
    "/api/integrations/configs/{id}/",
    ConfigIn,
    ConfigOut,
    list_configs => admin::list_configs,
    create_config => admin::create_config,
    get_config => admin::get_config,
    patch_config,
    put_config => admin::update_config,
    delete_config => admin::delete_config
);
