//! The composition root: config → database → routers → job handlers → event subscribers → schedules.
//! Adding a module means adding its router, its jobs and its schedules here, nowhere else.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use migration::MigratorTrait;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::platform::audit;
use crate::platform::clock::SharedClock;
use crate::platform::db::{self, Db};
use crate::platform::error::AppError;
use crate::platform::error::AppResult;
use crate::platform::events::EventBus;
use crate::platform::i18n::Lang;
use crate::platform::jobs::scheduler::{self, ScheduleDef, Scheduler};
use crate::platform::jobs::{self, Registry, Worker, WorkerOptions, handler_fn};
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;
use crate::platform::ui::registry::{
    Directory, NavGroup, NavItem, Profile, Registry as UiRegistry,
};
use crate::platform::{health, keys, limits, openapi, ui};
use tower_http::compression::CompressionLayer;

/// Periodic work. Written to the `schedules` table on start-up when missing; the table then rules.
pub fn schedules() -> Vec<ScheduleDef> {
    let mut defs = vec![
        ScheduleDef {
            name: "audit.seal",
            cron: "0 * * * * *",
            job_kind: audit::SEAL_JOB,
            payload: serde_json::json!({}),
        },
        ScheduleDef {
            name: "ui.sessions.prune",
            cron: "0 15 * * * *",
            job_kind: SESSIONS_PRUNE_JOB,
            payload: serde_json::json!({}),
        },
        ScheduleDef {
            name: "surveys.sweep",
            cron: "0 */15 * * * *",
            job_kind: crate::apps::surveys::SWEEP_JOB,
            payload: serde_json::json!({}),
        },
        ScheduleDef {
            name: "jobs.prune",
            cron: "0 30 23 * * *",
            job_kind: PRUNE_JOB,
            payload: serde_json::json!({ "keep_days": 30 }),
        },
    ];
    defs.extend(crate::apps::actions::schedules());
    defs
}

const PRUNE_JOB: &str = "jobs.prune";
const SESSIONS_PRUNE_JOB: &str = "ui.sessions.prune";

#[derive(Deserialize)]
struct PrunePayload {
    keep_days: i64,
}

/// Every job handler and event subscriber of the system.
///
/// # Errors
/// A kind registered twice.
pub fn job_registry(state: &AppState) -> anyhow::Result<Registry> {
    let mut registry = Registry::new();
    let mut bus = EventBus::new();
    registry.register(
        audit::SEAL_JOB,
        handler_fn(|ctx| {
            Box::pin(async move {
                audit::seal_all(&ctx.db, ctx.clock.as_ref()).await?;
                Ok(())
            })
        }),
    );
    registry.register(
        PRUNE_JOB,
        handler_fn(|ctx| {
            Box::pin(async move {
                let p: PrunePayload = ctx.payload()?;
                let n = jobs::prune(&ctx.db, ctx.clock.now(), p.keep_days).await?;
                tracing::info!(deleted = n, "pruned finished jobs");
                Ok(())
            })
        }),
    );
    registry.register(
        SESSIONS_PRUNE_JOB,
        handler_fn(|ctx| {
            Box::pin(async move {
                let n = ui::session::prune(&ctx.db, ctx.clock.now()).await?;
                tracing::debug!(deleted = n, "pruned expired console sessions");
                Ok(())
            })
        }),
    );
    crate::apps::integrations::register_jobs(&mut registry);
    crate::apps::surveys::register_jobs(state, &mut registry, &mut bus);
    crate::apps::notifications::register_jobs(&mut registry, state);
    // Module subscriptions go here: bus.subscribe(&mut registry, EventType::X, "module.handler", h);
    crate::apps::actions::register_jobs(&mut registry, &mut bus);
    bus.install(&mut registry);
    registry.validate()?;
    Ok(registry)
}

