//! Durability under SIGKILL: the real `px360` binary is killed while 5,000 events are being posted;
//! after a restart every event that was answered 202 ends PROCESSED or IGNORED, exactly once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use px360::platform::db::stmt;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value as DbValue};
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::helpers::TestDb;

const EVENTS: usize = 5000;
const KILL_AFTER: usize = 1500;
const CONCURRENCY: usize = 32;

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn start(url: &str, addr: &str, dir: &std::path::Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_px360"));
    cmd.arg("serve").current_dir(dir).kill_on_drop(true);
    for k in [
        "PX360_ENV",
        "PX360_SECRET_KEY",
        "PX360_ENCRYPTION_KEY",
        "PX360_SECURE_COOKIES",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("DATABASE_URL", url)
        .env("PX360_BIND", addr)
        .env("PX360_LOG", "error")
        // A job running when the process dies is taken over once its lease expires.
        .env("PX360_JOB_LEASE_SECS", "5")
        .env("PX360_WORKER_POLL_MS", "20")
        .env("PX360_WORKER_CONCURRENCY", "8")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd.spawn().unwrap()
}

async fn wait_healthy(client: &reqwest::Client, addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("http://{addr}/health/")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server at {addr} did not become healthy");
}

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<DbValue>) {
    db.execute_raw(stmt(db.get_database_backend(), sql, values))
        .await
        .unwrap();
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(stmt(db.get_database_backend(), sql, vec![]))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// A hospital, an integration key, and an OPD journey (one stage) for encounters ENC-0 … ENC-49.
async fn seed(db: &DatabaseConnection) -> String {
    let now = chrono::Utc::now();
    let (h, svc, t, st, pat) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    exec(db, "INSERT INTO hospitals (id, code, name_en, name_ar, city, active, created_at, updated_at) VALUES ($1, 'CRASH', 'Crash', 'اختبار', 'Riyadh', $2, $3, $3)",
        vec![h.into(), true.into(), now.into()]).await;
    exec(db, "INSERT INTO users (id, email, first_name_en, last_name_en, first_name_ar, last_name_ar, preferred_language, is_active, is_service_account, created_at, updated_at) \
         VALUES ($1, 'svc@crash.invalid', 'HIS', '', 'HIS', '', 'en', $2, $2, $3, $3)", vec![svc.into(), true.into(), now.into()]).await;
    exec(db, "INSERT INTO role_assignments (id, user_id, role, hospital_id, created_at) VALUES ($1, $2, 'HOSPITAL_ADMIN', $3, $4)",
        vec![Uuid::now_v7().into(), svc.into(), h.into(), now.into()]).await;
    let key = format!("px_abcdef123456_{}", Uuid::new_v4().simple());
    exec(db, "INSERT INTO api_keys (id, name, user_id, hospital_id, prefix, key_hash, created_at) VALUES ($1, 'HIS', $2, $3, 'abcdef123456', $4, $5)",
        vec![Uuid::now_v7().into(), svc.into(), h.into(), px360::platform::auth::sha256_hex(&key).into(), now.into()]).await;
    exec(db, "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, search_text, preferred_language, gender, opt_out, created_at, updated_at) \
         VALUES ($1, $2, 'MRN1', 'A', 'B', 'أ', 'ب', '', 'ar', 'MALE', $3, $4, $4)", vec![pat.into(), h.into(), false.into(), now.into()]).await;
    exec(db, "INSERT INTO journey_templates (id, hospital_id, journey_type, name_en, name_ar, description, version, active, created_at, updated_at) \
         VALUES ($1, $2, 'OPD', 'OPD', 'OPD', '', 1, $3, $4, $4)", vec![t.into(), h.into(), true.into(), now.into()]).await;
    exec(db, "INSERT INTO journey_stage_templates (id, journey_template_id, hospital_id, code, name_en, name_ar, stage_order, trigger_event_code, \
         auto_send_survey, survey_delay_hours, requires_physician, optional, created_at, updated_at) \
         VALUES ($1, $2, $3, 'CONSULT', 'Consult', 'استشارة', 1, 'OPD_VISIT_COMPLETED', $4, 0, $4, $4, $5, $5)",
        vec![st.into(), t.into(), h.into(), false.into(), now.into()]).await;
    for i in 0..50 {
        let inst = Uuid::now_v7();
        exec(db, "INSERT INTO journey_instances (id, hospital_id, journey_template_id, patient_id, encounter_id, status, started_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $6, $6)", vec![inst.into(), h.into(), t.into(), pat.into(), format!("ENC-{i}").into(), now.into()]).await;
        exec(db, "INSERT INTO journey_stage_instances (id, journey_instance_id, stage_template_id, hospital_id, stage_order, status, note, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, 'PENDING', '', $5, $5)", vec![Uuid::now_v7().into(), inst.into(), st.into(), h.into(), now.into()]).await;
    }
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_answered_202_survive_a_sigkill_and_are_processed_exactly_once() {
    let tdb = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let addr = free_addr();
    let child = Arc::new(Mutex::new(Some(start(&tdb.url, &addr, dir.path()))));
    wait_healthy(&client, &addr).await;
    let db = px360::platform::db::connect(&tdb.url, 2).await.unwrap();
    let key = seed(&db).await;

    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::<(Uuid, String)>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for _ in 0..CONCURRENCY {
        let (next, accepted, count, child) =
            (next.clone(), accepted.clone(), count.clone(), child.clone());
        let (client, key, addr) = (client.clone(), key.clone(), addr.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= EVENTS {
                    return;
                }
                let external = format!("CRASH-{i}");
                let r = client
                    .post(format!("http://{addr}/api/integrations/events/"))
                    .header("X-API-Key", &key)
                    .json(
                        &json!({"source_system": "his", "event_code": "OPD_VISIT_COMPLETED",
                        "encounter_id": format!("ENC-{}", i % 100), "external_id": external}),
                    )
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status() == 202
                    && let Ok(b) = r.json::<serde_json::Value>().await
                    && let Some(id) = b["id"].as_str().and_then(|s| s.parse().ok())
                {
                    accepted.lock().await.push((id, external));
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                        // SIGKILL: no shutdown hook runs, in-flight requests and jobs are cut off.
                        if let Some(mut c) = child.lock().await.take() {
                            c.kill().await.unwrap();
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = accepted.lock().await.clone();
    assert!(
        accepted.len() >= KILL_AFTER,
        "only {} accepted",
        accepted.len()
    );
    assert!(accepted.len() < EVENTS, "the server was never killed");

    let addr2 = free_addr();
    let _second = start(&tdb.url, &addr2, dir.path());
    wait_healthy(&client, &addr2).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let open = scalar(
            &db,
            "SELECT COUNT(*) FROM inbound_events WHERE status NOT IN ('PROCESSED', 'IGNORED')",
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} events still unprocessed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let rows = db
        .query_all_raw(stmt(
            db.get_database_backend(),
            "SELECT id, external_id, status FROM inbound_events",
            vec![],
        ))
        .await
        .unwrap();
    let mut stored = std::collections::BTreeMap::new();
    for r in rows {
        let id: Uuid = r.try_get_by_index(0).unwrap();
        let ext: String = r.try_get_by_index(1).unwrap();
        let status: String = r.try_get_by_index(2).unwrap();
        assert!(stored.insert(id, (ext, status)).is_none());
    }
    let mut externals = BTreeSet::new();
    for (id, ext) in &accepted {
        let (e, status) = stored
            .get(id)
            .unwrap_or_else(|| panic!("accepted event {id} was lost"));
        assert_eq!(e, ext);
        assert!(
            status == "PROCESSED" || status == "IGNORED",
            "{id}: {status}"
        );
        assert!(externals.insert(ext.clone()), "{ext} answered twice");
    }
    // Exactly once: one outcome audit row per event, one completion per stage, none by two events.
    let twice = scalar(&db, "SELECT COUNT(*) FROM (SELECT object_id FROM audit_log WHERE action IN \
        ('inbound_event.processed', 'inbound_event.ignored') GROUP BY object_id HAVING COUNT(*) > 1) x").await;
    assert_eq!(twice, 0);
    let outcomes = scalar(&db, "SELECT COUNT(*) FROM audit_log WHERE action IN ('inbound_event.processed', 'inbound_event.ignored')").await;
    assert_eq!(outcomes, i64::try_from(stored.len()).unwrap());
    let completed = scalar(
        &db,
        "SELECT COUNT(*) FROM journey_stage_instances WHERE status = 'COMPLETED'",
    )
    .await;
    let completing = scalar(&db, "SELECT COUNT(*) FROM inbound_events WHERE stage_instance_id IS NOT NULL AND status = 'PROCESSED'").await;
    assert_eq!(completed, completing);
    assert!(completed <= 50);
    let completions = scalar(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'journey_stage.completed'",
    )
    .await;
    assert_eq!(completions, completed);
}
