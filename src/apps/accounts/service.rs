//! Accounts: sign-in with throttling, rotating refresh tokens, users and role assignments, password
//! reset and invitations, API keys for integration service accounts.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{api_key, password_token, refresh_token, role, role_assignment, user};
use super::password;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::auth::{self, API_KEY_PREFIX_LEN, Claims, REFRESH_TTL_DAYS, sha256_hex};
use crate::platform::db::{begin_write, stmt};
use crate::platform::error::{AppError, AppResult, FieldErrors, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{self, Filter, FilterKind, ListQuery, ListSpec, Page};
use crate::platform::rbac::{
    self, Operation, Principal, Reach, Resource, Role, Scope, ScopeColumns,
};
use crate::platform::state::AppState;

/// Failed sign-ins allowed per email, and per client address, within [`THROTTLE_WINDOW_MINUTES`].
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
pub const RESET_TOKEN_HOURS: i64 = 2;
pub const INVITE_TOKEN_DAYS: i64 = 7;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// Lower-cased, trimmed, and shaped like an address.
///
/// # Errors
/// A message for the `email` field.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(e)
    } else {
        Err("Enter a valid email address.".into())
    }
}

async fn failures_since<C: ConnectionTrait>(
    db: &C,
    column: &str,
    value: &str,
    since: DateTime<Utc>,
) -> AppResult<(i64, Option<DateTime<Utc>>)> {
    let sql =
        format!("SELECT COUNT(*), MIN(at) FROM login_failures WHERE {column} = $1 AND at >= $2");
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            &sql,
            vec![value.into(), since.into()],
        ))
        .await?;
    match row {
        Some(r) => Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)),
        None => Ok((0, None)),
    }
}

async fn check_throttle(state: &AppState, email: &str, ip: &str) -> AppResult<()> {
    let now = state.clock.now();
    let window = Duration::minutes(THROTTLE_WINDOW_MINUTES);
    for (col, value, max) in [
        ("email", email, MAX_FAILURES_PER_EMAIL),
        ("ip", ip, MAX_FAILURES_PER_IP),
    ] {
        let (n, oldest) = failures_since(&state.db, col, value, now - window).await?;
        if n >= max {
            let retry = oldest.map_or(window, |t| t + window - now);
            return Err(AppError::TooManyRequests {
                retry_after_secs: u64::try_from(Ord::max(retry.num_seconds(), 1)).unwrap_or(60),
            });
        }
    }
    Ok(())
}

/// Signs in with email and password (API): a token pair.
///
/// # Errors
/// 401 for wrong credentials (audited), 429 with Retry-After after repeated failures.
pub async fn login(
    state: &AppState,
    email: &str,
    password_in: &str,
    ip: Option<String>,
) -> AppResult<TokenPair> {
    let uid = authenticate(state, email, password_in, ip, "api").await?;
    let txn = begin_write(&state.db).await?;
    let pair = issue_pair(&txn, state, uid, new_id()).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Checks email and password with throttling, audits the attempt on `channel` (`api` or `ui`) and
/// records the sign-in; the caller then issues tokens or a session.
///
/// # Errors
/// 401 for wrong credentials (audited), 429 with Retry-After after repeated failures.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password_in: &str,
    ip: Option<String>,
    channel: &str,
) -> AppResult<Uuid> {
    let email = email.trim().to_lowercase();
    let ip_s = ip.clone().unwrap_or_else(|| "unknown".into());
    check_throttle(state, &email, &ip_s).await?;
    let now = state.clock.now();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.clone()))
        .filter(user::Column::DeletedAt.is_null())
        .one(&state.db)
        .await?;
    let ok_user = match &found {
        Some(u) if u.is_active && !u.is_service_account => match &u.password_hash {
            Some(h) if password::verify(password_in, h) => Some(u.clone()),
            _ => None,
        },
        _ => {
            password::dummy_verify(password_in);
            None
        }
    };
    let actor = Actor {
        user_id: found.as_ref().map(|u| u.id),
        label: email.clone(),
        ip: ip.clone(),
    };
    let txn = begin_write(&state.db).await?;
    let Some(u) = ok_user else {
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO login_failures (id, email, ip, at) VALUES ($1, $2, $3, $4)",
            vec![
                new_id().into(),
                email.clone().into(),
                ip_s.into(),
                now.into(),
            ],
        ))
        .await?;
        audit::record(
            &txn,
            state.clock.as_ref(),
            &actor,
            AuditEntry::new("login.failed")
                .details(serde_json::json!({"email": email, "channel": channel})),
        )
        .await?;
        txn.commit().await?;
        return Err(AppError::Unauthorized(
            "No active account found with the given credentials".into(),
        ));
    };
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "DELETE FROM login_failures WHERE email = $1",
        vec![email.clone().into()],
    ))
    .await?;
    let mut am = u.clone().into_active_model();
    am.last_login_at = Set(Some(now));
    am.update(&txn).await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &actor,
        AuditEntry::new("login.succeeded")
            .object("user", u.id)
            .details(serde_json::json!({"channel": channel})),
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}

/// Records the end of a console session.
///
/// # Errors
/// Database errors.
pub async fn logout_session(state: &AppState, p: &Principal) -> AppResult<()> {
    audit::record(
        &state.db,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("logout")
            .object("user", p.user_id)
            .details(serde_json::json!({"channel": "ui"})),
    )
    .await?;
    Ok(())
}

