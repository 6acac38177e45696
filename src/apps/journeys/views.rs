//! Console pages of journeys: templates with the stage builder (add, edit, delete, move up/down) and
//! its test panel, and journey instances with a progress stepper, stage cards and the encounter's
//! event timeline. Every page goes through the journeys services (same scope, validation and audit
//! as the API); the timeline reads the inbound events through the console registry, so this module
//! does not depend on integrations.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::model::{
    COMPLETED, IN_PROGRESS, INSTANCE_STATUSES, JOURNEY_TYPES, SKIPPED, STAGE_STATUSES, instance,
    template,
};
use super::service::builder::{self, Direction};
use super::service::{self, Mode, instances, stages, templates};
use super::wire::{SimulateIn, StageTemplateIn, TemplateIn};
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::i18n::Lang;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{FormPage, detail_page, field_views, parse_id, render, see_other};
use crate::platform::ui::ctx::{Ctx, Ui, UiResult};
use crate::platform::ui::present::{self, FormValues};
use crate::platform::ui::registry::{RefSource, Registry};
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Link, Ops, ResourceDef, from_body,
};

const R: Resource = Resource::Journeys;

// ------------------------------------------------------------------------------------ templates

crate::service_ops!(TemplateBase, service::templates, TemplateIn, Mode::Patch);

/// The templates' service calls, with the number of stages added for the list.
pub struct TemplateOps;

fn with_stage_count(mut v: Value) -> Value {
    let n = v
        .get("stages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if let Some(o) = v.as_object_mut() {
        o.insert("stage_count".into(), Value::from(n));
    }
    v
}

#[async_trait]
impl Ops for TemplateOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(TemplateBase.list(s, p, q).await?.map(with_stage_count))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(with_stage_count(TemplateBase.get(s, p, id).await?))
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        TemplateBase.create(s, p, body).await
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        TemplateBase.update(s, p, id, body).await
    }
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        TemplateBase.delete(s, p, id).await
    }
}

