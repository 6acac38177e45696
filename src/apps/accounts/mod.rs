//! accounts: users (email login), the eight roles, role assignments, JWT with rotating refresh tokens,
//! password reset and invitations, integration API keys.

mod api;
pub mod model;
pub mod password;
pub mod service;
pub mod views;

pub use api::router;
pub use service::{create_admin, create_default_roles};
