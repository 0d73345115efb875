//! Stored templates: `PUT /v1/templates/{name}` (a new version; `admin`),
//! `GET /v1/templates/{name}` (a version; `read`), `DELETE /v1/templates/{name}` (`admin`),
//! `GET /v1/templates` (names and newest versions; `read`) and
//! `POST /v1/templates/{name}/preview` (render with a locale and variables; `read`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use mailroom_jobs::Template;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::authorize;
use super::keys::Scope;
use super::problem::Problem;

/// A stored version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredDoc {
    /// The template's name.
    pub name: String,
    /// This version.
    pub version: u32,
    /// The newest version.
    pub latest: u32,
    /// The template: `fallback_locale`, and `locales` mapping a locale to its `subject`,
    /// `text` and `html`.
    #[schema(value_type = Object)]
    pub template: Template,
}

/// A template's name and newest version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateSummary {
    /// The name.
    pub name: String,
    /// The newest version.
    pub latest: u32,
}

/// The stored templates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// Sorted by name.
    pub templates: Vec<TemplateSummary>,
}

/// Which version to read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// The version; the newest when absent.
    pub version: Option<u32>,
}

/// What to render a preview with.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The version; the newest when absent.
    #[serde(default)]
    pub version: Option<u32>,
    /// The locale; the template's fallback when absent or missing.
    #[serde(default)]
    pub locale: Option<String>,
    /// The variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: serde_json::Map<String, serde_json::Value>,
}

/// A rendered template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewDoc {
    /// The version rendered.
    pub version: u32,
    /// The locale used.
    pub locale: String,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body (variables escaped).
    pub html: Option<String>,
}

fn checked(name: &str) -> Result<&str, Problem> {
    mailroom_jobs::check_template_name(name)
        .map_err(|e| Problem::bad_request(format!("template name: {e}")).field("name"))?;
    Ok(name)
}

async fn stored(
    state: &ApiState,
    name: &str,
    version: Option<u32>,
) -> Result<mailroom_queue::StoredTemplate, Problem> {
    state
        .queue
        .template(checked(name)?, version)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no template {name} (or no such version)")))
}

/// Store a new version of a template.
#[utoipa::path(
    put, path = "/v1/templates/{name}", operation_id = "putTemplate", tag = "templates",
    params(("name" = String, Path, description = "ASCII letters, digits, `.`, `-`, `_`.")),
    request_body(content = inline(Object), description = "`{\"fallback_locale\": \"en\", \"locales\": {\"en\": {\"subject\", \"text\", \"html\"}}}`", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored as a new version.", body = StoredDoc),
        (status = 400, description = "A bad name or body.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `admin`.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_body_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A part does not compile, or the fallback locale is missing; `field` names it.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn put(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<StoredDoc>), Problem> {
    authorize(&state.keys, &headers, Scope::Admin)?;
    let name = checked(&name)?.to_owned();
    let template: Template = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("invalid template: {e}")))?;
    template.check().map_err(|e| {
        Problem::unprocessable(format!("invalid template: {e}")).field(e.field.clone())
    })?;
    let version = state.queue.put_template(&name, &template).await?;
    Ok((
        StatusCode::CREATED,
        Json(StoredDoc {
            name,
            version,
            latest: version,
            template,
        }),
    ))
}

/// A version of a template.
#[utoipa::path(
    get, path = "/v1/templates/{name}", operation_id = "getTemplate", tag = "templates",
    params(("name" = String, Path, description = "The template's name."), VersionQuery),
    responses(
        (status = 200, description = "The version.", body = StoredDoc),
        (status = 400, description = "A bad name, version or body.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template or version.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<StoredDoc>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    let s = stored(&state, &name, q.version).await?;
    Ok(Json(StoredDoc {
        name: s.name,
        version: s.version,
        latest: s.latest,
        template: s.template,
    }))
}

/// Delete a template and every version (jobs already rendered are not affected).
#[utoipa::path(
    delete, path = "/v1/templates/{name}", operation_id = "deleteTemplate", tag = "templates",
    params(("name" = String, Path, description = "The template's name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "A bad name, version or body.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `admin`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    authorize(&state.keys, &headers, Scope::Admin)?;
    if state.queue.delete_template(checked(&name)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!("no template {name}")))
    }
}

/// The stored templates.
#[utoipa::path(
    get, path = "/v1/templates", operation_id = "listTemplates", tag = "templates",
    responses(
        (status = 200, description = "Names and newest versions.", body = TemplateList),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<TemplateList>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    let templates = state
        .queue
        .templates()
        .await?
        .into_iter()
        .map(|(name, latest)| TemplateSummary { name, latest })
        .collect();
    Ok(Json(TemplateList { templates }))
}

/// Render a template with a locale and variables, as a job naming it would be.
#[utoipa::path(
    post, path = "/v1/templates/{name}/preview", operation_id = "previewTemplate", tag = "templates",
    params(("name" = String, Path, description = "The template's name.")),
    request_body(content = PreviewRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The rendered parts.", body = PreviewDoc),
        (status = 400, description = "A bad name, or the body is not a preview request.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template or version.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_body_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A variable is missing (`field` is `vars.NAME`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn preview(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<PreviewDoc>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    let request: PreviewRequest = if body.is_empty() {
        PreviewRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::bad_request(format!("invalid preview request: {e}")))?
    };
    let s = stored(&state, &name, request.version).await?;
    let out = s
        .template
        .render(request.locale.as_deref(), &request.vars)
        .map_err(|e| {
            Problem::unprocessable(format!("cannot render: {e}")).field(e.field.clone())
        })?;
    Ok(Json(PreviewDoc {
        version: s.version,
        locale: out.locale,
        subject: out.subject,
        text: out.text,
        html: out.html,
    }))
}
