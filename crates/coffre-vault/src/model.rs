//! The product's vocabulary: categories of papers, permissions, grant
//! durations, calendar dates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Result, VaultError};

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

    /// Its position in [`Category::ALL`] (a one-byte key part).
    pub(crate) fn index(self) -> u8 {
        self as u8
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
            .ok_or_else(|| VaultError::Invalid("unknown category".into()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    View,
    Upload,
}

/// Grant durations, as French mandates go (Aidants Connect).
pub const GRANT_DAYS: [u32; 4] = [1, 31, 182, 365];

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// A calendar date (the paper's own validity date), `YYYY-MM-DD` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

impl Date {
    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        i64::from(
            self.0
                .since(jiff::civil::date(1970, 1, 1))
                .map_or(0, |span| span.get_days()),
        )
    }

    /// The day `ms` (milliseconds since the epoch, UTC) falls on.
    pub fn from_epoch_ms(ms: i64) -> Self {
        let days = ms.div_euclid(DAY_MS);
        let d = jiff::civil::date(1970, 1, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(jiff::civil::date(1970, 1, 1));
        Self(d)
    }

    pub fn year(self) -> i16 {
        self.0.year()
    }

    pub fn month(self) -> i8 {
        self.0.month()
    }

    pub fn day(self) -> i8 {
        self.0.day()
    }

    /// The jiff date, for formatting.
    pub fn civil(self) -> jiff::civil::Date {
        self.0
    }
}

impl FromStr for Date {
    type Err = VaultError;
    /// Exactly `YYYY-MM-DD`, a real day, years 1900 to 2200.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || VaultError::Invalid("dates are YYYY-MM-DD".into());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let d: jiff::civil::Date = s.parse().map_err(|_| bad())?;
        if !(1900..=2200).contains(&d.year()) {
            return Err(bad());
        }
        Ok(Self(d))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!("2027-02-29".parse::<Date>().is_err());
        assert!("2028-02-29".parse::<Date>().is_ok());
        assert!("2027-13-01".parse::<Date>().is_err());
        assert!("27-01-01".parse::<Date>().is_err());
        assert!("1899-12-31".parse::<Date>().is_err());
        assert_eq!("1970-01-01".parse::<Date>().unwrap().days_since_epoch(), 0);
        let d: Date = "2026-11-23".parse().unwrap();
        assert_eq!(d.days_since_epoch(), 20_780);
        assert_eq!(d.to_string(), "2026-11-23");
        assert_eq!(Date::from_epoch_ms(20_780 * DAY_MS + 5), d);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-11-23\"");
        assert_eq!(serde_json::from_str::<Date>("\"2026-11-23\"").unwrap(), d);
    }

    #[test]
    fn categories_parse() {
        for (i, c) in Category::ALL.into_iter().enumerate() {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(usize::from(c.index()), i);
        }
        assert!("passport".parse::<Category>().is_err());
    }
}
