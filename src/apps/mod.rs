//! Domain modules, one folder each (SPEC.md "Modules"). Each exposes `router()` and, where it has
//! background work, `register_jobs()`; `startup.rs` composes them.

pub mod accounts;
pub mod actions;
pub mod integrations;
pub mod journeys;
pub mod notifications;
pub mod organizations;
pub mod surveys;
