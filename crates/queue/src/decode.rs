//! Decoding a fetch round's payloads into jobs. Decoding is most of a round's CPU, and a round
//! runs on one task: a large round hands half of its payloads to a task of its own, so the
//! runtime's other thread decodes them meanwhile.

use mailroom_jobs::{EmailJob, JobId};

use crate::start::utf8;

/// A round with at least this many payloads is decoded on two tasks.
const SPLIT_FROM: usize = 32;

/// A payload to decode: the job id its record is stored under, and the bytes.
pub(crate) type Pending = (String, Option<Vec<u8>>);

/// What decoding a payload gave: the job and its id, or why it cannot run.
/// The job is boxed: it is about 600 bytes, and a job moves several times on its way from the
/// fetch to its handler (into its task, the backend's buffer, the worker's stream).
pub(crate) type Decoded = Result<(JobId, Box<EmailJob>), String>;

/// Decodes `payload`, stored under `id`. The id the record is stored under is the job's id: a
/// payload without one takes it, one that disagrees is refused (so every delivery renders
/// one Message-ID).
pub(crate) fn decode(id: &str, payload: Option<Vec<u8>>) -> Decoded {
    let payload = utf8(payload.unwrap_or_default())?;
    let job_id = id
        .parse::<JobId>()
        .map_err(|_| format!("malformed job id {id:?}"))?;
    EmailJob::from_record(payload.as_bytes(), job_id)
        .map(|job| (job_id, Box::new(job)))
        .map_err(|e| format!("malformed payload: {e}"))
}

/// Decodes every payload, in order; from [`SPLIT_FROM`] on, the second half on a task of its
/// own.
pub(crate) async fn decode_all(mut pending: Vec<Pending>) -> Vec<Decoded> {
    if pending.len() < SPLIT_FROM {
        return pending.into_iter().map(|(id, p)| decode(&id, p)).collect();
    }
    let second = pending.split_off(pending.len() / 2);
    let aside = tokio::spawn(async move {
        second
            .into_iter()
            .map(|(id, p)| decode(&id, p))
            .collect::<Vec<_>>()
    });
    let mut decoded: Vec<Decoded> = pending.into_iter().map(|(id, p)| decode(&id, p)).collect();
    match aside.await {
        Ok(rest) => decoded.extend(rest),
        // Decoding does not panic on any input; should it, the worker ends with the panic.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(id: &str, subject: &str) -> Vec<u8> {
        serde_json::json!({
            "version": "v1", "id": id, "from": "a@example.com", "to": ["b@example.org"],
            "subject": subject, "text": "hi",
        })
        .to_string()
        .into_bytes()
    }

    #[tokio::test]
    async fn a_large_round_decodes_in_order_with_each_bad_payload_on_its_own() {
        let ids: Vec<String> = (0..80).map(|_| JobId::new().to_string()).collect();
        let pending: Vec<Pending> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| match i {
                5 => (id.clone(), Some(vec![0xff, 0xfe])),
                70 => (id.clone(), Some(b"{not json".to_vec())),
                _ => (id.clone(), Some(payload(id, &format!("job {i}")))),
            })
            .collect();
        let decoded = decode_all(pending).await;
        assert_eq!(decoded.len(), 80);
        for (i, (id, d)) in ids.iter().zip(&decoded).enumerate() {
            match i {
                5 => assert!(d.as_ref().unwrap_err().contains("not UTF-8"), "{d:?}"),
                70 => assert!(
                    d.as_ref().unwrap_err().contains("malformed payload"),
                    "{d:?}"
                ),
                _ => {
                    let (job_id, job) = d.as_ref().expect("decodes");
                    assert_eq!(job_id.to_string(), *id);
                    let EmailJob::V1(v1) = &**job else {
                        panic!("v1")
                    };
                    assert_eq!(v1.subject, format!("job {i}"));
                }
            }
        }
    }

    #[test]
    fn a_payload_under_another_id_is_refused() {
        let stored = JobId::new().to_string();
        let other = JobId::new().to_string();
        let got = decode(&stored, Some(payload(&other, "s")));
        assert!(got.is_err(), "{got:?}");
    }
}
