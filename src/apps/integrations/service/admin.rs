//! The event console (list, detail, reprocess) and the configuration of interfaces: event mappings
//! and integration configs. Hospital-wide rows; configuration needs the `configure` permission.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::process::{PROCESS_KIND, ProcessPayload};
use crate::apps::integrations::model::{
    FORMATS, PENDING, REPROCESSABLE, STATUSES, config, event_mapping, inbound_event,
};
use crate::apps::integrations::wire::{ConfigIn, ConfigOut, EventOut, MappingIn, MappingOut};
use crate::apps::journeys::model::JOURNEY_TYPES;
use crate::apps::journeys::service::valid_code;
use crate::apps::organizations;
use crate::apps::organizations::service::{Form, Mode};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, NewJob};
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach, Resource, ScopeColumns};
use crate::platform::state::AppState;

const R: Resource = Resource::Integrations;

fn cols<C>(hospital: C) -> ScopeColumns<C> {
    ScopeColumns {
        hospital: Some(hospital),
        department: None,
        physician: None,
        assignee: None,
    }
}

fn invalid_pk(id: Uuid) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

async fn record<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    p: &Principal,
    action: &str,
    id: Uuid,
    hospital: Uuid,
    details: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        state.clock.as_ref(),
        &Actor::of(p),
        AuditEntry::new(action)
            .object(action.split('.').next().unwrap_or(action), id)
            .hospital(Some(hospital))
            .details(details),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- events

