//! `ban_duration`, as Supabase Auth names it: `none` lifts a ban, a duration bans until then.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    config::parse_duration,
    error::{Error, Result},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ban {
    Lift,
    For(Duration),
}

/// Longest ban accepted (a thousand years is "forever" for any account).
pub const MAX_BAN: Duration = Duration::from_secs(1000 * 365 * 86_400);

impl Ban {
    /// `none`, `0` or empty lift a ban; a duration (`24h`, `90d`, seconds) bans for that long.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "none" | "0" | "" => Ok(Self::Lift),
            other => {
                let d = parse_duration(other)
                    .map_err(|e| Error::validation_failed(format!("invalid ban_duration: {e}")))?;
                if d > MAX_BAN {
                    return Err(Error::validation_failed(
                        "ban_duration is at most 8760000h (1000 years)",
                    ));
                }
                Ok(Self::For(d))
            }
        }
    }

    /// When the ban ends, counted from `now` (`None`: no ban).
    pub fn until(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Lift => None,
            Self::For(d) => chrono::Duration::from_std(d.min(MAX_BAN))
                .ok()
                .and_then(|d| now.checked_add_signed(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_durations_parse_and_are_bounded() {
        assert_eq!(Ban::parse("none").unwrap(), Ban::Lift);
        assert_eq!(Ban::parse(" 0 ").unwrap(), Ban::Lift);
        assert_eq!(Ban::parse("").unwrap(), Ban::Lift);
        assert_eq!(
            Ban::parse("24h").unwrap(),
            Ban::For(Duration::from_secs(86_400))
        );
        assert_eq!(Ban::parse("90").unwrap(), Ban::For(Duration::from_secs(90)));
        assert!(Ban::parse("8760000h").is_ok());
        let e = Ban::parse("8760001h").unwrap_err();
        assert!(e.message.contains("at most"), "{e}");
        assert!(Ban::parse("forever").is_err());
    }

    #[test]
    fn a_ban_ends_its_duration_after_now() {
        let now = Utc::now();
        assert_eq!(Ban::Lift.until(now), None);
        assert_eq!(
            Ban::For(Duration::from_secs(60)).until(now),
            Some(now + chrono::Duration::seconds(60))
        );
        assert!(Ban::For(MAX_BAN).until(now).unwrap() > now);
    }
}
