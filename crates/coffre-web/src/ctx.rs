//! What every page's frame needs (`templates/base.html`): its language,
//! title, the session's CSRF token, the current menu entry, the session's
//! time limit (RGAA 13.1), the demonstration banner.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use coffre_api::AppState;

use crate::WebConfig;
use crate::i18n::{Lang, Tr};
use crate::session::{Person, lang_of};

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub tr: Tr,
    pub lang: &'static str,
    pub dir: &'static str,
    pub title: String,
    /// Logged in: the token every form carries.
    pub csrf: Option<String>,
    /// The menu entry of this page (`papiers`, `acces`, `journal`, `compte`).
    pub nav: &'static str,
    pub demo: bool,
    /// Seconds before an idle session ends (0: not logged in).
    pub idle_secs: u64,
    pub session_note: String,
    /// This page's path, to come back to after a language change.
    pub path: String,
    pub path_q: String,
    /// The other languages, `(code, name in that language)`.
    pub languages: Vec<(&'static str, &'static str)>,
    /// A page of the desk (`/pro`): its menu, its logout.
    pub pro: bool,
    /// A structure admin at the desk (the menu shows "Ma structure").
    pub admin: bool,
}

impl Ctx {
    fn new(tr: Tr, web: &WebConfig, title_key: &str, path: &str) -> Self {
        let languages = Lang::ALL
            .into_iter()
            .filter(|l| *l != tr.lang)
            .map(|l| {
                (
                    l.code(),
                    match l {
                        Lang::Fr => "Français",
                        Lang::En => "English",
                    },
                )
            })
            .collect();
        Self {
            lang: tr.lang.code(),
            dir: tr.lang.dir(),
            title: tr.t(title_key),
            csrf: None,
            nav: "",
            demo: web.demo,
            idle_secs: 0,
            session_note: String::new(),
            path: path.to_owned(),
            path_q: query_escape(path),
            languages,
            pro: path.starts_with("/pro"),
            admin: false,
            tr,
        }
    }

    /// A page for someone not logged in.
    pub fn visitor(v: &Visitor, title_key: &str) -> Self {
        Self::new(v.tr, &v.web, title_key, &v.path)
    }

    /// A page of the person's space.
    pub fn person(p: &Person, state: &AppState, title_key: &str, nav: &'static str) -> Self {
        let mut c = Self::new(p.tr, &p.web, title_key, &p.path);
        c.csrf = Some(p.csrf.clone());
        c.nav = nav;
        let left = state.vault.session_time_left(&p.session).as_secs();
        c.idle_secs = left.max(1);
        c.session_note = p.tr.n("session-note", left.div_ceil(60).max(1));
        c
    }

    /// A page of the desk, for a caseworker past their second factor.
    pub fn caseworker(
        cw: &crate::session::Caseworker,
        state: &AppState,
        title_key: &str,
        nav: &'static str,
    ) -> Self {
        let mut c = Self::new(cw.tr, &cw.web, title_key, &cw.path);
        c.csrf = Some(cw.csrf.clone());
        c.admin = cw.admin;
        c.nav = nav;
        let left = state.vault.session_time_left(&cw.session).as_secs();
        c.idle_secs = left.max(1);
        c.session_note = cw.tr.n("session-note", left.div_ceil(60).max(1));
        c
    }

    /// Replaces the title with text already in words (a paper's title).
    pub fn titled(mut self, title: String) -> Self {
        self.title = title;
        self
    }

    /// A message of the page's language.
    pub fn t(&self, key: &str) -> String {
        self.tr.t(key)
    }
}

/// Percent-encodes a path for a query string (only what a path of ours
/// holds needs it).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where to go back to: a path of ours only (never another site).
pub fn local_path(p: &str) -> &str {
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && p.len() <= 512
        && p.bytes().all(|b| b.is_ascii_graphic());
    if ok { p } else { "/" }
}

/// Someone on a page that needs no session.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub tr: Tr,
    pub web: Arc<WebConfig>,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            tr: Tr::new(lang_of(&parts.headers)),
            web: web_config(parts),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// The web configuration, put on every request by the pages' router.
pub fn web_config(parts: &Parts) -> Arc<WebConfig> {
    parts
        .extensions
        .get::<Arc<WebConfig>>()
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_paths_are_followed() {
        assert_eq!(local_path("/papiers"), "/papiers");
        assert_eq!(local_path("//evil.example/x"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("/a b"), "/");
        assert_eq!(query_escape("/papiers/ab?x=1"), "/papiers/ab%3Fx%3D1");
    }
}
