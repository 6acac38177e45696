//! Typed configuration from the environment (and an optional `.env`), validated once at start-up.
//!
//! Every problem names the variable that caused it, so an operator can fix it from one line of output.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::platform::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Prod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A configuration problem, always naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub database_url: String,
    pub db_max_connections: u32,
    pub bind: SocketAddr,
    /// `None` in dev means "generate one and keep it in the database" (see `startup`).
    pub secret_key: Option<Secret<String>>,
    /// `None` in dev means "derive it from the secret key".
    pub encryption_key: Option<Secret<[u8; 32]>>,
    pub public_url: url::Url,
    pub secure_cookies: bool,
    pub log: String,
    pub log_format: LogFormat,
    /// When set, integration traffic (tracing target `integrations`) is also written here as JSON lines.
    pub integrations_log: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// Run pending migrations when `serve` starts (dev default; prod runs `px360 migrate` explicitly).
    pub auto_migrate: bool,
    pub worker_concurrency: usize,
    pub worker_poll: Duration,
    pub job_lease: Duration,
    pub scheduler_tick: Duration,
    /// Inbound events per API key (or user) per minute, and how many may arrive at once.
    pub intake_rate_per_minute: u32,
    pub intake_burst: u32,
    /// Public survey form requests per client address (PX360_SURVEY_RATE_PER_MINUTE / _BURST).
    pub survey_rate_per_minute: u32,
    pub survey_burst: u32,
    /// Processing attempts of an inbound event before it is DEAD.
    pub integration_max_attempts: i32,
    /// Largest attachment (evidence file) accepted, in bytes.
    pub attachment_max_bytes: usize,
    /// MIME types an attachment may have.
    pub attachment_types: Vec<String>,
    /// Notification delivery backends (console by default).
    pub notifications: crate::apps::notifications::config::NotifyConfig,
}

/// Attachment types accepted unless `PX360_ATTACHMENT_TYPES` says otherwise: documents and photos.
pub const DEFAULT_ATTACHMENT_TYPES: &str = "application/pdf,image/png,image/jpeg,image/webp,text/plain,text/csv,\
application/msword,application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.ms-excel,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Where configuration values come from; the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for std::collections::HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

/// Values that must never be accepted as a production secret.
const WEAK_SECRETS: &[&str] = &["change-me", "changeme", "secret", "dev", "px360"];

