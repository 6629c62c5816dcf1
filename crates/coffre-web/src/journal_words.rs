//! A journal entry as a sentence for the person: who (you, or the
//! structure's name — never an id), what, on which paper, when. The words
//! are in the Fluent files: `j-{event}` for what was done ("{ $who } a
//! téléchargé { $paper }"), `jw-{event}` for what was tried (infinitive),
//! with `$you` choosing the verb's person.

use std::collections::HashMap;

use coffre_api::AppState;
use coffre_crypto::PrincipalId;
use coffre_crypto::audit::Entry;
use coffre_vault::{DownloadFailure, Event, Who};

use crate::i18n::Tr;

/// The names a page of sentences needs, looked up once per page.
#[derive(Debug)]
pub struct Names<'a> {
    pub state: &'a AppState,
    pub person: PrincipalId,
    /// Paper titles by document id (as text).
    pub titles: HashMap<String, String>,
    structures: HashMap<PrincipalId, String>,
    /// Structure names by structure id (entries that name a structure).
    named: HashMap<PrincipalId, String>,
}

impl<'a> Names<'a> {
    pub fn new(state: &'a AppState, person: PrincipalId, titles: HashMap<String, String>) -> Self {
        Self {
            state,
            person,
            titles,
            structures: HashMap::new(),
            named: HashMap::new(),
        }
    }

    /// Who acted, in words, and whether it was the person.
    fn who(&mut self, tr: &Tr, actor: &str) -> (String, bool) {
        match Who::parse(actor) {
            Some(Who::Beneficiary(id)) if id == self.person => (tr.t("you"), true),
            Some(Who::Beneficiary(_)) => (tr.t("who-someone"), false),
            Some(Who::Caseworker(id)) => {
                let state = self.state;
                let name = self
                    .structures
                    .entry(id)
                    .or_insert_with(|| {
                        state
                            .vault
                            .structure_name_of_caseworker(id)
                            .unwrap_or_else(|| tr.t("someone-structure"))
                    })
                    .clone();
                (name, false)
            }
            Some(Who::Share(_)) => (tr.t("who-link"), false),
            Some(Who::Operator) => (tr.t("who-operator"), false),
            Some(Who::System) => (tr.t("who-system"), false),
            Some(Who::Anonymous) | None => (tr.t("who-someone"), false),
        }
    }

    fn paper(&self, tr: &Tr, e: &Entry) -> String {
        match e.document.as_deref().and_then(|d| self.titles.get(d)) {
            Some(t) => tr.with("paper-quoted", &[("title", t)]),
            None if e.document.is_some() => tr.t("paper-unknown"),
            None => tr.t("paper-none"),
        }
    }

    /// The structure an entry's detail names (`structure:<id>`: a grant,
    /// a trustee), in words.
    fn structure(&mut self, tr: &Tr, e: &Entry) -> String {
        let id = e.detail.as_deref().and_then(|d| {
            let rest = &d[d.find("structure:")? + "structure:".len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ';' || c == ',')
                .unwrap_or(rest.len());
            rest[..end].parse::<PrincipalId>().ok()
        });
        let Some(id) = id else {
            return tr.t("someone-structure");
        };
        let state = self.state;
        self.named
            .entry(id)
            .or_insert_with(|| {
                state
                    .vault
                    .structure(id)
                    .map(|s| s.name)
                    .unwrap_or_else(|_| tr.t("someone-structure"))
            })
            .clone()
    }

    /// The entry as a sentence.
    pub fn sentence(&mut self, tr: &Tr, e: &Entry) -> String {
        let (who, you) = self.who(tr, &e.actor);
        let paper = self.paper(tr, e);
        let structure = self.structure(tr, e);
        let key = e.action.replace(['.', '_'], "-");
        let you = if you { "yes" } else { "no" };
        let vars = [
            ("who", who.as_str()),
            ("you", you),
            ("paper", paper.as_str()),
            ("structure", structure.as_str()),
        ];
        let what = tr.with(&format!("jw-{key}"), &vars);
        let what = if what.starts_with("jw-") {
            tr.t("jw-other")
        } else {
            what
        };
        // A download that failed, as the vault spells it.
        let failure = (e.action == Event::DocumentDownload.code())
            .then(|| e.detail.as_deref().and_then(DownloadFailure::parse))
            .flatten();
        // A link at the counter, a duplicate (printed, or that failed):
        // said as such.
        let variant = match e.detail.as_deref() {
            Some(d) if d.starts_with("counter:") => "-counter",
            Some("duplicate") => "-duplicate",
            _ if failure.is_some_and(|f| f.duplicate) => "-duplicate",
            _ => "",
        };
        match e.outcome.as_str() {
            "ok" => {
                let special = tr.with(&format!("j-{key}{variant}"), &vars);
                let done = if variant.is_empty() || special.starts_with("j-") {
                    tr.with(&format!("j-{key}"), &vars)
                } else {
                    special
                };
                if done.starts_with("j-") {
                    tr.with("j-other", &[("who", &who), ("you", you), ("what", &what)])
                } else {
                    done
                }
            }
            "denied" => tr.with("j-denied", &[("who", &who), ("you", you), ("what", &what)]),
            _ => {
                let special = tr.with(&format!("jw-{key}{variant}"), &vars);
                let what = if variant.is_empty() || special.starts_with("jw-") {
                    what
                } else {
                    special
                };
                // Someone else's attempt that failed names them, and says
                // why (nothing for the person to retry). A download is
                // journaled before its paper is opened: one that then did
                // not open ("not opened: …") corrects the line saying it
                // was downloaded.
                let by_someone = you == "no"
                    && matches!(
                        Who::parse(&e.actor),
                        Some(Who::Caseworker(_) | Who::Beneficiary(_) | Who::Share(_))
                    );
                let why = tr.t(if failure.is_some_and(|f| f.damaged) {
                    "why-damaged"
                } else {
                    "why-down"
                });
                if by_someone {
                    let key = if failure.is_some_and(|f| f.after_entry) {
                        "j-failed-after"
                    } else {
                        "j-failed-by"
                    };
                    tr.with(key, &[("who", &who), ("what", &what), ("why", &why)])
                } else {
                    tr.with("j-failed", &[("what", &what)])
                }
            }
        }
    }
}

/// Reads the person does of their own papers: hidden unless they ask
/// (each page they open is one, and would bury what others did).
pub fn own_read(e: &Entry, person: PrincipalId) -> bool {
    let own = Who::parse(&e.actor) == Some(Who::Beneficiary(person));
    // A duplicate printed is not a mere read: always shown.
    own && e.outcome == "ok"
        && e.detail.as_deref() != Some("duplicate")
        && matches!(
            e.action.as_str(),
            "document.list"
                | "document.read"
                | "document.download"
                | "journal.read"
                | "grant.list"
                | "beneficiary.see"
        )
}
