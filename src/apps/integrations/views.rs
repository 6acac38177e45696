//! Console pages of integrations: the inbound events console (list with filters, detail with the
//! payload, reprocess one or a selection of FAILED/DEAD events) and event mappings and integration
//! configs as plain resources. Everything goes through `service::admin` (scope, permissions, audit).

use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::Value;
use uuid::Uuid;

use super::model::{DEAD, FAILED, FORMATS, REPROCESSABLE, STATUSES};
use super::service::admin;
use super::wire::{ConfigIn, MappingIn};
use crate::apps::journeys::model::JOURNEY_TYPES;
use crate::apps::organizations::service::Mode;
use crate::platform::error::{AppError, AppResult};
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{
    self, ListView, RowView, detail_page, parse_id, render, see_other, translate_errors,
};
use crate::platform::ui::ctx::{Ctx, Ui, UiResult};
use crate::platform::ui::present;
use crate::platform::ui::registry::Registry;
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Ops, ResourceDef,
};
use crate::platform::ui::saved;

const R: Resource = Resource::Integrations;
const EVENTS: &str = "integrations/events";
const EVENTS_BASE: &str = "/integrations/events/";

// ------------------------------------------------------------------------------------ events

/// The events console's service calls. Events are written only by the intake: no create, edit or
/// delete here.
pub struct EventOps;

#[async_trait]
impl Ops for EventOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(admin::list_events(s, p, q)
            .await?
            .map(|e| serde_json::to_value(e).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(admin::get_event(s, p, id).await?).unwrap_or_default())
    }
    async fn create(&self, _s: &AppState, _p: &Principal, _body: Value) -> AppResult<Value> {
        Err(AppError::NotFound)
    }
    async fn update(
        &self,
        _s: &AppState,
        _p: &Principal,
        _id: Uuid,
        _body: Value,
    ) -> AppResult<Value> {
        Err(AppError::NotFound)
    }
    async fn delete(&self, _s: &AppState, _p: &Principal, _id: Uuid) -> AppResult<()> {
        Err(AppError::NotFound)
    }
}

