//! The pages' Content Security Policy: what a page may load, and where its forms may go.

use crate::config::Config;

/// Styles and images from here (images also over https), forms to here and to the places
/// sign-in may redirect to, never framed. No script, except with passkeys on: the one file
/// `/ui/passkeys.js`, fetching only from here.
pub(super) fn content_security_policy(config: &Config, passkeys: bool) -> String {
    let mut form_action = vec!["'self'".to_owned()];
    let site = config.site_url();
    for target in std::iter::once(&site).chain(&config.mail.redirect_urls) {
        form_action.push(csp_source(target));
    }
    form_action.dedup();
    let script = if passkeys {
        format!(
            "script-src {}/ui/passkeys.js; connect-src 'self'; ",
            config.public_url().trim_end_matches('/')
        )
    } else {
        String::new()
    };
    format!(
        "default-src 'none'; {script}style-src 'self'; img-src 'self' https: data:; \
         form-action {}; frame-ancestors 'none'; base-uri 'none'",
        form_action.join(" ")
    )
}

/// The CSP source of a redirect target or pattern: its origin (`*.` for a wildcard host), or
/// its scheme when the host pattern has no CSP form.
pub(super) fn csp_source(target: &str) -> String {
    let Some((scheme, rest)) = target.split_once("://") else {
        return "'self'".to_owned();
    };
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority
        .strip_prefix("**.")
        .map(|h| format!("*.{h}"))
        .unwrap_or_else(|| authority.to_owned());
    let tail = host.strip_prefix("*.").unwrap_or(&host);
    let valid = !tail.is_empty()
        && tail
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if valid {
        format!("{}://{host}", scheme.to_ascii_lowercase())
    } else {
        format!("{}:", scheme.to_ascii_lowercase())
    }
}
