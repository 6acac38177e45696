//! Console pages of organizations: hospitals (with the System Configuration settings page),
//! departments (list and tree), physicians, employees and patients, declared once each through the
//! resource pattern; plus foreign-key labels and look-ups for the rest of the console.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Form, Router};
use chrono_tz::Tz;
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::model::{ACTION_TRIGGERS, CATEGORIES, CHANNELS, GENDERS, LANGUAGES, WEEKDAYS};
use super::service::{self, Mode};
use super::wire::{
    DepartmentIn, EmployeeIn, HospitalIn, HospitalSettingsIn, PatientIn, PhysicianIn,
};
use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::i18n::Lang;
use crate::platform::import::ImportReport;
use crate::platform::pagination::ListQuery;
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;
use crate::platform::ui::crud::{FieldView, field_views, parse_id, render, see_other};
use crate::platform::ui::ctx::{Ctx, Ui, UiResult};
use crate::platform::ui::imports::Importer;
use crate::platform::ui::present::{self, FormValues};
use crate::platform::ui::registry::{RefSource, Registry};
use crate::platform::ui::resource::{
    Caps, Col, Field, FilterDef, Input, Kind, Label, Link, ResourceDef, from_body,
};

crate::service_ops!(HospitalOps, service::hospitals, HospitalIn, Mode::Patch);
crate::service_ops!(
    DepartmentOps,
    service::departments,
    DepartmentIn,
    Mode::Patch
);
crate::service_ops!(PhysicianOps, service::physicians, PhysicianIn, Mode::Patch);
crate::service_ops!(EmployeeOps, service::employees, EmployeeIn, Mode::Patch);
crate::service_ops!(PatientOps, service::patients, PatientIn, Mode::Patch);

fn bilingual_name_fields() -> [Field; 4] {
    [
        Field::new(
            "first_name_en",
            "person.first_name_en",
            Input::Text { max: 100 },
        )
        .required(),
        Field::new(
            "last_name_en",
            "person.last_name_en",
            Input::Text { max: 100 },
        )
        .required(),
        Field::new(
            "first_name_ar",
            "person.first_name_ar",
            Input::Text { max: 100 },
        )
        .required(),
        Field::new(
            "last_name_ar",
            "person.last_name_ar",
            Input::Text { max: 100 },
        )
        .required(),
    ]
}

fn name_cols() -> [Col; 2] {
    [
        Col::new("first_name", "person.first_name", Kind::Bilingual),
        Col::new("last_name", "person.last_name", Kind::Bilingual).sort("last_name_en"),
    ]
}

fn stamps() -> [Col; 2] {
    [
        Col::new("created_at", "common.created_at", Kind::DateTime),
        Col::new("updated_at", "common.updated_at", Kind::DateTime),
    ]
}