fn templates_def() -> ResourceDef {
    ResourceDef {
        module: "journeys",
        slug: "templates",
        resource: R,
        title: "nav.journey_templates",
        singular: "journey.template",
        icon: "signpost-split",
        columns: vec![
            Col::new("name", "common.name", Kind::Bilingual).sort("name_en"),
            Col::new("journey_type", "journey.type", Kind::Choice).sort("journey_type"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("version", "journey.version", Kind::Number).sort("version"),
            Col::new("stage_count", "journey.stage_count", Kind::Number),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("created_at", "common.created_at", Kind::DateTime)
                .sort("created_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("journey_type", "journey.type", Input::Select(JOURNEY_TYPES)),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("hospital", "org.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("journey_type", "journey.type", Input::Select(JOURNEY_TYPES))
                .required()
                .create_only(),
            Field::new("name_en", "common.name_en", Input::Text { max: 200 }).required(),
            Field::new("name_ar", "common.name_ar", Input::Text { max: 200 }),
            Field::new("description", "journey.description", Input::TextArea),
            Field::new("active", "common.active", Input::Checkbox).help("journey.active_help"),
        ],
        detail: vec![
            Col::new("name_en", "common.name_en", Kind::Text),
            Col::new("name_ar", "common.name_ar", Kind::Text),
            Col::new("journey_type", "journey.type", Kind::Choice),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("version", "journey.version", Kind::Number),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("description", "journey.description", Kind::Text),
            Col::new("created_at", "common.created_at", Kind::DateTime),
            Col::new("updated_at", "common.updated_at", Kind::DateTime),
        ],
        label: Label::Bilingual("name"),
        caps: Caps::ALL,
        links: vec![Link {
            label: "nav.journeys",
            icon: "person-walking",
            href: "/journeys/instances/?journey_template={id}",
            resource: R,
            op: Operation::View,
        }],
        searchable: true,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(TemplateOps),
    }
}

// ------------------------------------------------------------------------------------ builder

pub struct StageRow {
    pub id: String,
    pub n: String,
    pub code: String,
    pub name: String,
    pub trigger: String,
    pub auto_send: bool,
    pub delay: String,
    pub requires_physician: bool,
    pub optional: bool,
    pub first: bool,
    pub last: bool,
    pub edit_href: String,
    pub move_url: String,
    pub delete_url: String,
    pub delete_text: String,
    /// Ticked in the test panel (treated as already completed).
    pub done: bool,
}

/// What the test panel answered.
pub struct TestResult {
    pub code: String,
    pub matched: bool,
    pub stage: String,
    pub stage_code: String,
    pub n: String,
    pub reason: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "journeys/_stages.html")]
struct StagesPartial {
    ctx: Ctx,
    stages: Vec<StageRow>,
    can_edit: bool,
}

#[derive(Template)]
#[template(path = "journeys/_test_result.html")]
struct TestResultPartial {
    ctx: Ctx,
    result: Option<TestResult>,
}

#[derive(Template)]
#[template(path = "journeys/_builder.html")]
struct BuilderPanel {
    ctx: Ctx,
    stages: Vec<StageRow>,
    can_edit: bool,
    new_stage_href: String,
    test_url: String,
    triggers: Vec<String>,
    test_code: String,
    result: Option<TestResult>,
}

fn stage_rows(ctx: &Ctx, template_id: Uuid, v: &Value, done: &[String]) -> Vec<StageRow> {
    let list = v
        .get("stages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let n = list.len();
    let base = format!("/journeys/templates/{template_id}/stages/");
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let str_of = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
            let id = str_of("id");
            let code = str_of("code");
            let name = ctx.pick(&str_of("name_en"), &str_of("name_ar")).to_string();
            let hours = s
                .get("survey_delay_hours")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            StageRow {
                n: ctx.num(i as i64 + 1),
                delay: ctx.tf1("journey.delay_hours", "n", &ctx.num(hours)),
                trigger: str_of("trigger_event_code"),
                auto_send: flag("auto_send_survey"),
                requires_physician: flag("requires_physician"),
                optional: flag("optional"),
                first: i == 0,
                last: i + 1 == n,
                edit_href: format!("{base}{id}/edit/"),
                move_url: format!("{base}{id}/move/"),
                delete_url: format!("{base}{id}/delete/"),
                delete_text: ctx.tf1("delete.text", "what", &name),
                done: done.contains(&code),
                id,
                code,
                name,
            }
        })
        .collect()
}

fn test_result(ctx: &Ctx, v: &Value, r: &super::wire::SimulateOut) -> TestResult {
    let stages = v
        .get("stages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match &r.stage {
        Some(st) => {
            let pos = stages
                .iter()
                .position(|s| s.get("code").and_then(Value::as_str) == Some(st.code.as_str()))
                .map_or(0, |p| p + 1);
            TestResult {
                code: r.event_code.clone(),
                matched: true,
                stage: ctx.pick(&st.name_en, &st.name_ar).to_string(),
                stage_code: st.code.clone(),
                n: ctx.num(pos as i64),
                reason: String::new(),
                error: String::new(),
            }
        }
        None => {
            // The engine's two reasons (see `engine::NoMatch`), in the page's language.
            let triggered = stages.iter().any(|s| {
                s.get("trigger_event_code").and_then(Value::as_str) == Some(r.event_code.as_str())
            });
            let key = if triggered {
                "journey.test_all_completed"
            } else {
                "journey.test_no_trigger"
            };
            TestResult {
                code: r.event_code.clone(),
                matched: false,
                stage: String::new(),
                stage_code: String::new(),
                n: String::new(),
                reason: ctx.tf1(key, "code", &r.event_code),
                error: String::new(),
            }
        }
    }
}

