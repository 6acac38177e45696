//! Surveys: templates (versioned), questions, instances (one per stage instance, token hash only) and
//! responses (one per question answered).

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000008_surveys"
    }
}

fn double(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).double().not_null().take()
}

fn double_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).double().null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("survey_templates"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                // Every version of one template shares its first version's id here.
                .col(uuid_req("family_id"))
                .col(int("version").default(1))
                .col(string("name_en", 200))
                .col(string("name_ar", 200).default(""))
                .col(text("description").default(""))
                .col(string("kind", 32))
                .col(string("scoring_method", 16))
                .col(
                    ColumnDef::new(Alias::new("negative_threshold"))
                        .integer()
                        .null(),
                )
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "survey_templates",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "survey_templates",
            "ix_survey_templates_hospital",
            &["hospital_id", "family_id", "version"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("survey_questions"))
                .col(id_pk())
                .col(uuid_req("survey_template_id"))
                .col(uuid_req("hospital_id"))
                .col(int("question_order"))
                .col(string("question_type", 24))
                .col(text("text_en"))
                .col(text("text_ar").default(""))
                .col(json("choices"))
                .col(boolean("required", true))
                .col(double("weight").default(1.0))
                .col(ColumnDef::new(Alias::new("branch")).json_binary().null())
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "survey_questions",
                    "survey_template_id",
                    "survey_templates",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "survey_questions",
            "ix_survey_questions_template",
            &["survey_template_id", "question_order"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("survey_instances"))
                .col(id_pk())
                .col(uuid_req("survey_template_id"))
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(uuid_null("physician_id"))
                .col(uuid_null("patient_id"))
                .col(uuid_null("journey_instance_id"))
                .col(uuid_null("stage_instance_id"))
                .col(string("encounter_id", 100).default(""))
                // Copied from the journey when the instance is created, for filters and analytics.
                .col(string("journey_type", 16).default(""))
                .col(string("stage_code", 50).default(""))
                .col(string("channel", 16))
                .col(string("recipient", 200).default(""))
                .col(string("language", 2))
                // SHA-256 of the link token; the token itself is never stored.
                .col(string("token_hash", 64))
                .col(string("status", 16))
                .col(ts_null("scheduled_at"))
                .col(ts_null("sent_at"))
                .col(ts_null("opened_at"))
                .col(ts_null("completed_at"))
                .col(ts("expires_at"))
                .col(ts_null("reminded_at"))
                .col(int("send_count").default(0))
                .col(double_null("score"))
                .col(boolean("is_negative", false))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "survey_instances",
                    "survey_template_id",
                    "survey_templates",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "survey_instances",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "survey_instances",
            "ux_survey_instances_token",
            &["token_hash"],
        ))
        .await?;
        // Architecture "durability rules": at most one survey per stage instance, by construction.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_survey_instances_stage ON survey_instances (stage_instance_id) \
                 WHERE stage_instance_id IS NOT NULL",
            )
            .await?;
        for (name, cols) in [
            (
                "ix_survey_instances_hospital",
                &["hospital_id", "created_at"][..],
            ),
            ("ix_survey_instances_status", &["status", "sent_at"][..]),
            ("ix_survey_instances_journey", &["journey_instance_id"][..]),
            ("ix_survey_instances_template", &["survey_template_id"][..]),
        ] {
            m.create_index(index("survey_instances", name, cols))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(Alias::new("survey_responses"))
                .col(id_pk())
                .col(uuid_req("survey_instance_id"))
                .col(uuid_req("question_id"))
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(uuid_null("physician_id"))
                .col(json("value"))
                .col(text("text_value").default(""))
                .col(double_null("score"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "survey_responses",
                    "survey_instance_id",
                    "survey_instances",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "survey_responses",
                    "question_id",
                    "survey_questions",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "survey_responses",
            "ux_survey_responses_answer",
            &["survey_instance_id", "question_id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "survey_responses",
            "survey_instances",
            "survey_questions",
            "survey_templates",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
