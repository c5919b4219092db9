//! Who is calling: the client address and user agent recorded with sessions and audit
//! entries, and the key of per-address rate limits.

/// Longest user agent kept (longer ones are cut).
pub const MAX_USER_AGENT_CHARS: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The id of the HTTP request (`X-Request-Id`), recorded with audit entries.
    pub request_id: Option<String>,
}

impl Client {
    /// A client with its user agent cut to [`MAX_USER_AGENT_CHARS`].
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: None,
        }
    }

    /// This client, as the one of request `request_id`.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// What per-address rate limits count by: the address, or for IPv6 its /64 network (one
    /// subscriber usually holds a whole /64, so per-address counting would give them 2^64
    /// budgets).
    pub fn rate_limit_key(&self) -> Option<String> {
        let ip = self.ip.as_deref()?;
        Some(match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
            Ok(std::net::IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .map_or(ip.to_owned(), |v4| v4.to_string()),
            _ => ip.to_owned(),
        })
    }

    /// The command-line tool, as recorded in the audit log.
    pub fn cli() -> Self {
        Self::new(None, Some("hasura-jwt-auth cli"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_user_agents_are_cut() {
        let ua = "é".repeat(600);
        let c = Client::new(Some("10.0.0.1".into()), Some(&ua));
        assert_eq!(c.user_agent.unwrap().chars().count(), MAX_USER_AGENT_CHARS);
        assert_eq!(Client::new(None, None), Client::default());
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let key = |ip: &str| Client::new(Some(ip.into()), None).rate_limit_key();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff::9"));
        assert_eq!(key("2001:db8:1:2::1").as_deref(), Some("2001:db8:1:2::/64"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(key("::ffff:203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(Client::default().rate_limit_key(), None);
    }
}