/// The sidebar: groups of links, each shown only to users who may open it.
fn nav() -> Vec<NavGroup> {
    use crate::platform::rbac::{Operation as O, Resource as R};
    let item = |label, href, icon, resource, count| NavItem {
        label,
        href,
        icon,
        resource,
        op: O::View,
        count,
    };
    vec![
        NavGroup {
            label: "nav.group.overview",
            items: vec![item("nav.home", "/", "speedometer2", R::Hospitals, None)],
        },
        NavGroup {
            label: "nav.group.organization",
            items: vec![
                item(
                    "nav.hospitals",
                    "/organizations/hospitals/",
                    "hospital",
                    R::Hospitals,
                    Some("organizations/hospitals"),
                ),
                item(
                    "nav.departments",
                    "/organizations/departments/",
                    "diagram-3",
                    R::Departments,
                    Some("organizations/departments"),
                ),
                item(
                    "nav.physicians",
                    "/organizations/physicians/",
                    "person-badge",
                    R::Physicians,
                    Some("organizations/physicians"),
                ),
                item(
                    "nav.employees",
                    "/organizations/employees/",
                    "person-vcard",
                    R::Employees,
                    Some("organizations/employees"),
                ),
                item(
                    "nav.patients",
                    "/organizations/patients/",
                    "person-heart",
                    R::Patients,
                    Some("organizations/patients"),
                ),
            ],
        },
        NavGroup {
            label: "nav.group.journeys",
            items: vec![
                item(
                    "nav.journeys",
                    "/journeys/instances/",
                    "person-walking",
                    R::Journeys,
                    Some("journeys/instances"),
                ),
                item(
                    "nav.journey_templates",
                    "/journeys/templates/",
                    "signpost-split",
                    R::Journeys,
                    None,
                ),
                item(
                    "nav.inbound_events",
                    "/integrations/events/",
                    "broadcast",
                    R::Integrations,
                    None,
                ),
                item(
                    "nav.event_mappings",
                    "/integrations/mappings/",
                    "arrow-left-right",
                    R::Integrations,
                    None,
                ),
                item(
                    "nav.integration_configs",
                    "/integrations/configs/",
                    "plug",
                    R::Integrations,
                    None,
                ),
            ],
        },
        NavGroup {
            label: "nav.group.actions",
            items: vec![
                item(
                    "nav.actions_board",
                    "/actions/",
                    "clipboard-check",
                    R::Actions,
                    Some("actions/actions"),
                ),
                item(
                    "nav.actions_sla",
                    "/actions/sla/",
                    "stopwatch",
                    R::Actions,
                    None,
                ),
            ],
        },
        NavGroup {
            label: "nav.group.admin",
            items: vec![
                item(
                    "nav.config",
                    "/config/",
                    "sliders",
                    R::HospitalSettings,
                    None,
                ),
                item(
                    "nav.users",
                    "/accounts/users/",
                    "people",
                    R::Users,
                    Some("accounts/users"),
                ),
                item(
                    "nav.roles",
                    "/accounts/roles/",
                    "shield-lock",
                    R::Roles,
                    None,
                ),
                item(
                    "nav.api_keys",
                    "/accounts/api-keys/",
                    "key",
                    R::ApiKeys,
                    Some("accounts/api-keys"),
                ),
                item(
                    "nav.notification_logs",
                    "/notifications/logs/",
                    "envelope-paper",
                    R::Notifications,
                    None,
                ),
                item(
                    "nav.notification_templates",
                    "/notifications/templates/",
                    "chat-square-text",
                    R::Notifications,
                    None,
                ),
                item(
                    "nav.audit",
                    "/audit/log/",
                    "journal-text",
                    R::AuditLog,
                    None,
                ),
            ],
        },
    ]
}

/// What the console layout asks of accounts and organizations.
struct ConsoleDirectory;

#[async_trait::async_trait]
impl Directory for ConsoleDirectory {
    async fn profile(&self, s: &AppState, user: uuid::Uuid) -> AppResult<Profile> {
        crate::apps::accounts::views::profile(s, user).await
    }
    async fn set_language(&self, s: &AppState, user: uuid::Uuid, lang: Lang) -> AppResult<()> {
        crate::apps::accounts::views::set_language(s, user, lang).await
    }
    async fn timezone(&self, s: &AppState, p: &Principal) -> chrono_tz::Tz {
        crate::apps::organizations::views::timezone_for(s, p).await
    }
}

