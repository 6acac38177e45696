//! Journey instances (one per hospital and encounter, SPEC rule 2) and their stage instances. Creating
//! an instance creates one PENDING stage instance per stage of its template. Stage instances change by
//! inbound events (see `engine`) or by hand (`PATCH stage-instances/{id}/`), audited either way.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::engine::{self, StageView, pick_stage};
use super::{Form, Mode, R, audit, hospital_cols, invalid_pk, templates};
use crate::apps::journeys::model::{
    ACTIVE, CANCELLED, COMPLETED, INSTANCE_STATUSES, JOURNEY_TYPES, SKIPPED, STAGE_STATUSES,
    instance, stage_instance, stage_template, template,
};
use crate::apps::journeys::wire::{
    InstanceIn, InstanceOut, ProgressOut, SimulateIn, SimulateOut, SimulatedStage, StageInstanceIn,
    StageInstanceOut,
};
use crate::apps::organizations;
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, on_constraint};
use crate::platform::events::{self, StageCompleted};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

const ENCOUNTER_TAKEN: &str = "This hospital already has a journey for this encounter.";

fn spec() -> ListSpec<instance::Entity> {
    use instance::Column as C;
    ListSpec {
        search: vec![C::EncounterId],
        ordering: vec![
            ("created_at", C::CreatedAt),
            ("started_at", C::StartedAt),
            ("encounter_id", C::EncounterId),
            ("status", C::Status),
        ],
        default_ordering: vec![(C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "journey_template",
                column: C::JourneyTemplateId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "patient",
                column: C::PatientId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "encounter_id",
                column: C::EncounterId,
                kind: FilterKind::Text,
            },
            Filter {
                name: "status",
                column: C::Status,
                kind: FilterKind::Choice(INSTANCE_STATUSES),
            },
            Filter {
                name: "started_after",
                column: C::StartedAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "started_before",
                column: C::StartedAt,
                kind: FilterKind::To,
            },
        ],
    }
}

async fn outs<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<instance::Model>,
) -> AppResult<Vec<InstanceOut>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let tids: Vec<Uuid> = rows.iter().map(|r| r.journey_template_id).collect();
    let stages = stage_instance::Entity::find()
        .filter(stage_instance::Column::JourneyInstanceId.is_in(ids))
        .all(conn)
        .await?;
    let stids: Vec<Uuid> = stages.iter().map(|s| s.stage_template_id).collect();
    let stemplates = stage_template::Entity::find()
        .filter(stage_template::Column::Id.is_in(stids))
        .all(conn)
        .await?;
    let templates = template::Entity::find()
        .filter(template::Column::Id.is_in(tids))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|i| {
            let mut mine: Vec<StageInstanceOut> = stages
                .iter()
                .filter(|s| s.journey_instance_id == i.id)
                .filter_map(|s| {
                    let t = stemplates.iter().find(|t| t.id == s.stage_template_id)?;
                    Some(StageInstanceOut::new(s.clone(), t))
                })
                .collect();
            mine.sort_by_key(|s| (s.order, s.id));
            let jt = templates
                .iter()
                .find(|t| t.id == i.journey_template_id)
                .map(|t| t.journey_type.clone())
                .unwrap_or_default();
            InstanceOut::new(i, jt, mine)
        })
        .collect())
}

async fn out<C: ConnectionTrait>(conn: &C, m: instance::Model) -> AppResult<InstanceOut> {
    outs(conn, vec![m]).await?.pop().ok_or(AppError::NotFound)
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<InstanceOut>> {
    let mut select = rbac::scoped(
        instance::Entity::find(),
        p,
        R,
        Operation::View,
        hospital_cols(instance::Column::HospitalId),
    )?;
    if let Some(jt) = q.param("journey_type") {
        let jt = jt.trim().to_ascii_uppercase();
        if !JOURNEY_TYPES.contains(&jt.as_str()) {
            return Err(AppError::field(
                "journey_type",
                organizations::model::choice_error(&jt, JOURNEY_TYPES),
            ));
        }
        let ids: Vec<Uuid> = template::Entity::find()
            .filter(template::Column::JourneyType.eq(jt))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        select = select.filter(instance::Column::JourneyTemplateId.is_in(ids));
    }
    select = console_filters(select, q)?;
    let page = paginate(&state.db, select, &spec(), q).await?;
    let results = outs(&state.db, page.results).await?;
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    })
}