async fn issue_pair(
    txn: &DatabaseTransaction,
    state: &AppState,
    user_id: Uuid,
    family: Uuid,
) -> AppResult<TokenPair> {
    let now = state.clock.now();
    let jti = new_id();
    let expires = now + Duration::days(REFRESH_TTL_DAYS);
    refresh_token::ActiveModel {
        id: Set(jti),
        user_id: Set(user_id),
        family_id: Set(family),
        issued_at: Set(now),
        expires_at: Set(expires),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(txn)
    .await?;
    let refresh = auth::encode(
        state,
        &Claims {
            sub: user_id,
            jti,
            typ: "refresh".into(),
            fam: Some(family),
            iat: now.timestamp(),
            exp: expires.timestamp(),
        },
    )?;
    let access = auth::encode(state, &auth::access_claims(user_id, now))?;
    Ok(TokenPair { access, refresh })
}

async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    family: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        vec![now.into(), family.into()],
    ))
    .await?;
    Ok(())
}

/// Exchanges a refresh token for a new pair. A refresh token works once; presenting a spent one means it
/// was stolen or replayed, so its whole family is revoked.
///
/// # Errors
/// 401 for invalid, expired, spent or revoked tokens.
pub async fn refresh(state: &AppState, token: &str) -> AppResult<TokenPair> {
    let claims = auth::decode(state, token, "refresh")?;
    let now = state.clock.now();
    let txn = begin_write(&state.db).await?;
    let row = refresh_token::Entity::find_by_id(claims.jti)
        .one(&txn)
        .await?;
    let Some(row) = row else {
        return Err(auth::invalid_token());
    };
    if row.used_at.is_some() || row.revoked_at.is_some() {
        revoke_family(&txn, row.family_id, now).await?;
        if row.used_at.is_some() {
            audit::record(
                &txn,
                state.clock.as_ref(),
                &Actor {
                    user_id: Some(row.user_id),
                    label: "token-refresh".into(),
                    ip: None,
                },
                AuditEntry::new("token.reuse_detected")
                    .object("user", row.user_id)
                    .details(serde_json::json!({"family": row.family_id})),
            )
            .await?;
        }
        txn.commit().await?;
        return Err(AppError::Unauthorized("Token is blacklisted".into()));
    }
    if row.expires_at <= now {
        return Err(auth::invalid_token());
    }
    let active = user::Entity::find_by_id(row.user_id)
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::DeletedAt.is_null())
        .one(&txn)
        .await?;
    if active.is_none() {
        return Err(AppError::Unauthorized("User not found or inactive.".into()));
    }
    let mut am = row.clone().into_active_model();
    am.used_at = Set(Some(now));
    am.update(&txn).await?;
    let pair = issue_pair(&txn, state, row.user_id, row.family_id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Revokes the refresh token's family (sign out everywhere that chain reached).
///
/// # Errors
/// 401 for an invalid token.
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    let claims = auth::decode(state, token, "refresh")?;
    let txn = begin_write(&state.db).await?;
    if let Some(f) = claims.fam {
        revoke_family(&txn, f, state.clock.now()).await?;
    }
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor {
            user_id: Some(claims.sub),
            label: "api".into(),
            ip: None,
        },
        AuditEntry::new("logout").object("user", claims.sub),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- users

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentOut {
    pub id: Uuid,
    pub role: String,
    pub hospital: Option<Uuid>,
    pub department: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub first_name_en: String,
    pub last_name_en: String,
    pub first_name_ar: String,
    pub last_name_ar: String,
    pub phone: Option<String>,
    pub preferred_language: String,
    pub is_active: bool,
    pub is_service_account: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<AssignmentOut>,
}

async fn user_out<C: ConnectionTrait>(db: &C, u: user::Model) -> AppResult<UserOut> {
    let mut outs = users_out(db, vec![u]).await?;
    outs.pop().ok_or(AppError::NotFound)
}

/// Users with their role assignments, loaded in one query for the whole page.
async fn users_out<C: ConnectionTrait>(db: &C, users: Vec<user::Model>) -> AppResult<Vec<UserOut>> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let mut by_user: std::collections::HashMap<Uuid, Vec<AssignmentOut>> =
        std::collections::HashMap::new();
    if !ids.is_empty() {
        let rows = role_assignment::Entity::find()
            .filter(role_assignment::Column::UserId.is_in(ids))
            .order_by_asc(role_assignment::Column::CreatedAt)
            .order_by_asc(role_assignment::Column::Id)
            .all(db)
            .await?;
        for a in rows {
            by_user.entry(a.user_id).or_default().push(AssignmentOut {
                id: a.id,
                role: a.role,
                hospital: a.hospital_id,
                department: a.department_id,
            });
        }
    }
    Ok(users
        .into_iter()
        .map(|u| UserOut {
            roles: by_user.remove(&u.id).unwrap_or_default(),
            id: u.id,
            email: u.email,
            first_name_en: u.first_name_en,
            last_name_en: u.last_name_en,
            first_name_ar: u.first_name_ar,
            last_name_ar: u.last_name_ar,
            phone: u.phone,
            preferred_language: u.preferred_language,
            is_active: u.is_active,
            is_service_account: u.is_service_account,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        })
        .collect())
}

/// Users are not owned by a hospital; a user is in reach when one of their assignments is.
fn user_condition(scope: &Scope) -> Condition {
    if scope.all {
        return Condition::all();
    }
    let mut inner = Condition::any();
    if !scope.hospitals.is_empty() {
        inner =
            inner.add(role_assignment::Column::HospitalId.is_in(scope.hospitals.iter().copied()));
    }
    if !scope.departments.is_empty() {
        inner = inner
            .add(role_assignment::Column::DepartmentId.is_in(scope.departments.iter().copied()));
    }
    let sub = Query::select()
        .column(role_assignment::Column::UserId)
        .from(role_assignment::Entity)
        .cond_where(inner)
        .take();
    let mut any = Condition::any();
    if !scope.hospitals.is_empty() || !scope.departments.is_empty() {
        any = any.add(Expr::col((user::Entity, user::Column::Id)).in_subquery(sub));
    }
    if let Some(me) = scope.user {
        any = any.add(user::Column::Id.eq(me));
    }
    any
}