fn events_def() -> ResourceDef {
    ResourceDef {
        module: "integrations",
        slug: "events",
        resource: R,
        title: "nav.inbound_events",
        singular: "integ.event",
        icon: "broadcast",
        columns: vec![
            Col::new("received_at", "integ.received_at", Kind::DateTime).sort("received_at"),
            Col::new("status", "journey.status", Kind::Choice).sort("status"),
            Col::new("event_code", "integ.event_code", Kind::Code),
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("encounter_id", "journey.encounter", Kind::Code),
            Col::new("format", "integ.format", Kind::Choice).optional(),
            Col::new("attempts", "integ.attempts", Kind::Number).optional(),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
            Col::new("occurred_at", "integ.occurred_at", Kind::DateTime)
                .sort("occurred_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("status", "journey.status", Input::Select(STATUSES)),
            FilterDef::new(
                "source_system",
                "integ.source_system",
                Input::Text { max: 64 },
            ),
            FilterDef::new("event_code", "integ.event_code", Input::Text { max: 100 }),
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new(
                "encounter_id",
                "journey.encounter",
                Input::Text { max: 100 },
            ),
            FilterDef::new("format", "integ.format", Input::Select(FORMATS)),
            FilterDef::new("received_after", "integ.received_after", Input::Date),
            FilterDef::new("received_before", "integ.received_before", Input::Date),
        ],
        fields: vec![],
        detail: vec![
            Col::new("status", "journey.status", Kind::Choice),
            Col::new("event_code", "integ.event_code", Kind::Code),
            Col::new("mapped_event_code", "integ.mapped_code", Kind::Code),
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("format", "integ.format", Kind::Choice),
            Col::new("external_id", "integ.external_id", Kind::Code),
            Col::new("encounter_id", "journey.encounter", Kind::Code),
            Col::new("patient_identifier", "org.mrn", Kind::Code),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new(
                "journey_instance",
                "journey.instance",
                Kind::Ref("journey_instance"),
            ),
            Col::new("attempts", "integ.attempts", Kind::Number),
            Col::new("result", "integ.result", Kind::Text),
            Col::new("error", "integ.error", Kind::Text),
            Col::new("occurred_at", "integ.occurred_at", Kind::DateTime),
            Col::new("received_at", "integ.received_at", Kind::DateTime),
            Col::new("processed_at", "integ.processed_at", Kind::DateTime),
            Col::new("updated_at", "common.updated_at", Kind::DateTime),
            Col::new("payload_hash", "integ.payload_hash", Kind::Code),
            Col::new("payload_json", "integ.payload", Kind::Json),
        ],
        label: Label::Key("event_code"),
        caps: Caps::READ_ONLY,
        links: vec![],
        searchable: false,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(EventOps),
    }
}

/// A list row and whether it may be selected for bulk reprocessing (FAILED or DEAD).
pub struct EventRow {
    pub r: RowView,
    pub selectable: bool,
}

#[derive(Template)]
#[template(path = "integrations/events_list.html")]
struct EventsPage {
    ctx: Ctx,
    v: ListView,
    rows: Vec<EventRow>,
    can_reprocess: bool,
}

#[derive(Template)]
#[template(path = "integrations/_events_table.html")]
struct EventsTable {
    ctx: Ctx,
    v: ListView,
    rows: Vec<EventRow>,
    can_reprocess: bool,
}

/// `GET /integrations/events/`: the generic list plus bulk reprocessing of FAILED/DEAD rows.
async fn events_list(ui: Ui, State(s): State<AppState>, uri: Uri) -> UiResult {
    let Some(d) = s.ui.find(EVENTS) else {
        return Err(AppError::NotFound.into());
    };
    ui.p.require(d.resource, Operation::View)?;
    let raw = uri.query().unwrap_or("");
    // Opened without parameters, the list starts from the user's default saved view (as any list).
    let (query, active) = if raw.is_empty() {
        match saved::default_for(&s, ui.p.user_id, &d.key()).await? {
            Some(v) => (v.query.clone(), Some(v.id)),
            None => (String::new(), None),
        }
    } else {
        let active = url::form_urlencoded::parse(raw.as_bytes())
            .find(|(k, _)| k == "view")
            .and_then(|(_, v)| Uuid::parse_str(&v).ok());
        (raw.to_string(), active)
    };
    let mut v = crud::list_view(&s, &d, &ui, &query, active).await?;
    let bad = [
        present::choice_label(ui.lang(), FAILED),
        present::choice_label(ui.lang(), DEAD),
    ];
    let rows = std::mem::take(&mut v.rows)
        .into_iter()
        .map(|r| {
            let selectable = r
                .cells
                .iter()
                .find(|c| c.col == "status")
                .is_some_and(|c| bad.contains(&c.text));
            EventRow { r, selectable }
        })
        .collect();
    let can_reprocess = ui.p.can(R, Operation::Edit);
    let ctx = ui.ctx.clone();
    if ui.htmx && ui.target.as_deref() == Some("list") {
        return render(&EventsTable {
            ctx,
            v,
            rows,
            can_reprocess,
        });
    }
    let title = ctx.t(d.title);
    let ctx = ctx.crumb(title, None).titled(title);
    render(&EventsPage {
        ctx,
        v,
        rows,
        can_reprocess,
    })
}

#[derive(Template)]
#[template(path = "integrations/_event_panel.html")]
struct EventPanel {
    ctx: Ctx,
    id: String,
    status: String,
    badge: &'static str,
    reprocessable: bool,
    can_reprocess: bool,
    journey_href: Option<String>,
    error: String,
}

async fn event_detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    let Some(d) = s.ui.find(EVENTS) else {
        return Err(AppError::NotFound.into());
    };
    let v = d.ops.get(&s, &ui.p, id).await?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let journey_href = v
        .get("journey_instance")
        .and_then(Value::as_str)
        .filter(|_| ui.p.can(Resource::Journeys, Operation::View))
        .map(|j| format!("/journeys/instances/{j}/"));
    let panel = EventPanel {
        ctx: ui.ctx.clone(),
        id: id.to_string(),
        badge: present::badge_class(&status),
        status: present::choice_label(ui.lang(), &status),
        reprocessable: REPROCESSABLE.contains(&status.as_str()),
        can_reprocess: ui.p.can(R, Operation::Edit),
        journey_href,
        error: v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
    .render()?;
    render(&detail_page(&s, &d, &ui, id, panel).await?)
}

/// The service's refusal in the page's language.
fn refusal(ui: &Ui, e: &AppError) -> String {
    match e {
        AppError::Validation(f) => {
            let msgs: Vec<String> = f.0.values().flatten().cloned().collect();
            let status = msgs
                .first()
                .and_then(|m| m.strip_prefix("cannot reprocess an event in status "))
                .and_then(|r| r.split(';').next())
                .unwrap_or("");
            if status.is_empty() {
                translate_errors(ui.lang(), &msgs).join(" ")
            } else {
                ui.ctx.tf1(
                    "integ.reprocess_refused",
                    "status",
                    &present::choice_label(ui.lang(), status),
                )
            }
        }
        other => other.to_string(),
    }
}

/// `POST /integrations/events/{id}/reprocess/`: through `admin::reprocess` (permission, scope,
/// allowed statuses, audit). A status that does not allow it is refused with a flash message.
async fn event_reprocess(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    // A role that may not reprocess at all is told so (403) before the event is looked up; scope
    // (another hospital's event → 404) is the service's.
    ui.p.require(R, Operation::Edit)?;
    match admin::reprocess(&s, &ui.p, id).await {
        Ok(_) => ui.flash("success", ui.t("integ.reprocess_queued")).await,
        Err(e @ AppError::Validation(_)) => ui.flash("warning", refusal(&ui, &e)).await,
        Err(e) => return Err(e.into()),
    }
    s.ui.invalidate_counts();
    Ok(see_other(&format!("{EVENTS_BASE}{id}/")))
}

/// `POST /integrations/events/reprocess/`: the selected rows, each through `admin::reprocess` in
/// its own transaction; only FAILED and DEAD events are sent back (others are counted as skipped).
async fn events_bulk_reprocess(
    ui: Ui,
    State(s): State<AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    ui.p.require(R, Operation::Edit)?;
    let back = form
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.clone())
        .filter(|v| v.starts_with(EVENTS_BASE))
        .unwrap_or_else(|| EVENTS_BASE.to_string());
    let ids: Vec<Uuid> = form
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    if ids.is_empty() {
        ui.flash("warning", ui.t("flash.nothing_selected")).await;
        return Ok(see_other(&back));
    }
    let (mut done, mut skipped) = (0usize, 0usize);
    for id in ids {
        let ok = match admin::get_event(&s, &ui.p, id).await {
            Ok(e) if e.status == FAILED || e.status == DEAD => {
                admin::reprocess(&s, &ui.p, id).await.is_ok()
            }
            _ => false,
        };
        if ok {
            done += 1;
        } else {
            tracing::info!(%id, "bulk reprocess skipped an event");
            skipped += 1;
        }
    }
    s.ui.invalidate_counts();
    let msg = ui.ctx.tf(
        "integ.bulk_reprocessed",
        &[
            ("done", &ui.ctx.num(done as i64)),
            ("skipped", &ui.ctx.num(skipped as i64)),
        ],
    );
    ui.flash(if skipped == 0 { "success" } else { "warning" }, msg)
        .await;
    Ok(see_other(&back))
}

