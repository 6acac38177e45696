//! `/api/auth/…` handlers: extract, call one service function, answer.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{
    self, ApiKeyCreate, ApiKeyOut, AssignIn, ChangePassword, RoleOut, TokenPair, UserCreate,
    UserCreated, UserOut, UserPatch,
};
use crate::platform::auth::{Auth, client_ip};
use crate::platform::error::AppResult;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(token_refresh))
        .routes(routes!(refresh_alias))
        .routes(routes!(logout))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(list_users, create_user))
        .routes(routes!(me))
        .routes(routes!(update_profile))
        .routes(routes!(change_password))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(assign_role))
        .routes(routes!(remove_role))
        .routes(routes!(unlock))
        .routes(routes!(invite))
        .routes(routes!(list_roles))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

/// The client address, for throttling and audit.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh: String,
}

#[derive(Serialize, ToSchema)]
pub struct Detail {
    pub detail: String,
}

fn detail(s: &str) -> Json<Detail> {
    Json(Detail { detail: s.into() })
}

/// Sign in: email and password → access and refresh tokens.
#[utoipa::path(post, path = "/api/auth/token/", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "Wrong credentials"), (status = 429, description = "Too many failed attempts")))]
async fn token(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<TokenRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(service::login(&s, &b.email, &b.password, ip).await?))
}

/// Exchange a refresh token for a new pair (the old refresh token is spent).
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid, expired or spent token")))]
async fn token_refresh(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(service::refresh(&s, &b.refresh).await?))
}

/// Same as `/api/auth/token/refresh/`.
#[utoipa::path(post, path = "/api/auth/refresh/", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid, expired or spent token")))]
async fn refresh_alias(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(service::refresh(&s, &b.refresh).await?))
}

/// Revoke a refresh token and its whole rotation chain.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 401)))]
async fn logout(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshRequest>,
) -> AppResult<StatusCode> {
    service::logout(&s, &b.refresh).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

/// Ask for a password reset link (always 200, whether or not the email has an account).
#[utoipa::path(post, path = "/api/auth/password/reset/", tag = "auth", request_body = ResetRequest, responses((status = 200, body = Detail)))]
async fn password_reset(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<ResetRequest>,
) -> AppResult<Json<Detail>> {
    service::request_reset(&s, &b.email, ip).await?;
    Ok(detail(
        "If the address has an account, a reset link has been sent.",
    ))
}

/// Set a new password with a reset or invitation token.
#[utoipa::path(post, path = "/api/auth/password/reset/confirm/", tag = "auth", request_body = ResetConfirm,
    responses((status = 200, body = Detail), (status = 400, description = "Invalid token or weak password")))]
async fn password_reset_confirm(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ResetConfirm>,
) -> AppResult<Json<Detail>> {
    service::confirm_password_token(&s, &b.token, &b.new_password).await?;
    Ok(detail("Password has been set."))
}

/// Users in the caller's reach. Filters: `hospital`, `department`, `role`, `is_active`, `is_service_account`.
#[utoipa::path(get, path = "/api/auth/users/", tag = "auth", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Page<UserOut>)))]
async fn list_users(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<UserOut>>> {
    Ok(Json(service::list_users(&s, &p, &q).await?))
}

/// Create a user; without `password` an invitation link is issued.
#[utoipa::path(post, path = "/api/auth/users/", tag = "auth", security(("jwt" = []), ("api_key" = [])), request_body = UserCreate,
    responses((status = 201, body = UserCreated), (status = 400), (status = 403)))]
async fn create_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<UserCreate>,
) -> AppResult<(StatusCode, Json<UserCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_user(&s, &p, b).await?),
    ))
}

/// The caller.
#[utoipa::path(get, path = "/api/auth/users/me/", tag = "auth", security(("jwt" = [])), responses((status = 200, body = UserOut)))]
async fn me(State(s): State<AppState>, Auth(p): Auth) -> AppResult<Json<UserOut>> {
    Ok(Json(service::me(&s, &p).await?))
}

/// Update the caller's names, phone and language.
#[utoipa::path(patch, path = "/api/auth/users/update_profile/", tag = "auth", security(("jwt" = [])), request_body = UserPatch, responses((status = 200, body = UserOut)))]
async fn update_profile(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<UserPatch>,
) -> AppResult<Json<UserOut>> {
    Ok(Json(service::update_profile(&s, &p, b).await?))
}

