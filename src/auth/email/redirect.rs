//! Where email links may send users: the site URL (any path on its origin), or a URL matching
//! an entry of `AUTH_REDIRECT_URLS`. Anything else falls back to the site URL: never an open
//! redirect.
//!
//! Patterns: `*` matches any run of characters except `/` and `.` (one path segment, one host
//! label), `**` matches anything.

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
    let site_origin = origin(site_url);
    (site_origin.is_some() && origin(requested) == site_origin)
        || allow_list
            .iter()
            .any(|p| glob(p.as_bytes(), requested.as_bytes()))
}

/// `scheme://host[:port]` of an absolute URL, lowercased; `None` for anything else.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // No user info: `https://app.example.com@evil.example` is evil.example.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{}://{}", scheme, authority).to_ascii_lowercase())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment = text
                .iter()
                .position(|&c| c == b'/' || c == b'.')
                .unwrap_or(text.len());
            (0..=segment).any(|i| glob(rest, &text[i..]))
        }
        [p, rest @ ..] => {
            text.first().is_some_and(|t| t.eq_ignore_ascii_case(p)) && glob(rest, &text[1..])
        }
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
        assert!(!allowed("http://app.example.com/", &[]), "another scheme");
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
            "myapp://callback",
        ];
        assert!(allowed("http://localhost:3000/a/b?c=d", &list));
        assert!(allowed(
            "https://pr-12.preview.example.com/auth/done",
            &list
        ));
        assert!(
            !allowed("https://a.b.preview.example.com/auth/done", &list),
            "one label"
        );
        assert!(
            !allowed("https://pr-12.preview.example.com/auth/x/y", &list),
            "one segment"
        );
        assert!(allowed("myapp://callback", &list));
        assert!(!allowed("myapp://callback/extra", &list));
        assert!(!allowed("http://localhost:3001/", &list));
        assert!(
            !allowed("http://localhost:3000/a b", &list),
            "no whitespace"
        );
    }
}
