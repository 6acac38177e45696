//! PX Action Center: actions, their logs and attachments, SLA configs and routing rules.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000009_actions"
    }
}

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .default(0)
        .take()
}

fn json_default(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .json_binary()
        .not_null()
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("px_actions"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(string("title", 300))
                .col(text("description").default(""))
                .col(string("source_type", 40))
                // The source row lives in another module (survey instance, complaint, …): no foreign key.
                .col(uuid_null("source_id"))
                .col(string("category", 40))
                .col(string("priority", 16))
                .col(string("severity", 16))
                .col(string("status", 20))
                .col(uuid_null("assignee_id"))
                .col(int("escalation_level").default(0))
                .col(uuid_null("routing_rule_id"))
                .col(uuid_null("sla_config_id"))
                .col(string("hour_mode", 16))
                .col(int("sla_hours"))
                .col(int("reminder_hours_before"))
                .col(int("escalation_interval_hours"))
                .col(ts("sla_started_at"))
                .col(ts_null("due_at"))
                .col(ts_null("remind_at"))
                .col(ts_null("escalate_at"))
                .col(ts_null("reminded_at"))
                .col(ts_null("escalated_at"))
                .col(ts_null("paused_at"))
                .col(big("paused_seconds"))
                .col(json_default("pauses"))
                .col(uuid_null("approved_by"))
                .col(ts_null("approved_at"))
                .col(ts_null("closed_at"))
                .col(uuid_null("created_by"))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "px_actions",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        // One open action per source object (duplicate suppression, also against concurrent triggers).
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_px_actions_open_source ON px_actions (source_type, source_id) \
                 WHERE source_id IS NOT NULL AND deleted_at IS NULL \
                 AND status NOT IN ('CLOSED', 'CANCELLED')",
            )
            .await?;
        for (name, cols) in [
            (
                "ix_px_actions_hospital_created",
                &["hospital_id", "created_at"][..],
            ),
            ("ix_px_actions_status_due", &["status", "due_at"][..]),
            (
                "ix_px_actions_status_escalate",
                &["status", "escalate_at"][..],
            ),
            ("ix_px_actions_status_remind", &["status", "remind_at"][..]),
            (
                "ix_px_actions_assignee_status",
                &["assignee_id", "status"][..],
            ),
            (
                "ix_px_actions_department",
                &["department_id", "created_at"][..],
            ),
            ("ix_px_actions_created", &["created_at"][..]),
            // The board's saved views: open work by status, by source, escalated.
            (
                "ix_px_actions_status_created",
                &["status", "created_at"][..],
            ),
            (
                "ix_px_actions_source_status",
                &["source_type", "status", "created_at"][..],
            ),
            (
                "ix_px_actions_escalated",
                &["escalation_level", "status"][..],
            ),
        ] {
            m.create_index(index("px_actions", name, cols)).await?;
        }

        m.create_table(
            Table::create()
                .table(Alias::new("px_action_logs"))
                .col(id_pk())
                .col(uuid_req("action_id"))
                .col(uuid_req("hospital_id"))
                .col(string("kind", 30))
                .col(string_null("from_status", 20))
                .col(string_null("to_status", 20))
                .col(text("message").default(""))
                .col(uuid_null("actor_id"))
                .col(string("actor_label", 320).default(""))
                .col(json_default("details"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "px_action_logs",
                    "action_id",
                    "px_actions",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "px_action_logs",
            "ix_px_action_logs_action",
            &["action_id", "created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("px_action_attachments"))
                .col(id_pk())
                .col(uuid_req("action_id"))
                .col(uuid_req("hospital_id"))
                .col(string("file_name", 255))
                .col(string("content_type", 100))
                .col(big("size_bytes"))
                .col(string("storage_key", 200))
                .col(string("sha256", 64))
                .col(boolean("is_evidence", true))
                .col(text("note").default(""))
                .col(uuid_null("uploaded_by"))
                .col(ts("created_at"))
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "px_action_attachments",
                    "action_id",
                    "px_actions",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "px_action_attachments",
            "ix_px_action_attachments_action",
            &["action_id"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("px_action_sla_configs"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(string_null("priority", 16))
                .col(string_null("severity", 16))
                .col(int("hours"))
                .col(int("reminder_hours_before").default(0))
                .col(int("escalation_interval_hours").default(0))
                .col(string("hour_mode", 16))
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "px_action_sla_configs",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "px_action_sla_configs",
            "ix_px_action_sla_configs_hospital",
            &["hospital_id"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("px_action_routing_rules"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("name", 200))
                .col(int("rule_order").default(100))
                .col(boolean("active", true))
                .col(string_null("source_type", 40))
                .col(uuid_null("department_id"))
                .col(string_null("category", 40))
                .col(string_null("severity", 16))
                .col(string("target", 30))
                .col(uuid_null("target_user_id"))
                .col(uuid_null("target_department_id"))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "px_action_routing_rules",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "px_action_routing_rules",
            "ix_px_action_routing_rules_hospital",
            &["hospital_id", "rule_order"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "px_action_routing_rules",
            "px_action_sla_configs",
            "px_action_attachments",
            "px_action_logs",
            "px_actions",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
