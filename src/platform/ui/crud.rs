//! The generic console pages of the resource pattern (list, detail, forms, delete, bulk) for any
//! [`ResourceDef`]. Handlers stay thin: they call the resource's [`super::resource::Ops`] (the
//! module's services), and permission, scope and validation are decided there.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;
use uuid::Uuid;

use super::ctx::{Ctx, Ui, UiResult};
use super::present::{self, CellView, FormValues, Labels};
use super::resource::{Col, Field, FilterDef, Input, ResourceDef};
use super::saved;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::Operation;
use crate::platform::state::AppState;

/// Renders a template into a response.
///
/// # Errors
/// Template errors (a bug), as a 500 page.
pub fn render<T: Template>(t: &T) -> UiResult {
    Ok(Html(t.render()?).into_response())
}

/// 303 to `to` (after a POST), also telling htmx to follow it.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

macro_rules! bind {
    ($def:expr, $f:path) => {{
        let d = $def.clone();
        move |ui: Ui, State(s): State<AppState>, uri: Uri| {
            let d = d.clone();
            async move { $f(&s, &d, ui, uri).await }
        }
    }};
}

macro_rules! bind_id {
    ($def:expr, $f:path) => {{
        let d = $def.clone();
        move |ui: Ui, State(s): State<AppState>, Path(id): Path<String>| {
            let d = d.clone();
            async move { $f(&s, &d, ui, id).await }
        }
    }};
}

macro_rules! bind_form {
    ($def:expr, $f:path) => {{
        let d = $def.clone();
        move |ui: Ui, State(s): State<AppState>, Form(form): Form<Vec<(String, String)>>| {
            let d = d.clone();
            async move { $f(&s, &d, ui, form).await }
        }
    }};
}

macro_rules! bind_id_form {
    ($def:expr, $f:path) => {{
        let d = $def.clone();
        move |ui: Ui,
              State(s): State<AppState>,
              Path(id): Path<String>,
              Form(form): Form<Vec<(String, String)>>| {
            let d = d.clone();
            async move { $f(&s, &d, ui, id, form).await }
        }
    }};
}

/// Every page of one resource.
pub fn routes(def: Arc<ResourceDef>) -> Router<AppState> {
    routes_for(def, true)
}

/// The pages of one resource, without the list page when the module serves it (`with_list` false).
pub fn routes_for(def: Arc<ResourceDef>, with_list: bool) -> Router<AppState> {
    let base = def.base();
    let mut r = Router::new();
    if with_list {
        r = r.route(&base, get(bind!(def, list)));
    }
    if !def.own_detail {
        r = r.route(&format!("{base}{{id}}/"), get(bind_id!(def, detail)));
    }
    if def.caps.create && !def.own_create {
        r = r.route(
            &format!("{base}new/"),
            get(bind!(def, new_form)).post(bind_form!(def, create)),
        );
    }
    if def.caps.edit {
        r = r.route(
            &format!("{base}{{id}}/edit/"),
            get(bind_id!(def, edit_form)).post(bind_id_form!(def, update)),
        );
    }
    if def.caps.delete {
        r = r
            .route(
                &format!("{base}{{id}}/delete/"),
                post(bind_id_form!(def, delete)),
            )
            .route(&format!("{base}bulk/"), post(bind_form!(def, bulk)));
    }
    if def.caps.export {
        r = r.route(
            &format!("{base}export/"),
            get(bind!(def, super::exports::export_list)),
        );
    }
    if def.caps.import && def.importer.is_some() {
        let d1 = def.clone();
        let d2 = def.clone();
        let d3 = def.clone();
        r = r
            .route(
                &format!("{base}import/"),
                get(move |ui: Ui, State(s): State<AppState>| {
                    let d = d1.clone();
                    async move { super::imports::form(&s, &d, ui).await }
                })
                .post(
                    move |ui: Ui, State(s): State<AppState>, mp: axum::extract::Multipart| {
                        let d = d2.clone();
                        async move { super::imports::preview(&s, &d, ui, mp).await }
                    },
                )
                .layer(crate::platform::limits::limit(
                    crate::platform::limits::IMPORT_FILE + 64 * 1024,
                )),
            )
            .route(
                &format!("{base}import/commit/"),
                post(
                    move |ui: Ui,
                          State(s): State<AppState>,
                          f: Form<super::imports::CommitForm>| {
                        let d = d3.clone();
                        async move { super::imports::commit(&s, &d, ui, f).await }
                    },
                ),
            );
    }
    if def.caps.pdf {
        r = r.route(
            &format!("{base}{{id}}/pdf/"),
            get(bind_id!(def, super::exports::export_pdf)),
        );
    }
    r
}

