//! `ALLOWED_ORIGINS`: the browser origins that may call the API and open a
//! socket. One parser and one match rule, used by the edge and by core.

/// A parsed `ALLOWED_ORIGINS`: `*` (any origin, development only) or a list of
/// exact origins (`scheme://host[:port]`, no path), compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllowedOrigins {
    any: bool,
    origins: Vec<String>,
}

impl AllowedOrigins {
    /// Parses a comma-separated list; empty entries are skipped. An entry that
    /// is not an origin (a path, no scheme) is an error naming it.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                parsed.any = true;
                continue;
            }
            let rest = entry
                .strip_prefix("https://")
                .or_else(|| entry.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains('/') => {
                    parsed.origins.push(entry.to_ascii_lowercase());
                }
                _ => {
                    return Err(format!(
                        "`{entry}` is not an origin (write scheme://host[:port], e.g. https://chat.example.com)"
                    ))
                }
            }
        }
        Ok(parsed)
    }

    /// Whether `*` was given.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether a request with this `Origin` header may proceed.
    pub fn allows(&self, origin: &str) -> bool {
        self.any
            || self
                .origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin.trim()))
    }

    /// The listed origins (without `*`).
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    pub fn is_empty(&self) -> bool {
        !self.any && self.origins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_allows_exactly_its_origins() {
        let o = AllowedOrigins::parse(" https://a.example.com, http://localhost:3000 ,").unwrap();
        assert!(o.allows("https://a.example.com"));
        assert!(o.allows("HTTPS://A.example.com"));
        assert!(o.allows("http://localhost:3000"));
        assert!(!o.allows("http://localhost:3001"));
        assert!(!o.allows("https://a.example.com.evil.net"));
        assert!(!o.allows("null"));
        assert!(!o.allows_any());
    }

    #[test]
    fn star_allows_any_and_empty_allows_none() {
        assert!(AllowedOrigins::parse("*").unwrap().allows("https://x.test"));
        let none = AllowedOrigins::parse("").unwrap();
        assert!(none.is_empty());
        assert!(!none.allows("https://x.test"));
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "example.com",
            "https://a.example.com/app",
            "ftp://x",
            "https://",
        ] {
            let err = AllowedOrigins::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
