//! Platform tables: key/value settings, jobs (the transactional outbox), schedules, leases,
//! process heartbeats and the hash-chained audit log.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_platform"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();

        m.create_table(
            Table::create()
                .table(Alias::new("system_kv"))
                .col(string("key", 100).primary_key())
                .col(text("value"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("jobs"))
                .col(id_pk())
                .col(string("kind", 150))
                .col(json("payload"))
                .col(string("status", 16))
                .col(int("attempts").default(0))
                .col(int("max_attempts"))
                .col(ts("run_at"))
                .col(string_null("locked_by", 100))
                .col(ts_null("locked_until"))
                .col(text_null("last_error"))
                .col(string_null("dedupe_key", 250).unique_key())
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .col(ts_null("finished_at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "jobs",
            "ix_jobs_status_run_at",
            &["status", "run_at"],
        ))
        .await?;
        m.create_index(index("jobs", "ix_jobs_kind", &["kind"]))
            .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("schedules"))
                .col(string("name", 100).primary_key())
                .col(string("cron", 100))
                .col(string("job_kind", 150))
                .col(json("payload"))
                .col(
                    ColumnDef::new(Alias::new("enabled"))
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(ts_null("last_fired_at"))
                .col(ts_null("next_fire_at"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("leases"))
                .col(string("name", 100).primary_key())
                .col(string_null("holder", 100))
                .col(ts_null("expires_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("process_heartbeats"))
                .col(string("id", 150).primary_key())
                .col(string("kind", 20))
                .col(string("host", 150))
                .col(ts("started_at"))
                .col(ts("last_seen"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "process_heartbeats",
            "ix_heartbeats_kind_seen",
            &["kind", "last_seen"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("audit_log"))
                .col(seq_pk(backend, "seq"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .uuid()
                        .not_null()
                        .unique_key(),
                )
                .col(ts("occurred_at"))
                .col(uuid_null("actor_id"))
                .col(string_null("actor_label", 200))
                .col(string("action", 80))
                .col(string_null("object_type", 80))
                .col(string_null("object_id", 80))
                .col(uuid_null("hospital_id"))
                .col(string_null("ip", 64))
                .col(text("details"))
                .col(
                    ColumnDef::new(Alias::new("chain_pos"))
                        .big_integer()
                        .null()
                        .unique_key(),
                )
                .col(string_null("prev_hash", 64))
                .col(string_null("hash", 64))
                .col(ts_null("sealed_at"))
                .take(),
        )
        .await?;
        m.create_index(index("audit_log", "ix_audit_occurred", &["occurred_at"]))
            .await?;
        m.create_index(index(
            "audit_log",
            "ix_audit_object",
            &["object_type", "object_id"],
        ))
        .await?;
        m.create_index(index("audit_log", "ix_audit_actor", &["actor_id"]))
            .await?;
        m.create_index(index("audit_log", "ix_audit_hospital", &["hospital_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_log",
            "process_heartbeats",
            "leases",
            "schedules",
            "jobs",
            "system_kv",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
