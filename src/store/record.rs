//! DynamoDB item → `StoredJob` → `Job`, following the record layout of docs/API.md#10-the-job-record.
//!
//! Ownership is decided before anything else of a record is decoded: `decode_record` reads
//! `user_id` and `expires_at` only, and the rest stays as DynamoDB sent it until the caller is
//! known to be allowed to read it (`StoredJob::decode`). So another user's large record costs no
//! more of the function's own work than a missing one.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Number, Value};

use super::gunzip::gunzip;
use crate::jobs::{CorruptAttribute, Job, Metadata, Progress};

/// A record as read from the store: owner and expiry known, the rest not yet decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    /// `None` when the record has no string `user_id`: it belongs to no one.
    owner: Option<String>,
    expiry: Expiry,
    rest: Attributes,
}

/// The attributes the API shows, as DynamoDB sent them. Sorted out of the item in one pass
/// over it: no look-up by name, no hashing of names.
#[derive(Debug, Clone, Default, PartialEq)]
struct Attributes {
    state: Option<AttributeValue>,
    returnvalue: Option<AttributeValue>,
    stacktrace: Option<AttributeValue>,
    failed_reason: Option<AttributeValue>,
    target: Option<AttributeValue>,
    progress: Option<AttributeValue>,
    attempts: Option<AttributeValue>,
    created_at: Option<AttributeValue>,
    updated_at: Option<AttributeValue>,
}

/// `expires_at`, DynamoDB's TTL attribute, in epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    Never,
    At(f64),
    /// Not a number: ignored (and logged by the reader).
    Unusable,
}

/// DynamoDB item → record; only the owner and the expiry are looked at.
pub fn decode_record(item: HashMap<String, AttributeValue>) -> StoredJob {
    let (mut user_id, mut expires_at) = (None, None);
    let mut rest = Attributes::default();
    for (name, value) in item {
        let slot = match name.as_str() {
            "user_id" => &mut user_id,
            "expires_at" => &mut expires_at,
            "state" => &mut rest.state,
            "returnvalue" => &mut rest.returnvalue,
            "stacktrace" => &mut rest.stacktrace,
            "failedReason" => &mut rest.failed_reason,
            "target" => &mut rest.target,
            "progress" => &mut rest.progress,
            "attempts" => &mut rest.attempts,
            "created_at" => &mut rest.created_at,
            "updated_at" => &mut rest.updated_at,
            _ => continue,
        };
        *slot = Some(value);
    }
    let owner = match user_id {
        Some(AttributeValue::S(owner)) => Some(owner),
        _ => None,
    };
    let expiry = match expires_at {
        None | Some(AttributeValue::Null(_)) => Expiry::Never,
        Some(AttributeValue::N(number)) => match number.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() => Expiry::At(seconds),
            _ => Expiry::Unusable,
        },
        Some(_) => Expiry::Unusable,
    };
    StoredJob {
        owner,
        expiry,
        rest,
    }
}

