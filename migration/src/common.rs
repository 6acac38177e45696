//! Column helpers shared by every module's tables, so ids, timestamps and soft delete look the same
//! everywhere.

use sea_orm_migration::prelude::*;

/// UUID v7 primary key (`id`).
pub fn id_pk() -> ColumnDef {
    ColumnDef::new(Alias::new("id"))
        .uuid()
        .not_null()
        .primary_key()
        .take()
}

/// A timestamp with time zone (timestamptz on PostgreSQL, ISO text on SQLite).
pub fn ts(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

pub fn ts_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .null()
        .take()
}

/// `created_at` and `updated_at`, set by services from the injected clock.
pub fn timestamps() -> [ColumnDef; 2] {
    [ts("created_at"), ts("updated_at")]
}

/// `deleted_at`: soft delete. Rows with a value are hidden from every list and lookup.
pub fn soft_delete() -> ColumnDef {
    ts_null("deleted_at")
}

pub fn string(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .not_null()
        .take()
}

pub fn string_null(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .null()
        .take()
}

pub fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().not_null().take()
}

pub fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().null().take()
}

pub fn int(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().not_null().take()
}

pub fn uuid_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().null().take()
}

pub fn json(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .json_binary()
        .not_null()
        .take()
}

/// A 64-bit sequence primary key that is never reused (AUTOINCREMENT on SQLite, BIGSERIAL on PostgreSQL).
pub fn seq_pk(backend: sea_orm_migration::sea_orm::DatabaseBackend, name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    if backend == sea_orm_migration::sea_orm::DatabaseBackend::Sqlite {
        // SQLite only allows AUTOINCREMENT on a column declared exactly INTEGER; it is 64-bit anyway.
        c.integer();
    } else {
        c.big_integer();
    }
    c.not_null().auto_increment().primary_key().take()
}

pub fn index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.take()
}

/// A foreign key named `fk_<table>_<column>`.
pub fn fk(
    from: &str,
    col: &str,
    to: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{col}"))
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(on_delete)
        .take()
}

pub fn boolean(name: &str, default: bool) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .boolean()
        .not_null()
        .default(default)
        .take()
}

pub fn uuid_req(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).uuid().not_null().take()
}

pub fn unique(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = index(table, name, cols);
    i.unique();
    i
}
