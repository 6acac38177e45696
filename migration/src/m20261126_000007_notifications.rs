//! Notifications: bilingual templates, the notification log (one row per message, every channel),
//! the staff in-app inbox (the topbar bell) and patient opt-out link tokens.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000007_notifications"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // A template is global (hospital_id NULL) or a hospital's override; channel NULL serves every
        // channel, a channel-specific row wins over it. Uniqueness of (code, hospital, channel) among
        // live rows is checked by the service (NULLs make a portable unique index impossible).
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("notification_templates"))
                .col(id_pk())
                .col(string("code", 64))
                .col(uuid_null("hospital_id"))
                .col(string_null("channel", 16))
                .col(string("description", 300).default(""))
                .col(string("subject_en", 300).default(""))
                .col(string("subject_ar", 300).default(""))
                .col(text("body_en"))
                .col(text("body_ar"))
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "notification_templates",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "notification_templates",
            "ix_notification_templates_code",
            &["code", "hospital_id"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("notification_logs"))
                .col(id_pk())
                .col(uuid_null("hospital_id"))
                .col(string("channel", 16))
                .col(string("template_code", 64))
                .col(string("language", 2))
                // PATIENT, USER or ADDRESS; the ids say who, `recipient` holds the address used
                // (phone, email, or the user id for in-app).
                .col(string("recipient_type", 16))
                .col(uuid_null("patient_id"))
                .col(uuid_null("user_id"))
                .col(string("recipient", 320).default(""))
                .col(string("subject", 300).default(""))
                .col(text("body"))
                // PENDING, SENT, DELIVERED, FAILED, SKIPPED
                .col(string("status", 16))
                .col(string("reason", 32).default(""))
                .col(int("attempts").default(0))
                .col(int("max_attempts").default(5))
                .col(string("provider", 32).default(""))
                .col(string_null("provider_message_id", 200))
                .col(text("error").default(""))
                .col(string_null("related_type", 64))
                .col(uuid_null("related_id"))
                .col(ts("scheduled_for"))
                .col(ts_null("sent_at"))
                .col(ts_null("delivered_at"))
                .col(c)
                .col(u)
                .take(),
        )
        .await?;
        for (name, cols) in [
            ("ix_notification_logs_created", &["created_at"][..]),
            (
                "ix_notification_logs_hospital",
                &["hospital_id", "created_at"][..],
            ),
            ("ix_notification_logs_status", &["status", "created_at"][..]),
            ("ix_notification_logs_patient", &["patient_id"][..]),
            (
                "ix_notification_logs_related",
                &["related_type", "related_id"][..],
            ),
            (
                "ix_notification_logs_provider_id",
                &["provider_message_id"][..],
            ),
        ] {
            m.create_index(index("notification_logs", name, cols))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(Alias::new("notification_inbox"))
                .col(id_pk())
                .col(uuid_req("user_id"))
                .col(uuid_null("hospital_id"))
                .col(uuid_null("log_id"))
                .col(string("title", 300))
                .col(text("body"))
                .col(string("link", 500).default(""))
                .col(ts_null("read_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "notification_inbox",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "notification_inbox",
            "ix_notification_inbox_user",
            &["user_id", "read_at", "created_at"],
        ))
        .await?;
        // One inbox row per delivered log row: a delivery job that runs twice adds nothing.
        m.create_index(unique(
            "notification_inbox",
            "ux_notification_inbox_log",
            &["log_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("notification_optout_tokens"))
                .col(id_pk())
                .col(string("token_hash", 64))
                .col(uuid_req("patient_id"))
                .col(uuid_null("hospital_id"))
                .col(uuid_null("log_id"))
                .col(ts_null("used_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "notification_optout_tokens",
                    "patient_id",
                    "patients",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "notification_optout_tokens",
            "ux_notification_optout_hash",
            &["token_hash"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "notification_optout_tokens",
            "notification_inbox",
            "notification_logs",
            "notification_templates",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
