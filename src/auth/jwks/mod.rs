//! The identity provider's public keys (JWKS), kept for the life of the process: fetched once
//! (at init when it can be), fetched again for an unknown `kid` at most once per 30 s, and, while
//! no set can be had, fetched with a back-off that grows from 1 s to 30 s. Nothing about a token is
//! trusted before its key, so no token can make the provider be fetched more often than that.
//!
//! The seams follow aws-jwt-verify's: `fetch` (where the bytes come from), `parse` (which keys
//! can be used), and this cache with its rules.

mod fetch;
mod parse;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

pub use fetch::{Fetch, HttpsSource, KeySetSource, MAX_KEY_SET_BYTES};
pub use parse::{parse_key_set, Jwk};

/// However many tokens name an unknown `kid`, the set is fetched again at most this often.
pub const UNKNOWN_KID_COOL_DOWN: Duration = Duration::from_secs(30);
/// After a failed fetch, the next one waits this long, doubling with each failure up to
/// `MAX_RETRY_AFTER`.
pub const FIRST_RETRY_AFTER: Duration = Duration::from_secs(1);
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The longest init waits for the key set: a hanging provider must not push init towards
/// Lambda's 10 s init limit.
pub const INIT_WAIT: Duration = Duration::from_secs(2);

/// Why no key could be given for a `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// A good, recent fetch of the set does not hold it: the token cannot be valid (401).
    UnknownKid,
    /// The set could not be had (unreachable, too slow, not a key set): the token might be
    /// valid, so the caller must retry (503), never be refused.
    Unavailable,
}

/// The kept key set and the rules for fetching it again. Built once at init, shared by every
/// invocation of the process.
pub struct KeySet {
    source: Box<dyn KeySetSource>,
    timeout: Duration,
    state: RwLock<State>,
    /// Held while fetching, so that concurrent requests share one fetch.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<HashMap<String, Arc<Jwk>>>>,
    /// Fetches finished so far; a waiter that sees it move knows a fetch answered for it too.
    attempts: u64,
    last_attempt_failed: bool,
    unknown_kid_fetch: Option<Instant>,
    /// Failed fetches in a row, and when the next fetch may start.
    failures: u32,
    retry_at: Option<Instant>,
}

impl State {
    fn find(&self, kid: &str) -> Option<Arc<Jwk>> {
        self.keys.as_ref()?.get(kid).cloned()
    }

    /// The answer for a `kid` the set does not hold, once no further fetch is due.
    fn miss(&self) -> KeyError {
        if self.keys.is_some() && !self.last_attempt_failed {
            KeyError::UnknownKid
        } else {
            KeyError::Unavailable
        }
    }

    /// Whether a fetch may start now: not during the unknown-`kid` cool-down (with a set held),
    /// nor during the back-off after a failure.
    fn may_fetch(&self, now: Instant) -> bool {
        let cooling_down = self.keys.is_some()
            && self
                .unknown_kid_fetch
                .is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_COOL_DOWN);
        let backing_off = self.retry_at.is_some_and(|at| now < at);
        !cooling_down && !backing_off
    }
}

