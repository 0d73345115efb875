//! Templates rendered into jobs: strict variables (a missing one is named), HTML escaping in
//! the html part only, the fallback locale, and the version recorded in the job.

use std::collections::BTreeMap;

use mailroom_jobs::{EmailJob, EmailJobV1, Policy, Template, TemplateParts, TemplateRef};
use serde_json::json;

fn template() -> Template {
    let part = |subject: &str, text: &str, html: &str| TemplateParts {
        subject: subject.to_owned(),
        text: Some(text.to_owned()),
        html: Some(html.to_owned()),
    };
    Template {
        fallback_locale: "en".to_owned(),
        locales: BTreeMap::from([
            (
                "en".to_owned(),
                part(
                    "Hello {{ name }}",
                    "Hi {{ name }}, order {{ order.id }}",
                    "<p>Hi {{ name }}</p>",
                ),
            ),
            (
                "de".to_owned(),
                part(
                    "Hallo {{ name }}",
                    "Hallo {{ name }}",
                    "<p>Hallo {{ name }}</p>",
                ),
            ),
        ]),
    }
}

fn job(locale: Option<&str>, vars: serde_json::Value) -> EmailJob {
    EmailJobV1::builder("noreply@example.com".parse().unwrap())
        .to("zoe@example.org".parse().unwrap())
        .template(TemplateRef {
            name: "welcome".to_owned(),
            version: None,
            locale: locale.map(str::to_owned),
            vars: vars.as_object().unwrap().clone(),
            rendered: false,
        })
        .build()
}

#[test]
fn a_rendered_job_carries_the_text_the_version_and_no_vars() {
    let mut j = job(
        Some("de"),
        json!({"name": "Zoë <script>", "order": {"id": 7}}),
    );
    assert_eq!(
        j.validate(&Policy::default()).unwrap_err().field,
        "template",
        "an unrendered job is refused"
    );
    j.apply_template(&template(), 3).unwrap();
    let v1 = j.v1();
    assert_eq!(v1.subject, "Hallo Zoë <script>");
    assert_eq!(v1.text.as_deref(), Some("Hallo Zoë <script>"));
    assert_eq!(v1.html.as_deref(), Some("<p>Hallo Zoë &lt;script&gt;</p>"));
    let t = v1.template.as_ref().unwrap();
    assert_eq!(
        (t.version, t.locale.as_deref(), t.rendered),
        (Some(3), Some("de"), true)
    );
    assert!(t.vars.is_empty());
    j.validate(&Policy::default()).unwrap();
    // The rendered job survives the wire format unchanged.
    assert_eq!(EmailJob::from_json(&j.to_json()).unwrap(), j);
}

#[test]
fn a_missing_variable_is_refused_naming_it() {
    let mut j = job(None, json!({"name": "Zoë"}));
    let e = j.apply_template(&template(), 1).unwrap_err();
    assert_eq!(e.field, "vars.order.id", "{e}");
    let mut j = job(None, json!({"order": {"id": 1}}));
    assert_eq!(
        j.apply_template(&template(), 1).unwrap_err().field,
        "vars.name"
    );
}

#[test]
fn an_unknown_locale_falls_back() {
    let mut j = job(Some("fr"), json!({"name": "Zoë", "order": {"id": 7}}));
    j.apply_template(&template(), 1).unwrap();
    assert_eq!(j.v1().subject, "Hello Zoë");
    assert_eq!(
        j.v1().template.as_ref().unwrap().locale.as_deref(),
        Some("en")
    );
}

#[test]
fn a_job_with_a_template_sets_no_subject_of_its_own() {
    let mut j = job(None, json!({"name": "Zoë", "order": {"id": 7}}));
    j.v1_mut().subject = "mine".to_owned();
    assert_eq!(
        j.apply_template(&template(), 1).unwrap_err().field,
        "subject"
    );
}

#[test]
fn a_template_that_does_not_compile_names_its_part() {
    let mut t = template();
    t.locales.get_mut("de").unwrap().html = Some("<p>{{ name </p>".to_owned());
    assert_eq!(t.check().unwrap_err().field, "locales.de.html");
    let mut t = template();
    t.fallback_locale = "fr".to_owned();
    assert_eq!(t.check().unwrap_err().field, "fallback_locale");
}
