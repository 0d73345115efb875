//! Templates end to end: `mailroom template put|list|get|preview|rm`, a job naming a template
//! rendered at `mailroom send` (a missing variable refused, naming it), stored with the
//! version it used, and sent by the worker as rendered.

use std::time::Duration;

use mail_parser::MessageParser;
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::JobState;

use crate::common::{Env, eventually, states, write_secret};

const TEMPLATE: &str = r#"{
  "fallback_locale": "en",
  "locales": {
    "en": {"subject": "Welcome, {{ name }}", "text": "Hi {{ name }}", "html": "<p>Hi {{ name }}</p>"},
    "de": {"subject": "Willkommen, {{ name }}", "text": "Hallo {{ name }}", "html": "<p>Hallo {{ name }}</p>"}
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_template_job_is_rendered_at_enqueue_and_sent_as_rendered() {
    let env = Env::new("");
    let file = write_secret(env.dir.path(), "welcome.json", TEMPLATE.as_bytes());
    let put = env
        .run(&[
            "template",
            "put",
            "welcome",
            "--file",
            file.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(put.trim(), "welcome version 1");
    let put = env
        .run(&[
            "template",
            "put",
            "welcome",
            "--file",
            file.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(put.trim(), "welcome version 2");
    let list = env.run(&["template", "list"]).ok();
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().eq(["welcome", "2"])),
        "{list}"
    );
    let broken = write_secret(
        env.dir.path(),
        "broken.json",
        br#"{"fallback_locale": "en", "locales": {"en": {"subject": "{{ x", "text": "t"}}}"#,
    );
    let bad = env.run(&[
        "template",
        "put",
        "broken",
        "--file",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(bad.code(), Some(2));
    assert!(
        bad.stderr().contains("locales.en.subject"),
        "{}",
        bad.stderr()
    );

    let vars = write_secret(env.dir.path(), "vars.json", br#"{"name": "Zo\u00eb <b>"}"#);
    let preview = env
        .run(&[
            "template",
            "preview",
            "welcome",
            "--locale",
            "de",
            "--vars",
            vars.to_str().unwrap(),
        ])
        .ok();
    assert!(
        preview.contains("Subject: Willkommen, Zoë <b>"),
        "{preview}"
    );
    assert!(preview.contains("<p>Hallo Zoë &lt;b&gt;</p>"), "{preview}");

    // A variable the template needs and the job lacks: refused, naming it; nothing queued.
    let missing = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["zoe@example.org"],
        "template": {"name": "welcome", "locale": "de", "vars": {"nom": "Zoë"}},
    });
    let out = env.run_with_stdin(&["send", "--json", "-"], missing.to_string().as_bytes());
    assert_eq!(out.code(), Some(2), "{}", out.stderr());
    assert!(out.stderr().contains("vars.name"), "{}", out.stderr());
    let unknown = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["zoe@example.org"],
        "template": {"name": "nope", "vars": {"name": "Zoë"}},
    });
    let out = env.run_with_stdin(&["send", "--json", "-"], unknown.to_string().as_bytes());
    assert_eq!(out.code(), Some(2), "{}", out.stderr());
    assert!(out.stderr().contains("template.name"), "{}", out.stderr());

    // The same from flags: rendered at send; a list with two recipients refused, naming it.
    let vars_arg = vars.to_str().unwrap();
    let flags = [
        "send",
        "--from",
        "noreply@example.com",
        "--to",
        "zoe@example.org",
    ];
    let by_flags = env.run(&[&flags[..], &["--template", "welcome", "--vars", vars_arg]].concat());
    let by_flags: JobId = by_flags.ok().trim().parse().expect("a job id");
    let two = [
        &flags[..],
        &[
            "--to",
            "bob@example.org",
            "--template",
            "welcome",
            "--vars",
            vars_arg,
            "--list",
            "news",
        ],
    ]
    .concat();
    let two = env.run(&two);
    assert_eq!(two.code(), Some(2), "{}", two.stderr());
    assert!(two.stderr().contains("list"), "{}", two.stderr());

    let good = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["zoe@example.org"],
        "template": {"name": "welcome", "version": 1, "locale": "de", "vars": {"name": "Zoë <b>"}},
    });
    let out = env.run_with_stdin(&["send", "--json", "-"], good.to_string().as_bytes());
    let id: JobId = out.ok().trim().parse().expect("a job id");

    // Stored rendered, with the version and locale used, and without the variables.
    let queue = env.queue().await;
    let payload = queue.payload(id).await.unwrap().unwrap();
    let stored = EmailJob::from_record(payload.as_bytes(), id).unwrap();
    let t = stored.v1().template.clone().unwrap();
    assert_eq!(
        (t.name.as_str(), t.version, t.locale.as_deref()),
        ("welcome", Some(1), Some("de"))
    );
    assert!(t.vars.is_empty());
    assert_eq!(stored.v1().subject, "Willkommen, Zoë <b>");
    let payload = queue.payload(by_flags).await.unwrap().unwrap();
    let stored = EmailJob::from_record(payload.as_bytes(), by_flags).unwrap();
    assert_eq!(stored.v1().subject, "Welcome, Zoë <b>");

    let worker = env.worker("w1", &[]);
    eventually(Duration::from_secs(30), "the template job sent", || {
        let queue = queue.clone();
        async move { states(&queue, &[id]).await == [Some(JobState::Sent)] }
    })
    .await;
    let bytes = std::fs::read(env.outbox.join(format!("{id}.eml"))).unwrap();
    let msg = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(msg.subject(), Some("Willkommen, Zoë <b>"));
    assert_eq!(
        msg.body_html(0).as_deref(),
        Some("<p>Hallo Zoë &lt;b&gt;</p>")
    );
    worker.stop();

    let rm = env.run(&["template", "rm", "welcome"]).ok();
    assert!(rm.contains("deleted welcome"), "{rm}");
    assert!(!env.run(&["template", "list"]).ok().contains("welcome"));
}
