//! Web console: cookie sessions (tower-sessions records on our own database, so every web process
//! shares them) and per-user saved list filters.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000004_ui"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("ui_sessions"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(text("data"))
                .col(ts("expires_at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ui_sessions",
            "ix_ui_sessions_expires",
            &["expires_at"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("saved_views"))
                .col(id_pk())
                .col(uuid_req("user_id"))
                .col(string("view", 100))
                .col(string("name", 100))
                .col(text("query"))
                .col(boolean("is_default", false))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "saved_views",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "saved_views",
            "ux_saved_views_user_view_name",
            &["user_id", "view", "name"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("saved_views")).take())
            .await?;
        m.drop_table(Table::drop().table(Alias::new("ui_sessions")).take())
            .await?;
        Ok(())
    }
}
