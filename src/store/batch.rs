//! Many records by id: `BatchGetItem` in chunks of at most 100 keys (DynamoDB's limit), and the
//! keys DynamoDB leaves unprocessed retried with backoff (docs/API.md#post-jobsbatch--many-jobs-by-id).
//!
//! The retry loop is shared by every store (`fetch_all`), so the in-memory store's unprocessed
//! keys exercise the same code as DynamoDB's.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::dynamo::{classify, DynamoStore};
use super::list::{keyed_record, SUMMARY_PROJECTION};
use super::{StoreError, StoredJob};

/// The most keys one `BatchGetItem` may ask for.
pub const BATCH_CHUNK: usize = 100;
/// Rounds of retries for unprocessed keys after the first; then the whole read is unavailable.
/// The backoff doubles from `FIRST_BACKOFF`: 25 + 50 + … + 800 ms ≈ 1.6 s at most, and the
/// caller's deadline (the app's timeout) cuts it shorter still.
pub const UNPROCESSED_RETRIES: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(25);

/// What one round returned: the records found, and the ids DynamoDB did not get to.
pub(super) struct Round {
    pub found: Vec<(String, StoredJob)>,
    pub unprocessed: Vec<String>,
}

/// Reads every id through `round` (one call per chunk of at most `BATCH_CHUNK`), retrying
/// unprocessed ids with backoff; ids still unprocessed after the retries → `Unavailable`.
pub(super) async fn fetch_all<F, Fut>(
    job_ids: &[String],
    round: F,
) -> Result<HashMap<String, StoredJob>, StoreError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Round, StoreError>>,
{
    let mut found = HashMap::with_capacity(job_ids.len());
    for chunk in job_ids.chunks(BATCH_CHUNK) {
        let mut pending = chunk.to_vec();
        let mut retries = 0;
        loop {
            let answer = round(pending).await?;
            found.extend(answer.found);
            pending = answer.unprocessed;
            if pending.is_empty() {
                break;
            }
            if retries == UNPROCESSED_RETRIES {
                return Err(StoreError::Unavailable(format!(
                    "BatchGetItem left {} keys unprocessed after {retries} retries",
                    pending.len()
                )));
            }
            tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(retries)).await;
            retries += 1;
        }
    }
    Ok(found)
}

impl DynamoStore {
    pub(super) async fn batch_get(
        &self,
        job_ids: &[String],
    ) -> Result<HashMap<String, StoredJob>, StoreError> {
        fetch_all(job_ids, |ids| self.batch_round(ids)).await
    }

    /// One `BatchGetItem` of at most `BATCH_CHUNK` keys.
    async fn batch_round(&self, job_ids: Vec<String>) -> Result<Round, StoreError> {
        let keys = job_ids
            .into_iter()
            .map(|id| HashMap::from([(self.key.clone(), AttributeValue::S(id))]))
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(self.consistent_read)
            .projection_expression(SUMMARY_PROJECTION)
            .expression_attribute_names("#key", &self.key)
            .expression_attribute_names("#state", "state")
            .build()
            .map_err(|error| StoreError::Failed(format!("BatchGetItem request: {error}")))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(classify)?;
        let found = output
            .responses
            .and_then(|mut tables| tables.remove(&self.table))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| keyed_record(&self.key, item))
            .collect();
        let unprocessed = output
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(&self.table))
            .map(|keys| {
                keys.keys
                    .into_iter()
                    .filter_map(|mut key| match key.remove(&self.key) {
                        Some(AttributeValue::S(id)) => Some(id),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Round { found, unprocessed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("job-{i}")).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_of_a_hundred_and_unprocessed_keys_retried() {
        let calls = AtomicUsize::new(0);
        let sizes = std::sync::Mutex::new(Vec::new());
        let found = fetch_all(&ids(250), |chunk| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            sizes.lock().unwrap().push(chunk.len());
            async move {
                // The first round of each chunk leaves its last key unprocessed.
                let (done, left) = if call.is_multiple_of(2) {
                    let (done, left) = chunk.split_at(chunk.len() - 1);
                    (done.to_vec(), left.to_vec())
                } else {
                    (chunk, Vec::new())
                };
                Ok(Round {
                    found: done
                        .into_iter()
                        .map(|id| (id, super::super::decode_record(HashMap::new())))
                        .collect(),
                    unprocessed: left,
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(found.len(), 250);
        assert_eq!(*sizes.lock().unwrap(), vec![100, 1, 100, 1, 50, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_left_unprocessed_every_time_make_the_read_unavailable() {
        let calls = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let result = fetch_all(&ids(3), |chunk| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(Round {
                    found: Vec::new(),
                    unprocessed: chunk,
                })
            }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1 + UNPROCESSED_RETRIES as usize
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(25 + 50 + 100 + 200 + 400 + 800)
        );
    }
}