fn user_spec() -> ListSpec<user::Entity> {
    ListSpec {
        search: vec![
            user::Column::Email,
            user::Column::FirstNameEn,
            user::Column::LastNameEn,
            user::Column::FirstNameAr,
            user::Column::LastNameAr,
        ],
        ordering: vec![
            ("email", user::Column::Email),
            ("created_at", user::Column::CreatedAt),
            ("last_login_at", user::Column::LastLoginAt),
            ("last_name_en", user::Column::LastNameEn),
        ],
        default_ordering: vec![(user::Column::Email, sea_orm::Order::Asc)],
        filters: vec![
            Filter {
                name: "is_active",
                column: user::Column::IsActive,
                kind: FilterKind::Bool,
            },
            Filter {
                name: "is_service_account",
                column: user::Column::IsServiceAccount,
                kind: FilterKind::Bool,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission on users; 400 for bad list parameters.
pub async fn list_users(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<UserOut>> {
    p.require(Resource::Users, Operation::View)?;
    let mut select = user::Entity::find()
        .filter(user::Column::DeletedAt.is_null())
        .filter(user_condition(&p.scope(Resource::Users, Operation::View)));
    for (key, col) in [
        ("hospital", role_assignment::Column::HospitalId),
        ("department", role_assignment::Column::DepartmentId),
    ] {
        if let Some(v) = q.param(key) {
            let id = Uuid::parse_str(v)
                .map_err(|_| AppError::field(key, format!("\"{v}\" is not a valid UUID.")))?;
            let sub = Query::select()
                .column(role_assignment::Column::UserId)
                .from(role_assignment::Entity)
                .and_where(Expr::col(col).eq(id))
                .take();
            select = select.filter(Expr::col((user::Entity, user::Column::Id)).in_subquery(sub));
        }
    }
    if let Some(v) = q.param("role") {
        let r = Role::parse(v).map_err(|m| AppError::field("role", m))?;
        let sub = Query::select()
            .column(role_assignment::Column::UserId)
            .from(role_assignment::Entity)
            .and_where(Expr::col(role_assignment::Column::Role).eq(r.code()))
            .take();
        select = select.filter(Expr::col((user::Entity, user::Column::Id)).in_subquery(sub));
    }
    let page = pagination::paginate(&state.db, select, &user_spec(), q).await?;
    let mut out = Vec::with_capacity(page.results.len());
    for u in page.results {
        out.push(user_out(&state.db, u).await?);
    }
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results: out,
    })
}

/// Finds a user within the caller's reach for `op` (404 when out of view reach, 403 when viewable but
/// the operation is not allowed on them).
async fn find_user<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: Uuid,
    op: Operation,
) -> AppResult<user::Model> {
    p.require(Resource::Users, Operation::View)
        .map_err(|_| AppError::NotFound)?;
    let base = user::Entity::find_by_id(id).filter(user::Column::DeletedAt.is_null());
    let u = base
        .clone()
        .filter(user_condition(&p.scope(Resource::Users, Operation::View)))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if op != Operation::View {
        p.require(Resource::Users, op)?;
        let allowed = base
            .filter(user_condition(&p.scope(Resource::Users, op)))
            .one(db)
            .await?;
        if allowed.is_none() {
            return Err(AppError::Forbidden(
                "You do not have permission to perform this action.".into(),
            ));
        }
    }
    Ok(u)
}

/// # Errors
/// 404 out of reach.
pub async fn get_user(state: &AppState, p: &Principal, id: Uuid) -> AppResult<UserOut> {
    let u = find_user(&state.db, p, id, Operation::View).await?;
    user_out(&state.db, u).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignIn {
    pub role: String,
    #[serde(default)]
    pub hospital: Option<Uuid>,
    #[serde(default)]
    pub department: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreate {
    pub email: String,
    #[serde(default)]
    pub first_name_en: String,
    #[serde(default)]
    pub last_name_en: String,
    #[serde(default)]
    pub first_name_ar: String,
    #[serde(default)]
    pub last_name_ar: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    /// Optional: without it the user gets an invitation link to choose one.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<AssignIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    #[serde(flatten)]
    pub user: UserOut,
    /// Present when no password was given: the one-time invitation link (also sent by email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_link: Option<String>,
}

fn validate_language(v: &str, field: &str, e: &mut FieldErrors) -> String {
    match v {
        "ar" | "en" => v.to_string(),
        _ => {
            e.add(
                field,
                format!("\"{v}\" is not a valid choice; allowed: ar, en"),
            );
            "en".into()
        }
    }
}

/// Validates a phone number as E.164 (`+9665XXXXXXXX`).
pub fn validate_phone(v: &str) -> Result<String, String> {
    let t = v.trim();
    let parsed = phonenumber::parse(None, t)
        .map_err(|_| "Enter a phone number in E.164 form, e.g. +966501234567.".to_string())?;
    if !t.starts_with('+') || !phonenumber::is_valid(&parsed) {
        return Err("Enter a phone number in E.164 form, e.g. +966501234567.".into());
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// Checks one assignment against the caller's powers and the organisation.
async fn validate_assignment<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    a: &AssignIn,
    prefix: &str,
) -> AppResult<Role> {
    let f = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let role = Role::parse(&a.role).map_err(|m| AppError::field(f("role"), m))?;
    p.require(Resource::Users, Operation::Assign)?;
    let scope = p.scope(Resource::Users, Operation::Assign);
    if role == Role::PxAdmin {
        if !p.is_px_admin() {
            return Err(AppError::Forbidden(
                "Only a PX admin may grant PX_ADMIN.".into(),
            ));
        }
        if a.hospital.is_some() || a.department.is_some() {
            return Err(AppError::field(
                f("hospital"),
                "PX_ADMIN is not tied to a hospital; leave hospital and department empty.",
            ));
        }
        return Ok(role);
    }
    let Some(h) = a.hospital else {
        return Err(AppError::field(f("hospital"), "This field is required."));
    };
    let invalid = |field: String, id: Uuid| {
        AppError::field(
            field,
            format!("Invalid pk \"{id}\" - object does not exist."),
        )
    };
    let exists = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT id FROM hospitals WHERE id = $1 AND deleted_at IS NULL",
            vec![h.into()],
        ))
        .await?
        .is_some();
    if !exists || !scope.reaches(Reach::hospital(h)) {
        return Err(invalid(f("hospital"), h));
    }
    match a.department {
        Some(d) => {
            let row = db
                .query_one_raw(stmt(
                    db.get_database_backend(),
                    "SELECT hospital_id FROM departments WHERE id = $1 AND deleted_at IS NULL",
                    vec![d.into()],
                ))
                .await?;
            let dept_h: Option<Uuid> = match row {
                Some(r) => r.try_get_by_index(0)?,
                None => None,
            };
            if dept_h != Some(h) {
                return Err(invalid(f("department"), d));
            }
        }
        None if role.needs_department() => {
            return Err(AppError::field(
                f("department"),
                format!("{} needs a department.", role.code()),
            ));
        }
        None => {}
    }
    Ok(role)
}

async fn insert_assignment<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    p: &Principal,
    user_id: Uuid,
    role: Role,
    a: &AssignIn,
) -> AppResult<Uuid> {
    let dup = role_assignment::Entity::find()
        .filter(role_assignment::Column::UserId.eq(user_id))
        .filter(role_assignment::Column::Role.eq(role.code()))
        .filter(match a.hospital {
            Some(h) => role_assignment::Column::HospitalId.eq(h),
            None => role_assignment::Column::HospitalId.is_null(),
        })
        .filter(match a.department {
            Some(d) => role_assignment::Column::DepartmentId.eq(d),
            None => role_assignment::Column::DepartmentId.is_null(),
        })
        .one(db)
        .await?;
    if dup.is_some() {
        return Err(AppError::field(
            "role",
            "The user already has this role assignment.",
        ));
    }
    let id = new_id();
    role_assignment::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        role: Set(role.code().into()),
        hospital_id: Set(a.hospital),
        department_id: Set(a.department),
        created_at: Set(state.clock.now()),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("role.assigned").object("user", user_id).hospital(a.hospital).details(serde_json::json!({"role": role.code(), "hospital": a.hospital, "department": a.department})),
    )
    .await?;
    Ok(id)
}

fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 24]>())
}

