//! Console pages of surveys — templates, questions (the builder), instances (with answers, the send
//! log and "resend") and the analytics dashboard — declared through the resource pattern; plus the
//! patient's public form at `/s/{token}`, outside the console (no session, no cookie).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use super::api::ClientIp;
use super::model::{CHANNELS, KINDS, METHODS, QUESTION_TYPES, STATUSES, question, template};
use super::service::public::Lookup;
use super::service::{self, Mode, analytics, instances};
use super::wire::{PublicQuestion, QuestionIn, ResendIn, TemplateIn};
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{detail_page, parse_id, render, see_other};
use crate::platform::ui::ctx::{Ctx, Ui, UiResult};
use crate::platform::ui::registry::{NavGroup, NavItem, RefSource, Registry};
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Link, Ops, ResourceDef, from_body,
};
use crate::platform::ui::{CSP, assets};

crate::service_ops!(TemplateOps, service::templates, TemplateIn, Mode::Patch);

const JOURNEY_TYPES: &[&str] = &["EMS", "INPATIENT", "OPD", "DAY_CASE"];

fn stamps() -> [Col; 2] {
    [
        Col::new("created_at", "common.created_at", Kind::DateTime),
        Col::new("updated_at", "common.updated_at", Kind::DateTime),
    ]
}

fn nullable(mut f: Field) -> Field {
    f.nullable = true;
    f
}

fn templates() -> ResourceDef {
    let mut detail = vec![
        Col::new("name_en", "common.name_en", Kind::Text),
        Col::new("name_ar", "common.name_ar", Kind::Text),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("kind", "survey.kind", Kind::Choice),
        Col::new("scoring_method", "survey.scoring_method", Kind::Choice),
        Col::new("negative_threshold", "survey.threshold", Kind::Number),
        Col::new("version", "survey.version", Kind::Number),
        Col::new("active", "common.active", Kind::Bool),
        Col::new("description", "survey.description", Kind::Text),
    ];
    detail.extend(stamps());
    ResourceDef {
        module: "surveys",
        slug: "templates",
        resource: Resource::Surveys,
        title: "nav.survey_templates",
        singular: "survey.template",
        icon: "ui-checks",
        columns: vec![
            Col::new("name", "common.name", Kind::Bilingual).sort("name_en"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("kind", "survey.kind", Kind::Choice),
            Col::new("scoring_method", "survey.scoring_method", Kind::Choice),
            Col::new("version", "survey.version", Kind::Number).sort("version"),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("created_at", "common.created_at", Kind::DateTime)
                .sort("created_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("kind", "survey.kind", Input::Select(KINDS)),
            FilterDef::new(
                "scoring_method",
                "survey.scoring_method",
                Input::Select(METHODS),
            ),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("hospital", "org.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("name_en", "common.name_en", Input::Text { max: 200 }).required(),
            Field::new("name_ar", "common.name_ar", Input::Text { max: 200 }),
            Field::new("description", "survey.description", Input::TextArea),
            Field::new("kind", "survey.kind", Input::Select(KINDS)).required(),
            Field::new(
                "scoring_method",
                "survey.scoring_method",
                Input::Select(METHODS),
            )
            .required()
            .help("survey.scoring_help"),
            nullable(
                Field::new(
                    "negative_threshold",
                    "survey.threshold",
                    Input::Number { min: 0, max: 100 },
                )
                .help("survey.threshold_help"),
            ),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail,
        label: Label::Bilingual("name"),
        caps: Caps {
            pdf: false,
            ..Caps::ALL
        },
        links: vec![
            Link {
                label: "survey.questions",
                icon: "list-ol",
                href: "/surveys/questions/?survey_template={id}&ordering=order",
                resource: Resource::Surveys,
                op: Operation::View,
            },
            Link {
                label: "survey.add_question",
                icon: "plus-lg",
                href: "/surveys/questions/new/?survey_template={id}",
                resource: Resource::Surveys,
                op: Operation::Create,
            },
        ],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(TemplateOps),
    }
}

/// Questions in the console: `choices` and `branch` are edited as JSON text and checked here first,
/// so a typing mistake gets a message beside the field rather than a generic one.
struct QuestionOps;

fn json_field(body: &mut Value, key: &str, empty: Value, errors: &mut FieldErrors) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    match obj.get(key).cloned() {
        Some(Value::String(s)) if s.trim().is_empty() => {
            obj.insert(key.into(), empty);
        }
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(v) => {
                obj.insert(key.into(), v);
            }
            Err(e) => errors.add(key, format!("Enter valid JSON ({e}).")),
        },
        Some(Value::Null) => {
            obj.insert(key.into(), empty);
        }
        _ => {}
    }
}

fn question_body(mut body: Value) -> AppResult<QuestionIn> {
    let mut errors = FieldErrors::new();
    json_field(&mut body, "choices", json!([]), &mut errors);
    json_field(&mut body, "branch", Value::Null, &mut errors);
    errors.into_result()?;
    from_body(body)
}

/// The API shape with `choices` and `branch` as pretty JSON text (for the form and the detail page).
fn question_view(q: super::wire::QuestionOut) -> Value {
    let mut v = serde_json::to_value(&q).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        let choices = if q.choices.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(&q.choices).unwrap_or_default()
        };
        let branch = q
            .branch
            .as_ref()
            .and_then(|b| serde_json::to_string_pretty(b).ok())
            .unwrap_or_default();
        o.insert("choices".into(), Value::String(choices));
        o.insert("branch".into(), Value::String(branch));
    }
    v
}

