//! `redis://HOST[:PORT]/NAME`: the server, and the name that keeps one
//! run's keys apart from another's on it.

use anyhow::{bail, Result};

/// A parsed `--cluster` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterUrl {
    /// What the Redis client connects to: `redis://HOST:PORT/`.
    pub server: String,
    /// The run's name (letters, digits, `.`, `_`, `-`).
    pub name: String,
}

impl ClusterUrl {
    pub fn parse(text: &str) -> Result<Self> {
        let example = "give it as redis://HOST:PORT/NAME, e.g. redis://127.0.0.1:6379/run1";
        let Some(rest) = text.strip_prefix("redis://") else {
            if text.starts_with("rediss://") {
                bail!("--cluster: TLS (rediss://) is not built in; {example}");
            }
            bail!("--cluster '{text}' is not a Redis address: {example}");
        };
        let Some((authority, name)) = rest.rsplit_once('/') else {
            bail!("--cluster '{text}' names no run: {example}");
        };
        if authority.is_empty() || authority.contains('/') {
            bail!("--cluster '{text}': {example}");
        }
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if let Some((_, port)) = host_port.rsplit_once(':') {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                bail!("--cluster '{text}': '{port}' is not a port (1 to 65535)");
            }
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > 64 || !name.chars().all(valid) {
            bail!("--cluster '{text}': the run's NAME must be 1 to 64 letters, digits, '.', '_' or '-'");
        }
        Ok(ClusterUrl {
            server: format!("redis://{authority}/"),
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.server, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_a_server_and_a_run() {
        let u = ClusterUrl::parse("redis://10.0.0.5:6380/big-run.2").unwrap();
        assert_eq!(u.server, "redis://10.0.0.5:6380/");
        assert_eq!(u.name, "big-run.2");
        assert_eq!(u.to_string(), "redis://10.0.0.5:6380/big-run.2");
        let u = ClusterUrl::parse("redis://:secret@host/x").unwrap();
        assert_eq!(u.server, "redis://:secret@host/");
        for bad in [
            "http://host/x",
            "redis://host",
            "redis://host/",
            "redis:///x",
            "redis://host:0/x",
            "redis://host:99999/x",
            "redis://host/a b",
            "redis://host/a/b",
            "rediss://host/x",
        ] {
            assert!(ClusterUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
