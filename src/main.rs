//! The `px360` command line. Parsing only; the work happens in `startup` and the commands module.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use px360::config::Config;
use px360::platform::clock::{SharedClock, SystemClock};
use px360::startup;

mod commands;

#[derive(Parser)]
#[command(name = "px360", version, about = "PX360 — Patient Experience 360")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Adding a subcommand: a variant here and its arm in `run`.
#[derive(Subcommand)]
enum Command {
    /// Web UI + REST API, with the job worker and scheduler in the same process unless disabled.
    Serve(ServeArgs),
    /// Only the job worker.
    Worker,
    /// Only the scheduler (one acts at a time, by lease).
    Scheduler,
    /// Apply pending database migrations.
    Migrate,
    /// Check configuration and database reachability.
    Check,
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create a PX admin (or reset an existing user to PX admin with a new password).
    CreateAdmin(CreateAdminArgs),
    /// Re-create any of the eight roles that is missing (migrations create them).
    CreateDefaultRoles,
}

#[derive(Args)]
struct CreateAdminArgs {
    #[arg(long)]
    email: String,
    /// Falls back to PX360_ADMIN_PASSWORD; prompts only when run on a terminal.
    #[arg(long)]
    password: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Do not run the job worker in this process.
    #[arg(long)]
    no_worker: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    no_scheduler: bool,
    /// On an empty database, seed a demo hospital group and print one login per role.
    #[arg(long)]
    demo: bool,
    /// Also receive HL7 v2 over MLLP on this address (e.g. 127.0.0.1:2575).
    #[arg(long, value_name = "ADDR")]
    mllp: Option<std::net::SocketAddr>,
    /// The hospital code MLLP messages belong to (default: MSH-6, else the only hospital).
    #[arg(long, value_name = "CODE")]
    mllp_hospital: Option<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit non-zero naming the first broken row.
    Verify,
    /// Seal every row that waits to be sealed now (the scheduler does this every minute).
    Seal,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = px360::telemetry::init(&config) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let clock: SharedClock = std::sync::Arc::new(SystemClock);
    match command {
        Command::Serve(a) => {
            let options = startup::ServeOptions {
                worker: !a.no_worker,
                scheduler: !a.no_scheduler,
            };
            let app = startup::Application::build(config, clock, options).await?;
            if a.demo {
                match px360::demo::seed_if_empty(app.state()).await? {
                    Some(logins) => logins.print(&format!("http://{}", app.local_addr()?)),
                    None => println!("Demo: the database already has data; nothing seeded."),
                }
            }
            let shutdown = startup::shutdown_on_signal();
            if let Some(addr) = a.mllp {
                let state = app.state().clone();
                let stop = shutdown.clone();
                let code = a.mllp_hospital.clone();
                tokio::spawn(async move {
                    if let Err(e) =
                        px360::apps::integrations::mllp::serve(state, addr, code, stop.clone())
                            .await
                    {
                        eprintln!("error: {e:#}");
                        stop.cancel();
                    }
                });
            }
            app.run(shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker => commands::worker(config, clock).await,
        Command::Scheduler => commands::scheduler(config, clock).await,
        Command::Migrate => commands::migrate(config).await,
        Command::Check => commands::check(config).await,
        Command::Audit(AuditCommand::Verify) => commands::audit_verify(config).await,
        Command::Audit(AuditCommand::Seal) => commands::audit_seal(config, clock).await,
        Command::CreateAdmin(a) => commands::create_admin(config, clock, a.email, a.password).await,
        Command::CreateDefaultRoles => commands::create_default_roles(config).await,
    }
}
