//! The built binary: configuration problems fail init with a clear log line.

use std::process::{Command, Stdio};
use std::time::Duration;

fn run_without(vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flickr-job-status"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Nothing listens here: init must fail before the runtime loop ever calls it.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in vars {
        command.env(name, value);
    }
    let child = command.spawn().expect("the binary starts");
    let started = std::time::Instant::now();
    let output = child.wait_with_output().expect("the binary exits");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "init failure must be quick"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn missing_jobs_table_fails_init_naming_the_variable() {
    let (success, output) = run_without(&[]);
    assert!(!success, "{output}");
    assert!(output.contains("JOBS_TABLE is required"), "{output}");
}

#[test]
fn invalid_settings_fail_init_naming_the_variable() {
    let (success, output) = run_without(&[("JOBS_TABLE", "jobs"), ("DYNAMODB_TIMEOUT_MS", "soon")]);
    assert!(!success, "{output}");
    assert!(output.contains("DYNAMODB_TIMEOUT_MS"), "{output}");
}

#[test]
fn identity_settings_that_cannot_work_fail_init_naming_them() {
    for (name, value, extra) in [
        ("JWT_SECRET_PREVIOUS", "old", None),
        ("SHARE_TOKEN_SECRET_PREVIOUS", "old", None),
        ("JWT_JWKS_URL", "http://idp.example.com/jwks.json", None),
        ("JWT_TOKEN_USE", "refresh", None),
        (
            "JWT_JWKS_TIMEOUT_MS",
            "0",
            Some(("JWT_JWKS_URL", "https://idp.example.com/jwks.json")),
        ),
        // A hanging provider could otherwise hold init past Lambda's 10 s limit.
        (
            "JWT_JWKS_TIMEOUT_MS",
            "30000",
            Some(("JWT_JWKS_URL", "https://idp.example.com/jwks.json")),
        ),
    ] {
        let mut vars = vec![("JOBS_TABLE", "jobs"), (name, value)];
        vars.extend(extra);
        let (success, output) = run_without(&vars);
        assert!(!success, "{name}: {output}");
        assert!(output.contains(name), "{name}: {output}");
    }
}

#[test]
fn a_blank_endpoint_variable_counts_as_unset() {
    let (success, output) = run_without(&[
        ("JOBS_TABLE", "jobs"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_ENDPOINT_URL_DYNAMODB", ""),
        ("AWS_ENDPOINT_URL", " "),
        // What Lambda always sets (lambda_runtime insists on them).
        ("AWS_LAMBDA_FUNCTION_NAME", "flickr-job-status"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]);
    // Init completes (the warm-up read simply finds no DynamoDB here); the process then stops
    // only because no Runtime API listens at the address it was given.
    assert!(!success, "{output}");
    assert!(!output.contains("panicked"), "{output}");
    assert!(!output.contains("invalid configuration"), "{output}");
}
