//! What every console page knows about its request: the signed-in principal, language, CSRF token,
//! the RBAC-filtered sidebar with quick counts, breadcrumbs and flash messages. The [`Ui`] extractor
//! builds it; a page that is not signed in is redirected to `/login/?next=…`.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use super::{assets, csrf, session};
use crate::platform::auth::{client_ip, load_principal};
use crate::platform::error::AppError;
use crate::platform::i18n::{self, Lang};
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;

pub const SESSION_USER: &str = "uid";
pub const SESSION_AUTH_AT: &str = "auth_at";
pub const SESSION_LANG: &str = "lang";
const SESSION_FLASH: &str = "flash";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// Bootstrap contextual class: success, danger, warning, info.
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NavLink {
    pub label: String,
    pub href: String,
    pub icon: &'static str,
    pub count: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NavSection {
    pub label: String,
    pub links: Vec<NavLink>,
}

#[derive(Debug, Clone)]
pub struct UserBadge {
    pub name: String,
    pub email: String,
    pub role: String,
    pub initials: String,
}

/// The page context handed to every template as `ctx`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub csrf: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavSection>,
    pub crumbs: Vec<Crumb>,
    pub flashes: Vec<Flash>,
    /// Path and query of this request (the language switch returns here).
    pub here: String,
    pub tz: Tz,
    pub title: String,
}

impl Ctx {
    pub fn t(&self, key: &str) -> &'static str {
        // The catalog lives for the whole program; handing out 'static keeps templates simple.
        i18n::t_static(self.lang, key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tf(self.lang, key, args)
    }

    /// [`Self::tf`] with one placeholder (templates cannot build slices).
    pub fn tf1(&self, key: &str, name: &str, value: &str) -> String {
        i18n::tf(self.lang, key, &[(name, value)])
    }

    pub fn asset(&self, path: &str) -> String {
        assets::url(path)
    }

    pub fn dir(&self) -> &'static str {
        self.lang.dir()
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn other_lang(&self) -> &'static str {
        self.lang.other().code()
    }

    pub fn bootstrap_css(&self) -> String {
        match self.lang {
            Lang::Ar => assets::url("vendor/bootstrap/bootstrap.rtl.min.css"),
            Lang::En => assets::url("vendor/bootstrap/bootstrap.min.css"),
        }
    }

    pub fn num(&self, n: i64) -> String {
        i18n::number(self.lang, n)
    }

    pub fn datetime(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        i18n::datetime(self.lang, at, self.tz)
    }

    /// `name_en` or `name_ar` of a bilingual pair, falling back to the other when blank.
    pub fn pick<'a>(&self, en: &'a str, ar: &'a str) -> &'a str {
        match self.lang {
            Lang::Ar if !ar.trim().is_empty() => ar,
            Lang::En if en.trim().is_empty() => ar,
            Lang::Ar => en,
            Lang::En => en,
        }
    }

    pub fn crumb(mut self, label: impl Into<String>, href: Option<String>) -> Self {
        self.crumbs.push(Crumb {
            label: label.into(),
            href,
        });
        self
    }

    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
}

/// A signed-in console request.
pub struct Ui {
    pub p: Principal,
    pub ctx: Ctx,
    pub session: Session,
    /// The request came from htmx (`HX-Request`): answer with a fragment.
    pub htmx: bool,
    /// `HX-Target` of an htmx request.
    pub target: Option<String>,
}

impl Ui {
    /// Queues a message for the next page this user sees.
    pub async fn flash(&self, kind: &str, text: impl Into<String>) {
        flash(&self.session, kind, text).await;
    }

    pub fn lang(&self) -> Lang {
        self.ctx.lang
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.ctx.t(key)
    }
}

pub async fn flash(session: &Session, kind: &str, text: impl Into<String>) {
    let mut list: Vec<Flash> = session
        .get(SESSION_FLASH)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    list.push(Flash {
        kind: kind.to_string(),
        text: text.into(),
    });
    if let Err(e) = session.insert(SESSION_FLASH, list).await {
        tracing::warn!(error = %e, "cannot store a flash message");
    }
}

async fn take_flashes(session: &Session) -> Vec<Flash> {
    session
        .remove::<Vec<Flash>>(SESSION_FLASH)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Errors of console handlers. Rendered as full HTML pages (in the visitor's language) by
/// [`super::render_errors`]; a missing sign-in is a redirect to the login page.
#[derive(Debug)]
pub enum UiError {
    Login { next: String, htmx: bool },
    App(AppError),
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::App(e)
    }
}

impl From<sea_orm::DbErr> for UiError {
    fn from(e: sea_orm::DbErr) -> Self {
        UiError::App(e.into())
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::App(AppError::Internal(anyhow::Error::new(e)))
    }
}

/// Marks a response whose body [`super::render_errors`] replaces with the error page.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub detail: Option<String>,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::Login { next, htmx } => {
                let to = format!(
                    "/login/?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if htmx {
                    // htmx follows `HX-Redirect` with a full page load instead of swapping a login form
                    // into a table cell.
                    ([("HX-Redirect", to)], StatusCode::UNAUTHORIZED).into_response()
                } else {
                    Redirect::to(&to).into_response()
                }
            }
            UiError::App(e) => {
                let status = e.status();
                if status.is_server_error() {
                    tracing::error!(error = format!("{e:#}"), "console error");
                }
                let detail = match &e {
                    AppError::BadRequest(d) | AppError::Conflict(d) | AppError::Gone(d) => {
                        Some(d.clone())
                    }
                    AppError::Validation(f) => Some(
                        f.0.iter()
                            .map(|(k, v)| format!("{k}: {}", v.join(" ")))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    _ => None,
                };
                let mut res = status.into_response();
                res.extensions_mut().insert(ErrorPage { status, detail });
                res
            }
        }
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

