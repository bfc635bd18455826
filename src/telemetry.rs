//! Per-request observability with no AWS calls: one structured log line and one CloudWatch
//! Embedded Metric Format (EMF) line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

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
    /// `GetItem` calls made: one, or more when the request was held (`Prefer: wait`).
    pub reads: u32,
    /// How long the request was held, when it was.
    pub waited: Option<Duration>,
    pub job_state: Option<&'a str>,
    /// Why credentials were refused (a 401): a reason's name, never the credentials.
    pub refusal: Option<&'static str>,
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
        get_items = summary.reads,
        waited_ms = summary.waited.map(millis),
        job_state = summary.job_state,
        refusal = summary.refusal,
        cold_start = summary.cold_start,
        "request"
    );
}

/// The metrics line, written straight to stdout: CloudWatch extracts metrics from JSON log
/// lines that carry an `_aws` block, with no API call from the function.
pub fn emit_metrics(summary: &RequestSummary<'_>) {
    println!("{}", emf_line(summary, SystemTime::now()));
}

/// `Requests` (count), `Latency`, `ColdStart`, `DynamoDbLatency` (of the request's first read)
/// and `GetItems` (every read, a wait's re-reads included) when DynamoDB was called, and
/// `WaitTime` when the request was held; by `Route` and `StatusClass` (2xx, 3xx, 4xx, 5xx).
pub fn emf_line(summary: &RequestSummary<'_>, now: SystemTime) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let metrics = if summary.waited.is_some() {
        &METRICS[..]
    } else if summary.store_latency.is_some() {
        &METRICS[..5]
    } else {
        &METRICS[..3]
    };
    let line = EmfLine {
        cold_start: u8::from(summary.cold_start),
        dynamodb_latency: summary.store_latency.map(millis),
        get_items: summary.store_latency.map(|_| summary.reads),
        latency: millis(summary.latency),
        requests: 1,
        route: summary.route,
        status_class: STATUS_CLASSES
            .get(usize::from(summary.status / 100))
            .copied()
            .unwrap_or("5xx"),
        wait_time: summary.waited.map(millis),
        aws: Aws {
            cloud_watch_metrics: [Directive {
                dimensions: [["Route", "StatusClass"]],
                metrics,
                namespace: METRICS_NAMESPACE,
            }],
            timestamp,
        },
        request_id: summary.request_id,
    };
    // Borrowed strings and numbers only: serialization cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// The EMF line, written field by field in key order (the order a JSON map would give) from
