//! The DynamoDB record decoder (src/store/record.rs): any JSON as an item in DynamoDB's typed
//! JSON, decoded as the store decodes what GetItem returns, then turned into every JSON view.
//! It never panics; a decoded job always gives views that serialize; a corrupt one names an
//! attribute.
#![no_main]

use flickr_job_status::store::decode_record;
use flickr_job_status::store::memory::typed_item;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(item) = typed_item(&value) else {
        return;
    };
    let record = decode_record(item);
    let _ = record.owner();
    let _ = record.is_expired(std::time::SystemTime::now());
    let _ = record.has_unusable_expiry();
    match flickr_job_status_fuzz::runtime().block_on(record.decode()) {
        Ok(job) => {
            serde_json::to_string(&job.status_view("fuzz")).expect("the status view serializes");
            serde_json::to_string(&job.job_view("fuzz")).expect("the job view serializes");
            let _ = job.result();
            let _ = job.is_terminal();
        }
        Err(attribute) => assert!(!attribute.is_empty()),
    }
});
