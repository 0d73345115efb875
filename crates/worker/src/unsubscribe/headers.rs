//! The list headers of one message: `List-Id: <ID>` (RFC 2919), `List-Unsubscribe` with the
//! one-click link (when `[unsubscribe]` is configured) and the job's `mailto:` link (RFC
//! 2369), and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` with the link (RFC 8058).
//! They are added when the worker renders the message, so each link is sealed for the
//! message's one recipient (a job with a list has exactly one; validation sees to it).

use chrono::{DateTime, Utc};
use mailroom_jobs::EmailJob;

use super::Unsubscriber;

/// The job with its list headers, replacing any of the same names (ignoring case) the job
/// set itself; `None` when the job has no list.
#[must_use]
pub fn with_list_headers(
    job: &EmailJob,
    unsubscribe: Option<&Unsubscriber>,
    now: DateTime<Utc>,
) -> Option<EmailJob> {
    let v1 = job.v1();
    let list = v1.list.as_ref()?;
    let mut links = Vec::new();
    let one_click = unsubscribe.and_then(|u| {
        let recipient = v1.recipients().next()?;
        Some(u.link(
            &mailroom_queue::normalize_suppressed(recipient.email()),
            &list.id,
            v1.from.email(),
            now,
        ))
    });
    links.extend(one_click.iter().map(|l| format!("<{l}>")));
    links.extend(list.unsubscribe.iter().map(|m| format!("<{m}>")));
    let mut added = vec![("List-Id", format!("<{}>", list.id))];
    if !links.is_empty() {
        added.push(("List-Unsubscribe", links.join(", ")));
    }
    if one_click.is_some() {
        added.push((
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    }
    let mut out = job.clone();
    let headers = &mut out.v1_mut().headers;
    for (name, value) in added {
        headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        headers.insert(name.to_owned(), value);
    }
    Some(out)
}
