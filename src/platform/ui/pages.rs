//! Console pages that belong to no module: home, global search, the language switch, foreign-key
//! look-ups for Tom Select, static files and the error pages.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;

use super::crud::{RowView, render, resolve_labels, see_other};
use super::ctx::{
    Ctx, ErrorPage, SESSION_LANG, SESSION_USER, Ui, UiResult, anonymous, visitor_lang,
};
use super::present;
use crate::platform::error::AppError;
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::ListQuery;
use crate::platform::rbac::Operation;
use crate::platform::state::AppState;

pub struct StatCard {
    pub label: String,
    pub value: String,
    pub href: String,
    pub icon: &'static str,
}

#[derive(Template)]
#[template(path = "ui/home.html")]
pub struct HomePage {
    pub ctx: Ctx,
    pub cards: Vec<StatCard>,
}

/// `GET /`: stat cards for everything the user may open.
pub async fn home(ui: Ui, State(s): State<AppState>) -> UiResult {
    let mut cards = vec![];
    for g in &s.ui.nav {
        for item in &g.items {
            let Some(key) = item.count else { continue };
            if !ui.p.can(item.resource, item.op) {
                continue;
            }
            if let Some(n) = s.ui.count(&s, &ui.p, key).await {
                cards.push(StatCard {
                    label: ui.t(item.label).to_string(),
                    value: ui.ctx.num(n as i64),
                    href: item.href.to_string(),
                    icon: item.icon,
                });
            }
        }
    }
    let ctx = ui.ctx.clone();
    let title = ctx.t("home.title");
    let mut ctx = ctx.titled(title);
    ctx.crumbs.clear();
    render(&HomePage { ctx, cards })
}

pub struct SearchGroup {
    pub title: &'static str,
    pub icon: &'static str,
    pub more: Option<String>,
    pub count: String,
    pub rows: Vec<RowView>,
}

