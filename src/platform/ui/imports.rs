//! CSV/XLSX import for resources that opt in: upload → every row validated by the module's own
//! create rule inside one transaction that is rolled back (the preview, with per-row errors and
//! nothing written) → confirm → the same run again, committed as one transaction. The uploaded file
//! waits between the two steps in the data directory under a random name known only to the
//! uploader's session.

use std::collections::HashMap;
use std::path::PathBuf;

use askama::Template;
use async_trait::async_trait;
use axum::Form;
use axum::extract::Multipart;
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::crud::{render, see_other, translate_errors};
use super::ctx::{Ctx, Ui, UiResult};
use super::resource::{Input, ResourceDef};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::import::{self, ImportReport, Sheet};
use crate::platform::rbac::{Operation, Principal};
use crate::platform::state::AppState;

/// Rows one file may hold.
pub const MAX_ROWS: usize = 20_000;
/// Row errors shown in the preview (the rest are counted).
const SHOWN_ERRORS: usize = 200;

/// Runs rows through a module's create rule in one transaction.
#[async_trait]
pub trait Importer: Send + Sync {
    async fn run(
        &self,
        s: &AppState,
        p: &Principal,
        rows: Vec<(usize, Value)>,
        commit: bool,
    ) -> AppResult<ImportReport>;
}

#[derive(Serialize, Deserialize)]
struct Pending {
    path: PathBuf,
    filename: String,
    view: String,
}

pub struct RowErrorView {
    pub line: String,
    pub messages: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/import.html")]
pub struct ImportPage {
    pub ctx: Ctx,
    pub title: &'static str,
    pub base: String,
    pub columns: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "ui/_import_result.html")]
pub struct ImportResult {
    pub ctx: Ctx,
    pub base: String,
    pub filename: String,
    pub total: String,
    pub ok: bool,
    pub error_count: String,
    pub errors: Vec<RowErrorView>,
    pub more_errors: bool,
    pub unknown_columns: Vec<String>,
    pub token: String,
    pub file_error: Option<String>,
}

fn columns(d: &ResourceDef) -> Vec<(&'static str, &'static str, bool)> {
    d.fields
        .iter()
        .map(|f| (f.key, f.label, f.required))
        .collect()
}

/// `GET <base>import/`
pub async fn form(s: &AppState, d: &ResourceDef, ui: Ui) -> UiResult {
    let _ = s;
    ui.p.require(d.resource, Operation::Create)?;
    let title = ui.t(d.title);
    let imp = ui.t("import.title");
    render(&ImportPage {
        ctx: ui
            .ctx
            .clone()
            .crumb(title, Some(d.base()))
            .crumb(imp, None)
            .titled(format!("{imp} · {title}")),
        title: d.title,
        base: d.base(),
        columns: columns(d),
    })
}

/// Turns spreadsheet rows into API bodies by the resource's form fields: `yes/true/1` for switches,
/// codes or ids for references (a hospital code, a department code within the row's hospital).
async fn bodies(
    s: &AppState,
    ui: &Ui,
    d: &ResourceDef,
    sheet: &Sheet,
) -> AppResult<Vec<(usize, Value)>> {
    let mut cache: HashMap<(&'static str, String, String), Option<Uuid>> = HashMap::new();
    let mut out = Vec::with_capacity(sheet.rows.len());
    for row in &sheet.rows {
        let mut body = Map::new();
        let mut unresolved = FieldErrors::new();
        // References are resolved in field order, so `hospital` comes before what is `within` it.
        for f in &d.fields {
            if !sheet.headers.iter().any(|h| h == f.key) {
                continue;
            }
            let raw = row.get(f.key).trim().to_string();
            let v = match &f.input {
                Input::Checkbox => Value::Bool(matches!(
                    raw.to_lowercase().as_str(),
                    "1" | "true" | "yes" | "y" | "نعم"
                )),
                Input::Multi(_) => Value::Array(
                    raw.split([',', ';'])
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(|x| Value::String(x.into()))
                        .collect(),
                ),
                _ if raw.is_empty() => {
                    if f.nullable {
                        Value::Null
                    } else {
                        continue;
                    }
                }
                Input::Number { .. } => match raw.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        unresolved.add(f.key, "A valid integer is required.");
                        continue;
                    }
                },
                Input::Ref(src) => {
                    if Uuid::parse_str(&raw).is_ok() {
                        Value::String(raw)
                    } else {
                        let within = f
                            .within
                            .and_then(|w| body.get(w))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let key = (*src, raw.clone(), within.clone());
                        let id = match cache.get(&key) {
                            Some(id) => *id,
                            None => {
                                let id = match s.ui.refs.get(src) {
                                    Some(r) => r.by_code(s, &ui.p, &raw, &within).await?,
                                    None => None,
                                };
                                cache.insert(key, id);
                                id
                            }
                        };
                        match id {
                            Some(id) => Value::String(id.to_string()),
                            None => {
                                unresolved.add(f.key, format!("No {src} with code \"{raw}\"."));
                                continue;
                            }
                        }
                    }
                }
                _ => Value::String(raw),
            };
            body.insert(f.key.to_string(), v);
        }
        if unresolved.is_empty() {
            out.push((row.line, Value::Object(body)));
        } else {
            // An unresolvable reference is reported as-is; the row is still checked for its other
            // fields so the uploader sees everything at once.
            body.insert(
                "__unresolved".into(),
                serde_json::to_value(&unresolved.0).unwrap_or_default(),
            );
            out.push((row.line, Value::Object(body)));
        }
    }
    Ok(out)
}

