//! The Action Center console: the board (saved views, filters, bulk and row actions, SLA badges and
//! progress bars), the action detail page (Details, Evidence, Discussion / Logs, SLA history,
//! Approval), and the SLA control panel; SLA configs, routing rules and manual creation use the
//! resource pattern. Every page goes through the module's services with the signed-in principal.

use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use uuid::Uuid;

use super::model::{CATEGORIES, HOUR_MODES, PRIORITIES, SEVERITIES, SOURCE_TYPES, TARGETS};
use super::service::config::{self, routing_rules, sla_configs};
use super::service::{Mode, actions, attachments};
use super::wire::{
    ActionIn, ActionOut, ApproveIn, AssignIn, AttachmentOut, CommentIn, EscalateIn, LogOut,
    RejectIn, RoutingRuleIn, SlaConfigIn, TransitionIn,
};
use super::{SAVED_VIEWS, workflow};
use crate::apps::accounts;
use crate::platform::error::{AppError, AppResult};
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{parse_id, render, see_other};
use crate::platform::ui::ctx::{Ctx, Ui, UiResult};
use crate::platform::ui::registry::Registry;
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Link, Ops, ResourceDef, from_body,
};

const R: Resource = Resource::Actions;

// ----------------------------------------------------------------------------- resource declarations

/// Manual creation and edit through the resource pattern; the board and detail page are our own.
struct ActionOps;

#[async_trait]
impl Ops for ActionOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(actions::list(s, p, q)
            .await?
            .map(|o| serde_json::to_value(o).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(actions::get(s, p, id).await?).unwrap_or_default())
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        let i: ActionIn = from_body(body)?;
        Ok(serde_json::to_value(actions::create(s, p, i).await?).unwrap_or_default())
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        let i: ActionIn = from_body(body)?;
        Ok(serde_json::to_value(actions::update(s, p, id, i).await?).unwrap_or_default())
    }
    async fn delete(&self, _s: &AppState, _p: &Principal, _id: Uuid) -> AppResult<()> {
        Err(AppError::MethodNotAllowed)
    }
}

crate::service_ops!(SlaOps, sla_configs, SlaConfigIn, Mode::Patch);
crate::service_ops!(RuleOps, routing_rules, RoutingRuleIn, Mode::Patch);