/// Creates a one-time password token and returns the link; the link goes to the user by email through
/// the notifications module (template `invitation` or `password_reset`).
async fn password_link<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user: &user::Model,
    purpose: &str,
) -> AppResult<String> {
    let token = random_token();
    let now = state.clock.now();
    let ttl = if purpose == "INVITE" {
        Duration::days(INVITE_TOKEN_DAYS)
    } else {
        Duration::hours(RESET_TOKEN_HOURS)
    };
    password_token::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id),
        purpose: Set(purpose.into()),
        token_hash: Set(sha256_hex(&token)),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let base = state.config.public_url.as_str().trim_end_matches('/');
    let path = if purpose == "INVITE" {
        "accept-invitation"
    } else {
        "password-reset"
    };
    let link = format!("{base}/{path}/{token}/");
    // Delivered by email through notifications, in this transaction: a rolled-back caller sends nothing.
    use crate::apps::notifications::{Channel, Outgoing, Recipient, send};
    let template = if purpose == "INVITE" {
        "invitation"
    } else {
        "password_reset"
    };
    send(
        db,
        state.clock.as_ref(),
        Outgoing::new(template, Recipient::User(user.id))
            .channel(Channel::Email)
            .var("link", link.clone())
            .var(
                "expires",
                (now + ttl).format("%Y-%m-%d %H:%M UTC").to_string(),
            )
            .related("user", user.id),
    )
    .await?;
    Ok(link)
}

