//! Notification templates: the built-in defaults and their administration.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::defaults::DEFAULTS;
use super::logs::R;
use super::{Channel, render};
use crate::apps::notifications::model::template;
use crate::apps::notifications::wire::{TemplateIn, TemplateOut};
use crate::apps::organizations;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::db::begin_write;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{Operation, Principal, Reach, ScopeColumns};
use crate::platform::state::AppState;

/// Inserts every built-in template that has no global row of its (code, channel) yet — deleted rows
/// count, so an administrator's deletion sticks. Returns how many were inserted.
///
/// # Errors
/// Database errors.
pub async fn seed_defaults<C: ConnectionTrait>(conn: &C, clock: &dyn Clock) -> AppResult<usize> {
    let existing = template::Entity::find()
        .filter(template::Column::HospitalId.is_null())
        .all(conn)
        .await?;
    let now = clock.now();
    let mut n = 0;
    for (code, channel, description, subject_en, subject_ar, body_en, body_ar) in DEFAULTS {
        if existing
            .iter()
            .any(|t| t.code == *code && t.channel.as_deref() == *channel)
        {
            continue;
        }
        template::Entity::insert(template::ActiveModel {
            id: Set(new_id()),
            code: Set((*code).into()),
            hospital_id: Set(None),
            channel: Set(channel.map(Into::into)),
            description: Set((*description).into()),
            subject_en: Set((*subject_en).into()),
            subject_ar: Set((*subject_ar).into()),
            body_en: Set((*body_en).into()),
            body_ar: Set((*body_ar).into()),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        })
        .exec_without_returning(conn)
        .await?;
        n += 1;
    }
    Ok(n)
}

