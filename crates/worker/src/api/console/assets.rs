//! The console's stylesheet and script, compiled into the binary (no CDN: the console works
//! with no internet).

use axum::http::header;
use axum::response::IntoResponse;

/// The stylesheet.
pub const CSS: &str = include_str!("../../../assets/console.css");
/// The script: refreshes the overview's live part while the tab is visible.
pub const JS: &str = include_str!("../../../assets/console.js");

/// `GET /static/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
}

/// `GET /static/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
}
