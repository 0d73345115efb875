//! `mailroom status ID`: where a job is.

use mailroom_queue::JobStatus;

use super::{CliError, CliResult, connect, job_id, table};
use crate::config::Config;

/// Arguments of `mailroom status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The job id printed by `mailroom send`.
    id: String,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `mailroom status`.
pub async fn run(config: &Config, args: StatusArgs) -> CliResult {
    let id = job_id(&args.id)?;
    let queue = connect(config).await?;
    let status = queue.status(id).await.map_err(super::redis)?;
    let Some(status) = status else {
        return Err(CliError::Failed(anyhow::anyhow!("job {id} not found")));
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).map_err(anyhow::Error::from)?
        );
    } else {
        print!("{}", describe(&status));
    }
    Ok(())
}

/// A job status as aligned `key  value` lines; absent values are left out.
pub fn describe(s: &JobStatus) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("job", s.id.to_string()),
        ("state", s.state.to_string()),
        ("attempts", s.attempts.to_string()),
        ("deliveries", s.deliveries.to_string()),
        ("created", table::time(s.created_at)),
        ("updated", table::time(s.updated_at)),
    ];
    let optional = [
        ("due", s.due_at.map(table::time)),
        ("started", s.started_at.map(table::time)),
        ("finished", s.finished_at.map(table::time)),
        ("expires", s.expires_at.map(table::time)),
        ("transport id", s.transport_id.clone()),
        (
            "duplicate ids",
            (!s.duplicate_ids.is_empty()).then(|| s.duplicate_ids.join(", ")),
        ),
        ("thread id", s.thread_id.clone()),
        ("sent as", s.sent_as.clone()),
        ("last error", s.last_error.clone()),
        ("tags", (!s.tags.is_empty()).then(|| s.tags.join(", "))),
    ];
    rows.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    for x in &s.suppressed {
        rows.push((
            "suppressed",
            format!(
                "{} ({}): {} since {}",
                x.address,
                x.scope,
                x.reason,
                table::time(x.at)
            ),
        ));
    }
    for b in &s.bounced {
        let kind = if b.is_hard() { "hard" } else { "soft" };
        rows.push((
            "bounced",
            format!(
                "{} {} ({kind}, {}): {}",
                b.recipient,
                b.status,
                table::time(b.at),
                b.diagnostic
            ),
        ));
    }
    for (k, v) in &s.metadata {
        rows.push(("meta", format!("{k}={v}")));
    }
    table::pairs(&rows)
}
