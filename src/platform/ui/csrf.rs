//! CSRF protection for the console: one random token per session, required on every unsafe request
//! either as the `csrf_token` form field or as the `X-CSRF-Token` header (htmx sends it on every request
//! from `hx-headers` on `<body>`). The API never reads the session cookie, so it needs none of this.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use tower_sessions::Session;

use crate::platform::limits;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";
const KEY: &str = "csrf";

fn fresh() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The session's token, created on first use.
pub async fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(KEY).await {
        return t;
    }
    let t = fresh();
    if let Err(e) = session.insert(KEY, &t).await {
        tracing::warn!(error = %e, "cannot store a CSRF token");
    }
    t
}

/// A new token, after sign-in (so a token seen before sign-in is worthless afterwards).
pub async fn rotate(session: &Session) -> String {
    let t = fresh();
    if let Err(e) = session.insert(KEY, &t).await {
        tracing::warn!(error = %e, "cannot store a CSRF token");
    }
    t
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403</title></head>\
         <body><main><h1>403</h1><p>CSRF verification failed: reload the page and try again.</p>\
         <p dir=\"rtl\" lang=\"ar\">تعذر التحقق من الطلب: أعد تحميل الصفحة وحاول مرة أخرى.</p></main></body></html>",
    )
        .into_response()
}

/// Middleware: refuses unsafe requests whose token does not match the session's.
pub async fn verify(req: Request, next: Next) -> Response {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return forbidden();
    };
    let expected = match session.get::<String>(KEY).await {
        Ok(Some(t)) => t,
        _ => return forbidden(),
    };
    if let Some(given) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return if same(given, &expected) {
            next.run(req).await
        } else {
            forbidden()
        };
    }
    // A plain (no-JavaScript) multipart upload carries the token in its action URL.
    if let Some(q) = req.uri().query()
        && url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == FIELD && same(&v, &expected))
    {
        return next.run(req).await;
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return forbidden();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, limits::JSON_DEFAULT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").into_response();
    };
    let ok = url::form_urlencoded::parse(&bytes).any(|(k, v)| k == FIELD && same(&v, &expected));
    if !ok {
        return forbidden();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn comparison_is_exact() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("abc", "abcd"));
    }
}
