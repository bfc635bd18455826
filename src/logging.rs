//! Log set-up from Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or text)
//! and `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO), as a single level for every target.

use tracing::level_filters::LevelFilter;

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| parse_level(&level))
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // Lambda timestamps every line itself; ANSI colours would only garble CloudWatch.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let installed = if json {
        // `span` (the invocation's span: requestId, xrayTraceId) is kept on every line; the
        // `spans` list would repeat it, and re-parsing it costs ~13k instructions a request.
        subscriber.json().with_span_list(false).try_init()
    } else {
        subscriber.try_init()
    };
    if let Err(error) = installed {
        eprintln!("logging was already set up: {error}");
    }
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

    #[test]
    fn lambda_level_names() {
        assert_eq!(parse_level("DEBUG"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("fatal"), Some(LevelFilter::ERROR));
        assert_eq!(parse_level(" Warn "), Some(LevelFilter::WARN));
        assert_eq!(parse_level("flickr_job_status=debug"), None);
    }
}
