//! Where email links and external sign-ins may send users: the site URL's origin (any path),
//! or a URL matching an entry of `AUTH_REDIRECT_URLS`. Anything else falls back to the site
//! URL: never an open redirect.
//!
//! URLs are parsed (WHATWG rules, as browsers do) and compared part by part: the scheme
//! exactly, the host label by label, the port, then the path and query. In a pattern's host
//! `*` stands for one label (letters, digits, `-`) and `**` for any number of labels; in its
//! path `*` stands for one segment and `**` for anything. A URL with user info or a fragment
//! is never allowed.

use url::Url;

use super::Auth;

impl Auth {
    /// `requested` if links may lead there, else the site URL.
    pub fn redirect_target(&self, requested: Option<&str>) -> String {
        let config = &self.config;
        allowed_redirect(requested, &config.site_url(), &config.redirect_urls())
    }
}

/// `requested` if it may be used, else `site_url`.
pub fn allowed_redirect(requested: Option<&str>, site_url: &str, allow_list: &[String]) -> String {
    match requested.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if is_allowed(r, site_url, allow_list) => r.to_owned(),
        _ => site_url.to_owned(),
    }
}

fn is_allowed(requested: &str, site_url: &str, allow_list: &[String]) -> bool {
    if requested
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return false;
    }
    let Ok(url) = Url::parse(requested) else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return false;
    }
    let same_origin = Url::parse(site_url).is_ok_and(|site| {
        site.scheme() == url.scheme()
            && site.host_str().is_some()
            && site.host_str() == url.host_str()
            && site.port_or_known_default() == url.port_or_known_default()
    });
    same_origin || allow_list.iter().any(|p| matches_pattern(p, &url))
}

/// Whether `url` matches the pattern `scheme://host[:port][/path][?query]`.
fn matches_pattern(pattern: &str, url: &Url) -> bool {
    let Some((scheme, rest)) = pattern.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(url.scheme()) {
        return false;
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let (host_pattern, port_pattern) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let port_ok = match (port_pattern, url.port()) {
        (None, None) => true,
        (Some(p), Some(port)) => p == port.to_string(),
        _ => false,
    };
    let host = url.host_str().unwrap_or("");
    // An empty path (non-special schemes such as `myapp://callback`) counts as `/`.
    let mut url_path = if url.path().is_empty() {
        "/".to_owned()
    } else {
        url.path().to_owned()
    };
    if let Some(q) = url.query() {
        url_path.push('?');
        url_path.push_str(q);
    }
    let path = if path.is_empty() { "/" } else { path };
    port_ok
        && glob(
            host_pattern.to_ascii_lowercase().as_bytes(),
            host.as_bytes(),
            Part::Host,
        )
        && glob(path.as_bytes(), url_path.as_bytes(), Part::Path)
}

#[derive(Clone, Copy)]
enum Part {
    Host,
    Path,
}

/// What one `*` may match in a part.
fn single(part: Part, c: u8) -> bool {
    match part {
        Part::Host => c.is_ascii_alphanumeric() || c == b'-',
        Part::Path => c != b'/' && c != b'?',
    }
}

/// What `**` may match in a part.
fn double(part: Part, c: u8) -> bool {
    match part {
        Part::Host => c.is_ascii_alphanumeric() || c == b'-' || c == b'.',
        Part::Path => true,
    }
}

fn glob(pattern: &[u8], text: &[u8], part: Part) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => {
            let run = text.iter().take_while(|&&c| double(part, c)).count();
            (0..=run).any(|i| glob(rest, &text[i..], part))
        }
        [b'*', rest @ ..] => {
            let run = text.iter().take_while(|&&c| single(part, c)).count();
            (0..=run).any(|i| glob(rest, &text[i..], part))
        }
        [p, rest @ ..] => text.first() == Some(p) && glob(rest, &text[1..], part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://app.example.com";

    fn allowed(r: &str, list: &[&str]) -> bool {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        allowed_redirect(Some(r), SITE, &list) == r
    }

    #[test]
    fn the_site_origin_is_always_allowed() {
        assert!(allowed("https://app.example.com/welcome?x=1", &[]));
        assert!(allowed("https://APP.example.com/", &[]));
        assert!(!allowed("https://app.example.com.evil.example/", &[]));
        assert!(!allowed("https://app.example.com@evil.example/", &[]));
        assert!(
            !allowed("https://app.example.com:444/", &[]),
            "another port"
        );
        assert!(!allowed("http://app.example.com/", &[]), "another scheme");
        assert!(!allowed("https://app.example.com/#frag", &[]), "fragments");
        assert!(!allowed("//evil.example", &[]));
        assert!(!allowed("javascript:alert(1)", &[]));
        assert_eq!(allowed_redirect(None, SITE, &[]), SITE);
        assert_eq!(
            allowed_redirect(Some("https://evil.example"), SITE, &[]),
            SITE
        );
    }

    #[test]
    fn allow_list_patterns() {
        let list = [
            "http://localhost:3000/**",
            "https://*.preview.example.com/auth/*",
            "https://*.example.com/**",
            "myapp://callback",
        ];
        assert!(allowed("http://localhost:3000/a/b?c=d", &list));
        assert!(allowed(
            "https://pr-12.preview.example.com/auth/done",
            &list
        ));
        assert!(allowed("https://pr-12.example.com/anything/at/all", &list));
        assert!(!allowed(
            "https://pr-12.preview.example.com/auth/x/y?",
            &list[1..2]
        ));
        assert!(allowed("myapp://callback", &list));
        assert!(!allowed("myapp://callback/extra", &list));
        assert!(!allowed("http://localhost:3001/", &list));
        assert!(
            !allowed("http://localhost:3000/a b", &list),
            "no whitespace"
        );
        // Hosts that only look as if they matched.
        for evil in [
            "https://3627734734#.example.com/",
            "https://[2001:db8::1]?.example.com/",
            "https://evil\u{3002}com#.example.com/",
            "https://evil.com?.example.com/",
            "https://evil.com/.example.com/",
            "https://user@x.example.com/",
        ] {
            assert!(!allowed(evil, &list), "{evil}");
        }
    }
}
