//! An in-memory job store for fast tests, benches and fuzzing (feature `test-store`): the same
//! items DynamoDB would hold, decoded by the same code, with reads counted and failures on demand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::Value;

use super::batch::{fetch_all, Round};
use super::{
    decode_record, JobStore, ListPage, ListQuery, Projection, StartKey, StoreError, StoredJob,
};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Items by job id, behind a lock so that a test can change a record while a request reads it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: RwLock<HashMap<String, Item>>,
    reads: AtomicUsize,
    /// Errors the next reads answer with, one each, before the items are read again.
    failures: Mutex<Vec<StoreError>>,
    /// Batch rounds that leave every key unprocessed, as a throttled `BatchGetItem` does.
    unprocessed: Mutex<Unprocessed>,
}

/// How many batch rounds leave their keys unprocessed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Unprocessed {
    #[default]
    None,
    /// The next this many rounds.
    Rounds(usize),
    Always,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `items` in DynamoDB's typed JSON (`[{"jobId": {"S": "…"}, …}, …]`, the
    /// format of `dev/sample-jobs.json` and `tests/fixtures/records.json`), keyed by `key`.
    pub fn from_typed_json(json: &str, key: &str) -> Result<Self, String> {
        let items: Vec<Value> = serde_json::from_str(json).map_err(|error| error.to_string())?;
        let store = Self::new();
        for item in items {
            store.put(key, typed_item(&item)?)?;
        }
        Ok(store)
    }

    /// Stores `item` under the string value of its `key` attribute, replacing any other.
    pub fn put(&self, key: &str, item: Item) -> Result<(), String> {
        let Some(AttributeValue::S(id)) = item.get(key) else {
            return Err(format!("the item has no string {key}"));
        };
        self.write().insert(id.clone(), item);
        Ok(())
    }

    /// Changes one attribute of a stored item (as a worker's `UpdateItem` would).
    pub fn set(&self, job_id: &str, attribute: &str, value: AttributeValue) {
        if let Some(item) = self.write().get_mut(job_id) {
            item.insert(attribute.to_string(), value);
        }
    }

    pub fn remove(&self, job_id: &str) {
        self.write().remove(job_id);
    }

    /// The next `errors.len()` reads fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = StoreError>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut errors: Vec<_> = errors.into_iter().collect();
        errors.reverse();
        errors.extend(failures.drain(..));
        *failures = errors;
    }

    /// Batch rounds from now on leave their keys unprocessed, as `unprocessed` says.
    pub fn leave_unprocessed(&self, unprocessed: Unprocessed) {
        *self.unprocessed.lock().unwrap_or_else(|p| p.into_inner()) = unprocessed;
    }

    /// Reads made so far (a `GetItem`, a `Query`, a `BatchGetItem` round), failed ones included.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// One read: counted, and the next injected failure if there is one.
    fn begin_read(&self) -> Result<(), StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        match self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// True when this batch round leaves its keys unprocessed (counting down `Rounds`).
    fn round_unprocessed(&self) -> bool {
        let mut unprocessed = self.unprocessed.lock().unwrap_or_else(|p| p.into_inner());
        match *unprocessed {
            Unprocessed::None => false,
            Unprocessed::Always => true,
            Unprocessed::Rounds(left) => {
                *unprocessed = if left > 1 {
                    Unprocessed::Rounds(left - 1)
                } else {
                    Unprocessed::None
                };
                true
            }
        }
    }

    fn batch_round(&self, job_ids: Vec<String>) -> Result<Round, StoreError> {
        self.begin_read()?;
        if self.round_unprocessed() {
            return Ok(Round {
                found: Vec::new(),
                unprocessed: job_ids,
            });
        }
        let items = self.items.read().unwrap_or_else(|p| p.into_inner());
        let found = job_ids
            .into_iter()
            .filter_map(|id| {
                let item = items.get(&id)?.clone();
                Some((id, decode_record(item).summary_only()))
            })
            .collect();
        Ok(Round {
            found,
            unprocessed: Vec::new(),
        })
    }

    /// The index as DynamoDB keeps it: the user's items that have a string `user_id` and a
    /// number `created_at`, newest first (ties by job id, as the table key breaks them).
    fn query_page(&self, query: &ListQuery<'_>) -> ListPage {
        let items = self.items.read().unwrap_or_else(|p| p.into_inner());
        let mut entries: Vec<(f64, &String, &Item)> = items
            .iter()
            .filter_map(|(id, item)| {
                let owner = matches!(item.get("user_id"), Some(AttributeValue::S(user)) if user == query.user_id);
                let created_at = match item.get("created_at") {
                    Some(AttributeValue::N(number)) => number.parse::<f64>().ok()?,
                    _ => return None,
                };
                owner.then_some((created_at, id, item))
            })
            .collect();
        entries.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1)));
        let after_start = |(created_at, id, _): &&(f64, &String, &Item)| match &query.start {
            None => true,
            Some(start) => {
                let start_at = start.created_at.parse::<f64>().unwrap_or(f64::INFINITY);
                *created_at < start_at
                    || (*created_at == start_at && id.as_str() < start.job_id.as_str())
            }
        };
        let evaluated: Vec<_> = entries
            .iter()
            .filter(after_start)
            .take(query.limit as usize)
            .collect();
        // DynamoDB reports a next page whenever the limit was reached, even with none left.
        let next = (evaluated.len() == query.limit as usize)
            .then(|| evaluated.last())
            .flatten()
            .and_then(|(_, id, item)| match item.get("created_at") {
                Some(AttributeValue::N(created_at)) => Some(StartKey {
                    job_id: (*id).clone(),
                    created_at: created_at.clone(),
                }),
                _ => None,
            });
        let jobs = evaluated
            .iter()
            .filter(|(_, _, item)| match query.state {
                None => true,
                Some(state) => {
                    matches!(item.get("state"), Some(AttributeValue::S(s)) if s == state)
                }
            })
            .map(|(_, id, item)| ((*id).clone(), decode_record((*item).clone()).summary_only()))
            .collect();
        ListPage {
            jobs,
            next,
            scanned: evaluated.len(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Item>> {
        self.items.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl JobStore for MemoryStore {
    async fn get_job(
        &self,
        job_id: &str,
        projection: Projection,
    ) -> Result<Option<StoredJob>, StoreError> {
        self.begin_read()?;
        // Projected as DynamoDB would, so that a route whose projection lacks an attribute it
        // shows fails here as it would on the table.
        let attributes = projection.attributes();
        let item = self
            .items
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(job_id)
            .map(|item| {
                item.iter()
                    .filter(|(name, _)| attributes.contains(&name.as_str()))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect()
            });
        Ok(item.map(decode_record))
    }

    async fn query_by_user(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        self.begin_read()?;
        Ok(self.query_page(query))
    }

    async fn get_many(&self, job_ids: &[String]) -> Result<HashMap<String, StoredJob>, StoreError> {
        fetch_all(job_ids, |ids| std::future::ready(self.batch_round(ids))).await
    }
}

/// One item in DynamoDB's typed JSON.
pub fn typed_item(value: &Value) -> Result<Item, String> {
    let object = value.as_object().ok_or("an item must be a JSON object")?;
    object
        .iter()
        .map(|(name, value)| Ok((name.clone(), typed_value(value)?)))
        .collect()
}

/// One attribute value in DynamoDB's typed JSON (`{"S": "…"}`, `{"M": {…}}`, …); binary is base64.
pub fn typed_value<'a>(value: &'a Value) -> Result<AttributeValue, String> {
    let object = value.as_object().filter(|object| object.len() == 1);
    let Some((kind, payload)) = object.and_then(|object| object.iter().next()) else {
        return Err(format!("not a typed attribute value: {value}"));
    };
    let text = |payload: &Value| {
        payload
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{kind} needs a string"))
    };
    let list = |payload: &'a Value| -> Result<&'a Vec<Value>, String> {
        payload
            .as_array()
            .ok_or_else(|| format!("{kind} needs a list"))
    };
    let blob = |payload: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(text(payload)?)
            .map(Blob::new)
            .map_err(|error| error.to_string())
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text(payload)?),
        "N" => AttributeValue::N(text(payload)?),
        "BOOL" => AttributeValue::Bool(payload.as_bool().ok_or("BOOL needs a bool")?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(payload)?),
        "M" => AttributeValue::M(typed_item(payload)?),
        "L" => AttributeValue::L(
            list(payload)?
                .iter()
                .map(typed_value)
                .collect::<Result<_, _>>()?,
        ),
        "SS" => AttributeValue::Ss(list(payload)?.iter().map(text).collect::<Result<_, _>>()?),
        "NS" => AttributeValue::Ns(list(payload)?.iter().map(text).collect::<Result<_, _>>()?),
        "BS" => AttributeValue::Bs(list(payload)?.iter().map(blob).collect::<Result<_, _>>()?),
        other => return Err(format!("unknown attribute type {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_the_sample_jobs_and_fails_on_demand() {
        let store =
            MemoryStore::from_typed_json(include_str!("../../dev/sample-jobs.json"), "jobId")
                .unwrap();
        let job = store
            .get_job("e6b6634c-e07c-43f0-88b3-9516590aad77", Projection::Job)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.owner(), Some("09b4e414-4f70-4226-9ee8-f9e815fc2539"));
        assert_eq!(job.decode().await.unwrap().state, "completed");
        assert!(store
            .get_job("missing", Projection::Job)
            .await
            .unwrap()
            .is_none());

        store.fail_next([
            StoreError::Unavailable("a".into()),
            StoreError::Failed("b".into()),
        ]);
        assert_eq!(
            store.get_job("missing", Projection::Job).await,
            Err(StoreError::Unavailable("a".into()))
        );
        assert_eq!(
            store.get_job("missing", Projection::Job).await,
            Err(StoreError::Failed("b".into()))
        );
        assert!(store.get_job("missing", Projection::Job).await.is_ok());
        assert_eq!(store.reads(), 5);
    }

    #[test]
    fn every_typed_value_is_read() {
        let item = typed_item(&serde_json::json!({
            "s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "aGk="}, "bool": {"BOOL": false},
            "null": {"NULL": true}, "l": {"L": [{"S": "a"}]}, "m": {"M": {"k": {"N": "1"}}},
            "ss": {"SS": ["a"]}, "ns": {"NS": ["1"]}, "bs": {"BS": ["aGk="]}
        }))
        .unwrap();
        assert_eq!(item["b"], AttributeValue::B(Blob::new(b"hi".to_vec())));
        assert_eq!(
            item["l"],
            AttributeValue::L(vec![AttributeValue::S("a".into())])
        );
        assert_eq!(item.len(), 10);
        assert!(typed_value(&serde_json::json!({"X": 1})).is_err());
        assert!(typed_value(&serde_json::json!({"S": "a", "N": "1"})).is_err());
    }
}