/// Filters over an instance's stages and patient (the console's journey list): `stage_status` — a
/// stage in that status; `department` — a stage completed in that department; `mrn` — the patient's
/// MRN (exact).
fn console_filters(
    mut select: sea_orm::Select<instance::Entity>,
    q: &ListQuery,
) -> AppResult<sea_orm::Select<instance::Entity>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let by_stage = |cond: sea_orm::sea_query::SimpleExpr| {
        Expr::col((instance::Entity, instance::Column::Id)).in_subquery(
            Query::select()
                .column(stage_instance::Column::JourneyInstanceId)
                .from(stage_instance::Entity)
                .and_where(cond)
                .take(),
        )
    };
    if let Some(st) = q.param("stage_status") {
        let st = st.trim().to_ascii_uppercase();
        if !STAGE_STATUSES.contains(&st.as_str()) {
            return Err(AppError::field(
                "stage_status",
                organizations::model::choice_error(&st, STAGE_STATUSES),
            ));
        }
        select = select.filter(by_stage(Expr::col(stage_instance::Column::Status).eq(st)));
    }
    if let Some(d) = q.param("department") {
        let d = Uuid::parse_str(d.trim())
            .map_err(|_| AppError::field("department", format!("\"{d}\" is not a valid UUID.")))?;
        select = select.filter(by_stage(
            Expr::col(stage_instance::Column::DepartmentId).eq(d),
        ));
    }
    if let Some(mrn) = q.param("mrn") {
        use crate::apps::organizations::model::patient;
        select = select.filter(
            Expr::col((instance::Entity, instance::Column::PatientId)).in_subquery(
                Query::select()
                    .column(patient::Column::Id)
                    .from(patient::Entity)
                    .and_where(Expr::col(patient::Column::Mrn).eq(mrn.trim()))
                    .take(),
            ),
        );
    }
    Ok(select)
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<instance::Model> {
    rbac::find_visible(
        conn,
        instance::Entity::find_by_id(id),
        p,
        R,
        hospital_cols(instance::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<InstanceOut> {
    let m = visible(&state.db, p, id).await?;
    out(&state.db, m).await
}

/// Starts a journey for an encounter: the given template, or the hospital's active template of the
/// given journey type.
///
/// # Errors
/// 403 without create permission; 400 for invalid fields, a patient of another hospital, or an
/// encounter that already has a journey.
pub async fn create(state: &AppState, p: &Principal, i: InstanceIn) -> AppResult<InstanceOut> {
    p.require(R, Operation::Create)?;
    let mut form = Form::new(Mode::Create);
    let mut encounter = String::new();
    form.text("encounter_id", i.encounter_id, &mut encounter, 100);
    let mut patient = Uuid::nil();
    form.fk("patient", i.patient, &mut patient);
    if i.journey_template.is_none() {
        if i.hospital.is_none() {
            form.add(
                "journey_template",
                "Give journey_template, or hospital and journey_type.",
            );
        }
        match i.journey_type.as_deref() {
            Some(t) if JOURNEY_TYPES.contains(&t) => {}
            Some(t) => form.add(
                "journey_type",
                organizations::model::choice_error(t, JOURNEY_TYPES),
            ),
            None => form.add("journey_type", "This field is required."),
        }
    }
    in_txn(&state.db, async move |txn| {
        let t = if let Some(tid) = i.journey_template {
            match templates::visible(txn, p, tid).await {
                Ok(t) => Some(t),
                Err(_) => {
                    form.add("journey_template", invalid_pk(tid));
                    None
                }
            }
        } else if let (Some(h), Some(jt)) = (i.hospital, i.journey_type.as_deref()) {
            if form.has("journey_type") {
                None
            } else {
                let t = engine::active_template(txn, h, jt).await?;
                if t.is_none() {
                    form.add(
                        "journey_type",
                        format!("This hospital has no active {jt} journey template."),
                    );
                }
                t
            }
        } else {
            None
        };
        if let Some(t) = &t {
            if !p.reaches(R, Operation::Create, Reach::hospital(t.hospital_id)) {
                form.add("journey_template", invalid_pk(t.id));
            } else if !form.has("patient")
                && !organizations::patient_in_hospital(txn, t.hospital_id, patient).await?
            {
                form.add("patient", invalid_pk(patient));
            }
            if !form.has("encounter_id")
                && engine::instance_for_encounter(txn, t.hospital_id, &encounter)
                    .await?
                    .is_some()
            {
                form.add("encounter_id", ENCOUNTER_TAKEN);
            }
        }
        form.finish()?;
        let t = t.ok_or(AppError::NotFound)?;
        let saved = engine::create_instance(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &t,
            patient,
            &encounter,
        )
        .await
        .map_err(|e| match e {
            AppError::Internal(inner) => match inner.downcast::<sea_orm::DbErr>() {
                Ok(db) => on_constraint(db, "encounter_id", ENCOUNTER_TAKEN),
                Err(other) => AppError::Internal(other),
            },
            e => e,
        })?;
        out(txn, saved).await
    })
    .await
}

/// Changes an instance's status (ACTIVE, COMPLETED, CANCELLED); nothing else of it is editable.
///
/// # Errors
/// 404 out of view scope, 403 without transition permission, 400 for an invalid status.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: InstanceIn,
) -> AppResult<InstanceOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(
            R,
            Operation::Transition,
            Reach::hospital(before.hospital_id),
        )?;
        let mut form = Form::new(Mode::Patch);
        for (field, given) in [
            ("encounter_id", i.encounter_id.is_some()),
            ("patient", i.patient.is_some()),
            ("journey_template", i.journey_template.is_some()),
            ("hospital", i.hospital.is_some()),
        ] {
            if given {
                form.add(field, "This field cannot be changed.");
            }
        }
        let mut status = before.status.clone();
        form.choice("status", i.status, &mut status, INSTANCE_STATUSES, false);
        form.finish()?;
        if status == before.status {
            return out(txn, before).await;
        }
        let now = state.clock.now();
        let mut am = before.clone().into_active_model();
        am.status = Set(status.clone());
        am.completed_at = Set((status == COMPLETED).then_some(now));
        am.updated_at = Set(now);
        let saved = am.update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_instance.status_changed",
            id,
            saved.hospital_id,
            json!({"from": before.status, "to": status}),
        )
        .await?;
        if status == CANCELLED {
            events::publish(
                txn,
                state.clock.as_ref(),
                events::EncounterCancelled {
                    hospital: saved.hospital_id,
                    encounter_id: saved.encounter_id.clone(),
                    journey_instance: Some(saved.id),
                },
            )
            .await?;
        }
        out(txn, saved).await
    })
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn progress(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ProgressOut> {
    let m = visible(&state.db, p, id).await?;
    let o = out(&state.db, m).await?;
    let total = o.stages.len();
    let completed = o.stages.iter().filter(|s| s.status == COMPLETED).count();
    let skipped = o.stages.iter().filter(|s| s.status == SKIPPED).count();
    let percent = ((completed + skipped) * 100)
        .checked_div(total)
        .map_or(0, |p| u32::try_from(p).unwrap_or(100));
    Ok(ProgressOut {
        journey_instance: o.id,
        encounter_id: o.encounter_id,
        journey_type: o.journey_type,
        status: o.status,
        total_stages: total,
        completed,
        skipped,
        pending: total - completed - skipped,
        percent,
        next_stage: o
            .stages
            .iter()
            .find(|s| s.status != COMPLETED && s.status != SKIPPED)
            .cloned(),
        stages: o.stages,
    })
}

/// Which stage of this instance an event code would complete now. Reads only.
///
/// # Errors
/// 404 out of scope; 400 without `event_code`.
pub async fn simulate(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: SimulateIn,
) -> AppResult<SimulateOut> {
    let m = visible(&state.db, p, id).await?;
    let code = templates::required_code(i.event_code)?;
    simulate_instance(&state.db, &m, &code).await
}

/// The instance version of the simulation (also the journeys facade's).
pub(crate) async fn simulate_instance<C: ConnectionTrait>(
    conn: &C,
    m: &instance::Model,
    code: &str,
) -> AppResult<SimulateOut> {
    if m.status == CANCELLED {
        return Ok(SimulateOut {
            event_code: code.into(),
            stage: None,
            reason: Some(format!(
                "the journey of encounter {} is cancelled",
                m.encounter_id
            )),
        });
    }
    let stages = engine::instance_stages(conn, m.id).await?;
    let views: Vec<StageView<'_>> = stages
        .iter()
        .map(|(s, t)| StageView {
            order: s.stage_order,
            trigger: &t.trigger_event_code,
            status: &s.status,
        })
        .collect();
    Ok(match pick_stage(&views, code) {
        Ok(i) => {
            let (s, t) = &stages[i];
            SimulateOut {
                event_code: code.into(),
                stage: Some(SimulatedStage {
                    stage_template: t.id,
                    stage_instance: Some(s.id),
                    code: t.code.clone(),
                    name_en: t.name_en.clone(),
                    name_ar: t.name_ar.clone(),
                    order: s.stage_order,
                }),
                reason: None,
            }
        }
        Err(why) => SimulateOut {
            event_code: code.into(),
            stage: None,
            reason: Some(why.reason(code)),
        },
    })
}

// ---------------------------------------------------------------- stage instances

fn stage_spec() -> ListSpec<stage_instance::Entity> {
    use stage_instance::Column as C;
    ListSpec {
        search: vec![],
        ordering: vec![
            ("order", C::StageOrder),
            ("completed_at", C::CompletedAt),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![
            (C::JourneyInstanceId, Order::Asc),
            (C::StageOrder, Order::Asc),
            (C::Id, Order::Asc),
        ],
        filters: vec![
            Filter {
                name: "journey_instance",
                column: C::JourneyInstanceId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "stage_template",
                column: C::StageTemplateId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "status",
                column: C::Status,
                kind: FilterKind::Choice(STAGE_STATUSES),
            },
            Filter {
                name: "physician",
                column: C::PhysicianId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "department",
                column: C::DepartmentId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "completed_after",
                column: C::CompletedAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "completed_before",
                column: C::CompletedAt,
                kind: FilterKind::To,
            },
        ],
    }
}

async fn stage_outs<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<stage_instance::Model>,
) -> AppResult<Vec<StageInstanceOut>> {
    let ids: Vec<Uuid> = rows.iter().map(|s| s.stage_template_id).collect();
    let ts = stage_template::Entity::find()
        .filter(stage_template::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|s| {
            let t = ts.iter().find(|t| t.id == s.stage_template_id)?;
            Some(StageInstanceOut::new(s, t))
        })
        .collect())
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list_stages(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<StageInstanceOut>> {
    let select = rbac::scoped(
        stage_instance::Entity::find(),
        p,
        R,
        Operation::View,
        hospital_cols(stage_instance::Column::HospitalId),
    )?;
    let page = paginate(&state.db, select, &stage_spec(), q).await?;
    let results = stage_outs(&state.db, page.results).await?;
    Ok(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    })
}

async fn visible_stage<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<stage_instance::Model> {
    rbac::find_visible(
        conn,
        stage_instance::Entity::find_by_id(id),
        p,
        R,
        hospital_cols(stage_instance::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get_stage(state: &AppState, p: &Principal, id: Uuid) -> AppResult<StageInstanceOut> {
    let m = visible_stage(&state.db, p, id).await?;
    stage_outs(&state.db, vec![m])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// Changes a stage by hand: its status (completing it sets `completed_at` and publishes
/// `StageCompleted` like an event would), physician, department or note.
///
/// # Errors
/// 404 out of view scope, 403 without transition permission, 400 for invalid fields or a completed
/// stage moved back.
pub async fn update_stage(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: StageInstanceIn,
) -> AppResult<StageInstanceOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible_stage(txn, p, id).await?;
        p.allow(
            R,
            Operation::Transition,
            Reach::hospital(before.hospital_id),
        )?;
        let mut m = before.clone();
        let mut form = Form::new(Mode::Patch);
        form.choice("status", i.status, &mut m.status, STAGE_STATUSES, false);
        if before.status == COMPLETED && m.status != COMPLETED {
            form.add(
                "status",
                format!(
                    "cannot move from COMPLETED to {}; allowed: COMPLETED",
                    m.status
                ),
            );
        }
        form.opt_fk(i.physician, &mut m.physician_id);
        form.opt_fk(i.department, &mut m.department_id);
        form.opt_text("note", i.note, &mut m.note, 2000);
        if let Some(ph) = m.physician_id
            && m.physician_id != before.physician_id
            && !organizations::physician_in_hospital(txn, m.hospital_id, ph).await?
        {
            form.add("physician", invalid_pk(ph));
        }
        if let Some(d) = m.department_id
            && m.department_id != before.department_id
            && !organizations::department_in_hospital(txn, m.hospital_id, d).await?
        {
            form.add("department", invalid_pk(d));
        }
        form.finish()?;
        let now = state.clock.now();
        let completing = m.status == COMPLETED && before.status != COMPLETED;
        if completing {
            m.completed_at = Some(now);
        }
        m.updated_at = now;
        let saved = m.into_active_model().reset_all().update(txn).await?;
        let inst = instance::Entity::find_by_id(saved.journey_instance_id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            if before.status != saved.status {
                "journey_stage.status_changed"
            } else {
                "journey_stage.updated"
            },
            id,
            saved.hospital_id,
            json!({"from": before.status, "to": saved.status, "journey_instance": inst.id}),
        )
        .await?;
        let stages = engine::instance_stages(txn, inst.id).await?;
        if completing {
            let code = stages
                .iter()
                .find(|(s, _)| s.id == saved.id)
                .map(|(_, t)| t.code.clone())
                .unwrap_or_default();
            events::publish(
                txn,
                state.clock.as_ref(),
                StageCompleted {
                    hospital: inst.hospital_id,
                    journey_instance: inst.id,
                    stage_instance: saved.id,
                    patient: inst.patient_id,
                    stage_code: code,
                    inbound_event: None,
                },
            )
            .await?;
        }
        let statuses: Vec<(bool, &str)> = stages
            .iter()
            .map(|(s, t)| (t.optional, s.status.as_str()))
            .collect();
        if inst.status == ACTIVE && engine::journey_done(&statuses) {
            let mut ia = inst.into_active_model();
            ia.status = Set(COMPLETED.into());
            ia.completed_at = Set(Some(now));
            ia.updated_at = Set(now);
            ia.update(txn).await?;
        }
        stage_outs(txn, vec![saved])
            .await?
            .pop()
            .ok_or(AppError::NotFound)
    })
    .await
}