#[async_trait]
impl Ops for QuestionOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(service::questions::list(s, p, q).await?.map(question_view))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(question_view(service::questions::get(s, p, id).await?))
    }
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value> {
        let i = question_body(body)?;
        Ok(question_view(service::questions::create(s, p, i).await?))
    }
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value> {
        let i = question_body(body)?;
        Ok(question_view(
            service::questions::update(s, p, id, i, Mode::Patch).await?,
        ))
    }
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        service::questions::delete(s, p, id).await
    }
}

fn questions() -> ResourceDef {
    let mut detail = vec![
        Col::new(
            "survey_template",
            "survey.template",
            Kind::Ref("survey_template"),
        ),
        Col::new("order", "survey.order", Kind::Number),
        Col::new("question_type", "survey.question_type", Kind::Choice),
        Col::new("text_en", "survey.text_en", Kind::Text),
        Col::new("text_ar", "survey.text_ar", Kind::Text),
        Col::new("required", "survey.required", Kind::Bool),
        Col::new("weight", "survey.weight", Kind::Number),
        Col::new("choices", "survey.choices", Kind::Json),
        Col::new("branch", "survey.branch", Kind::Json),
    ];
    detail.extend(stamps());
    ResourceDef {
        module: "surveys",
        slug: "questions",
        resource: Resource::Surveys,
        title: "nav.survey_questions",
        singular: "survey.question",
        icon: "list-ol",
        columns: vec![
            Col::new("order", "survey.order", Kind::Number).sort("order"),
            Col::new("text", "survey.text", Kind::Bilingual),
            Col::new("question_type", "survey.question_type", Kind::Choice),
            Col::new("required", "survey.required", Kind::Bool),
            Col::new(
                "survey_template",
                "survey.template",
                Kind::Ref("survey_template"),
            ),
            Col::new("weight", "survey.weight", Kind::Number).optional(),
        ],
        filters: vec![
            FilterDef::new(
                "survey_template",
                "survey.template",
                Input::Ref("survey_template"),
            ),
            FilterDef::new(
                "question_type",
                "survey.question_type",
                Input::Select(QUESTION_TYPES),
            ),
        ],
        fields: vec![
            Field::new(
                "survey_template",
                "survey.template",
                Input::Ref("survey_template"),
            )
            .required()
            .create_only(),
            Field::new(
                "order",
                "survey.order",
                Input::Number {
                    min: 0,
                    max: 10_000,
                },
            )
            .required(),
            Field::new(
                "question_type",
                "survey.question_type",
                Input::Select(QUESTION_TYPES),
            )
            .required(),
            Field::new("text_en", "survey.text_en", Input::Text { max: 1000 }).required(),
            Field::new("text_ar", "survey.text_ar", Input::Text { max: 1000 }),
            Field::new("required", "survey.required", Input::Checkbox),
            Field::new(
                "weight",
                "survey.weight",
                Input::Number { min: 0, max: 100 },
            )
            .help("survey.weight_help"),
            Field::new("choices", "survey.choices", Input::TextArea).help("survey.choices_help"),
            Field::new("branch", "survey.branch", Input::TextArea).help("survey.branch_help"),
        ],
        detail,
        label: Label::Bilingual("text"),
        caps: Caps {
            pdf: false,
            ..Caps::ALL
        },
        links: vec![],
        searchable: false,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(QuestionOps),
    }
}

