//! Environment → a typed, validated `Config`, read once at init.

use std::time::Duration;

/// Everything the function reads from its environment, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub jobs_table: String,
    /// The table's partition key attribute (S); an existing table of the workers may use `id`.
    pub jobs_table_key: String,
    pub consistent_read: bool,
    /// Per-attempt DynamoDB timeout; the SDK's retries multiply it, the Lambda deadline caps it.
    pub dynamodb_timeout: Duration,
    pub poll_interval_seconds: u32,
    /// The claim that holds the user id, in bearer tokens and in authorizer claims.
    pub user_claim: String,
    pub jwt: Option<JwtConfig>,
    pub share_tokens: Option<Secrets>,
    /// The longest `Prefer: wait` (`WAIT_MAX_SECONDS`); zero turns waiting off.
    pub wait_max: Duration,
    /// How often a held request reads the record again (`WAIT_POLL_INTERVAL_MS`).
    pub wait_poll_interval: Duration,
    /// The user index of `GET /jobs` (`JOBS_USER_INDEX`); unset: the route answers 501.
    pub jobs_user_index: Option<String>,
}

/// A signing secret and, while it is being rotated, the one before it (verifies, never signs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

/// Bearer-token verification settings; present when `JWT_SECRET` or `JWT_JWKS_URL` is set.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// HS256 tokens; `None` refuses them.
    pub secrets: Option<Secrets>,
    /// The identity provider's key set for RS/PS/ES tokens; `None` refuses them.
    pub jwks: Option<JwksConfig>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// `access` or `id`: the Cognito `token_use` claim a token must carry.
    pub token_use: Option<String>,
    pub user_claim: String,
}

/// Where the identity provider publishes its public keys, and how long one fetch may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksConfig {
    pub url: String,
    pub timeout: Duration,
}

/// A configuration problem, reported at init with the variable's name.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` so tests need not touch the process environment.
    /// Empty values count as unset: a blank secret must never mean "every token is valid".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let jobs_table = var("JOBS_TABLE").ok_or_else(|| {
            ConfigError(
                "JOBS_TABLE is required: set it to the DynamoDB table of job records".into(),
            )
        })?;
        let consistent_read = match var("CONSISTENT_READ") {
            None => true,
            Some(value) => parse_bool("CONSISTENT_READ", &value)?,
        };
        let timeout_ms: u64 =
            parse_number("DYNAMODB_TIMEOUT_MS", var("DYNAMODB_TIMEOUT_MS"), 1500)?;
        if !(1..=60_000).contains(&timeout_ms) {
            return Err(ConfigError(format!(
                "DYNAMODB_TIMEOUT_MS must be between 1 and 60000, got {timeout_ms}"
            )));
        }
        let poll_interval_seconds =
            parse_number("POLL_INTERVAL_SECONDS", var("POLL_INTERVAL_SECONDS"), 2)?;
        let jobs_table_key = var("JOBS_TABLE_KEY").unwrap_or_else(|| "jobId".to_string());
        if jobs_table_key.len() > 255 {
            return Err(ConfigError(
                "JOBS_TABLE_KEY must be an attribute name of at most 255 bytes".into(),
            ));
        }
        let user_claim = var("JWT_USER_CLAIM").unwrap_or_else(|| "sub".to_string());
        // At most 25 s: the HTTP API gives up after 30 s, and the answer needs its margin.
        let wait_max = ranged("WAIT_MAX_SECONDS", var("WAIT_MAX_SECONDS"), 20, 0..=25)?;
        let wait_poll_interval = ranged(
            "WAIT_POLL_INTERVAL_MS",
            var("WAIT_POLL_INTERVAL_MS"),
            500,
            100..=5000,
        )?;

        let jwt_secrets = secrets(&var, "JWT_SECRET", "JWT_SECRET_PREVIOUS")?;
        let jwks = match var("JWT_JWKS_URL") {
            None => None,
            Some(url) => {
                check_jwks_url(&url)?;
                let timeout_ms: u64 =
                    parse_number("JWT_JWKS_TIMEOUT_MS", var("JWT_JWKS_TIMEOUT_MS"), 1000)?;
                // A fetch the provider holds open must not keep requests (two fetches of it, at
                // most, before a 503) or init waiting for long; init waits 2 s at most anyway.
                if !(100..=5_000).contains(&timeout_ms) {
                    return Err(ConfigError(format!(
                        "JWT_JWKS_TIMEOUT_MS must be between 100 and 5000, got {timeout_ms}"
                    )));
                }
                Some(JwksConfig {
                    url,
                    timeout: Duration::from_millis(timeout_ms),
                })
            }
        };
        let token_use = var("JWT_TOKEN_USE");
        if let Some(token_use) = &token_use {
            if token_use != "access" && token_use != "id" {
                return Err(ConfigError(format!(
                    "JWT_TOKEN_USE must be access or id, got {token_use:?}"
                )));
            }
        }
        let jwt = (jwt_secrets.is_some() || jwks.is_some()).then(|| JwtConfig {
            secrets: jwt_secrets,
            jwks,
            issuer: var("JWT_ISSUER"),
            audience: var("JWT_AUDIENCE"),
            token_use,
            user_claim: user_claim.clone(),
        });

        Ok(Config {
            jobs_table,
            jobs_table_key,
            consistent_read,
            dynamodb_timeout: Duration::from_millis(timeout_ms),
            poll_interval_seconds,
            user_claim,
            jwt,
            share_tokens: secrets(&var, "SHARE_TOKEN_SECRET", "SHARE_TOKEN_SECRET_PREVIOUS")?,
            wait_max: Duration::from_secs(wait_max),
            wait_poll_interval: Duration::from_millis(wait_poll_interval),
            jobs_user_index: var("JOBS_USER_INDEX"),
        })
    }
}

