//! Benchmark (not a test): the console's patients list with 100,000 patients — page 1, filtered and
//! sorted — measured over HTTP on loopback (an upper bound of the server time), on SQLite, or on
//! PostgreSQL when `PX360_BENCH_DATABASE_URL` is set (a fresh schema is created and dropped).
//!
//! `cargo bench --bench console_list` (add `-- 20000` for a smaller table).
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
        .unwrap_or(100_000);
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
    let backend = db.get_database_backend();

    // Seed: one hospital, an admin, n patients in multi-row inserts.
    let h = Uuid::now_v7();
    let now = chrono::Utc::now();
    db.execute_raw(stmt(backend, "INSERT INTO hospitals (id, code, name_en, name_ar, city, active, created_at, updated_at) VALUES ($1, 'HH-B', 'Bench', 'اختبار', 'Riyadh', $2, $3, $3)", vec![h.into(), true.into(), now.into()])).await.unwrap();
    let (admin, _) = px360::apps::accounts::create_admin(app.state(), "bench@px360.sa", PASSWORD)
        .await
        .unwrap();
    let _ = admin;
    let started = Instant::now();
    let names = [
        ("Ahmed", "أحمد"),
        ("Sara", "سارة"),
        ("Fahad", "فهد"),
        ("Noura", "نورة"),
        ("Khalid", "خالد"),
    ];
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut sql = String::from(
            "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, search_text, preferred_language, gender, opt_out, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = vec![];
        for (k, i) in chunk.iter().enumerate() {
            let (en, ar) = names[i % names.len()];
            let b = k * 10;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, 'Alqahtani', ${}, 'القحطاني', ${}, 'ar', ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
            let created = now - chrono::Duration::minutes(*i as i64);
            values.extend([
                Uuid::now_v7().into(),
                h.into(),
                format!("MRN{i:07}").into(),
                en.into(),
                ar.into(),
                px360::platform::text::normalize_arabic(&format!(
                    "MRN{i:07} {en} Alqahtani {ar} القحطاني"
                ))
                .into(),
                (if i % 2 == 0 { "FEMALE" } else { "MALE" }).into(),
                false.into(),
                created.into(),
                created.into(),
            ]);
        }
        db.execute_raw(stmt(backend, &sql, values)).await.unwrap();
    }
    if backend == sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE patients").await.unwrap();
    }
    println!(
        "seeded {n} patients in {:.1} s",
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

    for (label, path) in [
        (
            "filtered + sorted (gender=FEMALE, -created_at)",
            "/organizations/patients/?gender=FEMALE&ordering=-created_at",
        ),
        (
            "search (Arabic name) + sorted by MRN",
            "/organizations/patients/?search=%D8%A7%D8%AD%D9%85%D8%AF&ordering=mrn",
        ),
        (
            "htmx fragment, filtered + sorted",
            "/organizations/patients/?gender=MALE&ordering=-mrn",
        ),
    ] {
        let htmx = label.starts_with("htmx");
        let mut times = vec![];
        for round in 0..25 {
            let mut req = client.get(format!("{base}{path}"));
            if htmx {
                req = req.header("HX-Request", "true").header("HX-Target", "list");
            }
            let t = Instant::now();
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
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