struct InstanceOps;

#[async_trait]
impl Ops for InstanceOps {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>> {
        Ok(instances::list(s, p, q)
            .await?
            .map(|o| serde_json::to_value(o).unwrap_or_default()))
    }
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value> {
        Ok(serde_json::to_value(instances::get(s, p, id).await?).unwrap_or_default())
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

fn instances_def() -> ResourceDef {
    let detail = vec![
        Col::new("status", "survey.status", Kind::Choice),
        Col::new(
            "survey_template",
            "survey.template",
            Kind::Ref("survey_template"),
        ),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("department", "org.department", Kind::Ref("department")),
        Col::new("physician", "org.physician", Kind::Ref("physician")),
        Col::new("journey_type", "survey.journey_type", Kind::Choice),
        Col::new("stage_code", "survey.stage", Kind::Code),
        Col::new("encounter_id", "survey.encounter", Kind::Code),
        Col::new("channel", "survey.channel", Kind::Choice),
        Col::new("recipient", "survey.recipient", Kind::Code),
        Col::new("language", "survey.language", Kind::Code),
        Col::new("score", "survey.score", Kind::Number),
        Col::new("is_negative", "survey.negative", Kind::Bool),
        Col::new("scheduled_at", "survey.scheduled_at", Kind::DateTime),
        Col::new("sent_at", "survey.sent_at", Kind::DateTime),
        Col::new("opened_at", "survey.opened_at", Kind::DateTime),
        Col::new("completed_at", "survey.completed_at", Kind::DateTime),
        Col::new("reminded_at", "survey.reminded_at", Kind::DateTime),
        Col::new("expires_at", "survey.expires_at", Kind::DateTime),
        Col::new("send_count", "survey.send_count", Kind::Number),
    ];
    ResourceDef {
        module: "surveys",
        slug: "instances",
        resource: Resource::Surveys,
        title: "nav.survey_instances",
        singular: "survey.instance",
        icon: "envelope-paper",
        columns: vec![
            Col::new("created_at", "common.created_at", Kind::DateTime).sort("created_at"),
            Col::new("status", "survey.status", Kind::Choice).sort("status"),
            Col::new("journey_type", "survey.journey_type", Kind::Choice),
            Col::new("stage_code", "survey.stage", Kind::Code),
            Col::new("department", "org.department", Kind::Ref("department")),
            Col::new("score", "survey.score", Kind::Number).sort("score"),
            Col::new("is_negative", "survey.negative", Kind::Bool),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
            Col::new("physician", "org.physician", Kind::Ref("physician")).optional(),
            Col::new("channel", "survey.channel", Kind::Choice).optional(),
            Col::new("sent_at", "survey.sent_at", Kind::DateTime)
                .sort("sent_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("status", "survey.status", Input::Select(STATUSES)),
            FilterDef::new(
                "journey_type",
                "survey.journey_type",
                Input::Select(JOURNEY_TYPES),
            ),
            FilterDef::new("stage_code", "survey.stage", Input::Text { max: 50 }),
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("department", "org.department", Input::Ref("department")),
            FilterDef::new("is_negative", "survey.negative", Input::Checkbox),
            FilterDef::new("channel", "survey.channel", Input::Select(CHANNELS)),
        ],
        fields: vec![],
        detail,
        label: Label::Key("stage_code"),
        caps: Caps {
            create: false,
            edit: false,
            delete: false,
            export: true,
            pdf: false,
            import: false,
        },
        links: vec![],
        searchable: false,
        own_detail: true,
        own_create: false,
        importer: None,
        ops: Arc::new(InstanceOps),
    }
}

// ------------------------------------------------------------------------------------ instance detail

pub struct AnswerRow {
    pub question: String,
    pub answer: String,
    pub score: String,
}

pub struct LogRow {
    pub at: String,
    pub action: String,
    pub actor: String,
}

pub struct NoticeRow {
    pub at: String,
    pub template: String,
    pub channel: String,
    pub status: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "surveys/_instance_extra.html")]
struct InstanceExtra<'a> {
    ctx: &'a Ctx,
    answers: Vec<AnswerRow>,
    logs: Vec<LogRow>,
    notices: Vec<NoticeRow>,
    can_resend: bool,
    resend_action: String,
}

async fn instance_detail(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    let inst = instances::get(&s, &ui.p, id).await?;
    let answers = instances::answers_of(&s, &ui.p, id).await?;
    let qs: HashMap<Uuid, question::Model> = question::Entity::find()
        .filter(question::Column::SurveyTemplateId.eq(inst.survey_template))
        .order_by_asc(question::Column::QuestionOrder)
        .all(&s.db)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let mut rows: Vec<(i32, AnswerRow)> = answers
        .iter()
        .map(|a| {
            let q = qs.get(&a.question_id);
            let question = q
                .map(|q| ui.ctx.pick(&q.text_en, &q.text_ar).to_string())
                .unwrap_or_default();
            let answer = match (q.map(|q| q.question_type.as_str()), &a.value) {
                (Some("YES_NO"), Value::Bool(b)) => ui
                    .t(if *b { "common.yes" } else { "common.no" })
                    .to_string(),
                (Some("SINGLE_CHOICE" | "MULTIPLE_CHOICE"), _) => {
                    let choices: Vec<super::engine::Choice> = q
                        .map(|q| serde_json::from_value(q.choices.clone()).unwrap_or_default())
                        .unwrap_or_default();
                    a.text_value
                        .split(", ")
                        .map(|v| {
                            choices
                                .iter()
                                .find(|c| c.value == v)
                                .map(|c| ui.ctx.pick(&c.label_en, &c.label_ar).to_string())
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join("، ")
                }
                _ => i18n::digits(ui.lang(), &a.text_value),
            };
            let score = a
                .score
                .map(|v| i18n::digits(ui.lang(), &format!("{v:.0}")))
                .unwrap_or_else(|| "—".into());
            (
                q.map_or(0, |q| q.question_order),
                AnswerRow {
                    question,
                    answer,
                    score,
                },
            )
        })
        .collect();
    rows.sort_by_key(|(o, _)| *o);
    let logs = send_log(&s, &ui, id).await?;
    let can_resend = ui.p.can(Resource::Surveys, Operation::Transition)
        && ["PENDING", "SENT", "OPENED", "FAILED"].contains(&inst.status.as_str());
    let d = s.ui.find("surveys/instances").ok_or(AppError::NotFound)?;
    let extra = InstanceExtra {
        ctx: &ui.ctx,
        answers: rows.into_iter().map(|(_, r)| r).collect(),
        logs,
        notices: notices_of(&s, &ui, id).await?,
        can_resend,
        resend_action: format!("/surveys/instances/{id}/resend/"),
    }
    .render()?;
    let mut page = detail_page(&s, &d, &ui, id, extra).await?;
    page.name = format!(
        "{} · {}",
        ui.t("survey.instance"),
        if inst.stage_code.is_empty() {
            inst.encounter_id.clone()
        } else {
            inst.stage_code.clone()
        }
    );
    render(&page)
}

/// The instance's sends, reminders, resends and status changes from the audit log (the notification
/// log joins here once the notifications module records deliveries).
async fn send_log(s: &AppState, ui: &Ui, id: Uuid) -> AppResult<Vec<LogRow>> {
    use sea_orm::ConnectionTrait;
    let db = &s.db;
    let rows = db
        .query_all_raw(crate::platform::db::stmt(
            db.get_database_backend(),
            "SELECT occurred_at, action, actor_label FROM audit_log \
             WHERE object_type = 'survey_instance' AND object_id = $1 ORDER BY occurred_at, seq",
            vec![id.to_string().into()],
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let at: chrono::DateTime<chrono::Utc> = r.try_get_by_index(0).ok()?;
            let action: String = r.try_get_by_index(1).ok()?;
            let actor: Option<String> = r.try_get_by_index(2).ok()?;
            let key = format!("survey.log.{action}");
            Some(LogRow {
                at: ui.ctx.datetime(at),
                action: if i18n::has(&key) {
                    ui.t(&key).to_string()
                } else {
                    action
                },
                actor: actor.unwrap_or_default(),
            })
        })
        .collect())
}

/// The NotificationLog rows of this survey (read-only; the notifications module has no look-up by
/// related object yet, so this reads its log table directly).
async fn notices_of(s: &AppState, ui: &Ui, id: Uuid) -> AppResult<Vec<NoticeRow>> {
    use sea_orm::ConnectionTrait;
    let db = &s.db;
    let rows = db
        .query_all_raw(crate::platform::db::stmt(
            db.get_database_backend(),
            "SELECT created_at, template_code, channel, status, reason FROM notification_logs \
             WHERE related_type = 'survey_instance' AND related_id = $1 ORDER BY created_at",
            vec![id.into()],
        ))
        .await?;
    let choice = |v: String| {
        let key = format!("choice.{v}");
        if i18n::has(&key) {
            ui.t(&key).to_string()
        } else {
            v
        }
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let at: chrono::DateTime<chrono::Utc> = r.try_get_by_index(0).ok()?;
            Some(NoticeRow {
                at: ui.ctx.datetime(at),
                template: r.try_get_by_index(1).ok()?,
                channel: choice(r.try_get_by_index(2).ok()?),
                status: choice(r.try_get_by_index(3).ok()?),
                reason: r
                    .try_get_by_index::<Option<String>>(4)
                    .ok()?
                    .unwrap_or_default(),
            })
        })
        .collect())
}

