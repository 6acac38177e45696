//! Questions of a survey template: order, type, bilingual text, choices with bilingual labels and
//! scores, required, weight and an optional branch condition (validated against the earlier
//! questions). A change to a template in use goes to a new version of it (see `templates::editable`).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    QueryFilter,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::templates::{self, editable, questions_of};
use super::{Form, Mode, R, audit, hospital_cols, invalid_pk};
use crate::apps::surveys::engine::{self, Branch, Choice, Q};
use crate::apps::surveys::model::{QUESTION_TYPES, question};
use crate::apps::surveys::wire::{QuestionIn, QuestionOut};
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach};
use crate::platform::state::AppState;

fn spec() -> ListSpec<question::Entity> {
    use question::Column as C;
    ListSpec {
        search: vec![C::TextEn, C::TextAr],
        ordering: vec![("order", C::QuestionOrder), ("created_at", C::CreatedAt)],
        default_ordering: vec![
            (C::SurveyTemplateId, Order::Asc),
            (C::QuestionOrder, Order::Asc),
            (C::Id, Order::Asc),
        ],
        filters: vec![
            Filter {
                name: "survey_template",
                column: C::SurveyTemplateId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "question_type",
                column: C::QuestionType,
                kind: FilterKind::Choice(QUESTION_TYPES),
            },
        ],
    }
}

