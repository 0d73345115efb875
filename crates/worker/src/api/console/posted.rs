//! A form posted to the console, taken only from a signed-in operator whose form carries the
//! session's CSRF token and, for a change, whose key grants `admin`
//! ([`Operator::refuse_post`]; otherwise the 403 page, or `/login` without a session).
//! Handlers take [`Posted<F>`] for a change and [`SessionPost<F>`] for what needs only the
//! session (signing out, a preview).

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::operator::{Needs, Operator};
use crate::api::ApiState;

/// A form that carries the console's CSRF token.
pub trait HasCsrf {
    /// The token the form posted, if any.
    fn csrf(&self) -> Option<&str>;
}

/// A checked form post: `ADMIN` says whether it needs the `admin` scope.
#[derive(Debug)]
pub struct Posted<F, const ADMIN: bool = true> {
    /// Who posted it.
    pub operator: Operator,
    /// What it carried.
    pub form: F,
}

/// A checked form post that needs only a session (a CSRF token, any scope).
pub type SessionPost<F> = Posted<F, false>;

impl<F, const ADMIN: bool> FromRequest<ApiState> for Posted<F, ADMIN>
where
    F: DeserializeOwned + HasCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let operator = Operator::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<F>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let needs = if ADMIN { Needs::Admin } else { Needs::Session };
        match operator.refuse_post(state, form.csrf(), needs) {
            Some(refused) => Err(refused),
            None => Ok(Self { operator, form }),
        }
    }
}

/// Implements [`HasCsrf`] for forms whose token is the field `csrf: Option<String>`.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::api::console::posted::HasCsrf for $form {
            fn csrf(&self) -> Option<&str> {
                self.csrf.as_deref()
            }
        })+
    };
}
pub(crate) use csrf_field;