#[derive(Deserialize)]
struct ResendForm {
    #[serde(default)]
    note: String,
}

async fn instance_resend(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<ResendForm>,
) -> UiResult {
    let id = parse_id(&id)?;
    match instances::resend(&s, &ui.p, id, ResendIn { note: Some(f.note) }).await {
        Ok(_) => ui.flash("success", ui.t("survey.resent")).await,
        Err(AppError::Validation(e)) => {
            let msg = e.0.values().flatten().next().cloned().unwrap_or_default();
            let msg = crate::platform::ui::crud::translate_errors(ui.lang(), &[msg]);
            ui.flash("danger", msg.join(" ")).await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/surveys/instances/{id}/")))
}

// ------------------------------------------------------------------------------------------ analytics

pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub icon: &'static str,
}

pub struct HeatRow {
    pub department: String,
    pub cells: Vec<HeatCellView>,
}

pub struct HeatCellView {
    pub text: String,
    /// `heat-0` (worst) … `heat-4` (best), `heat-none` without data.
    pub class: &'static str,
    pub title: String,
}

#[derive(Template)]
#[template(path = "surveys/analytics.html")]
struct AnalyticsPage {
    ctx: Ctx,
    cards: Vec<Card>,
    charts: String,
    stages: Vec<String>,
    heat: Vec<HeatRow>,
    hospital: String,
    journey_types: Vec<(String, String, bool)>,
    days: String,
}

#[derive(Deserialize, Default)]
struct AnalyticsQuery {
    #[serde(default)]
    hospital: String,
    #[serde(default)]
    journey_type: String,
    #[serde(default)]
    days: String,
}

fn heat_class(avg: Option<f64>) -> &'static str {
    match avg {
        None => "heat-none",
        Some(a) if a < 40.0 => "heat-0",
        Some(a) if a < 60.0 => "heat-1",
        Some(a) if a < 75.0 => "heat-2",
        Some(a) if a < 90.0 => "heat-3",
        Some(_) => "heat-4",
    }
}

