//! `spawn_app()` and friends.

use std::collections::HashMap;
use std::sync::Arc;

use px360::config::Config;
use px360::platform::clock::{SharedClock, TestClock};
use px360::platform::jobs::{Registry, Worker, WorkerOptions};
use px360::platform::state::AppState;
use px360::startup::{Application, ServeOptions};
use sea_orm::{ConnectionTrait, Database};
use tokio_util::sync::CancellationToken;

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub is_postgres: bool,
    _dir: tempfile::TempDir,
    pg_cleanup: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("PX360_TEST_DATABASE_URL") {
            Ok(base) if !base.trim().is_empty() => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&base).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .unwrap();
                admin.close().await.ok();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Self {
                    url,
                    is_postgres: true,
                    _dir: dir,
                    pg_cleanup: Some((base, schema)),
                }
            }
            _ => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("px360.db").display()
                );
                Self {
                    url,
                    is_postgres: false,
                    _dir: dir,
                    pg_cleanup: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_cleanup.take() {
            // Drop runs outside async context: clean up on a short-lived runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(db) = Database::connect(&base).await {
                        let _ = db
                            .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn test_config(db_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATABASE_URL".into(), db_url.into());
    env.insert("PX360_BIND".into(), "127.0.0.1:0".into());
    env.insert("PX360_DB_MAX_CONNECTIONS".into(), "5".into());
    env.insert("PX360_WORKER_POLL_MS".into(), "20".into());
    env.insert("PX360_SCHEDULER_TICK_MS".into(), "50".into());
    env.insert("PX360_JOB_LEASE_SECS".into(), "60".into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    Config::from_source(&env).unwrap()
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: TestClock,
    pub client: reqwest::Client,
    pub db: TestDb,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
}

/// The real application on a random port with a test clock. The worker and scheduler do not run in the
/// background: tests drive them (`run_jobs`, `scheduler().tick()`) so nothing depends on timing.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServeOptions {
        worker: false,
        scheduler: false,
    })
    .await
}

pub async fn spawn_app_with(options: ServeOptions) -> TestApp {
    spawn_app_configured(options, &[]).await
}

