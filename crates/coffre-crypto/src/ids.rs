//! Random identifiers. They are the only names objects and records get, so
//! no object key or wrap binding ever contains personal data.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh id from the system RNG.
            pub fn random() -> Result<Self> {
                crate::primitives::array().map(Self)
            }

            /// The id with these bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Its 16 bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let mut out = [0u8; 16];
                hex::decode_to_slice(s, &mut out)
                    .map_err(|_| Error::Malformed(concat!(stringify!($name), " (32 hex digits)")))?;
                Ok(Self(out))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// Identifies a document across its versions.
    DocumentId
);
random_id!(
    /// Identifies a principal: beneficiary, caseworker or structure.
    PrincipalId
);
random_id!(
    /// Identifies a consent grant.
    GrantId
);
random_id!(
    /// Identifies a share link (not its secret: the secret is never stored).
    ShareId
);
random_id!(
    /// Identifies a recovery of a person's access, while it is under way.
    RecoveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        let id = DocumentId::random().unwrap();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<DocumentId>().unwrap(), id);
        assert!("xyz".parse::<DocumentId>().is_err());
        assert_ne!(DocumentId::random().unwrap(), id);
    }
}
