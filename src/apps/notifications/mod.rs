//! Notifications: one send interface over SMS, WhatsApp, email and the staff in-app inbox
//! (`docs/notifications.md`). Other modules call only [`send`] (inside their own transaction) with an
//! [`Outgoing`] message; delivery runs as the `notifications.deliver` job with retries and backoff.
//!
//! * `model` — SeaORM entities; `config` — delivery backends from the environment
//! * `service` — send, delivery, templates, opt-out, quiet hours, SMS segments

pub mod config;
pub mod model;
pub mod service;

use sea_orm::ConnectionTrait;

use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::jobs::{Registry, handler_fn};
use crate::platform::state::AppState;

pub use service::{
    Channel, DELIVER_JOB, Outgoing, Queued, Recipient, SmsEncoding, SmsSegments, send, sms_segments,
};

/// Registers the delivery job with the backends of `state`'s configuration.
pub fn register_jobs(registry: &mut Registry, state: &AppState) {
    let d = service::deliver::Deliverer::new(state.config.notifications.clone());
    registry.register(
        DELIVER_JOB,
        handler_fn(move |ctx| {
            let d = d.clone();
            Box::pin(async move { d.run(ctx).await })
        }),
    );
}

/// Start-up: the public URL for opt-out links and the built-in templates.
///
/// # Errors
/// Database errors.
pub async fn prepare<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    public_url: &str,
) -> AppResult<()> {
    service::set_public_url(public_url);
    service::templates::seed_defaults(conn, clock).await?;
    Ok(())
}