/// # Errors
/// 403 without create permission; 400 with field messages; nothing is written on error.
pub async fn create_user(
    state: &AppState,
    p: &Principal,
    input: UserCreate,
) -> AppResult<UserCreated> {
    p.require(Resource::Users, Operation::Create)?;
    let mut e = FieldErrors::new();
    let email = normalize_email(&input.email).unwrap_or_else(|m| {
        e.add("email", m);
        String::new()
    });
    let lang = validate_language(
        input.preferred_language.as_deref().unwrap_or("en"),
        "preferred_language",
        &mut e,
    );
    let phone = match input.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(ph) => match validate_phone(ph) {
            Ok(v) => Some(v),
            Err(m) => {
                e.add("phone", m);
                None
            }
        },
        None => None,
    };
    for (field, v) in [
        ("first_name_en", &input.first_name_en),
        ("last_name_en", &input.last_name_en),
        ("first_name_ar", &input.first_name_ar),
        ("last_name_ar", &input.last_name_ar),
    ] {
        if v.chars().count() > 100 {
            e.add(field, "Ensure this field has no more than 100 characters.");
        }
    }
    if let Some(pw) = &input.password
        && let Err(AppError::Validation(f)) = password::validate(pw, &email, "password")
    {
        for (k, msgs) in f.0 {
            for m in msgs {
                e.add(k.clone(), m);
            }
        }
    }
    if input.roles.is_empty() && !p.is_px_admin() {
        e.add("roles", "Give the user at least one role in your hospital.");
    }
    e.into_result()?;
    let txn = begin_write(&state.db).await?;
    let mut roles = vec![];
    for (i, a) in input.roles.iter().enumerate() {
        roles.push(validate_assignment(&txn, p, a, &format!("roles.{i}")).await?);
    }
    let now = state.clock.now();
    let hash = match &input.password {
        Some(pw) => Some(password::hash(pw)?),
        None => None,
    };
    let u = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.clone()),
        password_hash: Set(hash),
        first_name_en: Set(input.first_name_en.trim().into()),
        last_name_en: Set(input.last_name_en.trim().into()),
        first_name_ar: Set(input.first_name_ar.trim().into()),
        last_name_ar: Set(input.last_name_ar.trim().into()),
        phone: Set(phone),
        preferred_language: Set(lang),
        is_active: Set(true),
        is_service_account: Set(false),
        last_login_at: Set(None),
        password_changed_at: Set(input.password.as_ref().map(|_| now)),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|err| on_constraint(err, "email", "A user with this email already exists."))?;
    for (role, a) in roles.into_iter().zip(&input.roles) {
        insert_assignment(&txn, state, p, u.id, role, a).await?;
    }
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.created")
            .object("user", u.id)
            .details(serde_json::json!({"email": email})),
    )
    .await?;
    let invitation_link = if input.password.is_none() {
        Some(password_link(&txn, state, &u, "INVITE").await?)
    } else {
        None
    };
    let out = user_out(&txn, u).await?;
    txn.commit().await?;
    Ok(UserCreated {
        user: out,
        invitation_link,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    pub first_name_en: Option<String>,
    pub last_name_en: Option<String>,
    pub first_name_ar: Option<String>,
    pub last_name_ar: Option<String>,
    pub phone: Option<String>,
    pub preferred_language: Option<String>,
    /// Admins only (ignored on update_profile).
    pub is_active: Option<bool>,
}

async fn apply_patch<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    u: user::Model,
    patch: UserPatch,
    allow_active: bool,
) -> AppResult<user::Model> {
    let mut e = FieldErrors::new();
    let mut am = u.into_active_model();
    for (field, v, col) in [
        ("first_name_en", patch.first_name_en, &mut am.first_name_en),
        ("last_name_en", patch.last_name_en, &mut am.last_name_en),
        ("first_name_ar", patch.first_name_ar, &mut am.first_name_ar),
        ("last_name_ar", patch.last_name_ar, &mut am.last_name_ar),
    ] {
        if let Some(v) = v {
            if v.chars().count() > 100 {
                e.add(field, "Ensure this field has no more than 100 characters.");
            }
            *col = Set(v.trim().to_string());
        }
    }
    if let Some(ph) = patch.phone {
        if ph.trim().is_empty() {
            am.phone = Set(None);
        } else {
            match validate_phone(&ph) {
                Ok(v) => am.phone = Set(Some(v)),
                Err(m) => e.add("phone", m),
            }
        }
    }
    if let Some(l) = patch.preferred_language {
        am.preferred_language = Set(validate_language(&l, "preferred_language", &mut e));
    }
    if allow_active && let Some(a) = patch.is_active {
        am.is_active = Set(a);
    }
    e.into_result()?;
    am.updated_at = Set(state.clock.now());
    Ok(am.update(db).await?)
}

/// # Errors
/// 404 out of reach, 403 without edit permission, 400 for invalid fields.
pub async fn update_user(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: UserPatch,
) -> AppResult<UserOut> {
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Edit).await?;
    let was_active = u.is_active;
    let u = apply_patch(&txn, state, u, patch, true).await?;
    let action = if was_active != u.is_active {
        if u.is_active {
            "user.activated"
        } else {
            "user.deactivated"
        }
    } else {
        "user.updated"
    };
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new(action).object("user", u.id),
    )
    .await?;
    let out = user_out(&txn, u).await?;
    txn.commit().await?;
    Ok(out)
}

/// Soft-deletes (and deactivates) a user; their refresh tokens stop working.
///
/// # Errors
/// 404 out of reach, 403 without delete permission, 400 when deleting oneself.
pub async fn delete_user(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    if id == p.user_id {
        return Err(AppError::BadRequest(
            "You cannot delete your own account.".into(),
        ));
    }
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Delete).await?;
    let now = state.clock.now();
    let mut am = u.into_active_model();
    am.deleted_at = Set(Some(now));
    am.is_active = Set(false);
    am.updated_at = Set(now);
    am.update(&txn).await?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        vec![now.into(), id.into()],
    ))
    .await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.deleted").object("user", id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// # Errors
