//! Wiring only: configuration, logging, the DynamoDB client and the runtime loop.

use flickr_job_status::{config::Config, lambda, store::DynamoStore, wiring};
use lambda_runtime::Error;

fn main() -> Result<(), Error> {
    let max_concurrency = lambda::max_concurrency();
    if max_concurrency > 1 {
        flickr_job_status::malloc::keep_big_blocks_out_of_the_heap();
    }
    flickr_job_status::logging::init();
    lambda::tokio_runtime(max_concurrency)?.block_on(run())
}

async fn run() -> Result<(), Error> {
    let config =
        Config::from_env().inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let app = wiring::app(&config, DynamoStore::from_config(&config));
    // The two outside dependencies warm up side by side: init grows by the slower one only.
    tokio::join!(app.store().warm_up(), app.prefetch_keys());
    lambda::serve(app).await
}