/// Every module's console resources, look-ups and the sidebar.
pub fn ui_registry() -> UiRegistry {
    let mut reg = UiRegistry::new(Arc::new(ConsoleDirectory));
    crate::apps::organizations::views::register(&mut reg);
    crate::apps::accounts::views::register(&mut reg);
    crate::apps::surveys::views::register(&mut reg);
    crate::apps::actions::views::register(&mut reg);
    crate::apps::journeys::views::register(&mut reg);
    crate::apps::integrations::views::register(&mut reg);
    crate::apps::notifications::views::register(&mut reg);
    reg.resource(audit::browse::resource());
    reg.nav = nav();
    reg.nav.insert(2, crate::apps::surveys::views::nav());
    reg
}

/// The HTTP application: API, docs, health and the web console.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::router())
        .merge(audit::browse::router())
        .merge(crate::apps::accounts::router())
        .merge(crate::apps::organizations::router())
        .merge(crate::apps::journeys::router())
        .merge(crate::apps::integrations::router())
        .merge(crate::apps::notifications::router())
        .merge(crate::apps::surveys::router())
        .merge(crate::apps::actions::router())
        .split_for_parts();
    let pages = crate::apps::accounts::views::routes()
        .merge(crate::apps::organizations::views::routes())
        .merge(crate::apps::actions::views::routes())
        .merge(crate::apps::journeys::views::routes())
        .merge(crate::apps::integrations::views::routes())
        .merge(crate::apps::notifications::views::routes())
        .merge(crate::apps::surveys::views::routes());
    let console = ui::router(&state, pages);
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(console)
        .merge(crate::apps::surveys::views::public_routes())
        .merge(
            SwaggerUi::new("/api/docs/")
                .url("/api/schema/", openapi)
                // "none" stops Swagger UI from calling its public validator: no request leaves the machine.
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(ui::pages::render_errors))
        .layer(CompressionLayer::new())
        .layer(limits::limit(limits::JSON_DEFAULT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// JSON for the API, an HTML page for the console.
async fn not_found(uri: axum::http::Uri) -> Response {
    let p = uri.path();
    if p.starts_with("/api/") || p.starts_with("/health") {
        AppError::NotFound.into_response()
    } else {
        ui::UiError::App(AppError::NotFound).into_response()
    }
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    let mut r = AppError::Internal(anyhow::anyhow!("handler panicked")).into_response();
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// Connects, migrates (or checks that nothing is pending), resolves keys and installs schedules.
///
/// # Errors
/// Database unreachable, migrations pending with auto-migrate off, or a failed migration.
pub async fn prepare(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let db = db::connect(&config.database_url, config.db_max_connections).await?;
    if config.auto_migrate {
        migration::Migrator::up(&db, None)
            .await
            .context("running database migrations")?;
    } else {
        ensure_migrated(&db).await?;
    }
    let keys = keys::resolve(&config, &db, clock.as_ref())
        .await
        .context("resolving keys")?;
    scheduler::install(&db, clock.now(), &schedules()).await?;
    crate::apps::notifications::prepare(&db, clock.as_ref(), config.public_url.as_str())
        .await
        .map_err(|e| anyhow::anyhow!("notifications start-up: {e}"))?;
    Ok(AppState {
        db,
        clock,
        limiters: Arc::new(crate::platform::ratelimit::Limiters::from_config(&config)),
        config: Arc::new(config),
        keys: Arc::new(keys),
        ui: Arc::new(ui_registry()),
        api_keys: Arc::default(),
        intake: Arc::default(),
    })
}

async fn ensure_migrated(db: &Db) -> anyhow::Result<()> {
    let pending = migration::Migrator::get_pending_migrations(db)
        .await
        .context("reading migration status")?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database has {} pending migration(s); run `px360 migrate` first",
            pending.len()
        );
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub worker: bool,
    pub scheduler: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            worker: true,
            scheduler: true,
        }
    }
}

