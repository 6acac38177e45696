use px360::startup::ServeOptions;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn health_is_ok_when_worker_and_scheduler_run() {
    let app = spawn_app_with(ServeOptions::default()).await;
    // The background loops write their first heartbeat as they start; poll briefly for it.
    let mut body = Value::Null;
    for _ in 0..200 {
        let r = app.client.get(app.url("/health/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        body = r.json().await.unwrap();
        if body["status"] == "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "services": {"database": "ok", "worker": "ok", "scheduler": "ok"}})
    );
}

#[tokio::test]
async fn health_reports_a_missing_worker_and_scheduler() {
    let app = spawn_app().await;
    let body: Value = app
        .client
        .get(app.url("/health/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["database"], "ok");
    assert_eq!(body["services"]["worker"], "down");
    assert_eq!(body["services"]["scheduler"], "down");
}

#[tokio::test]
async fn the_schema_is_openapi_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/schema/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/health/"]["get"].is_object());
    assert!(doc["components"]["securitySchemes"]["jwt"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_with_no_outside_requests() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(attr), "external asset in Swagger UI: {attr}");
    }
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/schema/"));
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    let bundle = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/api/nope/")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["detail"], "Not found.");
    let r = app.client.delete(app.url("/health/")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["detail"], "Method not allowed.");
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/health/")).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers().contains_key("x-request-id"));
}
