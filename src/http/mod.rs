//! The HTTP edge: Lambda payloads → `Request`, routing, and `Response` → Lambda payloads.

pub mod event;
pub mod input;
pub mod response;
pub mod routes;

pub use event::{Body, Origin, Request};
pub use response::{LambdaResponse, Response};
pub use routes::Route;
