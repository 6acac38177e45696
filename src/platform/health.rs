//! `GET /health/`: database reachability and whether a worker and a scheduler are alive (by heartbeat,
//! so a `serve --no-worker` web process reports on the separate worker processes too).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::heartbeat;
use crate::platform::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Services {
    /// `ok` or `error`
    pub database: String,
    /// `ok` when a worker has sent a heartbeat in the last 30 s, else `down`
    pub worker: String,
    /// `ok` when a scheduler has sent a heartbeat in the last 30 s, else `down`
    pub scheduler: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (database fine, background processes missing) or `error`
    pub status: String,
    pub services: Services,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

fn word(ok: bool, bad: &str) -> String {
    if ok { "ok".into() } else { bad.into() }
}

/// System health.
#[utoipa::path(
    get,
    path = "/health/",
    tag = "platform",
    responses(
        (status = 200, description = "Database reachable", body = Health),
        (status = 503, description = "Database unreachable", body = Health),
    )
)]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let now = s.clock.now();
    let db_ok = s.db.execute_unprepared("SELECT 1").await.is_ok();
    let worker = db_ok
        && heartbeat::alive(&s.db, heartbeat::WORKER, now)
            .await
            .unwrap_or(false);
    let scheduler = db_ok
        && heartbeat::alive(&s.db, heartbeat::SCHEDULER, now)
            .await
            .unwrap_or(false);
    let (code, status) = match (db_ok, worker && scheduler) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "error"),
        (true, false) => (StatusCode::OK, "degraded"),
        (true, true) => (StatusCode::OK, "ok"),
    };
    (
        code,
        Json(Health {
            status: status.into(),
            services: Services {
                database: word(db_ok, "error"),
                worker: word(worker, "down"),
                scheduler: word(scheduler, "down"),
            },
        }),
    )
}