fn actions_def() -> ResourceDef {
    ResourceDef {
        module: "actions",
        slug: "actions",
        resource: R,
        title: "px.actions",
        singular: "px.action",
        icon: "clipboard-check",
        columns: vec![
            Col::new("title", "px.title", Kind::Text).sort("title"),
            Col::new("status", "px.status", Kind::Code).sort("status"),
            Col::new("priority", "px.priority", Kind::Choice).sort("priority"),
            Col::new("source_type", "px.source", Kind::Choice),
            Col::new("assignee", "px.assignee", Kind::Ref("user")),
            Col::new("due_at", "px.due_at", Kind::DateTime).sort("due_at"),
            Col::new("created_at", "px.created", Kind::DateTime)
                .sort("created_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("priority", "px.priority", Input::Select(PRIORITIES)),
            FilterDef::new("source", "px.source", Input::Select(SOURCE_TYPES)),
            FilterDef::new("hospital", "px.hospital", Input::Ref("hospital")),
            FilterDef::new("department", "px.department", Input::Ref("department")),
        ],
        fields: vec![
            Field::new("hospital", "px.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("department", "px.department", Input::Ref("department"))
                .within("hospital")
                .create_only(),
            Field::new("title", "px.title", Input::Text { max: 300 }).required(),
            Field::new("description", "px.description", Input::TextArea),
            Field::new("category", "px.category", Input::Select(CATEGORIES)),
            Field::new("priority", "px.priority", Input::Select(PRIORITIES)),
            Field::new("severity", "px.severity", Input::Select(SEVERITIES)),
        ],
        detail: vec![],
        label: Label::Key("title"),
        caps: Caps {
            create: true,
            edit: true,
            delete: false,
            export: true,
            pdf: false,
            import: false,
        },
        links: vec![],
        searchable: true,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(ActionOps),
    }
}

fn sla_def() -> ResourceDef {
    let cols = vec![
        Col::new("hospital", "px.hospital", Kind::Ref("hospital")),
        Col::new("department", "px.department", Kind::Ref("department")),
        Col::new("priority", "px.priority", Kind::Choice),
        Col::new("severity", "px.severity", Kind::Choice),
        Col::new("hours", "px.sla_hours", Kind::Number).sort("hours"),
        Col::new("reminder_hours_before", "px.reminder_hours", Kind::Number),
        Col::new(
            "escalation_interval_hours",
            "px.interval_hours",
            Kind::Number,
        ),
        Col::new("hour_mode", "px.hour_mode", Kind::Choice),
        Col::new("active", "common.active", Kind::Bool),
    ];
    ResourceDef {
        module: "actions",
        slug: "sla-configs",
        resource: R,
        title: "px.sla_configs",
        singular: "px.sla_config",
        icon: "stopwatch",
        columns: cols.clone(),
        filters: vec![FilterDef::new(
            "hospital",
            "px.hospital",
            Input::Ref("hospital"),
        )],
        fields: vec![
            Field::new("hospital", "px.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("department", "px.department", Input::Ref("department")).within("hospital"),
            Field::new("priority", "px.priority", Input::Select(PRIORITIES)),
            Field::new("severity", "px.severity", Input::Select(SEVERITIES)),
            Field::new("hours", "px.sla_hours", Input::Number { min: 1, max: 8760 }).required(),
            Field::new(
                "reminder_hours_before",
                "px.reminder_hours",
                Input::Number { min: 0, max: 720 },
            ),
            Field::new(
                "escalation_interval_hours",
                "px.interval_hours",
                Input::Number { min: 0, max: 8760 },
            )
            .help("px.interval_help"),
            Field::new("hour_mode", "px.hour_mode", Input::Select(HOUR_MODES)).required(),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail: cols,
        label: Label::Key("hours"),
        caps: Caps {
            import: false,
            pdf: false,
            ..Caps::ALL
        },
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(SlaOps),
    }
}

fn rules_def() -> ResourceDef {
    let cols = vec![
        Col::new("order", "px.order", Kind::Number).sort("order"),
        Col::new("name", "px.rule_name", Kind::Text).sort("name"),
        Col::new("hospital", "px.hospital", Kind::Ref("hospital")),
        Col::new("source_type", "px.source", Kind::Choice),
        Col::new("department", "px.department", Kind::Ref("department")),
        Col::new("category", "px.category", Kind::Choice),
        Col::new("severity", "px.severity", Kind::Choice),
        Col::new("target", "px.target", Kind::Choice),
        Col::new("target_user", "px.target_user", Kind::Ref("user")),
        Col::new("active", "common.active", Kind::Bool),
    ];
    ResourceDef {
        module: "actions",
        slug: "routing-rules",
        resource: R,
        title: "px.routing_rules",
        singular: "px.routing_rule",
        icon: "signpost-split",
        columns: cols.clone(),
        filters: vec![FilterDef::new(
            "hospital",
            "px.hospital",
            Input::Ref("hospital"),
        )],
        fields: vec![
            Field::new("hospital", "px.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("name", "px.rule_name", Input::Text { max: 200 }).required(),
            Field::new("order", "px.order", Input::Number { min: 0, max: 10000 }),
            Field::new("source_type", "px.source", Input::Select(SOURCE_TYPES)),
            Field::new("department", "px.department", Input::Ref("department")).within("hospital"),
            Field::new("category", "px.category", Input::Select(CATEGORIES)),
            Field::new("severity", "px.severity", Input::Select(SEVERITIES)),
            Field::new("target", "px.target", Input::Select(TARGETS)).required(),
            Field::new("target_user", "px.target_user", Input::Ref("user")),
            Field::new(
                "target_department",
                "px.target_department",
                Input::Ref("department"),
            )
            .within("hospital"),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail: cols,
        label: Label::Key("name"),
        caps: Caps {
            import: false,
            pdf: false,
            ..Caps::ALL
        },
        links: vec![Link {
            label: "px.sla_panel",
            icon: "speedometer",
            href: "/actions/sla/",
            resource: R,
            op: Operation::View,
        }],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(RuleOps),
    }
}

/// Registers the resources (manual create/edit and export of actions, SLA configs, routing rules).
pub fn register(reg: &mut Registry) {
    reg.resource(actions_def());
    reg.resource(sla_def());
    reg.resource(rules_def());
}

// ------------------------------------------------------------------------------------------- helpers

fn status_class(status: &str) -> &'static str {
    match status {
        "OPEN" => "text-bg-primary",
        "IN_PROGRESS" => "text-bg-info",
        "WAITING" => "text-bg-secondary",
        "PENDING_APPROVAL" => "text-bg-warning",
        "CLOSED" => "text-bg-success",
        _ => "text-bg-light border",
    }
}

fn sla_class(sla: &str) -> &'static str {
    match sla {
        "OVERDUE" => "bg-danger",
        "DUE_SOON" => "bg-warning",
        "ON_TRACK" => "bg-success",
        _ => "bg-secondary",
    }
}

fn priority_class(p: &str) -> &'static str {
    match p {
        "CRITICAL" => "text-bg-danger",
        "HIGH" => "text-bg-warning",
        "MEDIUM" => "text-bg-info",
        _ => "text-bg-light border",
    }
}

/// One action as the board and the detail page show it.
pub struct Row {
    pub id: Uuid,
    pub href: String,
    pub title: String,
    pub status: String,
    pub status_label: String,
    pub status_class: &'static str,
    pub priority: String,
    pub priority_class: &'static str,
    pub source: String,
    pub source_url: Option<String>,
    pub assignee: String,
    pub due: String,
    pub sla: String,
    pub sla_label: String,
    pub sla_class: &'static str,
    pub progress: u32,
    pub level: i32,
    pub moves: Vec<(String, String)>,
}

fn row(
    ctx: &Ctx,
    a: &ActionOut,
    names: &std::collections::HashMap<Uuid, accounts::UserName>,
) -> Row {
    Row {
        id: a.id,
        href: format!("/actions/actions/{}/", a.id),
        title: a.title.clone(),
        status_label: ctx.t(&format!("px.status.{}", a.status)).to_string(),
        status_class: status_class(&a.status),
        status: a.status.clone(),
        priority: ctx.t(&format!("choice.{}", a.priority)).to_string(),
        priority_class: priority_class(&a.priority),
        source: ctx.t(&format!("choice.{}", a.source_type)).to_string(),
        source_url: a.source_url.clone(),
        assignee: a
            .assignee
            .and_then(|u| names.get(&u))
            .map(|n| ctx.pick(&n.name_en, &n.name_ar).to_string())
            .unwrap_or_else(|| ctx.t("px.unassigned").to_string()),
        due: a.due_at.map(|d| ctx.datetime(d)).unwrap_or_default(),
        sla_label: ctx.t(&format!("px.sla.{}", a.sla_status)).to_string(),
        sla_class: sla_class(&a.sla_status),
        sla: a.sla_status.clone(),
        progress: a.sla_progress,
        level: a.escalation_level,
        moves: a
            .allowed_transitions
            .iter()
            .map(|s| (s.clone(), ctx.t(&format!("px.status.{s}")).to_string()))
            .collect(),
    }
}

async fn rows(s: &AppState, ctx: &Ctx, list: &[ActionOut]) -> AppResult<Vec<Row>> {
    let ids: Vec<Uuid> = list.iter().filter_map(|a| a.assignee).collect();
    let names = accounts::user_names(&s.db, &ids).await?;
    Ok(list.iter().map(|a| row(ctx, a, &names)).collect())
}

// --------------------------------------------------------------------------------------------- board

pub struct ViewTab {
    pub label: String,
    pub href: String,
    pub count: String,
    pub active: bool,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opts(ctx: &Ctx, prefix: &str, values: &[&str], current: Option<&str>) -> Vec<Opt> {
    values
        .iter()
        .map(|v| Opt {
            value: (*v).to_string(),
            label: ctx.t(&format!("{prefix}{v}")).to_string(),
            selected: current == Some(*v),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "actions/board.html")]
struct BoardPage {
    ctx: Ctx,
    b: Board,
}

#[derive(Template)]
#[template(path = "actions/_board.html")]
struct BoardFragment {
    ctx: Ctx,
    b: Board,
}

pub struct Board {
    pub tabs: Vec<ViewTab>,
    pub rows: Vec<Row>,
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub query: String,
    pub search: String,
    pub statuses: Vec<Opt>,
    pub slas: Vec<Opt>,
    pub priorities: Vec<Opt>,
    pub sources: Vec<Opt>,
    pub created_after: String,
    pub created_before: String,
    pub can_create: bool,
    pub can_assign: bool,
    pub can_transition: bool,
    pub can_configure: bool,
    pub bulk_statuses: Vec<Opt>,
    pub users: Vec<Opt>,
}

/// Filters the board keeps in its URL (so links, saved views and paging carry them).
const BOARD_PARAMS: &[&str] = &[
    "view",
    "search",
    "status",
    "sla",
    "priority",
    "source",
    "department",
    "assignee",
    "hospital",
    "created_after",
    "created_before",
    "ordering",
];

/// `GET /actions/`: the Action Center board.
async fn board(ui: Ui, State(s): State<AppState>, uri: axum::http::Uri) -> UiResult {
    ui.p.require(R, Operation::View)?;
    let raw = uri.query().unwrap_or("");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .filter(|(k, v)| BOARD_PARAMS.contains(&k.as_str()) && !v.trim().is_empty())
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let view = get("view").unwrap_or("all").to_string();
    let mut query: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| k != "view").cloned().collect();
    if let Some((_, q)) = SAVED_VIEWS.iter().find(|(n, _)| *n == view) {
        query.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let page: String = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .find(|(k, _)| k == "page")
        .map(|(_, v)| v)
        .unwrap_or_else(|| "1".into());
    let qs = {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query {
            ser.append_pair(k, v);
        }
        ser.append_pair("page", &page);
        ser.append_pair("page_size", "25");
        ser.finish()
    };
    let q = ListQuery::parse("/actions/", &qs)?;
    let list = actions::list(&s, &ui.p, &q).await?;
    // The saved-view tabs are not part of an htmx fragment: count only for full pages.
    let counts = if ui.htmx {
        vec![]
    } else {
        actions::view_counts(&s, &ui.p).await?
    };
    let keep: String = {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        ser.finish()
    };
    let page_n: u64 = page.parse().unwrap_or(1);
    let link = |n: u64| {
        if keep.is_empty() {
            format!("/actions/?page={n}")
        } else {
            format!("/actions/?{keep}&page={n}")
        }
    };
    let ctx = &ui.ctx;
    let mut tabs = vec![ViewTab {
        label: ctx.t("px.view.all").into(),
        href: "/actions/".into(),
        count: String::new(),
        active: view == "all",
    }];
    for (name, n) in counts {
        tabs.push(ViewTab {
            label: ctx.t(&format!("px.view.{name}")).into(),
            href: format!("/actions/?view={name}"),
            count: ctx.num(i64::try_from(n).unwrap_or(i64::MAX)),
            active: view == name,
        });
    }
    let users = assignable_users(&s, &ui).await?;
    let b = Board {
        tabs,
        rows: rows(&s, ctx, &list.results).await?,
        summary: ctx.tf(
            "px.count",
            &[(
                "count",
                &ctx.num(i64::try_from(list.count).unwrap_or(i64::MAX)),
            )],
        ),
        prev: list
            .previous
            .as_ref()
            .map(|_| link(page_n.saturating_sub(1))),
        next: list.next.as_ref().map(|_| link(page_n + 1)),
        query: keep,
        search: get("search").unwrap_or("").to_string(),
        statuses: opts(ctx, "px.status.", super::model::STATUSES, get("status")),
        slas: opts(ctx, "px.sla.", actions::SLA_FILTERS, get("sla")),
        priorities: opts(ctx, "choice.", PRIORITIES, get("priority")),
        sources: opts(ctx, "choice.", SOURCE_TYPES, get("source")),
        created_after: get("created_after").unwrap_or("").to_string(),
        created_before: get("created_before").unwrap_or("").to_string(),
        can_create: ui.p.can(R, Operation::Create),
        can_assign: ui.p.can(R, Operation::Assign),
        can_transition: ui.p.can(R, Operation::Transition),
        can_configure: ui.p.can(R, Operation::View),
        bulk_statuses: opts(
            ctx,
            "px.status.",
            &["IN_PROGRESS", "WAITING", "PENDING_APPROVAL", "CANCELLED"],
            None,
        ),
        users,
    };
    let title = ctx.t("px.board");
    let ctx = ui.ctx.clone().crumb(title, None).titled(title);
    if ui.htmx {
        render(&BoardFragment { ctx, b })
    } else {
        render(&BoardPage { ctx, b })
    }
}

/// People the caller may assign to: the users of their hospitals (first 200, by name).
async fn assignable_users(s: &AppState, ui: &Ui) -> AppResult<Vec<Opt>> {
    if !ui.p.can(R, Operation::Assign) {
        return Ok(vec![]);
    }
    let q = ListQuery::parse("/api/auth/users/", "page_size=200")?;
    let page = match accounts::service::list_users(s, &ui.p, &q).await {
        Ok(p) => p,
        Err(_) => return Ok(vec![]),
    };
    Ok(page
        .results
        .into_iter()
        .map(|u| Opt {
            value: u.id.to_string(),
            label: {
                let en = format!("{} {}", u.first_name_en, u.last_name_en);
                let ar = format!("{} {}", u.first_name_ar, u.last_name_ar);
                ui.ctx.pick(en.trim(), ar.trim()).to_string()
            },
            selected: false,
        })
        .collect())
}

/// `POST /actions/bulk/`: assign, move or escalate the selected actions, each through its service
/// call (so each is checked, logged and audited on its own).
async fn bulk(
    ui: Ui,
    State(s): State<AppState>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> UiResult {
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let ids: Vec<Uuid> = form
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    let back = {
        let q = field("next_query");
        if q.is_empty() {
            "/actions/".to_string()
        } else {
            format!("/actions/?{q}")
        }
    };
    if ids.is_empty() {
        ui.flash("warning", ui.t("px.bulk_none")).await;
        return Ok(see_other(&back));
    }
    let op = field("op");
    let mut ok = 0;
    let mut errors: Vec<String> = vec![];
    for id in &ids {
        let r = match op.as_str() {
            "assign" => {
                let assignee = Uuid::parse_str(&field("assignee")).ok();
                actions::assign(
                    &s,
                    &ui.p,
                    *id,
                    AssignIn {
                        assignee: Some(assignee),
                        department: None,
                        note: None,
                    },
                )
                .await
            }
            "status" => {
                actions::transition(
                    &s,
                    &ui.p,
                    *id,
                    TransitionIn {
                        status: Some(field("status")),
                        note: None,
                    },
                )
                .await
            }
            "escalate" => actions::escalate(&s, &ui.p, *id, EscalateIn { reason: None }).await,
            _ => Err(AppError::field("op", "Choose what to do.")),
        };
        match r {
            Ok(_) => ok += 1,
            Err(e) => errors.push(message(&e)),
        }
    }
    ui.flash(
        if errors.is_empty() {
            "success"
        } else {
            "warning"
        },
        ui.ctx.tf(
            "px.bulk_done",
            &[
                ("ok", &ui.ctx.num(ok)),
                ("count", &ui.ctx.num(ids.len() as i64)),
            ],
        ),
    )
    .await;
    errors.sort();
    errors.dedup();
    for e in errors.into_iter().take(3) {
        ui.flash("danger", e).await;
    }
    s.ui.invalidate_counts();
    Ok(see_other(&back))
}

/// The text of an error for a flash message.
fn message(e: &AppError) -> String {
    match e {
        AppError::Validation(f) => {
            f.0.values()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        }
        other => other.body()["detail"]
            .as_str()
            .unwrap_or("Error")
            .to_string(),
    }
}

// ---------------------------------------------------------------------------------------- detail page

pub struct LogRow {
    pub when: String,
    pub who: String,
    pub what: String,
    pub change: String,
    pub message: String,
    pub kind: String,
}

pub struct FileRow {
    pub name: String,
    pub href: String,
    pub size: String,
    pub evidence: bool,
    pub when: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "actions/detail.html")]
struct DetailPage {
    ctx: Ctx,
    a: Row,
    o: ActionOut,
    department: String,
    hospital: String,
    logs: Vec<LogRow>,
    sla_logs: Vec<LogRow>,
    files: Vec<FileRow>,
    evidence_required: bool,
    has_evidence: bool,
    can_edit: bool,
    can_transition: bool,
    can_assign: bool,
    can_approve: bool,
    pending: bool,
    open: bool,
    users: Vec<Opt>,
    max_mb: String,
    upload_action: String,
    created: String,
    sla_started: String,
    remind_at: String,
    reminded_at: String,
    escalate_at: String,
    escalated_at: String,
    approved_at: String,
    approved_by: String,
    closed_at: String,
    paused: String,
    category_label: String,
    severity_label: String,
    mode_label: String,
}

fn log_row(ctx: &Ctx, l: &LogOut) -> LogRow {
    let change = match (&l.from_status, &l.to_status) {
        (Some(f), Some(t)) => format!(
            "{} → {}",
            ctx.t(&format!("px.status.{f}")),
            ctx.t(&format!("px.status.{t}"))
        ),
        _ => match l.kind.as_str() {
            "ESCALATED" => format!(
                "{} {}",
                ctx.t("px.level"),
                l.details.get("level").and_then(Value::as_i64).unwrap_or(0)
            ),
            "NOTIFICATION" => format!(
                "{} → {}",
                l.details
                    .get("template")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                l.details
                    .get("channels")
                    .and_then(Value::as_array)
                    .map(|c| c
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        },
    };
    LogRow {
        when: ctx.datetime(l.created_at),
        who: l.actor_label.clone(),
        what: ctx.t(&format!("px.log.{}", l.kind)).to_string(),
        change,
        message: l.message.clone(),
        kind: l.kind.clone(),
    }
}

fn size(n: i64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", (n as f64 / 1024.0).ceil())
    }
}

async fn detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    let o = actions::get(&s, &ui.p, id).await?;
    let logs = actions::logs(&s, &ui.p, id).await?;
    let files: Vec<AttachmentOut> = attachments::list(&s, &ui.p, id).await?;
    let ctx = &ui.ctx;
    let mut names_for: Vec<Uuid> = o.assignee.into_iter().collect();
    names_for.extend(o.approved_by);
    let names = accounts::user_names(&s.db, &names_for).await?;
    let a = row(ctx, &o, &names);
    let settings = crate::apps::organizations::hospital_settings(&s.db, o.hospital).await?;
    let hospital = crate::apps::organizations::views::HospitalRefs
        .labels(&s, &[o.hospital], ui.lang())
        .await?
        .remove(&o.hospital)
        .unwrap_or_default();
    let department = match o.department {
        Some(d) => crate::apps::organizations::views::DepartmentRefs
            .labels(&s, &[d], ui.lang())
            .await?
            .remove(&d)
            .unwrap_or_default(),
        None => String::new(),
    };
    let dt =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| ctx.datetime(t)).unwrap_or_default();
    let log_rows: Vec<LogRow> = logs.iter().map(|l| log_row(ctx, l)).collect();
    let sla_logs: Vec<LogRow> = logs
        .iter()
        .filter(|l| {
            matches!(
                l.kind.as_str(),
                "CREATED" | "REMINDER" | "ESCALATED" | "SLA"
            ) || (l.kind == "STATUS_CHANGED"
                && (l.to_status.as_deref() == Some("WAITING")
                    || l.from_status.as_deref() == Some("WAITING")))
        })
        .map(|l| log_row(ctx, l))
        .collect();
    let reach = |op| {
        ui.p.reaches(
            R,
            op,
            crate::platform::rbac::Reach {
                assignee: o.assignee,
                ..crate::platform::rbac::Reach::department(o.hospital, o.department)
            },
        )
    };
    let page = DetailPage {
        ctx: ui
            .ctx
            .clone()
            .crumb(ctx.t("px.board"), Some("/actions/".into()))
            .crumb(o.title.clone(), None)
            .titled(o.title.clone()),
        has_evidence: files.iter().any(|f| f.is_evidence),
        files: files
            .iter()
            .map(|f| FileRow {
                name: f.file_name.clone(),
                href: format!("/actions/attachments/{}/", f.id),
                size: size(f.size_bytes),
                evidence: f.is_evidence,
                when: ctx.datetime(f.created_at),
                note: f.note.clone(),
            })
            .collect(),
        logs: log_rows,
        sla_logs,
        evidence_required: settings.evidence_required,
        can_edit: reach(Operation::Edit),
        can_transition: reach(Operation::Transition),
        can_assign: reach(Operation::Assign),
        can_approve: reach(Operation::Approve),
        pending: o.status == "PENDING_APPROVAL",
        open: workflow::is_open(&o.status),
        users: assignable_users(&s, &ui)
            .await?
            .into_iter()
            .map(|mut u| {
                u.selected = o.assignee.is_some_and(|a| a.to_string() == u.value);
                u
            })
            .collect(),
        max_mb: (s.config.attachment_max_bytes / (1024 * 1024)).to_string(),
        upload_action: format!(
            "/actions/actions/{}/attachments/?csrf_token={}",
            o.id,
            url::form_urlencoded::byte_serialize(ui.ctx.csrf.as_bytes()).collect::<String>()
        ),
        created: ctx.datetime(o.created_at),
        sla_started: ctx.datetime(o.sla_started_at),
        remind_at: dt(o.remind_at),
        reminded_at: dt(o.reminded_at),
        escalate_at: dt(o.escalate_at),
        escalated_at: dt(o.escalated_at),
        approved_at: dt(o.approved_at),
        approved_by: o
            .approved_by
            .and_then(|u| names.get(&u))
            .map(|n| ctx.pick(&n.name_en, &n.name_ar).to_string())
            .unwrap_or_default(),
        closed_at: dt(o.closed_at),
        paused: format!("{:.1} h", o.paused_seconds as f64 / 3600.0),
        category_label: ctx.t(&format!("choice.{}", o.category)).to_string(),
        severity_label: ctx.t(&format!("choice.{}", o.severity)).to_string(),
        mode_label: format!(
            "{} · {}",
            ctx.t(&format!("choice.{}", o.hour_mode)),
            ctx.tf("px.hours", &[("hours", &ctx.num(o.sla_hours.into()))])
        ),
        hospital,
        department,
        a,
        o,
    };
    render(&page)
}

use crate::platform::ui::registry::RefSource;

/// After a workflow form: back to the detail page with a flash (the error's text on failure).
async fn done<T>(ui: &Ui, id: Uuid, r: AppResult<T>, tab: &str) -> UiResult {
    match r {
        Ok(_) => ui.flash("success", ui.t("px.done")).await,
        Err(
            e @ (AppError::Validation(_) | AppError::Forbidden(_) | AppError::PayloadTooLarge(_)),
        ) => ui.flash("danger", message(&e)).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/actions/actions/{id}/{tab}")))
}

fn form_field(form: &[(String, String)], k: &str) -> Option<String> {
    form.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

type FormBody = axum::Form<Vec<(String, String)>>;

async fn transition_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let r = actions::transition(
        &s,
        &ui.p,
        id,
        TransitionIn {
            status: form_field(&f, "status"),
            note: form_field(&f, "note"),
        },
    )
    .await;
    s.ui.invalidate_counts();
    done(&ui, id, r, "").await
}

async fn assign_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let assignee = form_field(&f, "assignee").and_then(|v| Uuid::parse_str(&v).ok());
    let r = actions::assign(
        &s,
        &ui.p,
        id,
        AssignIn {
            assignee: Some(assignee),
            department: None,
            note: form_field(&f, "note"),
        },
    )
    .await;
    done(&ui, id, r, "").await
}

async fn escalate_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let r = actions::escalate(
        &s,
        &ui.p,
        id,
        EscalateIn {
            reason: form_field(&f, "reason"),
        },
    )
    .await;
    done(&ui, id, r, "").await
}

async fn approve_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let r = actions::approve(
        &s,
        &ui.p,
        id,
        ApproveIn {
            note: form_field(&f, "note"),
        },
    )
    .await;
    done(&ui, id, r, "#approval").await
}

async fn reject_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let r = actions::reject(
        &s,
        &ui.p,
        id,
        RejectIn {
            reason: form_field(&f, "reason"),
        },
    )
    .await;
    done(&ui, id, r, "#approval").await
}

async fn comment_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::Form(f): FormBody,
) -> UiResult {
    let id = parse_id(&id)?;
    let r = actions::comment(
        &s,
        &ui.p,
        id,
        CommentIn {
            message: form_field(&f, "message"),
        },
    )
    .await;
    done(&ui, id, r, "#discussion").await
}