fn triggers_of(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .get("stages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("trigger_event_code").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    out.dedup();
    out
}

async fn builder_page(
    s: &AppState,
    ui: &Ui,
    id: Uuid,
    test_code: String,
    done: &[String],
    result: Option<TestResult>,
) -> UiResult {
    let Some(def) = s.ui.find("journeys/templates") else {
        return Err(AppError::NotFound.into());
    };
    let v = def.ops.get(s, &ui.p, id).await?;
    let can_edit = ui.p.can(R, Operation::Edit);
    let panel = BuilderPanel {
        ctx: ui.ctx.clone(),
        stages: stage_rows(&ui.ctx, id, &v, done),
        can_edit,
        new_stage_href: format!("/journeys/templates/{id}/stages/new/"),
        test_url: format!("/journeys/templates/{id}/test/"),
        triggers: triggers_of(&v),
        test_code,
        result,
    }
    .render()?;
    render(&detail_page(s, &def, ui, id, panel).await?)
}

async fn template_detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    builder_page(&s, &ui, id, String::new(), &[], None).await
}

fn form_value<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// `POST /journeys/templates/{id}/test/`: the test panel. Reads only (the service's pure simulation).
async fn template_test(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let id = parse_id(&id)?;
    let code = form_value(&form, "event_code").trim().to_string();
    let done: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "completed")
        .map(|(_, v)| v.clone())
        .collect();
    let input = SimulateIn {
        event_code: Some(code.clone()),
        completed: done.clone(),
    };
    let result = match templates::simulate(&s, &ui.p, id, input).await {
        Ok(r) => {
            let v = templates::get(&s, &ui.p, id).await?;
            let v = serde_json::to_value(v).unwrap_or_default();
            test_result(&ui.ctx, &v, &r)
        }
        Err(AppError::Validation(_)) => TestResult {
            code: code.clone(),
            matched: false,
            stage: String::new(),
            stage_code: String::new(),
            n: String::new(),
            reason: String::new(),
            error: ui.t("journey.test_code_required").to_string(),
        },
        Err(e) => return Err(e.into()),
    };
    if ui.htmx {
        return render(&TestResultPartial {
            ctx: ui.ctx.clone(),
            result: Some(result),
        });
    }
    builder_page(&s, &ui, id, code, &done, Some(result)).await
}

