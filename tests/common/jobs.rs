//! Jobs for the end-to-end tests: a valid job, and enqueueing many in batches.

use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::Queue;

/// A valid job to `to`.
pub fn job(from: &str, to: &str, subject: &str) -> EmailJob {
    let json = serde_json::json!({
        "version": "v1", "from": from, "to": [to], "subject": subject, "text": "Hello there",
    });
    EmailJob::from_json(json.to_string().as_bytes()).expect("valid job")
}

/// Enqueues `n` valid jobs in batches; returns their ids.
pub async fn enqueue_jobs(queue: &Queue, n: usize) -> Vec<JobId> {
    let jobs: Vec<EmailJob> = (0..n)
        .map(|i| {
            job(
                "noreply@example.com",
                &format!("user{i}@example.org"),
                "Batch",
            )
        })
        .collect();
    enqueue_all(queue, &jobs).await
}

/// Enqueues `jobs` in batches of 1,000; returns their ids.
pub async fn enqueue_all(queue: &Queue, jobs: &[EmailJob]) -> Vec<JobId> {
    let mut ids = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(1000) {
        ids.extend(
            queue
                .enqueue_many(chunk)
                .await
                .expect("enqueue")
                .into_iter()
                .map(|e| e.id),
        );
    }
    ids
}
