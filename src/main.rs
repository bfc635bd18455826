//! Wiring only: configuration, logging, the DynamoDB client and the runtime loop.

use flickr_job_status::{app::App, config::Config, lambda::handle_event, store::DynamoStore};
use lambda_runtime::{service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    flickr_job_status::logging::init();
    let config =
        Config::from_env().inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let app = App::new(&config, DynamoStore::from_config(&config).await);
    // The two outside dependencies warm up side by side: init grows by the slower one only.
    tokio::join!(app.store().warm_up(), app.prefetch_keys());
    lambda_runtime::run(service_fn(|event| handle_event(&app, event))).await
}