impl StoredJob {
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// DynamoDB deletes an expired item only eventually and returns it until then: a record
    /// whose `expires_at` is at or before `now` is treated as gone.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        matches!(self.expiry, Expiry::At(at) if at <= now)
    }

    /// The record as a summary needs it: `returnvalue` and `stacktrace` dropped, so that the
    /// listing and the batch never decode (or fail on) a result they do not show, whatever
    /// the store handed over.
    pub fn summary_only(mut self) -> Self {
        self.rest.returnvalue = None;
        self.rest.stacktrace = None;
        self
    }

    /// True when `expires_at` is there but not a number (it is then ignored).
    pub fn has_unusable_expiry(&self) -> bool {
        self.expiry == Expiry::Unusable
    }

    /// The rest of the record, or the name of the attribute that makes it unusable. Async only
    /// for a compressed `returnvalue`, which may wait its turn to be decompressed (`gunzip`).
    pub async fn decode(self) -> Result<Job, CorruptAttribute> {
        let item = self.rest;
        let state = match item.state {
            Some(AttributeValue::S(state)) => state,
            _ => return Err("state"),
        };
        let returnvalue = match item.returnvalue {
            None | Some(AttributeValue::Null(_)) => Value::Null,
            Some(AttributeValue::S(text)) => json_text(text),
            Some(map @ AttributeValue::M(_)) => to_json(map),
            Some(AttributeValue::B(blob)) => compressed_json(blob.as_ref()).await?,
            Some(_) => return Err("returnvalue"),
        };
        let stacktrace = match item.stacktrace {
            None | Some(AttributeValue::Null(_)) => Value::Array(Vec::new()),
            Some(AttributeValue::S(text)) => json_text(text),
            Some(list @ AttributeValue::L(_)) => to_json(list),
            Some(_) => return Err("stacktrace"),
        };
        let failed_reason = optional_string(item.failed_reason).ok_or("failedReason")?;
        let target = optional_string(item.target).ok_or("target")?;
        let expires_at = match self.expiry {
            Expiry::At(seconds) => whole(seconds, MAX_EPOCH_SECONDS),
            Expiry::Never | Expiry::Unusable => None,
        };
        let mut meta = Metadata {
            expires_at,
            ..Metadata::default()
        };
        if matches!(self.expiry, Expiry::At(_)) && expires_at.is_none() {
            // A number, so it still counts for expiry, but not one RFC 3339 can show.
            meta.unusable.push("expires_at");
        }
        meta.progress = metadata(&mut meta.unusable, "progress", item.progress, progress);
        meta.attempts = metadata(
            &mut meta.unusable,
            "attempts",
            item.attempts,
            |value| match value {
                AttributeValue::N(number) => number.parse::<Number>().ok(),
                _ => None,
            },
        );
        meta.created_at = metadata(&mut meta.unusable, "created_at", item.created_at, epoch_ms);
        meta.updated_at = metadata(&mut meta.unusable, "updated_at", item.updated_at, epoch_ms);
        Ok(Job {
            state,
            returnvalue,
            failed_reason,
            stacktrace,
            target,
            meta,
        })
    }
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const MAX_EPOCH_SECONDS: f64 = 253_402_300_799.0;
const MAX_EPOCH_MS: f64 = MAX_EPOCH_SECONDS * 1000.0 + 999.0;

/// A metadata attribute through `read`; absent or NULL is `None`, and so is a value `read`
/// cannot use, whose name is then noted in `unusable`.
fn metadata<T>(
    unusable: &mut Vec<&'static str>,
    name: &'static str,
    value: Option<AttributeValue>,
    read: impl FnOnce(AttributeValue) -> Option<T>,
) -> Option<T> {
    match value {
        None | Some(AttributeValue::Null(_)) => None,
        Some(value) => {
            let read = read(value);
            if read.is_none() {
                unusable.push(name);
            }
            read
        }
    }
}

/// A number of epoch milliseconds that RFC 3339 can show.
fn epoch_ms(value: AttributeValue) -> Option<u64> {
    match value {
        AttributeValue::N(number) => whole(number.parse().ok()?, MAX_EPOCH_MS),
        _ => None,
    }
}

/// `value` rounded down, when it is within `0..=max`.
fn whole(value: f64, max: f64) -> Option<u64> {
    (value.is_finite() && (0.0..=max).contains(&value)).then(|| value.floor() as u64)
}

/// `progress`: a bare percent (0..=100), or `{percent, stage, message}` whose members of
/// the wrong type (or a percent out of range) are left out.
fn progress(value: AttributeValue) -> Option<Progress> {
    let percent = |value: Option<&AttributeValue>| match value? {
        AttributeValue::N(number) => {
            let parsed: f64 = number.parse().ok()?;
            (0.0..=100.0)
                .contains(&parsed)
                .then(|| number.parse::<Number>().ok())
                .flatten()
        }
        _ => None,
    };
    let text = |value: Option<&AttributeValue>| match value? {
        AttributeValue::S(text) => Some(text.clone()),
        _ => None,
    };
    match value {
        bare @ AttributeValue::N(_) => Some(Progress {
            percent: Some(percent(Some(&bare))?),
            ..Progress::default()
        }),
        AttributeValue::M(map) => Some(Progress {
            percent: percent(map.get("percent")),
            stage: text(map.get("stage")),
            message: text(map.get("message")),
        }),
        _ => None,
    }
}

