//! Console pages: the notification log (read-only resource), the templates (resource), the topbar bell
//! and the user's inbox, and the public opt-out page `/o/<token>`.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tower_sessions::Session;
use uuid::Uuid;

use super::model::inbox as inbox_model;
use super::service::{Channel, STATUSES, inbox, logs, optout, templates};
use super::wire::{LogOut, TemplateIn};
use crate::apps::accounts::api::ClientIp;
use crate::platform::db::begin_write;
use crate::platform::error::{AppError, AppResult};
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{render, see_other};
use crate::platform::ui::ctx::{self, Ctx, Ui, UiResult};
use crate::platform::ui::registry::Registry;
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Ops, ResourceDef, from_body,
};

struct LogOps;

#[async_trait::async_trait]
impl Ops for LogOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(logs::list(s, p, q)
            .await?
            .map(|m| serde_json::to_value(LogOut::new(m, false)).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(
            serde_json::to_value(LogOut::new(logs::get(&s.db, p, id).await?, true))
                .unwrap_or_default(),
        )
    }
    async fn create(&self, _: &AppState, _: &Principal, _: Value) -> AppResult<Value> {
        Err(AppError::MethodNotAllowed)
    }
    async fn update(&self, _: &AppState, _: &Principal, _: Uuid, _: Value) -> AppResult<Value> {
        Err(AppError::MethodNotAllowed)
    }
    async fn delete(&self, _: &AppState, _: &Principal, _: Uuid) -> AppResult<()> {
        Err(AppError::MethodNotAllowed)
    }
}

struct TemplateOps;

#[async_trait::async_trait]
impl Ops for TemplateOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(templates::list(s, p, q)
            .await?
            .map(|o| serde_json::to_value(o).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(templates::get(s, p, id).await?).unwrap_or_default())
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        let input: TemplateIn = from_body(body)?;
        Ok(serde_json::to_value(templates::create(s, p, input).await?).unwrap_or_default())
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        let input: TemplateIn = from_body(body)?;
        Ok(serde_json::to_value(templates::update(s, p, id, input).await?).unwrap_or_default())
    }
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        templates::delete(s, p, id).await
    }
}

