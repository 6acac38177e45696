//! The patient's side (SPEC rule 5): a link token opens the form once it is checked — a token that
//! matches nothing is "invalid" (API 404) and reveals nothing; a real token whose survey was answered
//! or expired gets its own answer (API 410). Opening marks OPENED; submitting validates every answer,
//! stores them, scores the instance (rule 6) and publishes the events, all in one transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde_json::json;

use super::audit;
use super::questions::to_q;
use super::templates::questions_of;
use crate::apps::organizations;
use crate::apps::surveys::engine;
use crate::apps::surveys::model::{
    CANCELLED, COMPLETED, DEFAULT_THRESHOLD, EXPIRED, FAILED, OPENED, PENDING, SENT, instance,
    response, template,
};
use crate::apps::surveys::token;
use crate::apps::surveys::wire::{PublicQuestion, PublicSurvey, SubmitOut};
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::events::{self, SurveyCompleted, SurveyScoredNegative};
use crate::platform::ids::new_id;
use crate::platform::state::AppState;

/// What a token leads to.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Matches nothing (or was never a token).
    Invalid,
    /// Already answered.
    Answered {
        language: String,
    },
    /// Past its date, or cancelled.
    Expired {
        language: String,
    },
    Open(Box<instance::Model>),
}

/// Statuses in which a link can still be answered (a FAILED delivery may still have reached the
/// patient by another route).
const ANSWERABLE: &[&str] = &[PENDING, SENT, OPENED, FAILED];

/// # Errors
/// Database errors.
pub async fn lookup<C: ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<chrono::Utc>,
    raw: &str,
) -> AppResult<Lookup> {
    if !token::plausible(raw) {
        return Ok(Lookup::Invalid);
    }
    let Some(m) = instance::Entity::find()
        .filter(instance::Column::TokenHash.eq(token::hash(raw)))
        .one(conn)
        .await?
    else {
        return Ok(Lookup::Invalid);
    };
    let language = m.language.clone();
    Ok(match m.status.as_str() {
        COMPLETED => Lookup::Answered { language },
        EXPIRED | CANCELLED => Lookup::Expired { language },
        s if ANSWERABLE.contains(&s) && m.expires_at > now => Lookup::Open(Box::new(m)),
        _ => Lookup::Expired { language },
    })
}

fn refuse(l: &Lookup) -> AppError {
    match l {
        Lookup::Answered { .. } => AppError::Gone("This survey has already been answered.".into()),
        Lookup::Expired { .. } => AppError::Gone("This survey link has expired.".into()),
        _ => AppError::NotFound,
    }
}

fn limit(state: &AppState, ip: Option<&str>) -> AppResult<()> {
    state
        .limiters
        .survey_public
        .check(&format!("survey:{}", ip.unwrap_or("unknown")), 1)
}

/// The form for a token; the first opening marks the instance OPENED.
///
/// # Errors
/// 429 over the per-address rate; 404 invalid token; 410 answered or expired.
pub async fn open(state: &AppState, ip: Option<&str>, raw: &str) -> AppResult<PublicSurvey> {
    let (l, form) = page(state, ip, raw).await?;
    form.ok_or_else(|| refuse(&l))
}

/// For the HTML page and the API alike: rate limit, look-up and — for an open link — the form, the
/// first opening marking the instance OPENED.
///
/// # Errors
/// 429 over the per-address rate; database errors.
pub async fn page(
    state: &AppState,
    ip: Option<&str>,
    raw: &str,
) -> AppResult<(Lookup, Option<PublicSurvey>)> {
    limit(state, ip)?;
    let now = state.clock.now();
    let l = lookup(&state.db, now, raw).await?;
    let Lookup::Open(m) = &l else {
        return Ok((l, None));
    };
    if m.opened_at.is_none() {
        // Only the first opening writes; a concurrent second one changes nothing.
        instance::Entity::update_many()
            .col_expr(instance::Column::Status, Expr::value(OPENED))
            .col_expr(instance::Column::OpenedAt, Expr::value(now))
            .col_expr(instance::Column::UpdatedAt, Expr::value(now))
            .filter(instance::Column::Id.eq(m.id))
            .filter(instance::Column::OpenedAt.is_null())
            .filter(instance::Column::Status.is_in(ANSWERABLE.iter().copied()))
            .exec(&state.db)
            .await?;
    }
    let form = form_of(&state.db, m, OPENED).await?;
    Ok((l, Some(form)))
}

