//! Log set-up from Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or text)
//! and `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO), with the libraries capped at INFO.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The function's own lines, which never hold a token, a claim value, key material or record
/// content (docs/API.md#8-caller-identity), follow the chosen level.
const OWN_TARGET: &str = "flickr_job_status";

/// Every other target (lambda_runtime, the AWS SDK, hyper, rustls, jsonwebtoken) is capped here
/// whatever the chosen level: at TRACE lambda_runtime logs every raw event (bearer tokens, share
/// tokens in query strings) and the SDK logs each HTTP request and response and every decoded
/// output (whole DynamoDB items). Nothing at INFO or above in them carries any of that.
const LIBRARY_CAP: LevelFilter = LevelFilter::INFO;

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| parse_level(&level))
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // Lambda timestamps every line itself; ANSI colours would only garble CloudWatch.
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter(level));
    let installed = if json {
        // `span` (the invocation's span: requestId, xrayTraceId) is kept on every line; the
        // `spans` list would repeat it, and re-parsing it costs ~13k instructions a request.
        registry.with(layer.json().with_span_list(false)).try_init()
    } else {
        registry.with(layer).try_init()
    };
    if let Err(error) = installed {
        eprintln!("logging was already set up: {error}");
    }
}

/// The chosen level for the function's own target; the libraries at most [`LIBRARY_CAP`].
fn filter(level: LevelFilter) -> Targets {
    Targets::new()
        .with_default(level.min(LIBRARY_CAP))
        .with_target(OWN_TARGET, level)
}

/// Lambda's level names (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), case-insensitively.
fn parse_level(level: &str) -> Option<LevelFilter> {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(LevelFilter::TRACE),
        "debug" => Some(LevelFilter::DEBUG),
        "info" => Some(LevelFilter::INFO),
        "warn" | "warning" => Some(LevelFilter::WARN),
        "error" | "fatal" => Some(LevelFilter::ERROR),
        "off" => Some(LevelFilter::OFF),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn lambda_level_names() {
        assert_eq!(parse_level("DEBUG"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("fatal"), Some(LevelFilter::ERROR));
        assert_eq!(parse_level(" Warn "), Some(LevelFilter::WARN));
        assert_eq!(parse_level("flickr_job_status=debug"), None);
    }

    #[test]
    fn libraries_stay_at_info_when_the_function_traces() {
        let trace = filter(LevelFilter::TRACE);
        assert!(trace.would_enable("flickr_job_status::auth::jwks", &Level::TRACE));
        for library in [
            "lambda_runtime::layers::api_response",
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb",
            "hyper_util::client::legacy",
            "rustls::client",
        ] {
            assert!(!trace.would_enable(library, &Level::DEBUG), "{library}");
            assert!(trace.would_enable(library, &Level::INFO), "{library}");
        }
        // A quieter choice quiets the libraries too.
        let warn = filter(LevelFilter::WARN);
        assert!(!warn.would_enable("lambda_runtime", &Level::INFO));
        assert!(!warn.would_enable("flickr_job_status", &Level::INFO));
        assert!(warn.would_enable("flickr_job_status", &Level::WARN));
    }
}