/// Parses a path id; anything else is a 404, like an id that does not exist.
pub fn parse_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

// ---------------------------------------------------------------------------------------------- list

pub struct HeadView {
    pub key: &'static str,
    pub label: &'static str,
    pub href: Option<String>,
    /// "", "asc" or "desc"
    pub sorted: &'static str,
    pub optional: bool,
}

pub struct RowView {
    pub id: String,
    pub href: String,
    pub cells: Vec<CellView>,
}

pub struct PageLink {
    pub label: String,
    pub href: Option<String>,
    pub current: bool,
}

pub struct PagerView {
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub pages: Vec<PageLink>,
}

pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct FilterView {
    pub key: &'static str,
    pub label: &'static str,
    /// select, bool, ref, text
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<OptionView>,
    pub ref_url: String,
}

/// What a list page and its htmx table fragment show.
pub struct ListView {
    pub key: String,
    pub base: String,
    pub title: &'static str,
    pub singular: &'static str,
    pub icon: &'static str,
    pub heads: Vec<HeadView>,
    pub rows: Vec<RowView>,
    pub pager: PagerView,
    pub filters: Vec<FilterView>,
    pub search: String,
    /// The list's query string without `page` (exports, saved views).
    pub query: String,
    pub can_create: bool,
    pub can_export: bool,
    pub can_import: bool,
    pub can_bulk: bool,
    pub saved: Vec<saved::SavedView>,
    pub active_view: Option<Uuid>,
    pub filtered: bool,
    /// The current `?ordering=`, kept when filters change.
    pub ordering: String,
}

impl ListView {
    pub fn is_active(&self, id: &Uuid) -> bool {
        self.active_view.as_ref() == Some(id)
    }
}

#[derive(Template)]
#[template(path = "ui/list.html")]
pub struct ListPage {
    pub ctx: Ctx,
    pub v: ListView,
}

#[derive(Template)]
#[template(path = "ui/_table.html")]
pub struct TablePartial {
    pub ctx: Ctx,
    pub v: ListView,
}

/// A query string without blank values and without UI-only keys, in the original order.
pub fn clean_query(raw: &str, drop: &[&str]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if v.trim().is_empty() || drop.contains(&k.as_ref()) {
            continue;
        }
        ser.append_pair(&k, &v);
    }
    ser.finish()
}

/// `query` with `key` set to `value` (or removed when `None`), keeping everything else.
pub fn with_param(base: &str, query: &str, key: &str, value: Option<&str>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != key {
            ser.append_pair(&k, &v);
        }
    }
    if let Some(v) = value {
        ser.append_pair(key, v);
    }
    let q = ser.finish();
    if q.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{q}")
    }
}

/// Resolves the labels of every foreign key the columns show.
pub async fn resolve_labels(s: &AppState, lang: Lang, cols: &[Col], rows: &[Value]) -> Labels {
    let mut labels = Labels::new();
    for (src, ids) in present::ref_ids(cols, rows) {
        let Some(source) = s.ui.refs.get(src) else {
            continue;
        };
        match source.labels(s, &ids, lang).await {
            Ok(m) => {
                labels.insert(src, m);
            }
            Err(e) => tracing::warn!(error = %e, src, "cannot resolve labels"),
        }
    }
    labels
}