/// The form's content for an open instance (no write).
///
/// # Errors
/// Database errors.
pub async fn form_of<C: ConnectionTrait>(
    conn: &C,
    m: &instance::Model,
    status: &str,
) -> AppResult<PublicSurvey> {
    let t = template::Entity::find_by_id(m.survey_template_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let (hospital_en, hospital_ar) = organizations::hospital_names(conn, m.hospital_id)
        .await?
        .unwrap_or_default();
    let questions = questions_of(conn, t.id)
        .await?
        .into_iter()
        .map(|q| {
            let e = to_q(&q);
            PublicQuestion {
                id: q.id,
                order: q.question_order,
                question_type: q.question_type,
                text_en: q.text_en,
                text_ar: q.text_ar,
                required: q.required,
                choices: e.choices,
                branch: e.branch,
            }
        })
        .collect();
    Ok(PublicSurvey {
        status: status.to_string(),
        language: m.language.clone(),
        title_en: t.name_en,
        title_ar: t.name_ar,
        hospital_en,
        hospital_ar,
        expires_at: m.expires_at,
        questions,
    })
}

/// Submits the answers: every answer checked (errors keyed by question id, nothing saved), then the
/// responses, the score, COMPLETED, `SurveyCompleted` and — when negative — `SurveyScoredNegative`,
/// in one transaction. A second submission of the same link is refused (410).
///
/// # Errors
/// 429, 404, 410 as for [`open`]; 400 per question.
pub async fn submit(
    state: &AppState,
    ip: Option<&str>,
    raw: &str,
    answers: Option<serde_json::Map<String, serde_json::Value>>,
) -> AppResult<SubmitOut> {
    limit(state, ip)?;
    let Some(given) = answers else {
        return Err(AppError::field("answers", "This field is required."));
    };
    in_txn(&state.db, async move |txn| {
        let now = state.clock.now();
        let l = lookup(txn, now, raw).await?;
        let Lookup::Open(m) = l else {
            return Err(refuse(&l));
        };
        let t = template::Entity::find_by_id(m.survey_template_id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        let qs: Vec<engine::Q> = questions_of(txn, t.id).await?.iter().map(to_q).collect();
        let accepted = engine::check_submission(&qs, &given).map_err(|e| {
            let mut f = FieldErrors::new();
            for (k, msgs) in e {
                for msg in msgs {
                    f.add(k.clone(), msg);
                }
            }
            AppError::Validation(f)
        })?;
        let threshold = match t.negative_threshold {
            Some(v) => v,
            None => organizations::hospital_settings(txn, m.hospital_id)
                .await
                .map(|s| s.negative_threshold)
                .unwrap_or(DEFAULT_THRESHOLD),
        };
        let scored = engine::score(&t.scoring_method, &qs, &accepted, threshold);
        // Claim the instance first: of two simultaneous submissions only one moves it.
        let claimed = instance::Entity::update_many()
            .col_expr(instance::Column::Status, Expr::value(COMPLETED))
            .col_expr(instance::Column::CompletedAt, Expr::value(now))
            .col_expr(instance::Column::Score, Expr::value(scored.score))
            .col_expr(instance::Column::IsNegative, Expr::value(scored.is_negative))
            .col_expr(instance::Column::UpdatedAt, Expr::value(now))
            .filter(instance::Column::Id.eq(m.id))
            .filter(instance::Column::Status.is_in(ANSWERABLE.iter().copied()))
            .exec(txn)
            .await?
            .rows_affected;
        if claimed == 0 {
            return Err(AppError::Gone(
                "This survey has already been answered.".into(),
            ));
        }
        if m.opened_at.is_none() {
            let mut am = instance::Entity::find_by_id(m.id)
                .one(txn)
                .await?
                .ok_or(AppError::NotFound)?
                .into_active_model();
            am.opened_at = sea_orm::Set(Some(now));
            am.update(txn).await?;
        }
        for a in &accepted {
            response::Model {
                id: new_id(),
                survey_instance_id: m.id,
                question_id: a.question,
                hospital_id: m.hospital_id,
                department_id: m.department_id,
                physician_id: m.physician_id,
                value: a.value.clone(),
                text_value: a.text.clone(),
                score: a.score,
                created_at: now,
            }
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await?;
        }
        audit(
            txn,
            state.clock.as_ref(),
            &Actor {
                user_id: None,
                label: "patient".into(),
                ip: ip.map(str::to_string),
            },
            "survey_instance.completed",
            m.id,
            m.hospital_id,
            json!({"score": scored.score, "is_negative": scored.is_negative, "answers": accepted.len()}),
        )
        .await?;
        events::publish(
            txn,
            state.clock.as_ref(),
            SurveyCompleted {
                survey_instance: m.id,
                hospital: m.hospital_id,
                template_kind: t.kind.clone(),
                score: scored.score,
                is_negative: scored.is_negative,
            },
        )
        .await?;
        if scored.is_negative {
            events::publish(
                txn,
                state.clock.as_ref(),
                SurveyScoredNegative {
                    survey_instance: m.id,
                    hospital: m.hospital_id,
                    department: m.department_id,
                    physician: m.physician_id,
                    template_kind: t.kind.clone(),
                    score: scored.score.unwrap_or(0.0),
                },
            )
            .await?;
        }
        Ok(SubmitOut {
            status: COMPLETED.into(),
        })
    })
    .await
}