// ---------------------------------------------------------------------- mappings and configs

mod mapping_svc {
    pub use crate::apps::integrations::service::admin::{
        create_mapping as create, delete_mapping as delete, get_mapping as get,
        list_mappings as list, update_mapping as update,
    };
}

mod config_svc {
    pub use crate::apps::integrations::service::admin::{
        create_config as create, delete_config as delete, get_config as get, list_configs as list,
        update_config as update,
    };
}

crate::service_ops!(MappingOps, mapping_svc, MappingIn, Mode::Patch);
crate::service_ops!(ConfigOps, config_svc, ConfigIn, Mode::Patch);

fn mappings_def() -> ResourceDef {
    ResourceDef {
        module: "integrations",
        slug: "mappings",
        resource: R,
        title: "nav.event_mappings",
        singular: "integ.mapping",
        icon: "arrow-left-right",
        columns: vec![
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("external_code", "integ.external_code", Kind::Code),
            Col::new("event_code", "integ.event_code", Kind::Code),
            Col::new("journey_type", "journey.type", Kind::Choice),
            Col::new("create_instance", "integ.create_instance", Kind::Bool),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new(
                "source_system",
                "integ.source_system",
                Input::Text { max: 64 },
            ),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("hospital", "org.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new(
                "source_system",
                "integ.source_system",
                Input::Text { max: 64 },
            )
            .required(),
            Field::new(
                "external_code",
                "integ.external_code",
                Input::Text { max: 100 },
            )
            .required()
            .help("integ.external_code_help"),
            Field::new("event_code", "integ.event_code", Input::Text { max: 100 })
                .required()
                .help("integ.event_code_help"),
            {
                let mut f =
                    Field::new("journey_type", "journey.type", Input::Select(JOURNEY_TYPES));
                f.nullable = true;
                f
            },
            Field::new("create_instance", "integ.create_instance", Input::Checkbox)
                .help("integ.create_instance_help"),
            Field::new("active", "common.active", Input::Checkbox),
            Field::new("description", "journey.description", Input::TextArea),
        ],
        detail: vec![
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("external_code", "integ.external_code", Kind::Code),
            Col::new("event_code", "integ.event_code", Kind::Code),
            Col::new("journey_type", "journey.type", Kind::Choice),
            Col::new("create_instance", "integ.create_instance", Kind::Bool),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("description", "journey.description", Kind::Text),
            Col::new("created_at", "common.created_at", Kind::DateTime),
            Col::new("updated_at", "common.updated_at", Kind::DateTime),
        ],
        label: Label::Key("external_code"),
        caps: Caps::ALL,
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(MappingOps),
    }
}

