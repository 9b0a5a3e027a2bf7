//! Reads variables and collects every problem instead of stopping at the first.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;

/// Collects problems instead of stopping at the first.
pub(super) struct Reader<'a> {
    pub(super) vars: &'a HashMap<String, String>,
    pub(super) problems: Vec<String>,
}

impl Reader<'_> {
    pub(super) fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.vars.get(name).is_some_and(|v| !v.trim().is_empty())
    }

    pub(super) fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        match self.optional(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problem(format!("{name}: `{v}` is not a valid value"));
                default
            }),
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, any case: the seed wrote `True`).
    pub(super) fn flag(&mut self, name: &str) -> bool {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                self.problem(format!("{name}: `{other}` is not true or false"));
                false
            }
        }
    }

    /// `DATABASE_URL`; the seed's SQLAlchemy form `postgresql+asyncpg://…`
    /// names a Python driver, so the `+driver` part is dropped.
    pub(super) fn database_url(&mut self) -> SecretString {
        let name = "DATABASE_URL";
        if self.optional(name).is_none() {
            self.problem(format!("{name}: missing"));
            return SecretString::from(String::new());
        }
        self.postgres_url(name).unwrap_or_default()
    }

    /// An optional Postgres URL (`DATABASE_READ_URL`), read as `DATABASE_URL`.
    pub(super) fn postgres_url(&mut self, name: &str) -> Option<SecretString> {
        let v = self.optional(name)?;
        let Some((scheme, rest)) = v.split_once("://") else {
            self.problem(format!("{name}: must be a postgres:// URL"));
            return None;
        };
        let base = scheme
            .split_once('+')
            .map_or(scheme, |(base, _driver)| base);
        if !matches!(base, "postgres" | "postgresql") || rest.is_empty() {
            self.problem(format!(
                "{name}: must be a postgres:// URL, e.g. postgres://user:password@host:5432/db"
            ));
            return None;
        }
        Some(SecretString::from(format!("{base}://{rest}")))
    }

    pub(super) fn bounded(
        &mut self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> usize {
        let v = self.parsed(name, default);
        if range.contains(&v) {
            v
        } else {
            self.problem(format!(
                "{name}: must be between {} and {}",
                range.start(),
                range.end()
            ));
            default
        }
    }

    /// A rate limit: at least one request, and few enough that the GCRA's
    /// interval stays a whole number of microseconds.
    pub(super) fn rate_limit(&mut self, name: &str, default: usize) -> u32 {
        self.bounded(name, default, 1..=1_000_000) as u32
    }

    /// A timeout in milliseconds; zero would mean "fail every call", so it is refused.
    pub(super) fn millis(&mut self, name: &str, default: u64) -> Duration {
        let ms = self.parsed(name, default);
        if ms == 0 {
            self.problem(format!("{name}: must be at least 1"));
            return Duration::from_millis(default);
        }
        Duration::from_millis(ms)
    }

    pub(super) fn path(&mut self, name: &str, default: &str) -> String {
        let v = self.optional(name).unwrap_or_else(|| default.into());
        if !v.starts_with('/') {
            self.problem(format!("{name}: must start with `/`"));
        }
        v
    }

    pub(super) fn url_ok(value: &str, schemes: &[&str]) -> bool {
        value
            .split_once("://")
            .is_some_and(|(scheme, rest)| schemes.contains(&scheme) && !rest.is_empty())
    }

    /// `REDIS_URL`: one server or a cluster (`crate::cache::RedisTarget`).
    pub(super) fn redis_url(&mut self) -> SecretString {
        let Some(v) = self.optional("REDIS_URL") else {
            self.problem("REDIS_URL: missing".into());
            return SecretString::from(String::new());
        };
        if let Err(e) = crate::cache::RedisTarget::parse(&v) {
            self.problem(format!("REDIS_URL: {e}"));
        }
        SecretString::from(v)
    }

    /// Braces would make the prefix the hash tag of every key, putting all of
    /// them in one slot of a Redis Cluster.
    pub(super) fn redis_key_prefix(&mut self) -> String {
        let prefix = self.optional("REDIS_KEY_PREFIX").unwrap_or_default();
        if prefix.contains(['{', '}']) {
            self.problem("REDIS_KEY_PREFIX: must not contain `{` or `}`".into());
        }
        prefix
    }

    /// URLs may embed passwords, so they are held as secrets and never echoed.
    pub(super) fn required_url(&mut self, name: &str, schemes: &[&str]) -> SecretString {
        match self.optional(name) {
            None => {
                self.problem(format!("{name}: missing"));
                SecretString::from(String::new())
            }
            Some(v) if !Self::url_ok(&v, schemes) => {
                self.problem(format!("{name}: must be a {} URL", schemes.join("/")));
                SecretString::from(String::new())
            }
            Some(v) => SecretString::from(v),
        }
    }

    pub(super) fn optional_url(&mut self, name: &str, schemes: &[&str]) -> Option<String> {
        let v = self.optional(name)?;
        if Self::url_ok(&v, schemes) {
            Some(v)
        } else {
            self.problem(format!("{name}: must be a {} URL", schemes.join("/")));
            None
        }
    }

    pub(super) fn required_secret(&mut self, name: &str, min_bytes: usize) -> SecretString {
        match self.optional_secret(name, min_bytes) {
            Some(s) => s,
            None => {
                if !self.has(name) {
                    self.problem(format!("{name}: missing"));
                }
                SecretString::from(String::new())
            }
        }
    }

    pub(super) fn optional_secret(&mut self, name: &str, min_bytes: usize) -> Option<SecretString> {
        let v = self.optional(name)?;
        if v.len() < min_bytes {
            self.problem(format!("{name}: must be at least {min_bytes} bytes"));
            return None;
        }
        Some(SecretString::from(v))
    }
}
