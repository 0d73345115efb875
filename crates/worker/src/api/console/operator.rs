//! Who is signed in to the console, and what they may do: every page takes an [`Operator`]
//! (no valid session: a redirect to `/login`), and every form post is checked with
//! [`Operator::refuse_post`] (a wrong or missing CSRF token, or a `read` key asking to change
//! something: 403).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::page::error_page;
use super::session::{Session, cookie_value};
use crate::api::ApiState;
use crate::api::keys::Scope;

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The session.
    pub session: Session,
    /// Whether the key grants `admin` (else it is read-only).
    pub admin: bool,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

/// What a form post needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Only a valid CSRF token (signing out, a confirmation step).
    Session,
    /// A valid CSRF token and the `admin` scope.
    Admin,
}

impl Operator {
    /// The operator of a request's session cookie, if it is valid and its key still grants
    /// `read` (a key removed from the key file ends its sessions at the next restart).
    #[must_use]
    pub fn of(state: &ApiState, headers: &axum::http::HeaderMap) -> Option<Self> {
        let key = &state.console.key;
        let session = Session::open(cookie_value(headers)?, key)?;
        let api_key = state.keys.by_id(&session.key_id)?;
        if !api_key.grants(Scope::Read) {
            return None;
        }
        Some(Self {
            admin: api_key.grants(Scope::Admin),
            csrf: session.csrf(key),
            session,
        })
    }

    /// Why a form post carrying `csrf` may not go on, as the 403 page to answer with (a
    /// missing or wrong CSRF token, or a read-only key); `None` when it may.
    #[must_use]
    pub fn refuse_post(
        &self,
        state: &ApiState,
        csrf: Option<&str>,
        needs: Needs,
    ) -> Option<Response> {
        if !csrf.is_some_and(|t| self.session.csrf_ok(&state.console.key, t)) {
            return Some(error_page(
                StatusCode::FORBIDDEN,
                "This form is missing its security token, or it is from another session. \
                 Reload the page and try again.",
            ));
        }
        if needs == Needs::Admin && !self.admin {
            return Some(error_page(
                StatusCode::FORBIDDEN,
                &format!(
                    "The API key {:?} is read-only: it lacks the admin scope this action needs.",
                    self.session.key_id
                ),
            ));
        }
        None
    }
}

impl FromRequestParts<ApiState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        Self::of(state, &parts.headers).ok_or_else(|| Redirect::to("/login").into_response())
    }
}
