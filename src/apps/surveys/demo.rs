//! The `--demo` seed's surveys: three bilingual templates bound to the demo journeys' stages (so the
//! real pipeline — StageCompleted → instance → invitation job — creates and sends the surveys while the
//! journeys' events are replayed), then answers through the public submit for most of them, with a
//! spread of scores per department and stage so the dashboard has something to show.

use std::collections::HashMap;

use anyhow::Context;
use chrono::Duration;
use rand::Rng;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use super::engine::{self, Q};
use super::model::{OPENED, SENT, instance};
use super::service::{delivery, public, questions, templates};
use super::token;
use crate::platform::clock::{Clock, TestClock};
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;

fn app_err(e: crate::platform::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

fn body<T: serde::de::DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    serde_json::from_value(v).context("demo survey body")
}

/// Creates the hospital's demo templates; returns stage code → template id for the journeys seed.
///
/// # Errors
/// Service errors.
pub async fn templates_for(
    state: &AppState,
    admin: &Principal,
    hospital: Uuid,
) -> anyhow::Result<HashMap<String, Uuid>> {
    let mut out = HashMap::new();
    let consult = template(
        state,
        admin,
        hospital,
        ("OPD consultation", "استشارة العيادات الخارجية", "AVERAGE"),
        &[
            json!({"question_type": "RATING", "text_en": "How would you rate your doctor's care?", "text_ar": "كيف تقيّم رعاية طبيبك؟"}),
            json!({"question_type": "YES_NO", "text_en": "Were you seen within 30 minutes of your appointment?", "text_ar": "هل تمت رؤيتك خلال ٣٠ دقيقة من موعدك؟"}),
            json!({"question_type": "LIKERT", "text_en": "The doctor explained my condition clearly.", "text_ar": "شرح لي الطبيب حالتي بوضوح."}),
            json!({"question_type": "SINGLE_CHOICE", "text_en": "The waiting area was", "text_ar": "كانت منطقة الانتظار",
                   "choices": [{"value": "very_clean", "label_en": "Very clean", "label_ar": "نظيفة جدًا", "score": 100},
                               {"value": "clean", "label_en": "Clean", "label_ar": "نظيفة", "score": 70},
                               {"value": "not_clean", "label_en": "Not clean", "label_ar": "غير نظيفة", "score": 0}]}),
            json!({"question_type": "TEXT", "required": true, "text_en": "We are sorry. What should we improve?", "text_ar": "نأسف لذلك. ما الذي يجب أن نحسّنه؟",
                   "branch": {"question": 0, "op": "lte", "value": 2}}),
        ],
    )
    .await?;
    out.insert("OPD_MD_CONSULT".to_string(), consult);
    let discharge = template(
        state,
        admin,
        hospital,
        ("Inpatient discharge", "الخروج من التنويم", "WEIGHTED"),
        &[
            json!({"question_type": "RATING", "weight": 3, "text_en": "Overall, how was your stay?", "text_ar": "بشكل عام، كيف كانت إقامتك؟"}),
            json!({"question_type": "RATING", "weight": 2, "text_en": "How well did the nurses respond to your needs?", "text_ar": "ما مدى استجابة التمريض لاحتياجاتك؟"}),
            json!({"question_type": "YES_NO", "weight": 1, "text_en": "Were your discharge medicines explained to you?", "text_ar": "هل شُرحت لك أدوية الخروج؟"}),
            json!({"question_type": "MULTIPLE_CHOICE", "required": false, "weight": 1, "text_en": "What went well?", "text_ar": "ما الذي كان جيدًا؟",
                   "choices": [{"value": "food", "label_en": "Meals", "label_ar": "الوجبات", "score": 100},
                               {"value": "room", "label_en": "Room comfort", "label_ar": "راحة الغرفة", "score": 100},
                               {"value": "quiet", "label_en": "Quiet at night", "label_ar": "الهدوء ليلًا", "score": 100}]}),
            json!({"question_type": "TEXT", "required": false, "text_en": "Anything else you would like to tell us?", "text_ar": "هل هناك ما تود إخبارنا به؟"}),
        ],
    )
    .await?;
    out.insert("DISCHARGE".to_string(), discharge);
    let nps = template(
        state,
        admin,
        hospital,
        ("Would you recommend us?", "هل توصي بنا؟", "NPS"),
        &[
            json!({"question_type": "NPS", "text_en": "How likely are you to recommend our hospital to family and friends?", "text_ar": "ما مدى احتمال أن توصي بمستشفانا لعائلتك وأصدقائك؟"}),
            json!({"question_type": "TEXT", "required": false, "text_en": "What is the main reason for your score?", "text_ar": "ما السبب الرئيسي لتقييمك؟"}),
        ],
    )
    .await?;
    out.insert("PHARMACY".to_string(), nps);
    out.insert("HANDOVER".to_string(), nps);
    Ok(out)
}

