//! Saved filters: a user's named list queries per view (resource), one of which may be the default the
//! list opens with. Kept by platform because every list has them.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use uuid::Uuid;

use super::crud::{clean_query, parse_id, see_other};
use super::ctx::{Ui, UiResult};
use crate::platform::db::{in_txn, stmt};
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::ids::new_id;
use crate::platform::state::AppState;

#[derive(Debug, Clone)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    pub query: String,
    pub is_default: bool,
}

impl SavedView {
    pub fn href(&self, base: &str) -> String {
        if self.query.is_empty() {
            format!("{base}?view={}", self.id)
        } else {
            format!("{base}?{}&view={}", self.query, self.id)
        }
    }
}

fn row(r: &sea_orm::QueryResult) -> Result<SavedView, sea_orm::DbErr> {
    Ok(SavedView {
        id: r.try_get_by_index(0)?,
        name: r.try_get_by_index(1)?,
        query: r.try_get_by_index(2)?,
        is_default: r.try_get_by_index(3)?,
    })
}

/// The user's saved views of `view`, by name.
///
/// # Errors
/// Database errors.
pub async fn list(s: &AppState, user: Uuid, view: &str) -> AppResult<Vec<SavedView>> {
    let rows = s
        .db
        .query_all_raw(stmt(
            s.db.get_database_backend(),
            "SELECT id, name, query, is_default FROM saved_views WHERE user_id = $1 AND view = $2 ORDER BY name",
            vec![user.into(), view.into()],
        ))
        .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// # Errors
/// Database errors.
pub async fn default_for(s: &AppState, user: Uuid, view: &str) -> AppResult<Option<SavedView>> {
    Ok(list(s, user, view)
        .await?
        .into_iter()
        .find(|v| v.is_default))
}

/// Saves (or replaces, by name) a view; making it the default clears the previous default.
///
/// # Errors
/// 400 for a blank or over-long name or view.
pub async fn save(
    s: &AppState,
    user: Uuid,
    view: &str,
    name: &str,
    query: &str,
    is_default: bool,
    now: DateTime<Utc>,
) -> AppResult<Uuid> {
    let name = name.trim().to_string();
    let mut errors = FieldErrors::new();
    if name.is_empty() {
        errors.add("name", "This field may not be blank.");
    } else if name.chars().count() > 100 {
        errors.add("name", "Ensure this field has no more than 100 characters.");
    }
    if view.is_empty() || view.len() > 100 {
        errors.add("view", "Invalid value.");
    }
    errors.into_result()?;
    let query = clean_query(query, &["page", "view"]);
    let view = view.to_string();
    in_txn(&s.db, async move |txn| {
        let b = txn.get_database_backend();
        if is_default {
            txn.execute_raw(stmt(
                b,
                "UPDATE saved_views SET is_default = $1 WHERE user_id = $2 AND view = $3",
                vec![false.into(), user.into(), view.clone().into()],
            ))
            .await?;
        }
        let existing = txn
            .query_one_raw(stmt(
                b,
                "SELECT id FROM saved_views WHERE user_id = $1 AND view = $2 AND name = $3",
                vec![user.into(), view.clone().into(), name.clone().into()],
            ))
            .await?;
        let id = match existing {
            Some(r) => {
                let id: Uuid = r.try_get_by_index(0)?;
                txn.execute_raw(stmt(
                    b,
                    "UPDATE saved_views SET query = $1, is_default = $2, updated_at = $3 WHERE id = $4",
                    vec![query.into(), is_default.into(), now.into(), id.into()],
                ))
                .await?;
                id
            }
            None => {
                let id = new_id();
                txn.execute_raw(stmt(
                    b,
                    "INSERT INTO saved_views (id, user_id, view, name, query, is_default, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    vec![
                        id.into(),
                        user.into(),
                        view.into(),
                        name.into(),
                        query.into(),
                        is_default.into(),
                        now.into(),
                    ],
                ))
                .await?;
                id
            }
        };
        Ok(id)
    })
    .await
}

/// Deletes one of the user's own views; another user's id reads as not found.
///
/// # Errors
/// 404 when the user has no such view.
pub async fn delete(s: &AppState, user: Uuid, id: Uuid) -> AppResult<()> {
    let r =
        s.db.execute_raw(stmt(
            s.db.get_database_backend(),
            "DELETE FROM saved_views WHERE id = $1 AND user_id = $2",
            vec![id.into(), user.into()],
        ))
        .await?;
    if r.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct SaveForm {
    view: String,
    name: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    is_default: Option<String>,
}

/// The list a view belongs to, for redirects: only a registered resource's base.
fn base_of(s: &AppState, view: &str) -> String {
    s.ui.find(view)
        .map(|d| d.base())
        .unwrap_or_else(|| "/".into())
}

/// `POST /ui/views/`
pub async fn save_view(
    ui: Ui,
    State(s): State<AppState>,
    Form(f): Form<SaveForm>,
) -> UiResult<Response> {
    let Some(def) = s.ui.find(&f.view) else {
        return Err(AppError::NotFound.into());
    };
    ui.p.require(def.resource, crate::platform::rbac::Operation::View)?;
    let base = base_of(&s, &f.view);
    match save(
        &s,
        ui.p.user_id,
        &f.view,
        &f.name,
        &f.query,
        f.is_default.is_some(),
        s.clock.now(),
    )
    .await
    {
        Ok(id) => {
            ui.flash(
                "success",
                ui.ctx.tf("views.saved", &[("name", f.name.trim())]),
            )
            .await;
            let q = clean_query(&f.query, &["page", "view"]);
            let to = if q.is_empty() {
                format!("{base}?view={id}")
            } else {
                format!("{base}?{q}&view={id}")
            };
            Ok(see_other(&to))
        }
        Err(AppError::Validation(_)) => {
            ui.flash("danger", ui.t("views.name_required")).await;
            Ok(see_other(&base))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    view: String,
}

/// `POST /ui/views/{id}/delete/`
pub async fn delete_view(
    ui: Ui,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<DeleteForm>,
) -> UiResult<Response> {
    let id = parse_id(&id)?;
    delete(&s, ui.p.user_id, id).await?;
    ui.flash("success", ui.t("views.deleted")).await;
    Ok(see_other(&base_of(&s, &f.view)))
}
