//! `ApiJson<T>`: the JSON body extractor every API handler uses, so malformed input is answered the same
//! way everywhere: 400 `{"detail": "JSON parse error - ..."}` for broken JSON, 400 `{"field": [...]}` for
//! a well-formed body of the wrong shape, 413 over the route's body limit, 415 for another content type.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::platform::error::{AppError, FieldErrors};

pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(AppError::UnsupportedMediaType(
                "Unsupported media type in request; expected \"application/json\".".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(
                    "Request body is larger than this endpoint accepts.".into(),
                )
            } else {
                AppError::BadRequest(format!(
                    "Could not read the request body: {}",
                    r.body_text()
                ))
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

fn is_json(req: &Request) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses a JSON body into `T`, turning serde's messages into DRF-style errors.
///
/// # Errors
/// 400 with `detail` for syntax errors, or field messages for shape errors.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(AppError::BadRequest(format!("JSON parse error - {inner}")));
            }
            Err(AppError::Validation(shape_error(&path, &inner.to_string())))
        }
    }
}

fn shape_error(path: &str, raw: &str) -> FieldErrors {
    // serde appends " at line L column C"; the client has the field name instead.
    let msg = raw.split(" at line ").next().unwrap_or(raw);
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let full = if path == "." || path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return FieldErrors::single(full, "This field is required.");
    }
    let friendly = if let Some(rest) = msg.strip_prefix("unknown variant `") {
        match rest.split_once("`, expected ") {
            Some((value, expected)) => format!(
                "\"{value}\" is not a valid choice; allowed: {}",
                expected
                    .trim_start_matches("one of ")
                    .replace("` or `", ", ")
                    .replace('`', "")
            ),
            None => msg.to_string(),
        }
    } else if let Some(rest) = msg.strip_prefix("invalid type: ") {
        format!("Invalid type: {rest}.")
    } else {
        msg.to_string()
    };
    if path == "." || path.is_empty() {
        FieldErrors::single("non_field_errors", friendly)
    } else {
        FieldErrors::single(path, friendly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        mrn: String,
        kind: Kind,
        count: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    enum Kind {
        Stage,
        General,
    }

    #[test]
    fn malformed_json_is_a_detail_error() {
        let e = parse::<Body>(b"{\"mrn\": ").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(
            e.body()["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error")
        );
    }

    #[test]
    fn a_missing_field_is_reported_on_that_field() {
        let e = parse::<Body>(br#"{"kind": "STAGE"}"#).unwrap_err();
        assert_eq!(e.body(), json!({"mrn": ["This field is required."]}));
    }

    #[test]
    fn an_unknown_enum_value_lists_the_allowed_values() {
        let e = parse::<Body>(br#"{"mrn": "1", "kind": "OTHER"}"#).unwrap_err();
        let msg = e.body()["kind"][0].as_str().unwrap().to_string();
        assert!(msg.contains("\"OTHER\" is not a valid choice"), "{msg}");
        assert!(msg.contains("STAGE") && msg.contains("GENERAL"), "{msg}");
    }

    #[test]
    fn a_wrong_type_is_reported_on_its_field() {
        let e = parse::<Body>(br#"{"mrn": "1", "kind": "STAGE", "count": "x"}"#).unwrap_err();
        assert!(
            e.body()["count"][0]
                .as_str()
                .unwrap()
                .starts_with("Invalid type")
        );
    }

    #[test]
    fn unknown_fields_are_ignored_as_in_drf() {
        assert!(parse::<Body>(br#"{"mrn": "1", "kind": "GENERAL", "extra": 1}"#).is_ok());
    }
}
