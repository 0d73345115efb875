//! Rendering a job's template at enqueue: the template is read from Redis (the version the
//! job names, or the newest) and rendered into the job by `mailroom-jobs`, so an error (a
//! missing variable, an unknown template) is refused before anything is queued, and every
//! retry of the job sends the same bytes.

use mailroom_jobs::{EmailJob, ValidationError};
use mailroom_queue::{Queue, QueueError};

/// Why a job's template could not be rendered.
#[derive(Debug)]
pub(crate) enum RenderFailure {
    /// The job is at fault; the error names the field.
    Invalid(ValidationError),
    /// Redis failed.
    Queue(QueueError),
}

/// Renders `job`'s template into it, if it names one that is not rendered yet.
pub(crate) async fn render_template(
    queue: &Queue,
    job: &mut EmailJob,
) -> Result<(), RenderFailure> {
    let Some(reference) = job.v1().template.as_ref().filter(|t| !t.rendered) else {
        return Ok(());
    };
    mailroom_jobs::check_template_name(&reference.name)
        .map_err(|m| RenderFailure::Invalid(ValidationError::new("template.name", m)))?;
    let stored = queue
        .template(&reference.name, reference.version)
        .await
        .map_err(RenderFailure::Queue)?
        .ok_or_else(|| {
            let which = reference
                .version
                .map_or_else(String::new, |v| format!(" version {v}"));
            RenderFailure::Invalid(ValidationError::new(
                "template.name",
                format!("no template {:?}{which}", reference.name),
            ))
        })?;
    job.apply_template(&stored.template, stored.version)
        .map_err(RenderFailure::Invalid)
}