pub(crate) fn spec() -> ListSpec<template::Entity> {
    use template::Column as C;
    ListSpec {
        search: vec![C::Code, C::Description, C::BodyEn, C::BodyAr],
        ordering: vec![
            ("code", C::Code),
            ("channel", C::Channel),
            ("updated_at", C::UpdatedAt),
        ],
        default_ordering: vec![(C::Code, Order::Asc), (C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "channel",
                column: C::Channel,
                kind: FilterKind::Choice(Channel::CODES),
            },
            Filter {
                name: "code",
                column: C::Code,
                kind: FilterKind::Text,
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

/// Templates a principal may see: its hospitals' and the global ones.
fn visible_condition(p: &Principal, op: Operation) -> Condition {
    Condition::any()
        .add(template::Column::HospitalId.is_null())
        .add(p.scope(R, op).condition(ScopeColumns {
            hospital: Some(template::Column::HospitalId),
            department: None,
            physician: None,
            assignee: None,
        }))
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<TemplateOut>> {
    p.require(R, Operation::View)?;
    let select = template::Entity::find()
        .filter(template::Column::DeletedAt.is_null())
        .filter(visible_condition(p, Operation::View));
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(TemplateOut::from))
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<template::Model> {
    if !p.can(R, Operation::View) {
        return Err(AppError::NotFound);
    }
    template::Entity::find_by_id(id)
        .filter(template::Column::DeletedAt.is_null())
        .filter(visible_condition(p, Operation::View))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Global templates are changed by PX admins only; a hospital's by whoever may configure it.
fn may_change(p: &Principal, hospital: Option<Uuid>, op: Operation) -> AppResult<()> {
    match hospital {
        None if p.is_px_admin() => Ok(()),
        None => Err(AppError::Forbidden(
            "Only a PX admin may change the global templates.".into(),
        )),
        Some(h) => p.allow(R, op, Reach::hospital(h)),
    }
}

/// # Errors
/// 404 when not visible.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<TemplateOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Validates and applies `i` onto `m` (all of `i`'s given fields); `create` requires the bodies.
fn apply(m: &mut template::Model, i: TemplateIn, create: bool) -> AppResult<()> {
    let mut e = FieldErrors::new();
    if let Some(c) = i.code {
        let c = c.trim().to_string();
        if is_code(&c) {
            m.code = c;
        } else {
            e.add("code", "Use 1 to 64 characters: a-z, 0-9 and _.");
        }
    } else if create {
        e.add("code", "This field is required.");
    }
    if create {
        m.hospital_id = i.hospital;
    }
    if let Some(ch) = i.channel {
        if ch.trim().is_empty() {
            m.channel = None;
        } else if let Some(c) = Channel::parse(&ch) {
            m.channel = Some(c.code().into());
        } else {
            e.add(
                "channel",
                format!(
                    "\"{ch}\" is not a valid choice; allowed: {}",
                    Channel::CODES.join(", ")
                ),
            );
        }
    }
    if let Some(d) = i.description {
        m.description = d.trim().chars().take(300).collect();
    }
    if let Some(v) = i.subject_en {
        m.subject_en = v.trim().to_string();
    }
    if let Some(v) = i.subject_ar {
        m.subject_ar = v.trim().to_string();
    }
    if let Some(v) = i.body_en {
        m.body_en = v.trim().to_string();
    }
    if let Some(v) = i.body_ar {
        m.body_ar = v.trim().to_string();
    }
    if let Some(a) = i.active {
        m.active = a;
    }
    for (field, text, len) in [
        ("subject_en", &m.subject_en, 300),
        ("subject_ar", &m.subject_ar, 300),
        ("body_en", &m.body_en, 5000),
        ("body_ar", &m.body_ar, 5000),
    ] {
        if text.chars().count() > len {
            e.add(
                field,
                format!("Ensure this field has no more than {len} characters."),
            );
        }
        if let Err(msg) = render::check(text) {
            e.add(field, msg);
        }
    }
    for field in ["body_en", "body_ar"] {
        let text = if field == "body_en" {
            &m.body_en
        } else {
            &m.body_ar
        };
        if text.is_empty() {
            e.add(field, "This field may not be blank.");
        }
    }
    // Both languages must say the same things: a variable in one body only is a translation slip.
    if let (Ok(en), Ok(ar)) = (render::variables(&m.body_en), render::variables(&m.body_ar))
        && !m.body_en.is_empty()
        && !m.body_ar.is_empty()
        && en != ar
    {
        let diff: Vec<String> = en
            .symmetric_difference(&ar)
            .map(|v| format!("{{{v}}}"))
            .collect();
        e.add(
            "body_ar",
            format!(
                "The English and Arabic bodies must use the same variables; differing: {}.",
                diff.join(", ")
            ),
        );
    }
    e.into_result()
}

async fn ensure_unique<C: ConnectionTrait>(conn: &C, m: &template::Model) -> AppResult<()> {
    let clash = template::Entity::find()
        .filter(template::Column::DeletedAt.is_null())
        .filter(template::Column::Code.eq(m.code.clone()))
        .filter(template::Column::Id.ne(m.id))
        .all(conn)
        .await?
        .into_iter()
        .any(|t| t.hospital_id == m.hospital_id && t.channel == m.channel);
    if clash {
        return Err(AppError::field(
            "code",
            "A template with this code, hospital and channel already exists.",
        ));
    }
    Ok(())
}

async fn audit_change<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    p: &Principal,
    action: &str,
    m: &template::Model,
) -> AppResult<()> {
    audit::record(
        conn,
        clock,
        &Actor::of(p),
        AuditEntry::new(action)
            .object("notification_template", m.id)
            .hospital(m.hospital_id)
            .details(json!({"code": m.code, "channel": m.channel})),
    )
    .await?;
    Ok(())
}

/// # Errors
/// 403 when the caller may not configure that hospital (or global templates); 400 with field messages.
pub async fn create(state: &AppState, p: &Principal, i: TemplateIn) -> AppResult<TemplateOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = template::Model {
        id: new_id(),
        code: String::new(),
        hospital_id: None,
        channel: None,
        description: String::new(),
        subject_en: String::new(),
        subject_ar: String::new(),
        body_en: String::new(),
        body_ar: String::new(),
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    apply(&mut m, i, true)?;
    may_change(p, m.hospital_id, Operation::Create)?;
    if let Some(h) = m.hospital_id
        && !organizations::hospital_exists(&state.db, h).await?
    {
        return Err(AppError::field(
            "hospital",
            format!("Invalid pk \"{h}\" - object does not exist."),
        ));
    }
    let txn = begin_write(&state.db).await?;
    ensure_unique(&txn, &m).await?;
    let saved = template::ActiveModel::from(m).insert(&txn).await?;
    audit_change(
        &txn,
        state.clock.as_ref(),
        p,
        "notification_template.created",
        &saved,
    )
    .await?;
    txn.commit().await?;
    Ok(saved.into())
}

/// # Errors
/// 404 when not visible; 403 when not changeable; 400 with field messages.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: TemplateIn,
) -> AppResult<TemplateOut> {
    let txn = begin_write(&state.db).await?;
    let mut m = visible(&txn, p, id).await?;
    may_change(p, m.hospital_id, Operation::Edit)?;
    apply(&mut m, i, false)?;
    ensure_unique(&txn, &m).await?;
    m.updated_at = state.clock.now();
    let mut a = template::ActiveModel::from(m).reset_all();
    a.id = sea_orm::ActiveValue::Unchanged(id);
    let saved = a.update(&txn).await?;
    audit_change(
        &txn,
        state.clock.as_ref(),
        p,
        "notification_template.updated",
        &saved,
    )
    .await?;
    txn.commit().await?;
    Ok(saved.into())
}

/// Soft delete.
///
/// # Errors
/// 404 when not visible; 403 when not changeable.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    let txn = begin_write(&state.db).await?;
    let m = visible(&txn, p, id).await?;
    may_change(p, m.hospital_id, Operation::Delete)?;
    let mut a = m.clone().into_active_model();
    a.deleted_at = Set(Some(state.clock.now()));
    a.updated_at = Set(state.clock.now());
    a.update(&txn).await?;
    audit_change(
        &txn,
        state.clock.as_ref(),
        p,
        "notification_template.deleted",
        &m,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    #[test]
    fn every_default_template_uses_known_variables_in_both_languages() {
        for (code, _, _, s_en, s_ar, b_en, b_ar) in DEFAULTS {
            for text in [s_en, s_ar, b_en, b_ar] {
                render::check(text).unwrap_or_else(|e| panic!("{code}: {e}"));
            }
            assert_eq!(
                render::variables(b_en).unwrap(),
                render::variables(b_ar).unwrap(),
                "{code}: both languages use the same variables"
            );
        }
    }
}