async fn upload_form(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    mp: Multipart,
) -> UiResult {
    let id = parse_id(&id)?;
    actions::get(&s, &ui.p, id).await?;
    let r = match super::api::read_upload(mp, s.config.attachment_max_bytes).await {
        Ok(u) => attachments::upload(&s, &ui.p, id, u).await,
        Err(e) => Err(e),
    };
    done(&ui, id, r, "#evidence").await
}

async fn download(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let (name, kind, bytes) = attachments::download(&s, &ui.p, parse_id(&id)?).await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_DISPOSITION, super::api::disposition(&name)),
        ],
        bytes,
    )
        .into_response())
}

// ------------------------------------------------------------------------------------ SLA control panel

pub struct ConfigRow {
    pub href: String,
    pub hospital: String,
    pub scope: String,
    pub hours: String,
    pub reminder: String,
    pub interval: String,
    pub mode: String,
    pub active: bool,
}

pub struct RuleRow {
    pub href: String,
    pub order: i32,
    pub name: String,
    pub hospital: String,
    pub when: String,
    pub target: String,
    pub active: bool,
}

pub struct LevelRow {
    pub hospital: String,
    pub level: i32,
    pub role: String,
    pub person: String,
    pub settings_href: String,
}

#[derive(Template)]
#[template(path = "actions/sla.html")]
struct SlaPage {
    ctx: Ctx,
    configs: Vec<ConfigRow>,
    rules: Vec<RuleRow>,
    levels: Vec<LevelRow>,
    can_configure: bool,
}

