//! The RBAC matrix. Routes come from the application's own OpenAPI document (every API route is
//! registered through utoipa-axum, so a new endpoint joins this test automatically). For every route
//! and every role it checks that nothing of another hospital (or, for department roles, of a sibling
//! department) is ever returned or changed, and that every non-public route refuses anonymous calls.

use std::collections::{BTreeMap, BTreeSet};

use px360::platform::clock::Clock;
use px360::platform::rbac::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app};

/// Routes anyone may call.
const PUBLIC: &[&str] = &[
    "/health/",
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/auth/refresh/",
    "/api/auth/logout/",
    "/api/auth/password/reset/",
    "/api/auth/password/reset/confirm/",
    // Authenticated by the gateway's shared secret, not a user (403 without it).
    "/api/notifications/inbound/{gateway}/",
    // The patient's survey form: the link token is the credential.
    "/api/surveys/public/{token}/",
    "/api/surveys/public/{token}/submit/",
];

/// One hospital's worth of objects, by the collection path that serves them.
struct Fixtures {
    by_collection: BTreeMap<&'static str, Uuid>,
    all_ids: BTreeSet<Uuid>,
}

async fn person_row(app: &TestApp, table: &str, hospital: Uuid, department: Uuid, n: &str) -> Uuid {
    let id = Uuid::now_v7();
    let sql = if table == "physicians" {
        "INSERT INTO physicians (id, hospital_id, department_id, license_number, first_name_en, last_name_en, \
         first_name_ar, last_name_ar, specialty, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'Omar', 'Haddad', 'عمر', 'حداد', 'Cardiology', TRUE, $5, $5)"
    } else {
        "INSERT INTO employees (id, hospital_id, department_id, employee_number, first_name_en, last_name_en, \
         first_name_ar, last_name_ar, job_title, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'Lina', 'Saleh', 'لينا', 'صالح', 'Clerk', $5, $5)"
    };
    let values = vec![
        id.into(),
        hospital.into(),
        department.into(),
        format!("{table}-{n}").into(),
        app.clock.now().into(),
    ];
    exec(app, sql, values).await;
    id
}

async fn patient(app: &TestApp, hospital: Uuid, mrn: &str) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, search_text, preferred_language, gender, opt_out, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Ahmed', 'Otaibi', 'أحمد', 'العتيبي', '', 'ar', 'MALE', $4, $5, $5)",
        vec![id.into(), hospital.into(), mrn.into(), false.into(), app.clock.now().into()],
    )
    .await;
    id
}

async fn api_key(app: &TestApp, hospital: Uuid, owner: Uuid, n: &str) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO api_keys (id, name, user_id, hospital_id, prefix, key_hash, created_at) VALUES ($1, 'HIS', $2, $3, $4, 'x', $5)",
        vec![id.into(), owner.into(), hospital.into(), format!("pfx{n}").into(), app.clock.now().into()],
    )
    .await;
    id
}

async fn audit_row(app: &TestApp, hospital: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO audit_log (id, occurred_at, action, hospital_id, details) VALUES ($1, $2, 'fixture.created', $3, '{}')",
        vec![id.into(), app.clock.now().into(), hospital.into()],
    )
    .await;
    id
}

