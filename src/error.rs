//! The one error type of the API, and its mapping to status, code and message.

use std::borrow::Cow;

use crate::auth::Refusal;

/// Every way a request can fail. Status codes and codes are chosen here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the message says what is wrong with the request (never with a record).
    InvalidRequest(Cow<'static, str>),
    /// 401: no identity, or credentials that were sent and are wrong; the reason goes to the
    /// log and to `WWW-Authenticate`, never to the body.
    Unauthorized(Refusal),
    /// 404 for a missing job and for another user's job alike, so neither can be told apart.
    JobNotFound,
    RouteNotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    UnsupportedMediaType,
    PayloadTooLarge,
    /// 406: the answer exceeds the front's response limit unless gzip-compressed, and the
    /// request does not accept gzip (docs/API.md#compression-and-size-limits).
    NotAcceptable,
    /// 501: the share route without `SHARE_TOKEN_SECRET`.
    NotConfigured,
    /// 501: `GET /jobs` without `JOBS_USER_INDEX`.
    ListingNotConfigured,
    /// 409 on the result route; carries `failedReason`, which the job's reader may see.
    JobFailed(String),
    /// 503: DynamoDB throttled, unreachable or too slow.
    ServiceUnavailable,
    /// 503: a bearer token needs the identity provider's key set, and it cannot be had.
    KeysUnavailable,
    /// 500: a corrupt record of the caller, or anything unexpected. Details go to the log only.
    Internal,
}

impl ApiError {
    pub fn invalid(message: &'static str) -> Self {
        ApiError::InvalidRequest(Cow::Borrowed(message))
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::JobNotFound | ApiError::RouteNotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::NotAcceptable => 406,
            ApiError::JobFailed(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Internal => 500,
            ApiError::NotConfigured | ApiError::ListingNotConfigured => 501,
            ApiError::ServiceUnavailable | ApiError::KeysUnavailable => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "ERR_INVALID_REQUEST",
            ApiError::Unauthorized(_) => "ERR_UNAUTHORIZED",
            ApiError::JobNotFound => "ERR_JOB_NOT_FOUND",
            ApiError::RouteNotFound => "ERR_ROUTE_NOT_FOUND",
            ApiError::MethodNotAllowed { .. } => "ERR_METHOD_NOT_ALLOWED",
            ApiError::NotAcceptable => "ERR_NOT_ACCEPTABLE",
            ApiError::JobFailed(_) => "ERR_JOB_FAILED",
            ApiError::PayloadTooLarge => "ERR_PAYLOAD_TOO_LARGE",
            ApiError::UnsupportedMediaType => "ERR_UNSUPPORTED_MEDIA_TYPE",
            ApiError::Internal => "ERR_INTERNAL",
            ApiError::NotConfigured | ApiError::ListingNotConfigured => "ERR_NOT_CONFIGURED",
            ApiError::ServiceUnavailable | ApiError::KeysUnavailable => "ERR_SERVICE_UNAVAILABLE",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::InvalidRequest(message) => message,
            ApiError::Unauthorized(_) => "valid credentials are required",
            ApiError::JobNotFound => "job_not_found",
            ApiError::RouteNotFound => "route not found",
            ApiError::MethodNotAllowed { .. } => "method not allowed",
            ApiError::NotAcceptable => {
                "the answer is too large to send uncompressed: send Accept-Encoding: gzip"
            }
            ApiError::JobFailed(reason) => reason,
            ApiError::PayloadTooLarge => "request body is larger than 64 KiB",
            ApiError::UnsupportedMediaType => "Content-Type must be application/json",
            ApiError::Internal => "internal error",
            ApiError::NotConfigured => "share links are not configured",
            ApiError::ListingNotConfigured => "listing jobs is not configured",
            ApiError::ServiceUnavailable => "the job store is unavailable, retry shortly",
            ApiError::KeysUnavailable => {
                "the identity provider's keys are unavailable, retry shortly"
            }
        }
    }

    /// Headers that belong to the error itself (beyond the ones every error carries).
    pub fn headers(&self) -> Vec<(&'static str, Cow<'static, str>)> {
        match self {
            ApiError::Unauthorized(refusal) => {
                vec![("www-authenticate", Cow::Borrowed(refusal.challenge()))]
            }
            ApiError::MethodNotAllowed { allow } => vec![("allow", Cow::Borrowed(*allow))],
            ApiError::ServiceUnavailable | ApiError::KeysUnavailable => {
                vec![("retry-after", Cow::Borrowed("1"))]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_nothing_specific() {
        assert_eq!(ApiError::Internal.status(), 500);
        assert_eq!(ApiError::Internal.message(), "internal error");
    }

    #[test]
    fn not_found_message_is_the_legacy_one() {
        assert_eq!(ApiError::JobNotFound.message(), "job_not_found");
        assert_eq!(ApiError::JobNotFound.code(), "ERR_JOB_NOT_FOUND");
    }

    #[test]
    fn error_headers_follow_the_contract() {
        assert_eq!(
            ApiError::Unauthorized(Refusal::Missing).headers(),
            vec![("www-authenticate", Cow::Borrowed("Bearer"))]
        );
        assert_eq!(
            ApiError::Unauthorized(Refusal::Expired).headers(),
            vec![(
                "www-authenticate",
                Cow::Borrowed("Bearer error=\"invalid_token\"")
            )]
        );
        assert_eq!(
            ApiError::ServiceUnavailable.headers(),
            vec![("retry-after", Cow::Borrowed("1"))]
        );
        assert_eq!(
            ApiError::MethodNotAllowed { allow: "POST" }.headers(),
            vec![("allow", Cow::Borrowed("POST"))]
        );
    }
}