/// Splits the unresolved-reference messages out of the bodies, merging them into the report.
fn merge_unresolved(rows: &mut [(usize, Value)]) -> Vec<(usize, FieldErrors)> {
    let mut out = vec![];
    for (line, v) in rows.iter_mut() {
        if let Some(obj) = v.as_object_mut()
            && let Some(u) = obj.remove("__unresolved")
        {
            let mut fe = FieldErrors::new();
            if let Some(m) = u.as_object() {
                for (k, msgs) in m {
                    for msg in msgs.as_array().into_iter().flatten() {
                        fe.add(k.clone(), msg.as_str().unwrap_or_default());
                    }
                }
            }
            out.push((*line, fe));
        }
    }
    out
}

async fn evaluate(
    s: &AppState,
    d: &ResourceDef,
    ui: &Ui,
    filename: &str,
    bytes: &[u8],
    commit: bool,
) -> AppResult<(ImportReport, Vec<String>)> {
    let Some(importer) = d.importer.clone() else {
        return Err(AppError::NotFound);
    };
    let sheet = import::read(filename, bytes, MAX_ROWS).map_err(AppError::from)?;
    let known: Vec<&str> = d.fields.iter().map(|f| f.key).collect();
    let unknown: Vec<String> = sheet
        .headers
        .iter()
        .filter(|h| !known.contains(&h.as_str()))
        .cloned()
        .collect();
    let mut rows = bodies(s, ui, d, &sheet).await?;
    let unresolved = merge_unresolved(&mut rows);
    let mut report = importer
        .run(s, &ui.p, rows, commit && unresolved.is_empty())
        .await?;
    if !unresolved.is_empty() {
        report.committed = false;
        for (line, fe) in unresolved {
            match report.errors.iter_mut().find(|(l, _)| *l == line) {
                Some((_, existing)) => {
                    for (k, v) in fe.0 {
                        for m in v {
                            existing.add(k.clone(), m);
                        }
                    }
                }
                None => report.errors.push((line, fe)),
            }
        }
        report.errors.sort_by_key(|(l, _)| *l);
    }
    Ok((report, unknown))
}

fn result_view(
    ui: &Ui,
    d: &ResourceDef,
    filename: &str,
    report: &ImportReport,
    unknown: Vec<String>,
    token: String,
) -> ImportResult {
    let errors = report
        .errors
        .iter()
        .take(SHOWN_ERRORS)
        .map(|(line, fe)| RowErrorView {
            line: ui.ctx.num(*line as i64),
            messages: fe
                .0
                .iter()
                .flat_map(|(k, v)| {
                    let label = d
                        .fields
                        .iter()
                        .find(|f| f.key == k)
                        .map(|f| ui.t(f.label))
                        .unwrap_or(k.as_str())
                        .to_string();
                    translate_errors(ui.lang(), v)
                        .into_iter()
                        .map(move |m| format!("{label}: {m}"))
                })
                .collect(),
        })
        .collect();
    ImportResult {
        ctx: ui.ctx.clone(),
        base: d.base(),
        filename: filename.to_string(),
        total: ui.ctx.num(report.total as i64),
        ok: report.errors.is_empty(),
        error_count: ui.ctx.num(report.errors.len() as i64),
        errors,
        more_errors: report.errors.len() > SHOWN_ERRORS,
        unknown_columns: unknown,
        token,
        file_error: None,
    }
}

