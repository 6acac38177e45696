//! Benchmark (not a test): the Action Center board with 50,000 actions — the API list and the console
//! board, filtered and paged — measured over HTTP on loopback (an upper bound of the server time), on
//! SQLite, or on PostgreSQL when `PX360_BENCH_DATABASE_URL` is set (a fresh schema is created and
//! dropped).
//!
//! `cargo bench --bench action_board` (add `-- 10000` for a smaller table).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use px360::config::Config;
use px360::platform::clock::{SharedClock, SystemClock};
use px360::platform::db::stmt;
use px360::startup::{Application, ServeOptions};
use sea_orm::{ConnectionTrait, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PASSWORD: &str = "Lighthouse-Orbit-7731";

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let (url, cleanup) = match std::env::var("PX360_BENCH_DATABASE_URL") {
        Ok(base) => {
            let schema = format!("bench_{}", Uuid::new_v4().simple());
            let db = sea_orm::Database::connect(&base).await.unwrap();
            db.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                Some((base, schema)),
            )
        }
        Err(_) => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
    };
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATABASE_URL".into(), url.clone());
    env.insert("PX360_BIND".into(), "127.0.0.1:0".into());
    env.insert("PX360_LOG".into(), "warn".into());
    let config = Config::from_source(&env).unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Application::build(
        config,
        clock,
        ServeOptions {
            worker: false,
            scheduler: false,
        },
    )
    .await
    .unwrap();
    let addr = app.local_addr().unwrap();
    let db = app.state().db.clone();
    let app_state = app.state().clone();
    let backend = db.get_database_backend();

    // Seed: one hospital with two departments, an admin, n actions in multi-row inserts.
    let h = Uuid::now_v7();
    let now = chrono::Utc::now();
    db.execute_raw(stmt(backend, "INSERT INTO hospitals (id, code, name_en, name_ar, city, active, created_at, updated_at) VALUES ($1, 'HH-B', 'Bench', 'اختبار', 'Riyadh', $2, $3, $3)", vec![h.into(), true.into(), now.into()])).await.unwrap();
    let (admin, _) = px360::apps::accounts::create_admin(app.state(), "bench@px360.sa", PASSWORD)
        .await
        .unwrap();
    let started = Instant::now();
    let statuses = [
        "OPEN",
        "IN_PROGRESS",
        "WAITING",
        "PENDING_APPROVAL",
        "CLOSED",
        "CANCELLED",
    ];
    let priorities = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
    let sources = ["SURVEY", "COMPLAINT", "SOCIAL", "CALL_CENTER", "MANUAL"];
    for chunk in (0..n).collect::<Vec<_>>().chunks(400) {
        let mut sql = String::from(
            "INSERT INTO px_actions (id, hospital_id, title, description, source_type, source_id, category, priority, severity, status, \
             assignee_id, escalation_level, hour_mode, sla_hours, reminder_hours_before, escalation_interval_hours, sla_started_at, due_at, \
             paused_seconds, pauses, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = vec![];
        for (k, i) in chunk.iter().enumerate() {
            let b = k * 12;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, '', ${}, ${}, 'OTHER', ${}, 'MEDIUM', ${}, ${}, ${}, 'BUSINESS', 8, 2, 4, ${}, ${}, 0, ${}, ${}, ${})",
                b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11, b + 12, b + 10, b + 10
            ));
            let created = now - chrono::Duration::minutes(*i as i64 * 3);
            let due = created + chrono::Duration::hours(48);
            values.extend([
                Uuid::now_v7().into(),
                h.into(),
                (if i % 2 == 0 {
                    format!("Reduce waiting time #{i}")
                } else {
                    format!("تقليل وقت الانتظار رقم {i}")
                })
                .into(),
                sources[i % sources.len()].into(),
                Uuid::now_v7().into(),
                priorities[i % priorities.len()].into(),
                statuses[i % statuses.len()].into(),
                (if i % 7 == 0 { Some(admin) } else { None }).into(),
                i32::try_from(i % 3).unwrap().into(),
                created.into(),
                due.into(),
                serde_json::json!([]).into(),
            ]);
        }
        db.execute_raw(stmt(backend, &sql, values)).await.unwrap();
    }
    if backend == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE px_actions").await.unwrap();
    }
    println!(
        "seeded {n} actions in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens: serde_json::Value = client
        .post(format!("{base}/api/auth/token/"))
        .json(&serde_json::json!({"email": "bench@px360.sa", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access"].as_str().unwrap().to_string();
    let login = client
        .get(format!("{base}/login/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let i = login.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    let token = &login[i..i + login[i..].find('"').unwrap()];
    let r = client
        .post(format!("{base}/login/"))
        .form(&[
            ("email", "bench@px360.sa"),
            ("password", PASSWORD),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Server time without HTTP: the board's service call in-process.
    let state = app_state.clone();
    let principal = px360::platform::auth::load_principal(&state.db, admin, None, None)
        .await
        .unwrap();
    for (label, query) in [
        (
            "in-process list: open, newest first",
            "status=OPEN,IN_PROGRESS&ordering=-created_at",
        ),
        (
            "in-process list: overdue, by due date",
            "sla=OVERDUE&ordering=due_at",
        ),
        (
            "in-process list: high priority from surveys, page 20",
            "priority=HIGH&source=SURVEY&page=20",
        ),
        ("in-process saved-view counts (6)", ""),
    ] {
        let mut times = vec![];
        for round in 0..25 {
            let t = Instant::now();
            if query.is_empty() {
                px360::apps::actions::service::actions::view_counts(&state, &principal)
                    .await
                    .unwrap();
            } else {
                let q =
                    px360::platform::pagination::ListQuery::parse("/api/actions/actions/", query)
                        .unwrap();
                px360::apps::actions::service::actions::list(&state, &principal, &q)
                    .await
                    .unwrap();
            }
            if round >= 5 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{:>6} {label}: p50 {:.1} ms, p95 {:.1} ms ({} runs)",
            if url.starts_with("sqlite") {
                "sqlite"
            } else {
                "pg"
            },
            times[times.len() / 2],
            times[times.len() * 95 / 100],
            times.len()
        );
    }

    for (label, path, api) in [
        (
            "API: open, newest first",
            "/api/actions/actions/?status=OPEN,IN_PROGRESS&ordering=-created_at",
            true,
        ),
        (
            "API: overdue, by due date",
            "/api/actions/actions/?sla=OVERDUE&ordering=due_at",
            true,
        ),
        (
            "API: high priority from surveys, page 20",
            "/api/actions/actions/?priority=HIGH&source=SURVEY&page=20",
            true,
        ),
        (
            "API: date range + search",
            "/api/actions/actions/?created_after=2026-01-01&search=waiting",
            true,
        ),
        (
            "console board (page + 6 saved-view counts)",
            "/actions/",
            false,
        ),
        (
            "console board, view=overdue",
            "/actions/?view=overdue",
            false,
        ),
        (
            "console board htmx fragment, status=OPEN",
            "/actions/?status=OPEN",
            false,
        ),
    ] {
        let htmx = label.contains("htmx");
        let mut times = vec![];
        for round in 0..25 {
            let mut req = client.get(format!("{base}{path}"));
            if api {
                req = req.bearer_auth(&access);
            }
            if htmx {
                req = req.header("HX-Request", "true");
            }
            let t = Instant::now();
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let _ = r.bytes().await.unwrap();
            if round >= 5 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{:>6} {label}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} runs)",
            if url.starts_with("sqlite") {
                "sqlite"
            } else {
                "pg"
            },
            times[times.len() / 2],
            times[times.len() * 95 / 100],
            times[times.len() - 1],
            times.len()
        );
    }
    shutdown.cancel();
    if let Some((base, schema)) = cleanup {
        let db = sea_orm::Database::connect(&base).await.unwrap();
        db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }
}
