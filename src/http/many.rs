//! The inputs of the many-jobs routes: `GET /jobs` query parameters and the `POST /jobs/batch`
//! body, each with the 400 that names what is wrong (docs/API.md#get-jobs--the-callers-jobs,
//! docs/API.md#post-jobsbatch--many-jobs-by-id).

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::input::validate_id;
use super::Request;
use crate::error::ApiError;

pub const PAGE_SIZE_DEFAULT: u32 = 20;
pub const PAGE_SIZE_MAX: u32 = 100;
/// The most ids one batch may name.
pub const BATCH_MAX: usize = 100;

/// `GET /jobs` parameters, checked for shape only: the page token is judged once the caller is
/// known (it is bound to them).
#[derive(Debug, PartialEq, Eq)]
pub struct ListParams<'a> {
    pub page_size: u32,
    pub page_token: Option<&'a str>,
    pub state: Option<&'a str>,
}

impl<'a> ListParams<'a> {
    pub fn from_request(request: &'a Request) -> Result<Self, ApiError> {
        let page_size = match once(request, "page_size")? {
            None => PAGE_SIZE_DEFAULT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|size| (1..=PAGE_SIZE_MAX).contains(size))
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(ApiError::invalid(
                    "page_size must be a whole number from 1 to 100",
                ))?,
        };
        let page_token = once(request, "page_token")?;
        if page_token == Some("") {
            return Err(ApiError::invalid("page_token must not be empty"));
        }
        let state = once(request, "state")?;
        if let Some(state) = state {
            validate_id("state", state)?;
        }
        Ok(ListParams {
            page_size,
            page_token,
            state,
        })
    }
}

/// The one value of a query parameter; repeated → 400 naming it.
fn once<'a>(request: &'a Request, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    let mut values = request.query_values(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::InvalidRequest(Cow::Owned(format!(
            "{name} must be given at most once"
        ))));
    }
    Ok(first)
}

/// `{"job_ids": [...]}`: 1..=100 distinct ids, each valid as a body id; in request order.
pub fn batch_ids(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let ids = match body.get("job_ids") {
        Some(Value::Array(ids)) => ids,
        _ => {
            return Err(ApiError::invalid(
                "job_ids is required: an array of 1 to 100 job ids",
            ))
        }
    };
    if ids.is_empty() || ids.len() > BATCH_MAX {
        return Err(ApiError::invalid("job_ids must hold 1 to 100 job ids"));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter()
        .enumerate()
        .map(|(at, id)| {
            let id = id.as_str().ok_or_else(|| {
                ApiError::InvalidRequest(Cow::Owned(format!("job_ids[{at}] must be a string")))
            })?;
            validate_id(&format!("job_ids[{at}]"), id)?;
            if !seen.insert(id) {
                return Err(ApiError::InvalidRequest(Cow::Owned(format!(
                    "job_ids[{at}] repeats an earlier id"
                ))));
            }
            Ok(id.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        serde_json::from_value(json!({ "job_ids": value })).unwrap()
    }

    #[test]
    fn batch_ids_in_order_and_every_refusal_named() {
        assert_eq!(
            batch_ids(&body(json!(["b", "a"]))).unwrap(),
            vec!["b".to_string(), "a".to_string()]
        );
        let hundred: Vec<String> = (0..100).map(|i| format!("j{i}")).collect();
        assert_eq!(batch_ids(&body(json!(hundred))).unwrap().len(), 100);
        let too_many: Vec<String> = (0..101).map(|i| format!("j{i}")).collect();
        for (bad, says) in [
            (json!(too_many), "1 to 100"),
            (json!([]), "1 to 100"),
            (json!("a"), "array"),
            (json!(null), "array"),
            (json!(["a", 1]), "job_ids[1] must be a string"),
            (json!(["a", ""]), "job_ids[1] must not be empty"),
            (json!(["a", "b\n"]), "job_ids[1] must not contain control"),
            (
                json!(["a", "x".repeat(257)]),
                "job_ids[1] must be at most 256",
            ),
            (json!(["a", "b", "a"]), "job_ids[2] repeats"),
        ] {
            let error = batch_ids(&body(bad.clone())).unwrap_err();
            assert_eq!(error.status(), 400);
            assert!(error.message().contains(says), "{bad}: {}", error.message());
        }
        assert!(batch_ids(&Map::new()).is_err());
    }
}