/// Change the caller's password (revokes their refresh tokens).
#[utoipa::path(post, path = "/api/auth/users/change_password/", tag = "auth", security(("jwt" = [])), request_body = ChangePassword, responses((status = 200, body = Detail), (status = 400)))]
async fn change_password(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<ChangePassword>,
) -> AppResult<Json<Detail>> {
    service::change_password(&s, &p, b).await?;
    Ok(detail("Password changed."))
}

#[utoipa::path(get, path = "/api/auth/users/{id}/", tag = "auth", security(("jwt" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 404)))]
async fn get_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<UserOut>> {
    Ok(Json(service::get_user(&s, &p, id).await?))
}

#[utoipa::path(patch, path = "/api/auth/users/{id}/", tag = "auth", security(("jwt" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = UserPatch,
    responses((status = 200, body = UserOut), (status = 400), (status = 403), (status = 404)))]
async fn update_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<UserPatch>,
) -> AppResult<Json<UserOut>> {
    Ok(Json(service::update_user(&s, &p, id, b).await?))
}

#[utoipa::path(delete, path = "/api/auth/users/{id}/", tag = "auth", security(("jwt" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_user(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    service::delete_user(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a role assignment (`{"role", "hospital", "department"}`).
#[utoipa::path(post, path = "/api/auth/users/{id}/assign_role/", tag = "auth", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = AssignIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 403), (status = 404)))]
async fn assign_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AssignIn>,
) -> AppResult<Json<UserOut>> {
    Ok(Json(service::assign_role(&s, &p, id, b).await?))
}

/// Remove a role assignment.
#[utoipa::path(post, path = "/api/auth/users/{id}/remove_role/", tag = "auth", security(("jwt" = [])), params(("id" = Uuid, Path)), request_body = AssignIn,
    responses((status = 200, body = UserOut), (status = 400), (status = 403), (status = 404)))]
async fn remove_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AssignIn>,
) -> AppResult<Json<UserOut>> {
    Ok(Json(service::remove_role(&s, &p, id, b).await?))
}

/// Clear the sign-in throttle for this user.
#[utoipa::path(post, path = "/api/auth/users/{id}/unlock/", tag = "auth", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Detail), (status = 403), (status = 404)))]
async fn unlock(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Detail>> {
    service::unlock(&s, &p, id).await?;
    Ok(detail("Unlocked."))
}

#[derive(Serialize, ToSchema)]
pub struct InvitationOut {
    pub invitation_link: String,
}

/// Issue a fresh invitation link (sent to the user's email).
#[utoipa::path(post, path = "/api/auth/users/{id}/invite/", tag = "auth", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationOut), (status = 403), (status = 404)))]
async fn invite(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<InvitationOut>> {
    Ok(Json(InvitationOut {
        invitation_link: service::invite(&s, &p, id).await?,
    }))
}

/// The eight roles with their levels and permissions.
#[utoipa::path(get, path = "/api/auth/roles/", tag = "auth", security(("jwt" = []), ("api_key" = [])), responses((status = 200, body = Vec<RoleOut>)))]
async fn list_roles(State(s): State<AppState>, Auth(p): Auth) -> AppResult<Json<Vec<RoleOut>>> {
    Ok(Json(service::list_roles(&s, &p).await?))
}

#[utoipa::path(get, path = "/api/auth/api-keys/", tag = "auth", security(("jwt" = [])), responses((status = 200, body = Page<ApiKeyOut>)))]
async fn list_api_keys(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
) -> AppResult<Json<Page<ApiKeyOut>>> {
    Ok(Json(service::list_api_keys(&s, &p, &q).await?))
}

/// Create an integration API key for a hospital; the key is in this response only.
#[utoipa::path(post, path = "/api/auth/api-keys/", tag = "auth", security(("jwt" = [])), request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyOut), (status = 400), (status = 403)))]
async fn create_api_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<ApiKeyCreate>,
) -> AppResult<(StatusCode, Json<ApiKeyOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_api_key(&s, &p, b).await?),
    ))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/api/auth/api-keys/{id}/", tag = "auth", security(("jwt" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyOut), (status = 403), (status = 404)))]
async fn revoke_api_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ApiKeyOut>> {
    Ok(Json(service::revoke_api_key(&s, &p, id).await?))
}
