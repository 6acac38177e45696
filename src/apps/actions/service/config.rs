//! The SLA control panel's data: SLA configs and routing rules (hospital-wide, read by anyone who
//! may view actions, written with `configure`), and the escalation levels (the hospital settings'
//! escalation chain, resolved to people).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{Form, Mode, R, hospital_cols, invalid_pk};
use crate::apps::accounts;
use crate::apps::actions::model::{
    CATEGORIES, HOUR_MODES, PRIORITIES, SEVERITIES, SOURCE_TYPES, TARGETS, routing_rule, sla_config,
};
use crate::apps::actions::wire::{
    EscalationChainIn, EscalationLevelOut, RoutingRuleIn, RoutingRuleOut, SlaConfigIn, SlaConfigOut,
};
use crate::apps::organizations;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::pagination::{Filter, FilterKind, ListQuery, ListSpec, Page, paginate};
use crate::platform::rbac::{self, Operation, Principal, Reach, Role};
use crate::platform::state::AppState;

async fn audit_config<C: sea_orm::ConnectionTrait>(
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

fn opt_choice(
    form: &mut Form,
    field: &str,
    given: Option<Option<String>>,
    slot: &mut Option<String>,
    allowed: &[&str],
) {
    match given {
        Some(Some(v)) if v.trim().is_empty() => *slot = None,
        Some(Some(v)) => {
            let v = v.trim().to_ascii_uppercase();
            if allowed.contains(&v.as_str()) {
                *slot = Some(v);
            } else {
                form.add(field, organizations::model::choice_error(&v, allowed));
            }
        }
        Some(None) => *slot = None,
        None => {}
    }
}

fn int(form: &mut Form, field: &str, given: Option<i64>, slot: &mut i32, min: i64, max: i64) {
    match given {
        Some(v) if (min..=max).contains(&v) => *slot = i32::try_from(v).unwrap_or(*slot),
        Some(_) => form.add(field, format!("Must be between {min} and {max}.")),
        None if form.mode != Mode::Patch && field == "hours" => {
            form.add(field, "This field is required.")
        }
        None => {}
    }
}

/// A new row's hospital: live and within the caller's `configure` reach.
async fn check_hospital<C: sea_orm::ConnectionTrait>(
    conn: &C,
    p: &Principal,
    form: &mut Form,
    hospital: Uuid,
) -> AppResult<()> {
    if form.has("hospital") {
        return Ok(());
    }
    if !organizations::hospital_exists(conn, hospital).await?
        || !p.reaches(R, Operation::Configure, Reach::hospital(hospital))
    {
        form.add("hospital", invalid_pk(hospital));
    }
    Ok(())
}

async fn check_department<C: sea_orm::ConnectionTrait>(
    conn: &C,
    form: &mut Form,
    field: &str,
    hospital: Uuid,
    d: Option<Uuid>,
) -> AppResult<()> {
    if let Some(d) = d
        && !form.has("hospital")
        && !organizations::department_in_hospital(conn, hospital, d).await?
    {
        form.add(field, invalid_pk(d));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------- SLA configs

fn sla_out(m: sla_config::Model) -> SlaConfigOut {
    SlaConfigOut {
        id: m.id,
        hospital: m.hospital_id,
        department: m.department_id,
        priority: m.priority,
        severity: m.severity,
        hours: m.hours,
        reminder_hours_before: m.reminder_hours_before,
        escalation_interval_hours: m.escalation_interval_hours,
        hour_mode: m.hour_mode,
        active: m.active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn sla_spec() -> ListSpec<sla_config::Entity> {
    use sla_config::Column as C;
    ListSpec {
        search: vec![],
        ordering: vec![("hours", C::Hours), ("created_at", C::CreatedAt)],
        default_ordering: vec![(C::HospitalId, Order::Asc), (C::CreatedAt, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "priority",
                column: C::Priority,
                kind: FilterKind::Choice(PRIORITIES),
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

pub mod sla_configs {
    use super::*;

    async fn visible<C: sea_orm::ConnectionTrait>(
        conn: &C,
        p: &Principal,
        id: Uuid,
    ) -> AppResult<sla_config::Model> {
        rbac::find_visible(
            conn,
            sla_config::Entity::find_by_id(id).filter(sla_config::Column::DeletedAt.is_null()),
            p,
            R,
            hospital_cols(sla_config::Column::HospitalId),
        )
        .await
    }

    /// # Errors
    /// 403 without view permission; 400 for bad filters.
    pub async fn list(
        state: &AppState,
        p: &Principal,
        q: &ListQuery,
    ) -> AppResult<Page<SlaConfigOut>> {
        let select = rbac::scoped(
            sla_config::Entity::find().filter(sla_config::Column::DeletedAt.is_null()),
            p,
            R,
            Operation::View,
            hospital_cols(sla_config::Column::HospitalId),
        )?;
        Ok(paginate(&state.db, select, &sla_spec(), q)
            .await?
            .map(sla_out))
    }

    /// # Errors
    /// 404 out of scope.
    pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<SlaConfigOut> {
        Ok(sla_out(visible(&state.db, p, id).await?))
    }

    fn apply(form: &mut Form, i: SlaConfigIn, m: &mut sla_config::Model) {
        form.opt_fk(i.department, &mut m.department_id);
        opt_choice(form, "priority", i.priority, &mut m.priority, PRIORITIES);
        opt_choice(form, "severity", i.severity, &mut m.severity, SEVERITIES);
        int(form, "hours", i.hours, &mut m.hours, 1, 8760);
        int(
            form,
            "reminder_hours_before",
            i.reminder_hours_before,
            &mut m.reminder_hours_before,
            0,
            720,
        );
        int(
            form,
            "escalation_interval_hours",
            i.escalation_interval_hours,
            &mut m.escalation_interval_hours,
            0,
            8760,
        );
        form.choice(
            "hour_mode",
            i.hour_mode,
            &mut m.hour_mode,
            HOUR_MODES,
            false,
        );
        form.flag(i.active, &mut m.active);
        if m.reminder_hours_before >= m.hours && !form.has("hours") {
            form.add(
                "reminder_hours_before",
                "The reminder must come before the deadline (fewer hours than the SLA).",
            );
        }
    }

    /// # Errors
    /// 403 without configure permission; 400 for invalid fields.
    pub async fn create(
        state: &AppState,
        p: &Principal,
        i: SlaConfigIn,
    ) -> AppResult<SlaConfigOut> {
        p.require(R, Operation::Configure)?;
        let now = state.clock.now();
        let mut form = Form::new(Mode::Create);
        let mut m = sla_config::Model {
            id: new_id(),
            hospital_id: Uuid::nil(),
            department_id: None,
            priority: None,
            severity: None,
            hours: 0,
            reminder_hours_before: 0,
            escalation_interval_hours: 0,
            hour_mode: "BUSINESS".into(),
            active: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        form.fk("hospital", i.hospital, &mut m.hospital_id);
        apply(&mut form, i, &mut m);
        in_txn(&state.db, async move |txn| {
            check_hospital(txn, p, &mut form, m.hospital_id).await?;
            check_department(txn, &mut form, "department", m.hospital_id, m.department_id).await?;
            form.finish()?;
            let saved = m.into_active_model().insert(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_sla_config.created",
                saved.id,
                saved.hospital_id,
                json!({"hours": saved.hours, "priority": saved.priority}),
            )
            .await?;
            Ok(sla_out(saved))
        })
        .await
    }

    /// # Errors
    /// 404 out of scope; 403 without configure permission; 400 for invalid fields.
    pub async fn update(
        state: &AppState,
        p: &Principal,
        id: Uuid,
        i: SlaConfigIn,
        mode: Mode,
    ) -> AppResult<SlaConfigOut> {
        in_txn(&state.db, async move |txn| {
            let before = visible(txn, p, id).await?;
            p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
            let mut form = Form::new(mode);
            if i.hospital.is_some_and(|h| h != before.hospital_id) {
                form.add("hospital", "This field cannot be changed.");
            }
            let mut m = before.clone();
            apply(&mut form, i, &mut m);
            check_department(txn, &mut form, "department", m.hospital_id, m.department_id).await?;
            form.finish()?;
            let mut am = before.into_active_model();
            am.department_id = Set(m.department_id);
            am.priority = Set(m.priority.clone());
            am.severity = Set(m.severity.clone());
            am.hours = Set(m.hours);
            am.reminder_hours_before = Set(m.reminder_hours_before);
            am.escalation_interval_hours = Set(m.escalation_interval_hours);
            am.hour_mode = Set(m.hour_mode.clone());
            am.active = Set(m.active);
            am.updated_at = Set(state.clock.now());
            let saved = am.update(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_sla_config.updated",
                saved.id,
                saved.hospital_id,
                json!({"hours": saved.hours}),
            )
            .await?;
            Ok(sla_out(saved))
        })
        .await
    }

    /// # Errors
    /// 404 out of scope; 403 without configure permission.
    pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        in_txn(&state.db, async move |txn| {
            let before = visible(txn, p, id).await?;
            p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
            let hospital = before.hospital_id;
            let mut am = before.into_active_model();
            am.deleted_at = Set(Some(state.clock.now()));
            am.update(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_sla_config.deleted",
                id,
                hospital,
                json!({}),
            )
            .await
        })
        .await
    }
}

// ----------------------------------------------------------------------------------- routing rules

fn rule_out(m: routing_rule::Model) -> RoutingRuleOut {
    RoutingRuleOut {
        id: m.id,
        hospital: m.hospital_id,
        name: m.name,
        order: m.rule_order,
        active: m.active,
        source_type: m.source_type,
        department: m.department_id,
        category: m.category,
        severity: m.severity,
        target: m.target,
        target_user: m.target_user_id,
        target_department: m.target_department_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn rule_spec() -> ListSpec<routing_rule::Entity> {
    use routing_rule::Column as C;
    ListSpec {
        search: vec![C::Name],
        ordering: vec![("order", C::RuleOrder), ("name", C::Name)],
        default_ordering: vec![
            (C::HospitalId, Order::Asc),
            (C::RuleOrder, Order::Asc),
            (C::Id, Order::Asc),
        ],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "active",
                column: C::Active,
                kind: FilterKind::Bool,
            },
        ],
    }
}

pub mod routing_rules {
    use super::*;

    async fn visible<C: sea_orm::ConnectionTrait>(
        conn: &C,
        p: &Principal,
        id: Uuid,
    ) -> AppResult<routing_rule::Model> {
        rbac::find_visible(
            conn,
            routing_rule::Entity::find_by_id(id).filter(routing_rule::Column::DeletedAt.is_null()),
            p,
            R,
            hospital_cols(routing_rule::Column::HospitalId),
        )
        .await
    }

    /// # Errors
    /// 403 without view permission; 400 for bad filters.
    pub async fn list(
        state: &AppState,
        p: &Principal,
        q: &ListQuery,
    ) -> AppResult<Page<RoutingRuleOut>> {
        let select = rbac::scoped(
            routing_rule::Entity::find().filter(routing_rule::Column::DeletedAt.is_null()),
            p,
            R,
            Operation::View,
            hospital_cols(routing_rule::Column::HospitalId),
        )?;
        Ok(paginate(&state.db, select, &rule_spec(), q)
            .await?
            .map(rule_out))
    }

    /// # Errors
    /// 404 out of scope.
    pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<RoutingRuleOut> {
        Ok(rule_out(visible(&state.db, p, id).await?))
    }

    fn apply(form: &mut Form, i: RoutingRuleIn, m: &mut routing_rule::Model) {
        form.text("name", i.name, &mut m.name, 200);
        if let Some(o) = i.order {
            match i32::try_from(o) {
                Ok(o) if (0..=10_000).contains(&o) => m.rule_order = o,
                _ => form.add("order", "Must be between 0 and 10000."),
            }
        }
        form.flag(i.active, &mut m.active);
        opt_choice(
            form,
            "source_type",
            i.source_type,
            &mut m.source_type,
            SOURCE_TYPES,
        );
        form.opt_fk(i.department, &mut m.department_id);
        opt_choice(form, "category", i.category, &mut m.category, CATEGORIES);
        opt_choice(form, "severity", i.severity, &mut m.severity, SEVERITIES);
        form.choice("target", i.target, &mut m.target, TARGETS, true);
        form.opt_fk(i.target_user, &mut m.target_user_id);
        form.opt_fk(i.target_department, &mut m.target_department_id);
        if m.target == "USER" && m.target_user_id.is_none() && !form.has("target") {
            form.add("target_user", "A USER rule names the user to assign.");
        }
    }

    async fn check<C: sea_orm::ConnectionTrait>(
        conn: &C,
        form: &mut Form,
        m: &routing_rule::Model,
    ) -> AppResult<()> {
        check_department(conn, form, "department", m.hospital_id, m.department_id).await?;
        check_department(
            conn,
            form,
            "target_department",
            m.hospital_id,
            m.target_department_id,
        )
        .await?;
        if let Some(u) = m.target_user_id
            && !accounts::user_is_active(conn, u).await?
        {
            form.add("target_user", invalid_pk(u));
        }
        Ok(())
    }

    /// # Errors
    /// 403 without configure permission; 400 for invalid fields.
    pub async fn create(
        state: &AppState,
        p: &Principal,
        i: RoutingRuleIn,
    ) -> AppResult<RoutingRuleOut> {
        p.require(R, Operation::Configure)?;
        let now = state.clock.now();
        let mut form = Form::new(Mode::Create);
        let mut m = routing_rule::Model {
            id: new_id(),
            hospital_id: Uuid::nil(),
            name: String::new(),
            rule_order: 100,
            active: true,
            source_type: None,
            department_id: None,
            category: None,
            severity: None,
            target: String::new(),
            target_user_id: None,
            target_department_id: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        form.fk("hospital", i.hospital, &mut m.hospital_id);
        apply(&mut form, i, &mut m);
        in_txn(&state.db, async move |txn| {
            check_hospital(txn, p, &mut form, m.hospital_id).await?;
            check(txn, &mut form, &m).await?;
            form.finish()?;
            let saved = m.into_active_model().insert(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_routing_rule.created",
                saved.id,
                saved.hospital_id,
                json!({"name": saved.name, "target": saved.target}),
            )
            .await?;
            Ok(rule_out(saved))
        })
        .await
    }

    /// # Errors
    /// 404 out of scope; 403 without configure permission; 400 for invalid fields.
    pub async fn update(
        state: &AppState,
        p: &Principal,
        id: Uuid,
        i: RoutingRuleIn,
        mode: Mode,
    ) -> AppResult<RoutingRuleOut> {
        in_txn(&state.db, async move |txn| {
            let before = visible(txn, p, id).await?;
            p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
            let mut form = Form::new(mode);
            if i.hospital.is_some_and(|h| h != before.hospital_id) {
                form.add("hospital", "This field cannot be changed.");
            }
            let mut m = before.clone();
            apply(&mut form, i, &mut m);
            check(txn, &mut form, &m).await?;
            form.finish()?;
            let mut am = before.into_active_model();
            am.name = Set(m.name.clone());
            am.rule_order = Set(m.rule_order);
            am.active = Set(m.active);
            am.source_type = Set(m.source_type.clone());
            am.department_id = Set(m.department_id);
            am.category = Set(m.category.clone());
            am.severity = Set(m.severity.clone());
            am.target = Set(m.target.clone());
            am.target_user_id = Set(m.target_user_id);
            am.target_department_id = Set(m.target_department_id);
            am.updated_at = Set(state.clock.now());
            let saved = am.update(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_routing_rule.updated",
                saved.id,
                saved.hospital_id,
                json!({"name": saved.name}),
            )
            .await?;
            Ok(rule_out(saved))
        })
        .await
    }

    /// # Errors
    /// 404 out of scope; 403 without configure permission.
    pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
        in_txn(&state.db, async move |txn| {
            let before = visible(txn, p, id).await?;
            p.allow(R, Operation::Configure, Reach::hospital(before.hospital_id))?;
            let hospital = before.hospital_id;
            let mut am = before.into_active_model();
            am.deleted_at = Set(Some(state.clock.now()));
            am.update(txn).await?;
            audit_config(
                txn,
                state,
                p,
                "action_routing_rule.deleted",
                id,
                hospital,
                json!({}),
            )
            .await
        })
        .await
    }
}

// ------------------------------------------------------------------------------- escalation levels

/// The escalation chain of each hospital the caller may view actions of (`?hospital=` narrows it).
///
/// # Errors
/// 403 without view permission; 400 for a malformed hospital id.
pub async fn escalation_levels(
    state: &AppState,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Vec<EscalationLevelOut>> {
    p.require(R, Operation::View)?;
    let only =
        match q.param("hospital") {
            Some(h) => Some(Uuid::parse_str(h.trim()).map_err(|_| {
                AppError::field("hospital", format!("\"{h}\" is not a valid UUID."))
            })?),
            None => None,
        };
    let hospitals: Vec<Uuid> = {
        let hq = ListQuery::parse("/api/organizations/hospitals/", "page_size=200")?;
        let mut ids = vec![];
        // Hospitals visible to the caller through the organizations service.
        let page = organizations::service::hospitals::list(state, p, &hq).await;
        if let Ok(page) = page {
            ids.extend(page.results.into_iter().map(|h| h.id));
        }
        ids.into_iter()
            .filter(|h| p.reaches(R, Operation::View, Reach::hospital(*h)))
            .filter(|h| only.is_none_or(|o| o == *h))
            .collect()
    };
    let mut out = vec![];
    for h in hospitals {
        let settings = organizations::hospital_settings(&state.db, h).await?;
        for (i, code) in settings.escalation_chain.iter().enumerate() {
            let level = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let assignee = match Role::parse(code) {
                Ok(role) if !role.needs_department() => {
                    accounts::users_with_role(&state.db, role, Some(h), None)
                        .await?
                        .into_iter()
                        .next()
                }
                _ => None,
            };
            let names =
                accounts::user_names(&state.db, &assignee.into_iter().collect::<Vec<_>>()).await?;
            out.push(EscalationLevelOut {
                hospital: h,
                level,
                role: code.clone(),
                assignee,
                assignee_name: assignee
                    .and_then(|u| names.get(&u))
                    .map(|n| n.name_en.clone()),
            });
        }
    }
    Ok(out)
}

/// Replaces a hospital's escalation chain (stored in its settings, audited there).
///
/// # Errors
/// 403 without configure permission; 400 for unknown roles or hospital.
pub async fn set_escalation_chain(
    state: &AppState,
    p: &Principal,
    i: EscalationChainIn,
) -> AppResult<Vec<EscalationLevelOut>> {
    p.require(R, Operation::Configure)?;
    let Some(h) = i.hospital else {
        return Err(AppError::field("hospital", "This field is required."));
    };
    if !p.reaches(R, Operation::Configure, Reach::hospital(h)) {
        return Err(AppError::field("hospital", invalid_pk(h)));
    }
    let chain = i.escalation_chain.unwrap_or_default();
    organizations::service::hospitals::update_settings(
        state,
        p,
        h,
        organizations::wire::HospitalSettingsIn {
            escalation_chain: Some(chain),
            ..Default::default()
        },
    )
    .await?;
    let q = ListQuery::parse("/api/actions/escalation-levels/", &format!("hospital={h}"))?;
    escalation_levels(state, p, &q).await
}
