//! The binary itself: exit codes and one-line errors.

use std::process::{Command, Output};

use crate::helpers::TestDb;

fn px360(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_px360"));
    cmd.args(args).current_dir(dir.path());
    for k in [
        "DATABASE_URL",
        "PX360_ENV",
        "PX360_SECRET_KEY",
        "PX360_ENCRYPTION_KEY",
        "PX360_SECURE_COOKIES",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("PX360_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn prod_without_keys_exits_with_one_clear_line() {
    let o = px360(&["check"], &[("PX360_ENV", "prod")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("PX360_SECRET_KEY"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn a_bad_database_url_exits_non_zero_without_a_panic() {
    let o = px360(&["check"], &[("DATABASE_URL", "mysql://nowhere/db")]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let o = px360(
        &["serve"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")],
    );
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("DATABASE_URL: cannot connect"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test]
async fn migrate_then_check_then_audit_verify_detects_a_hand_edit() {
    let db = TestDb::new().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let o = px360(&["migrate"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = px360(&["check"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pending migrations: 0"));

    // Write and seal a few rows through the library, then edit one by hand.
    let conn = px360::platform::db::connect(&db.url, 2).await.unwrap();
    let clock = px360::platform::clock::SystemClock;
    for i in 0..4 {
        px360::platform::audit::record(
            &conn,
            &clock,
            &px360::platform::audit::Actor::system(),
            px360::platform::audit::AuditEntry::new("login.failed")
                .details(serde_json::json!({ "i": i })),
        )
        .await
        .unwrap();
    }
    let o = px360(&["audit", "seal"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = px360(&["audit", "verify"], &env);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 sealed rows verified"));

    use sea_orm::ConnectionTrait;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT seq FROM audit_log WHERE chain_pos = 3",
        ))
        .await
        .unwrap()
        .unwrap();
    let seq: i64 = row.try_get_by_index(0).unwrap();
    conn.execute_unprepared(&format!(
        "UPDATE audit_log SET details = '{{\"i\": 99}}' WHERE seq = {seq}"
    ))
    .await
    .unwrap();
    let o = px360(&["audit", "verify"], &env);
    assert_eq!(o.status.code(), Some(3));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("seq={seq}")), "{out}");
    assert!(out.contains("BROKEN"), "{out}");
}
