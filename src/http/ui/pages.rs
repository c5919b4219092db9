//! The page templates: built into the binary, each replaceable by a file of the same name in
//! `AUTH_UI_TEMPLATES_DIR`. minijinja (Jinja2 syntax); `.html` templates are auto-escaped.

use std::path::Path;

use anyhow::Context;
use minijinja::{context, Environment, Value};

use crate::config::Config;

const BUILT_IN: [(&str, &str); 14] = [
    ("base.html", include_str!("../../../templates/ui/base.html")),
    (
        "macros.html",
        include_str!("../../../templates/ui/macros.html"),
    ),
    (
        "sign_in.html",
        include_str!("../../../templates/ui/sign_in.html"),
    ),
    (
        "sign_up.html",
        include_str!("../../../templates/ui/sign_up.html"),
    ),
    (
        "forgot_password.html",
        include_str!("../../../templates/ui/forgot_password.html"),
    ),
    (
        "reset_password.html",
        include_str!("../../../templates/ui/reset_password.html"),
    ),
    (
        "message.html",
        include_str!("../../../templates/ui/message.html"),
    ),
    (
        "account.html",
        include_str!("../../../templates/ui/account.html"),
    ),
    (
        "verify.html",
        include_str!("../../../templates/ui/verify.html"),
    ),
    (
        "second_factor.html",
        include_str!("../../../templates/ui/second_factor.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../../../templates/ui/recovery_codes.html"),
    ),
    (
        "api_key.html",
        include_str!("../../../templates/ui/api_key.html"),
    ),
    (
        "consent.html",
        include_str!("../../../templates/ui/consent.html"),
    ),
    ("style.css", include_str!("../../../templates/ui/style.css")),
];

/// The hosted pages' templates and the values every page shows (name, logo, colours).
pub struct Pages {
    env: Environment<'static>,
    /// The pages' base path, such as `/ui` (the public URL's path + `/ui`).
    pub base: String,
    theme: Value,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("base", &self.base).finish()
    }
}

impl Pages {
    /// The templates (with overrides from `dir`), checked by compiling each one.
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        let ui = &config.ui;
        let mut env = Environment::new();
        for (name, source) in BUILT_IN {
            let source = match ui.ui_templates_dir.as_deref() {
                Some(dir) => read_override(dir, name)?.unwrap_or_else(|| source.to_owned()),
                None => source.to_owned(),
            };
            env.add_template_owned(name, source)
                .with_context(|| format!("page template {name}"))?;
        }
        let public = url::Url::parse(&config.public_url()).context("AUTH_PUBLIC_URL")?;
        let base = format!("{}/ui", public.path().trim_end_matches('/'));
        let theme = context! {
            app_name => ui.ui_app_name.clone(),
            logo_url => ui.ui_logo_url.clone(),
            accent => ui.ui_accent_color.clone(),
            background => ui.ui_background_color.clone(),
            ui => base.clone(),
        };
        Ok(Self { env, base, theme })
    }

    /// Renders `name` with the theme and `vars`.
    pub fn render(&self, name: &str, vars: Value) -> anyhow::Result<String> {
        let template = self.env.get_template(name)?;
        Ok(template.render(context! { ..vars, ..self.theme.clone() })?)
    }
}

fn read_override(dir: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(source) => Ok(Some(source)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "AUTH_UI_TEMPLATES_DIR: {}: {e}",
            path.display()
        )),
    }
}
