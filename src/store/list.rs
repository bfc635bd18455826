//! The caller's jobs from the user index: one `Query` per page, newest first, and the start key
//! that carries a listing from one page to the next (docs/API.md#get-jobs--the-callers-jobs).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::dynamo::{classify, DynamoStore};
use super::{decode_record, StoreError, StoredJob};

/// One page to read: whose jobs, which state only, how many index entries at most, from where.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery<'a> {
    /// The partition read. It always comes from the caller's identity, never from a page token.
    pub user_id: &'a str,
    pub state: Option<&'a str>,
    /// DynamoDB's `Limit`: index entries evaluated, before the `state` filter.
    pub limit: u32,
    pub start: Option<StartKey>,
}

/// Where a page ends within one user's partition of the index: the item's table key and its
/// `created_at` (the user id is not part of it: it is the caller's, always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartKey {
    pub job_id: String,
    /// `created_at` exactly as DynamoDB wrote the number.
    pub created_at: String,
}

/// One page: the records in index order, each with its job id, and where the next page starts
/// (`None` at the end).
#[derive(Debug, Default)]
pub struct ListPage {
    pub jobs: Vec<(String, StoredJob)>,
    pub next: Option<StartKey>,
    /// Index entries DynamoDB read for this page (before the `state` filter).
    pub scanned: usize,
}

/// The attributes a summary needs; the index projects them (`INCLUDE`), the table key comes
/// with every index. `state` is a reserved word.
pub(super) const SUMMARY_PROJECTION: &str =
    "#key, user_id, expires_at, #state, target, failedReason, progress, attempts, created_at, updated_at";

impl DynamoStore {
    pub(super) async fn query_page(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let index = self
            .user_index
            .as_deref()
            .ok_or_else(|| StoreError::Failed("JOBS_USER_INDEX is not configured".into()))?;
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("user_id = :user")
            .expression_attribute_values(":user", AttributeValue::S(query.user_id.to_string()))
            .projection_expression(SUMMARY_PROJECTION)
            .expression_attribute_names("#key", &self.key)
            .expression_attribute_names("#state", "state")
            .scan_index_forward(false)
            .limit(i32::try_from(query.limit).unwrap_or(i32::MAX));
        if let Some(state) = query.state {
            // Applied by DynamoDB after the Limit: a page may hold fewer jobs than asked for.
            request = request
                .filter_expression("#state = :state")
                .expression_attribute_values(":state", AttributeValue::S(state.to_string()));
        }
        if let Some(start) = &query.start {
            request = request.set_exclusive_start_key(Some(start_key_item(
                &self.key,
                query.user_id,
                start,
            )));
        }
        let output = request.send().await.map_err(classify)?;
        let scanned = usize::try_from(output.scanned_count()).unwrap_or_default();
        let jobs = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| keyed_record(&self.key, item))
            .collect();
        let next = output
            .last_evaluated_key
            .and_then(|key| start_key_of(&self.key, &key));
        Ok(ListPage {
            jobs,
            next,
            scanned,
        })
    }
}

/// The `ExclusiveStartKey` of a page: the caller's partition, always, with the token's position.
pub(super) fn start_key_item(
    table_key: &str,
    user_id: &str,
    start: &StartKey,
) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            table_key.to_string(),
            AttributeValue::S(start.job_id.clone()),
        ),
        (
            "user_id".to_string(),
            AttributeValue::S(user_id.to_string()),
        ),
        (
            "created_at".to_string(),
            AttributeValue::N(start.created_at.clone()),
        ),
    ])
}

/// `LastEvaluatedKey` → where the next page starts. A key without these two attributes cannot
/// come from this index; it ends the listing rather than failing it.
pub(super) fn start_key_of(
    table_key: &str,
    key: &HashMap<String, AttributeValue>,
) -> Option<StartKey> {
    match (key.get(table_key), key.get("created_at")) {
        (Some(AttributeValue::S(job_id)), Some(AttributeValue::N(created_at))) => Some(StartKey {
            job_id: job_id.clone(),
            created_at: created_at.clone(),
        }),
        _ => {
            tracing::warn!("LastEvaluatedKey without the index's key attributes: listing ends");
            None
        }
    }
}

/// An item → its job id and its record, summary-only. Every item of a table has its key.
pub(super) fn keyed_record(
    table_key: &str,
    mut item: HashMap<String, AttributeValue>,
) -> Option<(String, StoredJob)> {
    match item.remove(table_key) {
        Some(AttributeValue::S(job_id)) => Some((job_id, decode_record(item).summary_only())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_key_always_names_the_callers_partition() {
        let start = StartKey {
            job_id: "someone-elses-job".into(),
            created_at: "1796000000000".into(),
        };
        let key = start_key_item("jobId", "caller", &start);
        assert_eq!(key["user_id"], AttributeValue::S("caller".into()));
        assert_eq!(key["jobId"], AttributeValue::S("someone-elses-job".into()));
        assert_eq!(key["created_at"], AttributeValue::N("1796000000000".into()));
        assert_eq!(key.len(), 3);
        let back = start_key_of("jobId", &key).expect("a start key");
        assert_eq!(back, start);
        assert_eq!(
            start_key_of("id", &key),
            None,
            "another table key ends the listing"
        );
    }
}