impl Config {
    /// Load from the process environment, reading `.env` first when it exists.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is an operator error worth reporting.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        Self::from_source(&ProcessEnv)
    }

    /// # Errors
    /// A [`ConfigError`] naming the first bad variable.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let env = match src.get("PX360_ENV").as_deref().map(str::to_ascii_lowercase) {
            None => Environment::Dev,
            Some(v) if v == "dev" || v == "development" => Environment::Dev,
            Some(v) if v == "prod" || v == "production" => Environment::Prod,
            Some(v) => {
                return Err(ConfigError::new(
                    "PX360_ENV",
                    format!("'{v}' is not one of: dev, prod"),
                ));
            }
        };
        let prod = env == Environment::Prod;

        let database_url = src
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://px360.db?mode=rwc".to_string());
        validate_database_url(&database_url)?;

        let bind = parse_var(src, "PX360_BIND", "127.0.0.1:8000", |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("'{v}' is not a socket address such as 127.0.0.1:8000"))
        })?;

        let secret_key = match src.get("PX360_SECRET_KEY") {
            Some(k) => {
                if k.len() < 32 || WEAK_SECRETS.contains(&k.to_ascii_lowercase().as_str()) {
                    return Err(ConfigError::new(
                        "PX360_SECRET_KEY",
                        "must be a random value of at least 32 characters",
                    ));
                }
                Some(Secret::new(k))
            }
            None if prod => {
                return Err(ConfigError::new(
                    "PX360_SECRET_KEY",
                    "is required when PX360_ENV=prod (a random value of at least 32 characters)",
                ));
            }
            None => None,
        };

        let encryption_key = match src.get("PX360_ENCRYPTION_KEY") {
            Some(k) => Some(Secret::new(
                parse_key32(&k).map_err(|m| ConfigError::new("PX360_ENCRYPTION_KEY", m))?,
            )),
            None if prod => {
                return Err(ConfigError::new(
                    "PX360_ENCRYPTION_KEY",
                    "is required when PX360_ENV=prod (32 bytes as 64 hex characters)",
                ));
            }
            None => None,
        };

        let public_url = parse_var(src, "PX360_PUBLIC_URL", "http://127.0.0.1:8000", |v| {
            url::Url::parse(v).map_err(|e| format!("'{v}' is not a URL: {e}"))
        })?;

        let secure_cookies = parse_var(
            src,
            "PX360_SECURE_COOKIES",
            if prod { "true" } else { "false" },
            parse_bool,
        )?;
        if prod && !secure_cookies {
            return Err(ConfigError::new(
                "PX360_SECURE_COOKIES",
                "must not be false when PX360_ENV=prod (session cookies need the Secure flag)",
            ));
        }

        let log = src.get("PX360_LOG").unwrap_or_else(|| "info".to_string());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| ConfigError::new("PX360_LOG", format!("invalid filter '{log}': {e}")))?;
        let log_format = parse_var(
            src,
            "PX360_LOG_FORMAT",
            if prod { "json" } else { "pretty" },
            |v| match v {
                "json" => Ok(LogFormat::Json),
                "pretty" => Ok(LogFormat::Pretty),
                _ => Err(format!("'{v}' is not one of: json, pretty")),
            },
        )?;

        Ok(Self {
            env,
            db_max_connections: parse_var(src, "PX360_DB_MAX_CONNECTIONS", "10", |v| {
                parse_range::<u32>(v, 1, 1000)
            })?,
            database_url,
            bind,
            secret_key,
            encryption_key,
            public_url,
            secure_cookies,
            log,
            log_format,
            integrations_log: src.get("PX360_INTEGRATIONS_LOG").map(PathBuf::from),
            data_dir: PathBuf::from(src.get("PX360_DATA_DIR").unwrap_or_else(|| "data".into())),
            auto_migrate: parse_var(
                src,
                "PX360_AUTO_MIGRATE",
                if prod { "false" } else { "true" },
                parse_bool,
            )?,
            worker_concurrency: parse_var(src, "PX360_WORKER_CONCURRENCY", "4", |v| {
                parse_range::<usize>(v, 1, 256)
            })?,
            worker_poll: Duration::from_millis(parse_var(
                src,
                "PX360_WORKER_POLL_MS",
                "500",
                |v| parse_range::<u64>(v, 10, 60_000),
            )?),
            job_lease: Duration::from_secs(parse_var(src, "PX360_JOB_LEASE_SECS", "300", |v| {
                parse_range::<u64>(v, 5, 86_400)
            })?),
            scheduler_tick: Duration::from_millis(parse_var(
                src,
                "PX360_SCHEDULER_TICK_MS",
                "1000",
                |v| parse_range::<u64>(v, 10, 60_000),
            )?),
            // Generous by default (10,000 a second per key): a limit for runaway interfaces, not for load.
            intake_rate_per_minute: parse_var(
                src,
                "PX360_INTAKE_RATE_PER_MINUTE",
                "600000",
                |v| parse_range::<u32>(v, 1, 100_000_000),
            )?,
            intake_burst: parse_var(src, "PX360_INTAKE_BURST", "20000", |v| {
                parse_range::<u32>(v, 1, 10_000_000)
            })?,
            // Per client address: enough for a family behind one NAT, not for guessing tokens.
            survey_rate_per_minute: parse_var(src, "PX360_SURVEY_RATE_PER_MINUTE", "120", |v| {
                parse_range::<u32>(v, 1, 100_000_000)
            })?,
            survey_burst: parse_var(src, "PX360_SURVEY_BURST", "60", |v| {
                parse_range::<u32>(v, 1, 10_000_000)
            })?,
            integration_max_attempts: parse_var(src, "PX360_INTEGRATION_MAX_ATTEMPTS", "5", |v| {
                parse_range::<i32>(v, 1, 50)
            })?,
            attachment_max_bytes: parse_var(src, "PX360_ATTACHMENT_MAX_MB", "20", |v| {
                parse_range::<usize>(v, 1, 1024)
            })? * 1024
                * 1024,
            attachment_types: src
                .get("PX360_ATTACHMENT_TYPES")
                .unwrap_or_else(|| DEFAULT_ATTACHMENT_TYPES.to_string())
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            notifications: crate::apps::notifications::config::NotifyConfig::from_source(src)?,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn parse_var<T>(
    src: &dyn Source,
    var: &'static str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = src.get(var).unwrap_or_else(|| default.to_string());
    parse(raw.trim()).map_err(|m| ConfigError::new(var, m))
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not a boolean (true/false)")),
    }
}

fn parse_range<T>(v: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = v
        .parse()
        .map_err(|_| format!("'{v}' is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is outside {min}..={max}"));
    }
    Ok(n)
}

