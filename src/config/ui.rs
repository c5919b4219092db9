//! The hosted account pages under `/ui`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Hosted pages")]
pub struct UiArgs {
    /// Turn off the hosted pages under /ui (sign-in, sign-up, password reset, account).
    #[arg(long, env = "AUTH_DISABLE_UI")]
    pub disable_ui: bool,

    /// The app's name, shown on every page.
    #[arg(long, env = "AUTH_UI_APP_NAME", default_value = "Your account")]
    pub ui_app_name: String,

    /// URL of a logo shown above each page's heading (https, or a path on this server).
    #[arg(long, env = "AUTH_UI_LOGO_URL")]
    pub ui_logo_url: Option<String>,

    /// Colour of buttons and links, as `#rgb` or `#rrggbb`.
    #[arg(long, env = "AUTH_UI_ACCENT_COLOR", default_value = "#2754c5")]
    pub ui_accent_color: String,

    /// Page background colour, as `#rgb` or `#rrggbb`.
    #[arg(long, env = "AUTH_UI_BACKGROUND_COLOR", default_value = "#f4f5f7")]
    pub ui_background_color: String,

    /// A directory whose files replace the built-in page templates of the same name
    /// (`base.html`, `sign_in.html`, `style.css`…; minijinja syntax, HTML auto-escaped).
    #[arg(long, env = "AUTH_UI_TEMPLATES_DIR")]
    pub ui_templates_dir: Option<PathBuf>,
}

fn is_hex_colour(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

impl UiArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        for (name, value) in [
            ("AUTH_UI_ACCENT_COLOR", &self.ui_accent_color),
            ("AUTH_UI_BACKGROUND_COLOR", &self.ui_background_color),
        ] {
            ensure!(
                is_hex_colour(value),
                "{name} must be a colour as #rgb or #rrggbb, not {value:?}"
            );
        }
        if let Some(logo) = &self.ui_logo_url {
            ensure!(
                (logo.starts_with("https://") || logo.starts_with('/'))
                    && !logo.chars().any(|c| c.is_whitespace() || c == '"'),
                "AUTH_UI_LOGO_URL must be an https:// URL or a path starting with /"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_hex_colour;

    #[test]
    fn colours() {
        assert!(is_hex_colour("#abc"));
        assert!(is_hex_colour("#A0b1C2"));
        assert!(!is_hex_colour("abc"));
        assert!(!is_hex_colour("#abcd"));
        assert!(!is_hex_colour("#fff;}body{"));
    }
}