/// Absent or NULL → `Some(None)`; a string → `Some(Some(s))`; any other type → `None`.
fn optional_string(value: Option<AttributeValue>) -> Option<Option<String>> {
    match value {
        None | Some(AttributeValue::Null(_)) => Some(None),
        Some(AttributeValue::S(text)) => Some(Some(text)),
        Some(_) => None,
    }
}

/// A `returnvalue` stored as B: gzip-compressed JSON text, which must be both (unlike an S,
/// whose text that is not JSON is shown as it is: these bytes are no text to show).
async fn compressed_json(compressed: &[u8]) -> Result<Value, CorruptAttribute> {
    let text = gunzip(compressed).await.map_err(|error| {
        tracing::warn!(
            ?error,
            compressed_bytes = compressed.len(),
            "compressed returnvalue unusable"
        );
        "returnvalue"
    })?;
    serde_json::from_slice(&text).map_err(|_| {
        tracing::warn!(
            decompressed_bytes = text.len(),
            "compressed returnvalue is not JSON"
        );
        "returnvalue"
    })
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

    #[tokio::test]
    async fn json_text_is_decoded_and_other_text_kept() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("failed")),
            ("returnvalue", s(r#"{"flickr":{"n":12345678901234567}}"#)),
            ("stacktrace", s("not json [")),
        ]));
        let job = record.decode().await.unwrap();
        assert_eq!(
            serde_json::to_string(&job.returnvalue).unwrap(),
            r#"{"flickr":{"n":12345678901234567}}"#
        );
        assert_eq!(job.stacktrace, json!("not json ["));
    }

    #[tokio::test]
    async fn absent_fields_have_their_defaults() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("queued")),
            ("failedReason", AttributeValue::Null(true)),
        ]));
        assert_eq!(record.owner(), Some("u"));
        let job = record.decode().await.unwrap();
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
            assert_eq!(decode_record(item(pairs)).owner(), None);
        }
    }

    #[tokio::test]
    async fn impossible_types_name_the_attribute() {
        let cases = [
            ("state", n("1")),
            ("returnvalue", n("1")),
            ("returnvalue", AttributeValue::L(vec![])),
            ("returnvalue", AttributeValue::Bs(vec![])),
            ("stacktrace", AttributeValue::M(HashMap::new())),
            ("failedReason", AttributeValue::Bool(true)),
            ("target", AttributeValue::Ss(vec!["rest".into()])),
        ];
        for (name, value) in cases {
            let mut pairs = vec![("user_id", s("u")), ("state", s("queued"))];
            pairs.retain(|(key, _)| *key != name);
            pairs.push((name, value));
            assert_eq!(
                decode_record(item(pairs)).decode().await,
                Err(name),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn every_projected_attribute_is_read() {
        use crate::store::Projection;
        let full = vec![
            ("user_id", s("u")),
            ("expires_at", n("253402300799")),
            ("state", s("retrying")),
            ("returnvalue", s("{}")),
            ("failedReason", s("why")),
            ("stacktrace", s("[1]")),
            ("target", s("t")),
            ("progress", n("5")),
            ("attempts", n("2")),
            ("created_at", n("1")),
            ("updated_at", n("2")),
        ];
        async fn read(
            pairs: Vec<(&str, AttributeValue)>,
        ) -> (Option<String>, bool, Result<Job, CorruptAttribute>) {
            let record = decode_record(item(pairs));
            let owner = record.owner().map(str::to_string);
            let expired = record.is_expired(SystemTime::now());
            (owner, expired, record.decode().await)
        }
        let whole = read(full.clone()).await;
        assert!(whole.2.is_ok(), "{whole:?}");
        for name in Projection::Job.attributes() {
            let without: Vec<_> = full
                .iter()
                .filter(|(key, _)| key != name)
                .cloned()
                .collect();
            assert_ne!(
                read(without).await,
                whole,
                "{name} is projected but never read"
            );
        }
    }

    #[tokio::test]
    async fn metadata_is_decoded_and_unusable_types_are_missing_not_corrupt() {
        let job = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("retrying")),
            ("attempts", n("3")),
            ("created_at", n("1796153549123")),
            ("updated_at", n("1796153550000.9")),
            ("expires_at", n("1796239949")),
            ("progress", n("42.5")),
        ]))
        .decode()
        .await
        .unwrap();
        assert_eq!(job.meta.attempts, Some(Number::from(3)));
        assert_eq!(job.meta.created_at, Some(1_796_153_549_123));
        assert_eq!(job.meta.updated_at, Some(1_796_153_550_000));
        assert_eq!(job.meta.expires_at, Some(1_796_239_949));
        assert_eq!(
            job.meta.progress,
            Some(Progress {
                percent: Some("42.5".parse().unwrap()),
                stage: None,
                message: None
            })
        );
        assert!(job.meta.unusable.is_empty());

        let job = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("queued")),
            ("attempts", s("three")),
            ("created_at", s("yesterday")),
            ("updated_at", n("-5")),
            ("progress", n("101")),
        ]))
        .decode()
        .await
        .unwrap();
        assert_eq!(
            job.meta,
            Metadata {
                unusable: vec!["progress", "attempts", "created_at", "updated_at"],
                ..Metadata::default()
            }
        );

        let progress = AttributeValue::M(item(vec![
            ("percent", s("half")),
            ("stage", s("upload")),
            ("message", n("7")),
        ]));
        let job = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("queued")),
            ("progress", progress),
        ]))
        .decode()
        .await
        .unwrap();
        assert_eq!(
            job.meta.progress,
            Some(Progress {
                percent: None,
                stage: Some("upload".into()),
                message: None
            })
        );
    }

    #[test]
    fn expiry_is_known_before_decoding_and_only_numbers_expire() {
        use std::time::Duration;
        let at = |seconds: u64| UNIX_EPOCH + Duration::from_secs(seconds);
        let record = |expires_at: Option<AttributeValue>| {
            let mut pairs = vec![("user_id", s("u")), ("state", n("corrupt"))];
            if let Some(value) = expires_at {
                pairs.push(("expires_at", value));
            }
            decode_record(item(pairs))
        };
        let expiring = record(Some(n("1000")));
        assert!(!expiring.is_expired(at(999)));
        assert!(expiring.is_expired(at(1000)), "expired at its second");
        assert!(expiring.is_expired(at(5000)));
        assert!(!record(None).is_expired(at(u32::MAX.into())));
        for unusable in [s("1000"), AttributeValue::Bool(true), n("NaN")] {
            let record = record(Some(unusable));
            assert!(!record.is_expired(at(5000)));
            assert!(record.has_unusable_expiry());
        }
        assert!(!record(Some(AttributeValue::Null(true))).has_unusable_expiry());
    }

    fn gzip(bytes: &[u8]) -> AttributeValue {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        AttributeValue::B(Blob::new(encoder.finish().unwrap()))
    }

    #[tokio::test]
    async fn a_compressed_returnvalue_is_its_json_text() {
        let text = r#"{"from_cache":false,"flickr":{"stat":"ok","n":12345678901234567}}"#;
        let stored = |returnvalue| {
            decode_record(item(vec![
                ("user_id", s("u")),
                ("state", s("completed")),
                ("returnvalue", returnvalue),
            ]))
        };
        let compressed = stored(gzip(text.as_bytes())).decode().await.unwrap();
        let as_text = stored(s(text)).decode().await.unwrap();
        assert_eq!(compressed, as_text);
        assert_eq!(
            serde_json::to_string(&compressed.returnvalue).unwrap(),
            r#"{"flickr":{"n":12345678901234567,"stat":"ok"},"from_cache":false}"#
        );
        // Not gzip, gzip of text that is not JSON (or not UTF-8), a bomb: corrupt.
        for bad in [
            AttributeValue::B(Blob::new(text.as_bytes().to_vec())),
            gzip(b"not json ["),
            gzip(&[0xff, 0xfe, b'"']),
            gzip(&vec![b' '; super::super::gunzip::MAX_DECOMPRESSED + 1]),
        ] {
            assert_eq!(stored(bad).decode().await, Err("returnvalue"));
        }
        // Exactly at the cap is fine: 16 MiB of JSON (a number padded with spaces).
        let mut padded = b"7".to_vec();
        padded.resize(super::super::gunzip::MAX_DECOMPRESSED, b' ');
        let job = stored(gzip(&padded)).decode().await.unwrap();
        assert_eq!(job.returnvalue, json!(7));
    }
}
