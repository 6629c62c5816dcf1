//! Records kept in sled (JSON values), and the product's vocabulary types.

use std::fmt;
use std::str::FromStr;

use coffre_crypto::{DocumentId, GrantId, PrincipalId, ShareId};
use serde::{Deserialize, Serialize};

use crate::{Result, VaultError};

/// Bytes as base64 in JSON.
pub(crate) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// Document categories: the scopes of consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Identity,
    Residence,
    Family,
    SocialBenefits,
    Health,
    Housing,
    Employment,
    IncomeTaxes,
    Other,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Identity,
        Category::Residence,
        Category::Family,
        Category::SocialBenefits,
        Category::Health,
        Category::Housing,
        Category::Employment,
        Category::IncomeTaxes,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Identity => "identity",
            Category::Residence => "residence",
            Category::Family => "family",
            Category::SocialBenefits => "social_benefits",
            Category::Health => "health",
            Category::Housing => "housing",
            Category::Employment => "employment",
            Category::IncomeTaxes => "income_taxes",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                VaultError::Invalid(format!(
                    "unknown category {:?}",
                    s.chars().take(40).collect::<String>()
                ))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    View,
    Upload,
}

/// Grant durations, as French mandates go (Aidants Connect).
pub const GRANT_DAYS: [u32; 4] = [1, 31, 182, 365];

pub const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureRecord {
    pub id: PrincipalId,
    pub name: String,
    pub recipient: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseworkerRecord {
    pub id: PrincipalId,
    pub structure: PrincipalId,
    pub admin: bool,
    pub active: bool,
    /// Blind index of the login.
    pub login_index: String,
    /// Set at enrolment.
    pub recipient: Option<String>,
    #[serde(with = "b64", default)]
    pub sealed_identity: Vec<u8>,
    /// The structure identity wrapped to this caseworker's recipient.
    #[serde(with = "b64", default)]
    pub structure_wrap: Vec<u8>,
    pub created_ms: i64,
}

/// A one-time enrolment code (stored under its lookup key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolmentRecord {
    pub caseworker: PrincipalId,
    pub structure: PrincipalId,
    pub expires_ms: i64,
    /// The structure identity wrapped under the code.
    #[serde(with = "b64")]
    pub structure_wrap: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoverySeal {
    pub structure: PrincipalId,
    #[serde(with = "b64")]
    pub wrap: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BeneficiaryRecord {
    pub id: PrincipalId,
    pub login_index: String,
    /// Display name sealed under the root key ring.
    #[serde(with = "b64")]
    pub sealed_name: Vec<u8>,
    pub recipient: String,
    #[serde(with = "b64")]
    pub sealed_identity: Vec<u8>,
    pub recovery: Vec<RecoverySeal>,
    pub linked: Vec<PrincipalId>,
    pub used_bytes: u64,
    pub created_ms: i64,
    /// Told at the next successful login, then cleared.
    #[serde(default)]
    pub pending_notices: Vec<String>,
}

/// The current scope key of (beneficiary, category).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScopeRecord {
    pub epoch: u32,
    pub recipient: String,
    /// The scope identity wrapped to the beneficiary.
    #[serde(with = "b64")]
    pub owner_wrap: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub beneficiary: PrincipalId,
    pub structure: PrincipalId,
    pub categories: Vec<Category>,
    pub permissions: Vec<Permission>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The sweeper has removed its wraps after expiry.
    #[serde(default)]
    pub swept: bool,
}

impl GrantRecord {
    pub fn live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && now_ms < self.expires_ms
    }
}

/// How a document's key is wrapped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum KeyWrap {
    /// To the owner's recipient only.
    Owner {
        #[serde(with = "b64")]
        wrap: Vec<u8>,
    },
    /// To the scope key of the document's category, at this epoch.
    Scope {
        epoch: u32,
        #[serde(with = "b64")]
        wrap: Vec<u8>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub version: u32,
    pub beneficiary: PrincipalId,
    pub category: Category,
    pub size: u64,
    pub stored_size: u64,
    /// SHA-256 of the plaintext (hex), as the export manifest states it.
    pub sha256: String,
    /// SHA-256 of the stored object (hex), for scrubbing.
    pub stored_sha256: String,
    pub uploaded_ms: i64,
    /// `beneficiary:<id>` or `caseworker:<id>`.
    pub uploaded_by: String,
    /// The paper's own expiry date, YYYY-MM-DD.
    pub expires_on: Option<String>,
    #[serde(with = "b64")]
    pub sealed_title: Vec<u8>,
    #[serde(with = "b64")]
    pub sealed_filename: Vec<u8>,
    #[serde(with = "b64")]
    pub sealed_content_type: Vec<u8>,
    /// Free notes (who gave the paper, where the original is), sealed; empty
    /// when there are none.
    #[serde(with = "b64", default)]
    pub sealed_notes: Vec<u8>,
    pub key: KeyWrap,
}

impl DocumentRecord {
    pub fn private(&self) -> bool {
        matches!(self.key, KeyWrap::Owner { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareRecord {
    pub id: ShareId,
    pub document: DocumentId,
    pub version: u32,
    pub beneficiary: PrincipalId,
    pub category: Category,
    pub created_by: String,
    /// The structure whose caseworker made the link (none for the owner's):
    /// its links die with its consent.
    #[serde(default)]
    pub structure: Option<PrincipalId>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub max_downloads: u32,
    pub downloads: u32,
    #[serde(with = "b64")]
    pub wrap: Vec<u8>,
}

/// Failed login attempts of one account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub failures: u32,
    pub locked_until_ms: i64,
    /// Failures since the last successful login, to tell the owner.
    pub unreported: u32,
}

/// Validates a YYYY-MM-DD date (the paper's own expiry date).
pub fn parse_date(s: &str) -> Result<(i32, u32, u32)> {
    let bad = || VaultError::Invalid("dates are YYYY-MM-DD".into());
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let y: i32 = s[..4].parse().map_err(|_| bad())?;
    let m: u32 = s[5..7].parse().map_err(|_| bad())?;
    let d: u32 = s[8..].parse().map_err(|_| bad())?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1900..=2200).contains(&y) || d == 0 || d > days {
        return Err(bad());
    }
    Ok((y, m, d))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(parse_date("2027-02-29").is_err());
        assert!(parse_date("2028-02-29").is_ok());
        assert!(parse_date("2027-13-01").is_err());
        assert!(parse_date("27-01-01").is_err());
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 23), 20_780);
    }

    #[test]
    fn categories_parse() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        assert!("passport".parse::<Category>().is_err());
    }
}