fn event_spec() -> ListSpec<inbound_event::Entity> {
    use inbound_event::Column as C;
    ListSpec {
        search: vec![
            C::EncounterId,
            C::ExternalId,
            C::EventCode,
            C::PatientIdentifier,
        ],
        ordering: vec![
            ("received_at", C::ReceivedAt),
            ("occurred_at", C::OccurredAt),
            ("processed_at", C::ProcessedAt),
            ("status", C::Status),
        ],
        default_ordering: vec![(C::ReceivedAt, Order::Desc), (C::Id, Order::Desc)],
        filters: vec![
            Filter {
                name: "status",
                column: C::Status,
                kind: FilterKind::Choice(STATUSES),
            },
            Filter {
                name: "format",
                column: C::Format,
                kind: FilterKind::Choice(FORMATS),
            },
            Filter {
                name: "source_system",
                column: C::SourceSystem,
                kind: FilterKind::Text,
            },
            Filter {
                name: "event_code",
                column: C::EventCode,
                kind: FilterKind::Text,
            },
            Filter {
                name: "encounter_id",
                column: C::EncounterId,
                kind: FilterKind::Text,
            },
            Filter {
                name: "external_id",
                column: C::ExternalId,
                kind: FilterKind::Text,
            },
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "journey_instance",
                column: C::JourneyInstanceId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "received_after",
                column: C::ReceivedAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "received_before",
                column: C::ReceivedAt,
                kind: FilterKind::To,
            },
            Filter {
                name: "occurred_after",
                column: C::OccurredAt,
                kind: FilterKind::From,
            },
            Filter {
                name: "occurred_before",
                column: C::OccurredAt,
                kind: FilterKind::To,
            },
        ],
    }
}

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list_events(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<EventOut>> {
    let select = rbac::scoped(
        inbound_event::Entity::find(),
        p,
        R,
        Operation::View,
        cols(inbound_event::Column::HospitalId),
    )?;
    Ok(paginate(&state.db, select, &event_spec(), q)
        .await?
        .map(EventOut::from))
}

async fn visible_event<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<inbound_event::Model> {
    rbac::find_visible(
        conn,
        inbound_event::Entity::find_by_id(id),
        p,
        R,
        cols(inbound_event::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get_event(state: &AppState, p: &Principal, id: Uuid) -> AppResult<EventOut> {
    Ok(visible_event(&state.db, p, id).await?.into())
}

/// Sends a DEAD, FAILED or IGNORED event back for processing: a DEAD job is revived with fresh
/// attempts, otherwise a new job takes over (the old one, if still queued, then does nothing).
///
/// # Errors
/// 404 out of scope, 403 without edit permission, 400 for an event in another status.
pub async fn reprocess(state: &AppState, p: &Principal, id: Uuid) -> AppResult<EventOut> {
    in_txn(&state.db, async move |txn| {
        let ev = visible_event(txn, p, id).await?;
        p.allow(R, Operation::Edit, Reach::hospital(ev.hospital_id))?;
        if !REPROCESSABLE.contains(&ev.status.as_str()) {
            return Err(AppError::field(
                "status",
                format!(
                    "cannot reprocess an event in status {}; allowed: {}",
                    ev.status,
                    REPROCESSABLE.join(", ")
                ),
            ));
        }
        let max_attempts = state.config.integration_max_attempts;
        let revived = match ev.job_id {
            Some(job) => jobs::retry_dead(txn, state.clock.as_ref(), job).await?,
            None => false,
        };
        let job_id = if revived {
            ev.job_id
        } else {
            jobs::enqueue(
                txn,
                state.clock.as_ref(),
                NewJob::new(PROCESS_KIND, ProcessPayload { event: ev.id, max_attempts })
                    .max_attempts(max_attempts),
            )
            .await?
        };
        let before = ev.status.clone();
        let hospital = ev.hospital_id;
        let mut am = ev.into_active_model();
        am.status = Set(PENDING.into());
        am.job_id = Set(job_id);
        am.processed_at = Set(None);
        am.updated_at = Set(state.clock.now());
        let saved = am.update(txn).await?;
        record(
            txn,
            state,
            p,
            "inbound_event.reprocess_requested",
            id,
            hospital,
            json!({"from": before}),
        )
        .await?;
        tracing::info!(target: "integrations", event = %id, from = %before, "inbound event sent back for processing");
        Ok(saved.into())
    })
    .await
}

// ---------------------------------------------------------------- mappings

fn mapping_spec() -> ListSpec<event_mapping::Entity> {
    use event_mapping::Column as C;
    ListSpec {
        search: vec![C::ExternalCode, C::EventCode, C::Description],
        ordering: vec![
            ("source_system", C::SourceSystem),
            ("external_code", C::ExternalCode),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![
            (C::SourceSystem, Order::Asc),
            (C::ExternalCode, Order::Asc),
            (C::Id, Order::Asc),
        ],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "source_system",
                column: C::SourceSystem,
                kind: FilterKind::Text,
            },
            Filter {
                name: "external_code",
                column: C::ExternalCode,
                kind: FilterKind::Text,
            },
            Filter {
                name: "event_code",
                column: C::EventCode,
                kind: FilterKind::Text,
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

const MAPPING_TAKEN: &str = "This hospital already maps this code from this source.";

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list_mappings(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<MappingOut>> {
    let select = rbac::scoped(
        event_mapping::Entity::find().filter(event_mapping::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        cols(event_mapping::Column::HospitalId),
    )?;
    Ok(paginate(&state.db, select, &mapping_spec(), q)
        .await?
        .map(MappingOut::from))
}

async fn visible_mapping<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<event_mapping::Model> {
    rbac::find_visible(
        conn,
        event_mapping::Entity::find_by_id(id).filter(event_mapping::Column::DeletedAt.is_null()),
        p,
        R,
        cols(event_mapping::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get_mapping(state: &AppState, p: &Principal, id: Uuid) -> AppResult<MappingOut> {
    Ok(visible_mapping(&state.db, p, id).await?.into())
}

fn apply_mapping(form: &mut Form, i: MappingIn, m: &mut event_mapping::Model) {
    form.text("source_system", i.source_system, &mut m.source_system, 64);
    form.text("external_code", i.external_code, &mut m.external_code, 100);
    form.text(
        "event_code",
        i.event_code.map(|c| c.trim().to_string()),
        &mut m.event_code,
        100,
    );
    if !form.has("event_code") && !m.event_code.is_empty() && !valid_code(&m.event_code) {
        form.add("event_code", crate::apps::journeys::service::CODE_HINT);
    }
    match i.journey_type {
        Some(Some(t)) if JOURNEY_TYPES.contains(&t.as_str()) => m.journey_type = Some(t),
        Some(Some(t)) => form.add(
            "journey_type",
            organizations::model::choice_error(&t, JOURNEY_TYPES),
        ),
        Some(None) => m.journey_type = None,
        None => {}
    }
    form.flag(i.create_instance, &mut m.create_instance);
    form.flag(i.active, &mut m.active);
    form.opt_text("description", i.description, &mut m.description, 2000);
    if m.create_instance && m.journey_type.is_none() && !form.has("journey_type") {
        form.add("journey_type", "Required when create_instance is true.");
    }
}

async fn mapping_taken<C: ConnectionTrait>(conn: &C, m: &event_mapping::Model) -> AppResult<bool> {
    Ok(event_mapping::Entity::find()
        .filter(event_mapping::Column::HospitalId.eq(m.hospital_id))
        .filter(event_mapping::Column::SourceSystem.eq(m.source_system.as_str()))
        .filter(event_mapping::Column::ExternalCode.eq(m.external_code.as_str()))
        .filter(event_mapping::Column::DeletedAt.is_null())
        .filter(event_mapping::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

async fn check_hospital<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    hospital: Uuid,
) -> AppResult<()> {
    if form.has("hospital") {
        return Ok(());
    }
    let reachable = organizations::hospital_exists(conn, hospital).await?
        && p.reaches(R, Operation::Configure, Reach::hospital(hospital));
    if !reachable {
        form.add("hospital", invalid_pk(hospital));
    }
    Ok(())
}

/// # Errors
/// 403 without configure permission; 400 for invalid fields or a code already mapped.
pub async fn create_mapping(
    state: &AppState,
    p: &Principal,
    i: MappingIn,
) -> AppResult<MappingOut> {
    p.require(R, Operation::Configure)?;
    let now = state.clock.now();
    let mut m = event_mapping::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        source_system: String::new(),
        external_code: String::new(),
        event_code: String::new(),
        journey_type: None,
        create_instance: false,
        active: true,
        description: String::new(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk("hospital", i.hospital, &mut m.hospital_id);
    apply_mapping(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        check_hospital(txn, p, &mut form, m.hospital_id).await?;
        if form.errors.is_empty() && mapping_taken(txn, &m).await? {
            form.add("external_code", MAPPING_TAKEN);
        }
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "external_code", MAPPING_TAKEN))?;
        record(txn, state, p, "event_mapping.created", saved.id, saved.hospital_id,
            json!({"source_system": saved.source_system, "external_code": saved.external_code, "event_code": saved.event_code})).await?;
        Ok(saved.into())
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without configure permission, 400 for invalid fields.
pub async fn update_mapping(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: MappingIn,
    mode: Mode,
) -> AppResult<MappingOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible_mapping(txn, p, id).await?;
        p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        if i.hospital.is_some_and(|h| h != before.hospital_id) {
            form.add("hospital", "This field cannot be changed.");
        }
        apply_mapping(&mut form, i, &mut m);
        if form.errors.is_empty() && mapping_taken(txn, &m).await? {
            form.add("external_code", MAPPING_TAKEN);
        }
        form.finish()?;
        m.updated_at = state.clock.now();
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "external_code", MAPPING_TAKEN))?;
        record(txn, state, p, "event_mapping.updated", id, saved.hospital_id,
            json!({"external_code": saved.external_code, "event_code": saved.event_code, "active": saved.active})).await?;
        Ok(saved.into())
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without configure permission.
pub async fn delete_mapping(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible_mapping(txn, p, id).await?;
        p.allow(R, Operation::Configure, Reach::hospital(m.hospital_id))?;
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = Set(Some(state.clock.now()));
        am.update(txn).await?;
        record(
            txn,
            state,
            p,
            "event_mapping.deleted",
            id,
            hospital,
            json!({}),
        )
        .await
    })
    .await
}

// ---------------------------------------------------------------- configs

fn config_spec() -> ListSpec<config::Entity> {
    use config::Column as C;
    ListSpec {
        search: vec![C::Name, C::SourceSystem],
        ordering: vec![
            ("name", C::Name),
            ("source_system", C::SourceSystem),
            ("created_at", C::CreatedAt),
        ],
        default_ordering: vec![(C::SourceSystem, Order::Asc), (C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "source_system",
                column: C::SourceSystem,
                kind: FilterKind::Text,
            },
            Filter {
                name: "protocol",
                column: C::Protocol,
                kind: FilterKind::Choice(FORMATS),
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

const CONFIG_TAKEN: &str = "This hospital already has a configuration for this source system.";

/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list_configs(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<ConfigOut>> {
    let select = rbac::scoped(
        config::Entity::find().filter(config::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        cols(config::Column::HospitalId),
    )?;
    Ok(paginate(&state.db, select, &config_spec(), q)
        .await?
        .map(ConfigOut::from))
}

async fn visible_config<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<config::Model> {
    rbac::find_visible(
        conn,
        config::Entity::find_by_id(id).filter(config::Column::DeletedAt.is_null()),
        p,
        R,
        cols(config::Column::HospitalId),
    )
    .await
}

/// # Errors
/// 404 out of scope.
pub async fn get_config(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ConfigOut> {
    Ok(visible_config(&state.db, p, id).await?.into())
}

fn apply_config(form: &mut Form, i: ConfigIn, m: &mut config::Model) {
    form.text("source_system", i.source_system, &mut m.source_system, 64);
    form.text("name", i.name, &mut m.name, 200);
    form.choice("protocol", i.protocol, &mut m.protocol, FORMATS, true);
    form.flag(i.active, &mut m.active);
    form.flag(i.require_mapping, &mut m.require_mapping);
    match i.settings {
        Some(Some(v)) if v.is_object() => m.settings = Some(v),
        Some(Some(_)) => form.add("settings", "Must be a JSON object."),
        Some(None) => m.settings = None,
        None => {}
    }
    form.opt_text("description", i.description, &mut m.description, 2000);
}

async fn config_taken<C: ConnectionTrait>(conn: &C, m: &config::Model) -> AppResult<bool> {
    Ok(config::Entity::find()
        .filter(config::Column::HospitalId.eq(m.hospital_id))
        .filter(config::Column::SourceSystem.eq(m.source_system.as_str()))
        .filter(config::Column::DeletedAt.is_null())
        .filter(config::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

/// # Errors
/// 403 without configure permission; 400 for invalid fields or a source already configured.
pub async fn create_config(state: &AppState, p: &Principal, i: ConfigIn) -> AppResult<ConfigOut> {
    p.require(R, Operation::Configure)?;
    let now = state.clock.now();
    let mut m = config::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        source_system: String::new(),
        name: String::new(),
        protocol: String::new(),
        active: true,
        require_mapping: false,
        settings: None,
        description: String::new(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    form.fk("hospital", i.hospital, &mut m.hospital_id);
    apply_config(&mut form, i, &mut m);
    in_txn(&state.db, async move |txn| {
        check_hospital(txn, p, &mut form, m.hospital_id).await?;
        if form.errors.is_empty() && config_taken(txn, &m).await? {
            form.add("source_system", CONFIG_TAKEN);
        }
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "source_system", CONFIG_TAKEN))?;
        record(
            txn,
            state,
            p,
            "integration_config.created",
            saved.id,
            saved.hospital_id,
            json!({"source_system": saved.source_system, "active": saved.active}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without configure permission, 400 for invalid fields.
pub async fn update_config(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: ConfigIn,
    mode: Mode,
) -> AppResult<ConfigOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible_config(txn, p, id).await?;
        p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        if i.hospital.is_some_and(|h| h != before.hospital_id) {
            form.add("hospital", "This field cannot be changed.");
        }
        apply_config(&mut form, i, &mut m);
        if form.errors.is_empty() && config_taken(txn, &m).await? {
            form.add("source_system", CONFIG_TAKEN);
        }
        form.finish()?;
        m.updated_at = state.clock.now();
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "source_system", CONFIG_TAKEN))?;
        record(
            txn,
            state,
            p,
            "integration_config.updated",
            id,
            saved.hospital_id,
            json!({"active": saved.active, "require_mapping": saved.require_mapping}),
        )
        .await?;
        Ok(saved.into())
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without configure permission.
pub async fn delete_config(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible_config(txn, p, id).await?;
        p.allow(R, Operation::Configure, Reach::hospital(m.hospital_id))?;
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = Set(Some(state.clock.now()));
        am.update(txn).await?;
        record(
            txn,
            state,
            p,
            "integration_config.deleted",
            id,
            hospital,
            json!({}),
        )
        .await
    })
    .await
}
