//! Evidence files. Stored under `<PX360_DATA_DIR>/attachments/<hospital>/` with a random name (the
//! client's file name is kept only as metadata), within the size limit and the allowed-type list of
//! the configuration, and served only through the RBAC-checked download endpoint. A refused file is
//! never written; a file whose row fails to commit is removed again.

use std::path::PathBuf;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::actions::visible;
use super::{LogEntry, may, record};
use crate::apps::actions::model::{LOG_ATTACHMENT, attachment};
use crate::apps::actions::wire::AttachmentOut;
use crate::apps::actions::workflow;
use crate::platform::audit::Actor;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::rbac::{Operation, Principal};
use crate::platform::state::AppState;

/// One uploaded file, as the handler read it from the multipart body.
#[derive(Debug, Default)]
pub struct Upload {
    pub file_name: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub is_evidence: bool,
    pub note: String,
}

fn out(a: attachment::Model) -> AttachmentOut {
    AttachmentOut {
        download_url: format!("/api/actions/attachments/{}/", a.id),
        id: a.id,
        action: a.action_id,
        file_name: a.file_name,
        content_type: a.content_type,
        size_bytes: a.size_bytes,
        sha256: a.sha256,
        is_evidence: a.is_evidence,
        note: a.note,
        uploaded_by: a.uploaded_by,
        created_at: a.created_at,
    }
}

fn root(state: &AppState) -> PathBuf {
    state.config.data_dir.join("attachments")
}

/// The file's type: the declared one, or the one its extension implies when none (or a generic one)
/// was declared; the leading bytes must agree for the types that have a signature.
///
/// # Errors
/// A message for `{"file": [...]}`.
pub fn file_type(
    file_name: &str,
    declared: Option<&str>,
    head: &[u8],
    allowed: &[String],
) -> Result<String, String> {
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let guessed = mime_guess::from_path(file_name)
        .first()
        .map(|m| m.essence_str().to_ascii_lowercase());
    let Some(kind) = declared.or(guessed) else {
        return Err("The file type could not be determined.".into());
    };
    if !allowed.contains(&kind) {
        return Err(format!(
            "Files of type \"{kind}\" are not accepted; allowed: {}",
            allowed.join(", ")
        ));
    }
    let signature: Option<&[&[u8]]> = match kind.as_str() {
        "application/pdf" => Some(&[b"%PDF"]),
        "image/png" => Some(&[b"\x89PNG"]),
        "image/jpeg" => Some(&[b"\xFF\xD8\xFF"]),
        "image/webp" => Some(&[b"RIFF"]),
        _ => None,
    };
    if let Some(sigs) = signature
        && !sigs.iter().any(|s| head.starts_with(s))
    {
        return Err(format!("The file's content is not {kind}."));
    }
    Ok(kind)
}

/// Stores an evidence file on the action.
///
/// # Errors
/// 404 out of scope; 403 without edit permission; 413 over the size limit; 400 for a refused type, an
/// empty file or a closed action.
pub async fn upload(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    u: Upload,
) -> AppResult<AttachmentOut> {
    let a = visible(&state.db, p, id).await?;
    may(p, Operation::Edit, &a)?;
    if !workflow::is_open(&a.status) {
        return Err(AppError::field(
            "file",
            format!("A {} action takes no more files.", a.status),
        ));
    }
    let max = state.config.attachment_max_bytes;
    if u.bytes.len() > max {
        return Err(AppError::PayloadTooLarge(format!(
            "The file is larger than the limit of {} MiB.",
            max / (1024 * 1024)
        )));
    }
    if u.bytes.is_empty() {
        return Err(AppError::field("file", "The submitted file is empty."));
    }
    let name: String = u
        .file_name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(255)
        .collect();
    let name = if name.trim().is_empty() {
        "file".to_string()
    } else {
        name.trim().to_string()
    };
    let kind = file_type(
        &name,
        u.content_type.as_deref(),
        &u.bytes[..u.bytes.len().min(16)],
        &state.config.attachment_types,
    )
    .map_err(|m| AppError::field("file", m))?;
    let note: String = u.note.trim().chars().take(2000).collect();
    let sha = hex::encode(Sha256::digest(&u.bytes));
    let key = format!("{}/{}", a.hospital_id, Uuid::new_v4().simple());
    let path = root(state).join(&key);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("creating {}: {e}", dir.display())))?;
    }
    tokio::fs::write(&path, &u.bytes)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing an attachment: {e}")))?;
    let size = i64::try_from(u.bytes.len()).unwrap_or(i64::MAX);
    let saved = in_txn(&state.db, async |txn| {
        let row = attachment::ActiveModel {
            id: Set(new_id()),
            action_id: Set(a.id),
            hospital_id: Set(a.hospital_id),
            file_name: Set(name.clone()),
            content_type: Set(kind.clone()),
            size_bytes: Set(size),
            storage_key: Set(key.clone()),
            sha256: Set(sha.clone()),
            is_evidence: Set(u.is_evidence),
            note: Set(note.clone()),
            uploaded_by: Set(Some(p.user_id)),
            created_at: Set(state.clock.now()),
            deleted_at: Set(None),
        }
        .insert(txn)
        .await?;
        record(
            txn,
            state.clock.as_ref(),
            &Actor::of(p),
            &a,
            LogEntry::new(LOG_ATTACHMENT, name.clone()).details(json!({
                "attachment": row.id, "content_type": kind, "size_bytes": size,
                "is_evidence": u.is_evidence, "sha256": sha,
            })),
        )
        .await?;
        Ok::<_, AppError>(row)
    })
    .await;
    match saved {
        Ok(row) => Ok(out(row)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

/// # Errors
/// 404 out of scope.
pub async fn list(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Vec<AttachmentOut>> {
    let a = visible(&state.db, p, id).await?;
    Ok(attachment::Entity::find()
        .filter(attachment::Column::ActionId.eq(a.id))
        .filter(attachment::Column::DeletedAt.is_null())
        .order_by_asc(attachment::Column::CreatedAt)
        .all(&state.db)
        .await?
        .into_iter()
        .map(out)
        .collect())
}

/// The file, for a caller who may view its action: (file name, content type, bytes).
///
/// # Errors
/// 404 when the attachment or its action is out of scope, or the file is gone.
pub async fn download(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<(String, String, Vec<u8>)> {
    let row = attachment::Entity::find_by_id(id)
        .filter(attachment::Column::DeletedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    visible(&state.db, p, row.action_id).await?;
    // Keys are written by `upload` only (hospital id / random hex); refuse anything else outright.
    if row.storage_key.contains("..") {
        return Err(AppError::NotFound);
    }
    let bytes = tokio::fs::read(root(state).join(&row.storage_key))
        .await
        .map_err(|_| AppError::NotFound)?;
    Ok((row.file_name, row.content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        crate::config::DEFAULT_ATTACHMENT_TYPES
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    }

    #[test]
    fn types_are_declared_or_guessed_and_checked_against_the_content() {
        assert_eq!(
            file_type("a.pdf", Some("application/pdf"), b"%PDF-1.7", &allowed()),
            Ok("application/pdf".into())
        );
        assert_eq!(
            file_type("photo.jpg", None, b"\xFF\xD8\xFF\xE0", &allowed()),
            Ok("image/jpeg".into())
        );
        assert!(file_type("a.pdf", Some("application/pdf"), b"MZ\x90", &allowed()).is_err());
        assert!(file_type("run.exe", None, b"MZ", &allowed()).is_err());
        assert!(
            file_type("x.html", Some("text/html"), b"<html>", &allowed())
                .unwrap_err()
                .contains("not accepted")
        );
    }
}
