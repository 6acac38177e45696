//! PX360: Patient Experience 360 for a hospital group. One binary: web UI, REST API, job worker and
//! scheduler over SQLite (embedded) or PostgreSQL.

pub mod apps;
pub mod config;
pub mod demo;
pub mod platform;
pub mod startup;
pub mod telemetry;