/// borrowed values: ~45k instructions a request less than building a `serde_json::Value`.
#[derive(Serialize)]
struct EmfLine<'a> {
    #[serde(rename = "ColdStart")]
    cold_start: u8,
    #[serde(rename = "DynamoDbLatency", skip_serializing_if = "Option::is_none")]
    dynamodb_latency: Option<f64>,
    #[serde(rename = "GetItems", skip_serializing_if = "Option::is_none")]
    get_items: Option<u32>,
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(rename = "Route")]
    route: &'a str,
    #[serde(rename = "StatusClass")]
    status_class: &'a str,
    #[serde(rename = "WaitTime", skip_serializing_if = "Option::is_none")]
    wait_time: Option<f64>,
    #[serde(rename = "_aws")]
    aws: Aws<'a>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct Aws<'a> {
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: [Directive<'a>; 1],
    #[serde(rename = "Timestamp")]
    timestamp: u64,
}

#[derive(Serialize)]
struct Directive<'a> {
    #[serde(rename = "Dimensions")]
    dimensions: [[&'static str; 2]; 1],
    #[serde(rename = "Metrics")]
    metrics: &'a [Metric],
    #[serde(rename = "Namespace")]
    namespace: &'static str,
}

#[derive(Serialize)]
struct Metric {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

/// The metric declarations: the first three always, the next two when DynamoDB was called, the
/// last when the request was held.
const METRICS: [Metric; 6] = [
    Metric {
        name: "Requests",
        unit: "Count",
    },
    Metric {
        name: "Latency",
        unit: "Milliseconds",
    },
    Metric {
        name: "ColdStart",
        unit: "Count",
    },
    Metric {
        name: "DynamoDbLatency",
        unit: "Milliseconds",
    },
    Metric {
        name: "GetItems",
        unit: "Count",
    },
    Metric {
        name: "WaitTime",
        unit: "Milliseconds",
    },
];

const STATUS_CLASSES: [&str; 6] = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn summary(store_latency: Option<Duration>) -> RequestSummary<'static> {
        RequestSummary {
            request_id: "req-1",
            xray_trace_id: Some("Root=1-abc"),
            route: "status",
            status: 404,
            latency: Duration::from_micros(1234),
            store_latency,
            reads: u32::from(store_latency.is_some()),
            waited: None,
            job_state: None,
            refusal: None,
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
        assert_eq!(line["GetItems"], json!(1));
        assert!(line.get("WaitTime").is_none());
        assert_eq!(line["ColdStart"], json!(1));
    }

    #[test]
    fn a_held_request_counts_every_read_and_its_wait() {
        let held = RequestSummary {
            status: 304,
            reads: 9,
            waited: Some(Duration::from_millis(4_012)),
            ..summary(Some(Duration::from_micros(800)))
        };
        let line: Value = serde_json::from_str(&emf_line(&held, SystemTime::now())).unwrap();
        assert_eq!(line["GetItems"], json!(9));
        assert_eq!(line["WaitTime"], json!(4012.0));
        assert_eq!(
            declared(&line),
            [
                "Requests",
                "Latency",
                "ColdStart",
                "DynamoDbLatency",
                "GetItems",
                "WaitTime"
            ]
        );
    }

    #[test]
    fn no_dynamodb_metric_without_a_read() {
        let line: Value =
            serde_json::from_str(&emf_line(&summary(None), SystemTime::now())).unwrap();
        assert!(line.get("DynamoDbLatency").is_none());
        assert!(line.get("GetItems").is_none());
        assert_eq!(declared(&line), ["Requests", "Latency", "ColdStart"]);
    }

    /// The metric names a line declares, in order.
    fn declared(line: &Value) -> Vec<String> {
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[cfg(test)]
mod same_line_as_a_json_map {
    use super::*;
    use serde_json::{json, Map, Value};

    /// The line as the first version built it, from a JSON map (keys sorted).
    fn reference(summary: &RequestSummary<'_>, timestamp: u64) -> String {
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
            metrics.push(json!({"Name": "GetItems", "Unit": "Count"}));
            line.insert("DynamoDbLatency".into(), json!(millis(store_latency)));
            line.insert("GetItems".into(), json!(summary.reads));
        }
        if let Some(waited) = summary.waited {
            metrics.push(json!({"Name": "WaitTime", "Unit": "Milliseconds"}));
            line.insert("WaitTime".into(), json!(millis(waited)));
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

    #[test]
    fn byte_for_byte() {
        let now = UNIX_EPOCH + Duration::from_millis(1_795_700_897_206);
        for (status, store, cold, waited) in [
            (200, Some(7_739), false, None),
            (404, Some(1), true, None),
            (400, None, false, None),
            (503, Some(1_500_000), false, None),
            (500, Some(0), true, None),
            (304, Some(2_100), false, Some(19_998_456)),
        ] {
            let summary = RequestSummary {
                request_id: "Jf3aBc1xIAMEbQw=",
                xray_trace_id: None,
                route: "status",
                status,
                latency: Duration::from_micros(7_912),
                store_latency: store.map(Duration::from_micros),
                reads: if waited.is_some() { 40 } else { 1 },
                waited: waited.map(Duration::from_micros),
                job_state: None,
                refusal: None,
                cold_start: cold,
            };
            assert_eq!(
                emf_line(&summary, now),
                reference(&summary, 1_795_700_897_206)
            );
        }
    }
}
