//! The HTTP edge: Lambda payloads → `Request`, routing, and `Response` → Lambda payloads.

pub mod compress;
pub mod deliver;
pub mod event;
pub mod input;
pub mod many;
pub mod negotiate;
pub mod response;
pub mod routes;

pub use compress::AcceptEncoding;
pub use deliver::{deliver, Delivered};
pub use event::{Body, Origin, Request};
pub use response::{LambdaResponse, Response};
pub use routes::Route;