fn hospitals() -> ResourceDef {
    let mut detail = vec![
        Col::new("code", "org.code", Kind::Code),
        Col::new("name", "common.name", Kind::Bilingual),
        Col::new("name_en", "common.name_en", Kind::Text),
        Col::new("name_ar", "common.name_ar", Kind::Text),
        Col::new("city", "org.city", Kind::Text),
        Col::new("active", "common.active", Kind::Bool),
    ];
    detail.extend(stamps());
    ResourceDef {
        module: "organizations",
        slug: "hospitals",
        resource: Resource::Hospitals,
        title: "nav.hospitals",
        singular: "org.hospital",
        icon: "hospital",
        columns: vec![
            Col::new("code", "org.code", Kind::Code).sort("code"),
            Col::new("name", "common.name", Kind::Bilingual).sort("name_en"),
            Col::new("city", "org.city", Kind::Text),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("created_at", "common.created_at", Kind::DateTime)
                .sort("created_at")
                .optional(),
        ],
        filters: vec![FilterDef::new("active", "common.active", Input::Checkbox)],
        fields: vec![
            Field::new("code", "org.code", Input::Text { max: 20 }).required(),
            Field::new("name_en", "common.name_en", Input::Text { max: 200 }).required(),
            Field::new("name_ar", "common.name_ar", Input::Text { max: 200 }).required(),
            Field::new("city", "org.city", Input::Text { max: 100 }),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail,
        label: Label::Bilingual("name"),
        caps: Caps::ALL,
        links: vec![
            Link {
                label: "settings.title",
                icon: "sliders",
                href: "/organizations/hospitals/{id}/settings/",
                resource: Resource::HospitalSettings,
                op: Operation::View,
            },
            Link {
                label: "nav.departments",
                icon: "diagram-3",
                href: "/organizations/departments/?hospital={id}",
                resource: Resource::Departments,
                op: Operation::View,
            },
        ],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(HospitalOps),
    }
}

fn departments() -> ResourceDef {
    let mut detail = vec![
        Col::new("code", "org.code", Kind::Code),
        Col::new("name_en", "common.name_en", Kind::Text),
        Col::new("name_ar", "common.name_ar", Kind::Text),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("parent", "org.parent", Kind::Ref("department")),
        Col::new("category", "org.category", Kind::Choice),
        Col::new("active", "common.active", Kind::Bool),
    ];
    detail.extend(stamps());
    ResourceDef {
        module: "organizations",
        slug: "departments",
        resource: Resource::Departments,
        title: "nav.departments",
        singular: "org.department",
        icon: "diagram-3",
        columns: vec![
            Col::new("name", "common.name", Kind::Bilingual).sort("name_en"),
            Col::new("code", "org.code", Kind::Code).sort("code"),
            Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
            Col::new("parent", "org.parent", Kind::Ref("department")),
            Col::new("category", "org.category", Kind::Choice),
            Col::new("active", "common.active", Kind::Bool),
            Col::new("created_at", "common.created_at", Kind::DateTime)
                .sort("created_at")
                .optional(),
        ],
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("parent", "org.parent", Input::Ref("department")),
            FilterDef::new("category", "org.category", Input::Select(CATEGORIES)),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields: vec![
            Field::new("hospital", "org.hospital", Input::Ref("hospital"))
                .required()
                .create_only(),
            Field::new("parent", "org.parent", Input::Ref("department")).within("hospital"),
            Field::new("code", "org.code", Input::Text { max: 20 }).required(),
            Field::new("name_en", "common.name_en", Input::Text { max: 200 }).required(),
            Field::new("name_ar", "common.name_ar", Input::Text { max: 200 }).required(),
            Field::new("category", "org.category", Input::Select(CATEGORIES)).required(),
            Field::new("active", "common.active", Input::Checkbox),
        ],
        detail,
        label: Label::Bilingual("name"),
        caps: Caps {
            import: true,
            ..Caps::ALL
        },
        links: vec![Link {
            label: "org.tree",
            icon: "diagram-3",
            href: "/organizations/departments/tree/",
            resource: Resource::Departments,
            op: Operation::View,
        }],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: Some(Arc::new(DepartmentImport)),
        ops: Arc::new(DepartmentOps),
    }
}

fn physicians() -> ResourceDef {
    let mut detail = vec![Col::new("license_number", "org.license", Kind::Code)];
    detail.extend(name_cols());
    detail.extend([
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("department", "org.department", Kind::Ref("department")),
        Col::new("specialty", "org.specialty", Kind::Text),
        Col::new("phone", "common.phone", Kind::Text),
        Col::new("email", "common.email", Kind::Text),
        Col::new("user", "org.user_account", Kind::Ref("user")),
        Col::new("active", "common.active", Kind::Bool),
    ]);
    detail.extend(stamps());
    let mut columns =
        vec![Col::new("license_number", "org.license", Kind::Code).sort("license_number")];
    columns.extend(name_cols());
    columns.extend([
        Col::new("specialty", "org.specialty", Kind::Text),
        Col::new("department", "org.department", Kind::Ref("department")),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
        Col::new("active", "common.active", Kind::Bool),
    ]);
    let mut fields = vec![
        Field::new("hospital", "org.hospital", Input::Ref("hospital")).required(),
        Field::new("department", "org.department", Input::Ref("department")).within("hospital"),
        Field::new("license_number", "org.license", Input::Text { max: 50 }).required(),
    ];
    fields.extend(bilingual_name_fields());
    fields.extend([
        Field::new("specialty", "org.specialty", Input::Text { max: 100 }),
        Field::new("phone", "common.phone", Input::Phone).help("common.phone_help"),
        Field::new("email", "common.email", Input::Email),
        Field::new("user", "org.user_account", Input::Ref("user")),
        Field::new("active", "common.active", Input::Checkbox),
    ]);
    ResourceDef {
        module: "organizations",
        slug: "physicians",
        resource: Resource::Physicians,
        title: "nav.physicians",
        singular: "org.physician",
        icon: "person-badge",
        columns,
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("department", "org.department", Input::Ref("department")),
            FilterDef::new("active", "common.active", Input::Checkbox),
        ],
        fields,
        detail,
        label: Label::Name("first_name", "last_name"),
        caps: Caps {
            import: true,
            ..Caps::ALL
        },
        links: vec![],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: Some(Arc::new(PhysicianImport)),
        ops: Arc::new(PhysicianOps),
    }
}

