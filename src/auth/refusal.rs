//! Why credentials were refused: one reason per kind of failure, named in the request's log
//! line and told apart in `WWW-Authenticate` as RFC 6750 asks. The response body is the same for
//! every reason (docs/API.md#8-caller-identity).

/// A refusal of credentials (401). Never carries the token, a claim value or key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials came with a request that needs them.
    Missing,
    /// The token's `exp` (plus the leeway) has passed.
    Expired,
    /// The token's `nbf` (less the leeway) is still to come.
    NotYetValid,
    /// The signature does not verify with any key the token may use.
    BadSignature,
    /// The token names a `kid` the identity provider's key set does not hold (or none).
    UnknownKid,
    /// `alg` is not one this function accepts, has no configured key source, or does not fit the key.
    AlgorithmNotAllowed,
    /// A `crit` header: the function understands no JWS extension.
    CriticalHeader,
    WrongIssuer,
    WrongAudience,
    WrongTokenUse,
    /// The user id claim is missing, empty or not a string.
    UserClaim,
    /// Not a JWT at all, not `Bearer <token>`, a repeated `Authorization`, or a required claim missing.
    Malformed,
    /// An authorizer context that carries the user id field, but not as a non-empty string.
    AuthorizerIdentity,
    /// A `?token=` that is not a valid share token for this job (forged, of another job, empty, repeated).
    ShareTokenInvalid,
    /// A share token past its expiry.
    ShareTokenExpired,
    /// A `?token=` while share links are not configured.
    ShareTokensNotConfigured,
    /// A `?token=` on `GET /jobs` or `POST /jobs/batch`: a share token is for one job, never
    /// an identity that lists or batches.
    ShareTokenNotIdentity,
}

impl Refusal {
    /// The reason as the request's log line names it.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Missing => "no credentials",
            Refusal::Expired => "token expired",
            Refusal::NotYetValid => "token not yet valid",
            Refusal::BadSignature => "bad signature",
            Refusal::UnknownKid => "unknown kid",
            Refusal::AlgorithmNotAllowed => "algorithm not allowed",
            Refusal::CriticalHeader => "crit header",
            Refusal::WrongIssuer => "wrong issuer",
            Refusal::WrongAudience => "wrong audience",
            Refusal::WrongTokenUse => "wrong token_use",
            Refusal::UserClaim => "user claim missing or not a string",
            Refusal::Malformed => "malformed credentials",
            Refusal::AuthorizerIdentity => "authorizer user id not a non-empty string",
            Refusal::ShareTokenInvalid => "share token invalid",
            Refusal::ShareTokenExpired => "share token expired",
            Refusal::ShareTokensNotConfigured => "share tokens not configured",
            Refusal::ShareTokenNotIdentity => "share token is no identity for this route",
        }
    }

    /// `WWW-Authenticate`: plain `Bearer` when nothing was sent, `error="invalid_token"` when
    /// something was sent and refused (RFC 6750 §3.1).
    pub fn challenge(self) -> &'static str {
        match self {
            Refusal::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_credentials_get_the_bare_challenge() {
        assert_eq!(Refusal::Missing.challenge(), "Bearer");
        for sent in [
            Refusal::Expired,
            Refusal::ShareTokenInvalid,
            Refusal::AuthorizerIdentity,
        ] {
            assert_eq!(
                sent.challenge(),
                "Bearer error=\"invalid_token\"",
                "{sent:?}"
            );
        }
    }
}
