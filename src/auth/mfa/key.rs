//! The key TOTP secrets are sealed with (`AUTH_MFA_KEY`), or, in development, one created in
//! `AUTH_DATA_DIR` on first start and reused after.

use std::path::Path;

use anyhow::Context;
use base64::{engine::general_purpose::STANDARD, Engine};

use crate::{
    auth::sealing::SealingKey,
    config::{key_bytes, MfaArgs},
    secret::Secret,
};

const DEV_KEY_FILE: &str = "dev-mfa-key";

/// The configured key, or the development key in `data_dir` (then `true`).
pub fn load(args: &MfaArgs, data_dir: &Path) -> anyhow::Result<(SealingKey, bool)> {
    if let Some(key) = &args.mfa_key {
        return Ok((SealingKey::new(&key_bytes(key, "AUTH_MFA_KEY")?)?, false));
    }
    let path = data_dir.join(DEV_KEY_FILE);
    if !path.exists() {
        create(data_dir, &path)?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let key = SealingKey::new(&key_bytes(&Secret::new(text), &path.display().to_string())?)?;
    Ok((key, true))
}

/// Writes a new key to `path`, unless another process got there first: the key is written to
/// a file of its own, then linked into place (which fails if `path` exists), so that every
/// process ends up reading the same complete key.
fn create(data_dir: &Path, path: &Path) -> anyhow::Result<()> {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create AUTH_DATA_DIR {}", data_dir.display()))?;
    let temp = data_dir.join(format!("{DEV_KEY_FILE}.{}", uuid::Uuid::new_v4()));
    crate::auth::keys::write_private_file(&temp, &STANDARD.encode(bytes))?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        mfa: MfaArgs,
    }

    #[test]
    fn development_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args::parse_from(["x"]).mfa;
        let (first, generated) = load(&args, dir.path()).unwrap();
        assert!(generated);
        let (again, _) = load(&args, dir.path()).unwrap();
        let sealed = first.seal(b"f", b"secret").unwrap();
        assert_eq!(again.open(b"f", &sealed).unwrap(), b"secret");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left");

        let configured = Args::parse_from(["x", "--mfa-key", &STANDARD.encode([3u8; 32])]).mfa;
        let (key, generated) = load(&configured, dir.path()).unwrap();
        assert!(!generated);
        assert!(key.open(b"f", &sealed).is_err());
    }
}
