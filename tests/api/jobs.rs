use px360::platform::clock::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use px360::platform::db::begin_write;
use px360::platform::jobs::{self, JobError, NewJob, Registry, handler_fn};
use sea_orm::{EntityTrait, TransactionTrait};

use crate::helpers::spawn_app;

fn counting(kind: &str, counter: Arc<AtomicUsize>) -> Registry {
    let mut r = Registry::new();
    r.register(
        kind,
        handler_fn(move |_ctx| {
            let c = counter.clone();
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }),
    );
    r
}

async fn job(app: &crate::helpers::TestApp, id: uuid::Uuid) -> jobs::model::Model {
    jobs::model::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let app = spawn_app().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let worker = app.worker_with(counting("t.count", ran.clone()), 60);

    let txn = begin_write(app.db()).await.unwrap();
    jobs::enqueue(&txn, &app.clock, NewJob::new("t.count", ()))
        .await
        .unwrap();
    txn.rollback().await.unwrap();

    assert_eq!(worker.drain().await.unwrap(), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn a_job_enqueued_in_a_committed_transaction_runs_exactly_once() {
    let app = spawn_app().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let worker = app.worker_with(counting("t.count", ran.clone()), 60);

    let txn = app.db().begin().await.unwrap();
    let id = jobs::enqueue(&txn, &app.clock, NewJob::new("t.count", ()))
        .await
        .unwrap()
        .unwrap();
    txn.commit().await.unwrap();

    assert_eq!(worker.drain().await.unwrap(), 1);
    assert_eq!(worker.drain().await.unwrap(), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let j = job(&app, id).await;
    assert_eq!(j.status, "DONE");
    assert_eq!(j.attempts, 1);
    assert!(j.finished_at.is_some());
}

#[tokio::test]
async fn a_delayed_job_waits_for_its_run_at() {
    let app = spawn_app().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let worker = app.worker_with(counting("t.count", ran.clone()), 60);
    jobs::enqueue(
        app.db(),
        &app.clock,
        NewJob::new("t.count", ()).delay(Duration::hours(2)),
    )
    .await
    .unwrap();

    assert_eq!(worker.drain().await.unwrap(), 0);
    app.clock.advance(Duration::minutes(119));
    assert_eq!(worker.drain().await.unwrap(), 0);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(worker.drain().await.unwrap(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_dedupe_key_enqueues_only_once() {
    let app = spawn_app().await;
    let first = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.x", ()).dedupe("k1"))
        .await
        .unwrap();
    let second = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.x", ()).dedupe("k1"))
        .await
        .unwrap();
    assert!(first.is_some());
    assert!(second.is_none());
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM jobs").await, 1);
}

#[tokio::test]
async fn a_failing_job_backs_off_and_goes_dead_after_its_last_attempt() {
    let app = spawn_app().await;
    let tries = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::new();
    let t = tries.clone();
    reg.register(
        "t.fail",
        handler_fn(move |_ctx| {
            let t = t.clone();
            Box::pin(async move {
                t.fetch_add(1, Ordering::SeqCst);
                Err(JobError::Retry(anyhow::anyhow!("gateway timeout")))
            })
        }),
    );
    let worker = app.worker_with(reg, 60);
    let id = jobs::enqueue(
        app.db(),
        &app.clock,
        NewJob::new("t.fail", ()).max_attempts(3),
    )
    .await
    .unwrap()
    .unwrap();

    // Attempt 1 fails; the retry is scheduled about 10 s later (base backoff), not immediately.
    assert_eq!(worker.drain().await.unwrap(), 1);
    let j = job(&app, id).await;
    assert_eq!(j.status, "PENDING");
    assert_eq!(j.attempts, 1);
    assert_eq!(j.last_error.as_deref(), Some("gateway timeout"));
    let wait1 = j.run_at - app.clock.now();
    assert!(
        wait1 >= Duration::seconds(10) && wait1 <= Duration::seconds(12),
        "{wait1}"
    );
    assert_eq!(worker.drain().await.unwrap(), 0);

    // Attempt 2, then a longer wait (exponential).
    app.clock.advance(wait1);
    assert_eq!(worker.drain().await.unwrap(), 1);
    let j = job(&app, id).await;
    let wait2 = j.run_at - app.clock.now();
    assert!(
        wait2 >= Duration::seconds(20) && wait2 <= Duration::seconds(24),
        "{wait2}"
    );

    // Attempt 3 is the last: DEAD, and it never runs again.
    app.clock.advance(wait2);
    assert_eq!(worker.drain().await.unwrap(), 1);
    let j = job(&app, id).await;
    assert_eq!(j.status, "DEAD");
    assert_eq!(j.attempts, 3);
    app.clock.advance(Duration::days(1));
    assert_eq!(worker.drain().await.unwrap(), 0);
    assert_eq!(tries.load(Ordering::SeqCst), 3);

    // An operator can put it back.
    assert!(jobs::retry_dead(app.db(), &app.clock, id).await.unwrap());
    assert_eq!(job(&app, id).await.status, "PENDING");
}

#[tokio::test]
async fn a_permanent_failure_or_an_unknown_kind_goes_dead_at_once() {
    let app = spawn_app().await;
    let mut reg = Registry::new();
    reg.register(
        "t.bad",
        handler_fn(|ctx| {
            Box::pin(async move {
                let _: u32 = ctx.payload()?;
                Ok(())
            })
        }),
    );
    let worker = app.worker_with(reg, 60);
    let bad = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.bad", "not a number"))
        .await
        .unwrap()
        .unwrap();
    let unknown = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.nobody", ()))
        .await
        .unwrap()
        .unwrap();
    worker.drain().await.unwrap();
    let b = job(&app, bad).await;
    assert_eq!((b.status.as_str(), b.attempts), ("DEAD", 1));
    assert!(
        b.last_error
            .unwrap()
            .contains("payload of t.bad is invalid")
    );
    let u = job(&app, unknown).await;
    assert_eq!(u.status, "DEAD");
    assert!(u.last_error.unwrap().contains("no handler registered"));
}

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_the_job_to_be_reclaimed_after_the_lease() {
    let app = spawn_app().await;
    // Worker A's handler never finishes: it is killed while "running".
    let mut hang = Registry::new();
    hang.register(
        "t.work",
        handler_fn(|_ctx| Box::pin(futures::future::pending())),
    );
    let a = app.worker_with(hang, 60);
    let id = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.work", ()))
        .await
        .unwrap()
        .unwrap();
    let task = tokio::spawn(async move { a.run_once().await });
    // Wait (by polling the row, not by sleeping a fixed time) until A has claimed the job.
    for _ in 0..500 {
        if job(&app, id).await.status == "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    let j = job(&app, id).await;
    assert_eq!(j.status, "RUNNING");

    // Worker B cannot take it while the lease holds…
    let ran = Arc::new(AtomicUsize::new(0));
    let b = app.worker_with(counting("t.work", ran.clone()), 60);
    assert_eq!(b.drain().await.unwrap(), 0);
    app.clock.advance(Duration::seconds(59));
    assert_eq!(b.drain().await.unwrap(), 0);
    // …and takes it over once the lease has expired.
    app.clock.advance(Duration::seconds(2));
    assert_eq!(b.drain().await.unwrap(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let j = job(&app, id).await;
    assert_eq!(j.status, "DONE");
    assert_eq!(j.attempts, 2);
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_commits_none_of_its_effects() {
    let app = spawn_app().await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut reg = Registry::new();
    let g = gate.clone();
    reg.register(
        "t.effect",
        handler_fn(move |ctx| {
            let g = g.clone();
            Box::pin(async move {
                if ctx.attempt == 1 {
                    // The first run stalls (a long GC pause, a slow disk) past its lease.
                    g.notified().await;
                }
                let txn = ctx.begin().await?;
                px360::platform::audit::record(
                    &txn,
                    ctx.clock.as_ref(),
                    &px360::platform::audit::Actor::system(),
                    px360::platform::audit::AuditEntry::new("test.effect"),
                )
                .await?;
                ctx.complete(txn).await
            })
        }),
    );
    let reg = Arc::new(reg);
    let a = app.worker_with((*reg).clone(), 60);
    let b = app.worker_with((*reg).clone(), 60);
    let id = jobs::enqueue(app.db(), &app.clock, NewJob::new("t.effect", ()))
        .await
        .unwrap()
        .unwrap();
    let stalled = tokio::spawn(async move { a.run_once().await.unwrap() });
    for _ in 0..500 {
        if job(&app, id).await.status == "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The lease expires; worker B takes the job over and finishes it.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(b.drain().await.unwrap(), 1);
    assert_eq!(job(&app, id).await.status, "DONE");
    // Worker A wakes up and tries to complete: its effect must be rolled back, B's result kept.
    gate.notify_one();
    stalled.await.unwrap();
    let j = job(&app, id).await;
    assert_eq!(j.status, "DONE");
    assert_eq!(j.attempts, 2);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'test.effect'")
            .await,
        1
    );
}

#[tokio::test]
async fn two_workers_never_run_the_same_job() {
    let app = spawn_app().await;
    let runs = Arc::new(std::sync::Mutex::new(Vec::<uuid::Uuid>::new()));
    let make = |runs: Arc<std::sync::Mutex<Vec<uuid::Uuid>>>| {
        let mut r = Registry::new();
        r.register(
            "t.once",
            handler_fn(move |ctx| {
                let runs = runs.clone();
                Box::pin(async move {
                    // Yield so the two workers interleave.
                    tokio::task::yield_now().await;
                    runs.lock().unwrap().push(ctx.job_id);
                    Ok(())
                })
            }),
        );
        r
    };
    let n = 200;
    for _ in 0..n {
        jobs::enqueue(app.db(), &app.clock, NewJob::new("t.once", ()))
            .await
            .unwrap();
    }
    let w1 = app.worker_with(make(runs.clone()), 60);
    let w2 = app.worker_with(make(runs.clone()), 60);
    let (a, b) = tokio::join!(
        tokio::spawn(async move { w1.drain().await.unwrap() }),
        tokio::spawn(async move { w2.drain().await.unwrap() })
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, n);
    let mut ids = runs.lock().unwrap().clone();
    assert_eq!(ids.len(), n);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a job ran twice");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE status = 'DONE'")
            .await,
        n as i64
    );
}
