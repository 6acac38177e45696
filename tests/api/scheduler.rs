use chrono::{Duration, Timelike};
use px360::platform::clock::Clock;
use px360::platform::jobs::scheduler::Scheduler;
use sea_orm::ConnectionTrait;

use crate::helpers::{TestApp, spawn_app};

/// A 10 s tick gives a 100 s lease, longer than any single clock move below.
fn scheduler(app: &TestApp) -> Scheduler {
    Scheduler::new(
        app.db().clone(),
        app.state.clock.clone(),
        std::time::Duration::from_secs(10),
    )
}

async fn seal_jobs(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE kind = 'audit.seal'")
        .await
}

/// Moves the test clock to 5 seconds past the next minute, so a `0 * * * * *` schedule is due.
fn to_next_minute(app: &TestApp) {
    let now = app.clock.now();
    let secs = i64::from(60 - now.second()) + 5;
    app.clock
        .advance(Duration::seconds(secs) - Duration::nanoseconds(i64::from(now.nanosecond())));
}

#[tokio::test]
async fn default_schedules_are_installed_in_the_database() {
    let app = spawn_app().await;
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM schedules WHERE name IN ('audit.seal', 'jobs.prune')")
            .await,
        2
    );
}

#[tokio::test]
async fn a_due_schedule_fires_once_per_fire_time() {
    let app = spawn_app().await;
    let s = scheduler(&app);
    let first = s.tick().await.unwrap();
    assert!(first.holds_lease);
    assert_eq!(
        seal_jobs(&app).await,
        0,
        "nothing is due before the next minute"
    );

    to_next_minute(&app);
    let fired = s.tick().await.unwrap();
    assert!(fired.fired.contains(&"audit.seal".to_string()));
    assert_eq!(seal_jobs(&app).await, 1);
    s.tick().await.unwrap();
    assert_eq!(
        seal_jobs(&app).await,
        1,
        "a second tick in the same minute adds nothing"
    );

    to_next_minute(&app);
    s.tick().await.unwrap();
    assert_eq!(seal_jobs(&app).await, 2);
}

#[tokio::test]
async fn missed_fire_times_coalesce_into_one_run() {
    let app = spawn_app().await;
    let s = scheduler(&app);
    s.tick().await.unwrap();
    app.clock.advance(Duration::minutes(30));
    s.tick().await.unwrap();
    assert_eq!(seal_jobs(&app).await, 1);
}

#[tokio::test]
async fn only_the_scheduler_holding_the_lease_acts() {
    let app = spawn_app().await;
    let a = scheduler(&app);
    let b = scheduler(&app);
    assert!(a.tick().await.unwrap().holds_lease);
    to_next_minute(&app);
    let tb = b.tick().await.unwrap();
    assert!(!tb.holds_lease);
    assert!(tb.fired.is_empty());
    assert_eq!(seal_jobs(&app).await, 0);
    assert!(a.tick().await.unwrap().holds_lease);
    assert_eq!(seal_jobs(&app).await, 1);

    // A stops ticking (crashed); after its lease expires B takes over.
    app.clock.advance(Duration::seconds(101));
    let tb = b.tick().await.unwrap();
    assert!(tb.holds_lease);
    assert!(!a.tick().await.unwrap().holds_lease);
}

#[tokio::test]
async fn an_invalid_cron_in_the_table_is_skipped_without_stopping_the_others() {
    let app = spawn_app().await;
    app.db()
        .execute_unprepared("UPDATE schedules SET cron = 'every minute please', next_fire_at = NULL WHERE name = 'jobs.prune'")
        .await
        .unwrap();
    let s = scheduler(&app);
    s.tick().await.unwrap();
    to_next_minute(&app);
    s.tick().await.unwrap();
    assert_eq!(seal_jobs(&app).await, 1);
}

#[tokio::test]
async fn a_disabled_schedule_does_not_fire() {
    let app = spawn_app().await;
    let backend = app.db().get_database_backend();
    app.db()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            if backend == sea_orm::DatabaseBackend::Postgres {
                "UPDATE schedules SET enabled = $1 WHERE name = 'audit.seal'"
            } else {
                "UPDATE schedules SET enabled = ?1 WHERE name = 'audit.seal'"
            },
            vec![false.into()],
        ))
        .await
        .unwrap();
    let s = scheduler(&app);
    to_next_minute(&app);
    s.tick().await.unwrap();
    assert_eq!(seal_jobs(&app).await, 0);
}
