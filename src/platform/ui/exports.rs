//! Exports of the resource pattern: the filtered list as CSV or XLSX (every matching row, not just
//! the page on screen) and a PDF summary of one object. Each export is audited.

use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::crud::{clean_query, detail_rows, parse_id, resolve_labels};
use super::ctx::{Ui, UiResult};
use super::present;
use super::resource::{Kind, ResourceDef};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::error::AppError;
use crate::platform::export::{self, Cell, Summary, Table};
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::{ListQuery, MAX_PAGE_SIZE};
use crate::platform::rbac::Operation;
use crate::platform::state::AppState;

/// Rows an export may hold; beyond it the user is asked to filter.
pub const MAX_EXPORT_ROWS: u64 = 200_000;

fn attachment(bytes: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn export_cell(kind: Kind, raw: &Value, shown: &present::CellView, tz: chrono_tz::Tz) -> Cell {
    if raw.is_null() {
        return Cell::Empty;
    }
    match kind {
        Kind::Number => raw
            .as_i64()
            .map(Cell::Int)
            .unwrap_or(Cell::Text(shown.text.clone())),
        Kind::DateTime => raw
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| Cell::DateTime(d.with_timezone(&Utc).with_timezone(&tz).naive_local()))
            .unwrap_or(Cell::Text(shown.text.clone())),
        Kind::Date => raw
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(Cell::Date)
            .unwrap_or(Cell::Text(shown.text.clone())),
        // Codes and plain text keep the stored value (an MRN stays "00123", not a number).
        Kind::Text | Kind::Code => Cell::Text(present::scalar(raw)),
        _ => Cell::Text(shown.text.clone()),
    }
}

/// `GET <base>export/?format=csv|xlsx&<list filters>`
pub async fn export_list(s: &AppState, d: &ResourceDef, ui: Ui, uri: Uri) -> UiResult {
    ui.p.require(d.resource, Operation::Export)?;
    let raw = uri.query().unwrap_or("");
    let format = url::form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "xlsx" {
        return Err(AppError::field("format", "Choose csv or xlsx.").into());
    }
    let query = clean_query(raw, &["format", "page", "page_size", "view"]);
    let ctx = &ui.ctx;
    let mut table = Table {
        title: ctx.t(d.title).to_string(),
        // A bilingual column exports both languages, so one file serves Arabic and English readers.
        headers: d
            .columns
            .iter()
            .flat_map(|c| {
                let l = ctx.t(c.label);
                if c.kind == Kind::Bilingual {
                    vec![format!("{l} (EN)"), format!("{l} (AR)")]
                } else {
                    vec![l.to_string()]
                }
            })
            .collect(),
        rows: vec![],
        rtl: ctx.lang == Lang::Ar,
    };
    let mut page_no = 1u64;
    loop {
        let q = ListQuery::parse(
            &d.base(),
            &format!("{query}&page={page_no}&page_size={MAX_PAGE_SIZE}"),
        )?;
        let page = d.ops.list(s, &ui.p, &q).await?;
        if page.count > MAX_EXPORT_ROWS {
            return Err(AppError::BadRequest(format!(
                "{} rows match; narrow the filters to at most {MAX_EXPORT_ROWS}.",
                page.count
            ))
            .into());
        }
        let labels = resolve_labels(s, ctx.lang, &d.columns, &page.results).await;
        for v in &page.results {
            table.rows.push(
                d.columns
                    .iter()
                    .flat_map(|c| {
                        if c.kind == Kind::Bilingual {
                            return ["en", "ar"]
                                .iter()
                                .map(|l| {
                                    let raw =
                                        v.get(format!("{}_{l}", c.key)).unwrap_or(&Value::Null);
                                    match raw.as_str() {
                                        Some(t) if !t.is_empty() => Cell::Text(t.to_string()),
                                        _ => Cell::Empty,
                                    }
                                })
                                .collect::<Vec<_>>();
                        }
                        let shown = present::cell(ctx, c, v, &labels);
                        vec![export_cell(
                            c.kind,
                            v.get(c.key).unwrap_or(&Value::Null),
                            &shown,
                            ctx.tz,
                        )]
                    })
                    .collect(),
            );
        }
        if page.next.is_none() {
            break;
        }
        page_no += 1;
    }
    let rows = table.rows.len();
    // CPU-bound (and XLSX writes a temporary file): off the async workers.
    let csv = format == "csv";
    let bytes = tokio::task::spawn_blocking(move || {
        if csv {
            Ok(export::to_csv(&table))
        } else {
            export::to_xlsx(&table)
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(AppError::Internal)?;
    let ctype = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    };
    audit::record(
        &s.db,
        s.clock.as_ref(),
        &Actor::of(&ui.p),
        AuditEntry::new("export.list").details(json!({
            "resource": d.key(), "format": format, "rows": rows, "query": query,
        })),
    )
    .await?;
    let stamp = s.clock.now().format("%Y%m%d-%H%M");
    Ok(attachment(
        bytes,
        ctype,
        &format!("{}-{stamp}.{format}", d.slug),
    ))
}

/// `GET <base>{id}/pdf/`: the detail page as a one-page PDF summary.
pub async fn export_pdf(s: &AppState, d: &ResourceDef, ui: Ui, id: String) -> UiResult {
    let id = parse_id(&id)?;
    let v = d.ops.get(s, &ui.p, id).await?;
    ui.p.require(d.resource, Operation::Export)?;
    let ctx = &ui.ctx;
    let rows = detail_rows(s, ctx, &d.detail, &v).await;
    let summary = Summary {
        title: d.name_of(&v, ctx.lang),
        subtitle: Some(ctx.t(d.singular).to_string()),
        sections: vec![(
            ctx.t("detail.details").to_string(),
            rows.into_iter()
                .map(|r| (ctx.t(r.label).to_string(), r.cell.text))
                .collect(),
        )],
        footer: i18n::tf(
            ctx.lang,
            "pdf.footer",
            &[("when", &ctx.datetime(s.clock.now())), ("who", &ui.p.email)],
        ),
        rtl: ctx.lang == Lang::Ar,
    };
    let bytes = tokio::task::spawn_blocking(move || export::to_pdf(&summary))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(AppError::Internal)?;
    audit::record(
        &s.db,
        s.clock.as_ref(),
        &Actor::of(&ui.p),
        AuditEntry::new("export.pdf")
            .object(d.key(), id)
            .details(json!({"resource": d.key()})),
    )
    .await?;
    Ok(attachment(
        bytes,
        "application/pdf",
        &format!("{}-{id}.pdf", d.slug),
    ))
}
