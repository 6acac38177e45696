//! The JSON error contract, exercised through the same extractor, limits and error mapping every API
//! route uses, mounted on a router of its own.

use axum::Router;
use axum::routing::post;
use px360::platform::error::AppResult;
use px360::platform::json::ApiJson;
use px360::platform::limits;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Event {
    event_code: String,
    kind: Kind,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Kind {
    Opd,
    Ems,
}

async fn create(ApiJson(e): ApiJson<Event>) -> AppResult<axum::Json<Value>> {
    let kind = match e.kind {
        Kind::Opd => "OPD",
        Kind::Ems => "EMS",
    };
    Ok(axum::Json(
        json!({ "event_code": e.event_code, "kind": kind }),
    ))
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/small/",
            post(create).route_layer(limits::limit(limits::INBOUND_EVENT)),
        )
        .route("/default/", post(create))
        .layer(limits::limit(limits::JSON_DEFAULT));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn post_raw(url: String, body: Vec<u8>, ct: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_json_is_400_with_detail() {
    let base = serve().await;
    let (s, b) = post_raw(
        format!("{base}/default/"),
        b"{\"event_code\": ".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
}

#[tokio::test]
async fn wrong_shapes_are_400_per_field() {
    let base = serve().await;
    let (s, b) = post_raw(
        format!("{base}/default/"),
        br#"{"kind": "OPD"}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(
        (s, b),
        (400, json!({"event_code": ["This field is required."]}))
    );
    let (s, b) = post_raw(
        format!("{base}/default/"),
        br#"{"event_code": "X", "kind": "ICU"}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(s, 400);
    assert!(b["kind"][0].as_str().unwrap().contains("allowed: OPD, EMS"));
}

#[tokio::test]
async fn a_body_over_the_route_limit_is_413() {
    let base = serve().await;
    let big = format!(
        r#"{{"event_code": "{}", "kind": "OPD"}}"#,
        "x".repeat(300 * 1024)
    );
    let (s, b) = post_raw(
        format!("{base}/small/"),
        big.clone().into_bytes(),
        "application/json",
    )
    .await;
    assert_eq!(s, 413);
    assert!(b["detail"].is_string());
    // The same body is fine where the default 1 MiB applies.
    let (s, _) = post_raw(
        format!("{base}/default/"),
        big.into_bytes(),
        "application/json",
    )
    .await;
    assert_eq!(s, 200);
    let huge = format!(
        r#"{{"event_code": "{}", "kind": "OPD"}}"#,
        "x".repeat(1100 * 1024)
    );
    let (s, _) = post_raw(
        format!("{base}/default/"),
        huge.into_bytes(),
        "application/json",
    )
    .await;
    assert_eq!(s, 413);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let base = serve().await;
    let (s, b) = post_raw(
        format!("{base}/default/"),
        b"event_code=X".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(s, 415);
    assert!(b["detail"].is_string());
}
