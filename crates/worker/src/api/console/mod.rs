//! The operator console: server-rendered HTML at `/` on the `mailroom api` listener, for
//! people signed in with an API key that has the `read` or `admin` scope. Templates
//! (askama, in `templates/console/`) and assets are compiled into the binary; nothing is
//! loaded from elsewhere.
//!
//! - `session`: the signed session cookie and the CSRF token derived from it;
//! - `operator`: who is signed in, what they may do, and the checks of a form post;
//! - `posted`: a form post taken only once those checks pass;
//! - `headers`: the security headers of every console answer (CSP, nosniff, referrer);
//! - `assets`: the stylesheet and the script, embedded;
//! - `signin`: `/login` and `/logout`;
//! - `overview`: `/`, and `/overview/live`, the part the script refreshes;
//! - `chart`: the per-minute chart as inline SVG;
//! - `job`: `/jobs?id=…`;
//! - `dead`: `/dead`, its confirmation step and the retry or purge;
//! - `senders`: `/senders`: health, quotas, check now, enroll, revoke (after a confirmation);
//! - `sender_pause`: `/senders/pause` and `/senders/resume`;
//! - `templates`: `/templates`: stored templates, a version, and a preview rendered in place;
//! - `suppressions`: `/suppressions`: the suppression list per scope, add, and remove (after a
//!   confirmation);
//! - `settings`: `/config`, the effective configuration;
//! - `page`: what every page shares (the navigation, the notice and error pages).

pub mod assets;
pub mod chart;
pub mod dead;
pub mod headers;
pub mod job;
pub mod operator;
pub mod overview;
pub mod page;
pub mod posted;
pub mod sender_pause;
pub mod senders;
pub mod session;
pub mod settings;
pub mod signin;
pub mod suppressions;
pub mod templates;

use axum::Router;
use axum::routing::{get, post};

use super::ApiState;
use crate::config::{Config, CredentialKind};
use crate::enroll::WebFlow;
use session::SessionKey;

/// What the console adds to the API's state: the session key and, when the authorized-user
/// web flow is configured, the enrollment flow.
#[derive(Debug, Clone)]
pub struct Console {
    /// Signs sessions and derives CSRF tokens.
    pub key: SessionKey,
    /// The web sign-in flow "enroll a Gmail account" starts, or why there is none.
    pub enroll: Result<WebFlow, String>,
}

impl Console {
    /// The console of `config`: its session key (`api.session_key_file`, or random) and the
    /// enrollment flow when `[credentials]` is set up for it.
    ///
    /// # Errors
    /// The session key file is unreadable, open to others or too short.
    pub fn from_config(config: &Config, queue: &mailroom_queue::Queue) -> anyhow::Result<Self> {
        let key = match &config.api.session_key_file {
            Some(path) => {
                SessionKey::from_file(path, config.credentials.allow_group_readable_secrets)?
            }
            None => SessionKey::random(),
        };
        let enroll = if config.credentials.kind == CredentialKind::AuthorizedUser {
            WebFlow::for_console(config, queue.clone()).map_err(|e| format!("{e:#}"))
        } else {
            Err(
                "senders sign in with a service account ([credentials] kind); there is \
                 nothing to enroll"
                    .to_owned(),
            )
        };
        Ok(Self { key, enroll })
    }
}

/// The console's routes (and the web flow's `/oauth2/start` and `/oauth2/callback`, when it
/// is configured), every answer given the console's security headers.
pub fn routes(state: &ApiState) -> Router {
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/overview/live", get(overview::live))
        .route("/login", get(signin::form).post(signin::sign_in))
        .route("/logout", post(signin::sign_out))
        .route("/jobs", get(job::page))
        .route("/dead", get(dead::page))
        .route("/dead/confirm", post(dead::confirm))
        .route("/dead/apply", post(dead::apply))
        .route("/senders", get(senders::page))
        .route("/senders/check", post(senders::check))
        .route("/senders/revoke/confirm", post(senders::confirm_revoke))
        .route("/senders/revoke", post(senders::revoke))
        .route("/senders/pause", post(sender_pause::pause))
        .route("/senders/resume", post(sender_pause::resume))
        .route("/templates", get(templates::list))
        .route("/templates/view", get(templates::view))
        .route("/templates/preview", post(templates::preview))
        .route("/suppressions", get(suppressions::page))
        .route("/suppressions/add", post(suppressions::add))
        .route("/suppressions/confirm", post(suppressions::confirm))
        .route("/suppressions/remove", post(suppressions::remove))
        .route("/senders/enroll", post(senders::enroll))
        .route("/config", get(settings::page))
        .route("/static/console.css", get(assets::css))
        .route("/static/console.js", get(assets::js))
        .with_state(state.clone());
    let consent = state
        .console
        .enroll
        .as_ref()
        .ok()
        .and_then(|_| headers::origin_of(&state.config.google.auth_url));
    let csp = axum::http::HeaderValue::from_str(&headers::csp(consent.as_deref()))
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("default-src 'self'"));
    let pages = pages.layer(axum::middleware::from_fn_with_state(csp, headers::secure));
    match &state.console.enroll {
        Ok(flow) => pages.merge(crate::enroll::routes(flow.clone())),
        Err(_) => pages,
    }
}
