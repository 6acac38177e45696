//! The template builder's use cases: moving a stage up or down (the template's stages are renumbered
//! 1..n so the order stays contiguous, in one transaction, audited) and the order a new stage gets.
//! The builder's test panel is [`super::templates::simulate`] (pure, writes nothing).

use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::json;
use uuid::Uuid;

use super::engine::template_stages;
use super::{R, audit, templates};
use crate::apps::journeys::wire::StageTemplateOut;
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::rbac::{Operation, Principal, Reach};
use crate::platform::state::AppState;

/// Which way a stage moves in its template's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            _ => None,
        }
    }
}

/// The sequence `ids` (in current order) with `moved` one place up or down. At either end the
/// sequence is unchanged. `None` when `moved` is not in it.
pub fn reorder(ids: &[Uuid], moved: Uuid, dir: Direction) -> Option<Vec<Uuid>> {
    let i = ids.iter().position(|x| *x == moved)?;
    let mut out = ids.to_vec();
    match dir {
        Direction::Up if i > 0 => out.swap(i, i - 1),
        Direction::Down if i + 1 < out.len() => out.swap(i, i + 1),
        _ => {}
    }
    Some(out)
}

/// Moves stage `stage` of template `template` one place, renumbering every stage of the template
/// 1..n. Audited `journey_stage_template.reordered` on the template with the new order of codes.
/// Journeys already started keep the order they were created with.
///
/// # Errors
/// 404 when the template or the stage is out of scope (or the stage belongs to another template),
/// 403 without edit permission.
pub async fn move_stage(
    state: &AppState,
    p: &Principal,
    template: Uuid,
    stage: Uuid,
    dir: Direction,
) -> AppResult<Vec<StageTemplateOut>> {
    in_txn(&state.db, async move |txn| {
        let t = templates::visible(txn, p, template).await?;
        p.allow(R, Operation::Edit, Reach::hospital(t.hospital_id))?;
        let stages = template_stages(txn, t.id).await?;
        let ids: Vec<Uuid> = stages.iter().map(|s| s.id).collect();
        let order = reorder(&ids, stage, dir).ok_or(AppError::NotFound)?;
        let before: Vec<&str> = stages.iter().map(|s| s.code.as_str()).collect();
        let now = state.clock.now();
        let mut out = Vec::with_capacity(stages.len());
        for (n, id) in order.iter().enumerate() {
            let Some(s) = stages.iter().find(|s| s.id == *id) else {
                continue;
            };
            let want = i32::try_from(n + 1).unwrap_or(i32::MAX);
            let saved = if s.stage_order == want {
                s.clone()
            } else {
                let mut am = s.clone().into_active_model();
                am.stage_order = Set(want);
                am.updated_at = Set(now);
                am.update(txn).await?
            };
            out.push(StageTemplateOut::from(saved));
        }
        let after: Vec<&str> = out.iter().map(|s| s.code.as_str()).collect();
        if before != after {
            audit(
                txn,
                state.clock.as_ref(),
                &Actor::of(p),
                "journey_template.stages_reordered",
                t.id,
                t.hospital_id,
                json!({"moved": stage, "direction": if dir == Direction::Up { "up" } else { "down" },
                       "from": before, "to": after}),
            )
            .await?;
        }
        Ok(out)
    })
    .await
}

/// The order a stage added at the end of a template's stages gets.
///
/// # Errors
/// 404 out of scope.
pub async fn next_order(state: &AppState, p: &Principal, template: Uuid) -> AppResult<i64> {
    let t = templates::visible(&state.db, p, template).await?;
    let stages = template_stages(&state.db, t.id).await?;
    Ok(stages
        .iter()
        .map(|s| i64::from(s.stage_order))
        .max()
        .unwrap_or(0)
        + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::journeys::model::stage_template;
    use crate::apps::journeys::service::templates::simulate_on;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn a_stage_moves_one_place_and_stays_put_at_the_ends() {
        let v = ids(3);
        let (a, b, c) = (v[0], v[1], v[2]);
        assert_eq!(reorder(&v, b, Direction::Up), Some(vec![b, a, c]));
        assert_eq!(reorder(&v, b, Direction::Down), Some(vec![a, c, b]));
        assert_eq!(reorder(&v, a, Direction::Up), Some(vec![a, b, c]));
        assert_eq!(reorder(&v, c, Direction::Down), Some(vec![a, b, c]));
        assert_eq!(reorder(&v, Uuid::from_u128(99), Direction::Up), None);
        assert_eq!(Direction::parse("up"), Some(Direction::Up));
        assert_eq!(Direction::parse("sideways"), None);
    }

    fn stage(order: i32, code: &str, trigger: &str) -> stage_template::Model {
        let now = chrono::Utc::now();
        stage_template::Model {
            id: Uuid::from_u128(u128::try_from(order).unwrap_or(0)),
            journey_template_id: Uuid::nil(),
            hospital_id: Uuid::nil(),
            code: code.into(),
            name_en: code.into(),
            name_ar: code.into(),
            stage_order: order,
            trigger_event_code: trigger.into(),
            survey_template_id: None,
            auto_send_survey: false,
            survey_delay_hours: 0,
            requires_physician: false,
            optional: false,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    /// The builder's test panel: which stage an event would complete, given the stages already done.
    #[test]
    fn the_test_panel_names_the_stage_or_says_why_the_event_would_be_ignored() {
        let stages = vec![
            stage(1, "LAB_1", "LAB_ORDER_COMPLETED"),
            stage(2, "CONSULT", "OPD_VISIT_COMPLETED"),
            stage(3, "LAB_2", "LAB_ORDER_COMPLETED"),
        ];
        let r = simulate_on(&stages, "LAB_ORDER_COMPLETED", &[]);
        assert_eq!(r.stage.map(|s| s.code), Some("LAB_1".to_string()));
        let r = simulate_on(&stages, "LAB_ORDER_COMPLETED", &["LAB_1".to_string()]);
        assert_eq!(r.stage.map(|s| s.code), Some("LAB_2".to_string()));
        let done = ["LAB_1".to_string(), "LAB_2".to_string()];
        let r = simulate_on(&stages, "LAB_ORDER_COMPLETED", &done);
        assert!(r.stage.is_none());
        assert_eq!(
            r.reason.as_deref(),
            Some("every stage triggered by LAB_ORDER_COMPLETED is already completed")
        );
        let r = simulate_on(&stages, "PHARMACY_DISPENSED", &[]);
        assert!(r.stage.is_none());
        assert_eq!(
            r.reason.as_deref(),
            Some("no stage of the journey is triggered by PHARMACY_DISPENSED")
        );
    }
}
