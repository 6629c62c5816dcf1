//! Key types. Every secret here zeroizes on drop, is neither `Clone` nor
//! `Copy` (a copy is asked for by name: [`Dek::duplicate`]), and prints as
//! `[redacted]` in `Debug`.

use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// A document key: 32 random bytes, one per document version. The input key
/// of the object's chunked encryption, and the key under which its title,
/// file name and notes are sealed.
pub struct Dek(Zeroizing<[u8; 32]>);

impl Dek {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        crate::primitives::fill(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// A fixed key, for the fuzz targets only (they decrypt mutations of
    /// objects sealed under a key they know). Exists in fuzzing builds
    /// alone (`--cfg fuzzing`, set by `cargo fuzz`).
    #[cfg(fuzzing)]
    pub fn fixed_for_fuzzing(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A second copy of this key, zeroized on drop like the first: for a
    /// session's memo of the keys it unwrapped, which keeps its own and
    /// hands out copies (one X25519 unwrap saved per request).
    pub fn duplicate(&self) -> Self {
        // Into a zeroizing buffer directly (no copy left on the stack).
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(self.0.as_slice());
        Self(key)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(Error::Decryption);
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek([redacted])")
    }
}

/// An age X25519 identity (private key) of a principal or of a scope.
pub struct Identity(age::x25519::Identity);

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// Its public half.
    pub fn recipient(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The identity as an age identity file (`AGE-SECRET-KEY-1…` line with
    /// its public key as a comment), readable by the reference `age` tool.
    pub fn to_identity_file(&self) -> Zeroizing<String> {
        let secret = self.0.to_string();
        Zeroizing::new(format!(
            "# Coffre age identity. Keep it secret and backed up.\n# public key: {}\n{}\n",
            self.recipient(),
            secret.expose_secret()
        ))
    }

    /// Parses an age identity file holding exactly one X25519 identity.
    pub fn from_identity_file(text: &str) -> Result<Self> {
        let mut found = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if found.is_some() {
                return Err(Error::Malformed("identity file (more than one key)"));
            }
            let id = age::x25519::Identity::from_str(line).map_err(|_| {
                Error::Malformed("identity file (expected one AGE-SECRET-KEY-1… line)")
            })?;
            found = Some(id);
        }
        found
            .map(Self)
            .ok_or(Error::Malformed("identity file (no key)"))
    }

    /// The secret in age's text form, for sealing only.
    pub(crate) fn secret_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string().expose_secret().to_owned())
    }

    pub(crate) fn from_secret_text(bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Decryption)?;
        age::x25519::Identity::from_str(text)
            .map(Self)
            .map_err(|_| Error::Decryption)
    }

    pub(crate) fn as_age(&self) -> &age::x25519::Identity {
        &self.0
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Identity {{ recipient: {}, secret: [redacted] }}",
            self.recipient()
        )
    }
}

/// An age X25519 recipient (public key). Not secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Recipient(age::x25519::Recipient);

impl Recipient {
    pub(crate) fn as_age(&self) -> &age::x25519::Recipient {
        &self.0
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

impl FromStr for Recipient {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        age::x25519::Recipient::from_str(s.trim())
            .map(Self)
            .map_err(|_| Error::Malformed("age recipient (expected age1…)"))
    }
}

/// A secret typed by a person: a beneficiary's passphrase or PIN, a
/// caseworker's password, an operator's root passphrase. Which secrets are
/// acceptable (length, PIN digits) is the vault's policy; this type only
/// keeps the bytes out of logs and wipes them.
pub struct UserSecret(Zeroizing<String>);

impl UserSecret {
    /// Wraps a secret typed by a person.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret, for the key derivation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for UserSecret {
    fn from(s: &str) -> Self {
        Self::new(s.to_owned())
    }
}

impl fmt::Debug for UserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_file_round_trip() {
        let id = Identity::generate();
        let file = id.to_identity_file();
        let back = Identity::from_identity_file(&file).unwrap();
        assert_eq!(back.recipient(), id.recipient());
        assert!(Identity::from_identity_file("# nothing\n").is_err());
        let twice = format!("{}{}", *file, *Identity::generate().to_identity_file());
        assert!(Identity::from_identity_file(&twice).is_err());
    }

    #[test]
    fn recipient_parses_and_prints() {
        let r = Identity::generate().recipient();
        let s = r.to_string();
        assert!(s.starts_with("age1"));
        assert_eq!(s.parse::<Recipient>().unwrap(), r);
        assert!("age1nope".parse::<Recipient>().is_err());
    }
}