fn log_resource() -> ResourceDef {
    ResourceDef {
        module: "notifications",
        slug: "logs",
        resource: Resource::Notifications,
        title: "nav.notification_logs",
        singular: "notify.log",
        icon: "envelope-paper",
        columns: vec![
            Col::new("created_at", "common.created_at", Kind::DateTime).sort("created_at"),
            Col::new("channel", "notify.channel", Kind::Choice).sort("channel"),
            Col::new("recipient", "notify.recipient", Kind::Code),
            Col::new("template_code", "notify.template", Kind::Code),
            Col::new("status", "notify.status", Kind::Choice).sort("status"),
            Col::new("attempts", "notify.attempts", Kind::Number).sort("attempts"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
            Col::new("reason", "notify.reason", Kind::Choice).optional(),
            Col::new("scheduled_for", "notify.scheduled_for", Kind::DateTime)
                .sort("scheduled_for")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("channel", "notify.channel", Input::Select(Channel::CODES)),
            FilterDef::new("status", "notify.status", Input::Select(STATUSES)),
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("created_from", "notify.from", Input::Date),
            FilterDef::new("created_to", "notify.to", Input::Date),
        ],
        fields: vec![],
        detail: vec![
            Col::new("status", "notify.status", Kind::Choice),
            Col::new("reason", "notify.reason", Kind::Choice),
            Col::new("channel", "notify.channel", Kind::Choice),
            Col::new("recipient", "notify.recipient", Kind::Code),
            Col::new("recipient_type", "notify.recipient_type", Kind::Choice),
            Col::new("patient", "org.patient", Kind::Ref("patient")),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("template_code", "notify.template", Kind::Code),
            Col::new("language", "notify.language", Kind::Code),
            Col::new("subject", "notify.subject", Kind::Text),
            Col::new("body", "notify.body", Kind::Text),
            Col::new("attempts", "notify.attempts", Kind::Number),
            Col::new("max_attempts", "notify.max_attempts", Kind::Number),
            Col::new("error", "notify.error", Kind::Text),
            Col::new("provider", "notify.provider", Kind::Code),
            Col::new(
                "provider_message_id",
                "notify.provider_message_id",
                Kind::Code,
            ),
            Col::new("related_type", "notify.related_type", Kind::Code),
            Col::new("related_id", "notify.related_id", Kind::Code),
            Col::new("scheduled_for", "notify.scheduled_for", Kind::DateTime),
            Col::new("sent_at", "notify.sent_at", Kind::DateTime),
            Col::new("delivered_at", "notify.delivered_at", Kind::DateTime),
            Col::new("created_at", "common.created_at", Kind::DateTime),
        ],
        label: Label::Key("template_code"),
        caps: Caps {
            export: true,
            ..Caps::READ_ONLY
        },
        links: vec![],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(LogOps),
    }
}

fn template_resource() -> ResourceDef {
    ResourceDef {
        module: "notifications",
        slug: "templates",
        resource: Resource::Notifications,
        title: "nav.notification_templates",
        singular: "notify.template",
        icon: "chat-square-text",
        columns: vec![
            Col::new("code", "notify.code", Kind::Code).sort("code"),
            Col::new("channel", "notify.channel", Kind::Choice).sort("channel"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("description", "notify.description", Kind::Text),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("updated_at", "common.updated_at", Kind::DateTime)
                .sort("updated_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("channel", "notify.channel", Input::Select(Channel::CODES)),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("code", "notify.code", Input::Text { max: 64 }).required(),
            Field::new("hospital", "org.hospital", Input::Ref("hospital")).create_only(),
            Field::new("channel", "notify.channel", Input::Select(Channel::CODES)),
            Field::new(
                "description",
                "notify.description",
                Input::Text { max: 300 },
            ),
            Field::new("subject_en", "notify.subject_en", Input::Text { max: 300 }),
            Field::new("subject_ar", "notify.subject_ar", Input::Text { max: 300 }),
            Field::new("body_en", "notify.body_en", Input::TextArea).required(),
            Field::new("body_ar", "notify.body_ar", Input::TextArea).required(),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail: vec![
            Col::new("code", "notify.code", Kind::Code),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("channel", "notify.channel", Kind::Choice),
            Col::new("description", "notify.description", Kind::Text),
            Col::new("subject_en", "notify.subject_en", Kind::Text),
            Col::new("subject_ar", "notify.subject_ar", Kind::Text),
            Col::new("body_en", "notify.body_en", Kind::Text),
            Col::new("body_ar", "notify.body_ar", Kind::Text),
            Col::new("variables", "notify.variables", Kind::List),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("updated_at", "common.updated_at", Kind::DateTime),
        ],
        label: Label::Key("code"),
        caps: Caps {
            pdf: false,
            ..Caps::ALL
        },
        links: vec![],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(TemplateOps),
    }
}

/// Registers the notifications resources.
pub fn register(reg: &mut Registry) {
    reg.resource(log_resource());
    reg.resource(template_resource());
}

/// Pages that are not plain resource routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications/bell/", get(bell))
        .route("/notifications/bell/read-all/", post(bell_read_all))
        .route("/notifications/inbox/", get(inbox_page))
        .route("/notifications/inbox/read-all/", post(inbox_read_all))
        .route("/notifications/inbox/{id}/open/", post(inbox_open))
        .route("/o/{token}", get(optout_form).post(optout_confirm))
}

struct Item {
    id: Uuid,
    title: String,
    body: String,
    unread: bool,
    /// Creation time in the user's language and time zone.
    when: String,
}

impl Item {
    fn new(m: inbox_model::Model, ctx: &Ctx) -> Self {
        Self {
            id: m.id,
            when: ctx.datetime(m.created_at),
            title: m.title,
            body: m.body,
            unread: m.read_at.is_none(),
        }
    }
}

#[derive(Template)]
#[template(path = "notifications/bell.html")]
struct Bell {
    ctx: Ctx,
    unread: u64,
    unread_label: String,
    items: Vec<Item>,
}

async fn bell_of(ui: Ui, s: &AppState) -> UiResult {
    let unread = inbox::unread_count(&s.db, ui.p.user_id).await?;
    let items = inbox::latest(&s.db, ui.p.user_id, 8)
        .await?
        .into_iter()
        .map(|m| Item::new(m, &ui.ctx))
        .collect();
    render(&Bell {
        unread_label: ui.ctx.num(i64::try_from(unread).unwrap_or(i64::MAX)),
        ctx: ui.ctx,
        unread,
        items,
    })
}

/// The bell's button and dropdown (loaded by htmx into the topbar).
async fn bell(ui: Ui, State(s): State<AppState>) -> UiResult {
    bell_of(ui, &s).await
}

async fn bell_read_all(ui: Ui, State(s): State<AppState>) -> UiResult {
    let txn = begin_write(&s.db).await?;
    inbox::mark_all_read(&txn, s.clock.as_ref(), ui.p.user_id).await?;
    txn.commit().await?;
    bell_of(ui, &s).await
}

#[derive(Template)]
#[template(path = "notifications/inbox.html")]
struct InboxPage {
    ctx: Ctx,
    unread: u64,
    items: Vec<Item>,
}

async fn inbox_page(ui: Ui, State(s): State<AppState>) -> UiResult {
    let unread = inbox::unread_count(&s.db, ui.p.user_id).await?;
    let items = inbox::latest(&s.db, ui.p.user_id, 100)
        .await?
        .into_iter()
        .map(|m| Item::new(m, &ui.ctx))
        .collect();
    let title = ui.ctx.t("notifications.title");
    let ctx = ui.ctx.crumb(title, None).titled(title);
    render(&InboxPage { ctx, unread, items })
}

async fn inbox_read_all(ui: Ui, State(s): State<AppState>) -> UiResult {
    let txn = begin_write(&s.db).await?;
    inbox::mark_all_read(&txn, s.clock.as_ref(), ui.p.user_id).await?;
    txn.commit().await?;
    Ok(see_other("/notifications/inbox/"))
}

/// Marks a notification read and opens what it is about.
async fn inbox_open(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let txn = begin_write(&s.db).await?;
    let m = inbox::mark_read(&txn, s.clock.as_ref(), ui.p.user_id, id).await?;
    txn.commit().await?;
    // Only console paths are stored; anything else falls back to the inbox.
    let to = if m.link.starts_with('/') && !m.link.starts_with("//") {
        m.link
    } else {
        "/notifications/inbox/".to_string()
    };
    Ok(see_other(&to))
}

/// One language's block of the bilingual opt-out page.
struct Block {
    code: &'static str,
    dir: &'static str,
    title: &'static str,
    text: &'static str,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "notifications/optout.html")]
struct OptOutPage {
    ctx: Ctx,
    /// `ask`, `done` or `invalid`.
    state: &'static str,
    token: String,
    blocks: Vec<Block>,
}

fn blocks(state: &str) -> Vec<Block> {
    [Lang::Ar, Lang::En]
        .into_iter()
        .map(|l| Block {
            code: l.code(),
            dir: l.dir(),
            title: i18n::t_static(l, &format!("optout.{state}.title")),
            text: i18n::t_static(l, &format!("optout.{state}.text")),
            button: i18n::t_static(l, "optout.confirm"),
        })
        .collect()
}

async fn optout_page(
    session: &Session,
    headers: &HeaderMap,
    uri: &Uri,
    state: &'static str,
    token: String,
) -> UiResult {
    let here = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let c = ctx::anonymous(session, headers, here).await;
    let title = c.t("optout.ask.title");
    let page = OptOutPage {
        ctx: c.titled(title),
        state,
        token,
        blocks: blocks(state),
    };
    let status = if state == "invalid" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)?).into_response())
}

/// The public opt-out page: asks for confirmation (a link preview must not opt anyone out).
async fn optout_form(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    Path(token): Path<String>,
) -> UiResult {
    let state = if optout::lookup(&s.db, &token).await?.is_some() {
        "ask"
    } else {
        "invalid"
    };
    optout_page(&session, &headers, &uri, state, token).await
}

async fn optout_confirm(
    State(s): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> UiResult {
    let txn = begin_write(&s.db).await?;
    let ok = optout::opt_out_by_token(&txn, s.clock.as_ref(), &token, ip).await?;
    txn.commit().await?;
    optout_page(
        &session,
        &headers,
        &uri,
        if ok { "done" } else { "invalid" },
        token,
    )
    .await
}
