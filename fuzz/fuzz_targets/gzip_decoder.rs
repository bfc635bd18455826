//! The decoder of a gzip-compressed `returnvalue` (src/store/gunzip.rs): any bytes as the B
//! attribute. It never panics, never returns more than its cap, and a record holding the bytes
//! decodes to a job or names `returnvalue` as the corrupt attribute.
#![no_main]

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flickr_job_status::store::decode_record;
use flickr_job_status::store::gunzip::{gunzip, MAX_DECOMPRESSED};
use flickr_job_status_fuzz::runtime;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    if let Ok(plain) = runtime().block_on(gunzip(data)) {
        assert!(
            plain.len() <= MAX_DECOMPRESSED,
            "past the cap: {}",
            plain.len()
        );
    }
    let item = HashMap::from([
        ("jobId".to_string(), AttributeValue::S("fuzz".to_string())),
        ("user_id".to_string(), AttributeValue::S("user".to_string())),
        (
            "state".to_string(),
            AttributeValue::S("completed".to_string()),
        ),
        (
            "returnvalue".to_string(),
            AttributeValue::B(Blob::new(data)),
        ),
    ]);
    if let Err(attribute) = runtime().block_on(decode_record(item).decode()) {
        assert_eq!(attribute, "returnvalue");
    }
});