fn file_error(ui: &Ui, d: &ResourceDef, msg: String) -> ImportResult {
    ImportResult {
        ctx: ui.ctx.clone(),
        base: d.base(),
        filename: String::new(),
        total: String::new(),
        ok: false,
        error_count: String::new(),
        errors: vec![],
        more_errors: false,
        unknown_columns: vec![],
        token: String::new(),
        file_error: Some(msg),
    }
}

/// `POST <base>import/` (multipart `file`): the preview. Nothing is written.
pub async fn preview(s: &AppState, d: &ResourceDef, ui: Ui, mut mp: Multipart) -> UiResult {
    ui.p.require(d.resource, Operation::Create)?;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::field("file", e.body_text()))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload.csv").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| AppError::field("file", e.body_text()))?;
            file = Some((name, bytes.to_vec()));
        }
    }
    let Some((filename, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let r = file_error(&ui, d, ui.t("import.choose_file").to_string());
        return Ok((axum::http::StatusCode::BAD_REQUEST, Html(r.render()?)).into_response());
    };
    let (report, unknown) = match evaluate(s, d, &ui, &filename, &bytes, false).await {
        Ok(r) => r,
        Err(AppError::Validation(fe)) => {
            let msg =
                fe.0.values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
            let r = file_error(&ui, d, msg);
            return Ok((axum::http::StatusCode::BAD_REQUEST, Html(r.render()?)).into_response());
        }
        Err(e @ (AppError::PayloadTooLarge(_) | AppError::UnsupportedMediaType(_))) => {
            let r = file_error(
                &ui,
                d,
                e.body()["detail"].as_str().unwrap_or("").to_string(),
            );
            return Ok((e.status(), Html(r.render()?)).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let mut token = String::new();
    if report.errors.is_empty() {
        let id = Uuid::new_v4();
        let dir = s.config.data_dir.join("imports");
        std::fs::create_dir_all(&dir).map_err(|e| AppError::Internal(e.into()))?;
        let path = dir.join(id.to_string());
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let pending = Pending {
            path,
            filename: filename.clone(),
            view: d.key(),
        };
        ui.session
            .insert(&format!("import.{id}"), pending)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
        token = id.to_string();
    }
    let status = if report.errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let r = result_view(&ui, d, &filename, &report, unknown, token);
    // htmx swaps 4xx only when told to; the preview is content either way.
    let mut res = (status, Html(r.render()?)).into_response();
    res.headers_mut().insert(
        "HX-Reswap",
        axum::http::HeaderValue::from_static("innerHTML"),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct CommitForm {
    token: String,
}

/// `POST <base>import/commit/`: writes every row in one transaction (re-validated), or nothing.
pub async fn commit(s: &AppState, d: &ResourceDef, ui: Ui, Form(f): Form<CommitForm>) -> UiResult {
    ui.p.require(d.resource, Operation::Create)?;
    let key = format!(
        "import.{}",
        Uuid::parse_str(&f.token).map_err(|_| AppError::NotFound)?
    );
    let pending: Pending = ui
        .session
        .remove(&key)
        .await
        .ok()
        .flatten()
        .filter(|p: &Pending| p.view == d.key())
        .ok_or(AppError::NotFound)?;
    let bytes = tokio::fs::read(&pending.path)
        .await
        .map_err(|_| AppError::NotFound)?;
    let _ = tokio::fs::remove_file(&pending.path).await;
    let (report, unknown) = evaluate(s, d, &ui, &pending.filename, &bytes, true).await?;
    if !report.committed {
        // The data changed since the preview (someone added the same MRN): show what fails now.
        let r = result_view(&ui, d, &pending.filename, &report, unknown, String::new());
        let title = ui.t(d.title);
        let imp = ui.t("import.title");
        let page = ImportPage {
            ctx: ui
                .ctx
                .clone()
                .crumb(title, Some(d.base()))
                .crumb(imp, None)
                .titled(imp),
            title: d.title,
            base: d.base(),
            columns: columns(d),
        };
        let body = page.render()?.replace("<!--import-result-->", &r.render()?);
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response());
    }
    audit::record(
        &s.db,
        s.clock.as_ref(),
        &Actor::of(&ui.p),
        AuditEntry::new("import.committed").details(serde_json::json!({
            "resource": d.key(), "rows": report.total, "file": pending.filename,
        })),
    )
    .await?;
    s.ui.invalidate_counts();
    ui.flash(
        "success",
        ui.ctx.tf(
            "import.done",
            &[("count", &ui.ctx.num(report.total as i64))],
        ),
    )
    .await;
    Ok(see_other(&d.base()))
}
