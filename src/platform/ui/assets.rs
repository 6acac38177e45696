//! Static files embedded in the binary and served under `/static/`, with content-hashed names
//! (`bootstrap.min.3fa2c1d0.css`) so browsers may cache them forever and a new release is fetched at
//! once. The plain name still works (with a short cache), because vendored CSS refers to its fonts by
//! relative plain names.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "static/"]
#[exclude = "*.md"]
struct Static;

struct Manifest {
    /// logical path → hashed path
    hashed: HashMap<String, String>,
    /// hashed path → logical path
    logical: HashMap<String, String>,
}

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let mut hashed = HashMap::new();
    let mut logical = HashMap::new();
    for path in Static::iter() {
        let Some(file) = Static::get(&path) else {
            continue;
        };
        let digest = hex::encode(&Sha256::digest(&file.data)[..4]);
        let h = match path.rfind('.') {
            Some(dot) if !path[dot..].contains('/') => {
                format!("{}.{digest}{}", &path[..dot], &path[dot..])
            }
            _ => format!("{path}.{digest}"),
        };
        hashed.insert(path.to_string(), h.clone());
        logical.insert(h, path.to_string());
    }
    Manifest { hashed, logical }
});

/// The URL of a static file, content-hashed. Unknown paths are returned unhashed (and will 404),
/// which a test over every template catches.
pub fn url(path: &str) -> String {
    match MANIFEST.hashed.get(path) {
        Some(h) => format!("/static/{h}"),
        None => format!("/static/{path}"),
    }
}

pub fn exists(path: &str) -> bool {
    MANIFEST.hashed.contains_key(path)
}

/// `GET /static/{*path}`
pub async fn serve(Path(path): Path<String>) -> Response {
    let (logical, immutable) = match MANIFEST.logical.get(&path) {
        Some(l) => (l.as_str(), true),
        None => (path.as_str(), false),
    };
    let Some(file) = Static::get(logical) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = file.metadata.mimetype();
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut res = file.data.into_owned().into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_assets_get_hashed_urls() {
        let u = url("vendor/bootstrap/bootstrap.min.css");
        assert!(
            u.starts_with("/static/vendor/bootstrap/bootstrap.min."),
            "{u}"
        );
        assert!(u.ends_with(".css"));
        assert_ne!(u, "/static/vendor/bootstrap/bootstrap.min.css");
        for p in [
            "vendor/bootstrap/bootstrap.rtl.min.css",
            "vendor/bootstrap/bootstrap.bundle.min.js",
            "vendor/htmx/htmx.min.js",
            "vendor/chartjs/chart.umd.min.js",
            "vendor/tom-select/tom-select.complete.min.js",
            "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
            "css/app.css",
            "js/app.js",
        ] {
            assert!(exists(p), "{p} is not embedded");
        }
    }

    #[test]
    fn every_asset_a_template_names_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut stack = vec![root];
        let mut missing = vec![];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("templates dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).expect("template");
                for (i, _) in text.match_indices("asset(\"") {
                    let rest = &text[i + 7..];
                    if let Some(end) = rest.find('"')
                        && !exists(&rest[..end])
                    {
                        missing.push(format!("{}: {}", p.display(), &rest[..end]));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{missing:?}");
    }
}