/// A current secret and its optional predecessor. A predecessor alone is a mistake made
/// mid-rotation (the new secret was never set): refused at init rather than signing with it.
fn secrets(
    var: &impl Fn(&str) -> Option<String>,
    current: &str,
    previous: &str,
) -> Result<Option<Secrets>, ConfigError> {
    match (var(current), var(previous)) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError(format!(
            "{previous} is set without {current}: set {current} to the new secret"
        ))),
        (Some(current), previous) => Ok(Some(Secrets {
            current: current.into_bytes(),
            previous: previous.map(String::into_bytes),
        })),
    }
}

/// `https`, or plain `http` to this machine only: keys fetched in clear text over a network
/// could be swapped by anyone on the path.
fn check_jwks_url(url: &str) -> Result<(), ConfigError> {
    let invalid = || {
        ConfigError(format!(
            "JWT_JWKS_URL must be an https URL (http only to a loopback host), got {url:?}"
        ))
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid())?;
    let host = uri.host().ok_or_else(invalid)?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        _ => Err(invalid()),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError(format!(
            "{name} must be true or false, got {value:?}"
        ))),
    }
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number, got {value:?}"))),
    }
}

/// A whole number within `range`, or the error naming the variable and the range.
fn ranged(
    name: &str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let value = parse_number(name, value, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError(format!(
            "{name} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = config(&[("JOBS_TABLE", "jobs")]).unwrap();
        assert_eq!(config.jobs_table, "jobs");
        assert_eq!(config.jobs_table_key, "jobId");
        assert_eq!(config.user_claim, "sub");
        assert!(config.consistent_read);
        assert_eq!(config.dynamodb_timeout, Duration::from_millis(1500));
        assert_eq!(config.poll_interval_seconds, 2);
        assert!(config.jwt.is_none());
        assert!(config.share_tokens.is_none());
        assert_eq!(config.wait_max, Duration::from_secs(20));
        assert_eq!(config.wait_poll_interval, Duration::from_millis(500));
        assert_eq!(config.jobs_user_index, None);
    }

    #[test]
    fn the_user_index_is_read_and_blank_is_unset() {
        let set = config(&[("JOBS_TABLE", "jobs"), ("JOBS_USER_INDEX", "by-user")]).unwrap();
        assert_eq!(set.jobs_user_index.as_deref(), Some("by-user"));
        let blank = config(&[("JOBS_TABLE", "jobs"), ("JOBS_USER_INDEX", " ")]).unwrap();
        assert_eq!(blank.jobs_user_index, None);
    }

    #[test]
    fn wait_settings_are_read_within_their_ranges() {
        for (max, interval) in [("0", "100"), ("25", "5000"), ("7", "250")] {
            let config = config(&[
                ("JOBS_TABLE", "jobs"),
                ("WAIT_MAX_SECONDS", max),
                ("WAIT_POLL_INTERVAL_MS", interval),
            ])
            .unwrap();
            assert_eq!(config.wait_max.as_secs().to_string(), max);
            assert_eq!(config.wait_poll_interval.as_millis().to_string(), interval);
        }
        for (name, value) in [
            ("WAIT_MAX_SECONDS", "26"),
            ("WAIT_MAX_SECONDS", "-1"),
            ("WAIT_MAX_SECONDS", "soon"),
            ("WAIT_POLL_INTERVAL_MS", "99"),
            ("WAIT_POLL_INTERVAL_MS", "5001"),
            ("WAIT_POLL_INTERVAL_MS", "0.5"),
        ] {
            let err = config(&[("JOBS_TABLE", "jobs"), (name, value)]).unwrap_err();
            assert!(err.0.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn missing_table_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert!(err.0.contains("JOBS_TABLE"), "{err}");
        assert!(config(&[("JOBS_TABLE", "  ")]).is_err());
    }

    #[test]
    fn invalid_values_are_refused_at_init() {
        for (name, value) in [
            ("CONSISTENT_READ", "maybe"),
            ("DYNAMODB_TIMEOUT_MS", "fast"),
            ("DYNAMODB_TIMEOUT_MS", "0"),
            ("POLL_INTERVAL_SECONDS", "-1"),
            ("JWT_JWKS_URL", "http://idp.example.com/jwks.json"),
            ("JWT_JWKS_URL", "ftp://127.0.0.1/jwks.json"),
            ("JWT_JWKS_URL", "not a url"),
            ("JWT_TOKEN_USE", "refresh"),
            ("JOBS_TABLE_KEY", &"k".repeat(256)),
        ] {
            let err = config(&[("JOBS_TABLE", "jobs"), (name, value)]).unwrap_err();
            assert!(err.0.contains(name), "{err}");
        }
    }

    #[test]
    fn reads_every_setting() {
        let config = config(&[
            ("JOBS_TABLE", "jobs"),
            ("CONSISTENT_READ", "false"),
            ("DYNAMODB_TIMEOUT_MS", "250"),
            ("POLL_INTERVAL_SECONDS", "5"),
            ("JWT_SECRET", "s3cret"),
            ("JWT_SECRET_PREVIOUS", "old"),
            (
                "JWT_JWKS_URL",
                "https://idp.example.com/.well-known/jwks.json",
            ),
            ("JWT_JWKS_TIMEOUT_MS", "400"),
            ("JWT_ISSUER", "https://issuer"),
            ("JWT_AUDIENCE", "jobs-api"),
            ("JWT_TOKEN_USE", "access"),
            ("JWT_USER_CLAIM", "custom:flickr_user_id"),
            ("JOBS_TABLE_KEY", "id"),
            ("SHARE_TOKEN_SECRET", "share"),
            ("SHARE_TOKEN_SECRET_PREVIOUS", "old-share"),
        ])
        .unwrap();
        assert!(!config.consistent_read);
        assert_eq!(config.jobs_table_key, "id");
        assert_eq!(config.dynamodb_timeout, Duration::from_millis(250));
        assert_eq!(config.poll_interval_seconds, 5);
        assert_eq!(config.user_claim, "custom:flickr_user_id");
        let jwt = config.jwt.unwrap();
        assert_eq!(
            jwt.secrets,
            Some(Secrets {
                current: b"s3cret".to_vec(),
                previous: Some(b"old".to_vec())
            })
        );
        assert_eq!(
            jwt.jwks,
            Some(JwksConfig {
                url: "https://idp.example.com/.well-known/jwks.json".into(),
                timeout: Duration::from_millis(400)
            })
        );
        assert_eq!(jwt.issuer.as_deref(), Some("https://issuer"));
        assert_eq!(jwt.audience.as_deref(), Some("jobs-api"));
        assert_eq!(jwt.token_use.as_deref(), Some("access"));
        assert_eq!(jwt.user_claim, "custom:flickr_user_id");
        assert_eq!(
            config.share_tokens,
            Some(Secrets {
                current: b"share".to_vec(),
                previous: Some(b"old-share".to_vec())
            })
        );
    }

    #[test]
    fn a_previous_secret_without_its_current_one_fails_init_naming_it() {
        for (previous, current) in [
            ("JWT_SECRET_PREVIOUS", "JWT_SECRET"),
            ("SHARE_TOKEN_SECRET_PREVIOUS", "SHARE_TOKEN_SECRET"),
        ] {
            let err = config(&[("JOBS_TABLE", "jobs"), (previous, "old")]).unwrap_err();
            assert!(err.0.contains(previous) && err.0.contains(current), "{err}");
        }
    }

    #[test]
    fn a_key_set_alone_enables_bearer_tokens_and_loopback_may_use_http() {
        for url in [
            "http://127.0.0.1:9999/jwks.json",
            "http://localhost:1/jwks",
            "http://[::1]:8080/k",
        ] {
            let config = config(&[("JOBS_TABLE", "jobs"), ("JWT_JWKS_URL", url)]).unwrap();
            let jwt = config.jwt.expect("bearer verification on");
            assert!(jwt.secrets.is_none());
            assert_eq!(jwt.jwks.unwrap().timeout, Duration::from_millis(1000));
        }
        let url = ("JWT_JWKS_URL", "https://idp.example.com/jwks.json");
        for timeout in ["0", "99", "5001", "30000", "soon"] {
            let err = config(&[
                ("JOBS_TABLE", "jobs"),
                url,
                ("JWT_JWKS_TIMEOUT_MS", timeout),
            ])
            .unwrap_err();
            assert!(err.0.contains("JWT_JWKS_TIMEOUT_MS"), "{err}");
        }
    }

    #[test]
    fn empty_secrets_count_as_unset() {
        let config = config(&[
            ("JOBS_TABLE", "jobs"),
            ("JWT_SECRET", ""),
            ("SHARE_TOKEN_SECRET", ""),
            ("JWT_JWKS_URL", " "),
            ("JOBS_TABLE_KEY", ""),
        ])
        .unwrap();
        assert!(config.jwt.is_none());
        assert!(config.share_tokens.is_none());
        assert_eq!(config.jobs_table_key, "jobId");
    }
}
