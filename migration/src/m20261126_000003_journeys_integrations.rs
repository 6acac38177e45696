//! Journeys (templates, stage templates, instances, stage instances) and integrations (inbound events,
//! event mappings, integration configs).

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000003_journeys_integrations"
    }
}

fn fk(from: &str, col: &str, to: &str, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{col}"))
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(on_delete)
        .take()
}

fn boolean(name: &str, default: bool) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .boolean()
        .not_null()
        .default(default)
        .take()
}

fn uuid_req(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().not_null().take()
}

fn json_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).json_binary().null().take()
}

fn unique(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = index(table, name, cols);
    i.unique();
    i
}

/// A unique index over live rows only (soft-deleted rows must not block re-creating a code). Written as
/// SQL because partial indexes are the same statement on SQLite and PostgreSQL.
async fn unique_live(
    m: &SchemaManager<'_>,
    table: &str,
    name: &str,
    cols: &[&str],
    extra: &str,
) -> Result<(), DbErr> {
    let sql = format!(
        "CREATE UNIQUE INDEX {name} ON {table} ({}) WHERE deleted_at IS NULL{extra}",
        cols.join(", ")
    );
    m.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // ------------------------------------------------------------------ journeys
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("journey_templates"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("journey_type", 16))
                .col(string("name_en", 200))
                .col(string("name_ar", 200).default(""))
                .col(text("description").default(""))
                .col(int("version").default(1))
                .col(boolean("active", false))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "journey_templates",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        // One active template per hospital and journey type (SPEC rule 3 creates instances from it).
        unique_live(
            m,
            "journey_templates",
            "ux_journey_templates_active",
            &["hospital_id", "journey_type"],
            " AND active = TRUE",
        )
        .await?;
        m.create_index(index(
            "journey_templates",
            "ix_journey_templates_hospital",
            &["hospital_id", "journey_type"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("journey_stage_templates"))
                .col(id_pk())
                .col(uuid_req("journey_template_id"))
                .col(uuid_req("hospital_id"))
                .col(string("code", 50))
                .col(string("name_en", 200))
                .col(string("name_ar", 200).default(""))
                .col(int("stage_order"))
                .col(string("trigger_event_code", 100))
                // The surveys module does not exist yet: a plain nullable id, no foreign key.
                .col(uuid_null("survey_template_id"))
                .col(boolean("auto_send_survey", false))
                .col(int("survey_delay_hours").default(0))
                .col(boolean("requires_physician", false))
                .col(boolean("optional", false))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "journey_stage_templates",
                    "journey_template_id",
                    "journey_templates",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        unique_live(
            m,
            "journey_stage_templates",
            "ux_stage_templates_code",
            &["journey_template_id", "code"],
            "",
        )
        .await?;
        m.create_index(index(
            "journey_stage_templates",
            "ix_stage_templates_template",
            &["journey_template_id", "stage_order"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("journey_instances"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_req("journey_template_id"))
                .col(uuid_req("patient_id"))
                .col(string("encounter_id", 100))
                .col(string("status", 16))
                .col(ts("started_at"))
                .col(ts_null("completed_at"))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "journey_instances",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "journey_instances",
                    "journey_template_id",
                    "journey_templates",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "journey_instances",
                    "patient_id",
                    "patients",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        // SPEC rule 2: one instance per encounter and hospital.
        m.create_index(unique(
            "journey_instances",
            "ux_journey_instances_encounter",
            &["hospital_id", "encounter_id"],
        ))
        .await?;
        m.create_index(index(
            "journey_instances",
            "ix_journey_instances_patient",
            &["patient_id"],
        ))
        .await?;
        m.create_index(index(
            "journey_instances",
            "ix_journey_instances_created",
            &["created_at"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("journey_stage_instances"))
                .col(id_pk())
                .col(uuid_req("journey_instance_id"))
                .col(uuid_req("stage_template_id"))
                .col(uuid_req("hospital_id"))
                .col(int("stage_order"))
                .col(string("status", 16))
                .col(ts_null("completed_at"))
                .col(uuid_null("physician_id"))
                .col(uuid_null("department_id"))
                // The inbound event that completed the stage; unique, so one event completes one stage.
                .col(uuid_null("inbound_event_id"))
                .col(text("note").default(""))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "journey_stage_instances",
                    "journey_instance_id",
                    "journey_instances",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "journey_stage_instances",
                    "stage_template_id",
                    "journey_stage_templates",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "journey_stage_instances",
                    "physician_id",
                    "physicians",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    "journey_stage_instances",
                    "department_id",
                    "departments",
                    ForeignKeyAction::SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "journey_stage_instances",
            "ux_stage_instances_stage",
            &["journey_instance_id", "stage_template_id"],
        ))
        .await?;
        m.create_index(unique(
            "journey_stage_instances",
            "ux_stage_instances_event",
            &["inbound_event_id"],
        ))
        .await?;

        // ------------------------------------------------------------------ integrations
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("integration_configs"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("source_system", 64))
                .col(string("name", 200))
                .col(string("protocol", 16))
                .col(boolean("active", true))
                .col(boolean("require_mapping", false))
                .col(json_null("settings"))
                .col(text("description").default(""))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "integration_configs",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        unique_live(
            m,
            "integration_configs",
            "ux_integration_configs_source",
            &["hospital_id", "source_system"],
            "",
        )
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("event_mappings"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("source_system", 64))
                .col(string("external_code", 100))
                .col(string("event_code", 100))
                .col(string_null("journey_type", 16))
                .col(boolean("create_instance", false))
                .col(boolean("active", true))
                .col(text("description").default(""))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "event_mappings",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        unique_live(
            m,
            "event_mappings",
            "ux_event_mappings_code",
            &["hospital_id", "source_system", "external_code"],
            "",
        )
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("inbound_events"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("source_system", 64))
                .col(string("event_code", 100))
                .col(string_null("external_id", 200))
                .col(string("format", 16))
                .col(json("payload_json"))
                .col(string("payload_hash", 64))
                .col(string("encounter_id", 100).default(""))
                .col(string_null("patient_identifier", 100))
                .col(ts("occurred_at"))
                .col(ts("received_at"))
                .col(ts_null("processed_at"))
                .col(string("status", 16))
                .col(int("attempts").default(0))
                // What processing did, or why the event was ignored (human-readable).
                .col(text_null("result"))
                .col(text_null("error"))
                .col(string_null("mapped_event_code", 100))
                .col(uuid_null("journey_instance_id"))
                .col(uuid_null("stage_instance_id"))
                .col(uuid_null("job_id"))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "inbound_events",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        // SPEC rule 4: the deduplication key. NULL external ids are distinct in a unique index on both
        // engines, so events without one fall through to the payload-hash check.
        m.create_index(unique(
            "inbound_events",
            "ux_inbound_events_external",
            &["hospital_id", "source_system", "external_id"],
        ))
        .await?;
        m.create_index(index(
            "inbound_events",
            "ix_inbound_events_hash",
            &[
                "hospital_id",
                "source_system",
                "payload_hash",
                "received_at",
            ],
        ))
        .await?;
        m.create_index(index(
            "inbound_events",
            "ix_inbound_events_status",
            &["status", "received_at"],
        ))
        .await?;
        m.create_index(index(
            "inbound_events",
            "ix_inbound_events_encounter",
            &["hospital_id", "encounter_id"],
        ))
        .await?;
        m.create_index(index(
            "inbound_events",
            "ix_inbound_events_received",
            &["received_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "inbound_events",
            "event_mappings",
            "integration_configs",
            "journey_stage_instances",
            "journey_instances",
            "journey_stage_templates",
            "journey_templates",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
