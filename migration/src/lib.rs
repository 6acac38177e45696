//! One migration timeline for SQLite and PostgreSQL. Modules append their migrations here in order.

pub use sea_orm_migration::prelude::*;

pub mod common;
mod m20261126_000001_platform;
mod m20261126_000002_accounts_organizations;
mod m20261126_000003_journeys_integrations;
mod m20261126_000004_ui;
mod m20261126_000005_list_indexes;
mod m20261126_000007_notifications;
mod m20261126_000008_surveys;
mod m20261126_000009_actions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_platform::Migration),
            Box::new(m20261126_000002_accounts_organizations::Migration),
            Box::new(m20261126_000003_journeys_integrations::Migration),
            Box::new(m20261126_000004_ui::Migration),
            Box::new(m20261126_000005_list_indexes::Migration),
            Box::new(m20261126_000007_notifications::Migration),
            Box::new(m20261126_000008_surveys::Migration),
            Box::new(m20261126_000009_actions::Migration),
        ]
    }
}
