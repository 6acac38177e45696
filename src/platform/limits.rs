//! Request body limits (SPEC.md wire formats). The router applies [`JSON_DEFAULT`] to everything; routes
//! that accept more or less set their own with [`limit`]. A body over the limit is answered 413.

use axum::extract::DefaultBodyLimit;

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// Any JSON body unless the route says otherwise.
pub const JSON_DEFAULT: usize = MIB;
/// One inbound integration event (JSON, HL7 v2 or FHIR).
pub const INBOUND_EVENT: usize = 256 * KIB;
/// `bulk_create`: at most [`BULK_MAX_ITEMS`] items in at most this many bytes.
pub const BULK: usize = 8 * MIB;
pub const BULK_MAX_ITEMS: usize = 1000;
/// Multipart attachments (configurable per deployment; this is the default).
pub const ATTACHMENT_DEFAULT: usize = 20 * MIB;
/// An uploaded CSV/XLSX import file (`platform::import::read` refuses anything larger).
pub const IMPORT_FILE: usize = 10 * MIB;
/// Rows per import unless the caller asks for fewer or more.
pub const IMPORT_ROWS_DEFAULT: usize = 10_000;

/// A layer setting a route's body limit: `.route_layer(limits::limit(limits::INBOUND_EVENT))`.
pub fn limit(bytes: usize) -> DefaultBodyLimit {
    DefaultBodyLimit::max(bytes)
}
