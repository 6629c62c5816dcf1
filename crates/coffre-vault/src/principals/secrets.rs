//! People's secrets: which are refused as too easy to guess, and the
//! passphrases of easy words proposed instead.
//!
//! A person may choose a code of 6 digits or more, or a passphrase. Codes
//! anyone would try first (repeated or sequential digits, the most common
//! codes, a date such as a birthday) are refused; so are the most common
//! passwords, and the person's own identifier. The passphrase proposed is
//! five words drawn from about 1,400 easy French words (more than 50 bits,
//! the CNIL's floor where attempts are limited). `SECURITY.md` gives the
//! arithmetic.

use std::sync::OnceLock;

use coffre_crypto::UserSecret;
use ring::rand::{SecureRandom, SystemRandom};

use crate::{Result, VaultError};

const MAX_SECRET: usize = 256;
/// Words in a proposed passphrase.
pub const SUGGESTED_WORDS: usize = 5;

/// Why a secret is refused (each has its own words on the pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretProblem {
    /// A code of fewer than 6 digits.
    CodeTooShort,
    /// A passphrase of fewer than 8 characters.
    PassphraseTooShort,
    TooLong,
    /// The same digit or character throughout, or a short pattern repeated.
    Repeated,
    /// Digits in a row (123456, 987654).
    Sequence,
    /// A date (a birthday is the first thing tried).
    Date,
    /// Among the codes and passwords people choose most.
    Common,
    /// The login identifier itself.
    SameAsIdentifier,
}

impl SecretProblem {
    /// In English, for logs and the API.
    pub fn describe(self) -> &'static str {
        match self {
            SecretProblem::CodeTooShort => "a code has at least 6 digits",
            SecretProblem::PassphraseTooShort => "a passphrase has at least 8 characters",
            SecretProblem::TooLong => "at most 256 characters",
            SecretProblem::Repeated => "too easy to guess: a repeated pattern",
            SecretProblem::Sequence => "too easy to guess: digits in a row",
            SecretProblem::Date => "too easy to guess: a date",
            SecretProblem::Common => "too easy to guess: one of the most common",
            SecretProblem::SameAsIdentifier => "the secret cannot be the identifier",
        }
    }
}

/// Codes people choose most, beyond the patterns refused anyway.
const COMMON_CODES: &[&str] = &[
    "696969", "159753", "147258", "258369", "147852", "789456", "456123", "102030", "112233",
    "121314", "131313", "141414", "151515", "202020", "212121", "232323", "252525", "292929",
    "303030", "313131", "333666", "520520", "666666", "777777", "888888", "999999", "100200",
    "200300", "123321", "321321", "159357", "753951", "951753", "852456", "963852", "741852",
    "741963", "147369", "369258", "123654", "456654", "654456", "111222", "222333", "112358",
    "314159", "271828", "142857", "007007", "123789",
];

/// Passwords people choose most (lower case, compared without spaces).
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "motdepasse",
    "azertyuiop",
    "qwertyuiop",
    "azertyui",
    "azerty123",
    "iloveyou",
    "jetaime",
    "jetaimebeaucoup",
    "soleil123",
    "bonjour123",
    "doudou123",
    "chouchou",
    "loulou123",
    "marseille",
    "football",
    "princesse",
    "nicolas1",
    "password1",
    "motdepasse1",
    "azertyuiop1",
    "abcdefgh",
    "abcd1234",
    "coucou123",
    "zxcvbnm1",
];

/// Checks a person's secret (a code or a passphrase); `identifier` is their
/// login, which it must not be.
pub fn check_person_secret(s: &UserSecret, identifier: Option<&str>) -> Result<()> {
    problem(s.expose(), identifier).map_or(Ok(()), |p| Err(VaultError::WeakSecret(p)))
}

fn problem(t: &str, identifier: Option<&str>) -> Option<SecretProblem> {
    let n = t.chars().count();
    if n > MAX_SECRET {
        return Some(SecretProblem::TooLong);
    }
    // Digits with spaces between them ("12 34 56") are a code all the same:
    // judged without the spaces.
    let digits: Vec<u8> = t.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let is_code = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    if is_code {
        let code = std::str::from_utf8(&digits).unwrap_or_default();
        if digits.len() < 6 {
            return Some(SecretProblem::CodeTooShort);
        }
        if repeated(&digits) {
            return Some(SecretProblem::Repeated);
        }
        if sequence(&digits) {
            return Some(SecretProblem::Sequence);
        }
        if date(&digits) {
            return Some(SecretProblem::Date);
        }
        if COMMON_CODES.contains(&code) {
            return Some(SecretProblem::Common);
        }
    } else {
        if n < 8 {
            return Some(SecretProblem::PassphraseTooShort);
        }
        let folded: String = t
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        if repeated(folded.as_bytes()) {
            return Some(SecretProblem::Repeated);
        }
        if COMMON_PASSWORDS.contains(&folded.as_str()) {
            return Some(SecretProblem::Common);
        }
    }
    if identifier.is_some_and(|i| t.trim().to_lowercase() == i.trim().to_lowercase()) {
        return Some(SecretProblem::SameAsIdentifier);
    }
    None
}