fn employees() -> ResourceDef {
    let mut detail = vec![Col::new(
        "employee_number",
        "org.employee_number",
        Kind::Code,
    )];
    detail.extend(name_cols());
    detail.extend([
        Col::new("job_title", "org.job_title", Kind::Text),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("department", "org.department", Kind::Ref("department")),
        Col::new("reports_to", "org.reports_to", Kind::Ref("employee")),
        Col::new("user", "org.user_account", Kind::Ref("user")),
    ]);
    detail.extend(stamps());
    let mut columns = vec![
        Col::new("employee_number", "org.employee_number", Kind::Code).sort("employee_number"),
    ];
    columns.extend(name_cols());
    columns.extend([
        Col::new("job_title", "org.job_title", Kind::Text),
        Col::new("department", "org.department", Kind::Ref("department")),
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")).optional(),
    ]);
    let mut fields = vec![
        Field::new("hospital", "org.hospital", Input::Ref("hospital")).required(),
        Field::new("department", "org.department", Input::Ref("department")).within("hospital"),
        Field::new(
            "employee_number",
            "org.employee_number",
            Input::Text { max: 50 },
        )
        .required(),
    ];
    fields.extend(bilingual_name_fields());
    fields.extend([
        Field::new("job_title", "org.job_title", Input::Text { max: 100 }),
        Field::new("reports_to", "org.reports_to", Input::Ref("employee")).within("hospital"),
        Field::new("user", "org.user_account", Input::Ref("user")),
    ]);
    ResourceDef {
        module: "organizations",
        slug: "employees",
        resource: Resource::Employees,
        title: "nav.employees",
        singular: "org.employee",
        icon: "person-vcard",
        columns,
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("department", "org.department", Input::Ref("department")),
        ],
        fields,
        detail,
        label: Label::Name("first_name", "last_name"),
        caps: Caps::ALL,
        links: vec![],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: None,
        ops: Arc::new(EmployeeOps),
    }
}