/// The engine's view of a question row.
pub fn to_q(m: &question::Model) -> Q {
    Q {
        id: m.id,
        order: m.question_order,
        qtype: m.question_type.clone(),
        required: m.required,
        weight: m.weight,
        choices: serde_json::from_value(m.choices.clone()).unwrap_or_default(),
        branch: m
            .branch
            .clone()
            .and_then(|b| serde_json::from_value(b).ok()),
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<QuestionOut>> {
    let select = rbac::scoped(
        question::Entity::find().filter(question::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        hospital_cols(question::Column::HospitalId),
    )?;
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(QuestionOut::from))
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<question::Model> {
    rbac::find_visible(
        conn,
        question::Entity::find_by_id(id).filter(question::Column::DeletedAt.is_null()),
        p,
        R,
        hospital_cols(question::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<QuestionOut> {
    Ok(visible(&state.db, p, id).await?.into())
}

fn apply(form: &mut Form, i: QuestionIn, m: &mut question::Model) {
    match i.order {
        Some(o) if (0..=10_000).contains(&o) => m.question_order = o as i32,
        Some(_) => form.add("order", "Ensure this value is between 0 and 10000."),
        None if form.mode != Mode::Patch => form.add("order", "This field is required."),
        None => {}
    }
    form.choice(
        "question_type",
        i.question_type,
        &mut m.question_type,
        QUESTION_TYPES,
        true,
    );
    form.text("text_en", i.text_en, &mut m.text_en, 1000);
    form.opt_text("text_ar", i.text_ar, &mut m.text_ar, 1000);
    if let Some(c) = i.choices {
        let c = if c.is_null() { json!([]) } else { c };
        match serde_json::from_value::<Vec<Choice>>(c.clone()) {
            Ok(_) => m.choices = c,
            Err(_) => form.add(
                "choices",
                "Give a list of {\"value\", \"label_en\", \"label_ar\", \"score\"} objects.",
            ),
        }
    }
    form.flag(i.required, &mut m.required);
    match i.weight {
        Some(w) if (0.0..=100.0).contains(&w) => m.weight = w,
        Some(_) => form.add("weight", "Ensure this value is between 0 and 100."),
        None => {}
    }
    match i.branch {
        Some(Some(b)) => match serde_json::from_value::<Branch>(b.clone()) {
            Ok(_) => m.branch = Some(b),
            Err(_) => form.add(
                "branch",
                "Write the condition as {\"question\": \"<id>\", \"op\": \"lte\", \"value\": 2}.",
            ),
        },
        Some(None) => m.branch = None,
        None => {}
    }
}

/// Rules that need the other questions of the template.
fn check(form: &mut Form, m: &question::Model, others: &[question::Model]) {
    if !form.has("choices") && !form.has("question_type") {
        let choices: Vec<Choice> = serde_json::from_value(m.choices.clone()).unwrap_or_default();
        for e in engine::check_choices(&m.question_type, &choices) {
            form.add("choices", e);
        }
    }
    if !form.has("branch")
        && let Some(b) = m
            .branch
            .clone()
            .and_then(|b| serde_json::from_value::<Branch>(b).ok())
    {
        let qs: Vec<Q> = others.iter().filter(|o| o.id != m.id).map(to_q).collect();
        if let Err(e) = engine::check_branch(&b, m.question_order, &qs) {
            form.add("branch", e);
        }
    }
}

/// Re-points a branch condition given against an older version of the template.
fn remap_branch(m: &mut question::Model, map: &std::collections::HashMap<Uuid, Uuid>) {
    if let Some(b) = m.branch.as_mut()
        && let Some(new) = b
            .get("question")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .and_then(|s| map.get(&s))
    {
        b["question"] = json!(new);
    }
}

/// Adds a question; on a template in use, to a new version of it.
///
/// # Errors
/// 403 without permission; 400 for invalid fields or an invalid branch condition.
pub async fn create(state: &AppState, p: &Principal, i: QuestionIn) -> AppResult<QuestionOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = question::Model {
        id: new_id(),
        survey_template_id: Uuid::nil(),
        hospital_id: Uuid::nil(),
        question_order: 0,
        question_type: String::new(),
        text_en: String::new(),
        text_ar: String::new(),
        choices: json!([]),
        required: true,
        weight: 1.0,
        branch: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk(
        "survey_template",
        i.survey_template,
        &mut m.survey_template_id,
    );
    apply(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        let mut template = None;
        if !form.has("survey_template") {
            match templates::visible(txn, p, m.survey_template_id).await {
                Ok(t) if p.reaches(R, Operation::Edit, Reach::hospital(t.hospital_id)) => {
                    m.hospital_id = t.hospital_id;
                    template = Some(t);
                }
                _ => form.add("survey_template", invalid_pk(m.survey_template_id)),
            }
        }
        if let Some(t) = &template {
            check(&mut form, &m, &questions_of(txn, t.id).await?);
        }
        form.finish()?;
        let Some(t) = template else {
            return Err(AppError::NotFound);
        };
        let actor = Actor::of(p);
        let (target, map) = editable(txn, state.clock.as_ref(), &actor, t).await?;
        m.survey_template_id = target.id;
        remap_branch(&mut m, &map);
        let saved = m.into_active_model().reset_all().insert(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &actor,
            "survey_question.created",
            saved.id,
            saved.hospital_id,
            json!({"survey_template": saved.survey_template_id, "question_type": saved.question_type}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// PATCH or PUT; on a template in use the change lands in a new version (the answer carries the
/// new question's id).
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: QuestionIn,
    mode: Mode,
) -> AppResult<QuestionOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, Reach::hospital(before.hospital_id))?;
        let mut form = Form::new(mode);
        if i.survey_template
            .is_some_and(|t| t != before.survey_template_id)
        {
            form.add("survey_template", "This field cannot be changed.");
        }
        let mut m = before.clone();
        apply(&mut form, i, &mut m);
        check(
            &mut form,
            &m,
            &questions_of(txn, before.survey_template_id).await?,
        );
        form.finish()?;
        let t = templates::visible(txn, p, before.survey_template_id).await?;
        let actor = Actor::of(p);
        let (target, map) = editable(txn, state.clock.as_ref(), &actor, t).await?;
        m.id = map.get(&id).copied().unwrap_or(id);
        m.survey_template_id = target.id;
        remap_branch(&mut m, &map);
        m.updated_at = state.clock.now();
        let saved = m.into_active_model().reset_all().update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &actor,
            "survey_question.updated",
            saved.id,
            saved.hospital_id,
            json!({"survey_template": saved.survey_template_id}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// Soft delete (from a new version when the template is in use). Refused while another question's
/// condition depends on it.
///
/// # Errors
/// 404 out of view scope, 403 without permission, 400 when a condition depends on it.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(R, Operation::Delete, Reach::hospital(m.hospital_id))?;
        let siblings = questions_of(txn, m.survey_template_id).await?;
        if siblings
            .iter()
            .filter_map(|q| to_q(q).branch)
            .any(|b| b.question == id)
        {
            return Err(AppError::field(
                "non_field_errors",
                "Another question's condition depends on this question; change it first.",
            ));
        }
        let t = templates::visible(txn, p, m.survey_template_id).await?;
        let actor = Actor::of(p);
        let (_, map) = editable(txn, state.clock.as_ref(), &actor, t).await?;
        let target = map.get(&id).copied().unwrap_or(id);
        let Some(row) = question::Entity::find_by_id(target).one(txn).await? else {
            return Err(AppError::NotFound);
        };
        let hospital = row.hospital_id;
        let mut am = row.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.update(txn).await?;
        audit(
            txn,
            state.clock.as_ref(),
            &actor,
            "survey_question.deleted",
            target,
            hospital,
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
