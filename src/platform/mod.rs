//! Cross-cutting mechanisms with no business rules. Modules under `apps/` build on these.

pub mod audit;
pub mod auth;
pub mod calendar;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod error;
pub mod events;
pub mod health;
pub mod heartbeat;
pub mod ids;
pub mod jobs;
pub mod json;
pub mod keys;
pub mod lease;
pub mod limits;
pub mod openapi;
pub mod pagination;
pub mod ratelimit;
pub mod rbac;
pub mod secret;
pub mod state;
pub mod text;
pub mod validate;
