//! The HTTP server: Google's paths routed to their handlers, served on a
//! thread of its own until the fake is dropped.

use std::future::IntoFuture;
use std::net::TcpListener;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::oneshot;

use super::state::Shared;
use super::{account, consent, gmail, gmail_history, gmail_read, respond, send_as, token};

/// Largest request body accepted (Gmail's upload limit is 35 MB).
const MAX_BODY_BYTES: usize = 36 * 1024 * 1024;

/// The server thread: runs until `stop` fires (or its sender is dropped),
/// then drops the runtime, which closes every open connection.
pub(super) fn serve(listener: TcpListener, app: Router, stop: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build the fake Google runtime: {e}"));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .unwrap_or_else(|e| panic!("fake Google cannot use its socket: {e}"));
        tokio::select! {
            result = axum::serve(listener, app).into_future() => {
                if let Err(e) = result {
                    eprintln!("fake Google server stopped: {e}");
                }
            }
            _ = stop => {}
        }
    });
}

/// The routes, with Google's paths.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token::token))
        .route("/o/oauth2/v2/auth", get(consent::authorize))
        .route(
            "/oauth2/v3/userinfo",
            get(account::userinfo).post(account::userinfo),
        )
        .route(
            "/v1/userinfo",
            get(account::userinfo).post(account::userinfo),
        )
        .route(
            "/oauth2/v3/tokeninfo",
            get(account::tokeninfo).post(account::tokeninfo),
        )
        .route("/revoke", post(account::revoke).get(account::revoke))
        .route(
            "/upload/gmail/v1/users/{user_id}/messages/send",
            post(gmail::send_upload),
        )
        .route(
            "/gmail/v1/users/{user_id}/messages/send",
            post(gmail::send_json),
        )
        .route("/gmail/v1/users/{user_id}/messages", get(gmail_read::list))
        .route(
            "/gmail/v1/users/{user_id}/settings/sendAs",
            get(send_as::list),
        )
        .route(
            "/gmail/v1/users/{user_id}/messages/{id}",
            get(gmail_read::get),
        )
        .route(
            "/gmail/v1/users/{user_id}/profile",
            get(gmail_history::profile),
        )
        .route(
            "/gmail/v1/users/{user_id}/history",
            get(gmail_history::list),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Any other path.
async fn not_found() -> Response {
    respond::google_error(404, "notFound", "Requested entity was not found.", None)
}

/// A known path with the wrong method.
async fn method_not_allowed() -> Response {
    respond::google_error(405, "httpMethodNotAllowed", "Method Not Allowed", None)
}
