//! Who is calling: the client address and user agent recorded with sessions and audit
//! entries, and the key of per-address rate limits.

/// Longest user agent kept (longer ones are cut).
pub const MAX_USER_AGENT_CHARS: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    /// A client with its user agent cut to [`MAX_USER_AGENT_CHARS`].
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        }
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
}
