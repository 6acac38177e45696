//! Journey templates: one per hospital, journey type and version; at most one active per hospital and
//! type (a partial unique index backs the rule). Activating a template deactivates the previous one.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::engine::{StageView, pick_stage, template_stages};
use super::{Form, Mode, R, audit, hospital_cols, invalid_pk};
use crate::apps::journeys::model::{COMPLETED, JOURNEY_TYPES, PENDING, stage_template, template};
use crate::apps::journeys::wire::{
    SimulateIn, SimulateOut, SimulatedStage, StageTemplateOut, TemplateIn, TemplateOut,
};
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

fn spec() -> ListSpec<template::Entity> {
    use template::Column as C;
    ListSpec {
        search: vec![C::NameEn, C::NameAr],
        ordering: vec![
            ("name_en", C::NameEn),
            ("journey_type", C::JourneyType),
            ("version", C::Version),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "journey_type",
                column: C::JourneyType,
                kind: FilterKind::Choice(JOURNEY_TYPES),
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

async fn with_stages<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<template::Model>,
) -> AppResult<Vec<TemplateOut>> {
    let ids: Vec<Uuid> = rows.iter().map(|t| t.id).collect();
    let stages = stage_template::Entity::find()
        .filter(stage_template::Column::JourneyTemplateId.is_in(ids))
        .filter(stage_template::Column::DeletedAt.is_null())
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|t| {
            let mut mine: Vec<stage_template::Model> = stages
                .iter()
                .filter(|s| s.journey_template_id == t.id)
                .cloned()
                .collect();
            mine.sort_by_key(|s| (s.stage_order, s.id));
            TemplateOut::new(t, mine.into_iter().map(StageTemplateOut::from).collect())
        })
        .collect())
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<TemplateOut>> {
    let select = rbac::scoped(
        template::Entity::find().filter(template::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        hospital_cols(template::Column::HospitalId),
    )?;
    let page = paginate(&state.db, select, &spec(), q).await?;
    let results = with_stages(&state.db, page.results).await?;
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    })
}

pub(crate) async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<template::Model> {
    rbac::find_visible(
        conn,
        template::Entity::find_by_id(id).filter(template::Column::DeletedAt.is_null()),
        p,
        R,
        hospital_cols(template::Column::HospitalId),
    )
    .await
}

async fn out<C: ConnectionTrait>(conn: &C, m: template::Model) -> AppResult<TemplateOut> {
    let mut v = with_stages(conn, vec![m]).await?;
    v.pop().ok_or(AppError::NotFound)
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<TemplateOut> {
    let m = visible(&state.db, p, id).await?;
    out(&state.db, m).await
}

fn apply(form: &mut Form, i: TemplateIn, m: &mut template::Model) {
    form.choice(
        "journey_type",
        i.journey_type,
        &mut m.journey_type,
        JOURNEY_TYPES,
        true,
    );
    form.text("name_en", i.name_en, &mut m.name_en, 200);
    form.opt_text("name_ar", i.name_ar, &mut m.name_ar, 200);
    form.opt_text("description", i.description, &mut m.description, 4000);
    form.flag(i.active, &mut m.active);
}

/// Deactivates the hospital's other active template of the same type, so `m` can be the active one.
async fn take_over_active<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    p: &Principal,
    m: &template::Model,
) -> AppResult<()> {
    let others = template::Entity::find()
        .filter(template::Column::HospitalId.eq(m.hospital_id))
        .filter(template::Column::JourneyType.eq(m.journey_type.as_str()))
        .filter(template::Column::Active.eq(true))
        .filter(template::Column::DeletedAt.is_null())
        .filter(template::Column::Id.ne(m.id))
        .all(conn)
        .await?;
    for o in others {
        let id = o.id;
        let mut am = o.into_active_model();
        am.active = sea_orm::Set(false);
        am.updated_at = sea_orm::Set(state.clock.now());
        am.update(conn).await?;
        audit(
            conn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_template.deactivated",
            id,
            m.hospital_id,
            json!({"replaced_by": m.id}),
        )
        .await?;
    }
    Ok(())
}