/// The language of a request without a signed-in user: the session's switch, then Accept-Language.
pub async fn visitor_lang(session: &Session, headers: &HeaderMap) -> Lang {
    if let Ok(Some(code)) = session.get::<String>(SESSION_LANG).await
        && let Some(l) = Lang::parse(&code)
    {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let htmx = parts.headers.contains_key("hx-request");
        let target = parts
            .headers
            .get("hx-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let next = if htmx {
            parts
                .headers
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_string(),
                })
                .unwrap_or_else(|| "/".into())
        } else {
            here(parts)
        };
        let login = || UiError::Login {
            next: next.clone(),
            htmx,
        };
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            UiError::App(AppError::Internal(anyhow::anyhow!("session layer missing")))
        })?;
        let uid: Option<Uuid> = session.get(SESSION_USER).await.ok().flatten();
        let Some(uid) = uid else {
            return Err(login());
        };
        let auth_at: i64 = session
            .get(SESSION_AUTH_AT)
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        let now = state.clock.now().timestamp();
        if now - auth_at > session::ABSOLUTE_TIMEOUT_SECS {
            let _ = session.flush().await;
            return Err(login());
        }
        let p = match load_principal(&state.db, uid, None, client_ip(parts)).await {
            Ok(p) => p,
            Err(AppError::Unauthorized(_)) => {
                // Deactivated or deleted since sign-in: the session ends here.
                let _ = session.flush().await;
                return Err(login());
            }
            Err(e) => return Err(e.into()),
        };
        let reg = state.ui.clone();
        let profile = reg.directory.profile(state, uid).await?;
        let lang = match profile.preferred_language {
            Some(l) => l,
            None => visitor_lang(&session, &parts.headers).await,
        };
        // Kept in the session so error pages (rendered without a principal) speak the same language.
        let _ = session.insert(SESSION_LANG, lang.code()).await;
        let tz = reg.directory.timezone(state, &p).await;
        let csrf = csrf::token(&session).await;
        // Only a full HTML page shows (and so consumes) flash messages: not htmx fragments, not the
        // JSON look-ups Tom Select makes while a form is being filled in.
        let wants_html = parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|a| a.contains("text/html") || a.contains("*/*"))
            && !parts.uri.path().starts_with("/ui/ref/");
        let flashes = if htmx || !wants_html {
            vec![]
        } else {
            take_flashes(&session).await
        };
        let path = parts.uri.path().to_string();
        let nav = if htmx {
            vec![]
        } else {
            reg.nav_for(state, &p, lang, &path).await
        };
        let name = match lang {
            Lang::Ar if !profile.name_ar.trim().is_empty() => profile.name_ar.clone(),
            _ if !profile.name_en.trim().is_empty() => profile.name_en.clone(),
            _ => profile.email.clone(),
        };
        let initials: String = name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect();
        let role = p
            .grants
            .iter()
            .max_by_key(|g| g.role.level())
            .map(|g| i18n::t(lang, &format!("role.{}", g.role.code())).to_string())
            .unwrap_or_default();
        let ctx = Ctx {
            lang,
            csrf,
            user: Some(UserBadge {
                name,
                email: profile.email.clone(),
                role,
                initials,
            }),
            nav,
            crumbs: vec![Crumb {
                label: i18n::t(lang, "nav.home").to_string(),
                href: Some("/".into()),
            }],
            flashes,
            here: here(parts),
            tz,
            title: String::new(),
        };
        Ok(Ui {
            p,
            ctx,
            session,
            htmx,
            target,
        })
    }
}

/// A context for pages without a signed-in user (login, password reset, invitation).
pub async fn anonymous(session: &Session, headers: &HeaderMap, here: String) -> Ctx {
    let lang = visitor_lang(session, headers).await;
    Ctx {
        lang,
        csrf: csrf::token(session).await,
        user: None,
        nav: vec![],
        crumbs: vec![],
        flashes: take_flashes(session).await,
        here,
        tz: chrono_tz::Asia::Riyadh,
        title: String::new(),
    }
}

/// How long sidebar counts are reused for one user before being counted again.
pub const NAV_COUNT_TTL: Duration = Duration::from_secs(30);
