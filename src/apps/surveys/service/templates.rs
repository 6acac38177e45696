//! Survey templates: hospital, bilingual name, kind, scoring method, optional negative threshold,
//! active, version. Editing a template (or its questions) once an instance uses it creates a new
//! version — a copy with the change — and retires the old one, so answers keep their questions.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use super::{Form, Mode, R, audit, hospital_cols};
use crate::apps::organizations::service::check_hospital;
use crate::apps::surveys::model::{KINDS, METHODS, instance, question, template};
use crate::apps::surveys::wire::{QuestionOut, TemplateIn, TemplateOut};
use crate::platform::audit::Actor;
use crate::platform::clock::Clock;
use crate::platform::db::in_txn;
use crate::platform::error::AppResult;
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

fn spec() -> ListSpec<template::Entity> {
    use template::Column as C;
    ListSpec {
        search: vec![C::NameEn, C::NameAr, C::Description],
        ordering: vec![
            ("name_en", C::NameEn),
            ("version", C::Version),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::NameEn, Order::Asc), (C::Version, Order::Desc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "kind",
                column: C::Kind,
                kind: FilterKind::Choice(KINDS),
            },
            Filter {
                name: "scoring_method",
                column: C::ScoringMethod,
                kind: FilterKind::Choice(METHODS),
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
            Filter {
                name: "family",
                column: C::FamilyId,
                kind: FilterKind::Uuid,
            },
        ],
    }
}

pub(crate) async fn questions_of<C: ConnectionTrait>(
    conn: &C,
    template: Uuid,
) -> AppResult<Vec<question::Model>> {
    Ok(question::Entity::find()
        .filter(question::Column::SurveyTemplateId.eq(template))
        .filter(question::Column::DeletedAt.is_null())
        .order_by_asc(question::Column::QuestionOrder)
        .order_by_asc(question::Column::Id)
        .all(conn)
        .await?)
}

async fn out<C: ConnectionTrait>(conn: &C, m: template::Model) -> AppResult<TemplateOut> {
    let qs = questions_of(conn, m.id).await?;
    Ok(TemplateOut::new(
        m,
        qs.into_iter().map(QuestionOut::from).collect(),
    ))
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
    let mut results = Vec::with_capacity(page.results.len());
    for m in page.results.clone() {
        results.push(out(&state.db, m).await?);
    }
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

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<TemplateOut> {
    let m = visible(&state.db, p, id).await?;
    out(&state.db, m).await
}

fn apply(form: &mut Form, i: TemplateIn, m: &mut template::Model) {
    form.text("name_en", i.name_en, &mut m.name_en, 200);
    form.opt_text("name_ar", i.name_ar, &mut m.name_ar, 200);
    form.opt_text("description", i.description, &mut m.description, 2000);
    form.choice("kind", i.kind, &mut m.kind, KINDS, true);
    form.choice(
        "scoring_method",
        i.scoring_method,
        &mut m.scoring_method,
        METHODS,
        true,
    );
    match i.negative_threshold {
        Some(Some(t)) if (0..=100).contains(&t) => m.negative_threshold = Some(t as i32),
        Some(Some(_)) => form.add(
            "negative_threshold",
            "Ensure this value is between 0 and 100.",
        ),
        Some(None) => m.negative_threshold = None,
        None => {}
    }
    form.flag(i.active, &mut m.active);
}

/// # Errors
/// 403 without create permission; 400 for invalid fields.
pub async fn create(state: &AppState, p: &Principal, i: TemplateIn) -> AppResult<TemplateOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let id = new_id();
    let mut m = template::Model {
        id,
        hospital_id: Uuid::nil(),
        family_id: id,
        version: 1,
        name_en: String::new(),
        name_ar: String::new(),
        description: String::new(),
        kind: String::new(),
        scoring_method: String::new(),
        negative_threshold: None,
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk("hospital", i.hospital, &mut m.hospital_id);
    apply(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        check_hospital(txn, p, R, Operation::Create, &mut form, m.hospital_id).await?;
        form.finish()?;
        let saved = m.into_active_model().reset_all().insert(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "survey_template.created",
            saved.id,
            saved.hospital_id,
            json!({"kind": saved.kind, "scoring_method": saved.scoring_method}),
        )
        .await?;
        out(txn, saved).await
    })
    .await
}

