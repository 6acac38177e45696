use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_seed_fills_an_empty_database_once_with_a_login_per_role() {
    let app = spawn_app().await;
    let logins = px360::demo::seed_if_empty(&app.state)
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(logins.users.len(), 8);
    assert!(
        px360::demo::seed_if_empty(&app.state)
            .await
            .unwrap()
            .is_none()
    );

    let sign_in = |email: String| {
        let app = &app;
        let pw = logins.password.clone();
        async move {
            let r = app
                .client
                .post(app.url("/api/auth/token/"))
                .json(&json!({"email": email, "password": pw}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{email}");
            let b: Value = r.json().await.unwrap();
            b["access"].as_str().unwrap().to_string()
        }
    };
    let px = sign_in("px.admin@demo.px360.sa".into()).await;
    let ha = sign_in("hospital.admin@demo.px360.sa".into()).await;
    let get = |path: &'static str, token: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(app.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        get("/api/organizations/hospitals/", px.clone()).await["count"],
        2
    );
    assert_eq!(
        get("/api/organizations/patients/", px.clone()).await["count"],
        120
    );
    // The Riyadh hospital admin sees Riyadh only.
    assert_eq!(
        get("/api/organizations/hospitals/", ha.clone()).await["count"],
        1
    );
    assert_eq!(
        get("/api/organizations/patients/", ha.clone()).await["count"],
        60
    );
    // Arabic names are there, and the history spans weeks.
    let page = get(
        "/api/organizations/patients/?ordering=created_at&page_size=200",
        px.clone(),
    )
    .await;
    let first = page["results"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let last = page["results"][119]["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let span = chrono::DateTime::parse_from_rfc3339(&last).unwrap()
        - chrono::DateTime::parse_from_rfc3339(&first).unwrap();
    assert!(span > chrono::Duration::days(14), "{span}");
    assert!(
        page["results"][0]["first_name_ar"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
    );
    // Journeys driven by real inbound events, with some ignored and some failed for the consoles.
    let inst = get("/api/journeys/instances/?page_size=1", px.clone()).await;
    assert!(inst["count"].as_u64().unwrap() >= 50, "{inst}");
    let done = get(
        "/api/journeys/instances/?status=COMPLETED&page_size=1",
        px.clone(),
    )
    .await;
    assert!(done["count"].as_u64().unwrap() >= 10, "{done}");
    for status in ["PROCESSED", "IGNORED", "FAILED", "DEAD"] {
        let path: &'static str = match status {
            "PROCESSED" => "/api/integrations/events/?status=PROCESSED&page_size=1",
            "IGNORED" => "/api/integrations/events/?status=IGNORED&page_size=1",
            "DEAD" => "/api/integrations/events/?status=DEAD&page_size=1",
            _ => "/api/integrations/events/?status=FAILED&page_size=1",
        };
        assert!(
            get(path, px.clone()).await["count"].as_u64().unwrap() > 0,
            "{status}"
        );
    }
    let pending = get(
        "/api/integrations/events/?status=PENDING,PROCESSING&page_size=1",
        px.clone(),
    )
    .await;
    assert_eq!(pending["count"], 0);
    // Every stage status is on show (a stage in progress and a skipped one, set by hand).
    for path in [
        "/api/journeys/stage-instances/?status=IN_PROGRESS&page_size=1",
        "/api/journeys/stage-instances/?status=SKIPPED&page_size=1",
    ] {
        assert!(
            get(path, px.clone()).await["count"].as_u64().unwrap() > 0,
            "{path}"
        );
    }
    let templates = get("/api/journeys/templates/?active=true", px.clone()).await;
    assert_eq!(templates["count"], 6);
    // The integration key works.
    let r = app
        .client
        .get(app.url("/api/organizations/departments/"))
        .header("X-API-Key", &logins.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
