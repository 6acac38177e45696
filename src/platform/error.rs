//! Typed errors, mapped to HTTP in exactly one place (DRF-style JSON bodies).
//!
//! 400 `{"field": ["message", ...]}` or `{"detail": "..."}`; 401/403/404/409/413/422/429 `{"detail": "..."}`.
//! Unexpected errors become 500 with a generic body; their cause chain goes to the log only.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Field name → messages, in the shape DRF serializers return.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, otherwise the collected errors as a 400.
    ///
    /// # Errors
    /// [`AppError::Validation`] carrying every collected message.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut f = Self::new();
        f.add(field, message);
        f
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// 404 with a specific message (DRF's "Invalid page.").
    #[error("not found: {0}")]
    NotFoundDetail(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("gone: {0}")]
    Gone(String),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NotFoundDetail(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body a client sees.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Validation(f) => json!(f),
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::Conflict(d)
            | Self::Gone(d)
            | Self::PayloadTooLarge(d)
            | Self::UnsupportedMediaType(d)
            | Self::Unprocessable(d)
            | Self::Unavailable(d)
            | Self::NotFoundDetail(d) => json!({ "detail": d }),
            Self::NotFound => json!({ "detail": "Not found." }),
            Self::MethodNotAllowed => json!({ "detail": "Method not allowed." }),
            Self::TooManyRequests { retry_after_secs } => json!({
                "detail": format!("Request was throttled. Expected available in {retry_after_secs} seconds.")
            }),
            Self::Internal(_) => json!({ "detail": "A server error occurred." }),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(e))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "unexpected error");
        }
        let status = self.status();
        let mut resp = (status, axum::Json(self.body())).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Turns a unique-constraint violation into a 400 on `field` (DRF's "already exists"); anything else
/// stays an internal error. Use it on every insert/update that a unique index guards.
pub fn on_constraint(e: sea_orm::DbErr, field: &str, message: &str) -> AppError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::field(field, message),
        _ => AppError::from(e),
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_are_field_maps() {
        let mut f = FieldErrors::new();
        f.add("mrn", "This field is required.");
        f.add("mrn", "Too long.");
        let e = AppError::Validation(f);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            json!({"mrn": ["This field is required.", "Too long."]})
        );
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let e = AppError::Internal(anyhow::anyhow!("password=hunter2 connection refused"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body().to_string().contains("hunter2"));
    }

    #[test]
    fn throttling_sets_retry_after() {
        let r = AppError::TooManyRequests {
            retry_after_secs: 42,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
    }

    #[test]
    fn empty_field_errors_are_ok() {
        assert!(FieldErrors::new().into_result().is_ok());
        assert!(FieldErrors::single("a", "b").into_result().is_err());
    }
}
