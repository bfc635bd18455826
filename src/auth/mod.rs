//! Caller identity: API Gateway authorizer contexts first, then a bearer JWT; share tokens.

pub mod bearer;
mod crypto;
pub mod jwks;
pub mod share;

use serde_json::Value;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::Request;
pub use bearer::BearerVerifier;
pub use share::ShareSigner;

/// Who the caller is, by the sources of API.md §4 in their order. Built once at init.
pub struct Identity {
    /// `JWT_USER_CLAIM`: where JWT and Cognito authorizers, and bearer tokens, put the user id.
    user_claim: String,
    bearer: Option<BearerVerifier>,
}

impl Identity {
    pub fn new(config: &Config) -> Self {
        Self::with_bearer(config, config.jwt.as_ref().map(BearerVerifier::new))
    }

    /// As `new`, with the bearer verifier given (tests give one with their own key set).
    pub fn with_bearer(config: &Config, bearer: Option<BearerVerifier>) -> Self {
        Identity {
            user_claim: config.user_claim.clone(),
            bearer,
        }
    }

    /// The identity provider's key set, fetched at init when it is configured.
    pub async fn prefetch_keys(&self) {
        if let Some(bearer) = &self.bearer {
            bearer.prefetch_keys().await;
        }
    }

    /// The caller's verified user id, `None` when no credentials came with the request.
    /// Credentials that came and are wrong are an error, never ignored.
    pub async fn caller(&self, request: &Request) -> Result<Option<String>, ApiError> {
        if let Some(user_id) = request
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer_identity(authorizer, &self.user_claim))
        {
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
        let verifier = self.bearer.as_ref().ok_or(ApiError::Unauthorized)?;
        verifier.verify(token).await.map(Some)
    }
}

/// The user id API Gateway's authorizer vouches for, if any, in the order API.md §4 gives:
/// HTTP API JWT authorizer claims, HTTP API Lambda authorizer, REST Lambda authorizer context,
/// its principal, REST Cognito authorizer claims. `authorizer.iam` is not a user identity.
pub fn authorizer_identity<'a>(authorizer: &'a Value, user_claim: &str) -> Option<&'a str> {
    // Looked up by key, not by JSON pointer: claim names such as `custom:id` may hold any
    // character, `/` and `~` included.
    let claim = |claims: Option<&'a Value>| claims?.get(user_claim);
    [
        claim(authorizer.get("jwt").and_then(|jwt| jwt.get("claims"))),
        authorizer
            .get("lambda")
            .and_then(|lambda| lambda.get("user_id")),
        authorizer.get("user_id"),
        authorizer.get("principalId"),
        claim(authorizer.get("claims")),
    ]
    .into_iter()
    .filter_map(|user_id| user_id?.as_str())
    .find(|user_id| !user_id.is_empty())
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
            assert_eq!(authorizer_identity(&shape, "sub"), Some("u1"), "{shape}");
        }
    }

    #[test]
    fn first_source_wins_and_empty_ids_are_skipped() {
        let both =
            json!({"jwt": {"claims": {"sub": "jwt-user"}}, "lambda": {"user_id": "lambda-user"}});
        assert_eq!(authorizer_identity(&both, "sub"), Some("jwt-user"));
        let empty = json!({"jwt": {"claims": {"sub": ""}}, "principalId": "p"});
        assert_eq!(authorizer_identity(&empty, "sub"), Some("p"));
        assert_eq!(
            authorizer_identity(&json!({"iam": {"accessKey": "x"}}), "sub"),
            None
        );
        assert_eq!(authorizer_identity(&json!({"principalId": 5}), "sub"), None);
    }

    #[test]
    fn the_user_claim_names_the_claim_of_jwt_and_cognito_authorizers() {
        let claim = "custom:flickr/user~id";
        let jwt = json!({"jwt": {"claims": {"sub": "provider-sub", claim: "u1"}}});
        let cognito = json!({"claims": {"sub": "provider-sub", claim: "u1"}});
        for shape in [&jwt, &cognito] {
            assert_eq!(authorizer_identity(shape, claim), Some("u1"), "{shape}");
            assert_eq!(authorizer_identity(shape, "sub"), Some("provider-sub"));
        }
        let without = json!({"jwt": {"claims": {"sub": "provider-sub"}}});
        assert_eq!(authorizer_identity(&without, claim), None);
        // Lambda authorizers name their user id themselves; the claim setting does not apply.
        let lambda = json!({"lambda": {"user_id": "u2"}});
        assert_eq!(authorizer_identity(&lambda, claim), Some("u2"));
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