fn configs_def() -> ResourceDef {
    ResourceDef {
        module: "integrations",
        slug: "configs",
        resource: R,
        title: "nav.integration_configs",
        singular: "integ.config",
        icon: "plug",
        columns: vec![
            Col::new("name", "common.name", Kind::Text),
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("protocol", "integ.protocol", Kind::Choice),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("require_mapping", "integ.require_mapping", Kind::Bool),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("hospital", "org.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new(
                "source_system",
                "integ.source_system",
                Input::Text { max: 64 },
            )
            .required(),
            Field::new("name", "common.name", Input::Text { max: 200 }).required(),
            Field::new("protocol", "integ.protocol", Input::Select(FORMATS)).required(),
            Field::new("active", "common.active", Input::Checkbox).help("integ.active_help"),
            Field::new("require_mapping", "integ.require_mapping", Input::Checkbox)
                .help("integ.require_mapping_help"),
            Field::new("description", "journey.description", Input::TextArea),
        ],
        detail: vec![
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("name", "common.name", Kind::Text),
            Col::new("source_system", "integ.source_system", Kind::Code),
            Col::new("protocol", "integ.protocol", Kind::Choice),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("require_mapping", "integ.require_mapping", Kind::Bool),
            Col::new("description", "journey.description", Kind::Text),
            Col::new("settings", "integ.settings", Kind::Json),
            Col::new("created_at", "common.created_at", Kind::DateTime),
            Col::new("updated_at", "common.updated_at", Kind::DateTime),
        ],
        label: Label::Key("name"),
        caps: Caps::ALL,
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(ConfigOps),
    }
}

/// Registers the integrations resources; the events list is served here (bulk reprocess).
pub fn register(reg: &mut Registry) {
    reg.resource(events_def());
    reg.resource(mappings_def());
    reg.resource(configs_def());
    reg.own_lists.push(EVENTS);
}

/// The events console's own pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(EVENTS_BASE, get(events_list))
        .route(
            "/integrations/events/reprocess/",
            post(events_bulk_reprocess),
        )
        .route("/integrations/events/{id}/", get(event_detail))
        .route(
            "/integrations/events/{id}/reprocess/",
            post(event_reprocess),
        )
}
