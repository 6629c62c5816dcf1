//! The one-time codes of a caseworker's second factor: TOTP (RFC 6238) as
//! every authenticator app reads it — HMAC-SHA-1, 6 digits, 30-second
//! steps, one step of clock drift either side — computed by `totp-rs`.
//!
//! The caller keeps a code from being used twice (RFC 6238 §5.2): a check
//! returns the step it matched, and a step at or before the last one
//! accepted must be refused.

use totp_rs::{Algorithm, Secret, Totp};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Bytes of a secret: 160 bits, RFC 4226's recommendation.
pub const SECRET_LEN: usize = 20;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a step.
pub const STEP_SECS: u64 = 30;

/// The secret an authenticator app and the server share.
pub struct OtpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl OtpSecret {
    /// A new secret from the system's randomness.
    pub fn generate() -> Result<Self> {
        let mut s = Zeroizing::new([0u8; SECRET_LEN]);
        crate::primitives::fill(s.as_mut_slice())?;
        Ok(Self(s))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SECRET_LEN {
            return Err(Error::Decryption);
        }
        let mut s = Zeroizing::new([0u8; SECRET_LEN]);
        s.copy_from_slice(bytes);
        Ok(Self(s))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The secret as an app asks for it when typed by hand (base32, RFC
    /// 4648, no padding).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(Secret::from(self.0.to_vec()).to_base32())
    }

    /// Parses what [`OtpSecret::to_base32`] gave (spaces and case ignored).
    pub fn from_base32(text: &str) -> Result<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let secret = Secret::try_from_base32(cleaned.as_str())
            .map_err(|_| Error::Malformed("otp secret"))?;
        let bytes = Zeroizing::new(secret.as_bytes().to_vec());
        Self::from_slice(&bytes).map_err(|_| Error::Malformed("otp secret"))
    }

    /// The `otpauth://` address an app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<Zeroizing<String>> {
        let totp = totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(self.0.to_vec())
            .with_issuer(Some(issuer.replace(':', " ")))
            .with_account_name(account.replace(':', " "))
            .build()
            .map_err(|_| Error::InvalidParameter("otp account"))?;
        totp.to_url()
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidParameter("otp account"))
    }

    /// The code of the step that holds `unix_secs`.
    pub fn code_at(&self, unix_secs: u64) -> Zeroizing<String> {
        Zeroizing::new(totp(self.expose(), DIGITS).generate(unix_secs).to_string())
    }

    /// The step `code` belongs to, if it is the code of the step holding
    /// `unix_secs` or of the one before or after (constant-time compare).
    pub fn check(&self, code: &str, unix_secs: u64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        totp(self.expose(), DIGITS).check(&code, unix_secs)
    }
}

impl std::fmt::Debug for OtpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpSecret([redacted])")
    }
}

/// HMAC-SHA-1, one step of drift, 30-second steps.
fn totp(secret: &[u8], digits: u8) -> Totp {
    // `build_noncompliant`: the length check is ours (`SECRET_LEN`), and
    // the RFC's own test secret is what the tests below feed it.
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .build_noncompliant()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 column (the mode apps use), seed
    /// "12345678901234567890", 8 digits.
    const RFC6238_SHA1: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_test_vectors() {
        let seed = b"12345678901234567890";
        for (t, want) in RFC6238_SHA1 {
            assert_eq!(totp(seed, 8).generate(t).to_string(), want, "T = {t}");
        }
        // Six digits are the last six of eight (the same truncation).
        let s = OtpSecret::from_slice(seed).unwrap();
        for (t, want) in RFC6238_SHA1 {
            assert_eq!(s.code_at(t).as_str(), &want[2..], "T = {t}");
        }
    }

    #[test]
    fn a_code_holds_one_step_either_side_and_no_more() {
        let s = OtpSecret::from_slice(b"12345678901234567890").unwrap();
        let code = s.code_at(1_111_111_109);
        let step = 1_111_111_109 / STEP_SECS;
        assert_eq!(s.check(&code, 1_111_111_109), Some(step));
        assert_eq!(s.check(&code, 1_111_111_109 + STEP_SECS), Some(step));
        assert_eq!(s.check(&code, 1_111_111_109 - STEP_SECS), Some(step));
        assert_eq!(s.check(&code, 1_111_111_109 + 3 * STEP_SECS), None);
        assert_eq!(s.check("000000x", 1_111_111_109), None);
        assert_eq!(s.check("", 1_111_111_109), None);
        // Typed with a space in the middle, as apps show it.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(s.check(&spaced, 1_111_111_109), Some(step));
    }

    #[test]
    fn base32_round_trip_and_uri() {
        let s = OtpSecret::generate().unwrap();
        let text = s.to_base32();
        assert_eq!(text.len(), 32);
        let back = OtpSecret::from_base32(&text.to_lowercase()).unwrap();
        assert_eq!(back.expose(), s.expose());
        assert!(OtpSecret::from_base32("AAAA").is_err());
        assert!(OtpSecret::from_base32("not base32!").is_err());
        let uri = s.otpauth_uri("Coffre", "julie:x").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Coffre:julie%20x?"),
            "{}",
            uri.as_str()
        );
        assert!(uri.contains(text.as_str()));
        assert_eq!(format!("{s:?}"), "OtpSecret([redacted])");
    }
}