async fn sla_panel(ui: Ui, State(s): State<AppState>) -> UiResult {
    ui.p.require(R, Operation::View)?;
    let ctx = &ui.ctx;
    let q = ListQuery::parse("/actions/sla/", "page_size=200")?;
    let configs = sla_configs::list(&s, &ui.p, &q).await?.results;
    let rules = routing_rules::list(&s, &ui.p, &q).await?.results;
    let levels =
        config::escalation_levels(&s, &ui.p, &ListQuery::parse("/actions/sla/", "")?).await?;
    let mut hospitals: Vec<Uuid> = configs.iter().map(|c| c.hospital).collect();
    hospitals.extend(rules.iter().map(|r| r.hospital));
    hospitals.extend(levels.iter().map(|l| l.hospital));
    hospitals.sort();
    hospitals.dedup();
    let hnames = crate::apps::organizations::views::HospitalRefs
        .labels(&s, &hospitals, ui.lang())
        .await?;
    let hname = |h: &Uuid| hnames.get(h).cloned().unwrap_or_default();
    let any = ctx.t("px.any");
    let choice = |v: &Option<String>| {
        v.as_ref()
            .map(|v| ctx.t(&format!("choice.{v}")).to_string())
            .unwrap_or_else(|| any.to_string())
    };
    let mut users: Vec<Uuid> = rules.iter().filter_map(|r| r.target_user).collect();
    users.extend(levels.iter().filter_map(|l| l.assignee));
    let unames = accounts::user_names(&s.db, &users).await?;
    let uname = |u: &Uuid| {
        unames
            .get(u)
            .map(|n| ctx.pick(&n.name_en, &n.name_ar).to_string())
            .unwrap_or_default()
    };
    let page = SlaPage {
        configs: configs
            .iter()
            .map(|c| ConfigRow {
                href: format!("/actions/sla-configs/{}/", c.id),
                hospital: hname(&c.hospital),
                scope: format!(
                    "{} · {} · {}",
                    choice(&c.priority),
                    choice(&c.severity),
                    if c.department.is_some() {
                        ctx.t("px.department")
                    } else {
                        any
                    }
                ),
                hours: ctx.tf("px.hours", &[("hours", &ctx.num(c.hours.into()))]),
                reminder: ctx.tf(
                    "px.hours",
                    &[("hours", &ctx.num(c.reminder_hours_before.into()))],
                ),
                interval: ctx.tf(
                    "px.hours",
                    &[("hours", &ctx.num(c.escalation_interval_hours.into()))],
                ),
                mode: ctx.t(&format!("choice.{}", c.hour_mode)).to_string(),
                active: c.active,
            })
            .collect(),
        rules: rules
            .iter()
            .map(|r| RuleRow {
                href: format!("/actions/routing-rules/{}/", r.id),
                order: r.order,
                name: r.name.clone(),
                hospital: hname(&r.hospital),
                when: [
                    choice(&r.source_type),
                    choice(&r.category),
                    choice(&r.severity),
                ]
                .join(" · "),
                target: match r.target_user {
                    Some(u) => {
                        format!("{} ({})", ctx.t(&format!("choice.{}", r.target)), uname(&u))
                    }
                    None => ctx.t(&format!("choice.{}", r.target)).to_string(),
                },
                active: r.active,
            })
            .collect(),
        levels: levels
            .iter()
            .map(|l| LevelRow {
                hospital: hname(&l.hospital),
                level: l.level,
                role: ctx.t(&format!("choice.{}", l.role)).to_string(),
                person: l.assignee.map(|u| uname(&u)).unwrap_or_default(),
                settings_href: format!("/organizations/hospitals/{}/settings/", l.hospital),
            })
            .collect(),
        can_configure: ui.p.can(R, Operation::Configure),
        ctx: ui
            .ctx
            .clone()
            .crumb(ctx.t("px.board"), Some("/actions/".into()))
            .crumb(ctx.t("px.sla_panel"), None)
            .titled(ctx.t("px.sla_panel")),
    };
    render(&page)
}

/// Pages that are not plain resource routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/actions/", get(board))
        .route("/actions/bulk/", post(bulk))
        .route("/actions/sla/", get(sla_panel))
        .route("/actions/actions/{id}/", get(detail))
        .route("/actions/actions/{id}/transition/", post(transition_form))
        .route("/actions/actions/{id}/assign/", post(assign_form))
        .route("/actions/actions/{id}/escalate/", post(escalate_form))
        .route("/actions/actions/{id}/approve/", post(approve_form))
        .route("/actions/actions/{id}/reject/", post(reject_form))
        .route("/actions/actions/{id}/comment/", post(comment_form))
        .route(
            "/actions/actions/{id}/attachments/",
            post(upload_form).layer(crate::platform::limits::limit(
                1024 * crate::platform::limits::MIB + crate::platform::limits::MIB,
            )),
        )
        .route("/actions/attachments/{id}/", get(download))
}
