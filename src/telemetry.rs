//! Logging: pretty in dev, JSON in prod, filtered by `PX360_LOG`. Integration traffic uses the tracing
//! target `integrations`; when `PX360_INTEGRATIONS_LOG` is set it is also written there as JSON lines,
//! so interface analysts can follow messages without the rest of the log.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::{Config, LogFormat};

/// The tracing target every integration log line uses.
pub const INTEGRATIONS: &str = "integrations";

/// Installs the global subscriber. Call once, from `main`.
///
/// # Errors
/// When the integrations log file cannot be opened.
pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let main = match config.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let integrations = match &config.integrations_log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| {
                    format!("PX360_INTEGRATIONS_LOG: cannot open {}", path.display())
                })?;
            Some(
                fmt::layer()
                    .json()
                    .with_writer(Mutex::new(file))
                    .with_filter(Targets::new().with_target(INTEGRATIONS, tracing::Level::TRACE))
                    .boxed(),
            )
        }
        None => None,
    };
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(main)
        .with(integrations)
        .try_init();
    Ok(())
}