fn patients() -> ResourceDef {
    let mut detail = vec![Col::new("mrn", "org.mrn", Kind::Code)];
    detail.extend(name_cols());
    detail.extend([
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("gender", "org.gender", Kind::Choice),
        Col::new("date_of_birth", "org.date_of_birth", Kind::Date),
        Col::new("phone", "common.phone", Kind::Text),
        Col::new("email", "common.email", Kind::Text),
        Col::new("preferred_language", "org.preferred_language", Kind::Code),
        Col::new("national_id", "org.national_id", Kind::Code),
        Col::new("opt_out", "org.opt_out", Kind::Bool),
    ]);
    detail.extend(stamps());
    let mut columns = vec![Col::new("mrn", "org.mrn", Kind::Code).sort("mrn")];
    columns.extend(name_cols());
    columns.extend([
        Col::new("hospital", "org.hospital", Kind::Ref("hospital")),
        Col::new("gender", "org.gender", Kind::Choice),
        Col::new("phone", "common.phone", Kind::Text).optional(),
        Col::new("date_of_birth", "org.date_of_birth", Kind::Date).optional(),
        Col::new("opt_out", "org.opt_out", Kind::Bool).optional(),
        Col::new("created_at", "common.created_at", Kind::DateTime).sort("created_at"),
    ]);
    let mut fields = vec![
        Field::new("hospital", "org.hospital", Input::Ref("hospital")).required(),
        Field::new("mrn", "org.mrn", Input::Text { max: 50 }).required(),
    ];
    fields.extend(bilingual_name_fields());
    fields.extend([
        Field::new("gender", "org.gender", Input::Select(GENDERS)),
        Field::new("date_of_birth", "org.date_of_birth", Input::Date),
        Field::new("phone", "common.phone", Input::Phone).help("common.phone_help"),
        Field::new("email", "common.email", Input::Email),
        Field::new(
            "preferred_language",
            "org.preferred_language",
            Input::Select(LANGUAGES),
        ),
        Field::new("national_id", "org.national_id", Input::Text { max: 10 })
            .help("org.national_id_help"),
        Field::new("opt_out", "org.opt_out", Input::Checkbox),
    ]);
    // The national ID is write-only on edit forms: a blank field keeps the stored value.
    if let Some(f) = fields.iter_mut().find(|f| f.key == "national_id") {
        f.nullable = false;
    }
    ResourceDef {
        module: "organizations",
        slug: "patients",
        resource: Resource::Patients,
        title: "nav.patients",
        singular: "org.patient",
        icon: "person-heart",
        columns,
        filters: vec![
            FilterDef::new("hospital", "org.hospital", Input::Ref("hospital")),
            FilterDef::new("gender", "org.gender", Input::Select(GENDERS)),
            FilterDef::new("opt_out", "org.opt_out", Input::Checkbox),
            FilterDef::new("mrn", "org.mrn", Input::Text { max: 50 }),
        ],
        fields,
        detail,
        label: Label::Name("first_name", "last_name"),
        caps: Caps {
            import: true,
            ..Caps::ALL
        },
        links: vec![],
        searchable: true,
        own_detail: false,
        own_create: false,
        importer: Some(Arc::new(PatientImport)),
        ops: Arc::new(PatientOps),
    }
}

// -------------------------------------------------------------------------------------------- imports

macro_rules! importer {
    ($name:ident, $svc:ident) => {
        pub struct $name;

        #[async_trait]
        impl Importer for $name {
            async fn run(
                &self,
                s: &AppState,
                p: &Principal,
                rows: Vec<(usize, Value)>,
                commit: bool,
            ) -> AppResult<ImportReport> {
                service::import::run(s, p, rows, commit, service::$svc::create_in).await
            }
        }
    };
}

importer!(DepartmentImport, departments);
importer!(PhysicianImport, physicians);
importer!(PatientImport, patients);

// --------------------------------------------------------------------------------- hospital settings

const ROLE_CHAIN: &[&str] = &[
    "DEPARTMENT_MANAGER",
    "HOSPITAL_ADMIN",
    "PX_COORDINATOR",
    "PX_ADMIN",
];

