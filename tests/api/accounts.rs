use px360::platform::rbac::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, factory, spawn_app};

const PW: &str = "Riyadh-Care-2026";

async fn admin(app: &TestApp) -> String {
    px360::apps::accounts::create_admin(&app.state, "px.admin@example.sa", PW)
        .await
        .unwrap();
    "px.admin@example.sa".into()
}

async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut r = app.client.post(app.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn login(app: &TestApp, email: &str, pw: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    post(
        app,
        "/api/auth/token/",
        None,
        json!({"email": email, "password": pw}),
    )
    .await
}

#[tokio::test]
async fn the_admin_gets_tokens_and_the_access_token_works() {
    let app = spawn_app().await;
    let email = admin(&app).await;
    let (s, b, _) = login(&app, &email, PW).await;
    assert_eq!(s, 200, "{b}");
    let access = b["access"].as_str().unwrap();
    assert!(b["refresh"].is_string());
    let (s, me) = get(&app, "/api/auth/users/me/", access).await;
    assert_eq!(s, 200);
    assert_eq!(me["email"], email);
    assert_eq!(me["roles"][0]["role"], "PX_ADMIN");
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'login.succeeded'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_wrong_password_is_401_and_audited() {
    let app = spawn_app().await;
    let email = admin(&app).await;
    let (s, b, _) = login(&app, &email, "Wrong-password-1").await;
    assert_eq!(s, 401);
    assert!(b["detail"].is_string());
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'"
        )
        .await,
        1
    );
    // Unknown emails answer the same way.
    let (s, _, _) = login(&app, "nobody@example.sa", PW).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn repeated_failures_are_throttled_until_an_admin_unlocks() {
    let app = spawn_app().await;
    let email = admin(&app).await;
    for _ in 0..5 {
        assert_eq!(login(&app, &email, "Wrong-password-1").await.0, 401);
    }
    let (s, b, h) = login(&app, &email, PW).await;
    assert_eq!(s, 429, "{b}");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60);

    // A second admin unlocks the account.
    let (other, token) = factory::user(&app, Role::PxAdmin, None, None).await;
    let _ = other;
    let id = factory::count(&app, "SELECT COUNT(*) FROM users").await;
    assert!(id >= 2);
    let (_, users) = get(&app, "/api/auth/users/?search=px.admin", &token).await;
    let uid = users["results"][0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = post(
        &app,
        &format!("/api/auth/users/{uid}/unlock/"),
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(login(&app, &email, PW).await.0, 200);
}

#[tokio::test]
async fn the_throttle_window_expires() {
    let app = spawn_app().await;
    let email = admin(&app).await;
    for _ in 0..5 {
        login(&app, &email, "Wrong-password-1").await;
    }
    assert_eq!(login(&app, &email, PW).await.0, 429);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login(&app, &email, PW).await.0, 200);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_spent_one_revokes_its_family() {
    let app = spawn_app().await;
    let email = admin(&app).await;
    let (_, first, _) = login(&app, &email, PW).await;
    let r1 = first["refresh"].as_str().unwrap().to_string();
    let (s, second, _) = post(
        &app,
        "/api/auth/token/refresh/",
        None,
        json!({"refresh": r1}),
    )
    .await;
    assert_eq!(s, 200);
    let r2 = second["refresh"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // The alias path works too.
    let (s, third, _) = post(&app, "/api/auth/refresh/", None, json!({"refresh": r2})).await;
    assert_eq!(s, 200);
    let r3 = third["refresh"].as_str().unwrap().to_string();
    // Replaying a spent token: 401, and the newest token of the family dies with it.
    let (s, _, _) = post(
        &app,
        "/api/auth/token/refresh/",
        None,
        json!({"refresh": r1}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = post(
        &app,
        "/api/auth/token/refresh/",
        None,
        json!({"refresh": r3}),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'token.reuse_detected'"
        )
        .await,
        1
    );
    // A fresh login starts a new family.
    assert_eq!(login(&app, &email, PW).await.0, 200);
}

#[tokio::test]
async fn access_tokens_expire_and_missing_credentials_are_401() {
    let app = spawn_app().await;
    let (_, token) = factory::user(
        &app,
        Role::Viewer,
        Some(factory::hospital(&app, "A").await),
        None,
    )
    .await;
    assert_eq!(get(&app, "/api/auth/users/me/", &token).await.0, 200);
    let r = app
        .client
        .get(app.url("/api/auth/users/me/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(get(&app, "/api/auth/users/me/", "garbage").await.0, 401);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(get(&app, "/api/auth/users/me/", &token).await.0, 401);
}

#[tokio::test]
async fn hospital_admins_manage_users_only_in_their_hospital() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let b = factory::hospital(&app, "B").await;
    let dept_a = factory::department(&app, a, "CARD", None).await;
    let (_, ha) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let (ub, _) = factory::user(
        &app,
        Role::Staff,
        Some(b),
        Some(factory::department(&app, b, "ER", None).await),
    )
    .await;

    // Creating in A works; in B answers as if B did not exist.
    let (s, created, _) = post(
        &app,
        "/api/auth/users/",
        Some(&ha),
        json!({
            "email": "nurse.sara@example.sa", "first_name_en": "Sara", "first_name_ar": "سارة",
            "roles": [{"role": "NURSE", "hospital": a, "department": dept_a}]
        }),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert!(
        created["invitation_link"]
            .as_str()
            .unwrap()
            .contains("/accept-invitation/")
    );
    let (s, e, _) = post(
        &app,
        "/api/auth/users/",
        Some(&ha),
        json!({
            "email": "x@example.sa", "roles": [{"role": "VIEWER", "hospital": b}]
        }),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        e["roles.0.hospital"][0]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{e}"
    );
    // Granting PX_ADMIN is refused.
    let (s, _, _) = post(
        &app,
        "/api/auth/users/",
        Some(&ha),
        json!({
            "email": "y@example.sa", "roles": [{"role": "PX_ADMIN"}]
        }),
    )
    .await;
    assert_eq!(s, 403);
    // B's user is invisible.
    assert_eq!(
        get(&app, &format!("/api/auth/users/{ub}/"), &ha).await.0,
        404
    );
    let (_, list) = get(&app, "/api/auth/users/", &ha).await;
    let emails: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"nurse.sara@example.sa"));
    assert!(
        !emails.iter().any(|e| e.starts_with("staff-")),
        "{emails:?}"
    );
}

#[tokio::test]
async fn bad_user_input_is_400_per_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let (_, px) = factory::user(&app, Role::PxAdmin, None, None).await;
    let before = factory::count(&app, "SELECT COUNT(*) FROM users").await;
    let (s, e, _) = post(&app, "/api/auth/users/", Some(&px), json!({
        "email": "not-an-email", "phone": "0501234", "preferred_language": "fr", "password": "short"
    }))
    .await;
    assert_eq!(s, 400);
    for f in ["email", "phone", "preferred_language", "password"] {
        assert!(e[f].is_array(), "{f} missing in {e}");
    }
    let (s, e, _) = post(
        &app,
        "/api/auth/users/",
        Some(&px),
        json!({
            "email": "ok@example.sa", "roles": [{"role": "SUPERUSER", "hospital": a}]
        }),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        e["roles.0.role"][0]
            .as_str()
            .unwrap()
            .contains("allowed: PX_ADMIN"),
        "{e}"
    );
    let (s, e, _) = post(&app, "/api/auth/users/", Some(&px), json!({
        "email": "ok2@example.sa", "roles": [{"role": "VIEWER", "hospital": a}, {"role": "NURSE", "hospital": a}]
    }))
    .await;
    assert_eq!(s, 400);
    assert!(e["roles.1.department"].is_array(), "{e}");
    assert_eq!(
        factory::count(&app, "SELECT COUNT(*) FROM users").await,
        before
    );

    let body = json!({"email": "dup@example.sa", "roles": [{"role": "VIEWER", "hospital": a}]});
    assert_eq!(
        post(&app, "/api/auth/users/", Some(&px), body.clone())
            .await
            .0,
        201
    );
    let (s, e, _) = post(&app, "/api/auth/users/", Some(&px), body).await;
    assert_eq!(s, 400);
    assert!(e["email"].is_array());
}

#[tokio::test]
async fn a_viewer_cannot_create_or_edit_users() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let (me, v) = factory::user(&app, Role::Viewer, Some(a), None).await;
    let (s, _, _) = post(
        &app,
        "/api/auth/users/",
        Some(&v),
        json!({"email": "z@example.sa"}),
    )
    .await;
    assert_eq!(s, 403);
    let r = app
        .client
        .patch(app.url(&format!("/api/auth/users/{me}/")))
        .bearer_auth(&v)
        .json(&json!({"first_name_en": "X"}))
        .send()
        .await
        .unwrap();
    // A viewer may not see the user directory at all, so a user record is out of its reach (404).
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_invitation_link_sets_the_password_once() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let (_, px) = factory::user(&app, Role::PxAdmin, None, None).await;
    let (_, created, _) = post(
        &app,
        "/api/auth/users/",
        Some(&px),
        json!({
            "email": "invitee@example.sa", "roles": [{"role": "VIEWER", "hospital": a}]
        }),
    )
    .await;
    let link = created["invitation_link"].as_str().unwrap();
    let token = link.trim_end_matches('/').rsplit('/').next().unwrap();
    let (s, e, _) = post(
        &app,
        "/api/auth/password/reset/confirm/",
        None,
        json!({"token": token, "new_password": "weak"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["new_password"].is_array());
    let (s, _, _) = post(
        &app,
        "/api/auth/password/reset/confirm/",
        None,
        json!({"token": token, "new_password": PW}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(login(&app, "invitee@example.sa", PW).await.0, 200);
    let (s, e, _) = post(
        &app,
        "/api/auth/password/reset/confirm/",
        None,
        json!({"token": token, "new_password": PW}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(e["token"].is_array());
    // Reset requests never reveal whether an account exists.
    let (s1, b1, _) = post(
        &app,
        "/api/auth/password/reset/",
        None,
        json!({"email": "invitee@example.sa"}),
    )
    .await;
    let (s2, b2, _) = post(
        &app,
        "/api/auth/password/reset/",
        None,
        json!({"email": "ghost@example.sa"}),
    )
    .await;
    assert_eq!((s1, &b1), (s2, &b2));
}

#[tokio::test]
async fn roles_can_be_assigned_and_removed_and_both_are_audited() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let (_, ha) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let (u, _) = factory::user(&app, Role::Viewer, Some(a), None).await;
    let (s, b, _) = post(
        &app,
        &format!("/api/auth/users/{u}/assign_role/"),
        Some(&ha),
        json!({"role": "PX_COORDINATOR", "hospital": a}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["roles"].as_array().unwrap().len(), 2);
    let (s, b, _) = post(
        &app,
        &format!("/api/auth/users/{u}/remove_role/"),
        Some(&ha),
        json!({"role": "VIEWER", "hospital": a}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["roles"][0]["role"], "PX_COORDINATOR");
    assert_eq!(
        factory::count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('role.assigned', 'role.removed')"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_to_their_hospital_and_revocable() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "A").await;
    let b = factory::hospital(&app, "B").await;
    let (_, ha) = factory::user(&app, Role::HospitalAdmin, Some(a), None).await;
    let (s, k, _) = post(
        &app,
        "/api/auth/api-keys/",
        Some(&ha),
        json!({"name": "HIS interface", "hospital": a, "role": "VIEWER"}),
    )
    .await;
    assert_eq!(s, 201, "{k}");
    let key = k["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("px_"));
    let (s, _, _) = post(
        &app,
        "/api/auth/api-keys/",
        Some(&ha),
        json!({"name": "x", "hospital": b}),
    )
    .await;
    assert_eq!(s, 400);
    // Stored hashed: the key is nowhere in the table.
    assert_eq!(
        factory::count(
            &app,
            &format!("SELECT COUNT(*) FROM api_keys WHERE key_hash = '{key}' OR prefix = '{key}'")
        )
        .await,
        0
    );
    let (_, list) = get(&app, "/api/auth/api-keys/", &ha).await;
    assert_eq!(list["count"], 1);
    assert!(list["results"][0].get("key").is_none());
    // The key authenticates, and records its use.
    let r = app
        .client
        .get(app.url("/api/auth/roles/"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = get(&app, "/api/auth/api-keys/", &ha).await;
    assert!(list["results"][0]["last_used_at"].is_string());
    // Revoked: refused at once.
    let id = k["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/api/auth/api-keys/{id}/")))
        .bearer_auth(&ha)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(app.url("/api/auth/roles/"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/api/auth/roles/"))
        .header("X-API-Key", "px_000000000000_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_roles_endpoint_lists_the_eight_roles_with_permissions() {
    let app = spawn_app().await;
    let (_, v) = factory::user(
        &app,
        Role::Viewer,
        Some(factory::hospital(&app, "A").await),
        None,
    )
    .await;
    let (s, roles) = get(&app, "/api/auth/roles/", &v).await;
    assert_eq!(s, 200);
    let codes: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "PX_ADMIN",
            "HOSPITAL_ADMIN",
            "DEPARTMENT_MANAGER",
            "PX_COORDINATOR",
            "PHYSICIAN",
            "NURSE",
            "STAFF",
            "VIEWER"
        ]
    );
    assert_eq!(roles[7]["permissions"]["patients"], json!(["view"]));
}

#[tokio::test]
async fn malformed_json_and_oversized_bodies_on_a_real_route() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/api/auth/token/"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
    let big = format!(
        "{{\"email\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(1100 * 1024)
    );
    let r = app
        .client
        .post(app.url("/api/auth/token/"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = app
        .client
        .post(app.url("/api/auth/token/"))
        .json(&json!({"email": "a@b.sa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b, json!({"password": ["This field is required."]}));
}
