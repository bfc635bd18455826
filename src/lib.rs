//! flickr-job-status: the job status and result API of the Flickr job system, as one Lambda.
//!
//! The request flows one way: `lambda` (raw event) → `http` (request, route) → `app` (checks,
//! identity from `auth`, one read from `store`, the view from `jobs`) → `http` (envelope).

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod logging;
pub mod store;
pub mod telemetry;