#[derive(Template)]
#[template(path = "ui/search.html")]
pub struct SearchPage {
    pub ctx: Ctx,
    pub q: String,
    pub groups: Vec<SearchGroup>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /search/?q=`: the first matches in every searchable resource the user may view.
pub async fn search(ui: Ui, State(s): State<AppState>, Query(sq): Query<SearchQuery>) -> UiResult {
    let q = sq.q.trim().to_string();
    let mut groups = vec![];
    if !q.is_empty() {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        for d in s.ui.resources.iter().filter(|d| d.searchable) {
            if !ui.p.can(d.resource, Operation::View) {
                continue;
            }
            let lq = ListQuery::parse(&d.base(), &format!("search={enc}&page_size=5"))?;
            let page = match d.ops.list(&s, &ui.p, &lq).await {
                Ok(p) => p,
                Err(AppError::Forbidden(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if page.count == 0 {
                continue;
            }
            let cols: Vec<_> = d
                .columns
                .iter()
                .filter(|c| !c.optional)
                .take(3)
                .cloned()
                .collect();
            let labels = resolve_labels(&s, ui.lang(), &cols, &page.results).await;
            let rows = page
                .results
                .iter()
                .map(|v| {
                    let id = v
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let href = format!("{}{id}/", d.base());
                    let cells = cols
                        .iter()
                        .map(|c| present::cell(&ui.ctx, c, v, &labels))
                        .collect();
                    RowView { id, href, cells }
                })
                .collect();
            groups.push(SearchGroup {
                title: d.title,
                icon: d.icon,
                more: (page.count > 5).then(|| format!("{}?search={enc}", d.base())),
                count: ui.ctx.num(page.count as i64),
                rows,
            });
        }
    }
    let ctx = ui.ctx.clone();
    let title = ctx.t("search.title");
    let ctx = ctx.crumb(title, None).titled(title);
    render(&SearchPage { ctx, q, groups })
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

/// Only local paths: `next` must not send the user to another site.
pub fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// `POST /lang/`: switches the language; a signed-in user's preference is saved.
pub async fn switch_lang(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<LangForm>,
) -> UiResult {
    let lang = Lang::parse(&f.lang).ok_or_else(|| AppError::field("lang", "Unknown language."))?;
    if let Ok(Some(uid)) = session.get::<uuid::Uuid>(SESSION_USER).await {
        s.ui.directory.set_language(&s, uid, lang).await?;
    }
    let _ = session.insert(SESSION_LANG, lang.code()).await;
    Ok(see_other(safe_next(&f.next)))
}

/// `GET /ui/ref/{name}/?q=…`: Tom Select's remote search, in the caller's scope.
pub async fn ref_lookup(
    ui: Ui,
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, super::ctx::UiError> {
    let Some(src) = s.ui.refs.get(name.as_str()).cloned() else {
        return Err(AppError::NotFound.into());
    };
    let q = params
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let within: Vec<(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "q" && !v.is_empty())
        .cloned()
        .collect();
    let found = src.search(&s, &ui.p, q, &within, ui.lang()).await?;
    let items: Vec<Value> = found
        .into_iter()
        .map(|(id, text)| json!({"value": id, "text": text}))
        .collect();
    Ok(Json(items).into_response())
}

#[derive(Template)]
#[template(path = "ui/error.html")]
pub struct ErrorTemplate {
    pub ctx: Ctx,
    pub status: u16,
    pub heading: &'static str,
    pub message: &'static str,
    pub detail: Option<String>,
}

/// Middleware: replaces the body of console error responses ([`ErrorPage`]) with a page in the
/// visitor's language. API responses (JSON) pass untouched.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let session = req.extensions().get::<Session>().cloned();
    let headers: HeaderMap = req.headers().clone();
    let here = req.uri().path().to_string();
    let htmx = headers.contains_key("hx-request");
    let res = next.run(req).await;
    let Some(page) = res.extensions().get::<ErrorPage>().cloned() else {
        return res;
    };
    let mut ctx = match &session {
        Some(s) => anonymous(s, &headers, here).await,
        None => {
            let lang = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
                .unwrap_or_default();
            Ctx {
                lang,
                csrf: String::new(),
                user: None,
                nav: vec![],
                crumbs: vec![],
                flashes: vec![],
                here,
                tz: chrono_tz::Asia::Riyadh,
                title: String::new(),
            }
        }
    };
    let (heading, message) = match page.status {
        StatusCode::FORBIDDEN => ("error.403.title", "error.403.text"),
        StatusCode::NOT_FOUND => ("error.404.title", "error.404.text"),
        StatusCode::BAD_REQUEST => ("error.400.title", "error.400.text"),
        StatusCode::TOO_MANY_REQUESTS => ("error.429.title", "error.429.text"),
        StatusCode::CONFLICT | StatusCode::GONE => ("error.400.title", "error.400.text"),
        _ => ("error.500.title", "error.500.text"),
    };
    ctx.title = i18n::t(ctx.lang, heading).to_string();
    let t = ErrorTemplate {
        heading: i18n::t(ctx.lang, heading),
        message: i18n::t(ctx.lang, message),
        ctx,
        status: page.status.as_u16(),
        detail: page.detail,
    };
    match t.render() {
        Ok(body) => {
            let mut r = (page.status, Html(body)).into_response();
            if htmx {
                // Let htmx swap the error into the page instead of ignoring a 4xx.
                r.headers_mut()
                    .insert("HX-Retarget", header::HeaderValue::from_static("#main"));
                r.headers_mut()
                    .insert("HX-Reswap", header::HeaderValue::from_static("innerHTML"));
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render the error page");
            page.status.into_response()
        }
    }
}

/// Language of a request for pages outside the signed-in console.
pub async fn lang_of(session: &Session, headers: &HeaderMap) -> Lang {
    visitor_lang(session, headers).await
}

pub fn router() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/", get(home))
        .route("/search/", get(search))
        .route("/lang/", post(switch_lang))
        .route("/ui/ref/{name}/", get(ref_lookup))
        .route("/ui/views/", post(super::saved::save_view))
        .route("/ui/views/{id}/delete/", post(super::saved::delete_view))
}
