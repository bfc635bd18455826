//! API Gateway's authorizer contexts: the user id they vouch for, in the order of
//! docs/API.md#8-caller-identity, failing closed on a user id field of the wrong type.

use serde_json::Value;

use super::Refusal;

/// The user id API Gateway's authorizer vouches for, if any, from the first of these fields that
/// is present: HTTP API JWT authorizer claims, HTTP API Lambda authorizer, REST Lambda authorizer
/// context, its principal, REST Cognito authorizer claims. `authorizer.iam` is not a user
/// identity. A present field that is not a non-empty string is a refusal (401), never a reason
/// to look further: an authorizer that got the user wrong must not let another source decide.
pub fn authorizer_identity<'a>(
    authorizer: &'a Value,
    user_claim: &str,
) -> Result<Option<&'a str>, Refusal> {
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
    .flatten()
    .next()
    .map(|user_id| match user_id {
        Value::String(user_id) if !user_id.is_empty() => Ok(user_id.as_str()),
        _ => Err(Refusal::AuthorizerIdentity),
    })
    .transpose()
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
            assert_eq!(
                authorizer_identity(&shape, "sub"),
                Ok(Some("u1")),
                "{shape}"
            );
        }
    }

    #[test]
    fn first_source_wins_and_empty_ids_are_skipped() {
        let both =
            json!({"jwt": {"claims": {"sub": "jwt-user"}}, "lambda": {"user_id": "lambda-user"}});
        assert_eq!(authorizer_identity(&both, "sub"), Ok(Some("jwt-user")));
        assert_eq!(
            authorizer_identity(&json!({"iam": {"accessKey": "x"}}), "sub"),
            Ok(None)
        );
        assert_eq!(authorizer_identity(&json!({}), "sub"), Ok(None));
    }

    #[test]
    fn a_user_id_field_of_the_wrong_type_fails_closed() {
        for shape in [
            json!({"jwt": {"claims": {"sub": ""}}, "principalId": "p"}),
            json!({"jwt": {"claims": {"sub": 5}}, "lambda": {"user_id": "u"}}),
            json!({"lambda": {"user_id": {"id": "u"}}}),
            json!({"user_id": null, "principalId": "p"}),
            json!({"principalId": 5}),
            json!({"claims": {"sub": ["u"]}}),
        ] {
            assert_eq!(
                authorizer_identity(&shape, "sub"),
                Err(Refusal::AuthorizerIdentity),
                "{shape}"
            );
        }
    }

    #[test]
    fn the_user_claim_names_the_claim_of_jwt_and_cognito_authorizers() {
        let claim = "custom:flickr/user~id";
        let jwt = json!({"jwt": {"claims": {"sub": "provider-sub", claim: "u1"}}});
        let cognito = json!({"claims": {"sub": "provider-sub", claim: "u1"}});
        for shape in [&jwt, &cognito] {
            assert_eq!(authorizer_identity(shape, claim), Ok(Some("u1")), "{shape}");
            assert_eq!(authorizer_identity(shape, "sub"), Ok(Some("provider-sub")));
        }
        let without = json!({"jwt": {"claims": {"sub": "provider-sub"}}});
        assert_eq!(authorizer_identity(&without, claim), Ok(None));
        // Lambda authorizers name their user id themselves; the claim setting does not apply.
        let lambda = json!({"lambda": {"user_id": "u2"}});
        assert_eq!(authorizer_identity(&lambda, claim), Ok(Some("u2")));
    }
}