/// A built application, listening but not yet serving.
pub struct Application {
    state: AppState,
    listener: TcpListener,
    registry: Arc<Registry>,
    options: ServeOptions,
}

impl Application {
    /// # Errors
    /// See [`prepare`]; also when the bind address is taken.
    pub async fn build(
        config: Config,
        clock: SharedClock,
        options: ServeOptions,
    ) -> anyhow::Result<Self> {
        let bind = config.bind;
        let state = prepare(config, clock).await?;
        let registry = Arc::new(job_registry(&state)?);
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("PX360_BIND: cannot listen on {bind}"))?;
        Ok(Self {
            state,
            listener,
            registry,
            options,
        })
    }

    /// # Errors
    /// When the socket has no address (not expected once bound).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    pub fn worker(&self) -> Worker {
        worker(&self.state, self.registry.clone())
    }

    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(
            self.state.db.clone(),
            self.state.clock.clone(),
            self.state.config.scheduler_tick,
        )
    }

    /// Serves until `shutdown` is cancelled, with the worker and scheduler in-process as configured.
    ///
    /// # Errors
    /// Server errors.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut background = vec![];
        if self.options.worker {
            background.push(tokio::spawn(self.worker().run(shutdown.clone())));
        }
        if self.options.scheduler {
            background.push(tokio::spawn(self.scheduler().run(shutdown.clone())));
        }
        let app = router(self.state.clone());
        tracing::info!(
            address = %self.listener.local_addr()?,
            worker = self.options.worker,
            scheduler = self.options.scheduler,
            "PX360 is serving"
        );
        // TCP_NODELAY: without it Nagle's algorithm and delayed ACKs hold small responses back by
        // tens of milliseconds on keep-alive connections (measured: intake p50 ~100 ms → a few ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
        shutdown.cancel();
        for task in background {
            let _ = task.await;
        }
        served.context("HTTP server failed")
    }
}

pub fn worker(state: &AppState, registry: Arc<Registry>) -> Worker {
    Worker::new(
        state.db.clone(),
        state.clock.clone(),
        registry,
        WorkerOptions {
            concurrency: state.config.worker_concurrency,
            lease: state.config.job_lease,
            poll: state.config.worker_poll,
            ..Default::default()
        },
    )
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        t.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}

#[cfg(test)]
mod ui_catalog_tests {
    use crate::platform::i18n;
    use crate::platform::rbac::{Operation, Resource, Role};
    use crate::platform::ui::resource::Input;

    /// Labels named in resource declarations are data, not `t("…")` calls, so the template scan
    /// cannot see them: check every one against the catalog here.
    #[test]
    fn every_label_the_console_declares_is_in_the_catalog() {
        let reg = super::ui_registry();
        let mut keys: Vec<String> = vec![];
        for d in &reg.resources {
            keys.extend([d.title.to_string(), d.singular.to_string()]);
            keys.extend(
                d.columns
                    .iter()
                    .chain(d.detail.iter())
                    .map(|c| c.label.to_string()),
            );
            for f in &d.fields {
                keys.push(f.label.to_string());
                keys.extend(f.help.map(str::to_string));
                if let Input::Select(choices) | Input::Multi(choices) = f.input {
                    keys.extend(choices.iter().map(|c| format!("choice.{c}")));
                }
            }
            keys.extend(d.filters.iter().map(|f| f.label.to_string()));
            keys.extend(d.links.iter().map(|l| l.label.to_string()));
        }
        for g in &reg.nav {
            keys.push(g.label.to_string());
            keys.extend(g.items.iter().map(|i| i.label.to_string()));
        }
        keys.extend(
            Resource::ALL
                .iter()
                .map(|r| format!("resource.{}", r.as_str())),
        );
        keys.extend(Operation::ALL.iter().map(|o| format!("op.{}", o.as_str())));
        keys.extend(Role::ALL.iter().map(|r| format!("role.{}", r.code())));
        let mut missing: Vec<String> = keys.into_iter().filter(|k| !i18n::has(k)).collect();
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "missing from locales/messages.toml: {missing:?}"
        );
    }
}
