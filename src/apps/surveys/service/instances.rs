//! Survey instances and their responses, as staff see them: scoped lists and details, and the staff
//! "resend" (one of the two allowed repeats of an invitation, each logged).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::delivery::{self, Send};
use super::{R, audit, survey_cols, survey_reach};
use crate::apps::surveys::model::{
    CHANNELS, FAILED, OPENED, PENDING, SENT, STATUSES, instance, response,
};
use crate::apps::surveys::wire::{InstanceOut, ResendIn, ResponseOut};
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Resource};
use crate::platform::state::AppState;

const JOURNEY_TYPES: &[&str] = &["EMS", "INPATIENT", "OPD", "DAY_CASE"];

pub(crate) fn spec() -> ListSpec<instance::Entity> {
    use instance::Column as C;
    let f = |name, column, kind| Filter { name, column, kind };
    ListSpec {
        search: vec![C::EncounterId, C::StageCode],
        ordering: vec![
            ("created_at", C::CreatedAt),
            ("sent_at", C::SentAt),
            ("completed_at", C::CompletedAt),
            ("score", C::Score),
            ("status", C::Status),
        ],
        default_ordering: vec![(C::CreatedAt, Order::Desc), (C::Id, Order::Desc)],
        filters: vec![
            f("journey_instance", C::JourneyInstanceId, FilterKind::Uuid),
            f("stage_instance", C::StageInstanceId, FilterKind::Uuid),
            f("status", C::Status, FilterKind::Choice(STATUSES)),
            f("hospital", C::HospitalId, FilterKind::Uuid),
            f("department", C::DepartmentId, FilterKind::Uuid),
            f("physician", C::PhysicianId, FilterKind::Uuid),
            f("patient", C::PatientId, FilterKind::Uuid),
            f("survey_template", C::SurveyTemplateId, FilterKind::Uuid),
            f(
                "journey_type",
                C::JourneyType,
                FilterKind::Choice(JOURNEY_TYPES),
            ),
            f("stage_code", C::StageCode, FilterKind::Text),
            f("encounter_id", C::EncounterId, FilterKind::Text),
            f("channel", C::Channel, FilterKind::Choice(CHANNELS)),
            f("is_negative", C::IsNegative, FilterKind::Bool),
            f("created_after", C::CreatedAt, FilterKind::From),
            f("created_before", C::CreatedAt, FilterKind::To),
        ],
    }
}

pub(crate) fn cols() -> crate::platform::rbac::ScopeColumns<instance::Column> {
    survey_cols(
        instance::Column::HospitalId,
        instance::Column::DepartmentId,
        instance::Column::PhysicianId,
    )
}

/// A phone or e-mail shown only to roles that may see patients; others see its last characters.
fn present(p: &Principal, m: instance::Model) -> InstanceOut {
    let mut o = InstanceOut::from(m);
    if !p.can(Resource::Patients, Operation::View) && !o.recipient.is_empty() {
        let tail: String = o
            .recipient
            .chars()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        o.recipient = format!("•••{tail}");
        o.patient = None;
    }
    o
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<InstanceOut>> {
    let select = rbac::scoped(instance::Entity::find(), p, R, Operation::View, cols())?;
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(|m| present(p, m)))
}

pub(crate) async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<instance::Model> {
    rbac::find_visible(conn, instance::Entity::find_by_id(id), p, R, cols()).await
}

/// # Errors
/// 404 out of scope.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<InstanceOut> {
    Ok(present(p, visible(&state.db, p, id).await?))
}

/// Staff "resend": the invitation goes out again now (audited here and when sent). Refused for
/// answered, expired and cancelled surveys.
///
/// # Errors
/// 404 out of scope, 403 without transition permission, 400 when the survey cannot be answered.
pub async fn resend(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: ResendIn,
) -> AppResult<InstanceOut> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(
            R,
            Operation::Transition,
            survey_reach(m.hospital_id, m.department_id, m.physician_id),
        )?;
        if ![PENDING, SENT, OPENED, FAILED].contains(&m.status.as_str()) {
            return Err(AppError::field(
                "status",
                format!("A {} survey cannot be sent again.", m.status.to_lowercase()),
            ));
        }
        if m.expires_at <= state.clock.now() {
            return Err(AppError::field("status", "The survey link has expired."));
        }
        let note: String = i.note.unwrap_or_default().chars().take(500).collect();
        delivery::enqueue_send(
            txn,
            state.clock.as_ref(),
            m.id,
            Send::Resend,
            state.clock.now(),
            format!("survey-resend:{}:{}", m.id, m.send_count),
        )
        .await?;
        audit(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            "survey_instance.resend_requested",
            m.id,
            m.hospital_id,
            json!({"note": note, "send_count": m.send_count}),
        )
        .await?;
        Ok(present(p, m))
    })
    .await
}

fn response_spec() -> ListSpec<response::Entity> {
    use response::Column as C;
    let f = |name, column, kind| Filter { name, column, kind };
    ListSpec {
        search: vec![C::TextValue],
        ordering: vec![("created_at", C::CreatedAt), ("score", C::Score)],
        default_ordering: vec![(C::CreatedAt, Order::Desc), (C::Id, Order::Asc)],
        filters: vec![
            f("survey_instance", C::SurveyInstanceId, FilterKind::Uuid),
            f("question", C::QuestionId, FilterKind::Uuid),
            f("hospital", C::HospitalId, FilterKind::Uuid),
            f("department", C::DepartmentId, FilterKind::Uuid),
            f("physician", C::PhysicianId, FilterKind::Uuid),
        ],
    }
}

fn response_cols() -> crate::platform::rbac::ScopeColumns<response::Column> {
    survey_cols(
        response::Column::HospitalId,
        response::Column::DepartmentId,
        response::Column::PhysicianId,
    )
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list_responses(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<ResponseOut>> {
    let select = rbac::scoped(
        response::Entity::find(),
        p,
        R,
        Operation::View,
        response_cols(),
    )?;
    Ok(paginate(&state.db, select, &response_spec(), q)
        .await?
        .map(ResponseOut::from))
}

/// # Errors
/// 404 out of scope.
pub async fn get_response(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ResponseOut> {
    Ok(rbac::find_visible(
        &state.db,
        response::Entity::find_by_id(id),
        p,
        R,
        response_cols(),
    )
    .await?
    .into())
}

/// The answers of one visible instance, in question order.
///
/// # Errors
/// 404 out of scope.
pub async fn answers_of(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<Vec<response::Model>> {
    let m = visible(&state.db, p, id).await?;
    Ok(response::Entity::find()
        .filter(response::Column::SurveyInstanceId.eq(m.id))
        .all(&state.db)
        .await?)
}