fn settings_fields() -> Vec<Field> {
    vec![
        Field::new(
            "negative_threshold",
            "settings.negative_threshold",
            Input::Number { min: 0, max: 100 },
        )
        .required()
        .help("settings.negative_threshold_help"),
        Field::new(
            "survey_link_validity_days",
            "settings.link_validity",
            Input::Number { min: 1, max: 365 },
        )
        .required(),
        Field::new(
            "reminder_after_days",
            "settings.reminder_after",
            Input::Number { min: 0, max: 30 },
        )
        .required()
        .help("settings.reminder_help"),
        Field::new("quiet_hours_start", "settings.quiet_start", Input::Time).required(),
        Field::new("quiet_hours_end", "settings.quiet_end", Input::Time).required(),
        Field::new(
            "default_channel",
            "settings.default_channel",
            Input::Select(CHANNELS),
        )
        .required(),
        Field::new(
            "enabled_channels",
            "settings.enabled_channels",
            Input::Multi(CHANNELS),
        ),
        Field::new(
            "evidence_required",
            "settings.evidence_required",
            Input::Checkbox,
        ),
        Field::new(
            "action_triggers",
            "settings.action_triggers",
            Input::Multi(ACTION_TRIGGERS),
        ),
        Field::new(
            "call_rating_threshold",
            "settings.call_threshold",
            Input::Number { min: 1, max: 5 },
        )
        .required(),
        Field::new(
            "escalation_chain",
            "settings.escalation_chain",
            Input::Multi(ROLE_CHAIN),
        )
        .help("settings.escalation_help"),
        Field::new(
            "working_days",
            "settings.working_days",
            Input::Multi(WEEKDAYS),
        ),
        Field::new("work_start", "settings.work_start", Input::Time).required(),
        Field::new("work_end", "settings.work_end", Input::Time).required(),
        Field::new("timezone", "settings.timezone", Input::Text { max: 64 }).required(),
        Field::new("holidays", "settings.holidays", Input::TextArea).help("settings.holidays_help"),
    ]
}

#[derive(Template)]
#[template(path = "organizations/settings.html")]
struct SettingsPage {
    ctx: Ctx,
    hospital: String,
    hospital_href: String,
    fields: Vec<FieldView>,
    general: Vec<String>,
    can_edit: bool,
}