async fn analytics_page(
    ui: Ui,
    State(s): State<AppState>,
    Query(f): Query<AnalyticsQuery>,
) -> UiResult {
    ui.p.require(Resource::Surveys, Operation::View)?;
    let days: i64 = f
        .days
        .parse()
        .ok()
        .filter(|d| (1..=730).contains(d))
        .unwrap_or(90);
    let since = (s.clock.now() - chrono::Duration::days(days)).date_naive();
    let query = {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("created_after", &since.to_string());
        if Uuid::parse_str(&f.hospital).is_ok() {
            ser.append_pair("hospital", &f.hospital);
        }
        if JOURNEY_TYPES.contains(&f.journey_type.as_str()) {
            ser.append_pair("journey_type", &f.journey_type);
        }
        ser.finish()
    };
    let q = ListQuery::parse("/surveys/analytics/", &query)?;
    let a = analytics::dashboard(&s, &ui.p, &q).await?;
    let lang = ui.lang();
    let refs = |k: &str| s.ui.refs.get(k).cloned();
    let ids = |b: &[analytics::Bucket]| -> Vec<Uuid> {
        b.iter()
            .filter_map(|x| Uuid::parse_str(&x.key).ok())
            .collect()
    };
    let mut labels: HashMap<Uuid, String> = HashMap::new();
    for (src, list) in [
        ("hospital", &a.by_hospital),
        ("department", &a.by_department),
        ("physician", &a.by_physician),
    ] {
        if let Some(r) = refs(src) {
            labels.extend(r.labels(&s, &ids(list), lang).await?);
        }
    }
    let label_of = |k: &str| -> String {
        Uuid::parse_str(k)
            .ok()
            .and_then(|u| labels.get(&u).cloned())
            .unwrap_or_else(|| {
                let key = format!("choice.{k}");
                if i18n::has(&key) {
                    i18n::t(lang, &key).to_string()
                } else {
                    k.to_string()
                }
            })
    };
    let series = |b: &[analytics::Bucket], top: usize| -> Value {
        let mut v: Vec<&analytics::Bucket> = b.iter().collect();
        if top > 0 {
            v.sort_by_key(|y| std::cmp::Reverse(y.count));
            v.truncate(top);
        }
        json!({
            "labels": v.iter().map(|x| label_of(&x.key)).collect::<Vec<_>>(),
            "average": v.iter().map(|x| x.average).collect::<Vec<_>>(),
            "count": v.iter().map(|x| x.count).collect::<Vec<_>>(),
            "negative": v.iter().map(|x| x.negative).collect::<Vec<_>>(),
        })
    };
    let charts = json!({
        "labels": {
            "average": ui.t("survey.average"),
            "count": ui.t("survey.count"),
            "negative": ui.t("survey.negatives"),
        },
        "rtl": lang == Lang::Ar,
        "by_hospital": series(&a.by_hospital, 0),
        "by_department": series(&a.by_department, 12),
        "by_physician": series(&a.by_physician, 12),
        "by_journey_type": series(&a.by_journey_type, 0),
        "by_stage": series(&a.by_stage, 0),
        "trend": series(&a.trend, 0),
    });
    let mut stages: Vec<String> = a.heatmap.iter().map(|c| c.stage.clone()).collect();
    stages.sort();
    stages.dedup();
    let mut depts: Vec<String> = a.heatmap.iter().map(|c| c.department.clone()).collect();
    depts.sort();
    depts.dedup();
    // Every department of the heatmap is one of `by_department`'s, already labelled.
    let heat = depts
        .iter()
        .map(|d| HeatRow {
            department: label_of(d),
            cells: stages
                .iter()
                .map(|st| {
                    let c = a
                        .heatmap
                        .iter()
                        .find(|c| &c.department == d && &c.stage == st);
                    HeatCellView {
                        text: c
                            .and_then(|c| c.average)
                            .map(|v| i18n::digits(lang, &format!("{v:.0}")))
                            .unwrap_or_else(|| "—".into()),
                        class: heat_class(c.and_then(|c| c.average)),
                        title: c
                            .map(|c| {
                                format!(
                                    "{}: {} · {}: {}",
                                    ui.t("survey.count"),
                                    ui.ctx.num(c.count),
                                    ui.t("survey.negatives"),
                                    ui.ctx.num(c.negative)
                                )
                            })
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    let fmt = |v: Option<f64>| {
        v.map(|x| i18n::digits(lang, &format!("{x:.1}")))
            .unwrap_or_else(|| "—".into())
    };
    let cards = vec![
        Card {
            label: "survey.completed",
            value: ui.ctx.num(a.completed),
            icon: "check2-circle",
        },
        Card {
            label: "survey.average",
            value: fmt(a.average),
            icon: "emoji-smile",
        },
        Card {
            label: "survey.negatives",
            value: ui.ctx.num(a.negative),
            icon: "emoji-frown",
        },
        Card {
            label: "survey.nps",
            value: fmt(a.nps),
            icon: "megaphone",
        },
    ];
    let journey_types = JOURNEY_TYPES
        .iter()
        .map(|j| {
            (
                j.to_string(),
                i18n::t(lang, &format!("choice.{j}")).to_string(),
                *j == f.journey_type,
            )
        })
        .collect();
    let t = ui.t("nav.survey_analytics");
    render(&AnalyticsPage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        cards,
        charts: charts.to_string(),
        stages,
        heat,
        hospital: f.hospital,
        journey_types,
        days: days.to_string(),
    })
}

// ------------------------------------------------------------------------------------- look-ups

pub struct TemplateRefs;

#[async_trait]
impl RefSource for TemplateRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(template::Entity::find()
            .filter(template::Column::Id.is_in(ids.iter().copied()))
            .all(&s.db)
            .await?
            .into_iter()
            .map(|t| {
                let n = if lang == Lang::Ar && !t.name_ar.is_empty() {
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
        within: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let query = {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.append_pair("search", q);
            ser.append_pair("page_size", "20");
            for (k, v) in within {
                if k == "hospital" && !v.is_empty() {
                    ser.append_pair("hospital", v);
                }
            }
            ser.finish()
        };
        let lq = ListQuery::parse("/surveys/templates/", &query)?;
        Ok(service::templates::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|t| {
                let n = if lang == Lang::Ar && !t.name_ar.is_empty() {
                    t.name_ar
                } else {
                    t.name_en
                };
                (t.id, format!("{n} (v{})", t.version))
            })
            .collect())
    }
}

/// Registers the surveys resources and look-ups.
pub fn register(reg: &mut Registry) {
    reg.resource(templates());
    reg.resource(questions());
    reg.resource(instances_def());
    reg.reference("survey_template", Arc::new(TemplateRefs));
}

/// The sidebar group.
pub fn nav() -> NavGroup {
    let item = |label, href, icon, count| NavItem {
        label,
        href,
        icon,
        resource: Resource::Surveys,
        op: Operation::View,
        count,
    };
    NavGroup {
        label: "nav.group.surveys",
        items: vec![
            item(
                "nav.survey_templates",
                "/surveys/templates/",
                "ui-checks",
                Some("surveys/templates"),
            ),
            item(
                "nav.survey_questions",
                "/surveys/questions/",
                "list-ol",
                None,
            ),
            item(
                "nav.survey_instances",
                "/surveys/instances/",
                "envelope-paper",
                Some("surveys/instances"),
            ),
            item(
                "nav.survey_analytics",
                "/surveys/analytics/",
                "bar-chart-line",
                None,
            ),
        ],
    }
}

/// Console pages that are not plain resource routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/surveys/instances/{id}/", get(instance_detail))
        .route("/surveys/instances/{id}/resend/", post(instance_resend))
        .route("/surveys/analytics/", get(analytics_page))
}

// -------------------------------------------------------------------------------------- public form

/// One question as the form shows it in the chosen language.
pub struct FormQuestion {
    pub id: String,
    pub number: String,
    pub qtype: String,
    pub text: String,
    pub required: bool,
    /// The condition as JSON (`data-branch`), empty when always shown.
    pub branch: String,
    /// (value, label) of the options: choices, the 0–10 scale, 1–5, yes/no.
    pub options: Vec<(String, String)>,
    pub low: &'static str,
    pub high: &'static str,
}

#[derive(Template)]
#[template(path = "surveys/public.html")]
struct PublicPage {
    lang: Lang,
    /// `form`, `answered`, `expired` or `invalid`.
    state: &'static str,
    title: String,
    hospital: String,
    questions: Vec<FormQuestion>,
    submit_url: String,
    other_href: String,
    messages: String,
}

impl PublicPage {
    fn t(&self, key: &str) -> &'static str {
        i18n::t_static(self.lang, key)
    }
    fn asset(&self, path: &str) -> String {
        assets::url(path)
    }
    fn bootstrap_css(&self) -> String {
        match self.lang {
            Lang::Ar => assets::url("vendor/bootstrap/bootstrap.rtl.min.css"),
            Lang::En => assets::url("vendor/bootstrap/bootstrap.min.css"),
        }
    }
}

#[derive(Deserialize, Default)]
struct LangQuery {
    #[serde(default)]
    lang: String,
}

fn form_question(lang: Lang, i: usize, q: &PublicQuestion) -> FormQuestion {
    let pick = |en: &str, ar: &str| -> String {
        if lang == Lang::Ar && !ar.trim().is_empty() {
            ar.to_string()
        } else {
            en.to_string()
        }
    };
    let num = |n: i64| i18n::number(lang, n);
    let t = |k: &str| i18n::t(lang, k).to_string();
    let (options, low, high): (Vec<(String, String)>, &'static str, &'static str) =
        match q.question_type.as_str() {
            "RATING" => (
                (1..=5).map(|n| (n.to_string(), num(n))).collect(),
                "public.rating_low",
                "public.rating_high",
            ),
            "LIKERT" => (
                (1..=5)
                    .map(|n| (n.to_string(), t(&format!("public.likert_{n}"))))
                    .collect(),
                "",
                "",
            ),
            "NPS" => (
                (0..=10).map(|n| (n.to_string(), num(n))).collect(),
                "public.nps_low",
                "public.nps_high",
            ),
            "YES_NO" => (
                vec![
                    ("true".into(), t("common.yes")),
                    ("false".into(), t("common.no")),
                ],
                "",
                "",
            ),
            "SINGLE_CHOICE" | "MULTIPLE_CHOICE" => (
                q.choices
                    .iter()
                    .map(|c| (c.value.clone(), pick(&c.label_en, &c.label_ar)))
                    .collect(),
                "",
                "",
            ),
            _ => (vec![], "", ""),
        };
    FormQuestion {
        id: q.id.to_string(),
        number: num(i as i64 + 1),
        qtype: q.question_type.clone(),
        text: pick(&q.text_en, &q.text_ar),
        required: q.required,
        branch: q
            .branch
            .as_ref()
            .and_then(|b| serde_json::to_string(b).ok())
            .unwrap_or_default(),
        options,
        low,
        high,
    }
}

/// The patient-facing messages the form's script may need, in the page language, keyed by the
/// service's English message (the API answers in English).
fn form_messages(lang: Lang) -> String {
    let keys = [
        "Please answer this question.",
        "Choose a whole number from 1 to 5.",
        "Choose a whole number from 0 to 10.",
        "Answer yes or no.",
        "Choose one of the options offered.",
        "Choose only among the options offered.",
        "This question is not shown for your earlier answers.",
        "This question is not part of the survey.",
        "Keep your comment under 2,000 characters.",
    ];
    let mut m = serde_json::Map::new();
    for k in keys {
        let key = format!("err.{k}");
        if i18n::has(&key) {
            m.insert(k.into(), Value::String(i18n::t(lang, &key).into()));
        }
    }
    m.insert(
        "_check".into(),
        Value::String(i18n::t(lang, "public.check_answers").into()),
    );
    m.insert(
        "_failed".into(),
        Value::String(i18n::t(lang, "public.failed").into()),
    );
    Value::Object(m).to_string()
}

async fn public_form(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Query(lq): Query<LangQuery>,
) -> Response {
    let (lookup, form) = match service::public::page(&s, ip.as_deref(), &token).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let language = match &lookup {
        Lookup::Answered { language } | Lookup::Expired { language } => Some(language.clone()),
        Lookup::Open(m) => Some(m.language.clone()),
        Lookup::Invalid => None,
    };
    let lang = Lang::parse(&lq.lang)
        .or_else(|| language.as_deref().and_then(Lang::parse))
        .unwrap_or(Lang::Ar);
    let (state, status) = match &lookup {
        Lookup::Invalid => ("invalid", StatusCode::NOT_FOUND),
        Lookup::Answered { .. } => ("answered", StatusCode::GONE),
        Lookup::Expired { .. } => ("expired", StatusCode::GONE),
        Lookup::Open(_) => ("form", StatusCode::OK),
    };
    let (title, hospital, questions) = match &form {
        Some(f) => {
            let pick = |en: &str, ar: &str| {
                if lang == Lang::Ar && !ar.is_empty() {
                    ar.to_string()
                } else {
                    en.to_string()
                }
            };
            let mut qs = f.questions.clone();
            qs.sort_by_key(|q| q.order);
            (
                pick(&f.title_en, &f.title_ar),
                pick(&f.hospital_en, &f.hospital_ar),
                qs.iter()
                    .enumerate()
                    .map(|(i, q)| form_question(lang, i, q))
                    .collect(),
            )
        }
        None => (String::new(), String::new(), vec![]),
    };
    let page = PublicPage {
        lang,
        state,
        title,
        hospital,
        questions,
        submit_url: format!("/api/surveys/public/{token}/submit/"),
        other_href: format!("/s/{token}?lang={}", lang.other().code()),
        messages: form_messages(lang),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

/// `/s/{token}`: the patient's form. No session or cookie; the same CSP as the console.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(public_form))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}
