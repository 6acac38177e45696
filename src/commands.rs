//! The non-serving subcommands.

use std::process::ExitCode;

use anyhow::Context;
use migration::MigratorTrait;

use px360::config::Config;
use px360::platform::audit;
use px360::platform::clock::SharedClock;
use px360::platform::db;
use px360::platform::jobs::scheduler::Scheduler;
use px360::startup;

pub async fn worker(config: Config, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let state = startup::prepare(config, clock).await?;
    let registry = std::sync::Arc::new(startup::job_registry(&state)?);
    startup::worker(&state, registry)
        .run(startup::shutdown_on_signal())
        .await;
    Ok(ExitCode::SUCCESS)
}

pub async fn scheduler(config: Config, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let tick = config.scheduler_tick;
    let state = startup::prepare(config, clock).await?;
    Scheduler::new(state.db.clone(), state.clock.clone(), tick)
        .run(startup::shutdown_on_signal())
        .await;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(config: Config) -> anyhow::Result<ExitCode> {
    let db = db::connect(&config.database_url, 2).await?;
    let pending = migration::Migrator::get_pending_migrations(&db)
        .await
        .context("reading migration status")?
        .len();
    migration::Migrator::up(&db, None)
        .await
        .context("running database migrations")?;
    println!("migrations applied: {pending}");
    Ok(ExitCode::SUCCESS)
}

pub async fn check(config: Config) -> anyhow::Result<ExitCode> {
    let db = db::connect(&config.database_url, 2).await?;
    let pending = migration::Migrator::get_pending_migrations(&db)
        .await
        .context("reading migration status")?
        .len();
    println!(
        "configuration ok (env {:?}); database reachable at {}; pending migrations: {pending}",
        config.env,
        db::redact(&config.database_url)
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn audit_verify(config: Config) -> anyhow::Result<ExitCode> {
    let db = db::connect(&config.database_url, 2).await?;
    let report = audit::verify(&db)
        .await
        .context("verifying the audit chain")?;
    match &report.first_broken {
        None => {
            println!(
                "audit chain intact: {} sealed rows verified, {} waiting to be sealed",
                report.sealed_checked, report.unsealed
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            let row = match (b.seq, b.id) {
                (Some(seq), Some(id)) => format!("row seq={seq} id={id}"),
                _ => format!("chain position {}", b.chain_pos),
            };
            println!(
                "audit chain BROKEN at {row}: {} ({} rows verified before it, {} waiting to be sealed)",
                b.reason, report.sealed_checked, report.unsealed
            );
            Ok(ExitCode::from(3))
        }
    }
}

pub async fn audit_seal(config: Config, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let db = db::connect(&config.database_url, 2).await?;
    let n = audit::seal_all(&db, clock.as_ref()).await?;
    println!("sealed {n} audit rows");
    Ok(ExitCode::SUCCESS)
}

pub async fn create_admin(
    config: Config,
    clock: SharedClock,
    email: String,
    password: Option<String>,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let password = match password.or_else(|| {
        std::env::var("PX360_ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
    }) {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("Password for the new PX admin: ")
                .context("reading the password")?
        }
        None => anyhow::bail!("no password: pass --password or set PX360_ADMIN_PASSWORD"),
    };
    let state = startup::prepare(config, clock).await?;
    match px360::apps::accounts::create_admin(&state, &email, &password).await {
        Ok((id, created)) => {
            println!(
                "{} PX admin {email} ({id})",
                if created { "created" } else { "updated" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(px360::platform::error::AppError::Validation(f)) => {
            let msgs: Vec<String> =
                f.0.iter()
                    .map(|(k, v)| format!("{k}: {}", v.join(" ")))
                    .collect();
            anyhow::bail!("{}", msgs.join("; "))
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

pub async fn create_default_roles(config: Config) -> anyhow::Result<ExitCode> {
    let db = db::connect(&config.database_url, 2).await?;
    let n = px360::apps::accounts::create_default_roles(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("roles created: {n} (the other roles already existed)");
    Ok(ExitCode::SUCCESS)
}