fn settings_values(v: &Value) -> FormValues {
    let mut values = present::values_from_object(&settings_fields(), v);
    // The trigger map shows as the list of triggers switched on; holidays one per line.
    let on: Vec<String> = v
        .get("action_triggers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, on)| on.as_bool() == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    values.insert("action_triggers".into(), on);
    let holidays = values
        .get("holidays")
        .cloned()
        .unwrap_or_default()
        .join("\n");
    values.insert("holidays".into(), vec![holidays]);
    values
}

fn settings_body(values: &FormValues) -> (Value, FieldErrors) {
    let (mut body, errors) = present::body_from_form(&settings_fields(), values, false);
    if let Some(obj) = body.as_object_mut() {
        let on: Vec<String> = values.get("action_triggers").cloned().unwrap_or_default();
        let map: Map<String, Value> = ACTION_TRIGGERS
            .iter()
            .map(|t| ((*t).to_string(), Value::Bool(on.iter().any(|o| o == t))))
            .collect();
        obj.insert("action_triggers".into(), Value::Object(map));
        let holidays: Vec<Value> = values
            .get("holidays")
            .and_then(|v| v.first())
            .map(|s| {
                s.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        obj.insert("holidays".into(), Value::Array(holidays));
    }
    (body, errors)
}

async fn settings_page(
    s: &AppState,
    ui: &Ui,
    id: Uuid,
    values: Option<FormValues>,
    errors: &FieldErrors,
) -> UiResult {
    let hospital = service::hospitals::get(s, &ui.p, id).await?;
    let settings = service::hospitals::get_settings(s, &ui.p, id).await?;
    let values = values
        .unwrap_or_else(|| settings_values(&serde_json::to_value(&settings).unwrap_or_default()));
    let (fields, general) =
        field_views(s, &ui.ctx, &settings_fields(), &values, errors, false).await;
    let name = ui
        .ctx
        .pick(&hospital.name_en, &hospital.name_ar)
        .to_string();
    let href = format!("/organizations/hospitals/{id}/");
    let t = ui.t("settings.title");
    let page = SettingsPage {
        ctx: ui
            .ctx
            .clone()
            .crumb(
                ui.t("nav.hospitals"),
                Some("/organizations/hospitals/".into()),
            )
            .crumb(name.clone(), Some(href.clone()))
            .crumb(t, None)
            .titled(format!("{t} · {name}")),
        hospital: name,
        hospital_href: href,
        fields,
        general,
        can_edit: ui.p.can(Resource::HospitalSettings, Operation::Configure)
            || ui.p.can(Resource::HospitalSettings, Operation::Edit),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Html(page.render()?)).into_response())
}

async fn settings_form(ui: Ui, State(s): State<AppState>, Path(id): Path<String>) -> UiResult {
    let id = parse_id(&id)?;
    settings_page(&s, &ui, id, None, &FieldErrors::new()).await
}

async fn settings_save(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let id = parse_id(&id)?;
    let values = present::values_from_form(&form);
    let (body, local) = settings_body(&values);
    if !local.is_empty() {
        return settings_page(&s, &ui, id, Some(values), &local).await;
    }
    let input: HospitalSettingsIn = from_body(body)?;
    match service::hospitals::update_settings(&s, &ui.p, id, input).await {
        Ok(_) => {
            ui.flash("success", ui.t("settings.saved")).await;
            Ok(see_other(&format!(
                "/organizations/hospitals/{id}/settings/"
            )))
        }
        Err(AppError::Validation(e)) => settings_page(&s, &ui, id, Some(values), &e).await,
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------ system configuration

pub struct ConfigHospital {
    pub name: String,
    pub code: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "organizations/config.html")]
struct ConfigPage {
    ctx: Ctx,
    hospitals: Vec<ConfigHospital>,
}

/// `GET /config/`: the System Configuration console's first page: each hospital's settings.
async fn config_home(ui: Ui, State(s): State<AppState>) -> UiResult {
    ui.p.require(Resource::HospitalSettings, Operation::View)?;
    let q = ListQuery::parse("/config/", "page_size=200&ordering=code")?;
    let hospitals = service::hospitals::list(&s, &ui.p, &q)
        .await?
        .results
        .into_iter()
        .map(|h| ConfigHospital {
            name: ui.ctx.pick(&h.name_en, &h.name_ar).to_string(),
            code: h.code,
            href: format!("/organizations/hospitals/{}/settings/", h.id),
        })
        .collect();
    let t = ui.t("config.title");
    render(&ConfigPage {
        ctx: ui.ctx.clone().crumb(t, None).titled(t),
        hospitals,
    })
}

// ------------------------------------------------------------------------------------ department tree

pub struct TreeNode {
    pub name: String,
    pub code: String,
    pub href: String,
    pub active: bool,
    pub depth: usize,
}

pub struct TreeHospital {
    pub name: String,
    pub nodes: Vec<TreeNode>,
}

#[derive(Template)]
#[template(path = "organizations/tree.html")]
struct TreePage {
    ctx: Ctx,
    hospitals: Vec<TreeHospital>,
}

async fn department_tree(ui: Ui, State(s): State<AppState>) -> UiResult {
    ui.p.require(Resource::Departments, Operation::View)?;
    let mut all = vec![];
    let mut page = 1;
    // Every department the user can see, in path order (parents before children).
    loop {
        let q = ListQuery::parse(
            "/organizations/departments/",
            &format!("ordering=path&page_size=200&page={page}"),
        )?;
        let p = service::departments::list(&s, &ui.p, &q).await?;
        let more = p.next.is_some();
        all.extend(p.results);
        if !more {
            break;
        }
        page += 1;
    }
    let hospital_ids: Vec<Uuid> = all.iter().map(|d| d.hospital).fold(vec![], |mut v, h| {
        if !v.contains(&h) {
            v.push(h);
        }
        v
    });
    let names = HospitalRefs.labels(&s, &hospital_ids, ui.lang()).await?;
    let hospitals = hospital_ids
        .iter()
        .map(|h| TreeHospital {
            name: names.get(h).cloned().unwrap_or_default(),
            nodes: all
                .iter()
                .filter(|d| d.hospital == *h)
                .map(|d| TreeNode {
                    name: ui.ctx.pick(&d.name_en, &d.name_ar).to_string(),
                    code: d.code.clone(),
                    href: format!("/organizations/departments/{}/", d.id),
                    active: d.active,
                    depth: d
                        .path
                        .trim_matches('/')
                        .split('/')
                        .count()
                        .saturating_sub(1),
                })
                .collect(),
        })
        .collect();
    let t = ui.t("org.tree");
    render(&TreePage {
        ctx: ui
            .ctx
            .clone()
            .crumb(
                ui.t("nav.departments"),
                Some("/organizations/departments/".into()),
            )
            .crumb(t, None)
            .titled(t),
        hospitals,
    })
}

// ---------------------------------------------------------------------------------- labels, look-ups

async fn labels_by_sql(
    s: &AppState,
    table: &str,
    code_col: &str,
    name_cols: (&str, &str),
    ids: &[Uuid],
    lang: Lang,
) -> AppResult<HashMap<Uuid, String>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, {code_col}, {}, {} FROM {table} WHERE id IN ({})",
        name_cols.0,
        name_cols.1,
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
        let code: String = r.try_get_by_index(1)?;
        let en: String = r.try_get_by_index(2)?;
        let ar: String = r.try_get_by_index(3)?;
        let name = match lang {
            Lang::Ar if !ar.trim().is_empty() => ar,
            _ if !en.trim().is_empty() => en,
            _ => code.clone(),
        };
        out.insert(id, name);
    }
    Ok(out)
}

fn search_query(
    base: &str,
    q: &str,
    within: &[(String, String)],
    allowed: &[&str],
) -> AppResult<ListQuery> {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if !q.trim().is_empty() {
        ser.append_pair("search", q.trim());
    }
    for (k, v) in within {
        if allowed.contains(&k.as_str()) {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair("page_size", "20");
    ListQuery::parse(base, &ser.finish())
}

pub struct HospitalRefs;

#[async_trait]
impl RefSource for HospitalRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        labels_by_sql(s, "hospitals", "code", ("name_en", "name_ar"), ids, lang).await
    }
    async fn by_code(
        &self,
        s: &AppState,
        p: &Principal,
        code: &str,
        _within: &str,
    ) -> AppResult<Option<Uuid>> {
        let lq = search_query("/organizations/hospitals/", code, &[], &[])?;
        Ok(service::hospitals::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .find(|h| h.code.eq_ignore_ascii_case(code))
            .map(|h| h.id))
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        _w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let lq = search_query("/organizations/hospitals/", q, &[], &[])?;
        Ok(service::hospitals::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|h| {
                let n = if lang == Lang::Ar {
                    h.name_ar
                } else {
                    h.name_en
                };
                (h.id, format!("{n} ({})", h.code))
            })
            .collect())
    }
}

