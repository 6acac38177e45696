//! JSON handlers: extract (principal, list query or body, path id) → one service call → response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Mode, path_id};
use super::wire::{
    DepartmentIn, DepartmentOut, EmployeeIn, EmployeeOut, HospitalIn, HospitalOut,
    HospitalSettings, HospitalSettingsIn, PatientIn, PatientOut, PhysicianIn, PhysicianOut,
};
use crate::platform::auth::Auth;
use crate::platform::error::AppResult;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_hospitals, create_hospital))
        .routes(routes!(
            get_hospital,
            patch_hospital,
            put_hospital,
            delete_hospital
        ))
        .routes(routes!(get_hospital_settings, patch_hospital_settings))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(
            get_department,
            patch_department,
            put_department,
            delete_department
        ))
        .routes(routes!(list_physicians, create_physician))
        .routes(routes!(
            get_physician,
            patch_physician,
            put_physician,
            delete_physician
        ))
        .routes(routes!(list_employees, create_employee))
        .routes(routes!(
            get_employee,
            patch_employee,
            put_employee,
            delete_employee
        ))
        .routes(routes!(list_patients, create_patient))
        .routes(routes!(
            get_patient,
            patch_patient,
            put_patient,
            delete_patient
        ))
}

/// The six DRF-style handlers of one resource (list, create, retrieve, partial update, update,
/// soft delete), each documented in the OpenAPI schema.
macro_rules! crud {
    (
        $svc:ident, $noun:literal, $list_path:literal, $item_path:literal, $In:ident, $Out:ident,
        $list:ident, $create:ident, $get:ident, $patch:ident, $put:ident, $delete:ident
    ) => {
        #[doc = concat!("List ", $noun, "s in the caller's scope.")]
        #[utoipa::path(get, path = $list_path, tag = "organizations",
            params(
                ("page" = Option<u64>, Query, description = "Page number, from 1"),
                ("page_size" = Option<u64>, Query, description = "Up to 200"),
                ("search" = Option<String>, Query),
                ("ordering" = Option<String>, Query, description = "Field, `-field` for descending"),
            ),
            responses((status = 200, body = Page<$Out>), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $list(State(s): State<AppState>, Auth(p): Auth, q: ListQuery) -> AppResult<Json<Page<$Out>>> {
            Ok(Json(service::$svc::list(&s, &p, &q).await?))
        }

        #[doc = concat!("Create a ", $noun, ".")]
        #[utoipa::path(post, path = $list_path, tag = "organizations", request_body = $In,
            responses((status = 201, body = $Out), (status = 400), (status = 401), (status = 403)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $create(State(s): State<AppState>, Auth(p): Auth, ApiJson(body): ApiJson<$In>) -> AppResult<(StatusCode, Json<$Out>)> {
            Ok((StatusCode::CREATED, Json(service::$svc::create(&s, &p, body).await?)))
        }

        #[doc = concat!("Retrieve a ", $noun, ".")]
        #[utoipa::path(get, path = $item_path, tag = "organizations", params(("id" = uuid::Uuid, Path)),
            responses((status = 200, body = $Out), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<Json<$Out>> {
            Ok(Json(service::$svc::get(&s, &p, path_id(&id)?).await?))
        }

        #[doc = concat!("Change some fields of a ", $noun, ".")]
        #[utoipa::path(patch, path = $item_path, tag = "organizations", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $patch(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json(service::$svc::update(&s, &p, path_id(&id)?, body, Mode::Patch).await?))
        }

        #[doc = concat!("Replace a ", $noun, " (every required field must be given).")]
        #[utoipa::path(put, path = $item_path, tag = "organizations", params(("id" = uuid::Uuid, Path)), request_body = $In,
            responses((status = 200, body = $Out), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $put(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, ApiJson(body): ApiJson<$In>) -> AppResult<Json<$Out>> {
            Ok(Json(service::$svc::update(&s, &p, path_id(&id)?, body, Mode::Replace).await?))
        }

        #[doc = concat!("Delete a ", $noun, " (soft delete: it vanishes from every list and look-up).")]
        #[utoipa::path(delete, path = $item_path, tag = "organizations", params(("id" = uuid::Uuid, Path)),
            responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)),
            security(("jwt" = []), ("api_key" = [])))]
        async fn $delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> AppResult<StatusCode> {
            service::$svc::delete(&s, &p, path_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    hospitals,
    "hospital",
    "/api/organizations/hospitals/",
    "/api/organizations/hospitals/{id}/",
    HospitalIn,
    HospitalOut,
    list_hospitals,
    create_hospital,
    get_hospital,
    patch_hospital,
    put_hospital,
    delete_hospital
);
crud!(
    departments,
    "department",
    "/api/organizations/departments/",
    "/api/organizations/departments/{id}/",
    DepartmentIn,
    DepartmentOut,
    list_departments,
    create_department,
    get_department,
    patch_department,
    put_department,
    delete_department
);
crud!(
    physicians,
    "physician",
    "/api/organizations/physicians/",
    "/api/organizations/physicians/{id}/",
    PhysicianIn,
    PhysicianOut,
    list_physicians,
    create_physician,
    get_physician,
    patch_physician,
    put_physician,
    delete_physician
);
crud!(
    employees,
    "employee",
    "/api/organizations/employees/",
    "/api/organizations/employees/{id}/",
    EmployeeIn,
    EmployeeOut,
    list_employees,
    create_employee,
    get_employee,
    patch_employee,
    put_employee,
    delete_employee
);
crud!(
    patients,
    "patient",
    "/api/organizations/patients/",
    "/api/organizations/patients/{id}/",
    PatientIn,
    PatientOut,
    list_patients,
    create_patient,
    get_patient,
    patch_patient,
    put_patient,
    delete_patient
);

/// A hospital's settings (thresholds, channels, triggers, escalation chain, calendar).
#[utoipa::path(get, path = "/api/organizations/hospitals/{id}/settings/", tag = "organizations",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = HospitalSettings), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn get_hospital_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<HospitalSettings>> {
    Ok(Json(
        service::hospitals::get_settings(&s, &p, path_id(&id)?).await?,
    ))
}

/// Change some of a hospital's settings (needs the configure permission).
#[utoipa::path(patch, path = "/api/organizations/hospitals/{id}/settings/", tag = "organizations",
    params(("id" = uuid::Uuid, Path)), request_body = HospitalSettingsIn,
    responses((status = 200, body = HospitalSettings), (status = 400), (status = 401), (status = 403), (status = 404)),
    security(("jwt" = []), ("api_key" = [])))]
async fn patch_hospital_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HospitalSettingsIn>,
) -> AppResult<Json<HospitalSettings>> {
    Ok(Json(
        service::hospitals::update_settings(&s, &p, path_id(&id)?, body).await?,
    ))
}
