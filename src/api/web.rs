//! The web page: `/` is `index.html` of the built page (`web/dist`, written by `npm run
//! build` in `web/`), `/assets/{name}` its content-hashed scripts and styles. Asset names
//! are single path segments of safe characters, so nothing outside the folder is reachable.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::state::AppState;

/// The page's own scripts and styles only; CodeMirror sets inline styles.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub async fn index(State(state): State<AppState>) -> Result<Response, AppError> {
    let path = state.web_dir.join("index.html");
    let body = read(path.clone()).await.map_err(|err| {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "web_not_built",
            format!(
                "the web page is not built ({}: {err}); `make run` builds it, or run \
                 `npm ci && npm run build` in web/",
                path.display()
            ),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        body,
    )
        .into_response())
}

pub async fn asset(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, AppError> {
    let not_found = || {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no asset {name}"),
        )
    };
    if !is_safe_name(&name) {
        return Err(not_found());
    }
    let body = read(state.web_dir.join("assets").join(&name))
        .await
        .map_err(|_| not_found())?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    // Names carry a hash of the content.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

/// Reads a file off the async threads (small files; tokio's `fs` feature would only wrap the same).
async fn read(path: PathBuf) -> std::io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(std::io::Error::other)?
}

fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|ext| ext.to_str()) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("woff2") => "font/woff2",
        Some("map") | Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_segment_names_of_safe_characters_are_served() {
        for good in ["index-Czqxfzny.js", "index-Czqxfzny.css", "a_b.js.map"] {
            assert!(is_safe_name(good), "{good}");
        }
        for bad in [
            "",
            "..",
            "../index.html",
            ".env",
            "a/b.js",
            "a\\b.js",
            "%2e%2e",
            "é.js",
        ] {
            assert!(!is_safe_name(bad), "{bad}");
        }
    }

    #[test]
    fn scripts_and_styles_get_their_content_types() {
        assert_eq!(content_type("x.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