pub struct DepartmentRefs;

#[async_trait]
impl RefSource for DepartmentRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        labels_by_sql(s, "departments", "code", ("name_en", "name_ar"), ids, lang).await
    }
    async fn by_code(
        &self,
        s: &AppState,
        p: &Principal,
        code: &str,
        within: &str,
    ) -> AppResult<Option<Uuid>> {
        let within = [("hospital".to_string(), within.to_string())];
        let within = if within[0].1.is_empty() {
            &within[..0]
        } else {
            &within[..]
        };
        let lq = search_query("/organizations/departments/", code, within, &["hospital"])?;
        Ok(service::departments::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .find(|d| d.code.eq_ignore_ascii_case(code))
            .map(|d| d.id))
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let lq = search_query("/organizations/departments/", q, w, &["hospital"])?;
        Ok(service::departments::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|d| {
                let n = if lang == Lang::Ar {
                    d.name_ar
                } else {
                    d.name_en
                };
                (d.id, format!("{n} ({})", d.code))
            })
            .collect())
    }
}

fn person(lang: Lang, en: (&str, &str), ar: (&str, &str)) -> String {
    match lang {
        Lang::Ar => format!("{} {}", ar.0, ar.1),
        Lang::En => format!("{} {}", en.0, en.1),
    }
}

