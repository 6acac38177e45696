//! Accounts and organizations: users, roles, role assignments, tokens, API keys, hospitals and their
//! settings, departments (a tree), physicians, employees, patients.

use sea_orm_migration::prelude::*;

use crate::common::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_accounts_organizations"
    }
}

/// The eight roles of SPEC.md "Roles and scope": code, level, names.
const ROLES: &[(&str, i32, &str, &str)] = &[
    ("PX_ADMIN", 100, "PX Admin", "مدير تجربة المريض"),
    ("HOSPITAL_ADMIN", 80, "Hospital Admin", "مدير المستشفى"),
    ("DEPARTMENT_MANAGER", 60, "Department Manager", "مدير القسم"),
    ("PX_COORDINATOR", 50, "PX Coordinator", "منسق تجربة المريض"),
    ("PHYSICIAN", 40, "Physician", "طبيب"),
    ("NURSE", 30, "Nurse", "ممرض"),
    ("STAFF", 20, "Staff", "موظف"),
    ("VIEWER", 10, "Viewer", "مشاهد"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("hospitals"))
                .col(id_pk())
                .col(string("code", 32).unique_key())
                .col(string("name_en", 200))
                .col(string("name_ar", 200))
                .col(string("city", 100).default(""))
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .take(),
        )
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("hospital_settings"))
                .col(
                    ColumnDef::new(Alias::new("hospital_id"))
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(int("negative_threshold").default(60))
                .col(int("survey_link_validity_days").default(30))
                .col(int("reminder_after_days").default(3))
                .col(string("quiet_hours_start", 5).default("22:00"))
                .col(string("quiet_hours_end", 5).default("08:00"))
                .col(string("default_channel", 16).default("SMS"))
                .col(json("enabled_channels"))
                .col(boolean("evidence_required", true))
                .col(json("action_triggers"))
                .col(int("call_rating_threshold").default(2))
                .col(json("escalation_chain"))
                .col(json("working_days"))
                .col(string("work_start", 5).default("08:00"))
                .col(string("work_end", 5).default("16:00"))
                .col(string("timezone", 64).default("Asia/Riyadh"))
                .col(json("holidays"))
                .col(c)
                .col(u)
                .foreign_key(&mut fk(
                    "hospital_settings",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("departments"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_null("parent_id"))
                .col(string("code", 32))
                .col(string("name_en", 200))
                .col(string("name_ar", 200))
                .col(string("category", 32))
                // Materialised path of ancestor ids ("/root/child/self/") for subtree queries.
                .col(text("path"))
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "departments",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "departments",
                    "parent_id",
                    "departments",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "departments",
            "ux_departments_hospital_code",
            &["hospital_id", "code"],
        ))
        .await?;
        m.create_index(index("departments", "ix_departments_path", &["path"]))
            .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("users"))
                .col(id_pk())
                .col(string("email", 254).unique_key())
                .col(string_null("password_hash", 200))
                .col(string("first_name_en", 100).default(""))
                .col(string("last_name_en", 100).default(""))
                .col(string("first_name_ar", 100).default(""))
                .col(string("last_name_ar", 100).default(""))
                .col(string_null("phone", 20))
                .col(string("preferred_language", 2).default("en"))
                .col(boolean("is_active", true))
                .col(boolean("is_service_account", false))
                .col(ts_null("last_login_at"))
                .col(ts_null("password_changed_at"))
                .col(c)
                .col(u)
                .col(soft_delete())
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("roles"))
                .col(string("code", 32).primary_key())
                .col(int("level"))
                .col(string("name_en", 100))
                .col(string("name_ar", 100))
                .take(),
        )
        .await?;
        let mut ins = Query::insert()
            .into_table(Alias::new("roles"))
            .columns([
                Alias::new("code"),
                Alias::new("level"),
                Alias::new("name_en"),
                Alias::new("name_ar"),
            ])
            .take();
        for (code, level, en, ar) in ROLES {
            ins.values_panic([(*code).into(), (*level).into(), (*en).into(), (*ar).into()]);
        }
        m.exec_stmt(ins).await?;

        m.create_table(
            Table::create()
                .table(Alias::new("role_assignments"))
                .col(id_pk())
                .col(uuid_req("user_id"))
                .col(string("role", 32))
                .col(uuid_null("hospital_id"))
                .col(uuid_null("department_id"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "role_assignments",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "role_assignments",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "role_assignments",
                    "department_id",
                    "departments",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(
                    &mut ForeignKey::create()
                        .name("fk_role_assignments_role")
                        .from(Alias::new("role_assignments"), Alias::new("role"))
                        .to(Alias::new("roles"), Alias::new("code"))
                        .take(),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            "role_assignments",
            "ix_role_assignments_user",
            &["user_id"],
        ))
        .await?;
        m.create_index(index(
            "role_assignments",
            "ix_role_assignments_hospital",
            &["hospital_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("refresh_tokens"))
                .col(id_pk())
                .col(uuid_req("user_id"))
                .col(uuid_req("family_id"))
                .col(ts("issued_at"))
                .col(ts("expires_at"))
                .col(ts_null("used_at"))
                .col(ts_null("revoked_at"))
                .foreign_key(&mut fk(
                    "refresh_tokens",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "refresh_tokens",
            "ix_refresh_tokens_family",
            &["family_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("login_failures"))
                .col(id_pk())
                .col(string("email", 254))
                .col(string("ip", 64))
                .col(ts("at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "login_failures",
            "ix_login_failures_email",
            &["email", "at"],
        ))
        .await?;
        m.create_index(index(
            "login_failures",
            "ix_login_failures_ip",
            &["ip", "at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("password_tokens"))
                .col(id_pk())
                .col(uuid_req("user_id"))
                .col(string("purpose", 16))
                .col(string("token_hash", 64).unique_key())
                .col(ts("expires_at"))
                .col(ts_null("used_at"))
                .col(ts("created_at"))
                .foreign_key(&mut fk(
                    "password_tokens",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("api_keys"))
                .col(id_pk())
                .col(string("name", 100))
                .col(uuid_req("user_id"))
                .col(uuid_req("hospital_id"))
                .col(string("prefix", 16).unique_key())
                .col(string("key_hash", 64))
                .col(uuid_null("created_by"))
                .col(ts("created_at"))
                .col(ts_null("last_used_at"))
                .col(ts_null("revoked_at"))
                .foreign_key(&mut fk(
                    "api_keys",
                    "user_id",
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "api_keys",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("physicians"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(uuid_null("user_id"))
                .col(string("license_number", 50))
                .col(string("first_name_en", 100))
                .col(string("last_name_en", 100))
                .col(string("first_name_ar", 100).default(""))
                .col(string("last_name_ar", 100).default(""))
                .col(string("specialty", 100).default(""))
                .col(string_null("phone", 20))
                .col(string_null("email", 254))
                .col(boolean("active", true))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "physicians",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "physicians",
                    "department_id",
                    "departments",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    "physicians",
                    "user_id",
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "physicians",
            "ux_physicians_hospital_license",
            &["hospital_id", "license_number"],
        ))
        .await?;
        m.create_index(index("physicians", "ix_physicians_user", &["user_id"]))
            .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("employees"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(uuid_null("department_id"))
                .col(uuid_null("user_id"))
                .col(string("employee_number", 50))
                .col(string("first_name_en", 100))
                .col(string("last_name_en", 100))
                .col(string("first_name_ar", 100).default(""))
                .col(string("last_name_ar", 100).default(""))
                .col(string("job_title", 150).default(""))
                .col(uuid_null("reports_to_id"))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "employees",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "employees",
                    "department_id",
                    "departments",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    "employees",
                    "user_id",
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    "employees",
                    "reports_to_id",
                    "employees",
                    ForeignKeyAction::SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "employees",
            "ux_employees_hospital_number",
            &["hospital_id", "employee_number"],
        ))
        .await?;

        let [c, u] = timestamps();
        m.create_table(
            Table::create()
                .table(Alias::new("patients"))
                .col(id_pk())
                .col(uuid_req("hospital_id"))
                .col(string("mrn", 50))
                .col(string("first_name_en", 100).default(""))
                .col(string("last_name_en", 100).default(""))
                .col(string("first_name_ar", 100).default(""))
                .col(string("last_name_ar", 100).default(""))
                // Arabic-normalised, lower-cased names for search (kept in step by the service).
                .col(text("search_text").default(""))
                .col(string_null("phone", 20))
                .col(string_null("email", 254))
                .col(string("preferred_language", 2).default("ar"))
                .col(ColumnDef::new(Alias::new("date_of_birth")).date().null())
                .col(string("gender", 10).default("UNKNOWN"))
                .col(text_null("national_id_enc"))
                .col(string_null("national_id_index", 64))
                .col(boolean("opt_out", false))
                .col(c)
                .col(u)
                .col(soft_delete())
                .foreign_key(&mut fk(
                    "patients",
                    "hospital_id",
                    "hospitals",
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(unique(
            "patients",
            "ux_patients_hospital_mrn",
            &["hospital_id", "mrn"],
        ))
        .await?;
        m.create_index(index(
            "patients",
            "ix_patients_national_id_index",
            &["national_id_index"],
        ))
        .await?;
        m.create_index(index("patients", "ix_patients_created", &["created_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "patients",
            "employees",
            "physicians",
            "api_keys",
            "password_tokens",
            "login_failures",
            "refresh_tokens",
            "role_assignments",
            "roles",
            "users",
            "departments",
            "hospital_settings",
            "hospitals",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).take())
                .await?;
        }
        Ok(())
    }
}