/// A short pattern (1 to 3 bytes) repeated over the whole secret.
fn repeated(b: &[u8]) -> bool {
    (1..=3).any(|p| b.len() >= 2 * p && b.len().is_multiple_of(p) && b.chunks(p).all(|c| c == &b[..p]))
        // 112233, aabbcc: pairs of the same byte
        || (b.len().is_multiple_of(2) && b.chunks(2).all(|c| c[0] == c[1]) && b.len() <= 8)
}

/// Digits going up or down by one all along (wrapping 9 → 0).
fn sequence(d: &[u8]) -> bool {
    let step = |a: u8, b: u8| (10 + b - b'0' - (a - b'0')) % 10;
    let first = step(d[0], d[1]);
    (first == 1 || first == 9) && d.windows(2).all(|w| step(w[0], w[1]) == first)
}

/// DDMMYY, DDMMYYYY, YYYYMMDD: a day that exists in a plausible year.
fn date(d: &[u8]) -> bool {
    let num = |s: &[u8]| s.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    let valid = |day: u32, month: u32| (1..=31).contains(&day) && (1..=12).contains(&month);
    match d.len() {
        6 => valid(num(&d[..2]), num(&d[2..4])),
        8 => {
            (valid(num(&d[..2]), num(&d[2..4])) && (1900..=2099).contains(&num(&d[4..])))
                || ((1900..=2099).contains(&num(&d[..4])) && valid(num(&d[6..]), num(&d[4..6])))
        }
        _ => false,
    }
}

/// The easy words passphrases are drawn from.
pub fn words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("mots.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// How many bits of entropy a passphrase of `n` words drawn from
/// [`words`] has.
pub fn passphrase_bits(n: usize) -> f64 {
    n as f64 * (words().len() as f64).log2()
}

/// A passphrase of [`SUGGESTED_WORDS`] easy words, drawn uniformly.
pub fn suggest_passphrase() -> Result<String> {
    let list = words();
    let len = u32::try_from(list.len()).map_err(|_| VaultError::Internal("word list"))?;
    let rng = SystemRandom::new();
    // Rejection sampling: uniform over the list, no modulo bias.
    let limit = u32::MAX - u32::MAX % len;
    let mut out = Vec::with_capacity(SUGGESTED_WORDS);
    while out.len() < SUGGESTED_WORDS {
        let mut b = [0u8; 4];
        rng.fill(&mut b)
            .map_err(|_| VaultError::Internal("random number generator"))?;
        let v = u32::from_be_bytes(b);
        if v < limit {
            out.push(list[(v % len) as usize]);
        }
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easy_codes_are_refused_with_their_reason() {
        let p = |s: &str| problem(s, Some("marie.d"));
        assert_eq!(p("12345"), Some(SecretProblem::CodeTooShort));
        assert_eq!(p("123456"), Some(SecretProblem::Sequence));
        assert_eq!(p("987654"), Some(SecretProblem::Sequence));
        assert_eq!(p("890123"), Some(SecretProblem::Sequence));
        assert_eq!(p("000000"), Some(SecretProblem::Repeated));
        assert_eq!(p("121212"), Some(SecretProblem::Repeated));
        assert_eq!(p("123123"), Some(SecretProblem::Repeated));
        assert_eq!(p("112233"), Some(SecretProblem::Repeated));
        assert_eq!(p("140389"), Some(SecretProblem::Date));
        assert_eq!(p("14031989"), Some(SecretProblem::Date));
        assert_eq!(p("19890314"), Some(SecretProblem::Date));
        assert_eq!(p("696969"), Some(SecretProblem::Repeated));
        assert_eq!(p("159753"), Some(SecretProblem::Common));
        assert_eq!(p("motdepasse"), Some(SecretProblem::Common));
        assert_eq!(p("Azerty UIOP"), Some(SecretProblem::Common));
        assert_eq!(p("aaaaaaaa"), Some(SecretProblem::Repeated));
        assert_eq!(p("court"), Some(SecretProblem::PassphraseTooShort));
        // Spaces do not turn a weak code into a passphrase.
        assert_eq!(p("123456  "), Some(SecretProblem::Sequence));
        assert_eq!(p("12 34 56 78"), Some(SecretProblem::Sequence));
        assert_eq!(p(" 1 1 1 1 1 1"), Some(SecretProblem::Repeated));
        assert_eq!(p("1234 5"), Some(SecretProblem::CodeTooShort));
        assert_eq!(
            problem("marie.dupont", Some("Marie.Dupont")),
            Some(SecretProblem::SameAsIdentifier)
        );
        // What people may well choose.
        for ok in ["482913", "735184", "prune cactus hamac", "904417220"] {
            assert_eq!(p(ok), None, "{ok}");
        }
    }

    #[test]
    fn suggestions_are_five_words_from_the_list() {
        assert!(words().len() >= 1400, "{}", words().len());
        assert!(passphrase_bits(SUGGESTED_WORDS) > 50.0);
        let mut seen = std::collections::HashSet::new();
        for w in words() {
            assert!(seen.insert(*w), "{w} twice");
            assert!(w.chars().all(|c| c.is_ascii_lowercase()), "{w}");
        }
        let a = suggest_passphrase().unwrap();
        let b = suggest_passphrase().unwrap();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split(' ').collect();
        assert_eq!(parts.len(), SUGGESTED_WORDS);
        assert!(parts.iter().all(|w| words().contains(w)));
        assert_eq!(problem(&a, None), None);
    }
}