/// Whether any instance was created from this template version.
pub(crate) async fn in_use<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<bool> {
    Ok(instance::Entity::find()
        .filter(instance::Column::SurveyTemplateId.eq(id))
        .count(conn)
        .await?
        > 0)
}

/// The version an edit applies to: `t` itself while no instance uses it; otherwise a new version —
/// a copy of `t` and its questions (branch conditions re-pointed) that takes over its active flag,
/// while `t` is retired and kept for the answers given to it. Also returns old → new question ids.
///
/// # Errors
/// Database errors.
pub(crate) async fn editable<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    t: template::Model,
) -> AppResult<(template::Model, HashMap<Uuid, Uuid>)> {
    if !in_use(conn, t.id).await? {
        let ids = questions_of(conn, t.id)
            .await?
            .into_iter()
            .map(|q| (q.id, q.id))
            .collect();
        return Ok((t, ids));
    }
    let now = clock.now();
    let newest = template::Entity::find()
        .filter(template::Column::FamilyId.eq(t.family_id))
        .order_by_desc(template::Column::Version)
        .one(conn)
        .await?
        .map_or(t.version, |n| n.version);
    let copy = template::Model {
        id: new_id(),
        version: newest + 1,
        created_at: now,
        updated_at: now,
        ..t.clone()
    };
    let copy = copy.into_active_model().reset_all().insert(conn).await?;
    let mut old = t.clone().into_active_model();
    old.active = sea_orm::Set(false);
    old.updated_at = sea_orm::Set(now);
    old.update(conn).await?;
    let qs = questions_of(conn, t.id).await?;
    let map: HashMap<Uuid, Uuid> = qs.iter().map(|q| (q.id, new_id())).collect();
    for q in qs {
        let branch = q.branch.clone().map(|mut b| {
            if let Some(src) = b
                .get("question")
                .and_then(|v| v.as_str())
                .and_then(|s| Uuid::parse_str(s).ok())
                .and_then(|s| map.get(&s))
            {
                b["question"] = json!(src);
            }
            b
        });
        let nq = question::Model {
            id: map[&q.id],
            survey_template_id: copy.id,
            branch,
            created_at: now,
            updated_at: now,
            ..q
        };
        nq.into_active_model().reset_all().insert(conn).await?;
    }
    super::audit(
        conn,
        clock,
        actor,
        "survey_template.versioned",
        copy.id,
        copy.hospital_id,
        json!({"previous": t.id, "version": copy.version}),
    )
    .await?;
    Ok((copy, map))
}

/// PATCH or PUT. On a template in use this creates and returns a new version.
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
        let mut form = Form::new(mode);
        if i.hospital.is_some_and(|h| h != before.hospital_id) {
            form.add("hospital", "This field cannot be changed.");
        }
        let mut probe = before.clone();
        apply(&mut form, i, &mut probe);
        form.finish()?;
        let actor = Actor::of(p);
        let (target, _) = editable(txn, state.clock.as_ref(), &actor, before.clone()).await?;
        let m = template::Model {
            id: target.id,
            family_id: target.family_id,
            version: target.version,
            created_at: target.created_at,
            updated_at: state.clock.now(),
            ..probe
        };
        let saved = m.into_active_model().reset_all().update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &actor,
            "survey_template.updated",
            saved.id,
            saved.hospital_id,
            json!({"version": saved.version, "active": saved.active}),
        )
        .await?;
        out(txn, saved).await
    })
    .await
}

/// Soft delete; instances and answers stay.
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
            "survey_template.deleted",
            id,
            hospital,
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}

/// The version of a family new instances use: the newest live, active version.
///
/// # Errors
/// Database errors.
pub async fn current_version<C: ConnectionTrait>(
    conn: &C,
    any_version: Uuid,
) -> AppResult<Option<template::Model>> {
    let Some(t) = template::Entity::find_by_id(any_version).one(conn).await? else {
        return Ok(None);
    };
    Ok(template::Entity::find()
        .filter(template::Column::FamilyId.eq(t.family_id))
        .filter(template::Column::DeletedAt.is_null())
        .filter(template::Column::Active.eq(true))
        .order_by_desc(template::Column::Version)
        .one(conn)
        .await?)
}
