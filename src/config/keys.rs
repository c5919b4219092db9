//! Signing keys of access tokens.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::secret::Secret;

/// Signing algorithm of access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "HS384")]
    Hs384,
    #[value(name = "HS512")]
    Hs512,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    /// Minimum HMAC key length that Hasura accepts (bits / 8).
    pub fn min_hmac_key_len(self) -> usize {
        match self {
            Self::Hs256 => 32,
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 0,
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Self::Hs256 => A::HS256,
            Self::Hs384 => A::HS384,
            Self::Hs512 => A::HS512,
            Self::Rs256 => A::RS256,
            Self::Es256 => A::ES256,
            Self::EdDsa => A::EdDSA,
        }
    }
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Signing keys")]
pub struct KeyArgs {
    /// Access-token signing algorithm. Defaults to HS256 with AUTH_JWT_SECRET, to the key's
    /// own algorithm with AUTH_JWT_PRIVATE_KEY_FILE, and to EdDSA with a development key.
    #[arg(long, env = "AUTH_JWT_ALGORITHM", value_enum, ignore_case = true)]
    pub jwt_algorithm: Option<JwtAlgorithm>,

    /// HMAC secret for HS256/384/512, used as its raw UTF-8 bytes exactly as Hasura does
    /// (at least 32/48/64 bytes).
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// PEM private key that signs access tokens (RSA, P-256 or Ed25519; PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "AUTH_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,

    /// Further PEM keys (public or private), comma-separated, that are published in the JWKS
    /// and accepted, but never sign: the next key during a rotation, or the previous one.
    #[arg(long, env = "AUTH_JWT_ADDITIONAL_KEY_FILES", value_delimiter = ',')]
    pub jwt_additional_key_files: Vec<PathBuf>,

    /// Directory for the development signing key that is created when no key is configured.
    #[arg(long, env = "AUTH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}