/// # Errors
/// 403 without create permission; 400 for invalid fields (a hospital out of reach reads as nonexistent).
pub async fn create(state: &AppState, p: &Principal, i: TemplateIn) -> AppResult<TemplateOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = template::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        journey_type: String::new(),
        name_en: String::new(),
        name_ar: String::new(),
        description: String::new(),
        version: 1,
        active: false,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk("hospital", i.hospital, &mut m.hospital_id);
    apply(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        if !form.has("hospital") {
            let reachable = crate::apps::organizations::hospital_exists(txn, m.hospital_id).await?
                && p.reaches(R, Operation::Create, Reach::hospital(m.hospital_id));
            if !reachable {
                form.add("hospital", invalid_pk(m.hospital_id));
            }
        }
        form.finish()?;
        let last: Option<i32> = template::Entity::find()
            .select_only()
            .column_as(template::Column::Version.max(), "v")
            .filter(template::Column::HospitalId.eq(m.hospital_id))
            .filter(template::Column::JourneyType.eq(m.journey_type.as_str()))
            .into_tuple::<Option<i32>>()
            .one(txn)
            .await?
            .flatten();
        m.version = last.unwrap_or(0) + 1;
        if m.active {
            take_over_active(txn, state, p, &m).await?;
        }
        let saved = m.into_active_model().reset_all().insert(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_template.created",
            saved.id,
            saved.hospital_id,
            json!({"journey_type": saved.journey_type, "version": saved.version, "active": saved.active}),
        )
        .await?;
        out(txn, saved).await
    })
    .await
}

/// PATCH or PUT. The hospital and journey type are fixed once created.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: TemplateIn,
    mode: Mode,
) -> AppResult<TemplateOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, Reach::hospital(before.hospital_id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        if i.hospital.is_some_and(|h| h != before.hospital_id) {
            form.add("hospital", "This field cannot be changed.");
        }
        if i.journey_type
            .as_deref()
            .is_some_and(|t| t != before.journey_type)
        {
            form.add("journey_type", "This field cannot be changed.");
        }
        apply(&mut form, i, &mut m);
        form.finish()?;
        m.updated_at = state.clock.now();
        if m.active && !before.active {
            take_over_active(txn, state, p, &m).await?;
        }
        let saved = m.into_active_model().reset_all().update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_template.updated",
            id,
            saved.hospital_id,
            json!({"active": saved.active}),
        )
        .await?;
        out(txn, saved).await
    })
    .await
}

/// Soft delete. Instances keep pointing at it (history stays readable).
///
/// # Errors
/// 404 out of view scope, 403 without delete permission.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(R, Operation::Delete, Reach::hospital(m.hospital_id))?;
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.active = sea_orm::Set(false);
        am.update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_template.deleted",
            id,
            hospital,
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}

/// Which stage of the template an event code would complete, treating `completed` stage codes as done.
/// Pure: reads, never writes (the journey builder's test panel).
pub fn simulate_on(
    stages: &[stage_template::Model],
    code: &str,
    completed: &[String],
) -> SimulateOut {
    let statuses: Vec<&str> = stages
        .iter()
        .map(|s| {
            if completed.contains(&s.code) {
                COMPLETED
            } else {
                PENDING
            }
        })
        .collect();
    let views: Vec<StageView<'_>> = stages
        .iter()
        .zip(&statuses)
        .map(|(s, st)| StageView {
            order: s.stage_order,
            trigger: &s.trigger_event_code,
            status: st,
        })
        .collect();
    match pick_stage(&views, code) {
        Ok(i) => SimulateOut {
            event_code: code.to_string(),
            stage: Some(SimulatedStage {
                stage_template: stages[i].id,
                stage_instance: None,
                code: stages[i].code.clone(),
                name_en: stages[i].name_en.clone(),
                name_ar: stages[i].name_ar.clone(),
                order: stages[i].stage_order,
            }),
            reason: None,
        },
        Err(why) => SimulateOut {
            event_code: code.to_string(),
            stage: None,
            reason: Some(why.reason(code)),
        },
    }
}

/// # Errors
/// 404 out of scope; 400 without `event_code`.
pub async fn simulate(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: SimulateIn,
) -> AppResult<SimulateOut> {
    let t = visible(&state.db, p, id).await?;
    let code = required_code(i.event_code)?;
    let stages = template_stages(&state.db, t.id).await?;
    Ok(simulate_on(&stages, &code, &i.completed))
}

pub(crate) fn required_code(code: Option<String>) -> AppResult<String> {
    match code.map(|c| c.trim().to_string()) {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(AppError::field("event_code", "This field is required.")),
    }
}