/// A journey template with one stage, an instance with its stage instance, an inbound event, an event
/// mapping and an integration config, all of hospital `h`.
async fn journey_rows(
    app: &TestApp,
    h: Uuid,
    patient: Uuid,
    n: &str,
    by: &mut BTreeMap<&'static str, Uuid>,
) {
    let now = app.clock.now();
    let (t, st, i, si, ev, m, c) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    exec(app, "INSERT INTO journey_templates (id, hospital_id, journey_type, name_en, name_ar, description, version, active, created_at, updated_at) \
         VALUES ($1, $2, 'OPD', $3, 'رحلة', '', 1, $4, $5, $5)",
        vec![t.into(), h.into(), format!("OPD {n}").into(), false.into(), now.into()]).await;
    exec(app, "INSERT INTO journey_stage_templates (id, journey_template_id, hospital_id, code, name_en, name_ar, stage_order, trigger_event_code, \
         auto_send_survey, survey_delay_hours, requires_physician, optional, created_at, updated_at) \
         VALUES ($1, $2, $3, 'CONSULT', 'Consult', 'استشارة', 1, 'OPD_VISIT_COMPLETED', $4, 0, $4, $4, $5, $5)",
        vec![st.into(), t.into(), h.into(), false.into(), now.into()]).await;
    exec(app, "INSERT INTO journey_instances (id, hospital_id, journey_template_id, patient_id, encounter_id, status, started_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $6, $6)",
        vec![i.into(), h.into(), t.into(), patient.into(), format!("ENC-{n}").into(), now.into()]).await;
    exec(app, "INSERT INTO journey_stage_instances (id, journey_instance_id, stage_template_id, hospital_id, stage_order, status, note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, 'PENDING', '', $5, $5)",
        vec![si.into(), i.into(), st.into(), h.into(), now.into()]).await;
    exec(app, "INSERT INTO inbound_events (id, hospital_id, source_system, event_code, external_id, format, payload_json, payload_hash, encounter_id, \
         occurred_at, received_at, status, attempts, created_at, updated_at) \
         VALUES ($1, $2, 'his', 'OPD_VISIT_COMPLETED', $3, 'JSON', $4, 'h', $5, $6, $6, 'IGNORED', 1, $6, $6)",
        vec![ev.into(), h.into(), format!("X-{n}").into(), serde_json::json!({}).into(), format!("ENC-{n}").into(), now.into()]).await;
    exec(app, "INSERT INTO event_mappings (id, hospital_id, source_system, external_code, event_code, create_instance, active, description, created_at, updated_at) \
         VALUES ($1, $2, 'his', $3, 'OPD_VISIT_COMPLETED', $4, $5, '', $6, $6)",
        vec![m.into(), h.into(), format!("CODE-{n}").into(), false.into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO integration_configs (id, hospital_id, source_system, name, protocol, active, require_mapping, description, created_at, updated_at) \
         VALUES ($1, $2, $3, 'HIS', 'JSON', $4, $5, '', $6, $6)",
        vec![c.into(), h.into(), format!("src-{n}").into(), true.into(), false.into(), now.into()]).await;
    by.insert("/api/journeys/templates/", t);
    by.insert("/api/journeys/stage-templates/", st);
    by.insert("/api/journeys/instances/", i);
    by.insert("/api/journeys/stage-instances/", si);
    by.insert("/api/integrations/events/", ev);
    by.insert("/api/integrations/mappings/", m);
    by.insert("/api/integrations/configs/", c);
}

/// A notification log row and a hospital template of hospital `h`, and an in-app notification of `user`.
async fn notification_rows(
    app: &TestApp,
    h: Uuid,
    user: Uuid,
    patient: Uuid,
    n: &str,
    by: &mut BTreeMap<&'static str, Uuid>,
) {
    let now = app.clock.now();
    let (l, t, i) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    exec(app, "INSERT INTO notification_logs (id, hospital_id, channel, template_code, language, recipient_type, patient_id, \
         recipient, subject, body, status, reason, attempts, max_attempts, provider, error, scheduled_for, created_at, updated_at) \
         VALUES ($1, $2, 'SMS', 'survey_invitation', 'ar', 'PATIENT', $3, '+966500000001', '', 'body', 'SENT', '', 1, 5, 'console', '', $4, $4, $4)",
        vec![l.into(), h.into(), patient.into(), now.into()]).await;
    exec(app, "INSERT INTO notification_templates (id, code, hospital_id, channel, description, subject_en, subject_ar, body_en, body_ar, active, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, '', '', '', 'Hi', 'مرحبا', $4, $5, $5)",
        vec![t.into(), format!("fixture_{}", n.to_lowercase()).into(), h.into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO notification_inbox (id, user_id, hospital_id, title, body, link, created_at) VALUES ($1, $2, $3, 'T', 'B', '', $4)",
        vec![i.into(), user.into(), h.into(), now.into()]).await;
    by.insert("/api/notifications/logs/", l);
    by.insert("/api/notifications/templates/", t);
    by.insert("/api/notifications/inbox/", i);
}

/// A survey template with one question, an instance of department `dept` (physician `physician`)
/// and its answer, all of hospital `h`.
async fn survey_rows(
    app: &TestApp,
    h: Uuid,
    dept: Uuid,
    physician: Uuid,
    n: &str,
    by: &mut BTreeMap<&'static str, Uuid>,
) {
    let now = app.clock.now();
    let (t, q, i, r) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    exec(app, "INSERT INTO survey_templates (id, hospital_id, family_id, version, name_en, name_ar, description, kind, scoring_method, active, created_at, updated_at) \
         VALUES ($1, $2, $1, 1, $3, 'استبيان', '', 'STAGE', 'AVERAGE', $4, $5, $5)",
        vec![t.into(), h.into(), format!("Survey {n}").into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO survey_questions (id, survey_template_id, hospital_id, question_order, question_type, text_en, text_ar, choices, required, weight, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, 'RATING', 'How was it?', 'كيف كانت؟', $4, $5, 1.0, $6, $6)",
        vec![q.into(), t.into(), h.into(), serde_json::json!([]).into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO survey_instances (id, survey_template_id, hospital_id, department_id, physician_id, encounter_id, journey_type, stage_code, channel, recipient, language, token_hash, status, expires_at, send_count, score, is_negative, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'OPD', 'CONSULT', 'SMS', '+966500000009', 'ar', $7, 'COMPLETED', $8, 1, 75.0, $9, $8, $8)",
        vec![i.into(), t.into(), h.into(), dept.into(), physician.into(), format!("SENC-{n}").into(), format!("hash-{n}").into(), now.into(), false.into()]).await;
    exec(app, "INSERT INTO survey_responses (id, survey_instance_id, question_id, hospital_id, department_id, physician_id, value, text_value, score, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '4', 75.0, $8)",
        vec![r.into(), i.into(), q.into(), h.into(), dept.into(), physician.into(), serde_json::json!(4).into(), now.into()]).await;
    by.insert("/api/surveys/templates/", t);
    by.insert("/api/surveys/questions/", q);
    by.insert("/api/surveys/instances/", i);
    by.insert("/api/surveys/responses/", r);
}

/// An action of department `dept` with one attachment (its file on disk), an SLA config and a routing
/// rule of hospital `h`.
async fn action_rows(
    app: &TestApp,
    h: Uuid,
    dept: Uuid,
    n: &str,
    by: &mut BTreeMap<&'static str, Uuid>,
) {
    let now = app.clock.now();
    let (a, f, c, r) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    exec(app, "INSERT INTO px_actions (id, hospital_id, department_id, title, description, source_type, category, priority, severity, \
         status, escalation_level, hour_mode, sla_hours, reminder_hours_before, escalation_interval_hours, sla_started_at, due_at, \
         paused_seconds, pauses, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, '', 'MANUAL', 'OTHER', 'MEDIUM', 'MEDIUM', 'OPEN', 0, 'BUSINESS', 8, 2, 4, $5, $5, 0, $6, $5, $5)",
        vec![a.into(), h.into(), dept.into(), format!("Action {n}").into(), now.into(), serde_json::json!([]).into()]).await;
    let key = format!("{h}/{}", f.simple());
    let path = app.state.config.data_dir.join("attachments").join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"%PDF-1.7 fixture").unwrap();
    exec(app, "INSERT INTO px_action_attachments (id, action_id, hospital_id, file_name, content_type, size_bytes, storage_key, sha256, \
         is_evidence, note, created_at) VALUES ($1, $2, $3, 'e.pdf', 'application/pdf', 16, $4, '', $5, '', $6)",
        vec![f.into(), a.into(), h.into(), key.into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO px_action_sla_configs (id, hospital_id, hours, reminder_hours_before, escalation_interval_hours, hour_mode, \
         active, created_at, updated_at) VALUES ($1, $2, 8, 2, 4, 'BUSINESS', $3, $4, $4)",
        vec![c.into(), h.into(), true.into(), now.into()]).await;
    exec(app, "INSERT INTO px_action_routing_rules (id, hospital_id, name, rule_order, active, target, created_at, updated_at) \
         VALUES ($1, $2, $3, 10, $4, 'PX_TEAM', $5, $5)",
        vec![r.into(), h.into(), format!("Rule {n}").into(), true.into(), now.into()]).await;
    by.insert("/api/actions/actions/", a);
    by.insert("/api/actions/attachments/", f);
    by.insert("/api/actions/sla-configs/", c);
    by.insert("/api/actions/routing-rules/", r);
}

/// A hospital with two sibling departments; `main` holds the department-level objects, `sibling` the
/// ones a department role of `main` must not see.
async fn hospital_fixtures(app: &TestApp, code: &str) -> (Uuid, Uuid, Uuid, Fixtures, Fixtures) {
    let h = factory::hospital(app, code).await;
    let main = factory::department(app, h, &format!("{code}-MAIN"), None).await;
    let sibling = factory::department(app, h, &format!("{code}-SIB"), None).await;
    let mut fx = vec![];
    for (dept, tag) in [(main, "m"), (sibling, "s")] {
        let (user, _) = factory::user(app, Role::Staff, Some(h), Some(dept)).await;
        let mut by: BTreeMap<&'static str, Uuid> = BTreeMap::new();
        by.insert("/api/auth/users/", user);
        by.insert(
            "/api/auth/api-keys/",
            api_key(app, h, user, &format!("{code}{tag}")).await,
        );
        by.insert("/api/organizations/hospitals/", h);
        by.insert("/api/audit/", audit_row(app, h).await);
        by.insert("/api/organizations/departments/", dept);
        by.insert(
            "/api/organizations/physicians/",
            person_row(app, "physicians", h, dept, &format!("{code}{tag}")).await,
        );
        by.insert(
            "/api/organizations/employees/",
            person_row(app, "employees", h, dept, &format!("{code}{tag}")).await,
        );
        by.insert(
            "/api/organizations/patients/",
            patient(app, h, &format!("MRN-{code}{tag}")).await,
        );
        let patient_id = by["/api/organizations/patients/"];
        journey_rows(app, h, patient_id, &format!("{code}{tag}"), &mut by).await;
        notification_rows(app, h, user, patient_id, &format!("{code}{tag}"), &mut by).await;
        let physician_id = by["/api/organizations/physicians/"];
        survey_rows(app, h, dept, physician_id, &format!("{code}{tag}"), &mut by).await;
        action_rows(app, h, dept, &format!("{code}{tag}"), &mut by).await;
        let all_ids = by.values().copied().collect();
        fx.push(Fixtures {
            by_collection: by,
            all_ids,
        });
    }
    let sib = fx.pop().unwrap();
    let mainfx = fx.pop().unwrap();
    (h, main, sibling, mainfx, sib)
}

struct Route {
    method: String,
    path: String,
}

async fn routes(app: &TestApp) -> Vec<Route> {
    let doc: Value = app
        .client
        .get(app.url("/api/schema/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.push(Route {
                    method: method.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    out
}

/// The concrete URL for a route against `fx`'s objects; None when the route has no path parameter.
fn concrete(route: &Route, fx: &Fixtures) -> String {
    let Some(start) = route.path.find('{') else {
        return route.path.clone();
    };
    let collection = &route.path[..start];
    let id = fx.by_collection.get(collection).unwrap_or_else(|| {
        panic!(
            "the RBAC matrix has no fixture for {} {}: add one",
            route.method, route.path
        )
    });
    let end = route.path[start..].find('}').unwrap() + start;
    format!("{}{}{}", &route.path[..start], id, &route.path[end + 1..])
}

async fn call(app: &TestApp, method: &str, url: &str, token: Option<&str>) -> (u16, String) {
    let full = app.url(url);
    let mut r = match method {
        "get" => app.client.get(full),
        "post" => app.client.post(full).json(&json!({})),
        "put" => app.client.put(full).json(&json!({})),
        "patch" => app
            .client
            .patch(full)
            .json(&json!({"first_name_en": "Leaked", "name_en": "Leaked", "active": false})),
        "delete" => app.client.delete(full),
        _ => unreachable!(),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn leaked(body: &str, forbidden: &BTreeSet<Uuid>) -> Option<Uuid> {
    forbidden
        .iter()
        .copied()
        .find(|id| body.contains(&id.to_string()))
}

#[tokio::test]
async fn no_role_ever_reaches_another_hospital_or_a_sibling_department() {
    let app = spawn_app().await;
    let (_a, _a_main, _a_sib, a_fx, a_sib_fx) = hospital_fixtures(&app, "A").await;
    let (b, b_main, _b_sib, _b_fx, _) = hospital_fixtures(&app, "B").await;
    let all_routes = routes(&app).await;
    assert!(all_routes.len() > 10, "the schema lists the API routes");
    let mut failures = vec![];

    // 1. Every non-public route refuses anonymous callers.
    for r in all_routes
        .iter()
        .filter(|r| !PUBLIC.contains(&r.path.as_str()))
    {
        let (s, _) = call(&app, &r.method, &concrete(r, &a_fx), None).await;
        if s != 401 {
            failures.push(format!(
                "anonymous {} {} → {s} (want 401)",
                r.method, r.path
            ));
        }
    }

    // 2. Every role of hospital B, against A's objects: nothing of A is returned, nothing is changed.
    let a_ids: BTreeSet<Uuid> = a_fx.all_ids.union(&a_sib_fx.all_ids).copied().collect();
    for role in Role::ALL.into_iter().filter(|r| *r != Role::PxAdmin) {
        let dept = role.needs_department().then_some(b_main);
        let (_, token) = factory::user(&app, role, Some(b), dept).await;
        for r in all_routes
            .iter()
            .filter(|r| !PUBLIC.contains(&r.path.as_str()))
        {
            for fx in [&a_fx, &a_sib_fx] {
                let url = concrete(r, fx);
                let (s, body) = call(&app, &r.method, &url, Some(&token)).await;
                if (200..300).contains(&s) && r.path.contains('{') {
                    failures.push(format!("{role:?} of B: {} {url} → {s}", r.method));
                }
                if let Some(id) = leaked(&body, &a_ids) {
                    failures.push(format!(
                        "{role:?} of B: {} {url} → {s} shows A's object {id}",
                        r.method
                    ));
                }
            }
        }
    }

    // 3. Department roles of A's main department, against the sibling department's objects (tables
    // without a department column are hospital-wide by design and are skipped).
    let hospital_wide = [
        "/api/organizations/hospitals/",
        "/api/organizations/patients/",
        "/api/auth/api-keys/",
        // Journeys and interface traffic belong to the hospital, not to a department.
        "/api/journeys/",
        "/api/integrations/",
        // Notification logs and templates belong to the hospital; the inbox to its user.
        "/api/notifications/",
        // Survey templates and questions are the hospital's; instances and answers are scoped.
        "/api/surveys/templates/",
        "/api/surveys/questions/",
        // Action SLA configs, routing rules and escalation levels are hospital-wide configuration.
        "/api/actions/sla-configs/",
        "/api/actions/routing-rules/",
        "/api/actions/escalation-levels/",
    ];
    let sibling_ids: BTreeSet<Uuid> = a_sib_fx
        .by_collection
        .iter()
        .filter(|(k, _)| !hospital_wide.iter().any(|p| k.starts_with(p)))
        .map(|(_, v)| *v)
        .collect();
    let a_main = a_fx.by_collection["/api/organizations/departments/"];
    let a_h = a_fx.by_collection["/api/organizations/hospitals/"];
    for role in [Role::DepartmentManager, Role::Nurse, Role::Staff] {
        let (_, token) = factory::user(&app, role, Some(a_h), Some(a_main)).await;
        for r in all_routes
            .iter()
            .filter(|r| !PUBLIC.contains(&r.path.as_str()))
        {
            if hospital_wide.iter().any(|p| r.path.starts_with(p)) {
                continue;
            }
            let url = concrete(r, &a_sib_fx);
            let (s, body) = call(&app, &r.method, &url, Some(&token)).await;
            if (200..300).contains(&s) && r.path.contains('{') {
                failures.push(format!("{role:?} of A/main: {} {url} → {s}", r.method));
            }
            if let Some(id) = leaked(&body, &sibling_ids) {
                failures.push(format!(
                    "{role:?} of A/main: {} {url} → {s} shows sibling object {id}",
                    r.method
                ));
            }
        }
    }

    assert!(failures.is_empty(), "RBAC leaks:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn a_px_admin_reaches_every_hospital() {
    let app = spawn_app().await;
    let (_, _, _, a_fx, _) = hospital_fixtures(&app, "A").await;
    let (_, token) = factory::user(&app, Role::PxAdmin, None, None).await;
    for r in routes(&app)
        .await
        .into_iter()
        .filter(|r| r.method == "get" && r.path.contains('{'))
        .filter(|r| !PUBLIC.contains(&r.path.as_str()))
    {
        let url = concrete(&r, &a_fx);
        let (s, body) = call(&app, "get", &url, Some(&token)).await;
        assert_eq!(s, 200, "{url}: {body}");
    }
}