fn parse_key32(v: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(v.trim()).map_err(|_| "must be 64 hex characters (32 bytes)")?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "must be 64 hex characters (32 bytes)")?;
    if key.iter().all(|b| *b == key[0]) {
        return Err("must be random, not a repeated byte".into());
    }
    Ok(key)
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let ok = url.starts_with("sqlite:")
        || ((url.starts_with("postgres://") || url.starts_with("postgresql://"))
            && url::Url::parse(url).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            "must be sqlite://<file>?mode=rwc or postgres://user@host:port/db",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(&map)
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const SECRET: &str = "a-really-long-random-secret-value-0123456789";

    #[test]
    fn defaults_give_an_embedded_dev_setup() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.env, Environment::Dev);
        assert!(c.is_sqlite());
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert!(c.auto_migrate);
        assert!(!c.secure_cookies);
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn prod_without_a_secret_key_names_the_variable() {
        let e = cfg(&[("PX360_ENV", "prod"), ("PX360_ENCRYPTION_KEY", KEY)]).unwrap_err();
        assert_eq!(e.var, "PX360_SECRET_KEY");
    }

    #[test]
    fn prod_without_an_encryption_key_names_the_variable() {
        let e = cfg(&[("PX360_ENV", "prod"), ("PX360_SECRET_KEY", SECRET)]).unwrap_err();
        assert_eq!(e.var, "PX360_ENCRYPTION_KEY");
    }

    #[test]
    fn prod_refuses_insecure_cookies() {
        let e = cfg(&[
            ("PX360_ENV", "prod"),
            ("PX360_SECRET_KEY", SECRET),
            ("PX360_ENCRYPTION_KEY", KEY),
            ("PX360_SECURE_COOKIES", "false"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "PX360_SECURE_COOKIES");
    }

    #[test]
    fn prod_with_real_keys_starts_with_json_logs_and_secure_cookies() {
        let c = cfg(&[
            ("PX360_ENV", "prod"),
            ("PX360_SECRET_KEY", SECRET),
            ("PX360_ENCRYPTION_KEY", KEY),
        ])
        .unwrap();
        assert!(c.secure_cookies);
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(!c.auto_migrate);
    }

    #[test]
    fn weak_or_short_secrets_are_refused() {
        assert_eq!(
            cfg(&[("PX360_SECRET_KEY", "change-me")]).unwrap_err().var,
            "PX360_SECRET_KEY"
        );
        assert_eq!(
            cfg(&[("PX360_ENCRYPTION_KEY", &"00".repeat(32))])
                .unwrap_err()
                .var,
            "PX360_ENCRYPTION_KEY"
        );
        assert_eq!(
            cfg(&[("PX360_ENCRYPTION_KEY", "abcd")]).unwrap_err().var,
            "PX360_ENCRYPTION_KEY"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(
            cfg(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            cfg(&[("PX360_BIND", "nope")]).unwrap_err().var,
            "PX360_BIND"
        );
        assert_eq!(
            cfg(&[("PX360_ENV", "staging")]).unwrap_err().var,
            "PX360_ENV"
        );
        assert_eq!(
            cfg(&[("PX360_WORKER_CONCURRENCY", "0")]).unwrap_err().var,
            "PX360_WORKER_CONCURRENCY"
        );
        assert_eq!(
            cfg(&[("PX360_LOG_FORMAT", "xml")]).unwrap_err().var,
            "PX360_LOG_FORMAT"
        );
    }
}