/// The application with extra configuration (environment variable name → value).
pub async fn spawn_app_configured(options: ServeOptions, extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new().await;
    let clock = TestClock::starting_now();
    let shared: SharedClock = Arc::new(clock.clone());
    // Files the application stores (imports, attachments) go to the test's own temp dir.
    let data_dir = db._dir.path().join("data").display().to_string();
    let mut extra: Vec<(&str, &str)> = extra.to_vec();
    if !extra.iter().any(|(k, _)| *k == "PX360_DATA_DIR") {
        extra.push(("PX360_DATA_DIR", &data_dir));
    }
    let app = Application::build(test_config(&db.url, &extra), shared, options)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let state = app.state().clone();
    let registry = app.registry();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        base: format!("http://{addr}"),
        state,
        clock,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        registry,
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The application's own worker (its real job registry).
    pub fn worker(&self) -> Worker {
        px360::startup::worker(&self.state, self.registry.clone())
    }

    /// A worker over a registry of the test's own handlers.
    pub fn worker_with(&self, registry: Registry, lease_secs: u64) -> Worker {
        Worker::new(
            self.state.db.clone(),
            self.state.clock.clone(),
            Arc::new(registry),
            WorkerOptions {
                concurrency: 4,
                lease: std::time::Duration::from_secs(lease_secs),
                poll: std::time::Duration::from_millis(10),
                ..Default::default()
            },
        )
    }

    pub async fn run_jobs(&self) -> usize {
        self.worker().drain().await.unwrap()
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.state.db
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let backend = self.db().get_database_backend();
        let row = self
            .db()
            .query_one_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Factories: rows written straight to the tables so tests of one module do not depend on another's API.
pub mod factory {
    use super::TestApp;
    use px360::platform::auth;
    use px360::platform::clock::Clock;
    use px360::platform::rbac::Role;
    use sea_orm::{ConnectionTrait, Statement, Value};
    use uuid::Uuid;

    pub async fn exec(app: &TestApp, sql: &str, values: Vec<Value>) {
        let db = app.db();
        db.execute_raw(px360::platform::db::stmt(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
    }

    /// A hospital (with default settings row) and its id.
    pub async fn hospital(app: &TestApp, code: &str) -> Uuid {
        let id = Uuid::now_v7();
        let now = app.clock.now();
        exec(
            app,
            "INSERT INTO hospitals (id, code, name_en, name_ar, city, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'Riyadh', $5, $6, $6)",
            vec![
                id.into(),
                code.into(),
                format!("Hospital {code}").into(),
                format!("مستشفى {code}").into(),
                true.into(),
                now.into(),
            ],
        )
        .await;
        id
    }

    /// A department under `parent` (materialised path maintained like the service does).
    pub async fn department(
        app: &TestApp,
        hospital: Uuid,
        code: &str,
        parent: Option<Uuid>,
    ) -> Uuid {
        let id = Uuid::now_v7();
        let now = app.clock.now();
        let parent_path = match parent {
            Some(p) => {
                let db = app.db();
                let row = db
                    .query_one_raw(px360::platform::db::stmt(
                        db.get_database_backend(),
                        "SELECT path FROM departments WHERE id = $1",
                        vec![p.into()],
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get_by_index::<String>(0).unwrap()
            }
            None => "/".to_string(),
        };
        let path = format!("{parent_path}{id}/");
        exec(
            app,
            "INSERT INTO departments (id, hospital_id, parent_id, code, name_en, name_ar, category, path, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'CLINICAL', $7, $8, $9, $9)",
            vec![
                id.into(),
                hospital.into(),
                parent.into(),
                code.into(),
                format!("Dept {code}").into(),
                format!("قسم {code}").into(),
                path.into(),
                true.into(),
                now.into(),
            ],
        )
        .await;
        id
    }

    /// A user holding one role assignment, and an access token for it.
    pub async fn user(
        app: &TestApp,
        role: Role,
        hospital: Option<Uuid>,
        department: Option<Uuid>,
    ) -> (Uuid, String) {
        let id = Uuid::now_v7();
        let now = app.clock.now();
        let email = format!(
            "{}-{}@example.sa",
            role.code().to_lowercase(),
            &id.simple().to_string()[24..]
        );
        exec(
            app,
            "INSERT INTO users (id, email, first_name_en, last_name_en, first_name_ar, last_name_ar, preferred_language, is_active, is_service_account, created_at, updated_at) \
             VALUES ($1, $2, 'Test', 'User', 'مستخدم', 'اختبار', 'en', $3, $4, $5, $5)",
            vec![id.into(), email.into(), true.into(), false.into(), now.into()],
        )
        .await;
        exec(
            app,
            "INSERT INTO role_assignments (id, user_id, role, hospital_id, department_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                Uuid::now_v7().into(),
                id.into(),
                role.code().into(),
                hospital.into(),
                department.into(),
                now.into(),
            ],
        )
        .await;
        (id, token(app, id))
    }

    /// A hospital-scoped API key whose service account holds `role` there; returns the key.
    #[allow(dead_code)]
    pub async fn api_key(app: &TestApp, hospital: Uuid, role: Role) -> String {
        let (svc, _) = user(app, role, Some(hospital), None).await;
        let prefix = &Uuid::now_v7().simple().to_string()[20..32];
        let key = format!("px_{prefix}_{}", Uuid::new_v4().simple());
        exec(
            app,
            "INSERT INTO api_keys (id, name, user_id, hospital_id, prefix, key_hash, created_at) \
             VALUES ($1, 'test', $2, $3, $4, $5, $6)",
            vec![
                Uuid::now_v7().into(),
                svc.into(),
                hospital.into(),
                prefix.to_string().into(),
                auth::sha256_hex(&key).into(),
                app.clock.now().into(),
            ],
        )
        .await;
        key
    }

    pub fn token(app: &TestApp, user: Uuid) -> String {
        auth::encode(&app.state, &auth::access_claims(user, app.clock.now())).unwrap()
    }

    #[allow(dead_code)]
    pub async fn count(app: &TestApp, sql: &str) -> i64 {
        let db = app.db();
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}
