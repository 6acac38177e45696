//! Console pages of accounts: sign-in and sign-out with cookie sessions, password change, reset and
//! invitation acceptance, the profile, users (with role assignments), roles (read-only permission
//! table) and API keys. Handlers call the same services as the API.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Form, Router};
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde_json::Value;
use tower_sessions::Session;
use uuid::Uuid;

use super::api::ClientIp;
use super::service::{self, AssignIn, ChangePassword, UserCreate, UserPatch};
use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::i18n::Lang;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource, Role, permissions};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{
    self, FieldView, detail_page, field_views, parse_id, render, see_other,
};
use crate::platform::ui::csrf;
use crate::platform::ui::ctx::{self, Ctx, SESSION_AUTH_AT, SESSION_USER, Ui, UiResult};
use crate::platform::ui::pages::safe_next;
use crate::platform::ui::present::{self, FormValues};
use crate::platform::ui::registry::{Profile, RefSource, Registry};
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Ops, ResourceDef, from_body,
};

// ------------------------------------------------------------------------------- sign in and out

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    ctx: Ctx,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn plain_ctx(session: &Session, headers: &HeaderMap, uri: &Uri, title: &str) -> Ctx {
    let here = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let c = ctx::anonymous(session, headers, here).await;
    let t = c.t(title);
    c.titled(t)
}

