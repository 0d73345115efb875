//! Templates: a stored [`Template`] (subject, text and HTML per locale, with a fallback
//! locale), the [`TemplateRef`] a job names it by, and [`EmailJob::apply_template`], which
//! renders it into the job with minijinja in strict mode (an undefined variable is an error)
//! and HTML auto-escaping for the `html` part.
//!
//! Rendering happens once, when the job is enqueued: the job then carries the rendered
//! subject and bodies, so every retry sends the same bytes, and an error is the producer's to
//! see. The job keeps the template's name, version and locale.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{EmailJob, ValidationError};

/// One locale's parts of a template, each a minijinja template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateParts {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The HTML body; variables are HTML-escaped unless marked `|safe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A template as stored: immutable once it has a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The locale used when a job asks for none, or for one the template lacks.
    pub fallback_locale: String,
    /// The parts of each locale (e.g. `en`, `de`); must include `fallback_locale`.
    pub locales: BTreeMap<String, TemplateParts>,
}

/// The template a job is rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    /// The template's name.
    pub name: String,
    /// Its version: the latest when absent at enqueue; set to the version used once rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The locale wanted (e.g. `de`); the template's fallback locale when absent or missing.
    /// Once rendered, the locale used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The variables the template reads; dropped once rendered (the job then carries the
    /// rendered text).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// True once the job was rendered from the template (set by the enqueue).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rendered: bool,
}

/// Longest template name, in bytes.
pub const MAX_TEMPLATE_NAME_LEN: usize = 100;

/// Why `name` is not a usable template name (1 to 100 ASCII letters, digits, `.`, `-`, `_`).
///
/// # Errors
/// The reason, in words.
pub fn check_template_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_TEMPLATE_NAME_LEN {
        return Err(format!("must have 1 to {MAX_TEMPLATE_NAME_LEN} characters"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed: use ASCII letters, digits, '.', '-' and '_'"
        )),
        None => Ok(()),
    }
}

/// What a template renders to for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTemplate {
    /// The locale used.
    pub locale: String,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
}

impl Template {
    /// Checks the template: a fallback locale that exists, and every part compiles
    /// (`locales.de.html` names the bad one).
    ///
    /// # Errors
    /// [`ValidationError`] naming the part.
    pub fn check(&self) -> Result<(), ValidationError> {
        if !self.locales.contains_key(&self.fallback_locale) {
            return Err(ValidationError::new(
                "fallback_locale",
                format!("{:?} is not one of the locales", self.fallback_locale),
            ));
        }
        let env = environment();
        for (locale, parts) in &self.locales {
            if parts.text.is_none() && parts.html.is_none() {
                return Err(ValidationError::new(
                    format!("locales.{locale}.text"),
                    "a locale needs text, html or both",
                ));
            }
            for (part, source) in parts.named() {
                env.template_from_named_str(part, source).map_err(|e| {
                    ValidationError::new(format!("locales.{locale}.{part}"), e.to_string())
                })?;
            }
        }
        Ok(())
    }

    /// Renders the parts of `locale` (or of the fallback locale when it is absent or
    /// missing) with `vars`, in strict mode: a variable the template reads and `vars` lacks
    /// is an error naming it (`vars.user.name`).
    ///
    /// # Errors
    /// [`ValidationError`] naming the missing variable, or the part that failed.
    pub fn render(
        &self,
        locale: Option<&str>,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<RenderedTemplate, ValidationError> {
        let locale = locale
            .filter(|l| self.locales.contains_key(*l))
            .unwrap_or(&self.fallback_locale);
        let parts = self
            .locales
            .get(locale)
            .ok_or_else(|| ValidationError::new("template", format!("has no locale {locale:?}")))?;
        let env = environment();
        let context = minijinja::Value::from_serialize(vars);
        let mut out = RenderedTemplate {
            locale: locale.to_owned(),
            subject: String::new(),
            text: None,
            html: None,
        };
        for (part, source) in parts.named() {
            let field = |e: &dyn std::fmt::Display| {
                ValidationError::new(format!("template.{part}"), e.to_string())
            };
            let t = env
                .template_from_named_str(part, source)
                .map_err(|e| field(&e))?;
            if let Some(missing) = missing_var(&t.undeclared_variables(true), vars) {
                return Err(ValidationError::new(
                    format!("vars.{missing}"),
                    format!("the template's {part} uses it, and vars has no such value"),
                ));
            }
            let rendered = t.render(&context).map_err(|e| field(&e))?;
            match part {
                "subject" => out.subject = rendered.trim().to_owned(),
                "text" => out.text = Some(rendered),
                _ => out.html = Some(rendered),
            }
        }
        Ok(out)
    }
}

impl TemplateParts {
    /// The parts present, each with its name (which also picks the escaping).
    fn named(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("subject", self.subject.as_str())];
        out.extend(self.text.as_deref().map(|t| ("text", t)));
        out.extend(self.html.as_deref().map(|h| ("html", h)));
        out
    }
}

/// The environment every template renders in: strict undefined values, HTML escaping for
/// the part named `html` only.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name == "html" {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

/// The first of `used` (dotted paths such as `user.name`) that `vars` does not hold.
fn missing_var(
    used: &std::collections::HashSet<String>,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let mut used: Vec<&String> = used.iter().collect();
    used.sort();
    used.into_iter()
        .find(|path| {
            let mut parts = path.split('.');
            let Some(first) = parts.next() else {
                return false;
            };
            let mut value = match vars.get(first) {
                Some(v) => v,
                None => return true,
            };
            for part in parts {
                match value.as_object() {
                    Some(map) => match map.get(part) {
                        Some(v) => value = v,
                        None => return true,
                    },
                    // A method or filter on a scalar or a list: minijinja decides.
                    None => return false,
                }
            }
            false
        })
        .cloned()
}

impl EmailJob {
    /// Renders `template` (version `version`) into the job: its subject, text and html come
    /// from the template's locale, its `template` reference records the version and locale
    /// used, and its `vars` are dropped.
    ///
    /// # Errors
    /// [`ValidationError`]: the job has no template reference, sets `subject`, `text` or
    /// `html` itself, or a variable is missing (`vars.NAME`).
    pub fn apply_template(
        &mut self,
        template: &Template,
        version: u32,
    ) -> Result<(), ValidationError> {
        let job = self.v1_mut();
        let Some(reference) = job.template.as_mut() else {
            return Err(ValidationError::new(
                "template",
                "the job names no template",
            ));
        };
        for (field, set) in [
            ("subject", !job.subject.is_empty()),
            ("text", job.text.is_some()),
            ("html", job.html.is_some()),
        ] {
            if set {
                return Err(ValidationError::new(
                    field,
                    "a job with a template takes it from the template: leave it out",
                ));
            }
        }
        let rendered = template.render(reference.locale.as_deref(), &reference.vars)?;
        reference.version = Some(version);
        reference.locale = Some(rendered.locale);
        reference.vars.clear();
        reference.rendered = true;
        job.subject = rendered.subject;
        job.text = rendered.text;
        job.html = rendered.html;
        Ok(())
    }
}
