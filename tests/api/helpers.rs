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
    let db = TestDb::new().await;
    let clock = TestClock::starting_now();
    let shared: SharedClock = Arc::new(clock.clone());
    let app = Application::build(test_config(&db.url, &[]), shared, options)
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
