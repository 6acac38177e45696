//! The console kit: layout context, sessions, CSRF, assets, the resource pattern, saved filters,
//! exports and imports. Modules declare their resources and pages; `startup.rs` assembles them into a
//! [`registry::Registry`] and mounts [`router`].

pub mod assets;
pub mod crud;
pub mod csrf;
pub mod ctx;
pub mod exports;
pub mod imports;
pub mod pages;
pub mod present;
pub mod registry;
pub mod resource;
pub mod saved;
pub mod session;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::platform::state::AppState;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// No inline script or style, nothing from elsewhere: every asset is served by this binary.
/// `data:` images are Bootstrap's inline SVG icons in its CSS.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

pub use ctx::{Ctx, Ui, UiError, UiResult};

/// Every console route (`pages`: module pages and resource routes), behind the session and CSRF
/// layers. Static files need neither.
pub fn router(state: &AppState, pages: Router<AppState>) -> Router<AppState> {
    let mut r = pages.merge(pages::router());
    for d in &state.ui.resources {
        let key = d.key();
        let own_list = state.ui.own_lists.iter().any(|k| *k == key);
        r = r.merge(crud::routes_for(d.clone(), !own_list));
    }
    let console = r
        .layer(middleware::from_fn(csrf::verify))
        .layer(middleware::from_fn(pages::render_errors))
        .layer(session::layer(
            state.db.clone(),
            state.config.secure_cookies,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .route("/static/{*path}", get(assets::serve))
        .merge(console)
}
