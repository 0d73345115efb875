//! The outbox transport: one `.eml` file per job, written atomically.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{Delivered, Outgoing, SendError, Transport};
use crate::config::TransportKind;

/// Writes each message to `<dir>/<job id>.eml`: first to `<dir>/.<job id>.eml.tmp`, then
/// renamed, so a reader never sees half a message. The directory is created if missing. The
/// message id is the file name. Every I/O error is transient.
///
/// A job delivered again after a crash (at-least-once delivery) overwrites its file; that is
/// logged as a warning, so duplicates can be counted.
#[derive(Debug, Clone)]
pub struct OutboxTransport {
    dir: PathBuf,
}

impl OutboxTransport {
    /// An outbox writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory messages are written to.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Transport for OutboxTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Outbox
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        let dir = self.dir.clone();
        let name = format!("{}.eml", msg.job_id);
        let raw = msg.raw.clone();
        async move {
            let file = name.clone();
            let written = tokio::task::spawn_blocking(move || write_atomically(&dir, &file, &raw))
                .await
                .map_err(|e| SendError::transient(format!("outbox writer stopped: {e}")))?;
            match written {
                Ok(replaced) => {
                    if replaced {
                        tracing::warn!(
                            job = %msg.job_id,
                            file = %name,
                            "outbox already held this job: written again (delivered twice)"
                        );
                    }
                    Ok(Delivered {
                        transport_id: name,
                        thread_id: msg.thread_id.clone(),
                    })
                }
                Err(e) => Err(SendError::transient(format!("outbox: writing {name}: {e}"))),
            }
        }
        .boxed()
    }
}

/// Writes `bytes` to `dir/name` through a temporary file; returns whether the file existed.
///
/// The job is recorded as sent once this returns, so the file must survive a power loss:
/// the temporary file's contents are flushed before the rename (else the rename can reach the
/// disk before the data, leaving an empty or partial `.eml` under the final name), and the
/// directory is flushed after it. A rename only changes the directory's entries, and those
/// reach the disk when the directory itself is synced: without that, a crash can bring back
/// the directory as it was before, with the temporary file and without the message, although
/// Redis already says the job was sent.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<bool> {
    fs::create_dir_all(dir)?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let existed = target.exists();
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, &target)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Verdict;
    use mailroom_jobs::{Address, JobId};

    fn outgoing(raw: &[u8]) -> Outgoing {
        Outgoing {
            job_id: JobId::new(),
            from: Address::parse("a@example.com").unwrap(),
            raw: raw.to_vec(),
            message_id: "<x@example.com>".into(),
            thread_id: None,
            sent_as: None,
        }
    }

    #[tokio::test]
    async fn writes_the_file_named_by_the_job_id_creating_the_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/outbox");
        let outbox = OutboxTransport::new(&dir);
        let msg = outgoing(b"Subject: hi\r\n\r\nbody\r\n");
        let delivered = outbox.send(&msg).await.unwrap();
        assert_eq!(delivered.transport_id, format!("{}.eml", msg.job_id));
        assert_eq!(
            fs::read(dir.join(&delivered.transport_id)).unwrap(),
            msg.raw
        );
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left behind: {names:?}");
    }

    #[test]
    fn a_rewrite_replaces_the_whole_file_and_says_it_existed() {
        let tmp = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        assert!(!write_atomically(tmp.path(), "a.eml", &big).unwrap());
        assert_eq!(fs::read(tmp.path().join("a.eml")).unwrap(), big);
        assert!(write_atomically(tmp.path(), "a.eml", b"short").unwrap());
        assert_eq!(fs::read(tmp.path().join("a.eml")).unwrap(), b"short");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.eml"], "no temporary file left behind");
    }

    #[tokio::test]
    async fn an_unwritable_dir_is_a_transient_error() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let outbox = OutboxTransport::new(blocker.join("outbox"));
        let err = outbox.send(&outgoing(b"x")).await.unwrap_err();
        assert_eq!(err.verdict, Verdict::Transient);
        assert!(err.message.contains("outbox"), "{err}");
    }
}
