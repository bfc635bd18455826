//! DynamoDB item → `JobRecord`, following the record layout of API.md §1.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Number, Value};

use crate::jobs::{CorruptAttribute, Job, JobRecord};

/// DynamoDB item → record, following the layout of API.md §1.
pub fn decode_record(mut item: HashMap<String, AttributeValue>) -> JobRecord {
    let owner = match item.remove("user_id") {
        Some(AttributeValue::S(owner)) => Some(owner),
        _ => None,
    };
    JobRecord {
        owner,
        content: decode_job(item),
    }
}

fn decode_job(mut item: HashMap<String, AttributeValue>) -> Result<Job, CorruptAttribute> {
    let state = match item.remove("state") {
        Some(AttributeValue::S(state)) => state,
        _ => return Err("state"),
    };
    let returnvalue = match item.remove("returnvalue") {
        None | Some(AttributeValue::Null(_)) => Value::Null,
        Some(AttributeValue::S(text)) => json_text(text),
        Some(map @ AttributeValue::M(_)) => to_json(map),
        Some(_) => return Err("returnvalue"),
    };
    let stacktrace = match item.remove("stacktrace") {
        None | Some(AttributeValue::Null(_)) => Value::Array(Vec::new()),
        Some(AttributeValue::S(text)) => json_text(text),
        Some(list @ AttributeValue::L(_)) => to_json(list),
        Some(_) => return Err("stacktrace"),
    };
    Ok(Job {
        state,
        returnvalue,
        failed_reason: optional_string(item.remove("failedReason")).ok_or("failedReason")?,
        stacktrace,
        target: optional_string(item.remove("target")).ok_or("target")?,
    })
}

/// Absent or NULL → `Some(None)`; a string → `Some(Some(s))`; any other type → `None`.
fn optional_string(value: Option<AttributeValue>) -> Option<Option<String>> {
    match value {
        None | Some(AttributeValue::Null(_)) => Some(None),
        Some(AttributeValue::S(text)) => Some(Some(text)),
        Some(_) => None,
    }
}

/// Workers sometimes store JSON as text; text that is not JSON is returned as it is.
fn json_text(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// AttributeValue → JSON. Written out rather than through `serde_dynamo` because numbers must
/// keep every digit as stored (`serde_dynamo` goes through f64/i64) and binary must become
/// base64 text.
fn to_json(value: AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => Value::String(text),
        AttributeValue::N(number) => json_number(number),
        AttributeValue::Bool(flag) => Value::Bool(flag),
        AttributeValue::M(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, to_json(value)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.into_iter().map(to_json).collect()),
        AttributeValue::Ss(strings) => {
            Value::Array(strings.into_iter().map(Value::String).collect())
        }
        AttributeValue::Ns(numbers) => Value::Array(numbers.into_iter().map(json_number).collect()),
        AttributeValue::B(blob) => Value::String(base64_text(blob.as_ref())),
        AttributeValue::Bs(blobs) => Value::Array(
            blobs
                .iter()
                .map(|blob| Value::String(base64_text(blob.as_ref())))
                .collect(),
        ),
        // NULL, and any type a newer DynamoDB may add.
        _ => Value::Null,
    }
}

/// With serde_json's `arbitrary_precision`, the digits are kept exactly as DynamoDB stored them.
fn json_number(number: String) -> Value {
    match number.parse::<Number>() {
        Ok(parsed) => Value::Number(parsed),
        Err(_) => Value::String(number),
    }
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use serde_json::json;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.to_string())
    }

    fn item(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn numbers_keep_every_digit() {
        for digits in [
            "202",
            "12345678901234567",
            "0.1000000000000000055511151231257827",
            "-5",
            "1e+2",
        ] {
            assert_eq!(serde_json::to_string(&to_json(n(digits))).unwrap(), digits);
        }
        // Text DynamoDB would never store is passed on as text rather than lost.
        assert_eq!(to_json(n("+.5")), Value::String("+.5".into()));
    }

    #[test]
    fn every_attribute_type_maps_to_json() {
        let value = to_json(AttributeValue::M(item(vec![
            ("s", s("x")),
            ("bool", AttributeValue::Bool(true)),
            ("null", AttributeValue::Null(true)),
            ("list", AttributeValue::L(vec![n("1"), s("two")])),
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2.5".into()])),
            ("b", AttributeValue::B(Blob::new(b"hi".to_vec()))),
            ("bs", AttributeValue::Bs(vec![Blob::new(b"hi".to_vec())])),
        ])));
        assert_eq!(
            value,
            json!({"s": "x", "bool": true, "null": null, "list": [1, "two"], "ss": ["a", "b"],
                   "ns": [1, 2.5], "b": "aGk=", "bs": ["aGk="]})
        );
    }

    #[test]
    fn json_text_is_decoded_and_other_text_kept() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("failed")),
            ("returnvalue", s(r#"{"flickr":{"n":12345678901234567}}"#)),
            ("stacktrace", s("not json [")),
        ]));
        let job = record.content.unwrap();
        assert_eq!(
            serde_json::to_string(&job.returnvalue).unwrap(),
            r#"{"flickr":{"n":12345678901234567}}"#
        );
        assert_eq!(job.stacktrace, json!("not json ["));
    }

    #[test]
    fn absent_fields_have_their_defaults() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("queued")),
            ("failedReason", AttributeValue::Null(true)),
        ]));
        assert_eq!(record.owner.as_deref(), Some("u"));
        let job = record.content.unwrap();
        assert_eq!(job.returnvalue, Value::Null);
        assert_eq!(job.failed_reason, None);
        assert_eq!(job.stacktrace, json!([]));
        assert_eq!(job.target, None);
    }

    #[test]
    fn ownerless_records_have_no_owner() {
        for owner in [None, Some(n("5")), Some(AttributeValue::Null(true))] {
            let mut pairs = vec![("state", s("queued"))];
            if let Some(owner) = owner {
                pairs.push(("user_id", owner));
            }
            assert_eq!(decode_record(item(pairs)).owner, None);
        }
    }

    #[test]
    fn impossible_types_name_the_attribute() {
        let cases = [
            ("state", n("1")),
            ("returnvalue", n("1")),
            ("returnvalue", AttributeValue::L(vec![])),
            ("stacktrace", AttributeValue::M(HashMap::new())),
            ("failedReason", AttributeValue::Bool(true)),
            ("target", AttributeValue::Ss(vec!["rest".into()])),
        ];
        for (name, value) in cases {
            let mut pairs = vec![("user_id", s("u")), ("state", s("queued"))];
            pairs.retain(|(key, _)| *key != name);
            pairs.push((name, value));
            assert_eq!(decode_record(item(pairs)).content, Err(name), "{name}");
        }
    }
}