impl KeySet {
    pub fn new(source: Box<dyn KeySetSource>, timeout: Duration) -> Self {
        KeySet {
            source,
            timeout,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The init-time fetch: bounded by `INIT_WAIT` (and the fetch timeout), and never an error
    /// (a slow identity provider must not fail init; requests fetch again when they need keys).
    pub async fn prefetch(&self) {
        let _fetching = self.fetching.lock().await;
        self.fetch_and_keep(false, self.timeout.min(INIT_WAIT))
            .await;
    }

    /// The key named `kid`, fetching the set when it is not held and a fetch is allowed
    /// (see `KeyError`).
    pub async fn key(&self, kid: &str) -> Result<Arc<Jwk>, KeyError> {
        let attempts_seen = {
            let state = self.read();
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
            if !state.may_fetch(Instant::now()) {
                return Err(state.miss());
            }
            state.attempts
        };
        let _fetching = self.fetching.lock().await;
        let unknown_kid = {
            let state = self.read();
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
            // A fetch finished while this request waited: its outcome answers this one too, so
            // a flood of requests costs one fetch and none waits for two.
            if state.attempts != attempts_seen || !state.may_fetch(Instant::now()) {
                return Err(state.miss());
            }
            state.keys.is_some()
        };
        self.fetch_and_keep(unknown_kid, self.timeout).await;
        let state = self.read();
        state.find(kid).ok_or_else(|| state.miss())
    }

    /// Fetches the set once (the caller holds `fetching`) and keeps it if it is good. A failed
    /// fetch, or one with no usable key, keeps the old set: its keys are still the provider's.
    async fn fetch_and_keep(&self, for_unknown_kid: bool, timeout: Duration) {
        let started = Instant::now();
        let fetched = match tokio::time::timeout(timeout, self.source.fetch()).await {
            Ok(Ok(body)) => parse_key_set(&body).and_then(|keys| {
                if keys.is_empty() {
                    Err("the key set holds no usable key".to_string())
                } else {
                    Ok(keys)
                }
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        };
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.attempts += 1;
        if for_unknown_kid {
            state.unknown_kid_fetch = Some(started);
        }
        match fetched {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "identity provider key set fetched");
                state.keys = Some(Arc::new(keys));
                state.last_attempt_failed = false;
                state.failures = 0;
                state.retry_at = None;
            }
            Err(error) => {
                state.last_attempt_failed = true;
                state.failures = state.failures.saturating_add(1);
                let wait = retry_after(state.failures);
                state.retry_at = Some(started + wait);
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "identity provider key set unavailable");
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the state is still whole.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The back-off after `failures` failed fetches in a row: 1 s, 2 s, 4 s, … up to 30 s.
fn retry_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    (FIRST_RETRY_AFTER * 2u32.pow(doublings)).min(MAX_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// RSA components need only be base64url here: parsing does not check the arithmetic.
    fn rsa(kid: &str) -> serde_json::Value {
        json!({"kty": "RSA", "kid": kid, "n": "q83vEjRWeJA", "e": "AQAB", "use": "sig"})
    }

    /// A key set source whose answer the test sets, counting fetches.
    #[derive(Clone, Default)]
    struct Scripted {
        answer: Arc<Mutex<Option<Result<String, String>>>>,
        delay: Arc<Mutex<Duration>>,
        fetches: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn answer(&self, answer: Option<Result<String, String>>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn keys(&self, keys: &[serde_json::Value]) {
            self.answer(Some(Ok(json!({ "keys": keys }).to_string())));
        }
        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    impl KeySetSource for Scripted {
        fn fetch(&self) -> Fetch {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone();
            let delay = *self.delay.lock().unwrap();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                match answer {
                    Some(answer) => answer.map(Bytes::from),
                    // No answer: hang past any timeout.
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn key_set(source: &Scripted) -> KeySet {
        KeySet::new(Box::new(source.clone()), Duration::from_millis(200))
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_fetches_at_most_once_per_cool_down() {
        let source = Scripted::default();
        source.keys(&[rsa("a")]);
        let keys = key_set(&source);
        keys.prefetch().await;
        assert_eq!(source.fetches(), 1);
        assert!(keys.key("a").await.is_ok());
        assert_eq!(source.fetches(), 1, "a kept key needs no fetch");

        // The provider rotates: a new kid appears and is accepted after one fetch.
        source.keys(&[rsa("a"), rsa("b")]);
        assert!(keys.key("b").await.is_ok());
        assert_eq!(source.fetches(), 2);

        // A flood of unknown kids within the cool-down: no fetch at all, each a plain 401.
        source.keys(&[rsa("a"), rsa("b"), rsa("c")]);
        for _ in 0..100 {
            assert_eq!(keys.key("zzz").await.err(), Some(KeyError::UnknownKid));
        }
        assert_eq!(source.fetches(), 2);
        assert_eq!(keys.key("c").await.err(), Some(KeyError::UnknownKid));

        tokio::time::advance(UNKNOWN_KID_COOL_DOWN).await;
        assert!(
            keys.key("c").await.is_ok(),
            "fetched again after the cool-down"
        );
        assert_eq!(source.fetches(), 3);
        assert_eq!(keys.key("zzz").await.err(), Some(KeyError::UnknownKid));
        assert_eq!(source.fetches(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share_one_fetch() {
        let source = Scripted::default();
        source.keys(&[rsa("a")]);
        let keys = key_set(&source);
        keys.prefetch().await;
        // The provider rotates and answers slowly, so that every lookup below overlaps the fetch.
        source.keys(&[rsa("a"), rsa("b")]);
        *source.delay.lock().unwrap() = Duration::from_millis(50);
        let lookups = (0..32).map(|i| {
            let kid = if i % 2 == 0 { "b" } else { "unknown" };
            keys.key(kid)
        });
        let results = futures::future::join_all(lookups).await;
        assert_eq!(source.fetches(), 2, "the init fetch and one shared refetch");
        for (i, result) in results.into_iter().enumerate() {
            match i % 2 {
                0 => assert!(result.is_ok()),
                _ => assert_eq!(result.err(), Some(KeyError::UnknownKid)),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_set_that_cannot_be_had_is_unavailable_never_unknown() {
        let source = Scripted::default();
        let keys = key_set(&source);
        // The provider hangs at init: init goes on, bounded by the timeout.
        source.answer(None);
        keys.prefetch().await;
        assert_eq!(keys.key("a").await.err(), Some(KeyError::Unavailable));
        assert_eq!(
            source.fetches(),
            1,
            "within the back-off: no fetch, a 503 at once"
        );
        for answer in [
            Err("connection refused".to_string()),
            Ok("<html>".to_string()),
        ] {
            tokio::time::advance(MAX_RETRY_AFTER).await;
            source.answer(Some(answer));
            assert_eq!(keys.key("a").await.err(), Some(KeyError::Unavailable));
        }
        assert_eq!(source.fetches(), 3);

        tokio::time::advance(MAX_RETRY_AFTER).await;
        source.keys(&[rsa("a")]);
        assert!(
            keys.key("a").await.is_ok(),
            "recovers once the provider answers"
        );
        // A set is held; the refetch for an unknown kid fails: the token might be valid.
        source.answer(Some(Err("connection refused".into())));
        assert_eq!(keys.key("new").await.err(), Some(KeyError::Unavailable));
        assert_eq!(
            keys.key("new").await.err(),
            Some(KeyError::Unavailable),
            "still 503 during the cool-down after a failed fetch"
        );
        assert!(keys.key("a").await.is_ok(), "the old set is kept");
    }

    /// With no set held and the provider failing, forged tokens (any `kid`) cannot make the
    /// function fetch more than the back-off allows: 1 s, 2 s, 4 s, … 30 s apart.
    #[tokio::test(start_paused = true)]
    async fn fetches_back_off_while_no_set_can_be_had() {
        let source = Scripted::default();
        source.answer(Some(Err("connection refused".into())));
        let keys = key_set(&source);
        keys.prefetch().await;
        let started = Instant::now();
        let mut fetch_times = Vec::new();
        // 100 requests a second for two minutes, each naming a new kid.
        for request in 0..12_000u32 {
            let before = source.fetches();
            assert_eq!(
                keys.key(&format!("forged-{request}")).await.err(),
                Some(KeyError::Unavailable)
            );
            if source.fetches() > before {
                fetch_times.push(started.elapsed().as_secs());
            }
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        // The init fetch failed at 0 s; then 1, 2, 4, 8, 16 s apart, then every 30 s.
        assert_eq!(fetch_times, [1, 3, 7, 15, 31, 61, 91], "{fetch_times:?}");
        assert_eq!(source.fetches(), 8, "8 fetches for 12,000 requests");

        // Once the provider answers again, the next allowed fetch gets the set, and the
        // back-off is over.
        source.keys(&[rsa("a")]);
        tokio::time::advance(MAX_RETRY_AFTER).await;
        assert!(keys.key("a").await.is_ok());
        assert_eq!(retry_after(1), FIRST_RETRY_AFTER);
        assert_eq!(retry_after(40), MAX_RETRY_AFTER);
    }

    /// An answer without a usable key (a provider glitch) is a failed fetch: the set held before
    /// stays, and valid tokens keep working.
    #[tokio::test(start_paused = true)]
    async fn an_empty_key_set_never_replaces_a_good_one() {
        let source = Scripted::default();
        source.keys(&[rsa("a")]);
        let keys = key_set(&source);
        keys.prefetch().await;
        for empty in [
            json!({"keys": []}),
            json!({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}),
        ] {
            source.answer(Some(Ok(empty.to_string())));
            assert_eq!(
                keys.key("unknown").await.err(),
                Some(KeyError::Unavailable),
                "an empty answer proves nothing about the kid"
            );
            assert!(keys.key("a").await.is_ok(), "the good set is kept");
            tokio::time::advance(UNKNOWN_KID_COOL_DOWN).await;
        }
    }

    /// Init waits at most `INIT_WAIT` for the key set, whatever the fetch timeout.
    #[tokio::test(start_paused = true)]
    async fn init_never_waits_longer_than_two_seconds() {
        let source = Scripted::default();
        source.answer(None);
        let keys = KeySet::new(Box::new(source.clone()), Duration::from_millis(5_000));
        let started = Instant::now();
        keys.prefetch().await;
        assert_eq!(started.elapsed(), INIT_WAIT);
    }
}
