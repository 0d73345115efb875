//! Who is calling: the key a request presents as `Authorization: Bearer SECRET`, and whether
//! it grants the scope an endpoint needs (401 without a valid key, 403 without the scope).

use axum::http::{HeaderMap, header};

use super::keys::{ApiKey, ApiKeys, Scope};
use super::problem::Problem;
use axum::http::StatusCode;

/// The key of a request that grants `scope`.
///
/// # Errors
/// 401 when no key, or an unknown one, is presented; 403 when the key lacks `scope`.
pub fn authorize<'k>(
    keys: &'k ApiKeys,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<&'k ApiKey, Problem> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, secret) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
        })
        .ok_or_else(|| {
            unauthorized("no API key: send it as the header `Authorization: Bearer SECRET`")
        })?;
    let key = keys
        .find(secret)
        .ok_or_else(|| unauthorized("unknown API key"))?;
    if !key.grants(scope) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "the API key {:?} lacks the scope {:?} this endpoint needs",
                key.id,
                scope.as_str()
            ),
        ));
    }
    Ok(key)
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, detail)
}
