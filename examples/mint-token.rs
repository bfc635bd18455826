//! Dev tool: prints a bearer token for a user id, signed like the function expects.
//!
//! `cargo run --example mint-token -- USER_ID [TTL_SECONDS]`; the secret, issuer and audience
//! come from `JWT_SECRET` (default: the local run's dev secret), `JWT_ISSUER`, `JWT_AUDIENCE`.

use flickr_job_status::auth::bearer::{mint, Claims};

const LOCAL_DEV_SECRET: &str = "local-dev-jwt-secret";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let user_id = args
        .next()
        .ok_or("usage: mint-token USER_ID [TTL_SECONDS]")?;
    let ttl: u64 = args
        .next()
        .map(|ttl| ttl.parse())
        .transpose()?
        .unwrap_or(3600);
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| LOCAL_DEV_SECRET.to_string());
    let claims = Claims {
        sub: user_id,
        exp: jsonwebtoken::get_current_timestamp() + ttl,
        nbf: None,
        iss: std::env::var("JWT_ISSUER").ok(),
        aud: std::env::var("JWT_AUDIENCE").ok(),
    };
    println!("{}", mint(secret.as_bytes(), &claims)?);
    Ok(())
}
