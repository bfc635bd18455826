//! Environment → a typed, validated `Config`, read once at init.

use std::time::Duration;

/// Everything the function reads from its environment, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub jobs_table: String,
    pub consistent_read: bool,
    /// Per-attempt DynamoDB timeout; the SDK's retries multiply it, the Lambda deadline caps it.
    pub dynamodb_timeout: Duration,
    pub poll_interval_seconds: u32,
    pub jwt: Option<JwtConfig>,
    pub share_token_secret: Option<Vec<u8>>,
}

/// Bearer-token verification settings; present only when `JWT_SECRET` is set.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub secret: Vec<u8>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
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

        let jwt = var("JWT_SECRET").map(|secret| JwtConfig {
            secret: secret.into_bytes(),
            issuer: var("JWT_ISSUER"),
            audience: var("JWT_AUDIENCE"),
        });

        Ok(Config {
            jobs_table,
            consistent_read,
            dynamodb_timeout: Duration::from_millis(timeout_ms),
            poll_interval_seconds,
            jwt,
            share_token_secret: var("SHARE_TOKEN_SECRET").map(String::into_bytes),
        })
    }
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
        assert!(config.consistent_read);
        assert_eq!(config.dynamodb_timeout, Duration::from_millis(1500));
        assert_eq!(config.poll_interval_seconds, 2);
        assert!(config.jwt.is_none());
        assert!(config.share_token_secret.is_none());
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
            ("JWT_ISSUER", "https://issuer"),
            ("JWT_AUDIENCE", "jobs-api"),
            ("SHARE_TOKEN_SECRET", "share"),
        ])
        .unwrap();
        assert!(!config.consistent_read);
        assert_eq!(config.dynamodb_timeout, Duration::from_millis(250));
        assert_eq!(config.poll_interval_seconds, 5);
        let jwt = config.jwt.unwrap();
        assert_eq!(jwt.secret, b"s3cret");
        assert_eq!(jwt.issuer.as_deref(), Some("https://issuer"));
        assert_eq!(jwt.audience.as_deref(), Some("jobs-api"));
        assert_eq!(config.share_token_secret.as_deref(), Some(&b"share"[..]));
    }

    #[test]
    fn empty_secrets_count_as_unset() {
        let config = config(&[
            ("JOBS_TABLE", "jobs"),
            ("JWT_SECRET", ""),
            ("SHARE_TOKEN_SECRET", ""),
        ])
        .unwrap();
        assert!(config.jwt.is_none());
        assert!(config.share_token_secret.is_none());
    }
}
