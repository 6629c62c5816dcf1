//! Every word a page shows comes from a Fluent file (`locales/{lang}/coffre.ftl`),
//! baked into the binary: French complete, English proving the mechanism.
//! A message missing from a language falls back to French, then to its key
//! (a test checks that French has every key the pages use).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::{LanguageIdentifier, langid};

/// The languages the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The `lang` attribute and the cookie's value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Writing direction, for `dir` (the stylesheet uses logical
    /// properties only, so a right-to-left language is a file away).
    pub fn dir(self) -> &'static str {
        "ltr"
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Fr => include_str!("../locales/fr/coffre.ftl"),
            Lang::En => include_str!("../locales/en/coffre.ftl"),
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Fr => langid!("fr"),
            Lang::En => langid!("en"),
        }
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static FR: OnceLock<Bundle> = OnceLock::new();
    static EN: OnceLock<Bundle> = OnceLock::new();
    let cell = match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    };
    cell.get_or_init(|| {
        let mut b = FluentBundle::new_concurrent(vec![lang.id()]);
        // No invisible isolation marks around variables: the pages set
        // `dir` themselves, and the marks would end up in copied text.
        b.set_use_isolating(false);
        // A syntax error in a baked-in file is caught by the tests; what
        // parsed is still used.
        let res = FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(r, _)| r);
        let _ = b.add_resource(res);
        b
    })
}

/// The words of one page, in one language.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        for lang in [self.lang, Lang::Fr] {
            let b = bundle(lang);
            if let Some(pattern) = b.get_message(key).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return b.format_pattern(pattern, args, &mut errors).into_owned();
            }
        }
        key.to_owned()
    }

    /// A message without variables.
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// A message with one number (`$n`): plurals come from the file.
    pub fn n(&self, key: &str, n: u64) -> String {
        let mut args = FluentArgs::new();
        args.set("n", FluentValue::from(n));
        self.format(key, Some(&args))
    }

    /// A message with named text variables.
    pub fn with(&self, key: &str, vars: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        for (k, v) in vars {
            args.set(*k, FluentValue::from(*v));
        }
        self.format(key, Some(&args))
    }

    /// A message with named text variables and one number (`$n`).
    pub fn with_n(&self, key: &str, n: u64, vars: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        args.set("n", FluentValue::from(n));
        for (k, v) in vars {
            args.set(*k, FluentValue::from(*v));
        }
        self.format(key, Some(&args))
    }

    /// A calendar date in words: "3 mars 2026".
    pub fn date(&self, d: coffre_vault::Date) -> String {
        self.civil(d.civil())
    }

    /// The day `ms` falls on in France, in words.
    pub fn day(&self, ms: i64) -> String {
        Self::local_day(ms).map_or_else(String::new, |d| self.civil(d))
    }

    fn civil(&self, d: jiff::civil::Date) -> String {
        let month = self.t(&format!("month-{}", d.month()));
        self.with(
            "date",
            &[
                ("day", &d.day().to_string()),
                ("month", &month),
                ("year", &d.year().to_string()),
            ],
        )
    }

    /// A moment in words, in France's time: "3 mars 2026 à 10 h 12".
    pub fn moment(&self, ms: i64) -> String {
        let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
            return String::new();
        };
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
        let local = ts.to_zoned_datetime(tz);
        let d = local.date();
        let month = self.t(&format!("month-{}", d.month()));
        self.with(
            "moment",
            &[
                ("day", &d.day().to_string()),
                ("month", &month),
                ("year", &d.year().to_string()),
                ("hour", &local.hour().to_string()),
                ("minute", &format!("{:02}", local.minute())),
            ],
        )
    }

    /// The day `ms` falls on in France, as a calendar date.
    pub fn local_day(ms: i64) -> Option<jiff::civil::Date> {
        let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
        let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
        Some(ts.to_zoned_datetime(tz).date())
    }

    /// Whether the message exists in this very language (tests).
    pub fn has(&self, key: &str) -> bool {
        bundle(self.lang).has_message(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_parse_without_errors() {
        for lang in Lang::ALL {
            let parsed = FluentResource::try_new(lang.source().to_owned());
            assert!(parsed.is_ok(), "{}: {:?}", lang.code(), parsed.err());
        }
    }

    /// A message defined twice keeps its first text, silently: the second
    /// is never shown.
    #[test]
    fn no_message_is_defined_twice() {
        for lang in Lang::ALL {
            let res = FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(r, _)| r);
            let mut seen = std::collections::HashSet::new();
            let mut twice = Vec::new();
            for entry in res.entries() {
                if let fluent_syntax::ast::Entry::Message(m) = entry
                    && !seen.insert(m.id.name)
                {
                    twice.push(m.id.name.to_owned());
                }
            }
            assert!(
                twice.is_empty(),
                "{}: defined twice: {twice:?}",
                lang.code()
            );
        }
    }

    #[test]
    fn english_keys_all_exist_in_french() {
        let en = FluentResource::try_new(Lang::En.source().to_owned()).unwrap_or_else(|(r, _)| r);
        let fr = Tr::new(Lang::Fr);
        let mut missing = Vec::new();
        for entry in en.entries() {
            if let fluent_syntax::ast::Entry::Message(m) = entry
                && !fr.has(m.id.name)
            {
                missing.push(m.id.name.to_owned());
            }
        }
        assert!(missing.is_empty(), "in en, not in fr: {missing:?}");
    }

    #[test]
    fn plurals_and_fallback() {
        let fr = Tr::new(Lang::Fr);
        assert_eq!(fr.n("papers-count", 1), "1 papier");
        assert_eq!(fr.n("papers-count", 3), "3 papiers");
        let en = Tr::new(Lang::En);
        assert_eq!(en.n("papers-count", 3), "3 papers");
        assert_eq!(en.t("no-such-key-anywhere"), "no-such-key-anywhere");
        let d: coffre_vault::Date = "2026-03-03".parse().unwrap();
        assert_eq!(fr.date(d), "3 mars 2026");
        // 2026-03-03T09:12:00Z is 10 h 12 in Paris (winter time).
        assert_eq!(fr.moment(1_772_529_120_000), "3 mars 2026 à 10 h 12");
    }
}
