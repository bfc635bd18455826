//! `POST /jobs/batch`: many jobs by id in one call, answered in request order
//! (docs/API.md#post-jobsbatch--many-jobs-by-id).

use std::time::SystemTime;

use serde::Serialize;

use super::many::{judge, Element, Judged};
use super::{to_raw, App, Exchange};
use crate::error::ApiError;
use crate::http::input::{json_body, json_object};
use crate::http::many::batch_ids;
use crate::http::Response;
use crate::store::JobStore;

#[derive(Serialize)]
struct BatchView<'a> {
    jobs: Vec<Element<'a>>,
}

impl<S: JobStore> App<S> {
    pub(super) async fn batch(&self, exchange: &mut Exchange<'_>) -> Result<Response, ApiError> {
        let body = json_body(exchange.request)?.ok_or(ApiError::invalid(
            "request body is required: {\"job_ids\": [...]}",
        ))?;
        let job_ids = batch_ids(&json_object(body)?)?;
        let caller = self.required_caller(exchange).await?;
        let mut found = self
            .store_call(exchange, self.store.get_many(&job_ids))
            .await?;
        let now = SystemTime::now();
        // Missing, expired and another user's jobs are the same not-found element.
        let mut judged: Vec<Judged> = Vec::with_capacity(job_ids.len());
        for job_id in job_ids {
            let record = found.remove(&job_id);
            judged.push(judge(job_id, record, &caller, now).await);
        }
        let view = BatchView {
            jobs: judged.iter().map(Element::of).collect(),
        };
        Ok(Response::data(200, to_raw(&view)?))
    }
}
