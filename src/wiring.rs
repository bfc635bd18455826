//! The one place the function is assembled from its configuration: every part is built here,
//! once, at init, and handed to the constructor that needs it.

use crate::app::{App, Settings};
use crate::auth::jwks::{HttpsSource, KeySet};
use crate::auth::{BearerVerifier, Identity, ShareSigner};
use crate::config::Config;
use crate::store::JobStore;

/// The app over `store`, with the identity provider's key set fetched over HTTPS.
pub fn app<S: JobStore>(config: &Config, store: S) -> App<S> {
    let key_set = config
        .jwt
        .as_ref()
        .and_then(|jwt| jwt.jwks.as_ref())
        .map(|jwks| KeySet::new(Box::new(HttpsSource::new(&jwks.url)), jwks.timeout));
    app_with_key_set(config, store, key_set)
}

/// The app over `store` with a key set of the caller's (tests and benches give their own source).
pub fn app_with_key_set<S: JobStore>(config: &Config, store: S, key_set: Option<KeySet>) -> App<S> {
    let bearer = config
        .jwt
        .as_ref()
        .map(|jwt| BearerVerifier::new(jwt, key_set));
    App::new(
        store,
        Identity::new(config.user_claim.clone(), bearer),
        config.share_tokens.as_ref().map(ShareSigner::new),
        Settings::from_config(config),
    )
}
