use px360::platform::rbac::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, factory, spawn_app};

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(app, reqwest::Method::POST, token, path, body).await
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(app, reqwest::Method::PATCH, token, path, body).await
}

async fn px_admin(app: &TestApp) -> String {
    factory::user(app, Role::PxAdmin, None, None).await.1
}

async fn patient(app: &TestApp, token: &str, hospital: Uuid, mrn: &str, extra: Value) -> Value {
    let mut body = json!({"hospital": hospital, "mrn": mrn, "first_name_en": "Ahmed", "last_name_en": "Harbi"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, b) = post(app, token, "/api/organizations/patients/", body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

fn ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_hospital_admin_lists_only_its_own_hospitals_departments_and_patients() {
    let app = spawn_app().await;
    let (a, b) = (
        factory::hospital(&app, "A").await,
        factory::hospital(&app, "B").await,
    );
    let da = factory::department(&app, a, "CARD", None).await;
    factory::department(&app, b, "CARD", None).await;
    let admin = px_admin(&app).await;
    let pa = patient(&app, &admin, a, "MRN1", json!({})).await;
    patient(&app, &admin, b, "MRN1", json!({})).await;
    let (_, token) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;

    let (s, deps) = get(&app, &token, "/api/organizations/departments/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(deps["count"], 1);
    assert_eq!(ids(&deps), vec![da.to_string()]);
    let (_, pats) = get(&app, &token, "/api/organizations/patients/").await;
    assert_eq!(ids(&pats), vec![pa["id"].as_str().unwrap().to_string()]);
    let (_, hs) = get(&app, &token, "/api/organizations/hospitals/").await;
    assert_eq!(ids(&hs), vec![a.to_string()]);
    assert!(pats.get("next").is_some() && pats.get("previous").is_some());
}

#[tokio::test]
async fn another_hospitals_patient_is_not_found() {
    let app = spawn_app().await;
    let (a, b) = (
        factory::hospital(&app, "A").await,
        factory::hospital(&app, "B").await,
    );
    let admin = px_admin(&app).await;
    let pb = patient(&app, &admin, b, "MRN9", json!({})).await;
    let (_, token) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let path = format!(
        "/api/organizations/patients/{}/",
        pb["id"].as_str().unwrap()
    );
    let (s, body) = get(&app, &token, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Not found.");
    let (s, _) = patch(&app, &token, &path, json!({"first_name_en": "X"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&app, &token, "/api/organizations/patients/not-a-uuid/").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_viewer_can_read_but_its_patch_is_forbidden() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let d = factory::department(&app, h, "ER", None).await;
    let (_, viewer) = factory::user(&app, Role::Viewer, Some(h), None).await;
    let path = format!("/api/organizations/departments/{d}/");
    let (s, _) = get(&app, &viewer, &path).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = patch(&app, &viewer, &path, json!({"name_en": "Emergency"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, _) = patch(
        &app,
        &viewer,
        &format!("/api/organizations/hospitals/{h}/settings/"),
        json!({"negative_threshold": 50}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_department_manager_sees_its_department_and_children_but_not_siblings() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let root = factory::department(&app, h, "MED", None).await;
    let mine = factory::department(&app, h, "CARD", Some(root)).await;
    let child = factory::department(&app, h, "CATH", Some(mine)).await;
    let sibling = factory::department(&app, h, "NEURO", Some(root)).await;
    let (_, token) = factory::user(&app, Role::DepartmentManager, Some(h), Some(mine)).await;

    let (_, page) = get(&app, &token, "/api/organizations/departments/").await;
    let mut got = ids(&page);
    got.sort();
    let mut want = vec![mine.to_string(), child.to_string()];
    want.sort();
    assert_eq!(got, want);
    let (s, _) = get(
        &app,
        &token,
        &format!("/api/organizations/departments/{sibling}/"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = patch(
        &app,
        &token,
        &format!("/api/organizations/departments/{child}/"),
        json!({"name_en": "Cath lab"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_national_id_is_stored_encrypted_yet_found_by_its_blind_index() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let admin = px_admin(&app).await;
    let p = patient(
        &app,
        &admin,
        h,
        "MRN1",
        json!({"national_id": "1012345890"}),
    )
    .await;
    patient(
        &app,
        &admin,
        h,
        "MRN2",
        json!({"national_id": "2012345678"}),
    )
    .await;

    let db = app.db();
    let row = db
        .query_one_raw(px360::platform::db::stmt(
            sea_orm::ConnectionTrait::get_database_backend(db),
            "SELECT national_id_enc, national_id_index FROM patients WHERE id = $1",
            vec![Uuid::parse_str(p["id"].as_str().unwrap()).unwrap().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let enc: String = row.try_get_by_index(0).unwrap();
    let index: String = row.try_get_by_index(1).unwrap();
    assert!(!enc.contains("1012345890") && !index.contains("1012345890"));

    let (_, page) = get(
        &app,
        &admin,
        "/api/organizations/patients/?national_id=1012345890",
    )
    .await;
    assert_eq!(ids(&page), vec![p["id"].as_str().unwrap().to_string()]);
    let (_, page) = get(
        &app,
        &admin,
        "/api/organizations/patients/?national_id=1999999999",
    )
    .await;
    assert_eq!(page["count"], 0);
}

use sea_orm::ConnectionTrait as _;

#[tokio::test]
async fn lists_mask_phone_and_national_id_and_the_detail_view_shows_them_and_is_audited() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let admin = px_admin(&app).await;
    let p = patient(
        &app,
        &admin,
        h,
        "MRN1",
        json!({"national_id": "1234567890", "phone": "+966512345123"}),
    )
    .await;
    let id = p["id"].as_str().unwrap();

    let (_, page) = get(&app, &admin, "/api/organizations/patients/").await;
    assert_eq!(page["results"][0]["phone"], "+9665*****123");
    assert_eq!(page["results"][0]["national_id"], "*******890");

    let viewed = format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.viewed' AND object_id = '{id}'"
    );
    assert_eq!(factory::count(&app, &viewed).await, 0);
    let (s, detail) = get(&app, &admin, &format!("/api/organizations/patients/{id}/")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["phone"], "+966512345123");
    assert_eq!(detail["national_id"], "1234567890");
    assert_eq!(factory::count(&app, &viewed).await, 1);
    let created = format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.created' AND object_id = '{id}' AND hospital_id IS NOT NULL"
    );
    assert_eq!(factory::count(&app, &created).await, 1);
}

#[tokio::test]
async fn missing_fields_are_each_reported_and_unknown_enums_list_the_allowed_values() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let admin = px_admin(&app).await;
    let (s, body) = post(&app, &admin, "/api/organizations/departments/", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for f in ["hospital", "code", "name_en", "name_ar", "category"] {
        assert_eq!(body[f][0], "This field is required.", "{f}: {body}");
    }
    let (s, body) = post(
        &app,
        &admin,
        "/api/organizations/departments/",
        json!({"hospital": h, "code": "X", "name_en": "X", "name_ar": "س", "category": "MAGIC"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = body["category"][0].as_str().unwrap();
    assert!(
        msg.contains("\"MAGIC\" is not a valid choice")
            && msg.contains("CLINICAL, NURSING, ADMINISTRATIVE, SUPPORT, EMERGENCY, DIAGNOSTIC"),
        "{msg}"
    );

    let (s, body) = post(&app, &admin, "/api/organizations/patients/",
        json!({"hospital": h, "mrn": "M", "first_name_en": "A", "gender": "X", "phone": "0501234567",
               "email": "nope", "national_id": "3012345678", "date_of_birth": "2999-01-01", "preferred_language": "fr"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for f in [
        "gender",
        "phone",
        "email",
        "national_id",
        "date_of_birth",
        "preferred_language",
    ] {
        assert!(body.get(f).is_some(), "{f}: {body}");
    }
    assert!(
        body["gender"][0]
            .as_str()
            .unwrap()
            .contains("MALE, FEMALE, UNKNOWN")
    );
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM patients").await,
        0
    );
}

#[tokio::test]
async fn a_duplicate_mrn_is_refused_in_the_same_hospital_but_allowed_in_another() {
    let app = spawn_app().await;
    let (a, b) = (
        factory::hospital(&app, "A").await,
        factory::hospital(&app, "B").await,
    );
    let admin = px_admin(&app).await;
    patient(&app, &admin, a, "MRN1", json!({})).await;
    let (s, body) = post(
        &app,
        &admin,
        "/api/organizations/patients/",
        json!({"hospital": a, "mrn": "MRN1", "first_name_en": "Other"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["mrn"][0].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    patient(&app, &admin, b, "MRN1", json!({})).await;
}

#[tokio::test]
async fn creating_a_patient_in_a_hospital_outside_scope_reads_like_a_missing_hospital() {
    let app = spawn_app().await;
    let (a, b) = (
        factory::hospital(&app, "A").await,
        factory::hospital(&app, "B").await,
    );
    let (_, token) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let (s, body) = post(
        &app,
        &token,
        "/api/organizations/patients/",
        json!({"hospital": b, "mrn": "M1", "first_name_en": "A"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["hospital"][0],
        format!("Invalid pk \"{b}\" - object does not exist.")
    );
    let ghost = Uuid::now_v7();
    let (_, body) = post(
        &app,
        &token,
        "/api/organizations/patients/",
        json!({"hospital": ghost, "mrn": "M1", "first_name_en": "A"}),
    )
    .await;
    assert_eq!(
        body["hospital"][0],
        format!("Invalid pk \"{ghost}\" - object does not exist.")
    );
    let (s, _) = post(
        &app,
        &token,
        "/api/organizations/patients/",
        json!({"hospital": a, "mrn": "M1", "first_name_en": "A"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn patient_search_ignores_arabic_spelling_variants() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let admin = px_admin(&app).await;
    let p = patient(
        &app,
        &admin,
        h,
        "MRN1",
        json!({"first_name_ar": "أحمد", "last_name_ar": "الحربي"}),
    )
    .await;
    patient(
        &app,
        &admin,
        h,
        "MRN2",
        json!({"first_name_en": "Sara", "first_name_ar": "سارة"}),
    )
    .await;
    for term in ["أحمد", "احمد", "إحمد", "AHMED", "mrn1"] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("search", term)
            .finish();
        let (_, page) = get(&app, &admin, &format!("/api/organizations/patients/?{q}")).await;
        assert_eq!(
            ids(&page),
            vec![p["id"].as_str().unwrap().to_string()],
            "{term}"
        );
    }
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("search", "ساره")
        .finish();
    let (_, page) = get(&app, &admin, &format!("/api/organizations/patients/?{q}")).await;
    assert_eq!(page["count"], 1);
}

#[tokio::test]
async fn moving_a_department_rewrites_its_subtree_paths_and_cycles_are_refused() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let admin = px_admin(&app).await;
    let mk = |code: &'static str, parent: Option<String>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (s, b) = post(app, &admin, "/api/organizations/departments/",
                json!({"hospital": h, "parent": parent, "code": code, "name_en": code, "name_ar": "قسم", "category": "CLINICAL"})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["id"].as_str().unwrap().to_string()
        }
    };
    let a = mk("A", None).await;
    let b = mk("B", Some(a.clone())).await;
    let c = mk("C", Some(b.clone())).await;
    let other = mk("O", None).await;
    let path = |id: &str| format!("/api/organizations/departments/{id}/");

    let (_, cb) = get(&app, &admin, &path(&c)).await;
    assert_eq!(cb["path"], format!("/{a}/{b}/{c}/"));

    let (s, body) = patch(&app, &admin, &path(&b), json!({"parent": other})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["path"], format!("/{other}/{b}/"));
    let (_, cb) = get(&app, &admin, &path(&c)).await;
    assert_eq!(cb["path"], format!("/{other}/{b}/{c}/"));

    let (s, body) = patch(&app, &admin, &path(&other), json!({"parent": c})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("parent").is_some(), "{body}");
    let (s, _) = patch(&app, &admin, &path(&b), json!({"parent": b})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = patch(&app, &admin, &path(&b), json!({"parent": null})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, cb) = get(&app, &admin, &path(&c)).await;
    assert_eq!(cb["path"], format!("/{b}/{c}/"));

    let (s, _) = app
        .client
        .delete(app.url(&path(&b)))
        .bearer_auth(&admin)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .client
        .delete(app.url(&path(&c)))
        .bearer_auth(&admin)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = get(&app, &admin, &path(&c)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = post(&app, &admin, "/api/organizations/departments/",
        json!({"hospital": h, "code": "A", "name_en": "Dup", "name_ar": "قسم", "category": "CLINICAL"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("code").is_some());
}

#[tokio::test]
async fn a_px_admin_creates_hospitals_with_default_settings_and_a_hospital_admin_cannot() {
    let app = spawn_app().await;
    let admin = px_admin(&app).await;
    let (s, h) = post(
        &app,
        &admin,
        "/api/organizations/hospitals/",
        json!({"code": "HH-RUH", "name_en": "Riyadh", "name_ar": "الرياض", "city": "Riyadh"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let id = h["id"].as_str().unwrap();
    let (s, st) = get(
        &app,
        &admin,
        &format!("/api/organizations/hospitals/{id}/settings/"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["negative_threshold"], 60);
    assert_eq!(st["default_channel"], "SMS");
    assert_eq!(st["enabled_channels"], json!(["SMS", "WHATSAPP", "EMAIL"]));
    assert_eq!(
        st["escalation_chain"],
        json!(["DEPARTMENT_MANAGER", "HOSPITAL_ADMIN", "PX_ADMIN"])
    );
    assert_eq!(
        st["working_days"],
        json!(["SUN", "MON", "TUE", "WED", "THU"])
    );
    assert_eq!(st["timezone"], "Asia/Riyadh");
    assert_eq!(st["action_triggers"]["CALL_RATED_LOW"], true);
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM hospital_settings").await,
        1
    );
    let (s, st) = patch(
        &app,
        &admin,
        &format!("/api/organizations/hospitals/{id}/settings/"),
        json!({"reminder_after_days": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(st["reminder_after_days"], 0);
    assert_eq!(st["negative_threshold"], 60);

    let (s, body) = post(
        &app,
        &admin,
        "/api/organizations/hospitals/",
        json!({"code": "HH-RUH", "name_en": "Again", "name_ar": "مرة"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("code").is_some());

    let hid = Uuid::parse_str(id).unwrap();
    let (_, hadmin) = factory::user(&app, Role::HospitalAdmin, Some(hid), None).await;
    let (s, _) = post(
        &app,
        &hadmin,
        "/api/organizations/hospitals/",
        json!({"code": "HH-JED", "name_en": "Jeddah", "name_ar": "جدة"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM hospitals").await,
        1
    );
}

#[tokio::test]
async fn settings_changes_are_validated_field_by_field() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "A").await;
    let (_, token) = factory::user(&app, Role::HospitalAdmin, Some(h), None).await;
    let path = format!("/api/organizations/hospitals/{h}/settings/");
    let (s, body) = patch(&app, &token, &path, json!({
        "negative_threshold": 150, "quiet_hours_start": "7pm", "work_start": "16:00", "work_end": "08:00",
        "timezone": "Nowhere/City", "enabled_channels": ["SMS", "PIGEON"], "escalation_chain": ["CEO"],
        "holidays": ["2026-13-01"], "working_days": ["FUNDAY"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for f in [
        "negative_threshold",
        "quiet_hours_start",
        "work_end",
        "timezone",
        "enabled_channels",
        "escalation_chain",
        "holidays",
        "working_days",
    ] {
        assert!(body.get(f).is_some(), "{f}: {body}");
    }
    let (s, body) = patch(&app, &token, &path, json!({"enabled_channels": ["EMAIL"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("default_channel").is_some());

    let (s, body) = patch(&app, &token, &path, json!({"negative_threshold": 70, "enabled_channels": ["EMAIL"],
        "default_channel": "EMAIL", "holidays": ["2026-03-20"], "action_triggers": {"KPI_BREACHED": false}})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["negative_threshold"], 70);
    assert_eq!(body["action_triggers"]["KPI_BREACHED"], false);
    assert_eq!(body["action_triggers"]["COMPLAINT_CREATED"], true);
    let (_, again) = get(&app, &token, &path).await;
    assert_eq!(again["default_channel"], "EMAIL");
    let s = px360::apps::organizations::hospital_settings(app.db(), h)
        .await
        .unwrap();
    assert!(
        px360::apps::organizations::work_calendar(&s)
            .holidays()
            .contains(&chrono::NaiveDate::from_ymd_opt(2026, 3, 20).unwrap())
    );
}

#[tokio::test]
async fn physicians_and_employees_are_created_in_scope_with_unique_numbers() {
    let app = spawn_app().await;
    let (a, b) = (
        factory::hospital(&app, "A").await,
        factory::hospital(&app, "B").await,
    );
    let da = factory::department(&app, a, "CARD", None).await;
    let db_ = factory::department(&app, b, "CARD", None).await;
    let (_, token) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let (s, ph) = post(&app, &token, "/api/organizations/physicians/", json!({"hospital": a, "department": da,
        "license_number": "PHY001", "first_name_en": "Omar", "last_name_en": "Saud", "phone": "+966501234567"})).await;
    assert_eq!(s, StatusCode::CREATED, "{ph}");
    assert_eq!(ph["department"], da.to_string());
    let (s, body) = post(
        &app,
        &token,
        "/api/organizations/physicians/",
        json!({"hospital": a,
        "license_number": "PHY001", "first_name_en": "X", "last_name_en": "Y"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("license_number").is_some());
    let (s, body) = post(
        &app,
        &token,
        "/api/organizations/physicians/",
        json!({"hospital": a, "department": db_,
        "license_number": "PHY002", "first_name_en": "X", "last_name_en": "Y"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["department"][0],
        format!("Invalid pk \"{db_}\" - object does not exist.")
    );

    let (s, boss) = post(
        &app,
        &token,
        "/api/organizations/employees/",
        json!({"hospital": a, "employee_number": "E1",
        "first_name_en": "Boss", "last_name_en": "One"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{boss}");
    let (s, emp) = post(
        &app,
        &token,
        "/api/organizations/employees/",
        json!({"hospital": a, "employee_number": "E2",
        "first_name_en": "Emp", "last_name_en": "Two", "reports_to": boss["id"], "department": da}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{emp}");
    let (s, body) = patch(
        &app,
        &token,
        &format!(
            "/api/organizations/employees/{}/",
            boss["id"].as_str().unwrap()
        ),
        json!({"reports_to": emp["id"]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.get("reports_to").is_some());
    let (_, page) = get(
        &app,
        &token,
        &format!("/api/organizations/employees/?department={da}"),
    )
    .await;
    assert_eq!(page["count"], 1);
}

#[tokio::test]
async fn every_organizations_route_is_in_the_openapi_schema() {
    let app = spawn_app().await;
    let schema: Value = app
        .client
        .get(app.url("/api/schema/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for r in [
        "hospitals",
        "departments",
        "physicians",
        "employees",
        "patients",
    ] {
        let list = &schema["paths"][format!("/api/organizations/{r}/")];
        assert!(
            list.get("get").is_some() && list.get("post").is_some(),
            "{r}"
        );
        let item = &schema["paths"][format!("/api/organizations/{r}/{{id}}/")];
        for m in ["get", "patch", "put", "delete"] {
            assert!(item.get(m).is_some(), "{r} {m}");
        }
    }
    assert!(
        schema["paths"]["/api/organizations/hospitals/{id}/settings/"]
            .get("patch")
            .is_some()
    );
}
