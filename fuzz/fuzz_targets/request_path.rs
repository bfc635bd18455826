//! The request path end to end over the in-memory store: any bytes as a Lambda event, through
//! the same `lambda::answer` the runtime loop calls, to the Lambda response payload. The
//! invariants (fuzz/src/lib.rs `check_answer`): no panic, never a 5xx for client input, the
//! envelope always well-formed, no record content in an error.
#![no_main]

use flickr_job_status_fuzz::{app, check_answer, runtime};
use lambda_runtime::{Context, LambdaEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // The runtime hands the function a JSON value; anything else never reaches it.
    let Ok(payload) = serde_json::value::RawValue::from_string(raw.to_string()) else {
        return;
    };
    let mut context = Context::default();
    context.request_id = "fuzz-invocation".to_string();
    let (response, _) = runtime().block_on(flickr_job_status::lambda::answer(
        app(),
        LambdaEvent::new(payload, context),
    ));
    let response = serde_json::to_value(response).expect("a response serializes");
    check_answer(&response);
});
