//! Caller identity: API Gateway authorizer contexts first, then a bearer JWT; share tokens.

pub mod bearer;
pub mod share;

use serde_json::Value;

use crate::error::ApiError;
use crate::http::Request;
pub use bearer::BearerVerifier;
pub use share::ShareSigner;

/// Where each authorizer puts the user id, in the order API.md §4 gives them.
const AUTHORIZER_USER_ID: [&str; 5] = [
    "/jwt/claims/sub", // HTTP API JWT authorizer
    "/lambda/user_id", // HTTP API Lambda authorizer
    "/user_id",        // REST API Lambda authorizer context
    "/principalId",    // REST API Lambda authorizer
    "/claims/sub",     // REST API Cognito user pool authorizer
];

/// The user id API Gateway's authorizer vouches for, if any.
pub fn authorizer_identity(authorizer: &Value) -> Option<&str> {
    AUTHORIZER_USER_ID
        .iter()
        .filter_map(|pointer| authorizer.pointer(pointer)?.as_str())
        .find(|user_id| !user_id.is_empty())
}

/// The caller's verified user id, `None` when no credentials came with the request.
/// Credentials that came and are wrong are an error, never ignored.
pub fn caller_identity(
    request: &Request,
    bearer: Option<&BearerVerifier>,
) -> Result<Option<String>, ApiError> {
    if let Some(user_id) = request.authorizer.as_ref().and_then(authorizer_identity) {
        return Ok(Some(user_id.to_string()));
    }
    let mut authorization = request.header_values("authorization");
    let Some(value) = authorization.next() else {
        return Ok(None);
    };
    if authorization.next().is_some() {
        return Err(ApiError::Unauthorized);
    }
    let token = bearer_token(value).ok_or(ApiError::Unauthorized)?;
    let verifier = bearer.ok_or(ApiError::Unauthorized)?;
    verifier
        .verify(token)
        .map(Some)
        .ok_or(ApiError::Unauthorized)
}

/// `Bearer <token>`, the scheme matched case-insensitively (RFC 9110 §11.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_authorizer_shape_gives_the_user() {
        let shapes = [
            json!({"jwt": {"claims": {"sub": "u1"}, "scopes": null}}),
            json!({"lambda": {"user_id": "u1"}}),
            json!({"user_id": "u1", "principalId": "someone-else"}),
            json!({"principalId": "u1"}),
            json!({"claims": {"sub": "u1"}}),
        ];
        for shape in shapes {
            assert_eq!(authorizer_identity(&shape), Some("u1"), "{shape}");
        }
    }

    #[test]
    fn first_source_wins_and_empty_ids_are_skipped() {
        let both =
            json!({"jwt": {"claims": {"sub": "jwt-user"}}, "lambda": {"user_id": "lambda-user"}});
        assert_eq!(authorizer_identity(&both), Some("jwt-user"));
        let empty = json!({"jwt": {"claims": {"sub": ""}}, "principalId": "p"});
        assert_eq!(authorizer_identity(&empty), Some("p"));
        assert_eq!(
            authorizer_identity(&json!({"iam": {"accessKey": "x"}})),
            None
        );
        assert_eq!(authorizer_identity(&json!({"principalId": 5})), None);
    }

    #[test]
    fn bearer_scheme_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