async fn person_labels(
    s: &AppState,
    table: &str,
    ids: &[Uuid],
    lang: Lang,
) -> AppResult<HashMap<Uuid, String>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, first_name_en, last_name_en, first_name_ar, last_name_ar FROM {table} WHERE id IN ({})",
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
        let f: [String; 4] = [
            r.try_get_by_index(1)?,
            r.try_get_by_index(2)?,
            r.try_get_by_index(3)?,
            r.try_get_by_index(4)?,
        ];
        out.insert(id, person(lang, (&f[0], &f[1]), (&f[2], &f[3])));
    }
    Ok(out)
}

pub struct PhysicianRefs;

#[async_trait]
impl RefSource for PhysicianRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        person_labels(s, "physicians", ids, lang).await
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let lq = search_query(
            "/organizations/physicians/",
            q,
            w,
            &["hospital", "department"],
        )?;
        Ok(service::physicians::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|d| {
                let n = person(
                    lang,
                    (&d.first_name_en, &d.last_name_en),
                    (&d.first_name_ar, &d.last_name_ar),
                );
                (d.id, format!("{n} ({})", d.license_number))
            })
            .collect())
    }
}

pub struct EmployeeRefs;

#[async_trait]
impl RefSource for EmployeeRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        person_labels(s, "employees", ids, lang).await
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let lq = search_query(
            "/organizations/employees/",
            q,
            w,
            &["hospital", "department"],
        )?;
        Ok(service::employees::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|d| {
                let n = person(
                    lang,
                    (&d.first_name_en, &d.last_name_en),
                    (&d.first_name_ar, &d.last_name_ar),
                );
                (d.id, format!("{n} ({})", d.employee_number))
            })
            .collect())
    }
}

pub struct PatientRefs;

#[async_trait]
impl RefSource for PatientRefs {
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>> {
        person_labels(s, "patients", ids, lang).await
    }
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        w: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>> {
        let lq = search_query("/organizations/patients/", q, w, &["hospital"])?;
        Ok(service::patients::list(s, p, &lq)
            .await?
            .results
            .into_iter()
            .map(|d| {
                let n = person(
                    lang,
                    (&d.first_name_en, &d.last_name_en),
                    (&d.first_name_ar, &d.last_name_ar),
                );
                (d.id, format!("{n} ({})", d.mrn))
            })
            .collect())
    }
}

/// The zone a user's pages are shown in: the first hospital they hold a role in, else Riyadh.
pub async fn timezone_for(s: &AppState, p: &Principal) -> Tz {
    let Some(h) = p.grants.iter().find_map(|g| g.hospital) else {
        return chrono_tz::Asia::Riyadh;
    };
    match super::hospital_settings(&s.db, h).await {
        Ok(settings) => settings.timezone.parse().unwrap_or(chrono_tz::Asia::Riyadh),
        Err(_) => chrono_tz::Asia::Riyadh,
    }
}

/// Registers the organizations resources and look-ups.
pub fn register(reg: &mut Registry) {
    reg.resource(hospitals());
    reg.resource(departments());
    reg.resource(physicians());
    reg.resource(employees());
    reg.resource(patients());
    reg.reference("hospital", Arc::new(HospitalRefs));
    reg.reference("department", Arc::new(DepartmentRefs));
    reg.reference("physician", Arc::new(PhysicianRefs));
    reg.reference("employee", Arc::new(EmployeeRefs));
    reg.reference("patient", Arc::new(PatientRefs));
}

/// Pages that are not plain resource routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/hospitals/{id}/settings/",
            get(settings_form).post(settings_save),
        )
        .route("/organizations/departments/tree/", get(department_tree))
        .route("/config/", get(config_home))
}