fn pager(ctx: &Ctx, base: &str, query: &str, q: &ListQuery, page: &Page<Value>) -> PagerView {
    let last = Ord::max(page.count.div_ceil(q.page_size), 1);
    let link = |n: u64| with_param(base, query, "page", Some(&n.to_string()));
    let from = if page.count == 0 {
        0
    } else {
        (q.page - 1) * q.page_size + 1
    };
    let to = Ord::min(q.page * q.page_size, page.count);
    let summary = ctx.tf(
        "list.showing",
        &[
            ("from", &ctx.num(from as i64)),
            ("to", &ctx.num(to as i64)),
            ("count", &ctx.num(page.count as i64)),
        ],
    );
    let mut pages = vec![];
    let mut last_shown = 0;
    for n in 1..=last {
        let near = n == 1 || n == last || n.abs_diff(q.page) <= 2;
        if !near {
            continue;
        }
        if last_shown != 0 && n > last_shown + 1 {
            pages.push(PageLink {
                label: "…".into(),
                href: None,
                current: false,
            });
        }
        pages.push(PageLink {
            label: ctx.num(n as i64),
            href: Some(link(n)),
            current: n == q.page,
        });
        last_shown = n;
    }
    PagerView {
        summary,
        prev: (q.page > 1).then(|| link(q.page - 1)),
        next: (q.page < last).then(|| link(q.page + 1)),
        pages,
    }
}

pub fn option_views(lang: Lang, choices: &[&str], current: &str) -> Vec<OptionView> {
    choices
        .iter()
        .map(|c| OptionView {
            value: (*c).to_string(),
            label: present::choice_label(lang, c),
            selected: *c == current,
        })
        .collect()
}

async fn filter_views(
    s: &AppState,
    ctx: &Ctx,
    filters: &[FilterDef],
    q: &ListQuery,
) -> Vec<FilterView> {
    let mut out = vec![];
    for f in filters {
        let value = q.param(f.key).unwrap_or("").to_string();
        let (kind, options, ref_url) = match &f.input {
            Input::Select(choices) => (
                "select",
                option_views(ctx.lang, choices, &value),
                String::new(),
            ),
            Input::Checkbox => (
                "select",
                vec![
                    OptionView {
                        value: "true".into(),
                        label: ctx.t("common.yes").into(),
                        selected: value == "true",
                    },
                    OptionView {
                        value: "false".into(),
                        label: ctx.t("common.no").into(),
                        selected: value == "false",
                    },
                ],
                String::new(),
            ),
            Input::Ref(src) => {
                let mut opts = vec![];
                if let Ok(id) = Uuid::parse_str(&value)
                    && let Some(source) = s.ui.refs.get(src)
                    && let Ok(m) = source.labels(s, &[id], ctx.lang).await
                    && let Some(l) = m.get(&id)
                {
                    opts.push(OptionView {
                        value: value.clone(),
                        label: l.clone(),
                        selected: true,
                    });
                }
                ("ref", opts, format!("/ui/ref/{src}/"))
            }
            Input::Date => ("date", vec![], String::new()),
            _ => ("text", vec![], String::new()),
        };
        out.push(FilterView {
            key: f.key,
            label: f.label,
            kind,
            value,
            options,
            ref_url,
        });
    }
    out
}

/// Builds the list view of `d` for `raw_query` (also used by the export).
pub async fn list_view(
    s: &AppState,
    d: &ResourceDef,
    ui: &Ui,
    raw_query: &str,
    active_view: Option<Uuid>,
) -> UiResult<ListView> {
    let query = clean_query(raw_query, &["view"]);
    let q = ListQuery::parse(&d.base(), &query)?;
    let page = d.ops.list(s, &ui.p, &q).await?;
    let ctx = &ui.ctx;
    let labels = resolve_labels(s, ctx.lang, &d.columns, &page.results).await;
    let no_page = with_param("", &query, "page", None);
    let no_page = no_page.trim_start_matches('?').to_string();
    let heads = d
        .columns
        .iter()
        .map(|c| {
            let (sorted, href) = match c.sort {
                Some(key) => {
                    let current = q.ordering.first();
                    let sorted = match current {
                        Some((f, desc)) if f == key => {
                            if *desc {
                                "desc"
                            } else {
                                "asc"
                            }
                        }
                        _ => "",
                    };
                    let next = if sorted == "asc" {
                        format!("-{key}")
                    } else {
                        key.to_string()
                    };
                    (
                        sorted,
                        Some(with_param(&d.base(), &no_page, "ordering", Some(&next))),
                    )
                }
                None => ("", None),
            };
            HeadView {
                key: c.key,
                label: c.label,
                href,
                sorted,
                optional: c.optional,
            }
        })
        .collect();
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
            let mut cells: Vec<CellView> = d
                .columns
                .iter()
                .map(|c| present::cell(ctx, c, v, &labels))
                .collect();
            if let Some(first) = cells.first_mut() {
                first.href = Some(href.clone());
            }
            RowView { id, href, cells }
        })
        .collect();
    let pager = pager(ctx, &d.base(), &query, &q, &page);
    let filters = filter_views(s, ctx, &d.filters, &q).await;
    let saved = saved::list(s, ui.p.user_id, &d.key()).await?;
    let filtered = !no_page.is_empty();
    Ok(ListView {
        key: d.key(),
        base: d.base(),
        title: d.title,
        singular: d.singular,
        icon: d.icon,
        heads,
        rows,
        pager,
        filters,
        search: q.search.clone().unwrap_or_default(),
        query: no_page,
        can_create: d.caps.create && ui.p.can(d.resource, Operation::Create),
        can_export: d.caps.export && ui.p.can(d.resource, Operation::Export),
        can_import: d.caps.import
            && d.importer.is_some()
            && ui.p.can(d.resource, Operation::Create),
        can_bulk: d.caps.delete && ui.p.can(d.resource, Operation::Delete),
        saved,
        active_view,
        filtered,
        ordering: q
            .ordering
            .iter()
            .map(|(f, desc)| if *desc { format!("-{f}") } else { f.clone() })
            .collect::<Vec<_>>()
            .join(","),
    })
}

