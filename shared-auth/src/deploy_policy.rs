//! The settings a deployment must not run with: one rule set, read by core
//! at start (it refuses to start) and by the edge on every request (it
//! refuses to serve, with a log line), so both refuse the same things.
//!
//! - any environment but `development`: none of the public development
//!   secrets ([`DEV_SECRETS`]: `.env.example`, `make dev`, `wrangler dev`);
//! - `production`: an `iss` to require (`JWT_ISSUER`), no wildcard
//!   `ALLOWED_ORIGINS`, a `METRICS_TOKEN` (where the service has `/metrics`),
//!   an `https` JWKS URL, and a leeway of at most [`MAX_PRODUCTION_LEEWAY_SECS`].

/// The secrets of `make dev`, `.env.example` and `wrangler dev`: they are
/// public, so no environment but `development` may use them.
pub const DEV_SECRETS: [(&str, &str); 5] = [
    ("JWT_SECRET", "dev-jwt-secret-0123456789abcdef0123456789"),
    (
        "INTERNAL_API_SECRET",
        "dev-internal-secret-0123456789abcdef012345",
    ),
    ("TMS_API_KEY", "dev-tms-api-key"),
    (
        "TMS_WEBHOOK_SECRET",
        "dev-tms-webhook-secret-0123456789abcdef0123",
    ),
    // the OSS stand-in's key
    ("OSS_ACCESS_KEY_SECRET", "dev-oss-secret-0123456789abcdef"),
];

/// The largest `JWT_LEEWAY_SECS` production accepts.
pub const MAX_PRODUCTION_LEEWAY_SECS: u64 = 60;

/// `ENVIRONMENT`: unset means `development`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    /// `None` (unset) is development; anything but the three names is refused.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("development") => Ok(Environment::Development),
            Some("staging") => Ok(Environment::Staging),
            Some("production") => Ok(Environment::Production),
            Some(other) => Err(format!(
                "ENVIRONMENT: `{other}` is not one of development, staging, production"
            )),
        }
    }
}

/// What the policy looks at, as configured.
#[derive(Debug, Clone, Default)]
pub struct Deployment<'a> {
    pub environment: Option<Environment>,
    /// `ALLOWED_ORIGINS` is `*`.
    pub origins_wildcard: bool,
    /// `Some(set)` where the service serves `/metrics` (core); `None` at the edge.
    pub metrics_token_set: Option<bool>,
    pub jwks_url: Option<&'a str>,
    pub issuer_set: bool,
    pub leeway_secs: u64,
    /// Every secret by its variable name, with its value when set. Values never
    /// reach a problem message.
    pub secrets: Vec<(&'a str, Option<&'a str>)>,
}

/// Every rule `deployment` breaks, one line each (empty: it may run).
pub fn problems(deployment: &Deployment) -> Vec<String> {
    let environment = deployment.environment.unwrap_or(Environment::Development);
    let mut problems = Vec::new();
    if environment == Environment::Development {
        return problems;
    }
    let env_name = match environment {
        Environment::Staging => "staging",
        _ => "production",
    };
    for (name, value) in &deployment.secrets {
        let is_dev = DEV_SECRETS
            .iter()
            .any(|(dev_name, dev_value)| dev_name == name && Some(*dev_value) == *value);
        if is_dev {
            problems.push(format!(
                "{name}: the development default is refused with ENVIRONMENT={env_name}"
            ));
        }
    }
    if environment != Environment::Production {
        return problems;
    }
    if !deployment.issuer_set {
        problems.push("JWT_ISSUER: required with ENVIRONMENT=production".into());
    }
    if deployment.origins_wildcard {
        problems.push("ALLOWED_ORIGINS: `*` is refused with ENVIRONMENT=production".into());
    }
    if deployment.metrics_token_set == Some(false) {
        problems.push(
            "METRICS_TOKEN: required with ENVIRONMENT=production (GET /metrics would be open)"
                .into(),
        );
    }
    if let Some(url) = deployment.jwks_url {
        if !url.trim().to_ascii_lowercase().starts_with("https://") {
            problems.push("TMS_JWKS_URL: must be https with ENVIRONMENT=production".into());
        }
    }
    if deployment.leeway_secs > MAX_PRODUCTION_LEEWAY_SECS {
        problems.push(format!(
            "JWT_LEEWAY_SECS: at most {MAX_PRODUCTION_LEEWAY_SECS} with ENVIRONMENT=production"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe_production() -> Deployment<'static> {
        Deployment {
            environment: Some(Environment::Production),
            origins_wildcard: false,
            metrics_token_set: Some(true),
            jwks_url: Some("https://tms.example.com/.well-known/jwks.json"),
            issuer_set: true,
            leeway_secs: 30,
            secrets: vec![("JWT_SECRET", Some("a-real-secret-0123456789abcdef0123"))],
        }
    }

    #[test]
    fn a_safe_production_passes() {
        assert!(problems(&safe_production()).is_empty());
    }

    #[test]
    fn production_refuses_each_unsafe_setting() {
        let mut d = safe_production();
        d.origins_wildcard = true;
        d.metrics_token_set = Some(false);
        d.jwks_url = Some("http://tms.example.com/jwks.json");
        d.issuer_set = false;
        d.leeway_secs = 61;
        d.secrets = DEV_SECRETS.iter().map(|(n, v)| (*n, Some(*v))).collect();
        let all = problems(&d).join("\n");
        for needle in [
            "ALLOWED_ORIGINS",
            "METRICS_TOKEN",
            "TMS_JWKS_URL",
            "JWT_ISSUER",
            "JWT_LEEWAY_SECS",
            "JWT_SECRET: the development default",
            "INTERNAL_API_SECRET: the development default",
            "OSS_ACCESS_KEY_SECRET: the development default",
        ] {
            assert!(all.contains(needle), "{needle} missing in {all}");
        }
        for (_, value) in DEV_SECRETS {
            assert!(!all.contains(value), "secret echoed: {all}");
        }
    }

    #[test]
    fn staging_refuses_dev_secrets_only_and_development_anything() {
        let mut d = Deployment {
            environment: Some(Environment::Staging),
            origins_wildcard: true,
            leeway_secs: 300,
            secrets: vec![("INTERNAL_API_SECRET", Some(DEV_SECRETS[1].1))],
            ..Default::default()
        };
        assert_eq!(
            problems(&d),
            vec![
                "INTERNAL_API_SECRET: the development default is refused with ENVIRONMENT=staging"
            ]
        );
        d.environment = None;
        assert!(problems(&d).is_empty());
        // the edge has no /metrics: no token asked of it
        let mut edge = safe_production();
        edge.metrics_token_set = None;
        assert!(problems(&edge).is_empty());
    }

    #[test]
    fn environment_names() {
        assert_eq!(Environment::parse(None), Ok(Environment::Development));
        assert_eq!(
            Environment::parse(Some("production")),
            Ok(Environment::Production)
        );
        assert!(Environment::parse(Some("prod")).is_err());
    }
}
