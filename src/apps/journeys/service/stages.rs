//! Stage templates (SPEC rule 1): code unique within its template, an order, the trigger event code,
//! an optional survey template with auto-send and a 0–72 hour delay, physician-required and optional
//! flags. Existing instances keep the stages they were created with.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{CODE_HINT, Form, Mode, R, audit, hospital_cols, invalid_pk, templates, valid_code};
use crate::apps::journeys::model::{MAX_SURVEY_DELAY_HOURS, stage_template};
use crate::apps::journeys::wire::{StageTemplateIn, StageTemplateOut};
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

const CODE_TAKEN: &str = "This template already has a stage with this code.";

fn spec() -> ListSpec<stage_template::Entity> {
    use stage_template::Column as C;
    ListSpec {
        search: vec![C::Code, C::NameEn, C::NameAr, C::TriggerEventCode],
        ordering: vec![
            ("order", C::StageOrder),
            ("code", C::Code),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![
            (C::JourneyTemplateId, Order::Asc),
            (C::StageOrder, Order::Asc),
            (C::Id, Order::Asc),
        ],
        filters: vec![
            Filter {
                name: "journey_template",
                column: C::JourneyTemplateId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "trigger_event_code",
                column: C::TriggerEventCode,
                kind: FilterKind::Text,
            },
            Filter {
                name: "code",
                column: C::Code,
                kind: FilterKind::Text,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<StageTemplateOut>> {
    let select = rbac::scoped(
        stage_template::Entity::find().filter(stage_template::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        hospital_cols(stage_template::Column::HospitalId),
    )?;
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(StageTemplateOut::from))
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<stage_template::Model> {
    rbac::find_visible(
        conn,
        stage_template::Entity::find_by_id(id).filter(stage_template::Column::DeletedAt.is_null()),
        p,
        R,
        hospital_cols(stage_template::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<StageTemplateOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

fn apply(form: &mut Form, i: StageTemplateIn, m: &mut stage_template::Model) {
    form.text(
        "code",
        i.code.map(|c| c.trim().to_uppercase()),
        &mut m.code,
        50,
    );
    if !form.has("code") && !m.code.is_empty() && !valid_code(&m.code) {
        form.add("code", CODE_HINT);
    }
    form.text("name_en", i.name_en, &mut m.name_en, 200);
    form.opt_text("name_ar", i.name_ar, &mut m.name_ar, 200);
    match i.order {
        Some(o) if (0..=10_000).contains(&o) => m.stage_order = o as i32,
        Some(_) => form.add("order", "Ensure this value is between 0 and 10000."),
        None if form.mode != Mode::Patch => form.add("order", "This field is required."),
        None => {}
    }
    form.text(
        "trigger_event_code",
        i.trigger_event_code.map(|c| c.trim().to_string()),
        &mut m.trigger_event_code,
        100,
    );
    if !form.has("trigger_event_code")
        && !m.trigger_event_code.is_empty()
        && !valid_code(&m.trigger_event_code)
    {
        form.add("trigger_event_code", CODE_HINT);
    }
    form.opt_fk(i.survey_template, &mut m.survey_template_id);
    form.flag(i.auto_send_survey, &mut m.auto_send_survey);
    match i.survey_delay_hours {
        Some(h) if (0..=MAX_SURVEY_DELAY_HOURS).contains(&h) => m.survey_delay_hours = h as i32,
        Some(_) => form.add(
            "survey_delay_hours",
            format!("Ensure this value is between 0 and {MAX_SURVEY_DELAY_HOURS}."),
        ),
        None => {}
    }
    form.flag(i.requires_physician, &mut m.requires_physician);
    form.flag(i.optional, &mut m.optional);
}

async fn code_taken<C: ConnectionTrait>(conn: &C, m: &stage_template::Model) -> AppResult<bool> {
    Ok(stage_template::Entity::find()
        .filter(stage_template::Column::JourneyTemplateId.eq(m.journey_template_id))
        .filter(stage_template::Column::Code.eq(m.code.as_str()))
        .filter(stage_template::Column::DeletedAt.is_null())
        .filter(stage_template::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

/// # Errors
/// 403 without create permission; 400 for invalid fields or a code the template already has.
pub async fn create(
    state: &AppState,
    p: &Principal,
    i: StageTemplateIn,
) -> AppResult<StageTemplateOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = stage_template::Model {
        id: new_id(),
        journey_template_id: Uuid::nil(),
        hospital_id: Uuid::nil(),
        code: String::new(),
        name_en: String::new(),
        name_ar: String::new(),
        stage_order: 0,
        trigger_event_code: String::new(),
        survey_template_id: None,
        auto_send_survey: false,
        survey_delay_hours: 0,
        requires_physician: false,
        optional: false,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk(
        "journey_template",
        i.journey_template,
        &mut m.journey_template_id,
    );
    apply(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        if !form.has("journey_template") {
            match templates::visible(txn, p, m.journey_template_id).await {
                Ok(t) if p.reaches(R, Operation::Create, Reach::hospital(t.hospital_id)) => {
                    m.hospital_id = t.hospital_id;
                }
                _ => form.add("journey_template", invalid_pk(m.journey_template_id)),
            }
        }
        if !form.has("journey_template") && !form.has("code") && code_taken(txn, &m).await? {
            form.add("code", CODE_TAKEN);
        }
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_stage_template.created",
            saved.id,
            saved.hospital_id,
            json!({"journey_template": saved.journey_template_id, "code": saved.code}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// PATCH or PUT; the template is fixed once created.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: StageTemplateIn,
    mode: Mode,
) -> AppResult<StageTemplateOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, Reach::hospital(before.hospital_id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        if i.journey_template
            .is_some_and(|t| t != before.journey_template_id)
        {
            form.add("journey_template", "This field cannot be changed.");
        }
        apply(&mut form, i, &mut m);
        if !form.has("code") && m.code != before.code && code_taken(txn, &m).await? {
            form.add("code", CODE_TAKEN);
        }
        form.finish()?;
        m.updated_at = state.clock.now();
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "code", CODE_TAKEN))?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_stage_template.updated",
            id,
            saved.hospital_id,
            json!({"code": saved.code, "trigger_event_code": saved.trigger_event_code}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// Soft delete; stage instances created from it stay.
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
        am.update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "journey_stage_template.deleted",
            id,
            hospital,
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