async fn list(s: &AppState, d: &ResourceDef, ui: Ui, uri: Uri) -> UiResult {
    ui.p.require(d.resource, Operation::View)?;
    let raw = uri.query().unwrap_or("");
    // A list opened without parameters starts from the user's default saved view, if any.
    let (query, active) = if raw.is_empty() {
        match saved::default_for(s, ui.p.user_id, &d.key()).await? {
            Some(v) => (v.query.clone(), Some(v.id)),
            None => (String::new(), None),
        }
    } else {
        let active = url::form_urlencoded::parse(raw.as_bytes())
            .find(|(k, _)| k == "view")
            .and_then(|(_, v)| Uuid::parse_str(&v).ok());
        (raw.to_string(), active)
    };
    let v = list_view(s, d, &ui, &query, active).await?;
    let ctx = ui.ctx.clone();
    if ui.htmx && ui.target.as_deref() == Some("list") {
        return render(&TablePartial { ctx, v });
    }
    let title = ctx.t(d.title);
    let ctx = ctx.crumb(title, None).titled(title);
    render(&ListPage { ctx, v })
}

// -------------------------------------------------------------------------------------------- detail

pub struct DetailRow {
    pub label: &'static str,
    pub cell: CellView,
}

pub struct LinkView {
    pub label: &'static str,
    pub icon: &'static str,
    pub href: String,
}

#[derive(Template)]
#[template(path = "ui/detail.html")]
pub struct DetailPage {
    pub ctx: Ctx,
    pub base: String,
    pub id: String,
    pub name: String,
    pub singular: &'static str,
    pub icon: &'static str,
    pub rows: Vec<DetailRow>,
    pub links: Vec<LinkView>,
    pub can_edit: bool,
    pub can_delete: bool,
    pub can_pdf: bool,
    /// Extra HTML-safe content a module adds below the fields (e.g. role assignments).
    pub extra: String,
    pub delete_action: String,
    pub delete_text: String,
}

/// The detail rows of an object (also used by the PDF summary).
pub async fn detail_rows(s: &AppState, ctx: &Ctx, cols: &[Col], v: &Value) -> Vec<DetailRow> {
    let labels = resolve_labels(s, ctx.lang, cols, std::slice::from_ref(v)).await;
    cols.iter()
        .map(|c| DetailRow {
            label: c.label,
            cell: present::cell(ctx, c, v, &labels),
        })
        .collect()
}

