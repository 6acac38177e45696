//! JSON handlers under `/api/journeys/`: extract → one service call → response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{Mode, instances, stages, templates};
use super::wire::{
    InstanceIn, InstanceOut, ProgressOut, SimulateIn, SimulateOut, StageInstanceIn,
    StageInstanceOut, StageTemplateIn, StageTemplateOut, TemplateIn, TemplateOut,
};
use crate::apps::organizations::service::path_id;
use crate::platform::auth::Auth;
use crate::platform::error::AppResult;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(
            get_template,
            patch_template,
            put_template,
            delete_template
        ))
        .routes(routes!(simulate_template))
        .routes(routes!(list_stage_templates, create_stage_template))
        .routes(routes!(
            get_stage_template,
            patch_stage_template,
            put_stage_template,
            delete_stage_template
        ))
        .routes(routes!(list_instances, create_instance))
        .routes(routes!(get_instance, patch_instance))
        .routes(routes!(instance_progress))
        .routes(routes!(simulate_instance))
        .routes(routes!(list_stage_instances))
        .routes(routes!(get_stage_instance, patch_stage_instance))
}

/// List, create, retrieve, patch, put and (soft) delete of one configuration resource.
macro_rules! crud {
    (
        $svc:ident, $noun:literal, $list_path:literal, $item_path:literal, $In:ident, $Out:ident,
        $list:ident, $create:ident, $get:ident, $patch:ident, $put:ident, $delete:ident
    ) => {
        #[doc = concat!("List ", $noun, "s in the caller's scope.")]
        #[utoipa::path(get, path = $list_path, tag = "journeys",
            params(
                ("page" = Option<u64>, Query, description = "Page number, from 1"),
                ("page_size" = Option<u64>, Query, description = "Up to 200"),
                ("search" = Option<String>, Query),
                ("ordering" = Option<String>, Query, description = "Field, `-field` for descending"),
            ),
            responses((status = 200, body = Page<$Out>), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $list(State(s): State<AppState>, Auth(p): Auth, q: ListQuery) -> AppResult<Json<Page<$Out>>> {
            Ok(Json($svc::list(&s, &p, &q).await?))
        }

        #[doc = concat!("Create a ", $noun, ".")]
        #[utoipa::path(post, path = $list_path, tag = "journeys", request_body = $In,
            responses((status = 201, body = $Out), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $create(State(s): State<AppState>, Auth(p): Auth, ApiJson(body): ApiJson<$In>) -> AppResult<(StatusCode, Json<$Out>)> {
            Ok((StatusCode::CREATED, Json($svc::create(&s, &p, body).await?)))
        }

        #[doc = concat!("Retrieve a ", $noun, ".")]
        #[utoipa::path(get, path = $item_path, tag = "journeys", params(("id" = uuid::Uuid, Path)),
            responses((status = 200, body = $Out), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::get(&s, &p, path_id(&id)?).await?))
        }

        #[doc = concat!("Change some fields of a ", $noun, ".")]
        #[utoipa::path(patch, path = $item_path, tag = "journeys", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $patch(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Patch).await?))
        }

        #[doc = concat!("Replace a ", $noun, " (every required field must be given).")]
        #[utoipa::path(put, path = $item_path, tag = "journeys", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $put(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Replace).await?))
        }

        #[doc = concat!("Delete a ", $noun, " (soft delete).")]
        #[utoipa::path(delete, path = $item_path, tag = "journeys", params(("id" = uuid::Uuid, Path)),
            responses((status = 204), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<StatusCode> {
            $svc::delete(&s, &p, path_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    templates,
    "journey template",
    "/api/journeys/templates/",
    "/api/journeys/templates/{id}/",
    TemplateIn,
    TemplateOut,
    list_templates,
    create_template,
    get_template,
    patch_template,
    put_template,
    delete_template
);
crud!(
    stages,
    "stage template",
    "/api/journeys/stage-templates/",
    "/api/journeys/stage-templates/{id}/",
    StageTemplateIn,
    StageTemplateOut,
    list_stage_templates,
    create_stage_template,
    get_stage_template,
    patch_stage_template,
    put_stage_template,
    delete_stage_template
);

/// Which stage of the template an event code would complete (nothing is written).
#[utoipa::path(post, path = "/api/journeys/templates/{id}/simulate/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)), request_body = SimulateIn,
    responses((status = 200, body = SimulateOut), (status = 400), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn simulate_template(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SimulateIn>,
) -> AppResult<Json<SimulateOut>> {
    Ok(Json(
        templates::simulate(&s, &p, path_id(&id)?, body).await?,
    ))
}

/// List journey instances (filters: hospital, journey_template, journey_type, patient, encounter_id,
/// status, started_after, started_before; `stage_status` — has a stage in that status; `department` —
/// has a stage completed in that department; `mrn` — the patient's MRN).
#[utoipa::path(get, path = "/api/journeys/instances/", tag = "journeys",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("status" = Option<String>, Query), ("encounter_id" = Option<String>, Query),
        ("stage_status" = Option<String>, Query), ("department" = Option<uuid::Uuid>, Query),
        ("mrn" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<InstanceOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_instances(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<InstanceOut>>> {
    Ok(Json(instances::list(&s, &p, &q).await?))
}

/// Start a journey for an encounter (one PENDING stage instance per stage of the template).
#[utoipa::path(post, path = "/api/journeys/instances/", tag = "journeys", request_body = InstanceIn,
    responses((status = 201, body = InstanceOut), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn create_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<InstanceIn>,
) -> AppResult<(StatusCode, Json<InstanceOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(instances::create(&s, &p, body).await?),
    ))
}

/// Retrieve a journey instance with its stages.
#[utoipa::path(get, path = "/api/journeys/instances/{id}/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = InstanceOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<InstanceOut>> {
    Ok(Json(instances::get(&s, &p, path_id(&id)?).await?))
}

/// Change a journey instance's status (ACTIVE, COMPLETED, CANCELLED).
#[utoipa::path(patch, path = "/api/journeys/instances/{id}/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)), request_body = InstanceIn,
    responses((status = 200, body = InstanceOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn patch_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InstanceIn>,
) -> AppResult<Json<InstanceOut>> {
    Ok(Json(instances::update(&s, &p, path_id(&id)?, body).await?))
}

/// How far the encounter has come: counts, percentage, next stage, every stage.
#[utoipa::path(get, path = "/api/journeys/instances/{id}/progress/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ProgressOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn instance_progress(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<ProgressOut>> {
    Ok(Json(instances::progress(&s, &p, path_id(&id)?).await?))
}

/// Which stage of this instance an event code would complete now (nothing is written).
#[utoipa::path(post, path = "/api/journeys/instances/{id}/simulate/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)), request_body = SimulateIn,
    responses((status = 200, body = SimulateOut), (status = 400), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn simulate_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SimulateIn>,
) -> AppResult<Json<SimulateOut>> {
    Ok(Json(
        instances::simulate(&s, &p, path_id(&id)?, body).await?,
    ))
}

/// List stage instances (filters: journey_instance, hospital, stage_template, status, physician,
/// department, completed_after, completed_before).
#[utoipa::path(get, path = "/api/journeys/stage-instances/", tag = "journeys",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("ordering" = Option<String>, Query), ("journey_instance" = Option<uuid::Uuid>, Query),
        ("status" = Option<String>, Query),
    ),
    responses((status = 200, body = Page<StageInstanceOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_stage_instances(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<StageInstanceOut>>> {
    Ok(Json(instances::list_stages(&s, &p, &q).await?))
}

/// Retrieve a stage instance.
#[utoipa::path(get, path = "/api/journeys/stage-instances/{id}/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = StageInstanceOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_stage_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<StageInstanceOut>> {
    Ok(Json(instances::get_stage(&s, &p, path_id(&id)?).await?))
}

/// Change a stage by hand (status, physician, department, note); completing it publishes
/// `StageCompleted` as an event would.
#[utoipa::path(patch, path = "/api/journeys/stage-instances/{id}/", tag = "journeys",
    params(("id" = uuid::Uuid, Path)), request_body = StageInstanceIn,
    responses((status = 200, body = StageInstanceOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn patch_stage_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StageInstanceIn>,
) -> AppResult<Json<StageInstanceOut>> {
    Ok(Json(
        instances::update_stage(&s, &p, path_id(&id)?, body).await?,
    ))
}
