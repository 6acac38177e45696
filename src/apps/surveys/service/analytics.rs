//! The survey analytics dashboard: satisfaction by hospital, department, physician, journey type and
//! stage, the trend over time and a department × stage heatmap — each a GROUP BY over the caller's
//! scoped, completed instances (filters as the instances list). Scores are on 0–100; an NPS-method
//! instance's 0–10 answer counts ×10 there, and the NPS card is %promoters − %detractors.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::R;
use super::instances::{cols, spec};
use crate::apps::surveys::engine;
use crate::apps::surveys::model::{COMPLETED, instance, template};
use crate::platform::error::AppResult;
use crate::platform::pagination::{ListQuery, apply};
use crate::platform::rbac::{self, Operation, Principal};
use crate::platform::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bucket {
    /// The group's value: an id, a journey type, a stage code or a date.
    pub key: String,
    pub count: i64,
    /// Mean satisfaction, 0–100.
    pub average: Option<f64>,
    pub negative: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatCell {
    pub department: String,
    pub stage: String,
    pub count: i64,
    pub average: Option<f64>,
    pub negative: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsOut {
    pub completed: i64,
    pub negative: i64,
    pub average: Option<f64>,
    /// Over NPS-method surveys; null without any.
    pub nps: Option<f64>,
    pub by_hospital: Vec<Bucket>,
    pub by_department: Vec<Bucket>,
    pub by_physician: Vec<Bucket>,
    pub by_journey_type: Vec<Bucket>,
    pub by_stage: Vec<Bucket>,
    /// Per day of completion (UTC), oldest first.
    pub trend: Vec<Bucket>,
    pub heatmap: Vec<HeatCell>,
}

/// One group of a GROUP BY: a uuid key, a text key, the template (to scale NPS sums), count, sum of
/// scores, negatives. Extra grouping columns are harmless: [`fold`] re-aggregates by the key it needs.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
struct Agg {
    ku: Option<Uuid>,
    kt: Option<String>,
    t: Uuid,
    n: i64,
    s: Option<f64>,
    neg: i64,
}

fn base(p: &Principal, q: &ListQuery) -> AppResult<Select<instance::Entity>> {
    let s = rbac::scoped(instance::Entity::find(), p, R, Operation::View, cols())?
        .filter(instance::Column::Status.eq(COMPLETED));
    let mut s = apply(s, &spec(), q)?;
    // The list's ordering cannot stand in a GROUP BY query.
    QueryTrait::query(&mut s).clear_order_by();
    Ok(s)
}

async fn grouped(
    state: &AppState,
    s: Select<instance::Entity>,
    ku: instance::Column,
    kt: Expr,
) -> AppResult<Vec<Agg>> {
    let neg = Expr::case(instance::Column::IsNegative.eq(true), 1).finally(0);
    Ok(s.select_only()
        .column_as(Expr::col(ku), "ku")
        .column_as(kt.clone(), "kt")
        .column_as(Expr::col(instance::Column::SurveyTemplateId), "t")
        .column_as(Expr::col(instance::Column::Id).count(), "n")
        .column_as(
            Expr::from(Func::sum(Expr::col(instance::Column::Score))),
            "s",
        )
        .column_as(Expr::from(Func::sum(neg)), "neg")
        .group_by(Expr::col(ku))
        .group_by(kt)
        .group_by(instance::Column::SurveyTemplateId)
        .into_model::<Agg>()
        .all(&state.db)
        .await?)
}

/// Folds rows into buckets by `key`, scaling NPS-method sums to 0–100.
fn fold(
    rows: &[Agg],
    nps_templates: &HashMap<Uuid, bool>,
    key: impl Fn(&Agg) -> String,
) -> Vec<Bucket> {
    let mut acc: BTreeMap<String, (i64, f64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let e = acc.entry(key(r)).or_default();
        let scale = if nps_templates.get(&r.t).copied().unwrap_or(false) {
            10.0
        } else {
            1.0
        };
        e.0 += r.n;
        if let Some(s) = r.s {
            e.1 += s * scale;
            e.2 += r.n;
        }
        e.3 += r.neg;
    }
    acc.into_iter()
        .map(|(key, (count, sum, scored, negative))| Bucket {
            key,
            count,
            average: (scored > 0).then(|| ((sum / scored as f64) * 10.0).round() / 10.0),
            negative,
        })
        .collect()
}

fn uuid_key(r: &Agg) -> String {
    r.ku.map(|u| u.to_string()).unwrap_or_default()
}

fn text_key(r: &Agg) -> String {
    r.kt.clone().unwrap_or_default()
}

/// The dashboard's aggregates within the caller's scope and the list filters in `q`.
///
/// # Errors
/// 403 without view permission; 400 for bad filters.
pub async fn dashboard(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<AnalyticsOut> {
    let nps_templates: HashMap<Uuid, bool> = template::Entity::find()
        .select_only()
        .column(template::Column::Id)
        .column(template::Column::ScoringMethod)
        .into_tuple::<(Uuid, String)>()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|(id, m)| (id, m == "NPS"))
        .collect();
    use instance::Column as C;
    let jt = || Expr::col(C::JourneyType);
    let hospital_rows = grouped(state, base(p, q)?, C::HospitalId, jt()).await?;
    let overall = fold(&hospital_rows, &nps_templates, |_| "all".into());
    let by_hospital = fold(&hospital_rows, &nps_templates, uuid_key);
    let by_journey_type = fold(&hospital_rows, &nps_templates, text_key);
    let dept_rows = grouped(state, base(p, q)?, C::DepartmentId, Expr::col(C::StageCode)).await?;
    let by_department = fold(&dept_rows, &nps_templates, uuid_key);
    let by_stage = fold(&dept_rows, &nps_templates, text_key);
    let heatmap = fold(&dept_rows, &nps_templates, |r| {
        format!("{}|{}", uuid_key(r), text_key(r))
    })
    .into_iter()
    .map(|b| {
        let (d, s) = b.key.split_once('|').unwrap_or(("", ""));
        HeatCell {
            department: d.to_string(),
            stage: s.to_string(),
            count: b.count,
            average: b.average,
            negative: b.negative,
        }
    })
    .filter(|c| !c.department.is_empty() && !c.stage.is_empty())
    .collect();
    let phys_rows = grouped(state, base(p, q)?, C::PhysicianId, jt()).await?;
    let by_physician = fold(&phys_rows, &nps_templates, uuid_key);
    // The date part of the ISO text (SQLite) or of the timestamptz text (PostgreSQL, UTC sessions).
    let day = Expr::cust("substr(CAST(completed_at AS TEXT), 1, 10)");
    let trend_rows = grouped(state, base(p, q)?, C::HospitalId, day).await?;
    let trend = fold(&trend_rows, &nps_templates, text_key);
    let nps_ids: Vec<Uuid> = nps_templates
        .iter()
        .filter(|(_, v)| **v)
        .map(|(k, _)| *k)
        .collect();
    let nps_scores: Vec<i64> = if nps_ids.is_empty() {
        vec![]
    } else {
        base(p, q)?
            .filter(C::SurveyTemplateId.is_in(nps_ids))
            .filter(C::Score.is_not_null())
            .select_only()
            .column(C::Score)
            .limit(200_000)
            .into_tuple::<f64>()
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| s.round() as i64)
            .collect()
    };
    let o = overall.first();
    Ok(AnalyticsOut {
        completed: o.map_or(0, |b| b.count),
        negative: o.map_or(0, |b| b.negative),
        average: o.and_then(|b| b.average),
        nps: engine::nps(&nps_scores),
        by_hospital,
        by_department: by_department
            .into_iter()
            .filter(|b| !b.key.is_empty())
            .collect(),
        by_physician: by_physician
            .into_iter()
            .filter(|b| !b.key.is_empty())
            .collect(),
        by_journey_type: by_journey_type
            .into_iter()
            .filter(|b| !b.key.is_empty())
            .collect(),
        by_stage: by_stage.into_iter().filter(|b| !b.key.is_empty()).collect(),
        trend,
        heatmap,
    })
}