/// The detail page of `d`'s object `id`, with `extra` rendered below the fields.
///
/// # Errors
/// 404 when out of scope; service errors.
pub async fn detail_page(
    s: &AppState,
    d: &ResourceDef,
    ui: &Ui,
    id: Uuid,
    extra: String,
) -> UiResult<DetailPage> {
    let v = d.ops.get(s, &ui.p, id).await?;
    let ctx = &ui.ctx;
    let name = d.name_of(&v, ctx.lang);
    let rows = detail_rows(s, ctx, &d.detail, &v).await;
    let links = d
        .links
        .iter()
        .filter(|l| ui.p.can(l.resource, l.op))
        .map(|l| LinkView {
            label: l.label,
            icon: l.icon,
            href: l.href.replace("{id}", &id.to_string()),
        })
        .collect();
    let ctx = ctx
        .clone()
        .crumb(ctx.t(d.title), Some(d.base()))
        .crumb(name.clone(), None)
        .titled(name.clone());
    let delete_text = ctx.tf1("delete.text", "what", &name);
    Ok(DetailPage {
        delete_action: format!("{}delete/", d.href(id)),
        delete_text,
        ctx,
        base: d.base(),
        id: id.to_string(),
        name,
        singular: d.singular,
        icon: d.icon,
        rows,
        links,
        can_edit: d.caps.edit && ui.p.can(d.resource, Operation::Edit),
        can_delete: d.caps.delete && ui.p.can(d.resource, Operation::Delete),
        can_pdf: d.caps.pdf && ui.p.can(d.resource, Operation::Export),
        extra,
    })
}

async fn detail(s: &AppState, d: &ResourceDef, ui: Ui, id: String) -> UiResult {
    let id = parse_id(&id)?;
    render(&detail_page(s, d, &ui, id, String::new()).await?)
}

// --------------------------------------------------------------------------------------------- forms

pub struct FieldView {
    pub key: &'static str,
    pub label: &'static str,
    /// text, textarea, email, tel, password, date, time, number, checkbox, select, ref, multi
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub options: Vec<OptionView>,
    pub required: bool,
    pub errors: Vec<String>,
    pub help: Option<&'static str>,
    pub ref_url: String,
    pub within: &'static str,
    pub min: String,
    pub max: String,
    pub maxlength: String,
}

#[derive(Template)]
#[template(path = "ui/form.html")]
pub struct FormPage {
    pub ctx: Ctx,
    pub heading: String,
    pub action: String,
    pub cancel: String,
    pub fields: Vec<FieldView>,
    /// Errors not tied to a field shown on this form.
    pub general: Vec<String>,
}

/// Error messages in the page's language where the catalog knows them (`err.<English message>`).
pub fn translate_errors(lang: Lang, msgs: &[String]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            let key = format!("err.{m}");
            if i18n::has(&key) {
                i18n::t(lang, &key).to_string()
            } else {
                m.clone()
            }
        })
        .collect()
}

/// The form controls for `fields` with `values` and `errors`; labels of referenced rows resolved.
pub async fn field_views(
    s: &AppState,
    ctx: &Ctx,
    fields: &[Field],
    values: &FormValues,
    errors: &FieldErrors,
    creating: bool,
) -> (Vec<FieldView>, Vec<String>) {
    let mut out = vec![];
    for f in fields {
        if f.create_only && !creating {
            continue;
        }
        let vals = values.get(f.key).cloned().unwrap_or_default();
        let first = vals.first().cloned().unwrap_or_default();
        let mut fv = FieldView {
            key: f.key,
            label: f.label,
            kind: "text",
            value: first.clone(),
            checked: false,
            options: vec![],
            required: f.required,
            errors: translate_errors(
                ctx.lang,
                errors.0.get(f.key).map(Vec::as_slice).unwrap_or(&[]),
            ),
            help: f.help,
            ref_url: String::new(),
            within: f.within.unwrap_or(""),
            min: String::new(),
            max: String::new(),
            maxlength: String::new(),
        };
        match &f.input {
            Input::Text { max } => fv.maxlength = max.to_string(),
            Input::TextArea => fv.kind = "textarea",
            Input::Email => fv.kind = "email",
            Input::Phone => fv.kind = "tel",
            Input::Password => {
                fv.kind = "password";
                fv.value.clear();
            }
            Input::Date => fv.kind = "date",
            Input::Time => fv.kind = "time",
            Input::Number { min, max } => {
                fv.kind = "number";
                fv.min = min.to_string();
                fv.max = max.to_string();
            }
            Input::Checkbox => {
                fv.kind = "checkbox";
                fv.checked = vals.iter().any(|v| v == "true" || v == "on");
            }
            Input::Select(choices) => {
                fv.kind = "select";
                fv.options = option_views(ctx.lang, choices, &first);
            }
            Input::Multi(choices) => {
                fv.kind = "multi";
                fv.options = choices
                    .iter()
                    .map(|c| OptionView {
                        value: (*c).to_string(),
                        label: present::choice_label(ctx.lang, c),
                        selected: vals.iter().any(|v| v == c),
                    })
                    .collect();
            }
            Input::Ref(src) => {
                fv.kind = "ref";
                fv.ref_url = format!("/ui/ref/{src}/");
                if let Ok(id) = Uuid::parse_str(&first)
                    && let Some(source) = s.ui.refs.get(src)
                    && let Ok(m) = source.labels(s, &[id], ctx.lang).await
                {
                    fv.options = vec![OptionView {
                        value: first.clone(),
                        label: m.get(&id).cloned().unwrap_or(first.clone()),
                        selected: true,
                    }];
                }
            }
        }
        out.push(fv);
    }
    // Messages for fields this form does not show (or for the whole object) go on top.
    let shown: Vec<&str> = out.iter().map(|f| f.key).collect();
    let general = errors
        .0
        .iter()
        .filter(|(k, _)| !shown.contains(&k.as_str()))
        .flat_map(|(k, v)| {
            let msgs = translate_errors(ctx.lang, v);
            let k = k.clone();
            msgs.into_iter().map(move |m| {
                if k == "non_field_errors" || k == "detail" {
                    m
                } else {
                    format!("{k}: {m}")
                }
            })
        })
        .collect();
    (out, general)
}

