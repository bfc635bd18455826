//! The DynamoDB adapter of the job store: one `GetItem` per read (the index `Query` and
//! `BatchGetItem` live in `list.rs` and `batch.rs`), and SDK errors sorted into "retry later"
//! (503) and "failed" (500).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::sdk::sdk_config;
use super::{decode_record, JobStore, ListPage, ListQuery, Projection, StoreError, StoredJob};
use crate::config::Config;

/// The DynamoDB table of job records, read with `GetItem`.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
    /// The partition key attribute (`JOBS_TABLE_KEY`).
    pub(super) key: String,
    pub(super) consistent_read: bool,
    /// The user index of `GET /jobs` (`JOBS_USER_INDEX`); `None`: no listing.
    pub(super) user_index: Option<String>,
    /// The projection expressions of `Projection::Legacy` and `Projection::Job`, built once.
    expressions: [String; 2],
}

/// `projection`'s attributes as a projection expression. `state` is a reserved word, hence the
/// placeholder (named in every `GetItem`).
fn expression(projection: Projection) -> String {
    let names: Vec<&str> = projection
        .attributes()
        .iter()
        .map(|&name| if name == "state" { "#state" } else { name })
        .collect();
    names.join(", ")
}

/// The key the warm-up read asks for. Job ids never hold control characters, so no job has it.
const WARM_UP_KEY: &str = "\u{1}connection-warm-up";
/// The most init waits for the warm-up read.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1);

impl DynamoStore {
    /// Builds the SDK client once, at init, with the timeouts and retries from `config`.
    /// Region, credentials and endpoint come from the environment (`sdk_config`).
    pub fn from_config(config: &Config) -> Self {
        Self::new(Client::from_conf(sdk_config(config).build()), config)
    }

    pub fn new(client: Client, config: &Config) -> Self {
        DynamoStore {
            client,
            table: config.jobs_table.clone(),
            key: config.jobs_table_key.clone(),
            consistent_read: config.consistent_read,
            user_index: config.jobs_user_index.clone(),
            expressions: [Projection::Legacy, Projection::Job].map(expression),
        }
    }

    /// One cheap read during init, where Lambda boosts the CPU, so that the first request
    /// finds credentials resolved and a connection (and TLS session) open. Bounded by
    /// `WARM_UP_TIMEOUT`, and never an error: a slow DynamoDB must not fail init.
    pub async fn warm_up(&self) {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(&self.key, AttributeValue::S(WARM_UP_KEY.to_string()))
            .projection_expression("#key")
            .expression_attribute_names("#key", &self.key)
            .consistent_read(false)
            .send();
        match tokio::time::timeout(WARM_UP_TIMEOUT, read).await {
            Ok(Ok(_)) => tracing::debug!("DynamoDB connection warmed up"),
            Ok(Err(error)) => {
                tracing::warn!(error = %classify(error).detail(), "DynamoDB warm-up read failed")
            }
            Err(_) => tracing::warn!("DynamoDB warm-up read timed out"),
        }
    }
}

impl JobStore for DynamoStore {
    async fn get_job(
        &self,
        job_id: &str,
        projection: Projection,
    ) -> Result<Option<StoredJob>, StoreError> {
        let send = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(&self.key, AttributeValue::S(job_id.to_string()))
            .consistent_read(self.consistent_read)
            .projection_expression(match projection {
                Projection::Legacy => &self.expressions[0],
                Projection::Job => &self.expressions[1],
            })
            .expression_attribute_names("#state", "state")
            .send();
        // The SDK's future is kilobytes; boxed, the request's future that holds it (and the
        // timeouts around it) is moved as a pointer instead of copied at every layer.
        let output = Box::pin(send).await.map_err(classify)?;
        Ok(output.item.map(decode_record))
    }

    async fn query_by_user(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        self.query_page(query).await
    }

    async fn get_many(&self, job_ids: &[String]) -> Result<HashMap<String, StoredJob>, StoreError> {
        self.batch_get(job_ids).await
    }
}

pub(super) fn classify<E: ProvideErrorMetadata>(
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let detail = summary(&error);
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => {
            // No error code means the answer could not be understood (a truncated or garbled
            // body, a proxy's error page): as transient as a dropped connection.
            let transient = matches!(
                service.err().code(),
                None | Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            );
            if transient || service.raw().status().is_server_error() {
                StoreError::Unavailable(detail)
            } else {
                StoreError::Failed(detail)
            }
        }
        _ => StoreError::Failed(detail),
    }
}

/// A log line's worth of an SDK error: its kind, the HTTP status, DynamoDB's error code and
/// message, or the transport's error chain. Never the response body (the Debug form carries
/// it, and a garbled `GetItem` answer may hold record content).
fn summary<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> String {
    match error {
        SdkError::ServiceError(service) => format!(
            "DynamoDB answered HTTP {}: {} {}",
            service.raw().status().as_u16(),
            service
                .err()
                .code()
                .unwrap_or("(no error code: unreadable answer)"),
            service.err().message().unwrap_or_default()
        ),
        SdkError::ResponseError(_) => "unreadable response from DynamoDB".to_string(),
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(failure) => {
            let mut chain = String::from("request not sent");
            let mut source = failure
                .as_connector_error()
                .map(|error| error as &(dyn std::error::Error + 'static));
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            chain
        }
        _ => "the request could not be built".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_expression_names_exactly_its_projections_attributes() {
        assert_eq!(
            expression(Projection::Legacy),
            "user_id, expires_at, #state, returnvalue, failedReason, stacktrace, target"
        );
        for projection in [Projection::Legacy, Projection::Job] {
            let named: Vec<String> = expression(projection)
                .split(", ")
                .map(|name| if name == "#state" { "state" } else { name }.to_string())
                .collect();
            assert_eq!(named, projection.attributes(), "{projection:?}");
        }
    }
}
