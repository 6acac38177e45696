//! Black-box tests over HTTP and the CLI. Each test gets its own database: a SQLite file in a temp dir,
//! or a fresh PostgreSQL schema when `PX360_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod accounts;
mod actions;
mod audit;
mod cli;
mod crash;
mod demo;
mod errors;
mod events;
mod health;
mod integrations;
mod jobs;
mod journeys;
mod journeys_ui;
mod notifications;
mod organizations;
mod rbac_matrix;
mod scheduler;
mod surveys;
mod throughput;
mod ui;