async fn login_form(
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<NextQuery>,
) -> UiResult {
    if let Ok(Some(_)) = session.get::<Uuid>(SESSION_USER).await {
        return Ok(see_other(safe_next(&q.next)));
    }
    let ctx = plain_ctx(&session, &headers, &uri, "login.title").await;
    render(&LoginPage {
        ctx,
        email: String::new(),
        next: q.next,
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    ClientIp(ip): ClientIp,
    Form(f): Form<LoginForm>,
) -> UiResult {
    match service::authenticate(&s, &f.email, &f.password, ip, "ui").await {
        Ok(uid) => {
            // A new session id at sign-in defeats session fixation; a new CSRF token too.
            session
                .cycle_id()
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
            session
                .insert(SESSION_USER, uid)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
            session
                .insert(SESSION_AUTH_AT, s.clock.now().timestamp())
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
            csrf::rotate(&session).await;
            Ok(see_other(safe_next(&f.next)))
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::TooManyRequests { .. })) => {
            let ctx = plain_ctx(&session, &headers, &uri, "login.title").await;
            let (status, key) = match e {
                AppError::TooManyRequests { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "login.throttled")
                }
                _ => (StatusCode::UNAUTHORIZED, "login.invalid"),
            };
            let page = LoginPage {
                error: Some(ctx.t(key).to_string()),
                ctx,
                email: f.email,
                next: f.next,
            };
            Ok((status, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(s): State<AppState>, session: Session) -> UiResult {
    if let Ok(Some(uid)) = session.get::<Uuid>(SESSION_USER).await
        && let Ok(p) = crate::platform::auth::load_principal(&s.db, uid, None, None).await
    {
        service::logout_session(&s, &p).await?;
    }
    let lang: Option<String> = session.get(ctx::SESSION_LANG).await.ok().flatten();
    session
        .flush()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    if let Some(l) = lang {
        let _ = session.insert(ctx::SESSION_LANG, l).await;
    }
    ctx::flash(
        &session,
        "info",
        crate::platform::i18n::t(
            Lang::parse(
                &session
                    .get::<String>(ctx::SESSION_LANG)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
            "login.signed_out",
        ),
    )
    .await;
    Ok(see_other("/login/"))
}

// ------------------------------------------------------------------------------ passwords, profile

#[derive(Template)]
#[template(path = "accounts/password_form.html")]
struct PasswordPage {
    ctx: Ctx,
    heading: &'static str,
    intro: Option<&'static str>,
    action: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    plain: bool,
}

fn change_fields() -> Vec<Field> {
    vec![
        Field::new("old_password", "password.old", Input::Password).required(),
        Field::new("new_password", "password.new", Input::Password)
            .required()
            .help("password.policy"),
        Field::new("confirm_password", "password.confirm", Input::Password).required(),
    ]
}

fn set_fields() -> Vec<Field> {
    vec![
        Field::new("new_password", "password.new", Input::Password)
            .required()
            .help("password.policy"),
        Field::new("confirm_password", "password.confirm", Input::Password).required(),
    ]
}

fn confirm_matches(form: &FormValues, errors: &mut FieldErrors) {
    let get = |k: &str| {
        form.get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    if get("new_password") != get("confirm_password") {
        errors.add("confirm_password", "The two passwords do not match.");
    }
}

async fn password_page(ui: Ui, State(s): State<AppState>) -> UiResult {
    let (fields, general) = field_views(
        &s,
        &ui.ctx,
        &change_fields(),
        &FormValues::new(),
        &FieldErrors::new(),
        true,
    )
    .await;
    let t = ui.t("user.change_password");
    render(&PasswordPage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        heading: "user.change_password",
        intro: None,
        action: "/accounts/password/".into(),
        fields,
        general,
        plain: false,
    })
}

async fn change_password(
    ui: Ui,
    State(s): State<AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let values = present::values_from_form(&form);
    let mut errors = FieldErrors::new();
    confirm_matches(&values, &mut errors);
    let get = |k: &str| {
        values
            .get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    if errors.is_empty() {
        match service::change_password(
            &s,
            &ui.p,
            ChangePassword {
                old_password: get("old_password"),
                new_password: get("new_password"),
            },
        )
        .await
        {
            Ok(()) => {
                // The password changed: a fresh session id, as at sign-in.
                let _ = ui.session.cycle_id().await;
                ui.flash("success", ui.t("password.changed")).await;
                return Ok(see_other("/"));
            }
            Err(AppError::Validation(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let (fields, general) = field_views(
        &s,
        &ui.ctx,
        &change_fields(),
        &FormValues::new(),
        &errors,
        true,
    )
    .await;
    let t = ui.t("user.change_password");
    let page = PasswordPage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        heading: "user.change_password",
        intro: None,
        action: "/accounts/password/".into(),
        fields,
        general,
        plain: false,
    };
    Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "accounts/reset_request.html")]
struct ResetRequestPage {
    ctx: Ctx,
    sent: bool,
}

async fn reset_request_form(session: Session, headers: HeaderMap, uri: Uri) -> UiResult {
    let ctx = plain_ctx(&session, &headers, &uri, "reset.title").await;
    render(&ResetRequestPage { ctx, sent: false })
}

#[derive(Deserialize)]
struct ResetRequestForm {
    #[serde(default)]
    email: String,
}

async fn reset_request(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    ClientIp(ip): ClientIp,
    Form(f): Form<ResetRequestForm>,
) -> UiResult {
    // Same answer whether or not the address has an account.
    if !f.email.trim().is_empty() {
        service::request_reset(&s, &f.email, ip).await?;
    }
    let ctx = plain_ctx(&session, &headers, &uri, "reset.title").await;
    render(&ResetRequestPage { ctx, sent: true })
}

async fn token_page(
    session: &Session,
    headers: &HeaderMap,
    uri: &Uri,
    s: &AppState,
    invite: bool,
    errors: &FieldErrors,
    status: StatusCode,
) -> UiResult {
    let (title, intro) = if invite {
        ("invite.title", "invite.intro")
    } else {
        ("reset.set_title", "reset.set_intro")
    };
    let ctx = plain_ctx(session, headers, uri, title).await;
    let (fields, general) =
        field_views(s, &ctx, &set_fields(), &FormValues::new(), errors, true).await;
    let page = PasswordPage {
        action: uri.path().to_string(),
        ctx,
        heading: title,
        intro: Some(intro),
        fields,
        general,
        plain: true,
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn set_password_form(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
) -> UiResult {
    let invite = uri.path().starts_with("/accept-invitation/");
    token_page(
        &session,
        &headers,
        &uri,
        &s,
        invite,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn set_password(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let invite = uri.path().starts_with("/accept-invitation/");
    let values = present::values_from_form(&form);
    let mut errors = FieldErrors::new();
    confirm_matches(&values, &mut errors);
    if errors.is_empty() {
        let pw = values
            .get("new_password")
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default();
        match service::confirm_password_token(&s, &token, &pw).await {
            Ok(()) => {
                let lang = ctx::visitor_lang(&session, &headers).await;
                ctx::flash(
                    &session,
                    "success",
                    crate::platform::i18n::t(lang, "reset.done"),
                )
                .await;
                return Ok(see_other("/login/"));
            }
            Err(AppError::Validation(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    token_page(
        &session,
        &headers,
        &uri,
        &s,
        invite,
        &errors,
        StatusCode::BAD_REQUEST,
    )
    .await
}

const LANGUAGES: &[&str] = &["ar", "en"];

fn profile_fields() -> Vec<Field> {
    vec![
        Field::new(
            "first_name_en",
            "user.first_name_en",
            Input::Text { max: 100 },
        ),
        Field::new(
            "last_name_en",
            "user.last_name_en",
            Input::Text { max: 100 },
        ),
        Field::new(
            "first_name_ar",
            "user.first_name_ar",
            Input::Text { max: 100 },
        ),
        Field::new(
            "last_name_ar",
            "user.last_name_ar",
            Input::Text { max: 100 },
        ),
        Field::new("phone", "common.phone", Input::Phone),
        Field::new(
            "preferred_language",
            "user.language",
            Input::Select(LANGUAGES),
        )
        .required(),
    ]
}

#[derive(Template)]
#[template(path = "ui/form.html")]
struct ProfilePage {
    ctx: Ctx,
    heading: String,
    action: String,
    cancel: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
}

async fn profile_page(
    ui: &Ui,
    s: &AppState,
    values: &FormValues,
    errors: &FieldErrors,
) -> UiResult {
    let (fields, general) = field_views(s, &ui.ctx, &profile_fields(), values, errors, false).await;
    let t = ui.t("user.profile");
    let page = ProfilePage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        heading: t.to_string(),
        action: "/accounts/profile/".into(),
        cancel: "/".into(),
        fields,
        general,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn profile_form(ui: Ui, State(s): State<AppState>) -> UiResult {
    let me = serde_json::to_value(service::me(&s, &ui.p).await?).unwrap_or_default();
    let values = present::values_from_object(&profile_fields(), &me);
    profile_page(&ui, &s, &values, &FieldErrors::new()).await
}

async fn profile_save(
    ui: Ui,
    State(s): State<AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let values = present::values_from_form(&form);
    let (body, _) = present::body_from_form(&profile_fields(), &values, false);
    let patch: UserPatch = from_body(body)?;
    match service::update_profile(&s, &ui.p, patch).await {
        Ok(_) => {
            ui.flash("success", ui.t("user.profile_saved")).await;
            Ok(see_other("/accounts/profile/"))
        }
        Err(AppError::Validation(e)) => profile_page(&ui, &s, &values, &e).await,
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------- users

pub struct UserOps;

#[async_trait]
impl Ops for UserOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(service::list_users(s, p, q)
            .await?
            .map(|u| serde_json::to_value(u).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(service::get_user(s, p, id).await?).unwrap_or_default())
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        let input: UserCreate = from_body(body)?;
        let created = service::create_user(s, p, input).await?;
        if let Some(link) = &created.invitation_link {
            tracing::info!(target: "notifications", user = %created.user.id, link = %link, "invitation issued from the console");
        }
        Ok(serde_json::to_value(created.user).unwrap_or_default())
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        let patch: UserPatch = from_body(body)?;
        Ok(serde_json::to_value(service::update_user(s, p, id, patch).await?).unwrap_or_default())
    }
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        service::delete_user(s, p, id).await
    }
}

const ROLE_CODES: &[&str] = &[
    "PX_ADMIN",
    "HOSPITAL_ADMIN",
    "DEPARTMENT_MANAGER",
    "PX_COORDINATOR",
    "PHYSICIAN",
    "NURSE",
    "STAFF",
    "VIEWER",
];

fn users_def() -> ResourceDef {
    let name_cols = || {
        vec![
            Col::new("first_name", "user.first_name", Kind::Bilingual),
            Col::new("last_name", "user.last_name", Kind::Bilingual),
        ]
    };
    let mut columns = vec![Col::new("email", "user.email", Kind::Text).sort("email")];
    columns.extend(name_cols());
    columns.extend([
        Col::new("is_active", "user.active", Kind::Bool),
        Col::new("last_login_at", "user.last_login", Kind::DateTime).sort("last_login_at"),
        Col::new("created_at", "common.created_at", Kind::DateTime)
            .sort("created_at")
            .optional(),
    ]);
    let mut detail = vec![Col::new("email", "user.email", Kind::Text)];
    detail.extend(name_cols());
    detail.extend([
        Col::new("phone", "common.phone", Kind::Text),
        Col::new("preferred_language", "user.language", Kind::Code),
        Col::new("is_active", "user.active", Kind::Bool),
        Col::new("is_service_account", "user.service_account", Kind::Bool),
        Col::new("last_login_at", "user.last_login", Kind::DateTime),
        Col::new("created_at", "common.created_at", Kind::DateTime),
    ]);
    ResourceDef {
        module: "accounts",
        slug: "users",
        resource: Resource::Users,
        title: "nav.users",
        singular: "user.singular",
        icon: "people",
        columns,
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("role", "user.role", Input::Select(ROLE_CODES)),
            FilterDef::new("is_active", "user.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("email", "user.email", Input::Email)
                .required()
                .create_only(),
            Field::new(
                "first_name_en",
                "user.first_name_en",
                Input::Text { max: 100 },
            ),
            Field::new(
                "last_name_en",
                "user.last_name_en",
                Input::Text { max: 100 },
            ),
            Field::new(
                "first_name_ar",
                "user.first_name_ar",
                Input::Text { max: 100 },
            ),
            Field::new(
                "last_name_ar",
                "user.last_name_ar",
                Input::Text { max: 100 },
            ),
            Field::new("phone", "common.phone", Input::Phone),
            Field::new(
                "preferred_language",
                "user.language",
                Input::Select(LANGUAGES),
            ),
            Field::new("password", "user.initial_password", Input::Password)
                .create_only()
                .help("user.password_help"),
        ],
        detail,
        label: Label::Name("first_name", "last_name"),
        caps: Caps::ALL,
        links: vec![],
        searchable: true,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(UserOps),
    }
}

pub struct RoleRow {
    id: String,
    role: String,
    hospital: String,
    department: String,
}

#[derive(Template)]
#[template(path = "accounts/user_roles.html")]
struct UserRolesPanel<'a> {
    ctx: &'a Ctx,
    user_id: String,
    roles: Vec<RoleRow>,
    can_assign: bool,
    can_edit: bool,
    fields: Vec<FieldView>,
    is_service: bool,
}

fn assign_fields() -> Vec<Field> {
    vec![
        Field::new("role", "user.role", Input::Select(ROLE_CODES)).required(),
        Field::new("hospital", "org.hospital", Input::Ref("hospital")),
        Field::new("department", "org.department", Input::Ref("department")).within("hospital"),
    ]
}

async fn user_detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    user_detail_page(&s, &ui, &id, &FormValues::new(), &FieldErrors::new()).await
}

async fn user_detail_page(
    s: &AppState,
    ui: &Ui,
    id: &str,
    values: &FormValues,
    errors: &FieldErrors,
) -> UiResult {
    let id = parse_id(id)?;
    let Some(def) = s.ui.find("accounts/users") else {
        return Err(AppError::NotFound.into());
    };
    let user = def.ops.get(s, &ui.p, id).await?;
    let assignments: Vec<Value> = user
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cols = vec![
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("department", "org.department", Kind::Ref("department")),
    ];
    let labels = crud::resolve_labels(s, ui.lang(), &cols, &assignments).await;
    let roles = assignments
        .iter()
        .map(|a| RoleRow {
            id: a
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            role: present::choice_label(
                ui.lang(),
                a.get("role").and_then(Value::as_str).unwrap_or(""),
            ),
            hospital: present::cell(&ui.ctx, &cols[0], a, &labels).text,
            department: present::cell(&ui.ctx, &cols[1], a, &labels).text,
        })
        .collect();
    let (fields, _) = field_views(s, &ui.ctx, &assign_fields(), values, errors, true).await;
    let panel = UserRolesPanel {
        ctx: &ui.ctx,
        user_id: id.to_string(),
        roles,
        can_assign: ui.p.can(Resource::Users, Operation::Assign),
        can_edit: ui.p.can(Resource::Users, Operation::Edit),
        fields,
        is_service: user
            .get("is_service_account")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
    .render()?;
    let page = detail_page(s, &def, ui, id, panel).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn assign_role(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let uid = parse_id(&id)?;
    let values = present::values_from_form(&form);
    let (body, _) = present::body_from_form(&assign_fields(), &values, true);
    let input: AssignIn = from_body(body)?;
    match service::assign_role(&s, &ui.p, uid, input).await {
        Ok(_) => {
            ui.flash("success", ui.t("user.role_assigned")).await;
            Ok(see_other(&format!("/accounts/users/{uid}/")))
        }
        Err(AppError::Validation(e)) => user_detail_page(&s, &ui, &id, &values, &e).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    assignment: Uuid,
}

async fn remove_role(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<RemoveForm>,
) -> UiResult {
    let uid = parse_id(&id)?;
    let user = service::get_user(&s, &ui.p, uid).await?;
    let Some(a) = user.roles.iter().find(|a| a.id == f.assignment) else {
        return Err(AppError::NotFound.into());
    };
    let input = AssignIn {
        role: a.role.clone(),
        hospital: a.hospital,
        department: a.department,
    };
    service::remove_role(&s, &ui.p, uid, input).await?;
    ui.flash("success", ui.t("user.role_removed")).await;
    Ok(see_other(&format!("/accounts/users/{uid}/")))
}

async fn invite(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let uid = parse_id(&id)?;
    service::invite(&s, &ui.p, uid).await?;
    ui.flash("success", ui.t("user.invited")).await;
    Ok(see_other(&format!("/accounts/users/{uid}/")))
}

async fn unlock(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let uid = parse_id(&id)?;
    service::unlock(&s, &ui.p, uid).await?;
    ui.flash("success", ui.t("user.unlocked")).await;
    Ok(see_other(&format!("/accounts/users/{uid}/")))
}

// ------------------------------------------------------------------------------------------- roles

pub struct PermRow {
    resource: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "accounts/roles.html")]
struct RolesPage {
    ctx: Ctx,
    roles: Vec<(String, String, String)>,
    ops: Vec<&'static str>,
    selected: String,
    matrix: Vec<PermRow>,
}

#[derive(Deserialize)]
struct RoleQuery {
    #[serde(default)]
    role: String,
}

async fn roles_page(ui: Ui, State(s): State<AppState>, Query(q): Query<RoleQuery>) -> UiResult {
    let roles = service::list_roles(&s, &ui.p).await?;
    let selected = Role::parse(&q.role).unwrap_or(Role::PxAdmin);
    let matrix = crate::platform::rbac::Resource::ALL
        .iter()
        .map(|r| {
            let granted = permissions::grants(selected, *r);
            PermRow {
                resource: ui.t(&format!("resource.{}", r.as_str())).to_string(),
                cells: Operation::ALL
                    .iter()
                    .map(|o| {
                        if granted.contains(o) {
                            "✓".to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let t = ui.t("nav.roles");
    render(&RolesPage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        roles: roles
            .into_iter()
            .map(|r| {
                let name = ui.ctx.pick(&r.name_en, &r.name_ar).to_string();
                (r.code, name, ui.ctx.num(i64::from(r.level)))
            })
            .collect(),
        ops: Operation::ALL
            .iter()
            .map(|o| ui.t(&format!("op.{}", o.as_str())))
            .collect(),
        selected: selected.code().to_string(),
        matrix,
    })
}

// ---------------------------------------------------------------------------------------- API keys

pub struct ApiKeyOps;

#[async_trait]
impl Ops for ApiKeyOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(service::list_api_keys(s, p, q)
            .await?
            .map(|k| serde_json::to_value(k).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        service::get_api_key(s, p, id)
            .await
            .map(|k| serde_json::to_value(k).unwrap_or_default())
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        Ok(
            serde_json::to_value(service::create_api_key(s, p, from_body(body)?).await?)
                .unwrap_or_default(),
        )
    }
    async fn update(&self, _: &AppState, _: &Principal, _: Uuid, _: Value) -> AppResult<Value> {
        Err(AppError::MethodNotAllowed)
    }
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        service::revoke_api_key(s, p, id).await.map(|_| ())
    }
}

const KEY_ROLES: &[&str] = &["VIEWER", "PX_COORDINATOR", "HOSPITAL_ADMIN"];

fn api_keys_def() -> ResourceDef {
    let cols = vec![
        Col::new("name", "apikey.name", Kind::Text).sort("name"),
        Col::new("prefix", "apikey.prefix", Kind::Code),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("last_used_at", "apikey.last_used", Kind::DateTime).sort("last_used_at"),
        Col::new("revoked_at", "apikey.revoked_at", Kind::DateTime),
        Col::new("created_at", "common.created_at", Kind::DateTime)
            .sort("created_at")
            .optional(),
    ];
    ResourceDef {
        module: "accounts",
        slug: "api-keys",
        resource: Resource::ApiKeys,
        title: "nav.api_keys",
        singular: "apikey.singular",
        icon: "key",
        detail: cols.clone(),
        columns: cols,
        filters: vec![FilterDef::new(
            "hospital",
            "org.hospital",
            Input::Ref("hospital"),
        )],
        fields: vec![
            Field::new("name", "apikey.name", Input::Text { max: 100 }).required(),
            Field::new("hospital", "org.hospital", Input::Ref("hospital")).required(),
            Field::new("role", "user.role", Input::Select(KEY_ROLES)).help("apikey.role_help"),
        ],
        label: Label::Key("name"),
        caps: Caps {
            create: true,
            edit: false,
            delete: true,
            export: true,
            pdf: false,
            import: false,
        },
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: true,
        importer: None,
        ops: Arc::new(ApiKeyOps),
    }
}

#[derive(Template)]
#[template(path = "accounts/api_key_created.html")]
struct KeyCreatedPage {
    ctx: Ctx,
    name: String,
    key: String,
    href: String,
}

async fn api_key_new(ui: Ui, State(s): State<AppState>) -> UiResult {
    ui.p.require(Resource::ApiKeys, Operation::Create)?;
    crud::resource_form(
        &s,
        "accounts/api-keys",
        &ui,
        &FormValues::new(),
        &FieldErrors::new(),
    )
    .await
}

async fn api_key_create(
    ui: Ui,
    State(s): State<AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let Some(def) = s.ui.find("accounts/api-keys") else {
        return Err(AppError::NotFound.into());
    };
    let values = present::values_from_form(&form);
    let (body, _) = present::body_from_form(&def.fields, &values, true);
    match def.ops.create(&s, &ui.p, body).await {
        Ok(v) => {
            s.ui.invalidate_counts();
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let key = v
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let t = ui.t("apikey.created_title");
            // Shown in this response only: the key is stored hashed and never again readable.
            let page = KeyCreatedPage {
                ctx: ui
                    .ctx
                    .clone()
                    .crumb(ui.t("nav.api_keys"), Some(def.base()))
                    .crumb(t, None)
                    .titled(t),
                name,
                key,
                href: format!("{}{id}/", def.base()),
            };
            let mut r = Html(page.render()?).into_response();
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
        Err(AppError::Validation(e)) => {
            crud::resource_form(&s, "accounts/api-keys", &ui, &values, &e).await
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------ labels, directory

/// Labels and look-ups for `user` foreign keys (assignees).
pub struct UserRefs;

#[async_trait]
impl RefSource for UserRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, email, first_name_en, last_name_en, first_name_ar, last_name_ar FROM users WHERE id IN ({})",
            placeholders.join(", ")
        );
        let rows =
            s.db.query_all_raw(stmt(
                s.db.get_database_backend(),
                &sql,
                ids.iter().map(|i| (*i).into()).collect(),
            ))
            .await?;
        for r in rows {
            let id: Uuid = r.try_get_by_index(0)?;
            let email: String = r.try_get_by_index(1)?;
            let en = format!(
                "{} {}",
                r.try_get_by_index::<String>(2)?,
                r.try_get_by_index::<String>(3)?
            );
            let ar = format!(
                "{} {}",
                r.try_get_by_index::<String>(4)?,
                r.try_get_by_index::<String>(5)?
            );
            let name = match lang {
                Lang::Ar if !ar.trim().is_empty() => ar.trim().to_string(),
                _ if !en.trim().is_empty() => en.trim().to_string(),
                _ => email,
            };
            out.insert(id, name);
        }
        Ok(out)
    }

    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        _within: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let lq = ListQuery::parse("/accounts/users/", &format!("search={enc}&page_size=20"))?;
        let page = service::list_users(s, p, &lq).await?;
        let ids: Vec<Uuid> = page.results.iter().map(|u| u.id).collect();
        let labels = self.labels(s, &ids, lang).await?;
        Ok(page
            .results
            .into_iter()
            .map(|u| {
                let l = labels.get(&u.id).cloned().unwrap_or_default();
                (u.id, format!("{l} <{}>", u.email))
            })
            .collect())
    }
}

/// The signed-in user's display facts, for the layout.
///
/// # Errors
/// 401 when the user no longer exists.
pub async fn profile(s: &AppState, user: Uuid) -> AppResult<Profile> {
    let r = s
        .db
        .query_one_raw(stmt(
            s.db.get_database_backend(),
            "SELECT email, first_name_en, last_name_en, first_name_ar, last_name_ar, preferred_language FROM users WHERE id = $1",
            vec![user.into()],
        ))
        .await?
        .ok_or_else(|| AppError::Unauthorized("User not found.".into()))?;
    let en = format!(
        "{} {}",
        r.try_get_by_index::<String>(1)?,
        r.try_get_by_index::<String>(2)?
    );
    let ar = format!(
        "{} {}",
        r.try_get_by_index::<String>(3)?,
        r.try_get_by_index::<String>(4)?
    );
    Ok(Profile {
        email: r.try_get_by_index(0)?,
        name_en: en.trim().to_string(),
        name_ar: ar.trim().to_string(),
        preferred_language: Lang::parse(&r.try_get_by_index::<String>(5)?),
    })
}

/// Saves the language chosen in the topbar as the user's preference.
///
/// # Errors
/// Database errors.
pub async fn set_language(s: &AppState, user: Uuid, lang: Lang) -> AppResult<()> {
    s.db.execute_raw(stmt(
        s.db.get_database_backend(),
        "UPDATE users SET preferred_language = $1, updated_at = $2 WHERE id = $3",
        vec![lang.code().into(), s.clock.now().into(), user.into()],
    ))
    .await?;
    Ok(())
}

/// Registers the accounts resources and look-ups.
pub fn register(reg: &mut Registry) {
    reg.resource(users_def());
    reg.resource(api_keys_def());
    reg.reference("user", Arc::new(UserRefs));
}

/// Pages that are not plain resource routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/", get(login_form).post(login))
        .route("/logout/", post(logout))
        .route(
            "/accounts/password/",
            get(password_page).post(change_password),
        )
        .route("/accounts/profile/", get(profile_form).post(profile_save))
        .route(
            "/password-reset/",
            get(reset_request_form).post(reset_request),
        )
        .route(
            "/password-reset/{token}/",
            get(set_password_form).post(set_password),
        )
        .route(
            "/accept-invitation/{token}/",
            get(set_password_form).post(set_password),
        )
        .route("/accounts/users/{id}/", get(user_detail))
        .route("/accounts/users/{id}/roles/", post(assign_role))
        .route("/accounts/users/{id}/roles/remove/", post(remove_role))
        .route("/accounts/users/{id}/invite/", post(invite))
        .route("/accounts/users/{id}/unlock/", post(unlock))
        .route("/accounts/roles/", get(roles_page))
        .route(
            "/accounts/api-keys/new/",
            get(api_key_new).post(api_key_create),
        )
}
