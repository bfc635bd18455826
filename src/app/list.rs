//! `GET /jobs`: the caller's jobs, newest first, a page at a time — one `Query` of the user
//! index per request (docs/API.md#get-jobs--the-callers-jobs).

use std::time::SystemTime;

use serde::Serialize;

use super::many::{judge, Element, Judged};
use super::{to_raw, App, Exchange};
use crate::error::ApiError;
use crate::http::many::ListParams;
use crate::http::Response;
use crate::store::{JobStore, ListQuery};

#[derive(Serialize)]
struct ListView<'a> {
    jobs: Vec<Element<'a>>,
    next_page_token: Option<String>,
}

impl<S: JobStore> App<S> {
    pub(super) async fn list_jobs(
        &self,
        exchange: &mut Exchange<'_>,
    ) -> Result<Response, ApiError> {
        let tokens = self
            .settings
            .page_tokens
            .as_ref()
            .ok_or(ApiError::ListingNotConfigured)?;
        let params = ListParams::from_request(exchange.request)?;
        let caller = self.required_caller(exchange).await?;
        // The partition is the caller's; a token only says where in it to start, and only
        // when it was made for this caller and this filter.
        let start = match params.page_token {
            None => None,
            Some(token) => Some(
                tokens
                    .open(token, &caller.user_id, params.state)
                    .ok_or(ApiError::invalid("invalid page_token"))?,
            ),
        };
        let query = ListQuery {
            user_id: &caller.user_id,
            state: params.state,
            limit: params.page_size,
            start,
        };
        let page = self
            .store_call(exchange, self.store.query_by_user(&query))
            .await?;
        let now = SystemTime::now();
        // Expired records are left out; corrupt ones of the caller are listed as errors.
        let mut judged: Vec<Judged> = Vec::with_capacity(page.jobs.len());
        for (job_id, record) in page.jobs {
            let element = judge(job_id, Some(record), &caller, now).await;
            if !matches!(element.1, Err(ApiError::JobNotFound)) {
                judged.push(element);
            }
        }
        let view = ListView {
            jobs: judged.iter().map(Element::of).collect(),
            next_page_token: page
                .next
                .map(|start| tokens.mint(&caller.user_id, params.state, &start)),
        };
        Ok(Response::data(200, to_raw(&view)?))
    }
}
