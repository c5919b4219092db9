//! TOTP (RFC 6238) as authenticator apps and Supabase Auth use it: HMAC-SHA-1, 6 digits,
//! 30-second steps, one step of skew either way; 160-bit secrets shown in base32, in an
//! `otpauth://` URI and as its QR code (an SVG). By the `totp-rs` and `qrcode` crates.

use qrcode::{render::svg, EcLevel, QrCode};
use totp_rs::{Algorithm, Builder, Totp};

/// The length of a new secret, in bytes (RFC 4226's recommended 160 bits).
const SECRET_LEN: usize = 20;

/// A factor's shared secret. `Debug` never shows it.
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

/// What an authenticator app needs to add a factor.
pub struct Enrolment {
    /// The secret in base32, for typing it in.
    pub secret: String,
    /// The `otpauth://totp/...` URI.
    pub uri: String,
    /// The URI as a QR code: an SVG document.
    pub qr_code: String,
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut secret = vec![0u8; SECRET_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        Self(secret)
    }

    /// From the stored (opened) bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: Option<&str>, account: &str) -> anyhow::Result<Totp> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(self.0.clone())
            .with_issuer(issuer)
            .with_account_name(account)
            .build()
            .map_err(|e| anyhow::anyhow!("TOTP: {e}"))
    }

    /// What to show to enrol the secret for `account` of `issuer` (neither holds `:`).
    pub fn enrolment(&self, issuer: &str, account: &str) -> anyhow::Result<Enrolment> {
        let totp = self.totp(Some(issuer), account)?;
        let uri = totp
            .to_url()
            .map_err(|e| anyhow::anyhow!("TOTP URI: {e}"))?;
        let qr = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)?;
        let qr_code = qr
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        Ok(Enrolment {
            secret: totp.secret().to_base32(),
            uri,
            qr_code,
        })
    }

    /// The time step (Unix seconds / 30) whose code `code` is, within one step of `now`.
    pub fn check(&self, code: &str, now: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.totp(None, "").ok()?.check(code, now)
    }

    /// The code of `time`.
    #[cfg(test)]
    fn code_at(&self, time: u64) -> String {
        self.totp(None, "")
            .map(|t| t.generate(time).to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_check_within_one_step_and_name_their_step() {
        // RFC 6238 appendix B's SHA-1 secret; its 8-digit code at 59 s is 94287082.
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at(59), "287082");
        assert_eq!(secret.check("287082", 59), Some(1));
        assert_eq!(secret.check("287082", 89), Some(1), "one step late");
        assert_eq!(secret.check("287082", 119), None, "two steps late");
        assert_eq!(secret.check(" 287082 ", 59), Some(1));
        assert_eq!(secret.check("28708", 59), None);
        assert_eq!(secret.check("abcdef", 59), None);
        assert_eq!(format!("{secret:?}"), "TotpSecret([REDACTED])");
    }

    #[test]
    fn enrolment_shows_the_secret_as_base32_uri_and_svg() {
        let secret = TotpSecret::generate();
        let shown = secret.enrolment("example.com", "a@example.com").unwrap();
        assert_eq!(shown.secret.len(), 32);
        assert!(
            shown
                .uri
                .starts_with("otpauth://totp/example.com:a%40example.com?secret="),
            "{}",
            shown.uri
        );
        assert!(shown.uri.contains("issuer=example.com"));
        assert!(shown.qr_code.contains("<svg"), "{}", &shown.qr_code[..100]);
    }
}