/// `POST /journeys/templates/{id}/stages/{sid}/move/` (`direction` = up | down).
async fn stage_move(
    ui: Ui,
    State(s): State<AppState>,
    Path((id, sid)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let id = parse_id(&id)?;
    let sid = parse_id(&sid)?;
    let Some(dir) = Direction::parse(form_value(&form, "direction")) else {
        return Err(AppError::field("direction", "Must be up or down.").into());
    };
    builder::move_stage(&s, &ui.p, id, sid, dir).await?;
    if ui.htmx {
        let v = templates::get(&s, &ui.p, id).await?;
        let v = serde_json::to_value(v).unwrap_or_default();
        return render(&StagesPartial {
            ctx: ui.ctx.clone(),
            stages: stage_rows(&ui.ctx, id, &v, &[]),
            can_edit: ui.p.can(R, Operation::Edit),
        });
    }
    ui.flash("success", ui.t("journey.stage_moved")).await;
    Ok(see_other(&format!("/journeys/templates/{id}/")))
}

/// The stage form's fields. The order is not on the form: a new stage goes last and the builder's
/// up/down buttons move it, so the order stays contiguous.
pub fn stage_fields() -> Vec<Field> {
    vec![
        Field::new("code", "journey.stage_code", Input::Text { max: 50 })
            .required()
            .help("journey.code_help"),
        Field::new("name_en", "common.name_en", Input::Text { max: 200 }).required(),
        Field::new("name_ar", "common.name_ar", Input::Text { max: 200 }),
        Field::new(
            "trigger_event_code",
            "journey.trigger",
            Input::Text { max: 100 },
        )
        .required()
        .help("journey.trigger_help"),
        // ── SURVEY BINDING ──────────────────────────────────────────────────────────────────────
        // The surveys module adds the stage's survey template here, e.g.
        //     Field::new("survey_template", "journey.survey_template", Input::Ref("survey_template")),
        // plus a `survey_template` RefSource and a detail column. `StageTemplateIn.survey_template`
        // already accepts it (a blank Ref is sent as null). Nothing else in this file needs to change.
        // ────────────────────────────────────────────────────────────────────────────────────────
        Field::new(
            "auto_send_survey",
            "journey.auto_send_survey",
            Input::Checkbox,
        ),
        Field::new(
            "survey_delay_hours",
            "journey.survey_delay_hours",
            Input::Number {
                min: 0,
                max: super::model::MAX_SURVEY_DELAY_HOURS,
            },
        )
        .help("journey.delay_help"),
        Field::new(
            "requires_physician",
            "journey.requires_physician",
            Input::Checkbox,
        ),
        Field::new("optional", "journey.optional", Input::Checkbox).help("journey.optional_help"),
    ]
}

async fn stage_form_page(
    s: &AppState,
    ui: &Ui,
    template_id: Uuid,
    stage: Option<(Uuid, String)>,
    values: &FormValues,
    errors: &FieldErrors,
) -> UiResult {
    let t = templates::get(s, &ui.p, template_id).await?;
    let tname = ui.ctx.pick(&t.name_en, &t.name_ar).to_string();
    let (fields, general) =
        field_views(s, &ui.ctx, &stage_fields(), values, errors, stage.is_none()).await;
    let base = format!("/journeys/templates/{template_id}/");
    let (heading, action) = match &stage {
        None => (
            ui.ctx.tf1("form.new", "what", ui.t("journey.stage")),
            format!("{base}stages/new/"),
        ),
        Some((sid, name)) => (
            ui.ctx.tf1("form.edit", "what", name),
            format!("{base}stages/{sid}/edit/"),
        ),
    };
    let ctx = ui
        .ctx
        .clone()
        .crumb(
            ui.t("nav.journey_templates"),
            Some("/journeys/templates/".into()),
        )
        .crumb(tname, Some(base.clone()))
        .crumb(heading.clone(), None)
        .titled(heading.clone());
    let page = FormPage {
        ctx,
        heading,
        action,
        cancel: base,
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

async fn stage_new(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    ui.p.require(R, Operation::Create)?;
    let mut values = FormValues::new();
    values.insert("survey_delay_hours".into(), vec!["0".into()]);
    stage_form_page(&s, &ui, id, None, &values, &FieldErrors::new()).await
}

async fn stage_create(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let id = parse_id(&id)?;
    let values = present::values_from_form(&form);
    let (mut body, local) = present::body_from_form(&stage_fields(), &values, true);
    if !local.is_empty() {
        return stage_form_page(&s, &ui, id, None, &values, &local).await;
    }
    let order = builder::next_order(&s, &ui.p, id).await?;
    if let Some(o) = body.as_object_mut() {
        o.insert("journey_template".into(), Value::String(id.to_string()));
        o.insert("order".into(), Value::from(order));
    }
    let input: StageTemplateIn = from_body(body)?;
    match stages::create(&s, &ui.p, input).await {
        Ok(st) => {
            let name = ui.ctx.pick(&st.name_en, &st.name_ar).to_string();
            ui.flash("success", ui.ctx.tf1("flash.created", "what", &name))
                .await;
            Ok(see_other(&format!("/journeys/templates/{id}/")))
        }
        Err(AppError::Validation(e)) => stage_form_page(&s, &ui, id, None, &values, &e).await,
        Err(e) => Err(e.into()),
    }
}

/// The stage `sid`, which must belong to template `id` (else 404).
async fn stage_of(
    s: &AppState,
    p: &Principal,
    id: Uuid,
    sid: Uuid,
) -> AppResult<super::wire::StageTemplateOut> {
    let st = stages::get(s, p, sid).await?;
    if st.journey_template != id {
        return Err(AppError::NotFound);
    }
    Ok(st)
}

async fn stage_edit(
    ui: Ui,
    State(s): State<AppState>,
    Path((id, sid)): Path<(String, String)>,
) -> UiResult {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let st = stage_of(&s, &ui.p, id, sid).await?;
    ui.p.require(R, Operation::Edit)?;
    let name = ui.ctx.pick(&st.name_en, &st.name_ar).to_string();
    let values = present::values_from_object(
        &stage_fields(),
        &serde_json::to_value(&st).unwrap_or_default(),
    );
    stage_form_page(&s, &ui, id, Some((sid, name)), &values, &FieldErrors::new()).await
}

async fn stage_update(
    ui: Ui,
    State(s): State<AppState>,
    Path((id, sid)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let st = stage_of(&s, &ui.p, id, sid).await?;
    let name = ui.ctx.pick(&st.name_en, &st.name_ar).to_string();
    let values = present::values_from_form(&form);
    let (body, local) = present::body_from_form(&stage_fields(), &values, false);
    if !local.is_empty() {
        return stage_form_page(&s, &ui, id, Some((sid, name)), &values, &local).await;
    }
    let input: StageTemplateIn = from_body(body)?;
    match stages::update(&s, &ui.p, sid, input, Mode::Patch).await {
        Ok(st) => {
            let name = ui.ctx.pick(&st.name_en, &st.name_ar).to_string();
            ui.flash("success", ui.ctx.tf1("flash.updated", "what", &name))
                .await;
            Ok(see_other(&format!("/journeys/templates/{id}/")))
        }
        Err(AppError::Validation(e)) => {
            stage_form_page(&s, &ui, id, Some((sid, name)), &values, &e).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn stage_delete(
    ui: Ui,
    State(s): State<AppState>,
    Path((id, sid)): Path<(String, String)>,
) -> UiResult {
    let (id, sid) = (parse_id(&id)?, parse_id(&sid)?);
    let st = stage_of(&s, &ui.p, id, sid).await?;
    stages::delete(&s, &ui.p, sid).await?;
    let name = ui.ctx.pick(&st.name_en, &st.name_ar).to_string();
    ui.flash("success", ui.ctx.tf1("flash.deleted", "what", &name))
        .await;
    Ok(see_other(&format!("/journeys/templates/{id}/")))
}

// ------------------------------------------------------------------------------------ instances

/// The instances' service calls, with the current stage and progress added for the list.
pub struct InstanceOps;

fn with_progress(mut v: Value) -> Value {
    let stages = v
        .get("stages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = stages.len();
    let done = stages
        .iter()
        .filter(|s| {
            matches!(
                s.get("status").and_then(Value::as_str),
                Some(COMPLETED | SKIPPED)
            )
        })
        .count();
    let next = stages.iter().find(|s| {
        !matches!(
            s.get("status").and_then(Value::as_str),
            Some(COMPLETED | SKIPPED)
        )
    });
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "progress".into(),
            Value::from((done * 100).checked_div(total).unwrap_or(0)),
        );
        o.insert(
            "current_stage_en".into(),
            next.and_then(|s| s.get("name_en"))
                .cloned()
                .unwrap_or(Value::Null),
        );
        o.insert(
            "current_stage_ar".into(),
            next.and_then(|s| s.get("name_ar"))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    v
}

#[async_trait]
impl Ops for InstanceOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(instances::list(s, p, q)
            .await?
            .map(|o| with_progress(serde_json::to_value(o).unwrap_or_default())))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(with_progress(
            serde_json::to_value(instances::get(s, p, id).await?).unwrap_or_default(),
        ))
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        let input = from_body(body)?;
        Ok(serde_json::to_value(instances::create(s, p, input).await?).unwrap_or_default())
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        let input = from_body(body)?;
        Ok(serde_json::to_value(instances::update(s, p, id, input).await?).unwrap_or_default())
    }
    async fn delete(&self, _s: &AppState, _p: &Principal, _id: Uuid) -> AppResult<()> {
        // Journeys are never deleted (cancel them instead); the console offers no delete.
        Err(AppError::NotFound)
    }
}

fn instances_def() -> ResourceDef {
    ResourceDef {
        module: "journeys",
        slug: "instances",
        resource: R,
        title: "nav.journeys",
        singular: "journey.instance",
        icon: "person-walking",
        columns: vec![
            Col::new("encounter_id", "journey.encounter", Kind::Code).sort("encounter_id"),
            Col::new("journey_type", "journey.type", Kind::Choice),
            Col::new("patient", "journey.patient", Kind::Ref("patient")),
            Col::new("current_stage", "journey.current_stage", Kind::Bilingual),
            Col::new("progress", "journey.progress_pct", Kind::Number),
            Col::new("status", "journey.status", Kind::Choice).sort("status"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
            Col::new("started_at", "journey.started_at", Kind::DateTime).sort("started_at"),
            Col::new("completed_at", "journey.completed_at", Kind::DateTime).optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("journey_type", "journey.type", Input::Select(JOURNEY_TYPES)),
            FilterDef::new("status", "journey.status", Input::Select(INSTANCE_STATUSES)),
            FilterDef::new(
                "stage_status",
                "journey.stage_status",
                Input::Select(STAGE_STATUSES),
            ),
            FilterDef::new("department", "org.department", Input::Ref("department")),
            FilterDef::new(
                "encounter_id",
                "journey.encounter",
                Input::Text { max: 100 },
            ),
            FilterDef::new("mrn", "org.mrn", Input::Text { max: 50 }),
            FilterDef::new("patient", "journey.patient", Input::Ref("patient")),
            FilterDef::new("started_after", "journey.started_after", Input::Date),
            FilterDef::new("started_before", "journey.started_before", Input::Date),
        ],
        fields: vec![],
        detail: vec![
            Col::new("encounter_id", "journey.encounter", Kind::Code),
            Col::new("journey_type", "journey.type", Kind::Choice),
            Col::new("status", "journey.status", Kind::Choice),
            Col::new("patient", "journey.patient", Kind::Ref("patient")),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new(
                "journey_template",
                "journey.template",
                Kind::Ref("journey_template"),
            ),
            Col::new("started_at", "journey.started_at", Kind::DateTime),
            Col::new("completed_at", "journey.completed_at", Kind::DateTime),
        ],
        label: Label::Key("encounter_id"),
        caps: Caps::READ_ONLY,
        links: vec![],
        searchable: true,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(InstanceOps),
    }
}

pub struct Step {
    pub name: String,
    pub code: String,
    /// `pending`, `in_progress`, `completed`, `skipped` (CSS modifier).
    pub state: String,
    pub status: String,
    pub badge: &'static str,
    pub icon: &'static str,
    pub current: bool,
    pub n: String,
}

pub struct StageCard {
    pub name: String,
    pub code: String,
    pub n: String,
    pub status: String,
    pub badge: &'static str,
    pub trigger: String,
    pub completed_at: String,
    pub physician: String,
    pub department: String,
    pub event_href: Option<String>,
    pub optional: bool,
    pub note: String,
}

pub struct TimelineItem {
    pub href: String,
    pub at: String,
    pub code: String,
    pub mapped: String,
    pub source: String,
    pub status: String,
    pub badge: &'static str,
    pub text: String,
    pub completed_here: bool,
}

#[derive(Template)]
#[template(path = "journeys/_instance.html")]
struct InstancePanel {
    ctx: Ctx,
    steps: Vec<Step>,
    cards: Vec<StageCard>,
    summary: String,
    tz_note: String,
    timeline: Option<Vec<TimelineItem>>,
    events_href: String,
}

fn state_of(status: &str) -> (&'static str, &'static str) {
    match status {
        COMPLETED => ("completed", "check-lg"),
        SKIPPED => ("skipped", "skip-forward"),
        IN_PROGRESS => ("in_progress", "hourglass-split"),
        _ => ("pending", "circle"),
    }
}

/// The hospital's own time zone (settings), so stage times read as the hospital's clock.
async fn hospital_tz(s: &AppState, hospital: Uuid) -> Tz {
    match crate::apps::organizations::hospital_settings(&s.db, hospital).await {
        Ok(h) => h.timezone.parse().unwrap_or(chrono_tz::Asia::Riyadh),
        Err(_) => chrono_tz::Asia::Riyadh,
    }
}

fn time_of(ctx: &Ctx, v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| ctx.datetime(t.with_timezone(&Utc)))
        .unwrap_or_else(|| "—".into())
}

async fn instance_detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    let Some(def) = s.ui.find("journeys/instances") else {
        return Err(AppError::NotFound.into());
    };
    let v = def.ops.get(&s, &ui.p, id).await?;
    let hospital = v
        .get("hospital")
        .and_then(Value::as_str)
        .and_then(|h| Uuid::parse_str(h).ok())
        .unwrap_or_default();
    let mut hctx = ui.ctx.clone();
    hctx.tz = hospital_tz(&s, hospital).await;
    let stages_v = v
        .get("stages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cols = [
        Col::new("physician", "org.physician", Kind::Ref("physician")),
        Col::new("department", "org.department", Kind::Ref("department")),
    ];
    let labels = crate::platform::ui::crud::resolve_labels(&s, ui.lang(), &cols, &stages_v).await;
    let can_events = ui.p.can(Resource::Integrations, Operation::View);
    let str_of = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let first_open = stages_v.iter().position(|s| {
        !matches!(
            s.get("status").and_then(Value::as_str),
            Some(COMPLETED | SKIPPED)
        )
    });
    let mut steps = vec![];
    let mut cards = vec![];
    for (i, st) in stages_v.iter().enumerate() {
        let status = str_of(st, "status");
        let (state, icon) = state_of(&status);
        let name = ui
            .ctx
            .pick(&str_of(st, "name_en"), &str_of(st, "name_ar"))
            .to_string();
        let label = present::choice_label(ui.lang(), &status);
        let badge = present::badge_class(&status);
        steps.push(Step {
            name: name.clone(),
            code: str_of(st, "code"),
            state: state.to_string(),
            status: label.clone(),
            badge,
            icon,
            current: first_open == Some(i),
            n: ui.ctx.num(i as i64 + 1),
        });
        let event = st
            .get("inbound_event")
            .and_then(Value::as_str)
            .filter(|_| can_events)
            .map(|e| format!("/integrations/events/{e}/"));
        cards.push(StageCard {
            name,
            code: str_of(st, "code"),
            n: ui.ctx.num(i as i64 + 1),
            status: label,
            badge,
            trigger: str_of(st, "trigger_event_code"),
            completed_at: time_of(&hctx, st.get("completed_at")),
            physician: present::cell(&ui.ctx, &cols[0], st, &labels).text,
            department: present::cell(&ui.ctx, &cols[1], st, &labels).text,
            event_href: event,
            optional: st.get("optional").and_then(Value::as_bool).unwrap_or(false),
            note: str_of(st, "note"),
        });
    }
    let total = stages_v.len();
    let done = stages_v
        .iter()
        .filter(|s| {
            matches!(
                s.get("status").and_then(Value::as_str),
                Some(COMPLETED | SKIPPED)
            )
        })
        .count();
    let summary = ui.ctx.tf(
        "journey.progress_summary",
        &[
            ("done", &ui.ctx.num(done as i64)),
            ("total", &ui.ctx.num(total as i64)),
        ],
    );
    let encounter = str_of(&v, "encounter_id");
    let stage_ids: Vec<String> = stages_v.iter().map(|s| str_of(s, "id")).collect();
    // The encounter's inbound events, newest first, through the registered events resource (its
    // own service: scope and permission as in the events console).
    let timeline = match s.ui.find("integrations/events") {
        Some(ev) if can_events => {
            let query = qs(&[
                ("encounter_id", &encounter),
                ("hospital", &hospital.to_string()),
                ("ordering", "-received_at"),
                ("page_size", "100"),
            ]);
            let q = ListQuery::parse(&ev.base(), &query)?;
            let page = ev.ops.list(&s, &ui.p, &q).await?;
            Some(
                page.results
                    .iter()
                    .map(|e| {
                        let status = str_of(e, "status");
                        let text = match (
                            e.get("error").and_then(Value::as_str),
                            e.get("result").and_then(Value::as_str),
                        ) {
                            (Some(err), _) if !err.is_empty() => err.to_string(),
                            (_, Some(r)) => r.to_string(),
                            _ => String::new(),
                        };
                        TimelineItem {
                            href: format!("/integrations/events/{}/", str_of(e, "id")),
                            at: time_of(&hctx, e.get("received_at")),
                            code: str_of(e, "event_code"),
                            mapped: str_of(e, "mapped_event_code"),
                            source: str_of(e, "source_system"),
                            badge: present::badge_class(&status),
                            status: present::choice_label(ui.lang(), &status),
                            text,
                            completed_here: e
                                .get("stage_instance")
                                .and_then(Value::as_str)
                                .is_some_and(|x| stage_ids.iter().any(|s| s == x)),
                        }
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    let events_href = format!(
        "/integrations/events/?{}",
        qs(&[
            ("encounter_id", &encounter),
            ("hospital", &hospital.to_string())
        ])
    );
    let panel = InstancePanel {
        ctx: ui.ctx.clone(),
        steps,
        cards,
        summary,
        tz_note: ui.ctx.tf1("journey.times_in", "tz", hctx.tz.name()),
        timeline,
        events_href,
    }
    .render()?;
    render(&detail_page(&s, &def, &ui, id, panel).await?)
}

// ---------------------------------------------------------------------------------- look-ups

/// A query string from pairs (blank values left out).
fn qs(pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.trim().is_empty() {
            ser.append_pair(k, v.trim());
        }
    }
    ser.finish()
}

pub struct TemplateRefs;

#[async_trait]
impl RefSource for TemplateRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        let rows = template::Entity::find()
            .filter(template::Column::Id.is_in(ids.to_vec()))
            .all(&s.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|t| {
                let n = if lang == Lang::Ar && !t.name_ar.trim().is_empty() {
                    t.name_ar
                } else {
                    t.name_en
                };
                (t.id, format!("{n} (v{})", t.version))
            })
            .collect())
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let hospital = w
            .iter()
            .find(|(k, _)| k == "hospital")
            .map_or("", |(_, v)| v.as_str());
        let query = qs(&[("search", q), ("hospital", hospital), ("page_size", "20")]);
        let lq = ListQuery::parse("/journeys/templates/", &query)?;
        Ok(templates::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|t| {
                let n = if lang == Lang::Ar && !t.name_ar.trim().is_empty() {
                    t.name_ar
                } else {
                    t.name_en
                };
                (t.id, format!("{n} (v{})", t.version))
            })
            .collect())
    }
}

pub struct InstanceRefs;

#[async_trait]
impl RefSource for InstanceRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        _lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        let rows = instance::Entity::find()
            .filter(instance::Column::Id.is_in(ids.to_vec()))
            .all(&s.db)
            .await?;
        Ok(rows.into_iter().map(|i| (i.id, i.encounter_id)).collect())
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        _w: &[(String, String)],
        _lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let query = qs(&[("search", q), ("page_size", "20")]);
        let lq = ListQuery::parse("/journeys/instances/", &query)?;
        Ok(instances::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|i| (i.id, i.encounter_id))
            .collect())
    }
}

/// Registers the journeys resources and look-ups.
pub fn register(reg: &mut Registry) {
    reg.resource(templates_def());
    reg.resource(instances_def());
    reg.reference("journey_template", Arc::new(TemplateRefs));
    reg.reference("journey_instance", Arc::new(InstanceRefs));
}

/// The builder's pages and the instance page (not plain resource routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/journeys/templates/{id}/", get(template_detail))
        .route("/journeys/templates/{id}/test/", post(template_test))
        .route(
            "/journeys/templates/{id}/stages/new/",
            get(stage_new).post(stage_create),
        )
        .route(
            "/journeys/templates/{id}/stages/{sid}/edit/",
            get(stage_edit).post(stage_update),
        )
        .route(
            "/journeys/templates/{id}/stages/{sid}/move/",
            post(stage_move),
        )
        .route(
            "/journeys/templates/{id}/stages/{sid}/delete/",
            post(stage_delete),
        )
        .route("/journeys/instances/{id}/", get(instance_detail))
}