/// 401 if the caller's account vanished.
pub async fn me(state: &AppState, p: &Principal) -> AppResult<UserOut> {
    let u = user::Entity::find_by_id(p.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    user_out(&state.db, u).await
}

/// # Errors
/// 400 for invalid fields.
pub async fn update_profile(
    state: &AppState,
    p: &Principal,
    patch: UserPatch,
) -> AppResult<UserOut> {
    let txn = begin_write(&state.db).await?;
    let u = user::Entity::find_by_id(p.user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let u = apply_patch(&txn, state, u, patch, false).await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.profile_updated").object("user", u.id),
    )
    .await?;
    let out = user_out(&txn, u).await?;
    txn.commit().await?;
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    pub old_password: String,
    pub new_password: String,
}

/// Changes the caller's password and revokes their other refresh tokens.
///
/// # Errors
/// 400 on `old_password` when wrong, on `new_password` when the policy rejects it.
pub async fn change_password(
    state: &AppState,
    p: &Principal,
    input: ChangePassword,
) -> AppResult<()> {
    let txn = begin_write(&state.db).await?;
    let u = user::Entity::find_by_id(p.user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !u
        .password_hash
        .as_deref()
        .is_some_and(|h| password::verify(&input.old_password, h))
    {
        return Err(AppError::field(
            "old_password",
            "Your old password was entered incorrectly.",
        ));
    }
    password::validate(&input.new_password, &u.email, "new_password")?;
    set_password(&txn, state, u, &input.new_password).await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.password_changed").object("user", p.user_id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn set_password<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    u: user::Model,
    pw: &str,
) -> AppResult<()> {
    let now = state.clock.now();
    let id = u.id;
    let mut am = u.into_active_model();
    am.password_hash = Set(Some(password::hash(pw)?));
    am.password_changed_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(db).await?;
    db.execute_raw(stmt(
        db.get_database_backend(),
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        vec![now.into(), id.into()],
    ))
    .await?;
    Ok(())
}

/// # Errors
/// 404/403 per reach; 400 for invalid assignments.
pub async fn assign_role(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    a: AssignIn,
) -> AppResult<UserOut> {
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Assign).await?;
    let role = validate_assignment(&txn, p, &a, "").await?;
    insert_assignment(&txn, state, p, u.id, role, &a).await?;
    let out = user_out(&txn, u).await?;
    txn.commit().await?;
    Ok(out)
}

/// Removes the matching assignment.
///
/// # Errors
/// 404/403 per reach; 400 when the user has no such assignment or it is outside the caller's powers.
pub async fn remove_role(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    a: AssignIn,
) -> AppResult<UserOut> {
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Assign).await?;
    let role = Role::parse(&a.role).map_err(|m| AppError::field("role", m))?;
    if role == Role::PxAdmin && !p.is_px_admin() {
        return Err(AppError::Forbidden(
            "Only a PX admin may remove PX_ADMIN.".into(),
        ));
    }
    let scope = p.scope(Resource::Users, Operation::Assign);
    if !a
        .hospital
        .map_or(scope.all, |h| scope.reaches(Reach::hospital(h)))
    {
        return Err(AppError::field(
            "hospital",
            "You can only remove roles within your hospital.",
        ));
    }
    let found = role_assignment::Entity::find()
        .filter(role_assignment::Column::UserId.eq(u.id))
        .filter(role_assignment::Column::Role.eq(role.code()))
        .filter(match a.hospital {
            Some(h) => role_assignment::Column::HospitalId.eq(h),
            None => role_assignment::Column::HospitalId.is_null(),
        })
        .filter(match a.department {
            Some(d) => role_assignment::Column::DepartmentId.eq(d),
            None => role_assignment::Column::DepartmentId.is_null(),
        })
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::field("role", "The user has no such role assignment."))?;
    role_assignment::Entity::delete_by_id(found.id)
        .exec(&txn)
        .await?;
    audit::record(&txn, state.clock.as_ref(), &Actor::of(p), AuditEntry::new("role.removed").object("user", u.id).hospital(a.hospital).details(serde_json::json!({"role": role.code(), "hospital": a.hospital, "department": a.department}))).await?;
    let out = user_out(&txn, u).await?;
    txn.commit().await?;
    Ok(out)
}

/// Clears the sign-in throttle of a user (admin unlock).
///
/// # Errors
/// 404/403 per reach.
pub async fn unlock(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Edit).await?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "DELETE FROM login_failures WHERE email = $1",
        vec![u.email.clone().into()],
    ))
    .await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.unlocked").object("user", u.id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sends a fresh invitation link.
///
/// # Errors
/// 404/403 per reach.
pub async fn invite(state: &AppState, p: &Principal, id: Uuid) -> AppResult<String> {
    let txn = begin_write(&state.db).await?;
    let u = find_user(&txn, p, id, Operation::Edit).await?;
    let link = password_link(&txn, state, &u, "INVITE").await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("user.invited").object("user", u.id),
    )
    .await?;
    txn.commit().await?;
    Ok(link)
}

