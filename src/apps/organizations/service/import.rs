//! Bulk import of rows through the same `create_in` use cases as the API, in ONE transaction: every row
//! is validated exactly as a single create would be (each in a savepoint, so one bad row cannot poison
//! the rest on PostgreSQL), and the transaction commits only when asked to and no row failed.
//! Duplicates inside the file are caught too, because earlier rows are already inserted when later
//! ones are checked.

use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::platform::db::begin_write;
use crate::platform::error::{AppError, AppResult};
use crate::platform::import::ImportReport as Report;
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;
use crate::platform::ui::resource::from_body;

/// Validates (and with `commit`, writes) `rows` with `create_in`.
///
/// # Errors
/// A non-validation error (database, permission) aborts the whole run; nothing is written.
pub async fn run<I, O, F>(
    state: &AppState,
    p: &Principal,
    rows: Vec<(usize, Value)>,
    commit: bool,
    create_in: F,
) -> AppResult<Report>
where
    I: DeserializeOwned,
    F: AsyncFn(&DatabaseTransaction, &AppState, &Principal, I) -> AppResult<O>,
{
    let txn = begin_write(&state.db).await?;
    let mut report = Report {
        total: rows.len(),
        ..Default::default()
    };
    for (line, body) in rows {
        let input: I = match from_body(body) {
            Ok(i) => i,
            Err(AppError::Validation(e)) => {
                report.errors.push((line, e));
                continue;
            }
            Err(e) => return Err(e),
        };
        let savepoint = txn.begin().await?;
        match create_in(&savepoint, state, p, input).await {
            Ok(_) => savepoint.commit().await?,
            Err(AppError::Validation(e)) => {
                savepoint.rollback().await?;
                report.errors.push((line, e));
            }
            Err(e) => return Err(e),
        }
    }
    if commit && report.errors.is_empty() {
        txn.commit().await?;
        report.committed = true;
    } else {
        txn.rollback().await?;
    }
    Ok(report)
}
