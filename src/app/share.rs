//! `POST /jobs/{job_id}/share`: a signed read link for the owner to hand out
//! (docs/API.md#post-jobsjob_idshare--a-shareable-read-link).

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::{to_raw, unix_now, App, Exchange};
use crate::auth::Refusal;
use crate::error::ApiError;
use crate::http::input::{
    json_body, json_object, path_id, share_lifetime, shareable_id, SHARE_DEFAULT_SECONDS,
};
use crate::http::routes::job_path;
use crate::http::Response;
use crate::store::{JobStore, Projection};

#[derive(Serialize)]
struct ShareLink<'a> {
    token: &'a str,
    expires_at: &'a str,
    url: &'a str,
}

impl<S: JobStore> App<S> {
    pub(super) async fn share(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let request = exchange.request;
        let signer = self.share.as_ref().ok_or(ApiError::NotConfigured)?;
        let expires_in = match json_body(request)? {
            None => SHARE_DEFAULT_SECONDS,
            Some(body) => share_lifetime(&json_object(body)?)?,
        };
        let job_id = path_id(segment)?;
        shareable_id(&job_id)?;
        // A `?token=` is a read grant, never an identity: only real credentials may share.
        let caller = self
            .caller(exchange)
            .await?
            .ok_or(ApiError::Unauthorized(Refusal::Missing))?;
        self.read_job(exchange, &job_id, Projection::Job, |owner| {
            owner == caller.user_id
        })
        .await?;

        let expires_at = unix_now() + expires_in;
        let token = signer.mint(&job_id, expires_at);
        let url = format!("{}/result?token={token}", job_path(&job_id));
        let expires_at_text =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(expires_at))
                .to_string();
        let link = ShareLink {
            token: &token,
            expires_at: &expires_at_text,
            url: &url,
        };
        // Never compressed: the body carries the token (docs/API.md#compression-and-size-limits).
        Ok(Response::data(201, to_raw(&link)?)
            .with_header("location", url.clone())
            .never_compressed())
    }
}
