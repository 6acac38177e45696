//! JSON handlers under `/api/surveys/`: extract → one service call → response. The two public
//! endpoints take no credentials (the link token is the credential) and are rate-limited per address.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::analytics::{self, AnalyticsOut};
use super::service::{Mode, instances, public, questions, templates};
use super::wire::{
    InstanceOut, PublicSurvey, QuestionIn, QuestionOut, ResendIn, ResponseOut, SubmitIn, SubmitOut,
    TemplateIn, TemplateOut,
};
use crate::apps::organizations::service::path_id;
use crate::platform::auth::{Auth, client_ip};
use crate::platform::error::{AppError, AppResult};
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
        .routes(routes!(list_questions, create_question))
        .routes(routes!(
            get_question,
            patch_question,
            put_question,
            delete_question
        ))
        .routes(routes!(list_instances))
        .routes(routes!(get_instance))
        .routes(routes!(resend_instance))
        .routes(routes!(list_responses))
        .routes(routes!(get_response))
        .routes(routes!(survey_analytics))
        .routes(routes!(public_survey))
        .routes(routes!(public_submit))
}

/// The caller's address (for the public endpoints' rate limit).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// List, create, retrieve, patch, put and (soft) delete of one configuration resource.
macro_rules! crud {
    (
        $svc:ident, $noun:literal, $list_path:literal, $item_path:literal, $In:ident, $Out:ident,
        $list:ident, $create:ident, $get:ident, $patch:ident, $put:ident, $delete:ident
    ) => {
        #[doc = concat!("List ", $noun, "s in the caller's scope.")]
        #[utoipa::path(get, path = $list_path, tag = "surveys",
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
        #[utoipa::path(post, path = $list_path, tag = "surveys", request_body = $In,
            responses((status = 201, body = $Out), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $create(State(s): State<AppState>, Auth(p): Auth, ApiJson(body): ApiJson<$In>) -> AppResult<(StatusCode, Json<$Out>)> {
            Ok((StatusCode::CREATED, Json($svc::create(&s, &p, body).await?)))
        }

        #[doc = concat!("Retrieve a ", $noun, ".")]
        #[utoipa::path(get, path = $item_path, tag = "surveys", params(("id" = uuid::Uuid, Path)),
            responses((status = 200, body = $Out), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::get(&s, &p, path_id(&id)?).await?))
        }

        #[doc = concat!("Change some fields of a ", $noun, " (on a template in use: in a new version).")]
        #[utoipa::path(patch, path = $item_path, tag = "surveys", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $patch(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Patch).await?))
        }

        #[doc = concat!("Replace a ", $noun, " (every required field must be given).")]
        #[utoipa::path(put, path = $item_path, tag = "surveys", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $put(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json($svc::update(&s, &p, path_id(&id)?, body, Mode::Replace).await?))
        }

        #[doc = concat!("Delete a ", $noun, " (soft delete).")]
        #[utoipa::path(delete, path = $item_path, tag = "surveys", params(("id" = uuid::Uuid, Path)),
            responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<StatusCode> {
            $svc::delete(&s, &p, path_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    templates,
    "survey template",
    "/api/surveys/templates/",
    "/api/surveys/templates/{id}/",
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
    questions,
    "survey question",
    "/api/surveys/questions/",
    "/api/surveys/questions/{id}/",
    QuestionIn,
    QuestionOut,
    list_questions,
    create_question,
    get_question,
    patch_question,
    put_question,
    delete_question
);

/// List survey instances (filters: journey_instance, stage_instance, status, hospital, department,
/// physician, patient, survey_template, journey_type, stage_code, encounter_id, channel, is_negative,
/// created_after, created_before).
#[utoipa::path(get, path = "/api/surveys/instances/", tag = "surveys",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("ordering" = Option<String>, Query),
        ("journey_instance" = Option<uuid::Uuid>, Query), ("stage_instance" = Option<uuid::Uuid>, Query),
        ("status" = Option<String>, Query), ("hospital" = Option<uuid::Uuid>, Query),
        ("is_negative" = Option<bool>, Query),
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

/// Retrieve a survey instance.
#[utoipa::path(get, path = "/api/surveys/instances/{id}/", tag = "surveys",
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

/// Send the invitation again now (staff "resend"; audited). Refused for answered, expired and
/// cancelled surveys.
#[utoipa::path(post, path = "/api/surveys/instances/{id}/resend/", tag = "surveys",
    params(("id" = uuid::Uuid, Path)), request_body = ResendIn,
    responses((status = 202, body = InstanceOut), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn resend_instance(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResendIn>,
) -> AppResult<(StatusCode, Json<InstanceOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(instances::resend(&s, &p, path_id(&id)?, body).await?),
    ))
}

/// List answers (filters: survey_instance, question, hospital, department, physician).
#[utoipa::path(get, path = "/api/surveys/responses/", tag = "surveys",
    params(
        ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("survey_instance" = Option<uuid::Uuid>, Query), ("question" = Option<uuid::Uuid>, Query),
    ),
    responses((status = 200, body = Page<ResponseOut>), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn list_responses(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<ResponseOut>>> {
    Ok(Json(instances::list_responses(&s, &p, &q).await?))
}

/// Retrieve one answer.
#[utoipa::path(get, path = "/api/surveys/responses/{id}/", tag = "surveys",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ResponseOut), (status = 401), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_response(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<ResponseOut>> {
    Ok(Json(instances::get_response(&s, &p, path_id(&id)?).await?))
}

/// Satisfaction aggregates of completed surveys in the caller's scope (same filters as the instances
/// list): by hospital, department, physician, journey type and stage, per day, and department × stage.
#[utoipa::path(get, path = "/api/surveys/analytics/", tag = "surveys",
    params(
        ("hospital" = Option<uuid::Uuid>, Query), ("department" = Option<uuid::Uuid>, Query),
        ("journey_type" = Option<String>, Query), ("created_after" = Option<String>, Query),
        ("created_before" = Option<String>, Query),
    ),
    responses((status = 200, body = AnalyticsOut), (status = 400), (status = 401), (status = 403)),
    security(("jwt" = []), ("api_key" = [])))]
async fn survey_analytics(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<AnalyticsOut>> {
    Ok(Json(analytics::dashboard(&s, &p, &q).await?))
}

/// The patient's form for a link token (no credentials). The first opening marks the survey OPENED.
/// 404 for a token that matches nothing; 410 when answered or expired.
#[utoipa::path(get, path = "/api/surveys/public/{token}/", tag = "surveys",
    params(("token" = String, Path)),
    responses((status = 200, body = PublicSurvey), (status = 404), (status = 410), (status = 429)))]
async fn public_survey(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> AppResult<Json<PublicSurvey>> {
    Ok(Json(public::open(&s, ip.as_deref(), &token).await?))
}

/// Submit the answers (`{"answers": {"<question id>": value}}`) in one transaction: 400 with a
/// message per question id and nothing saved, or COMPLETED with the score computed.
#[utoipa::path(post, path = "/api/surveys/public/{token}/submit/", tag = "surveys",
    params(("token" = String, Path)), request_body = SubmitIn,
    responses((status = 200, body = SubmitOut), (status = 400), (status = 404), (status = 410), (status = 429)))]
async fn public_submit(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<SubmitIn>,
) -> AppResult<Json<SubmitOut>> {
    Ok(Json(
        public::submit(&s, ip.as_deref(), &token, body.answers).await?,
    ))
}
