//! `POST /jobs/status`: the original API, ids in the body, kept compatible
//! (docs/API.md#post-jobsstatus--the-original-api).

use super::{to_raw, App, Exchange};
use crate::error::ApiError;
use crate::http::input::{json_body, json_object, non_empty_str, validate_id};
use crate::http::Response;
use crate::store::{JobStore, Projection};

impl<S: JobStore> App<S> {
    pub(super) async fn legacy_status(
        &self,
        exchange: &mut Exchange<'_>,
    ) -> Result<Response, ApiError> {
        let request = exchange.request;
        let body =
            json_object(json_body(request)?.ok_or(ApiError::invalid("request body is required"))?)?;
        let (Some(job_id), Some(user_id)) = (
            non_empty_str(&body, "job_id"),
            non_empty_str(&body, "user_id"),
        ) else {
            return Err(ApiError::invalid("job_id and user_id are required"));
        };
        validate_id("job_id", job_id)?;
        validate_id("user_id", user_id)?;
        // Credentials are optional here, but when sent they must be valid and name the body's user.
        let caller = self.caller(exchange).await?;

        let job = self
            .read_job(exchange, job_id, Projection::Legacy, |owner| {
                owner == user_id
                    && caller
                        .as_ref()
                        .is_none_or(|caller| caller.user_id == user_id)
            })
            .await?;
        Ok(Response::data(200, to_raw(&job.status_view(job_id))?))
    }
}
