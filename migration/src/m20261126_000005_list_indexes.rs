//! Indexes for the console's busiest list filters and sorts (original §6.4: "indexes for filtering
//! fields"): patients by gender or hospital, newest first.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000005_list_indexes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            "patients",
            "ix_patients_gender_created",
            &["gender", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "patients",
            "ix_patients_hospital_created",
            &["hospital_id", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_patients_gender_created", "ix_patients_hospital_created"] {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(Alias::new("patients"))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