async fn form_page(
    s: &AppState,
    d: &ResourceDef,
    ui: &Ui,
    id: Option<(Uuid, String)>,
    values: &FormValues,
    errors: &FieldErrors,
) -> UiResult {
    let creating = id.is_none();
    let (fields, general) = field_views(s, &ui.ctx, &d.fields, values, errors, creating).await;
    let ctx = ui.ctx.clone();
    let (heading, action, cancel, ctx) = match id {
        None => {
            let heading = ctx.tf("form.new", &[("what", ctx.t(d.singular))]);
            let ctx = ctx
                .clone()
                .crumb(ctx.t(d.title), Some(d.base()))
                .crumb(heading.clone(), None)
                .titled(heading.clone());
            (heading, format!("{}new/", d.base()), d.base(), ctx)
        }
        Some((id, name)) => {
            let heading = ctx.tf("form.edit", &[("what", &name)]);
            let ctx = ctx
                .clone()
                .crumb(ctx.t(d.title), Some(d.base()))
                .crumb(name, Some(d.href(id)))
                .crumb(ctx.t("action.edit"), None)
                .titled(heading.clone());
            (heading, format!("{}edit/", d.href(id)), d.href(id), ctx)
        }
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::BAD_REQUEST
    };
    let page = FormPage {
        ctx,
        heading,
        action,
        cancel,
        fields,
        general,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The create form of the registered resource `key` with `values` and `errors` (for modules that
/// serve `new/` themselves).
///
/// # Errors
/// 404 for an unknown resource; template errors.
pub async fn resource_form(
    s: &AppState,
    key: &str,
    ui: &Ui,
    values: &FormValues,
    errors: &FieldErrors,
) -> UiResult {
    let Some(d) = s.ui.find(key) else {
        return Err(AppError::NotFound.into());
    };
    form_page(s, &d, ui, None, values, errors).await
}

async fn new_form(s: &AppState, d: &ResourceDef, ui: Ui, uri: Uri) -> UiResult {
    ui.p.require(d.resource, Operation::Create)?;
    // Query parameters pre-fill the form (`?hospital=…` from a hospital's page).
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let values = present::values_from_form(&pairs);
    form_page(s, d, &ui, None, &values, &FieldErrors::new()).await
}

async fn create(s: &AppState, d: &ResourceDef, ui: Ui, form: Vec<(String, String)>) -> UiResult {
    let values = present::values_from_form(&form);
    let (body, local) = present::body_from_form(&d.fields, &values, true);
    if !local.is_empty() {
        return form_page(s, d, &ui, None, &values, &local).await;
    }
    match d.ops.create(s, &ui.p, body).await {
        Ok(v) => {
            s.ui.invalidate_counts();
            let name = d.name_of(&v, ui.lang());
            ui.flash("success", ui.ctx.tf("flash.created", &[("what", &name)]))
                .await;
            let id = v.get("id").and_then(Value::as_str).unwrap_or("");
            Ok(see_other(&format!("{}{id}/", d.base())))
        }
        Err(AppError::Validation(errors)) => form_page(s, d, &ui, None, &values, &errors).await,
        Err(e) => Err(e.into()),
    }
}

async fn edit_form(s: &AppState, d: &ResourceDef, ui: Ui, id: String) -> UiResult {
    let id = parse_id(&id)?;
    let v = d.ops.get(s, &ui.p, id).await?;
    ui.p.require(d.resource, Operation::Edit)?;
    let values = present::values_from_object(&d.fields, &v);
    let name = d.name_of(&v, ui.lang());
    form_page(s, d, &ui, Some((id, name)), &values, &FieldErrors::new()).await
}

async fn update(
    s: &AppState,
    d: &ResourceDef,
    ui: Ui,
    id: String,
    form: Vec<(String, String)>,
) -> UiResult {
    let id = parse_id(&id)?;
    let current = d.ops.get(s, &ui.p, id).await?;
    let name = d.name_of(&current, ui.lang());
    let values = present::values_from_form(&form);
    let (body, local) = present::body_from_form(&d.fields, &values, false);
    if !local.is_empty() {
        return form_page(s, d, &ui, Some((id, name)), &values, &local).await;
    }
    match d.ops.update(s, &ui.p, id, body).await {
        Ok(v) => {
            let name = d.name_of(&v, ui.lang());
            ui.flash("success", ui.ctx.tf("flash.updated", &[("what", &name)]))
                .await;
            Ok(see_other(&d.href(id)))
        }
        Err(AppError::Validation(errors)) => {
            form_page(s, d, &ui, Some((id, name)), &values, &errors).await
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------ delete, bulk

async fn delete(
    s: &AppState,
    d: &ResourceDef,
    ui: Ui,
    id: String,
    _form: Vec<(String, String)>,
) -> UiResult {
    let id = parse_id(&id)?;
    let v = d.ops.get(s, &ui.p, id).await?;
    let name = d.name_of(&v, ui.lang());
    d.ops.delete(s, &ui.p, id).await?;
    s.ui.invalidate_counts();
    ui.flash("success", ui.ctx.tf("flash.deleted", &[("what", &name)]))
        .await;
    Ok(see_other(&d.base()))
}

async fn bulk(s: &AppState, d: &ResourceDef, ui: Ui, form: Vec<(String, String)>) -> UiResult {
    ui.p.require(d.resource, Operation::Delete)?;
    let action = form
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let back = form
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.clone())
        .filter(|v| v.starts_with(&d.base()))
        .unwrap_or_else(|| d.base());
    if action != "delete" {
        return Err(AppError::BadRequest("Unknown bulk action.".into()).into());
    }
    let ids: Vec<Uuid> = form
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    if ids.is_empty() {
        ui.flash("warning", ui.t("flash.nothing_selected")).await;
        return Ok(see_other(&back));
    }
    let (mut done, mut failed) = (0usize, 0usize);
    for id in ids {
        // Each through the service: its own permission check, transaction and audit row.
        match d.ops.delete(s, &ui.p, id).await {
            Ok(()) => done += 1,
            Err(e) => {
                tracing::info!(error = %e, %id, "bulk delete skipped a row");
                failed += 1;
            }
        }
    }
    s.ui.invalidate_counts();
    let msg = ui.ctx.tf(
        "flash.bulk_deleted",
        &[
            ("done", &ui.ctx.num(done as i64)),
            ("failed", &ui.ctx.num(failed as i64)),
        ],
    );
    ui.flash(if failed == 0 { "success" } else { "warning" }, msg)
        .await;
    Ok(see_other(&back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_filters_and_ui_keys_are_dropped() {
        assert_eq!(
            clean_query("gender=&search=ahmad&view=x&page=2", &["view"]),
            "search=ahmad&page=2"
        );
    }

    #[test]
    fn a_parameter_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_param("/p/", "a=1&page=3", "page", Some("4")),
            "/p/?a=1&page=4"
        );
        assert_eq!(with_param("/p/", "page=3", "page", None), "/p/");
    }
}