async fn template(
    state: &AppState,
    admin: &Principal,
    hospital: Uuid,
    (en, ar, method): (&str, &str, &str),
    qs: &[Value],
) -> anyhow::Result<Uuid> {
    let t = templates::create(
        state,
        admin,
        body(
            json!({"hospital": hospital, "name_en": en, "name_ar": ar, "kind": "STAGE",
                    "scoring_method": method, "active": true}),
        )?,
    )
    .await
    .map_err(app_err)?;
    let mut ids: Vec<Uuid> = vec![];
    for (i, q) in qs.iter().enumerate() {
        let mut q = q.clone();
        q["survey_template"] = json!(t.id);
        q["order"] = json!((i + 1) * 10);
        // Demo branches name earlier questions by position.
        if let Some(pos) = q["branch"]["question"].as_u64() {
            q["branch"]["question"] = json!(ids.get(pos as usize));
        }
        let made = questions::create(state, admin, body(q)?)
            .await
            .map_err(app_err)?;
        ids.push(made.id);
    }
    Ok(t.id)
}

const COMMENTS_EN: &[&str] = &[
    "The wait was too long.",
    "Nobody explained the results to me.",
    "Staff were kind but the clinic was crowded.",
];
const COMMENTS_AR: &[&str] = &[
    "كان الانتظار طويلًا جدًا.",
    "لم يشرح لي أحد النتائج.",
    "الموظفون لطفاء لكن العيادة كانت مزدحمة.",
];

/// Answers most sent surveys of the hospital at a realistic time after sending; departments and
/// stages get different typical satisfaction so the heatmap shows contrast. Then the sweep runs so
/// unanswered old surveys get their reminder.
///
/// # Errors
/// Database or service errors.
pub async fn answer(state: &AppState, clock: &TestClock, hospital: Uuid) -> anyhow::Result<()> {
    let end = clock.now();
    let registry = std::sync::Arc::new(crate::startup::job_registry(state)?);
    let worker = crate::startup::worker(state, registry);
    worker.drain().await?;
    let sent = instance::Entity::find()
        .filter(instance::Column::HospitalId.eq(hospital))
        .filter(instance::Column::Status.is_in([SENT, OPENED]))
        .order_by_asc(instance::Column::SentAt)
        .all(&state.db)
        .await?;
    let mut rng = rand::rng();
    let secret = state.keys.secret.expose().clone();
    for (n, m) in sent.iter().enumerate() {
        if rng.random_range(0..100) >= 75 {
            continue;
        }
        let Some(sent_at) = m.sent_at else { continue };
        let at = (sent_at + Duration::hours(rng.random_range(1..30))).min(end);
        clock.set(at);
        let key = format!(
            "{}{}",
            m.department_id.map(|d| d.to_string()).unwrap_or_default(),
            m.stage_code
        );
        let bias = (key.bytes().map(u32::from).sum::<u32>() % 5) as f64 / 10.0;
        let p: f64 = (0.45 + bias + rng.random_range(-0.35..0.35)).clamp(0.0, 1.0);
        let form = public::form_of(&state.db, m, OPENED)
            .await
            .map_err(app_err)?;
        let mut given = serde_json::Map::new();
        let mut seen: HashMap<Uuid, Value> = HashMap::new();
        for q in &form.questions {
            let eq = Q {
                id: q.id,
                order: q.order,
                qtype: q.question_type.clone(),
                required: q.required,
                weight: 1.0,
                choices: q.choices.clone(),
                branch: q.branch.clone(),
            };
            if !engine::visible(&eq, &seen) {
                continue;
            }
            let v = match q.question_type.as_str() {
                "RATING" | "LIKERT" => json!(1 + (p * 4.0).round() as i64),
                "NPS" => json!((p * 10.0).round() as i64),
                "YES_NO" => json!(p > 0.35),
                "SINGLE_CHOICE" => {
                    let best = q.choices.iter().min_by(|a, b| {
                        (a.score - p * 100.0)
                            .abs()
                            .total_cmp(&(b.score - p * 100.0).abs())
                    });
                    json!(best.map(|c| c.value.clone()))
                }
                "MULTIPLE_CHOICE" if p > 0.5 => {
                    json!(
                        q.choices
                            .iter()
                            .take(1 + n % 2)
                            .map(|c| c.value.clone())
                            .collect::<Vec<_>>()
                    )
                }
                "TEXT" if q.required || p < 0.4 => {
                    let list = if m.language == "ar" {
                        COMMENTS_AR
                    } else {
                        COMMENTS_EN
                    };
                    json!(list[n % list.len()])
                }
                _ => continue,
            };
            seen.insert(q.id, v.clone());
            given.insert(q.id.to_string(), v);
        }
        let tok = token::for_instance(&secret, m.id);
        public::submit(state, Some(&format!("demo-{n}")), &tok, Some(given))
            .await
            .map_err(app_err)?;
    }
    clock.set(end);
    delivery::sweep(&state.db, clock).await.map_err(app_err)?;
    worker.drain().await?;
    Ok(())
}
