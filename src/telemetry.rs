//! Per-request observability with no AWS calls: one structured log line and one CloudWatch
//! Embedded Metric Format (EMF) line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace the EMF metrics land in.
pub const METRICS_NAMESPACE: &str = "FlickrJobStatus";

/// Everything known about a request once it is answered. It holds no tokens, no user ids and
/// no record content, so nothing here can leak them.
#[derive(Debug, Clone)]
pub struct RequestSummary<'a> {
    pub request_id: &'a str,
    pub xray_trace_id: Option<&'a str>,
    pub route: &'static str,
    pub status: u16,
    pub latency: Duration,
    pub store_latency: Option<Duration>,
    pub job_state: Option<&'a str>,
    pub cold_start: bool,
}

/// The log line, through `tracing`, so `AWS_LAMBDA_LOG_LEVEL` / `AWS_LAMBDA_LOG_FORMAT` apply.
pub fn log_request(summary: &RequestSummary<'_>) {
    tracing::info!(
        request_id = summary.request_id,
        xray_trace_id = summary.xray_trace_id,
        route = summary.route,
        status = summary.status,
        latency_ms = millis(summary.latency),
        dynamodb_ms = summary.store_latency.map(millis),
        job_state = summary.job_state,
        cold_start = summary.cold_start,
        "request"
    );
}

/// The metrics line, written straight to stdout: CloudWatch extracts metrics from JSON log
/// lines that carry an `_aws` block, with no API call from the function.
pub fn emit_metrics(summary: &RequestSummary<'_>) {
    println!("{}", emf_line(summary, SystemTime::now()));
}

/// `Requests` (count), `Latency`, `DynamoDbLatency` (when DynamoDB was called) and `ColdStart`,
/// by `Route` and `StatusClass` (2xx, 3xx, 4xx, 5xx).
pub fn emf_line(summary: &RequestSummary<'_>, now: SystemTime) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut metrics = vec![
        json!({"Name": "Requests", "Unit": "Count"}),
        json!({"Name": "Latency", "Unit": "Milliseconds"}),
        json!({"Name": "ColdStart", "Unit": "Count"}),
    ];
    let mut line = Map::new();
    line.insert("Route".into(), json!(summary.route));
    line.insert(
        "StatusClass".into(),
        json!(format!("{}xx", summary.status / 100)),
    );
    line.insert("Requests".into(), json!(1));
    line.insert("Latency".into(), json!(millis(summary.latency)));
    line.insert("ColdStart".into(), json!(u8::from(summary.cold_start)));
    if let Some(store_latency) = summary.store_latency {
        metrics.push(json!({"Name": "DynamoDbLatency", "Unit": "Milliseconds"}));
        line.insert("DynamoDbLatency".into(), json!(millis(store_latency)));
    }
    line.insert("request_id".into(), json!(summary.request_id));
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Route", "StatusClass"]],
                "Metrics": metrics
            }]
        }),
    );
    Value::Object(line).to_string()
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(store_latency: Option<Duration>) -> RequestSummary<'static> {
        RequestSummary {
            request_id: "req-1",
            xray_trace_id: Some("Root=1-abc"),
            route: "status",
            status: 404,
            latency: Duration::from_micros(1234),
            store_latency,
            job_state: None,
            cold_start: true,
        }
    }

    #[test]
    fn emf_line_declares_what_it_carries() {
        let line: Value = serde_json::from_str(&emf_line(
            &summary(Some(Duration::from_micros(800))),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ))
        .unwrap();
        assert_eq!(line["_aws"]["Timestamp"], json!(1_800_000_000_000u64));
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], json!(METRICS_NAMESPACE));
        assert_eq!(directive["Dimensions"], json!([["Route", "StatusClass"]]));
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                line.get(name).is_some_and(Value::is_number),
                "{name} has no value"
            );
        }
        assert_eq!(line["StatusClass"], json!("4xx"));
        assert_eq!(line["Latency"], json!(1.234));
        assert_eq!(line["DynamoDbLatency"], json!(0.8));
        assert_eq!(line["ColdStart"], json!(1));
    }

    #[test]
    fn no_dynamodb_metric_without_a_read() {
        let line: Value =
            serde_json::from_str(&emf_line(&summary(None), SystemTime::now())).unwrap();
        assert!(line.get("DynamoDbLatency").is_none());
        let names: Vec<_> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["Requests", "Latency", "ColdStart"]);
    }
}
