//! Every answer Gmail's "Resolve errors" and "Usage limits" pages list for `messages.send`,
//! one row each: the fake Google answers the send exactly as Google does (its error JSON, an
//! HTML page, a 200 without an id), and the gmail transport's verdict must be the action the
//! README's "Gmail's answers" table promises for it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mailroom_jobs::{Address, JobId};
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule, GMAIL_SEND_SCOPE};
use mailroom_worker::credentials::{ServiceAccountSource, TokenSource};
use mailroom_worker::transport::{GmailTransport, Outgoing, SendError, Transport, Verdict};

const SENDER: &str = "noreply@example.com";

/// What mailroom does about an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Sent: the fake has the message and mailroom its id.
    Sent,
    /// Retry with backoff, spending an attempt.
    Backoff,
    /// Retry after the rate limit's window, spending no attempt.
    AfterWindow,
    /// Pause the sender until the daily limit resets (its jobs wait, no attempt spent).
    PauseUntilReset,
    /// Quarantine the sender until an operator fixes its credentials or grant.
    Quarantine,
    /// Dead-letter the job at once.
    DeadLetter,
}

/// One row: what Google answers the first send, and what mailroom must do about it.
struct Row {
    case: &'static str,
    fault: Fault,
    action: Action,
    /// Sends the fake must have accepted afterwards.
    accepted: usize,
}

fn row(case: &'static str, fault: Fault, action: Action) -> Row {
    Row {
        case,
        fault,
        action,
        accepted: 0,
    }
}

fn table() -> Vec<Row> {
    use Action::*;
    let concurrent = Fault::rate_limited(Duration::from_secs(1));
    vec![
        row(
            "400 invalidArgument",
            Fault::bad_request("Invalid To header"),
            DeadLetter,
        ),
        row(
            "400 failedPrecondition",
            Fault::failed_precondition("Precondition check failed."),
            DeadLetter,
        ),
        // One fresh token and one more try, in the same delivery.
        Row {
            accepted: 1,
            ..row("401 authError", Fault::unauthorized(), Sent)
        },
        row(
            "403 dailyLimitExceeded",
            Fault::daily_limit(),
            PauseUntilReset,
        ),
        row(
            "403 userRateLimitExceeded",
            Fault::user_rate_limited(),
            AfterWindow,
        ),
        row(
            "403 rateLimitExceeded",
            Fault::status(403, "rateLimitExceeded", "Rate Limit Exceeded"),
            AfterWindow,
        ),
        row("403 domainPolicy", Fault::domain_policy(), Quarantine),
        row(
            "403 forbidden (delegation denied)",
            Fault::forbidden(&format!("Delegation denied for {SENDER}")),
            Quarantine,
        ),
        row(
            "403 insufficientPermissions",
            Fault::status(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            ),
            Quarantine,
        ),
        row(
            "404 notFound (unknown user under delegation)",
            Fault::status(404, "notFound", "Requested entity was not found."),
            Quarantine,
        ),
        row(
            "429 too many concurrent requests for user",
            concurrent,
            AfterWindow,
        ),
        row(
            "429 (Mail sending)",
            Fault::mail_sending_limit(Utc::now() + chrono::Duration::hours(2)),
            PauseUntilReset,
        ),
        row("500 backendError", Fault::backend_error(), Backoff),
        row("502", Fault::status(502, "", "Bad Gateway"), Backoff),
        row("503", Fault::unavailable(), Backoff),
        row("504", Fault::status(504, "", "Deadline exceeded"), Backoff),
        row("HTML 502 page", Fault::HtmlPage(502), Backoff),
        row("HTML 503 page", Fault::HtmlPage(503), Backoff),
        row("HTML 404 page", Fault::HtmlPage(404), Backoff),
        row("HTML 429 page", Fault::HtmlPage(429), AfterWindow),
        // The message went out, but mailroom cannot know: the same as a lost answer.
        Row {
            accepted: 1,
            ..row("200 without an id", Fault::AnswerWithoutId, Backoff)
        },
        Row {
            accepted: 1,
            ..row(
                "connection dropped after accepting",
                Fault::DropConnection,
                Backoff,
            )
        },
    ]
}

/// What mailroom does about `result`, from the transport's verdict.
fn action(result: &Result<String, SendError>, now: DateTime<Utc>) -> Action {
    match result {
        Ok(_) => Action::Sent,
        Err(e) => match e.verdict {
            Verdict::Transient => Action::Backoff,
            Verdict::RateLimited => Action::AfterWindow,
            Verdict::SenderLimit { until } => {
                // Until a reset to come, within a day: the next midnight Pacific (08:00 UTC)
                // for the daily limit, the time Gmail names for the others. Not a fixed
                // distance from now: the daily reset may be a minute away.
                assert!(until > now, "{e:?}");
                assert!(until <= now + chrono::Duration::days(1), "{e:?}");
                Action::PauseUntilReset
            }
            Verdict::Credentials => Action::Quarantine,
            Verdict::Permanent => Action::DeadLetter,
            other => panic!("an unexpected verdict {other:?}: {e:?}"),
        },
    }
}

fn outgoing() -> Outgoing {
    let job_id = JobId::new();
    let raw = format!(
        "From: {SENDER}\r\nTo: ann@example.org\r\nSubject: answers\r\nMessage-ID: <{job_id}@example.com>\r\n\r\nhello\r\n"
    );
    Outgoing {
        job_id,
        from: Address::parse(SENDER).expect("address"),
        raw: raw.into_bytes(),
        message_id: format!("<{job_id}@example.com>"),
        thread_id: None,
        sent_as: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_gmail_answer_has_its_action() {
    let google = FakeGoogle::start();
    let account = google.service_account("mailer@demo-project.iam.gserviceaccount.com");
    google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
    google.add_domain_user(SENDER);
    let tokens: Arc<dyn TokenSource> = Arc::new(
        ServiceAccountSource::from_json(
            &account.key_json,
            Duration::from_secs(5),
            Arc::new(|_| {}),
        )
        .expect("key"),
    );
    let transport =
        GmailTransport::new(&google.base_url(), tokens, Duration::from_secs(5)).expect("transport");

    let mut wrong = Vec::new();
    for row in table() {
        let before = google.sent().len();
        google.clear_faults();
        google.inject(FaultRule::send(row.fault.clone()).once());
        let now = Utc::now();
        let result = transport.send(&outgoing()).await.map(|d| d.transport_id);
        let got = action(&result, now);
        let accepted = google.sent().len() - before;
        println!("{:<46} {got:?}", row.case);
        if got != row.action || accepted != row.accepted {
            wrong.push(format!(
                "{}: want {:?} with {} accepted, got {got:?} with {accepted} accepted ({result:?})",
                row.case, row.action, row.accepted
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
