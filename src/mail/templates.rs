//! Message templates: built-in subject, plain-text and HTML bodies for every kind, each of
//! which a file in `AUTH_EMAIL_TEMPLATES_DIR` can replace (`<kind>.subject.txt`, `<kind>.txt`,
//! `<kind>.html`). Templates use minijinja (Jinja2) syntax; HTML is auto-escaped.
//!
//! Variables: `site_url`, `confirmation_url` (the link to follow), `token` (the 6-digit code),
//! `token_hash` (the link's token, for apps that verify with `verifyOtp({token_hash})`),
//! `email` (the recipient), `new_email` (for an email change), `redirect_to`.

use std::path::Path;

use anyhow::Context;
use minijinja::Environment;
use serde::Serialize;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Confirm the address given at sign-up.
    Confirmation,
    /// Set a new password.
    Recovery,
    /// Sign in with a link or a code.
    MagicLink,
    /// Accept an invitation.
    Invite,
    /// Confirm an address change (sent to the new address, and in secure mode the current).
    EmailChange,
    /// Tell the old address that the account's address changed (no link, no code).
    EmailChanged,
    /// A code to confirm it is the user before a sensitive change (no link).
    Reauthentication,
    /// Join an organization (a link, no code).
    OrganizationInvitation,
}

impl MessageKind {
    pub const ALL: [MessageKind; 8] = [
        Self::Confirmation,
        Self::Recovery,
        Self::MagicLink,
        Self::Invite,
        Self::EmailChange,
        Self::EmailChanged,
        Self::Reauthentication,
        Self::OrganizationInvitation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::Invite => "invite",
            Self::EmailChange => "email_change",
            Self::EmailChanged => "email_changed",
            Self::Reauthentication => "reauthentication",
            Self::OrganizationInvitation => "organization_invitation",
        }
    }

    /// Whether messages of this kind carry a link and a code (notices do not, and an
    /// organization's invitation carries a link only).
    pub fn carries_token(self) -> bool {
        !matches!(self, Self::EmailChanged | Self::OrganizationInvitation)
    }

    /// The built-in subject, text and HTML templates (`templates/email/`).
    fn defaults(self) -> [&'static str; 3] {
        macro_rules! built_in {
            ($name:literal) => {
                [
                    include_str!(concat!("../../templates/email/", $name, ".subject.txt")),
                    include_str!(concat!("../../templates/email/", $name, ".txt")),
                    include_str!(concat!("../../templates/email/", $name, ".html")),
                ]
            };
        }
        match self {
            Self::Confirmation => built_in!("confirmation"),
            Self::Recovery => built_in!("recovery"),
            Self::MagicLink => built_in!("magiclink"),
            Self::Invite => built_in!("invite"),
            Self::EmailChange => built_in!("email_change"),
            Self::EmailChanged => built_in!("email_changed"),
            Self::Reauthentication => built_in!("reauthentication"),
            Self::OrganizationInvitation => built_in!("organization_invitation"),
        }
    }
}

/// What the templates can use.
#[derive(Serialize)]
pub struct Variables<'a> {
    pub site_url: &'a str,
    pub confirmation_url: &'a str,
    pub token: &'a str,
    pub token_hash: &'a str,
    pub email: &'a str,
    pub new_email: Option<&'a str>,
    pub redirect_to: &'a str,
    /// The organization an invitation is to (its name).
    pub organization: Option<&'a str>,
}

/// A rendered message.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

const PARTS: [&str; 3] = ["subject.txt", "txt", "html"];

impl Templates {
    /// The built-in templates, with those found in `dir` instead. Every template is parsed
    /// here, so a broken one stops the server at start, not a sign-in later.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for kind in MessageKind::ALL {
            for (part, default) in PARTS.iter().zip(kind.defaults()) {
                let name = format!("{}.{part}", kind.name());
                let source = match dir.map(|d| d.join(&name)).filter(|p| p.is_file()) {
                    Some(path) => std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read template {}", path.display()))?,
                    None => default.to_owned(),
                };
                env.add_template_owned(name.clone(), source)
                    .with_context(|| format!("email template {name} does not parse"))?;
            }
        }
        Ok(Self { env })
    }

    pub fn render(&self, kind: MessageKind, vars: &Variables<'_>) -> anyhow::Result<Rendered> {
        let part = |p: &str| -> anyhow::Result<String> {
            let name = format!("{}.{p}", kind.name());
            self.env
                .get_template(&name)?
                .render(vars)
                .with_context(|| format!("rendering email template {name}"))
        };
        Ok(Rendered {
            subject: part("subject.txt")?.trim().to_owned(),
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables<'static> {
        Variables {
            site_url: "https://app.example.com",
            confirmation_url: "https://auth.example.com/verify?token=abc&type=recovery",
            token: "123456",
            token_hash: "abc",
            email: "a@example.com",
            new_email: Some("b@example.com"),
            redirect_to: "https://app.example.com",
            organization: Some("Acme & Co"),
        }
    }

    #[test]
    fn built_in_templates_carry_link_and_code() {
        let t = Templates::load(None).unwrap();
        for kind in MessageKind::ALL.into_iter().filter(|k| k.carries_token()) {
            let r = t.render(kind, &vars()).unwrap();
            assert!(!r.subject.is_empty());
            assert!(r.text.contains("123456") && r.html.contains("123456"));
            if kind == MessageKind::Reauthentication {
                // A code only: it proves it is the user, it signs nobody in.
                assert!(!r.text.contains("verify?") && !r.html.contains("verify?"));
                continue;
            }
            assert!(r
                .text
                .contains("https://auth.example.com/verify?token=abc&type=recovery"));
            // HTML is escaped: the & of the link is an entity there.
            assert!(r.html.contains("token=abc&amp;type=recovery"), "{}", r.html);
        }
        let invitation = t
            .render(MessageKind::OrganizationInvitation, &vars())
            .unwrap();
        assert!(
            invitation.subject.contains("Acme & Co"),
            "{}",
            invitation.subject
        );
        assert!(invitation.html.contains("Acme &amp; Co") && invitation.text.contains("verify?"));
        let notice = t.render(MessageKind::EmailChanged, &vars()).unwrap();
        assert!(notice.text.contains("from a@example.com to b@example.com"));
        assert!(!notice.text.contains("123456") && !notice.text.contains("verify?"));
    }

    #[test]
    fn a_directory_overrides_single_templates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("recovery.subject.txt"),
            "Reset for {{ email }}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let r = t.render(MessageKind::Recovery, &vars()).unwrap();
        assert_eq!(r.subject, "Reset for a@example.com");
        assert!(r.text.contains("123456"), "the other parts stay built in");
        std::fs::write(dir.path().join("invite.html"), "{{ broken").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
    }
}