/// Starts a password reset. Always succeeds, whether or not the email has an account.
///
/// # Errors
/// Database errors only.
pub async fn request_reset(state: &AppState, email: &str, ip: Option<String>) -> AppResult<()> {
    let email = email.trim().to_lowercase();
    let txn = begin_write(&state.db).await?;
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email.clone()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::IsServiceAccount.eq(false))
        .one(&txn)
        .await?;
    if let Some(u) = u {
        password_link(&txn, state, &u, "RESET").await?;
        audit::record(
            &txn,
            state.clock.as_ref(),
            &Actor {
                user_id: Some(u.id),
                label: email,
                ip,
            },
            AuditEntry::new("password.reset_requested").object("user", u.id),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Completes a reset or an invitation with a one-time token.
///
/// # Errors
/// 400 on `token` when unknown, used or expired; on `new_password` per the policy.
pub async fn confirm_password_token(
    state: &AppState,
    token: &str,
    new_password: &str,
) -> AppResult<()> {
    let now = state.clock.now();
    let txn = begin_write(&state.db).await?;
    let t = password_token::Entity::find()
        .filter(password_token::Column::TokenHash.eq(sha256_hex(token.trim())))
        .one(&txn)
        .await?
        .filter(|t| t.used_at.is_none() && t.expires_at > now)
        .ok_or_else(|| AppError::field("token", "This link is invalid or has expired."))?;
    let u = user::Entity::find_by_id(t.user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::field("token", "This link is invalid or has expired."))?;
    password::validate(new_password, &u.email, "new_password")?;
    let purpose = t.purpose.clone();
    let mut am = t.into_active_model();
    am.used_at = Set(Some(now));
    am.update(&txn).await?;
    let uid = u.id;
    let label = u.email.clone();
    set_password(&txn, state, u, new_password).await?;
    let action = if purpose == "INVITE" {
        "invitation.accepted"
    } else {
        "password.reset"
    };
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor {
            user_id: Some(uid),
            label,
            ip: None,
        },
        AuditEntry::new(action).object("user", uid),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- roles

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    pub code: String,
    pub level: i32,
    pub name_en: String,
    pub name_ar: String,
    /// resource → operations
    pub permissions: std::collections::BTreeMap<String, Vec<String>>,
}

/// # Errors
/// 403 without view permission on roles.
pub async fn list_roles(state: &AppState, p: &Principal) -> AppResult<Vec<RoleOut>> {
    p.require(Resource::Roles, Operation::View)?;
    let rows = role::Entity::find()
        .order_by_desc(role::Column::Level)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let permissions = Role::parse(&r.code)
                .map(|role| {
                    Resource::ALL
                        .iter()
                        .map(|res| {
                            (
                                res.as_str().to_string(),
                                crate::platform::rbac::permissions::grants(role, *res)
                                    .iter()
                                    .map(|o| o.as_str().to_string())
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .filter(|(_, ops)| !ops.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            RoleOut {
                code: r.code,
                level: r.level,
                name_en: r.name_en,
                name_ar: r.name_ar,
                permissions,
            }
        })
        .collect())
}

/// Re-creates any of the eight roles that is missing (they are created by migration).
///
/// # Errors
/// Database errors.
pub async fn create_default_roles<C: ConnectionTrait>(db: &C) -> AppResult<usize> {
    let names: [(&str, &str); 8] = [
        ("PX Admin", "مدير تجربة المريض"),
        ("Hospital Admin", "مدير المستشفى"),
        ("Department Manager", "مدير القسم"),
        ("PX Coordinator", "منسق تجربة المريض"),
        ("Physician", "طبيب"),
        ("Nurse", "ممرض"),
        ("Staff", "موظف"),
        ("Viewer", "مشاهد"),
    ];
    let mut created = 0;
    for (r, (en, ar)) in Role::ALL.iter().zip(names) {
        let res = db
            .execute_raw(stmt(
                db.get_database_backend(),
                "INSERT INTO roles (code, level, name_en, name_ar) VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING",
                vec![r.code().into(), r.level().into(), en.into(), ar.into()],
            ))
            .await?;
        created += usize::try_from(res.rows_affected()).unwrap_or(0);
    }
    Ok(created)
}

/// Creates a PX admin, or gives an existing user the PX_ADMIN role and a new password.
///
/// # Errors
/// 400-style errors for a bad email or a weak password.
pub async fn create_admin(state: &AppState, email: &str, pw: &str) -> AppResult<(Uuid, bool)> {
    let email = normalize_email(email).map_err(|m| AppError::field("email", m))?;
    password::validate(pw, &email, "password")?;
    let txn = begin_write(&state.db).await?;
    let now = state.clock.now();
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(email.clone()))
        .one(&txn)
        .await?;
    let (id, created) = match existing {
        Some(u) => {
            let id = u.id;
            let mut am = u.clone().into_active_model();
            am.deleted_at = Set(None);
            am.is_active = Set(true);
            am.update(&txn).await?;
            set_password(&txn, state, u, pw).await?;
            (id, false)
        }
        None => {
            let u = user::ActiveModel {
                id: Set(new_id()),
                email: Set(email.clone()),
                password_hash: Set(Some(password::hash(pw)?)),
                first_name_en: Set("PX".into()),
                last_name_en: Set("Admin".into()),
                first_name_ar: Set("مدير".into()),
                last_name_ar: Set("النظام".into()),
                phone: Set(None),
                preferred_language: Set("en".into()),
                is_active: Set(true),
                is_service_account: Set(false),
                last_login_at: Set(None),
                password_changed_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
            }
            .insert(&txn)
            .await?;
            (u.id, true)
        }
    };
    let has = role_assignment::Entity::find()
        .filter(role_assignment::Column::UserId.eq(id))
        .filter(role_assignment::Column::Role.eq(Role::PxAdmin.code()))
        .one(&txn)
        .await?;
    if has.is_none() {
        role_assignment::ActiveModel {
            id: Set(new_id()),
            user_id: Set(id),
            role: Set(Role::PxAdmin.code().into()),
            hospital_id: Set(None),
            department_id: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor {
            user_id: None,
            label: "cli:create-admin".into(),
            ip: None,
        },
        AuditEntry::new("role.assigned")
            .object("user", id)
            .details(serde_json::json!({"role": "PX_ADMIN"})),
    )
    .await?;
    txn.commit().await?;
    Ok((id, created))
}

// ---------------------------------------------------------------- API keys

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyCreate {
    pub name: String,
    pub hospital: Uuid,
    /// The service account's hospital-level role (default VIEWER; HOSPITAL_ADMIN or PX_COORDINATOR for
    /// integrations that write).
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: Uuid,
    pub name: String,
    pub hospital: Uuid,
    pub prefix: String,
    pub service_account: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Only in the response that creates the key: it is stored hashed and never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn key_out(k: api_key::Model, key: Option<String>) -> ApiKeyOut {
    ApiKeyOut {
        id: k.id,
        name: k.name,
        hospital: k.hospital_id,
        prefix: k.prefix,
        service_account: k.user_id,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
        key,
    }
}

fn api_key_cols() -> ScopeColumns<api_key::Column> {
    ScopeColumns {
        hospital: Some(api_key::Column::HospitalId),
        department: None,
        physician: None,
        assignee: None,
    }
}

fn api_key_scope(p: &Principal, op: Operation) -> AppResult<Scope> {
    p.require(Resource::ApiKeys, op)?;
    Ok(p.scope(Resource::ApiKeys, op))
}

/// # Errors
/// 403 without permission.
pub async fn list_api_keys(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<ApiKeyOut>> {
    let scope = api_key_scope(p, Operation::View)?;
    let select =
        api_key::Entity::find().filter(scope.condition(crate::platform::rbac::ScopeColumns {
            hospital: Some(api_key::Column::HospitalId),
            department: None,
            physician: None,
            assignee: None,
        }));
    let spec = ListSpec {
        search: vec![api_key::Column::Name, api_key::Column::Prefix],
        ordering: vec![
            ("created_at", api_key::Column::CreatedAt),
            ("name", api_key::Column::Name),
            ("last_used_at", api_key::Column::LastUsedAt),
        ],
        default_ordering: vec![(api_key::Column::CreatedAt, sea_orm::Order::Desc)],
        filters: vec![Filter {
            name: "hospital",
            column: api_key::Column::HospitalId,
            kind: FilterKind::Uuid,
        }],
    };
    Ok(pagination::paginate(&state.db, select, &spec, q)
        .await?
        .map(|k| key_out(k, None)))
}

/// Creates a service account holding `role` in the hospital, and its key (shown once).
///
/// # Errors
/// 403 without permission; 400 for a hospital out of reach or an invalid role.
pub async fn create_api_key(
    state: &AppState,
    p: &Principal,
    input: ApiKeyCreate,
) -> AppResult<ApiKeyOut> {
    let scope = api_key_scope(p, Operation::Create)?;
    let mut e = FieldErrors::new();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        e.add("name", "Give the key a name of 1 to 100 characters.");
    }
    let role = match Role::parse(input.role.as_deref().unwrap_or("VIEWER")) {
        Ok(Role::PxAdmin) => {
            e.add("role", "An API key cannot hold PX_ADMIN.");
            Role::Staff
        }
        Ok(r) => r,
        Err(m) => {
            e.add("role", m);
            Role::Staff
        }
    };
    if role.needs_department() && role != Role::Staff {
        e.add(
            "role",
            "Choose a hospital-level role for a service account.",
        );
    }
    e.into_result()?;
    let txn = begin_write(&state.db).await?;
    let exists = txn
        .query_one_raw(stmt(
            txn.get_database_backend(),
            "SELECT id FROM hospitals WHERE id = $1 AND deleted_at IS NULL",
            vec![input.hospital.into()],
        ))
        .await?
        .is_some();
    if !exists || !scope.reaches(Reach::hospital(input.hospital)) {
        return Err(AppError::field(
            "hospital",
            format!("Invalid pk \"{}\" - object does not exist.", input.hospital),
        ));
    }
    let now = state.clock.now();
    let svc_id = new_id();
    user::ActiveModel {
        id: Set(svc_id),
        email: Set(format!("svc-{}@service.px360.invalid", svc_id.simple())),
        password_hash: Set(None),
        first_name_en: Set(name.clone()),
        last_name_en: Set(String::new()),
        first_name_ar: Set(name.clone()),
        last_name_ar: Set(String::new()),
        phone: Set(None),
        preferred_language: Set("en".into()),
        is_active: Set(true),
        is_service_account: Set(true),
        last_login_at: Set(None),
        password_changed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    role_assignment::ActiveModel {
        id: Set(new_id()),
        user_id: Set(svc_id),
        role: Set(role.code().into()),
        hospital_id: Set(Some(input.hospital)),
        department_id: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    use base64::Engine;
    let prefix: String = hex::encode(rand::rng().random::<[u8; 6]>());
    debug_assert_eq!(prefix.len(), API_KEY_PREFIX_LEN);
    let secret =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 24]>());
    let key = format!("px_{prefix}_{secret}");
    let row = api_key::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        user_id: Set(svc_id),
        hospital_id: Set(input.hospital),
        prefix: Set(prefix),
        key_hash: Set(sha256_hex(&key)),
        created_by: Set(Some(p.user_id)),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("api_key.created")
            .object("api_key", row.id)
            .hospital(Some(input.hospital))
            .details(serde_json::json!({"role": role.code()})),
    )
    .await?;
    txn.commit().await?;
    Ok(key_out(row, Some(key)))
}

/// One API key (never its secret).
///
/// # Errors
/// 403 without view permission, 404 out of scope.
pub async fn get_api_key(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ApiKeyOut> {
    api_key_scope(p, Operation::View)?;
    let k = rbac::find_visible(
        &state.db,
        api_key::Entity::find_by_id(id),
        p,
        Resource::ApiKeys,
        api_key_cols(),
    )
    .await?;
    Ok(key_out(k, None))
}

/// Revokes a key; it stops working at once.
///
/// # Errors
/// 404 out of reach, 403 without permission.
pub async fn revoke_api_key(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ApiKeyOut> {
    let txn = begin_write(&state.db).await?;
    let k = rbac::find_visible(
        &txn,
        api_key::Entity::find_by_id(id),
        p,
        Resource::ApiKeys,
        api_key_cols(),
    )
    .await?;
    p.allow(
        Resource::ApiKeys,
        Operation::Delete,
        Reach::hospital(k.hospital_id),
    )?;
    let now = state.clock.now();
    let mut am = k.clone().into_active_model();
    if k.revoked_at.is_none() {
        am.revoked_at = Set(Some(now));
    }
    let k = am.update(&txn).await?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new("api_key.revoked")
            .object("api_key", k.id)
            .hospital(Some(k.hospital_id)),
    )
    .await?;
    txn.commit().await?;
    Ok(key_out(k, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(
            normalize_email("  Sara@Hospital.SA "),
            Ok("sara@hospital.sa".into())
        );
        for bad in ["", "no-at", "a@b", "a b@c.sa", "@c.sa", "a@.sa"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(validate_phone("+966501234567"), Ok("+966501234567".into()));
        assert!(validate_phone("0501234567").is_err());
        assert!(validate_phone("+96650").is_err());
    }
}
