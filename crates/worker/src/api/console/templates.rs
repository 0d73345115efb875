//! `GET /templates`: the stored templates (name, versions, the locales of the newest);
//! `GET /templates/view?name=…&version=…`: one version's parts, with a preview form;
//! `POST /templates/preview`: that page again with the version rendered for a locale and the
//! variables typed in as JSON, as `mailroom template preview` renders it (an undefined
//! variable is an error that names it). Reading and previewing need `read`; storing and
//! deleting stay with `mailroom template` and `/v1/templates`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailroom_queue::StoredTemplate;
use serde::Deserialize;

use super::operator::Operator;
use super::page::{Nav, admin_error, error_page, render};
use super::posted::SessionPost;
use crate::admin::AdminError;
use crate::api::ApiState;

/// Most variables JSON a preview takes, in bytes.
const MAX_VARS: usize = 64 * 1024;

/// One stored template, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its versions, newest first.
    pub versions: Vec<u32>,
    /// The locales of the newest version, the fallback first.
    pub locales: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/templates.html")]
struct ListPage {
    nav: Option<Nav>,
    templates: Vec<Listed>,
}

/// The locales of `stored`, its fallback first.
fn locales(stored: &StoredTemplate) -> Vec<String> {
    let fallback = &stored.template.fallback_locale;
    let mut out = vec![fallback.clone()];
    out.extend(
        stored
            .template
            .locales
            .keys()
            .filter(|l| *l != fallback)
            .cloned(),
    );
    out
}

/// `GET /templates`.
pub async fn list(State(state): State<ApiState>, operator: Operator) -> Response {
    let listed = async {
        let mut out = Vec::new();
        for (name, latest) in state.queue.templates().await? {
            // A template deleted between the two reads is left out.
            if let Some(stored) = state.queue.template(&name, Some(latest)).await? {
                out.push(Listed {
                    locales: locales(&stored),
                    name,
                    versions: (1..=latest).rev().collect(),
                });
            }
        }
        Ok::<_, AdminError>(out)
    }
    .await;
    match listed {
        Ok(templates) => render(
            StatusCode::OK,
            &ListPage {
                nav: Some(Nav::new(&operator, "templates")),
                templates,
            },
        ),
        Err(e) => admin_error(&e),
    }
}

/// Which version to show.
#[derive(Debug, Default, Deserialize)]
pub struct Which {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<String>,
}

/// A preview: the locale and variables typed in, and what they rendered to.
#[derive(Debug, Default)]
pub struct Preview {
    /// The locale asked for (empty: the fallback).
    pub locale: String,
    /// The variables, as typed.
    pub vars: String,
    /// The rendered parts, when it rendered.
    pub rendered: Option<mailroom_jobs::RenderedTemplate>,
    /// Why it did not render, naming the variable or the field.
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/template.html")]
struct VersionPage {
    nav: Option<Nav>,
    stored: StoredTemplate,
    /// The locales offered, the fallback first, each with whether it is the one chosen.
    locales: Vec<(String, bool)>,
    preview: Preview,
}

/// The version `which` names, or the answer that says why there is none.
async fn stored(state: &ApiState, which: &Which) -> Result<StoredTemplate, Response> {
    mailroom_jobs::check_template_name(&which.name)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, &format!("template name: {e}")))?;
    let version = match which.version.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| {
            error_page(
                StatusCode::BAD_REQUEST,
                &format!("version: {v:?} is not a version number"),
            )
        })?),
    };
    match state.queue.template(&which.name, version).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            &format!("No template {} (or no such version).", which.name),
        )),
        Err(e) => Err(admin_error(&e.into())),
    }
}

fn version_page(operator: &Operator, stored: StoredTemplate, preview: Preview) -> Response {
    render(
        StatusCode::OK,
        &VersionPage {
            nav: Some(Nav::new(operator, "templates")),
            locales: locales(&stored)
                .into_iter()
                .map(|l| {
                    let chosen = l == preview.locale;
                    (l, chosen)
                })
                .collect(),
            stored,
            preview,
        },
    )
}

/// `GET /templates/view`.
pub async fn view(
    State(state): State<ApiState>,
    operator: Operator,
    Query(which): Query<Which>,
) -> Response {
    match stored(&state, &which).await {
        Ok(stored) => version_page(&operator, stored, Preview::default()),
        Err(answer) => answer,
    }
}

/// The preview form's fields.
#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    vars: String,
}

super::posted::csrf_field!(PreviewForm);

/// Renders `stored` for `locale` with `vars` (JSON text), as the CLI's preview does.
fn rendered(stored: &StoredTemplate, locale: &str, vars: &str) -> Preview {
    let mut preview = Preview {
        locale: locale.to_owned(),
        vars: vars.to_owned(),
        ..Preview::default()
    };
    let parsed = if vars.len() > MAX_VARS {
        Err(format!("vars: over {MAX_VARS} bytes"))
    } else if vars.trim().is_empty() {
        Ok(serde_json::Map::new())
    } else {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(vars)
            .map_err(|e| format!("vars: not a JSON object: {e}"))
    };
    let locale = Some(locale.trim()).filter(|l| !l.is_empty());
    match parsed.and_then(|v| {
        stored
            .template
            .render(locale, &v)
            .map_err(|e| e.to_string())
    }) {
        Ok(out) => preview.rendered = Some(out),
        Err(e) => preview.error = Some(e),
    }
    preview
}

/// `POST /templates/preview`: changes nothing, so `read` may; the CSRF token is still checked.
pub async fn preview(
    State(state): State<ApiState>,
    SessionPost { operator, form }: SessionPost<PreviewForm>,
) -> Response {
    let which = Which {
        name: form.name,
        version: form.version,
    };
    match stored(&state, &which).await {
        Ok(stored) => {
            let preview = rendered(&stored, &form.locale, &form.vars);
            version_page(&operator, stored, preview)
        }
        Err(answer) => answer,
    }
}
