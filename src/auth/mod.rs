//! Caller identity: API Gateway authorizer contexts first, then a bearer JWT; share tokens.

pub mod algorithms;
mod authorizer;
pub mod bearer;
mod crypto;
pub mod jwks;
pub mod page_token;
mod refusal;
pub mod share;

use crate::error::ApiError;
use crate::http::Request;
pub use authorizer::authorizer_identity;
pub use bearer::BearerVerifier;
pub use page_token::PageTokens;
pub use refusal::Refusal;
pub use share::ShareSigner;

/// A verified caller: who, and until when the credentials that say so hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// Unix seconds after which the credentials no longer hold (a bearer token's `exp` plus
    /// the leeway); `None` for an authorizer's identity, which API Gateway vouched for once.
    pub expires_at: Option<u64>,
}

/// Who the caller is, by the sources of docs/API.md#8-caller-identity in their order. Built once at init.
pub struct Identity {
    /// `JWT_USER_CLAIM`: where JWT and Cognito authorizers, and bearer tokens, put the user id.
    user_claim: String,
    bearer: Option<BearerVerifier>,
}

impl Identity {
    /// `user_claim` is `JWT_USER_CLAIM`; `bearer` is `None` when bearer tokens are not configured
    /// (every one is then refused).
    pub fn new(user_claim: String, bearer: Option<BearerVerifier>) -> Self {
        Identity { user_claim, bearer }
    }

    /// The identity provider's key set, fetched at init when it is configured.
    pub async fn prefetch_keys(&self) {
        if let Some(bearer) = &self.bearer {
            bearer.prefetch_keys().await;
        }
    }

    /// The caller's verified user id, `None` when no credentials came with the request.
    /// Credentials that came and are wrong are an error, never ignored.
    pub async fn caller(&self, request: &Request) -> Result<Option<Caller>, ApiError> {
        if let Some(authorizer) = &request.authorizer {
            // An authorizer that names the user wrongly fails closed: never a fall-through.
            let user_id = authorizer_identity(authorizer, &self.user_claim)
                .map_err(ApiError::Unauthorized)?;
            if let Some(user_id) = user_id {
                return Ok(Some(Caller {
                    user_id: user_id.to_string(),
                    expires_at: None,
                }));
            }
        }
        let mut authorization = request.header_values("authorization");
        let Some(value) = authorization.next() else {
            return Ok(None);
        };
        if authorization.next().is_some() {
            return Err(ApiError::Unauthorized(Refusal::Malformed));
        }
        let token = bearer_token(value).ok_or(ApiError::Unauthorized(Refusal::Malformed))?;
        // No key source configured at all: no algorithm can be verified.
        let verifier = self
            .bearer
            .as_ref()
            .ok_or(ApiError::Unauthorized(Refusal::AlgorithmNotAllowed))?;
        verifier.verify(token).await.map(Some)
    }
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

    #[test]
    fn bearer_scheme_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
