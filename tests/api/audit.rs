use px360::platform::audit::{self, Actor, AuditEntry};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

async fn write_rows(app: &TestApp, n: usize) {
    for i in 0..n {
        audit::record(
            app.db(),
            &app.clock,
            &Actor {
                user_id: Some(Uuid::now_v7()),
                label: "nurse@example.sa".into(),
                ip: Some("10.0.0.7".into()),
            },
            AuditEntry::new("patient.viewed")
                .object("patient", Uuid::now_v7())
                .details(serde_json::json!({ "i": i, "name_ar": "محمد" })),
        )
        .await
        .unwrap();
        app.clock.advance(chrono::Duration::milliseconds(1500));
    }
}

#[tokio::test]
async fn sealed_rows_verify_and_unsealed_rows_are_counted() {
    let app = spawn_app().await;
    write_rows(&app, 5).await;
    let r = audit::verify(app.db()).await.unwrap();
    assert_eq!((r.sealed_checked, r.unsealed), (0, 5));
    assert!(r.first_broken.is_none());

    assert_eq!(audit::seal_all(app.db(), &app.clock).await.unwrap(), 5);
    write_rows(&app, 2).await;
    let r = audit::verify(app.db()).await.unwrap();
    assert_eq!((r.sealed_checked, r.unsealed), (5, 2));
    assert!(r.first_broken.is_none());
}

#[tokio::test]
async fn the_scheduled_sealer_job_seals_the_chain() {
    let app = spawn_app().await;
    write_rows(&app, 3).await;
    px360::platform::jobs::enqueue(
        app.db(),
        &app.clock,
        px360::platform::jobs::NewJob::new(audit::SEAL_JOB, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(app.run_jobs().await, 1);
    let r = audit::verify(app.db()).await.unwrap();
    assert_eq!((r.sealed_checked, r.unsealed), (3, 0));
}

#[tokio::test]
async fn concurrent_writers_never_break_the_chain() {
    let app = spawn_app().await;
    let mut tasks = vec![];
    for w in 0..8 {
        let db = app.db().clone();
        let clock = app.clock.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let txn = px360::platform::db::begin_write(&db).await.unwrap();
                audit::record(
                    &txn,
                    &clock,
                    &Actor::system(),
                    AuditEntry::new("job.ran").details(serde_json::json!({"w": w, "i": i})),
                )
                .await
                .unwrap();
                txn.commit().await.unwrap();
            }
        }));
        // Seal while writers are writing.
        audit::seal(app.db(), &app.clock, 10).await.unwrap();
    }
    for t in tasks {
        t.await.unwrap();
    }
    audit::seal_all(app.db(), &app.clock).await.unwrap();
    let r = audit::verify(app.db()).await.unwrap();
    assert_eq!((r.sealed_checked, r.unsealed), (200, 0));
    assert!(r.first_broken.is_none());
}

#[tokio::test]
async fn editing_a_sealed_row_is_detected_at_that_row() {
    let app = spawn_app().await;
    write_rows(&app, 6).await;
    audit::seal_all(app.db(), &app.clock).await.unwrap();
    let seq = app
        .scalar_i64("SELECT seq FROM audit_log WHERE chain_pos = 4")
        .await;
    app.db()
        .execute_unprepared(&format!(
            "UPDATE audit_log SET actor_label = 'someone-else@example.sa' WHERE seq = {seq}"
        ))
        .await
        .unwrap();
    let r = audit::verify(app.db()).await.unwrap();
    let b = r.first_broken.expect("tampering must be detected");
    assert_eq!(b.seq, Some(seq));
    assert_eq!(b.chain_pos, 4);
    assert_eq!(r.sealed_checked, 3);
}

#[tokio::test]
async fn deleting_a_sealed_row_is_detected() {
    let app = spawn_app().await;
    write_rows(&app, 5).await;
    audit::seal_all(app.db(), &app.clock).await.unwrap();
    app.db()
        .execute_unprepared("DELETE FROM audit_log WHERE chain_pos = 2")
        .await
        .unwrap();
    let b = audit::verify(app.db()).await.unwrap().first_broken.unwrap();
    assert!(b.reason.contains("position 2 is missing"), "{}", b.reason);
}

#[tokio::test]
async fn deleting_the_newest_sealed_rows_is_detected_by_the_chain_head() {
    let app = spawn_app().await;
    write_rows(&app, 5).await;
    audit::seal_all(app.db(), &app.clock).await.unwrap();
    app.db()
        .execute_unprepared("DELETE FROM audit_log WHERE chain_pos >= 4")
        .await
        .unwrap();
    let b = audit::verify(app.db()).await.unwrap().first_broken.unwrap();
    assert!(b.reason.contains("recorded head"), "{}", b.reason);
}

#[tokio::test]
async fn rows_committed_after_later_sequence_numbers_still_join_the_chain() {
    let app = spawn_app().await;
    // A slow transaction takes its sequence number first but commits last.
    let slow = px360::platform::db::begin_write(app.db()).await.unwrap();
    let slow_is_sqlite = !app.db.is_postgres;
    audit::record(&slow, &app.clock, &Actor::system(), AuditEntry::new("slow"))
        .await
        .unwrap();
    if slow_is_sqlite {
        // SQLite has one writer at a time: commit first, the ordering case cannot arise there.
        slow.commit().await.unwrap();
        write_rows(&app, 2).await;
        audit::seal_all(app.db(), &app.clock).await.unwrap();
    } else {
        write_rows(&app, 2).await;
        audit::seal_all(app.db(), &app.clock).await.unwrap();
        slow.commit().await.unwrap();
        audit::seal_all(app.db(), &app.clock).await.unwrap();
    }
    let r = audit::verify(app.db()).await.unwrap();
    assert_eq!((r.sealed_checked, r.unsealed), (3, 0));
    assert!(r.first_broken.is_none());
}
