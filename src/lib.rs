//! flickr-job-status: the job status and result API of the Flickr job system, as one Lambda.
//!
//! The request flows one way: `lambda` (raw event) → `http` (request, route) → `app` (checks,
//! identity from `auth`, one read from `store`, the view from `jobs`) → `http` (envelope).
//! `wiring` builds it all from `config` once, at init.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod logging;
pub mod malloc;
pub mod page;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wiring;
