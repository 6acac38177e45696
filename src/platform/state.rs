//! The state every handler and job receives.

use std::sync::Arc;

use crate::apps::integrations::service::batcher::IntakeBatcher;
use crate::config::Config;
use crate::platform::auth::ApiKeyCache;
use crate::platform::clock::SharedClock;
use crate::platform::db::Db;
use crate::platform::keys::Keys;
use crate::platform::ratelimit::Limiters;
use crate::platform::ui::registry::Registry;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    /// The console's resources, sidebar and look-ups (assembled in `startup.rs`).
    pub ui: Arc<Registry>,
    pub limiters: Arc<Limiters>,
    /// Authenticated API keys, reused for a second (see `auth::API_KEY_CACHE_TTL_MS`).
    pub api_keys: Arc<ApiKeyCache>,
    /// Group commit of inbound events (`integrations::service::batcher`).
    pub intake: Arc<IntakeBatcher>,
}
