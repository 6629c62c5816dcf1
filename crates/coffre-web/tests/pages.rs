//! Every page of the person's space, rendered in process on the
//! demonstration vault and checked with an HTML parser: `lang`, a distinct
//! `<title>`, the skip link, every field labelled, no image without `alt`,
//! no inline script, under 50 KB with its stylesheet and icons. Then what
//! the pages promise against misuse: CSRF, other sites, a caseworker's
//! session, someone else's paper, shared computers, logout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use coffre_api::{ApiConfig, AppState};
use coffre_crypto::root::RootKeyRing;
use coffre_store::FsStore;
use coffre_vault::{Limits, Vault, VaultConfig};
use coffre_web::WebConfig;
use coffre_web::demo::DemoLogins;
use scraper::{Html, Selector};
use tower::ServiceExt;

struct Site {
    app: Router,
    state: AppState,
    logins: DemoLogins,
    _dir: tempfile::TempDir,
}

async fn site_with(web: WebConfig) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: dir.path().join("person-keys"),
        journal: dir.path().join("journal"),
        db_path: dir.path().join("db"),
        store,
        root: RootKeyRing::generate().unwrap(),
        limits: Limits::default(),
    })
    .await
    .unwrap();
    let logins = coffre_web::demo::seed(&vault).await.unwrap();
    let state = AppState::new(vault, ApiConfig::default());
    Site {
        app: coffre_web::app(state.clone(), web),
        state,
        logins,
        _dir: dir,
    }
}

async fn site() -> Site {
    site_with(WebConfig {
        demo: true,
        ..WebConfig::default()
    })
    .await
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Site {
    async fn send(&self, req: Request<Body>) -> Answer {
        let mut req = req;
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 26)
            .await
            .unwrap();
        // French typography puts no-break spaces before « ? : » and
        // inside « »; the checks below read words.
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).replace(['\u{a0}', '\u{202f}'], " "),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        self.post_from(path, cookie, form, "same-origin").await
    }

    async fn post_from(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        site: &str,
    ) -> Answer {
        let mut b = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let body = serde_urlencoded::to_string(form).unwrap();
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// The paper the home page's first banner points at (Marie's identity
    /// card, about to expire).
    async fn card(&self, cookie: &str) -> String {
        let home = self.get("/papiers", Some(cookie)).await;
        href(&home.body, ".banner a[href^='/papiers/']")
    }

    /// "Montrer au guichet" on `paper`, for `recipient`, from its page.
    async fn show_at_counter(&self, cookie: &str, paper: &str, recipient: &str) -> Answer {
        let show = self.get(&format!("{paper}/montrer"), Some(cookie)).await;
        self.post(
            &format!("{paper}/guichet"),
            Some(cookie),
            &[("csrf", &csrf(&show.body)), ("pour", recipient)],
        )
        .await
    }

    /// The vault session behind a page cookie.
    fn session_of(&self, cookie: &str) -> std::sync::Arc<coffre_vault::Session> {
        self.state
            .vault
            .session(cookie.trim_start_matches("coffre_page="))
            .unwrap()
    }

    /// Logs a demonstration person in; their cookie.
    async fn login(&self, who: usize, device: &str) -> String {
        let (_, identifier, secret) = &self.logins.people[who];
        let a = self
            .post(
                "/connexion",
                None,
                &[
                    ("identifier", identifier),
                    ("secret", secret),
                    ("appareil", device),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        assert_eq!(a.location(), "/papiers");
        let set = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        set.split(';').next().unwrap().to_owned()
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// The structural checks every page passes; returns its title.
fn check_page(path: &str, html: &str) -> String {
    let css = include_str!("../static/coffre.css");
    assert!(
        html.len() + css.len() < 50 * 1024,
        "{path}: {} bytes with the stylesheet",
        html.len() + css.len()
    );
    let doc = Html::parse_document(html);
    let root = doc.select(&sel("html")).next().unwrap();
    let lang = root.value().attr("lang").unwrap_or("");
    assert!(lang == "fr" || lang == "en", "{path}: lang {lang:?}");
    assert!(root.value().attr("dir").is_some(), "{path}: dir");
    let title: String = doc
        .select(&sel("title"))
        .next()
        .map(|t| t.text().collect())
        .unwrap_or_default();
    assert!(
        title.ends_with("— Coffre") && title.len() > 10,
        "{path}: title {title:?}"
    );
    let skip = doc
        .select(&sel("a.skip"))
        .next()
        .unwrap_or_else(|| panic!("{path}: no skip link"));
    assert_eq!(skip.value().attr("href"), Some("#contenu"), "{path}");
    assert_eq!(doc.select(&sel("main#contenu")).count(), 1, "{path}: main");
    assert_eq!(doc.select(&sel("h1")).count(), 1, "{path}: one h1");
    assert!(
        doc.select(&sel("a[href='/accessibilite']")).count() == 1,
        "{path}: the accessibility page is linked"
    );
    // Every field a person fills has a label.
    let labels: Vec<String> = doc
        .select(&sel("label[for]"))
        .filter_map(|l| l.value().attr("for").map(str::to_owned))
        .collect();
    for input in doc.select(&sel("input, select, textarea")) {
        let kind = input.value().attr("type").unwrap_or("text");
        if kind == "hidden" || kind == "submit" {
            continue;
        }
        let id = input.value().attr("id").unwrap_or("");
        let wrapped = input
            .ancestors()
            .any(|a| a.value().as_element().is_some_and(|e| e.name() == "label"));
        assert!(
            wrapped || (!id.is_empty() && labels.iter().any(|l| l == id)),
            "{path}: an input without a label: {:?}",
            input.value()
        );
    }
    for img in doc.select(&sel("img")) {
        assert!(img.value().attr("alt").is_some(), "{path}: img without alt");
    }
    for script in doc.select(&sel("script")) {
        assert!(
            script.value().attr("src").is_some(),
            "{path}: inline script"
        );
        assert!(
            script.text().collect::<String>().trim().is_empty(),
            "{path}"
        );
    }
    assert!(
        !html.contains(" onclick=") && !html.contains(" onload="),
        "{path}: handlers"
    );
    assert!(!html.contains(" style="), "{path}: inline style");
    title
}

/// The first link matching a CSS selector.
fn href(html: &str, selector: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&sel(selector))
        .next()
        .and_then(|a| a.value().attr("href").map(str::to_owned))
        .unwrap_or_else(|| panic!("no {selector}"))
}

fn csrf(html: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&sel("input[name=csrf]"))
        .next()
        .and_then(|i| i.value().attr("value").map(str::to_owned))
        .expect("a csrf field")
}

#[tokio::test]
async fn every_page_is_well_formed_light_and_distinct() {
    let s = site().await;
    let mut titles: HashMap<String, String> = HashMap::new();
    let seen = |path: &str, a: &Answer, titles: &mut HashMap<String, String>| {
        let t = check_page(path, &a.body);
        if let Some(other) = titles.insert(t.clone(), path.to_owned()) {
            panic!("{path} and {other} share the title {t:?}");
        }
    };
    for path in [
        "/connexion",
        "/connexion?chiffres=1",
        "/aide",
        "/accessibilite",
    ] {
        let a = s.get(path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        if path != "/connexion?chiffres=1" {
            seen(path, &a, &mut titles);
        } else {
            check_page(path, &a.body);
            assert!(a.body.contains("inputmode=\"numeric\""));
        }
    }
    let wrong = s
        .post(
            "/connexion",
            None,
            &[("identifier", "personne-0000"), ("secret", "faux")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    check_page("wrong login", &wrong.body);
    assert!(wrong.body.contains("n&#39;est pas bon"), "{}", wrong.body);
    assert!(
        wrong.body.contains("Il vous reste 4 essais"),
        "{}",
        wrong.body
    );
    assert!(!wrong.body.contains("faux"), "the secret is never echoed");

    let cookie = s.login(0, "telephone").await;
    let me = Some(cookie.as_str());
    let home = s.get("/papiers", me).await;
    assert_eq!(home.status, StatusCode::OK);
    seen("/papiers", &home, &mut titles);
    // RGAA 13.1: the page says when the session ends, and carries the
    // warning (shown by the script a minute before) with its own form.
    {
        let doc = Html::parse_document(&home.body);
        let body = doc.select(&sel("body")).next().unwrap();
        let idle: u64 = body.value().attr("data-idle").unwrap().parse().unwrap();
        assert!((1100..=1200).contains(&idle), "{idle}");
        let warning = doc.select(&sel("#fin-session[hidden]")).next().unwrap();
        assert_eq!(warning.value().attr("role"), Some("alertdialog"));
        assert!(
            doc.select(&sel(
                "#fin-session form[action='/continuer'] input[name=csrf]"
            ))
            .next()
            .is_some()
        );
        assert!(home.body.contains("vous serez déconnecté dans 20 minutes"));
    }
    assert!(home.body.contains("n&#39;est plus valable dans 58 jours"));
    let card = href(&home.body, ".banner a[href^='/papiers/']");
    let pages = [
        "/papiers/categorie/identity".to_owned(),
        card.clone(),
        "/ajouter".to_owned(),
        format!("{card}/lien"),
        "/montrer".to_owned(),
        "/acces".to_owned(),
        "/journal".to_owned(),
        "/journal?tout=1".to_owned(),
        "/compte".to_owned(),
        "/compte/supprimer".to_owned(),
        format!("{card}/supprimer"),
    ];
    for path in &pages {
        let a = s.get(path, me).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert_eq!(
            a.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store",
            "{path}"
        );
        let csp = a.headers.get(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(
            csp.to_str().unwrap().contains("script-src 'self'"),
            "{path}"
        );
        match path.as_str() {
            // The same page, another view; the paper's confirmation pages
            // are titled by what they do.
            "/journal?tout=1" => {
                check_page(path, &a.body);
            }
            _ => seen(path, &a, &mut titles),
        }
    }
    let show = s.get(&format!("{card}/montrer"), me).await;
    check_page("counter", &show.body);
    let access = s.get("/acces", me).await;
    let withdraw = href(&access.body, "a[href^='/acces/']");
    let a = s.get(&withdraw, me).await;
    seen(&withdraw, &a, &mut titles);
    // A link, shown once.
    let form = s.get(&format!("{card}/lien"), me).await;
    let made = s
        .post(
            &format!("{card}/lien"),
            me,
            &[
                ("csrf", &csrf(&form.body)),
                ("duree", "1"),
                ("fois", "1"),
                ("pour", "CAF de Lyon"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK);
    seen("link made", &made, &mut titles);
    assert!(made.body.contains("http://127.0.0.1:8080/s/"));
    // Errors are pages too.
    let missing = s.get("/nulle-part", me).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    seen("404", &missing, &mut titles);
    let api_missing = s.get("/api/v1/nulle-part", None).await;
    assert_eq!(api_missing.status, StatusCode::NOT_FOUND);
    assert!(
        api_missing.body.contains("\"no_such_route\""),
        "the API keeps JSON"
    );
    // English proves the mechanism.
    let en = s
        .get("/papiers", Some(&format!("{cookie}; coffre_lang=en")))
        .await;
    assert!(en.body.contains("<html lang=\"en\""));
    assert!(en.body.contains("My papers"));
}

#[tokio::test]
async fn forms_need_their_token_and_our_own_site() {
    let s = site().await;
    let cookie = s.login(0, "telephone").await;
    let me = Some(cookie.as_str());
    let access = s.get("/acces", me).await;
    let withdraw = href(&access.body, "a[href^='/acces/']");
    // No token, a wrong token, another site: refused, nothing withdrawn.
    let none = s.post(&withdraw, me, &[]).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(none.body.contains("La page a expiré"));
    let wrong = s.post(&withdraw, me, &[("csrf", "0000")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let token = csrf(&access.body);
    let other = s
        .post_from(&withdraw, me, &[("csrf", &token)], "cross-site")
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let still = s.get("/acces", me).await;
    assert!(
        still.body.contains("peut voir et ajouter"),
        "nothing withdrawn"
    );
    // Another site cannot log someone in either (login CSRF).
    let (_, id, secret) = &s.logins.people[0];
    let forced = s
        .post_from(
            "/connexion",
            None,
            &[("identifier", id), ("secret", secret)],
            "cross-site",
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN);
    assert!(forced.headers.get(header::SET_COOKIE).is_none());
    // With its token, from here: done.
    let done = s.post(&withdraw, me, &[("csrf", &token)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let after = s.get("/acces", me).await;
    assert!(
        after
            .body
            .contains("Aucune structure ne peut voir vos papiers")
    );
}

#[tokio::test]
async fn a_stranger_knowing_an_identifier_gets_nothing() {
    let s = site().await;
    let marie = s.login(0, "telephone").await;
    let card = s.card(&marie).await;
    // Karim, logged in, asks for Marie's paper by its id: it does not
    // exist for him (same answer as an id that names nothing).
    let karim = s.login(1, "telephone").await;
    for path in [
        card.clone(),
        format!("{card}/fichier"),
        format!("{card}/lien"),
        format!("{card}/montrer"),
    ] {
        let a = s.get(&path, Some(&karim)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
        assert!(!a.body.contains("Carte d&#39;identité"), "{path}");
    }
    let form = s.get("/acces", Some(&karim)).await;
    let del = s
        .post(
            &format!("{card}/supprimer"),
            Some(&karim),
            &[("csrf", &csrf(&form.body))],
        )
        .await;
    assert_eq!(del.status, StatusCode::NOT_FOUND);
    let still = s.get(&card, Some(&marie)).await;
    assert_eq!(still.status, StatusCode::OK, "Marie's paper is still there");
    // Nobody logged in: to the login page, never the paper.
    let anon = s.get(&format!("{card}/fichier"), None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.location(), "/connexion");
    // A made-up cookie: the same, and the browser is told to forget it.
    let forged = s.get("/papiers", Some("coffre_page=AAAA")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    assert_eq!(forged.location(), "/connexion?fin=1");
    assert!(forged.headers.get("clear-site-data").is_some());
}

#[tokio::test]
async fn a_caseworker_session_opens_no_person_page() {
    let s = site().await;
    let out = s
        .state
        .vault
        .login_caseworker(
            &s.logins.caseworker_login,
            coffre_crypto::UserSecret::new(s.logins.caseworker_password.clone()),
            &s.logins.caseworker_recovery_codes[0],
        )
        .await
        .unwrap();
    let cookie = format!("coffre_page={}", out.token.as_str());
    for path in ["/papiers", "/acces", "/journal", "/compte"] {
        let a = s.get(path, Some(&cookie)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            a.body.contains("Cette page est pour les personnes"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_browser() {
    let s = site().await;
    let cookie = s.login(0, "telephone").await;
    let home = s.get("/papiers", Some(&cookie)).await;
    let out = s
        .post(
            "/deconnexion",
            Some(&cookie),
            &[("csrf", &csrf(&home.body))],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/connexion?fin=1");
    let set = out
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(set.contains("Max-Age=0"), "{set}");
    assert!(out.headers.get("clear-site-data").is_some());
    let again = s.get("/papiers", Some(&cookie)).await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "the old cookie opens nothing"
    );
}

#[tokio::test]
async fn a_shared_computer_session_ends_sooner() {
    let s = site_with(WebConfig {
        demo: true,
        shared_idle: Duration::from_millis(300),
        ..WebConfig::default()
    })
    .await;
    let shared = s.login(0, "partage").await;
    let phone = s.login(0, "telephone").await;
    assert_eq!(
        s.get("/papiers", Some(&shared)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let a = s.get("/papiers", Some(&shared)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location(), "/connexion?fin=1");
    // The phone's session, as idle, is still open.
    assert_eq!(s.get("/papiers", Some(&phone)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_login_page_never_lets_a_password_manager_keep_the_secret_on_a_shared_computer() {
    let s = site().await;
    let page = s.get("/connexion", None).await;
    let doc = Html::parse_document(&page.body);
    let form = doc
        .select(&sel("form[action='/connexion']"))
        .next()
        .unwrap();
    assert_eq!(form.value().attr("autocomplete"), Some("off"));
    let secret = doc.select(&sel("#secret")).next().unwrap();
    assert_eq!(secret.value().attr("type"), Some("password"));
    assert_eq!(secret.value().attr("autocomplete"), Some("off"));
    // "Ordinateur partagé" is the choice made unless the person says
    // otherwise.
    let shared = doc
        .select(&sel("input[name=appareil][value=partage]"))
        .next()
        .unwrap();
    assert!(shared.value().attr("checked").is_some());
}

/// The mark as a copy holds it: WinAnsi bytes, in hex, in a content stream.
fn mark_hex(words: &str) -> String {
    let bytes = coffre_copies::pdf_text::win_ansi(words);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[tokio::test]
async fn the_counter_gives_one_marked_copy_and_stops_at_once() {
    let s = site().await;
    let cookie = s.login(0, "telephone").await;
    let me = Some(cookie.as_str());
    let card = s.card(&cookie).await;
    let started = s
        .show_at_counter(&cookie, &card, "Préfecture du Rhône")
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let counter = started.location().to_owned();
    assert!(counter.starts_with("/guichet/"), "{counter}");
    let page = s.get(&counter, me).await;
    check_page(&counter, &page.body);
    let doc = Html::parse_document(&page.body);
    let qr = doc.select(&sel("img.qr")).next().unwrap();
    assert!(
        qr.value()
            .attr("src")
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    assert!(!qr.value().attr("alt").unwrap().is_empty());
    let code: String = doc
        .select(&sel(".short-code"))
        .next()
        .unwrap()
        .text()
        .collect();
    // The agent's pages are pages too.
    let agent_form = s.get("/c", None).await;
    assert_eq!(agent_form.status, StatusCode::OK);
    check_page("/c", &agent_form.body);
    // Another site cannot spend the code.
    let other = s
        .post_from("/c", None, &[("code", code.trim())], "cross-site")
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let copy = s.post("/c", None, &[("code", code.trim())]).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert_eq!(
        copy.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    let disposition = copy.headers.get(header::CONTENT_DISPOSITION).unwrap();
    assert!(disposition.to_str().unwrap().starts_with("inline"));
    assert!(
        copy.body
            .contains(&mark_hex("Copie transmise à Préfecture du Rhône le ")),
        "the counter copy carries the mark"
    );
    let again = s.post("/c", None, &[("code", code.trim())]).await;
    assert_eq!(again.status, StatusCode::GONE);
    check_page("/c refused", &again.body);
    assert!(again.body.contains("Ce code ne marche pas"));

    // By the QR code's link: a page first (a preview uses nothing), then
    // the copy; "Arrêter de montrer" before the agent asks: nothing.
    let session = s.session_of(&cookie);
    let started = s.show_at_counter(&cookie, &card, "CAF").await;
    let live = s.state.vault.counter_links(&session).unwrap();
    assert_eq!(live.len(), 1);
    let token_path = format!("/c/{}", live[0].token.as_str());
    for _ in 0..2 {
        let preview = s.get(&token_path, None).await;
        assert_eq!(preview.status, StatusCode::OK);
        check_page(&token_path, &preview.body);
    }
    let page = s.get(started.location(), me).await;
    let stopped = s
        .post(
            &format!("{}/arreter", started.location()),
            me,
            &[("csrf", &csrf(&page.body))],
        )
        .await;
    assert_eq!(stopped.status, StatusCode::SEE_OTHER);
    let gone = s.post(&token_path, None, &[]).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(s.state.vault.counter_links(&session).unwrap().is_empty());
}

#[tokio::test]
async fn links_and_duplicates_carry_their_mark_and_the_owners_download_does_not() {
    let s = site().await;
    let cookie = s.login(0, "telephone").await;
    let me = Some(cookie.as_str());
    let caf_page = s.get("/papiers/categorie/social_benefits", me).await;
    let caf = href(&caf_page.body, "a.item");
    // The person's own download is the untouched original.
    let original = s.get(&format!("{caf}/fichier?telecharger=1"), me).await;
    assert!(original.body.starts_with("%PDF-"));
    assert!(!original.body.contains(&mark_hex("Copie transmise")));
    // A duplicate says so.
    let dup = s.get(&format!("{caf}/duplicata"), me).await;
    assert_eq!(dup.status, StatusCode::OK);
    assert!(dup.body.contains(&mark_hex("Duplicata imprimé le ")));
    // A link for "CAF de Lyon": the copy names it.
    let form = s.get(&format!("{caf}/lien"), me).await;
    let missing = s
        .post(
            &format!("{caf}/lien"),
            me,
            &[("csrf", &csrf(&form.body)), ("duree", "1"), ("fois", "1")],
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "a recipient is asked for"
    );
    let made = s
        .post(
            &format!("{caf}/lien"),
            me,
            &[
                ("csrf", &csrf(&form.body)),
                ("duree", "1"),
                ("fois", "1"),
                ("pour", "CAF de Lyon"),
            ],
        )
        .await;
    let doc = Html::parse_document(&made.body);
    let url: String = doc
        .select(&sel(".secret-link"))
        .next()
        .unwrap()
        .text()
        .collect();
    let path = url
        .trim()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    let copy = s.post(&path, None, &[]).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert_eq!(
        copy.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/pdf"
    );
    assert!(
        copy.body
            .contains(&mark_hex("Copie transmise à CAF de Lyon le "))
    );
    // The journal says it in words.
    let journal = s.get("/journal", me).await;
    assert!(
        journal
            .body
            .contains("Vous avez imprimé un duplicata de « Attestation CAF »")
    );
    assert!(
        journal
            .body
            .contains("Quelqu&#39;un qui avait un lien a téléchargé « Attestation CAF »"),
        "{}",
        journal.body
    );
}

#[tokio::test]
async fn wrong_codes_say_how_many_tries_remain_the_same_for_everyone() {
    let s = site().await;
    let (_, known, _) = s.logins.people[1].clone();
    let unknown = "personne-4242";
    let tries = |id: &str| {
        let id = id.to_owned();
        let s = &s;
        async move {
            let a = s
                .post(
                    "/connexion",
                    None,
                    &[("identifier", &id), ("secret", "pas le bon")],
                )
                .await;
            let doc = Html::parse_document(&a.body);
            let msg: String = doc
                .select(&sel("#secret-erreur"))
                .next()
                .map(|e| e.text().collect())
                .unwrap_or_default();
            (a.status, msg)
        }
    };
    // The same answers, in the same order, whether an account exists or not.
    for expected in [4, 3, 2, 1] {
        let k = tries(&known).await;
        let u = tries(unknown).await;
        assert_eq!(k, u, "known and unknown identifiers answer alike");
        let word = if expected == 1 { "essai" } else { "essais" };
        assert!(
            k.1.contains(&format!("Il vous reste {expected} {word}")),
            "{}",
            k.1
        );
    }
    // The fifth locks, said in words, with when to come back — alike too.
    for id in [known.as_str(), unknown] {
        let locked = s
            .post("/connexion", None, &[("identifier", id), ("secret", "x")])
            .await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{id}");
        assert!(locked.body.contains("Réessayez dans"), "{}", locked.body);
        assert!(locked.headers.get(header::RETRY_AFTER).is_some());
    }
}

/// A JPEG from a phone: `w`×`h`, with a GPS-like EXIF block.
fn phone_jpeg(w: u16, h: u16, orientation: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [(i % 251) as u8, 90, 200])
        .collect();
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 80);
    let mut app1 = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0".to_vec();
    app1.push(orientation);
    app1.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    app1.extend_from_slice(b"GPSLatitude 45.7640N GPSLongitude 4.8357E");
    enc.add_app_segment(1, &app1).unwrap();
    enc.encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// A multipart body: text fields, then files `(field, file name, type, bytes)`.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "----coffre-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, kind, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: {kind}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Site {
    async fn upload(
        &self,
        cookie: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, Vec<u8>)],
    ) -> Answer {
        let (kind, body) = multipart(fields, files);
        self.send(
            Request::post("/ajouter")
                .header(header::CONTENT_TYPE, kind)
                .header(header::COOKIE, cookie)
                .header("sec-fetch-site", "same-origin")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn adding_a_paper_from_photos_makes_one_pdf_without_their_location() {
    let s = site().await;
    let cookie = s.login(0, "telephone").await;
    let form = s.get("/ajouter", Some(&cookie)).await;
    check_page("/ajouter", &form.body);
    assert!(
        form.body
            .contains("CCAS de Démo-sur-Loire (Identité, Aides et prestations)")
    );
    let token = csrf(&form.body);
    let page1 = phone_jpeg(48, 64, 6);
    let page2 = phone_jpeg(64, 48, 1);
    // The token must come first: a form without it stores nothing.
    let no_token = s
        .upload(
            &cookie,
            &[("categorie", "identity"), ("titre", "Passeport")],
            &[("photos", "p1.jpg", "image/jpeg", page1.clone())],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    // HEIC is refused with what to do.
    let heic = s
        .upload(
            &cookie,
            &[("csrf", &token), ("categorie", "health")],
            &[(
                "fichier",
                "IMG_0001.HEIC",
                "image/heic",
                b"\0\0\0\x18ftypheic".to_vec(),
            )],
        )
        .await;
    assert_eq!(heic.status, StatusCode::BAD_REQUEST);
    assert!(heic.body.contains("Le plus compatible"), "{}", heic.body);
    check_page("add refused", &heic.body);
    // Something that is not a JPEG among the photos: refused in words.
    let not_jpeg = s
        .upload(
            &cookie,
            &[("csrf", &token), ("categorie", "identity")],
            &[("photos", "p1.jpg", "image/jpeg", b"%PDF-1.7".to_vec())],
        )
        .await;
    assert_eq!(not_jpeg.status, StatusCode::BAD_REQUEST);
    assert!(not_jpeg.body.contains("pas au format JPEG"));
    // Two photos: one PDF, its pages shown as the photos, no GPS anywhere.
    let stored = s
        .upload(
            &cookie,
            &[
                ("csrf", &token),
                ("categorie", "identity"),
                ("titre", "Passeport"),
                ("valable", "2031-05-20"),
                ("visibilite", "moi"),
            ],
            &[
                ("photos", "p1.jpg", "image/jpeg", page1.clone()),
                ("photos", "p2.jpg", "image/jpeg", page2.clone()),
                ("photos", "", "application/octet-stream", Vec::new()),
                ("fichier", "", "application/octet-stream", Vec::new()),
            ],
        )
        .await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER, "{}", stored.body);
    let paper = stored.location().to_owned();
    let page = s.get(&paper, Some(&cookie)).await;
    assert!(
        page.body.contains("Passeport, page 1 sur 2"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Vous seulement"));
    let pdf = s
        .get(&format!("{paper}/fichier?telecharger=1"), Some(&cookie))
        .await;
    assert!(pdf.body.starts_with("%PDF-"));
    assert!(
        !pdf.body.contains("GPSLatitude"),
        "the location never left the phone's file"
    );
    let shown = s.get(&format!("{paper}/page/1"), Some(&cookie)).await;
    assert_eq!(
        shown.headers.get(header::CONTENT_TYPE).unwrap(),
        "image/jpeg"
    );
    assert!(!shown.body.contains("GPSLatitude"));
    assert_eq!(
        s.get(&format!("{paper}/page/3"), Some(&cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The journal says who added it.
    let journal = s.get("/journal?tout=1", Some(&cookie)).await;
    assert!(journal.body.contains("Vous avez ajouté « Passeport »"));
}

#[tokio::test]
async fn the_qr_code_gives_the_copy_once_and_others_cannot_show_my_papers() {
    let s = site().await;
    let marie = s.login(0, "telephone").await;
    let card = s.card(&marie).await;
    s.show_at_counter(&marie, &card, "Mairie").await;
    let session = s.session_of(&marie);
    let link = s.state.vault.counter_links(&session).unwrap().remove(0);
    let path = format!("/c/{}", link.token.as_str());
    let copy = s.post(&path, None, &[]).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert!(
        copy.body
            .contains(&mark_hex("Copie transmise à Mairie le "))
    );
    assert!(!copy.body.contains("GPS"));
    assert_eq!(s.post(&path, None, &[]).await.status, StatusCode::GONE);
    // Karim, logged in, tries Marie's paper through every form: nothing,
    // and the same answer as for an id that names nothing.
    let karim = s.login(1, "telephone").await;
    let his = s.get("/acces", Some(&karim)).await;
    let token = csrf(&his.body);
    for (path, form) in [
        (
            format!("{card}/guichet"),
            vec![("csrf", token.as_str()), ("pour", "X")],
        ),
        (
            format!("{card}/lien"),
            vec![
                ("csrf", token.as_str()),
                ("pour", "X"),
                ("duree", "1"),
                ("fois", "1"),
            ],
        ),
        (
            format!("{card}/visibilite"),
            vec![("csrf", token.as_str()), ("prive", "1")],
        ),
        (format!("{card}/supprimer"), vec![("csrf", token.as_str())]),
    ] {
        let a = s.post(&path, Some(&karim), &form).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
    }
    assert!(s.state.vault.counter_links(&session).unwrap().is_empty());
}

// ---------------------------------------------------------------------
// The desk (`/pro`).

/// The address of the link whose text holds `text`.
fn link_to(html: &str, text: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&sel("a"))
        .find(|a| a.text().collect::<String>().contains(text))
        .and_then(|a| a.value().attr("href").map(str::to_owned))
        .unwrap_or_else(|| panic!("no link to {text}"))
}

impl Site {
    /// Logs a caseworker in at the desk; their cookie (or the answer).
    async fn pro_login(&self, login: &str, password: &str, code: &str) -> Result<String, Answer> {
        let a = self
            .post(
                "/pro/connexion",
                None,
                &[("login", login), ("password", password), ("code", code)],
            )
            .await;
        if a.status != StatusCode::SEE_OTHER {
            return Err(a);
        }
        let set = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(
            set.starts_with("coffre_pro=")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Strict"),
            "{set}"
        );
        Ok(set.split(';').next().unwrap().to_owned())
    }

    /// The demonstration's caseworker, logged in with recovery code `n`.
    async fn desk(&self, n: usize) -> String {
        let l = &self.logins;
        self.pro_login(
            &l.caseworker_login,
            &l.caseworker_password,
            &l.caseworker_recovery_codes[n],
        )
        .await
        .unwrap_or_else(|a| panic!("{} {}", a.status, a.body))
    }

    /// A second structure's admin, activated on the page, logged in.
    async fn other_structure(&self) -> String {
        let created = self
            .state
            .vault
            .create_structure("Relais Solidarité", "admin.relais")
            .await
            .unwrap();
        let page = self.get("/pro/activer", None).await;
        check_page("/pro/activer", &page.body);
        let a = self
            .post(
                "/pro/activer",
                None,
                &[
                    ("code", created.enrollment_code.as_str()),
                    ("password", "mot-de-passe-du-relais"),
                    ("password2", "mot-de-passe-du-relais"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        check_page("/pro/activer (done)", &a.body);
        // The second factor is shown once: a QR code, the key, the codes.
        let doc = Html::parse_document(&a.body);
        assert!(doc.select(&sel("img.qr")).count() == 1);
        let codes: Vec<String> = doc
            .select(&sel(".codes code"))
            .map(|c| c.text().collect())
            .collect();
        assert_eq!(codes.len(), coffre_vault::RECOVERY_CODES);
        self.pro_login("admin.relais", "mot-de-passe-du-relais", &codes[0])
            .await
            .unwrap_or_else(|a| panic!("{}", a.body))
    }
}

#[tokio::test]
async fn the_desk_pages_are_well_formed_and_need_the_second_factor() {
    let s = site().await;
    let login = s.get("/pro/connexion", None).await;
    assert_eq!(login.status, StatusCode::OK);
    let title = check_page("/pro/connexion", &login.body);
    assert!(login.body.contains("autocomplete=\"one-time-code\""));
    // Without a session: to the desk's login page.
    let a = s.get("/pro", None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location(), "/pro/connexion");
    // A password alone, or with a wrong code: refused, one message, no
    // cookie.
    let l = &s.logins;
    for code in ["", "123456", "abcde-fghjk"] {
        let a = s
            .pro_login(&l.caseworker_login, &l.caseworker_password, code)
            .await
            .unwrap_err();
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.headers.get(header::SET_COOKIE).is_none());
        assert!(
            a.body.contains("mot de passe ou code incorrect"),
            "{}",
            a.body
        );
        check_page("/pro/connexion (refused)", &a.body);
    }
    let cookie = s.desk(0).await;
    // A recovery code works once.
    assert!(
        s.pro_login(
            &l.caseworker_login,
            &l.caseworker_password,
            &l.caseworker_recovery_codes[0]
        )
        .await
        .is_err()
    );
    let home = s.get("/pro", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    // The three refused tries are told at this login, once.
    assert!(
        home.body
            .contains("3 tentatives de connexion à votre compte ont échoué"),
        "{}",
        home.body
    );
    let again = s.get("/pro", Some(&cookie)).await;
    assert!(!again.body.contains("tentatives de connexion"));
    // Two views, one "the structure looked" a day in each person's journal.
    let slice = s.state.vault.journal_slice(1, u64::MAX).await.unwrap();
    let looked = slice
        .records
        .iter()
        .filter(|r| r.entry.detail.as_deref() == Some("dashboard"))
        .count();
    assert_eq!(looked, 2, "one entry for Marie, one for Karim");
    let home_title = check_page("/pro", &home.body);
    assert_ne!(title, home_title);
    assert!(home.body.contains("Marie Démo") && home.body.contains("Karim Démo"));
    assert_eq!(home.headers[header::CACHE_CONTROL], "no-store");
    // What ends soon, among what the structure may see: Marie's card, and
    // her 31-day consent; nothing of Karim, who opened nothing.
    let doc = Html::parse_document(&home.body);
    let expiring: String = doc
        .select(&sel("table.expiring"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        expiring.contains("Marie Démo") && expiring.contains("Identité"),
        "{expiring}"
    );
    // By category and date only: the dashboard opens no key.
    assert!(!expiring.contains("Carte d"), "{expiring}");
    assert!(!expiring.contains("Karim"));
    assert!(home.body.contains("Accords qui se terminent"));
    // The search finds by name, accents or not.
    // The search is posted: no name in an address (history, logs).
    let search = |q: &'static str| {
        let token = csrf(&home.body);
        let cookie = cookie.clone();
        let s = &s;
        async move {
            s.post("/pro", Some(&cookie), &[("csrf", token.as_str()), ("q", q)])
                .await
        }
    };
    let found = search("karim").await;
    let people = |html: &str| -> String {
        Html::parse_document(html)
            .select(&sel("ul.list"))
            .next()
            .map(|u| u.text().collect())
            .unwrap_or_default()
    };
    let list = people(&found.body);
    assert!(
        list.contains("Karim Démo") && !list.contains("Marie Démo"),
        "{list}"
    );
    let found = search("DEMO").await;
    assert!(found.body.contains("2 personnes"), "{}", found.body);
    // Marie's file: what the structure may do, category by category, and
    // the papers it may see.
    let marie = link_to(&home.body, "Marie Démo");
    let file = s.get(&marie, Some(&cookie)).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    let file_title = check_page(&marie, &file.body);
    assert_ne!(file_title, home_title);
    assert!(
        file.body.contains("Voir et ajouter, jusqu"),
        "{}",
        file.body
    );
    assert!(file.body.contains("Pas d&#39;accès"), "{}", file.body);
    assert!(file.body.contains("Carte d&#39;identité"), "{}", file.body);
    // Karim gave this structure nothing: every category says so, and no
    // paper is listed (nor a refused listing written to his journal).
    let karim = s
        .get(&link_to(&home.body, "Karim Démo"), Some(&cookie))
        .await;
    assert_eq!(karim.body.matches("Pas d&#39;accès").count(), 9);
    assert!(karim.body.contains("aucune catégorie"));
    // The person's own journal says the desk looked.
    let person = s.login(0, "telephone").await;
    let journal = s.get("/journal", Some(&person)).await;
    assert!(
        journal.body.contains("CCAS de Démo-sur-Loire"),
        "{}",
        journal.body
    );
    // The person's cookie opens no desk page, the desk's no person page.
    let a = s.get("/pro", Some(&person)).await;
    assert_eq!(a.location(), "/pro/connexion");
    let a = s.get("/papiers", Some(&cookie)).await;
    assert_eq!(a.location(), "/connexion");
}

#[tokio::test]
async fn another_structure_sees_nobody_of_this_one() {
    let s = site().await;
    let ours = s.desk(1).await;
    let home = s.get("/pro", Some(&ours)).await;
    let marie = link_to(&home.body, "Marie Démo");
    let theirs = s.other_structure().await;
    let home = s.get("/pro", Some(&theirs)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("Marie") && !home.body.contains("Karim"));
    assert!(home.body.contains("Aucune personne"), "{}", home.body);
    // Knowing her address changes nothing: the same page as a made-up one.
    let a = s.get(&marie, Some(&theirs)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(!a.body.contains("Marie"));
    let made_up = s
        .get(
            &format!(
                "/pro/personnes/{}",
                coffre_crypto::PrincipalId::random().unwrap()
            ),
            Some(&theirs),
        )
        .await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deactivated_caseworker_is_out_at_once_and_a_reset_factor_is_set_up_again() {
    let s = site().await;
    let admin = s.desk(2).await;
    let admin_session = s
        .state
        .vault
        .session(admin.trim_start_matches("coffre_pro="))
        .unwrap();
    let sid = admin_session.principal.structure().unwrap();
    let (julie_id, code) = s
        .state
        .vault
        .invite_caseworker(&admin_session, sid, "julie", false)
        .await
        .unwrap();
    let a = s
        .state
        .vault
        .enroll_caseworker(
            &code,
            coffre_crypto::UserSecret::from("mot-de-passe-de-julie"),
        )
        .await
        .unwrap();
    let julie = s
        .pro_login(
            "julie",
            "mot-de-passe-de-julie",
            &a.second_factor.recovery_codes[0],
        )
        .await
        .unwrap_or_else(|a| panic!("{}", a.body));
    assert_eq!(s.get("/pro", Some(&julie)).await.status, StatusCode::OK);
    // Her admin resets her second factor (a lost phone): her session ends;
    // her password opens only the page that sets up a new one.
    let setup_code = s
        .state
        .vault
        .reset_second_factor(&admin_session, julie_id)
        .await
        .unwrap();
    let a = s.get("/pro", Some(&julie)).await;
    assert_eq!(a.location(), "/pro/connexion?fin=1");
    let a = s
        .post(
            "/pro/connexion",
            None,
            &[
                ("login", "julie"),
                ("password", "mot-de-passe-de-julie"),
                ("code", ""),
            ],
        )
        .await;
    assert_eq!(a.location(), "/pro/double-facteur");
    let set = a.headers[header::SET_COOKIE].to_str().unwrap();
    let pending = set.split(';').next().unwrap().to_owned();
    assert_eq!(
        s.get("/pro", Some(&pending)).await.location(),
        "/pro/connexion?fin=1"
    );
    let setup = s.get("/pro/double-facteur", Some(&pending)).await;
    assert_eq!(setup.status, StatusCode::OK);
    check_page("/pro/double-facteur", &setup.body);
    let doc = Html::parse_document(&setup.body);
    let key: String = doc
        .select(&sel("input[name=key]"))
        .next()
        .and_then(|i| i.value().attr("value").map(str::to_owned))
        .unwrap();
    let secret = coffre_crypto::otp::OtpSecret::from_base32(&key).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let wrong = s
        .post(
            "/pro/double-facteur",
            Some(&pending),
            &[
                ("csrf", &csrf(&setup.body)),
                ("key", &key),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    // The right app code, but not the set-up code her admin handed over:
    // her password alone does not choose her factor.
    let no_remise = s
        .post(
            "/pro/double-facteur",
            Some(&pending),
            &[
                ("csrf", &csrf(&setup.body)),
                ("key", &key),
                ("remise", "pas-le-bon"),
                ("code", &secret.code_at(now)),
            ],
        )
        .await;
    assert_eq!(no_remise.status, StatusCode::BAD_REQUEST);
    assert!(
        no_remise.body.contains("code d&#39;installation"),
        "{}",
        no_remise.body
    );
    let done = s
        .post(
            "/pro/double-facteur",
            Some(&pending),
            &[
                ("csrf", &csrf(&setup.body)),
                ("key", &key),
                ("remise", setup_code.as_str()),
                ("code", &secret.code_at(now)),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        Html::parse_document(&done.body)
            .select(&sel(".codes code"))
            .count(),
        coffre_vault::RECOVERY_CODES
    );
    assert_eq!(s.get("/pro", Some(&pending)).await.status, StatusCode::OK);
    // Deactivated: her very next page is the login page.
    s.state
        .vault
        .deactivate_caseworker(&admin_session, julie_id)
        .await
        .unwrap();
    let a = s.get("/pro", Some(&pending)).await;
    assert_eq!(a.location(), "/pro/connexion?fin=1");
}

#[tokio::test]
async fn an_admin_invites_resets_and_deactivates_members_from_ma_structure() {
    let s = site().await;
    let admin = s.desk(3).await;
    let page = s.get("/pro/structure", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    check_page("/pro/structure", &page.body);
    assert!(page.body.contains("demo.accueil"));
    // Invite: the code shown once, as text, with the activation page's
    // address (never the code) in the QR code.
    let invited = s
        .post(
            "/pro/structure/inviter",
            Some(&admin),
            &[
                ("csrf", &csrf(&page.body)),
                ("login", "paul.m"),
                ("role", "agent"),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    check_page("/pro/structure/inviter", &invited.body);
    let doc = Html::parse_document(&invited.body);
    let code: String = doc
        .select(&sel("code.key"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(code.len() >= 40, "{code}");
    let qr_alt = doc
        .select(&sel("img.qr"))
        .next()
        .unwrap()
        .value()
        .attr("alt")
        .unwrap()
        .to_owned();
    assert!(qr_alt.contains("/pro/activer") && !qr_alt.contains(&code));
    // Paul activates, and appears with his second factor installed.
    let a = s
        .post(
            "/pro/activer",
            None,
            &[
                ("code", &code),
                ("password", "mot-de-passe-de-paul"),
                ("password2", "mot-de-passe-de-paul"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let codes: Vec<String> = Html::parse_document(&a.body)
        .select(&sel(".codes code"))
        .map(|c| c.text().collect())
        .collect();
    let paul = s
        .pro_login("paul.m", "mot-de-passe-de-paul", &codes[0])
        .await
        .unwrap_or_else(|a| panic!("{}", a.body));
    // Paul is no admin: Ma structure does not exist for him, nor its menu.
    assert_eq!(
        s.get("/pro/structure", Some(&paul)).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !s.get("/pro", Some(&paul))
            .await
            .body
            .contains("/pro/structure")
    );
    let page = s.get("/pro/structure", Some(&admin)).await;
    assert!(page.body.contains("paul.m"));
    // Reset his second factor, behind a confirmation page: his session ends.
    let reset = link_to(&page.body, "Remettre à zéro le second facteur");
    let confirm = s.get(&reset, Some(&admin)).await;
    assert_eq!(confirm.status, StatusCode::OK);
    check_page(&reset, &confirm.body);
    let done = s
        .post(&reset, Some(&admin), &[("csrf", &csrf(&confirm.body))])
        .await;
    // The set-up code, shown once, to hand over in person.
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    check_page("set-up code", &done.body);
    let setup: String = Html::parse_document(&done.body)
        .select(&sel("code.key"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(setup.len() >= 40, "{setup}");
    assert_eq!(
        s.get("/pro", Some(&paul)).await.location(),
        "/pro/connexion?fin=1"
    );
    let page = s.get("/pro/structure", Some(&admin)).await;
    assert!(page.body.contains("À installer"), "{}", page.body);
    // Deactivate him: his password opens nothing any more.
    let deactivate = link_to(&page.body, "Désactiver");
    let confirm = s.get(&deactivate, Some(&admin)).await;
    check_page(&deactivate, &confirm.body);
    // Without the form's token, nothing happens.
    let refused = s.post(&deactivate, Some(&admin), &[("csrf", "faux")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let done = s
        .post(&deactivate, Some(&admin), &[("csrf", &csrf(&confirm.body))])
        .await;
    assert_eq!(done.location(), "/pro/structure?enregistre=1");
    assert!(
        s.pro_login("paul.m", "mot-de-passe-de-paul", &codes[1])
            .await
            .is_err()
    );
    let page = s.get("/pro/structure", Some(&admin)).await;
    assert!(page.body.contains("Désactivé"));
    // Contact details, shown on people's pages and cards.
    let saved = s
        .post(
            "/pro/structure",
            Some(&admin),
            &[
                ("csrf", &csrf(&page.body)),
                ("telephone", "04 00 00 00 00"),
                ("adresse", "2 rue du Port"),
            ],
        )
        .await;
    assert_eq!(saved.location(), "/pro/structure?enregistre=1");
    assert!(
        s.get("/pro/structure", Some(&admin))
            .await
            .body
            .contains("2 rue du Port")
    );
    // Another structure's admin cannot touch this structure's members.
    let theirs = s.other_structure().await;
    assert_eq!(
        s.get(&deactivate, Some(&theirs)).await.status,
        StatusCode::NOT_FOUND
    );
    let their_page = s.get("/pro/structure", Some(&theirs)).await;
    let refused = s
        .post(&reset, Some(&theirs), &[("csrf", &csrf(&their_page.body))])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}

/// Every pair of a page's form named `action` (hidden fields, checked
/// boxes and radios, text fields), as a browser would send it.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let doc = Html::parse_document(html);
    let form = doc
        .select(&sel(&format!("form[action='{action}']")))
        .next()
        .unwrap_or_else(|| panic!("no form to {action}"));
    let mut out = Vec::new();
    for input in form.select(&sel("input")) {
        let v = input.value();
        let (Some(name), kind) = (v.attr("name"), v.attr("type").unwrap_or("text")) else {
            continue;
        };
        let checked = v.attr("checked").is_some();
        if (kind == "checkbox" || kind == "radio") && !checked {
            continue;
        }
        out.push((name.to_owned(), v.attr("value").unwrap_or("").to_owned()));
    }
    out
}

fn with(mut fields: Vec<(String, String)>, set: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in set {
        fields.retain(|(name, _)| name != k);
        fields.push(((*k).to_owned(), (*v).to_owned()));
    }
    fields
}

/// The hand-over form's fields again, from a page that refused them.
fn handed_again(html: &str, action: &str) -> Vec<(String, String)> {
    form_fields(html, action)
        .into_iter()
        .filter(|(k, _)| k != "identifiant" && k != "secret")
        .collect()
}

impl Site {
    async fn post_pairs(&self, path: &str, cookie: &str, pairs: &[(String, String)]) -> Answer {
        let b = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .header(header::COOKIE, cookie);
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.send(b.body(Body::from(body)).unwrap()).await
    }
}

#[tokio::test]
async fn a_person_is_enrolled_at_the_desk_with_the_hand_over() {
    let s = site().await;
    let desk = s.desk(4).await;
    let start = s.get("/pro/inscrire", Some(&desk)).await;
    assert_eq!(start.status, StatusCode::OK);
    check_page("/pro/inscrire", &start.body);
    assert!(start.body.contains("Rien n&#39;est créé avant"));
    // The caseworker proposes: a name, the start of an identifier, two
    // categories for 31 days (checked by default).
    let proposal = with(
        form_fields(&start.body, "/pro/inscrire"),
        &[("nom", "Léa Martin"), ("identifiant", "lea")],
    );
    let bad = s
        .post_pairs(
            "/pro/inscrire",
            &desk,
            &with(proposal.clone(), &[("identifiant", "lea martin")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    check_page("/pro/inscrire (refused)", &bad.body);
    let hand = s.post_pairs("/pro/inscrire", &desk, &proposal).await;
    assert_eq!(hand.status, StatusCode::OK, "{}", hand.body);
    check_page("/pro/inscrire (hand-over)", &hand.body);
    assert!(
        hand.body.contains("Léa, c&#39;est à vous."),
        "{}",
        hand.body
    );
    assert!(
        hand.body.contains("CCAS de Démo-sur-Loire pourra voir et ajouter vos papiers de ces catégories : Identité, Aides et prestations, pendant 31 jours, jusqu"),
        "{}",
        hand.body
    );
    assert!(hand.body.contains("personne ne pourra rouvrir vos papiers"));
    // The person's turn: a weak secret, or two different ones, are said so
    // without the secret coming back.
    let fields = form_fields(&hand.body, "/pro/inscrire/main");
    let weak = s
        .post_pairs(
            "/pro/inscrire/main",
            &desk,
            &with(
                fields.clone(),
                &[
                    ("accord", "oui"),
                    ("confiance", "oui"),
                    ("secret", "123456"),
                    ("secret2", "123456"),
                ],
            ),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(!weak.body.contains("123456"));
    let secret = "girafe verte tambour matin";
    let differ = s
        .post_pairs(
            "/pro/inscrire/main",
            &desk,
            &with(
                fields.clone(),
                &[
                    ("accord", "oui"),
                    ("confiance", "oui"),
                    ("secret", secret),
                    ("secret2", "autre chose"),
                ],
            ),
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(!differ.body.contains(secret));
    let done = s
        .post_pairs(
            "/pro/inscrire/main",
            &desk,
            &with(
                fields,
                &[
                    ("accord", "oui"),
                    ("confiance", "oui"),
                    ("secret", secret),
                    ("secret2", secret),
                ],
            ),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    check_page("/pro/inscrire (done)", &done.body);
    // The caseworker's page never shows the secret; it gives the
    // identifier, the access card (with no secret) and the receipt.
    assert!(!done.body.contains(secret) && !done.body.contains("girafe"));
    let doc = Html::parse_document(&done.body);
    let identifier: String = doc
        .select(&sel("p.identifier"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(identifier.starts_with("lea-"), "{identifier}");
    let card: String = doc.select(&sel(".card")).next().unwrap().text().collect();
    assert!(
        card.contains(&identifier)
            && card.contains("CCAS de Démo-sur-Loire")
            && card.contains("01 23 45 67 89")
    );
    let receipt: String = doc
        .select(&sel(".receipt"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        receipt.contains("Identité, Aides et prestations")
            && receipt.contains("Qui voit mes papiers"),
        "{receipt}"
    );
    // She logs in with what she chose; her journal says she gave the
    // access and chose the trustee, at the desk.
    let a = s
        .post(
            "/connexion",
            None,
            &[
                ("identifier", &identifier),
                ("secret", secret),
                ("appareil", "telephone"),
            ],
        )
        .await;
    assert_eq!(a.location(), "/papiers", "{}", a.body);
    let cookie = a.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let journal = s.get("/journal", Some(&cookie)).await;
    assert!(
        journal
            .body
            .contains("Vous avez donné un accès à CCAS de Démo-sur-Loire."),
        "{}",
        journal.body
    );
    assert!(
        journal
            .body
            .contains("Vous avez choisi CCAS de Démo-sur-Loire comme structure de confiance.")
    );
    // The desk sees her, with the access she gave.
    let home = s.get("/pro", Some(&desk)).await;
    let file = s.get(&link_to(&home.body, "Léa Martin"), Some(&desk)).await;
    assert!(file.body.contains("Voir et ajouter, jusqu"));
    assert_eq!(file.body.matches("Pas d&#39;accès").count(), 7);
}

#[tokio::test]
async fn a_caseworker_scans_two_pages_into_a_category_the_person_opened() {
    let s = site().await;
    let desk = s.desk(5).await;
    let home = s.get("/pro", Some(&desk)).await;
    let marie = link_to(&home.body, "Marie Démo");
    let file = s.get(&marie, Some(&desk)).await;
    let scan = link_to(&file.body, "Numériser un papier");
    let form = s.get(&scan, Some(&desk)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    check_page(&scan, &form.body);
    // Only the categories Marie lets the structure add to are offered.
    let offered: Vec<String> = Html::parse_document(&form.body)
        .select(&sel("input[name=categorie]"))
        .filter_map(|i| i.value().attr("value").map(str::to_owned))
        .collect();
    assert_eq!(offered, ["identity", "social_benefits"]);
    let token = csrf(&form.body);
    let send = |fields: Vec<(&'static str, String)>,
                files: Vec<(&'static str, &'static str, &'static str, Vec<u8>)>| {
        let (kind, body) = multipart(
            &fields
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
            &files,
        );
        let req = Request::post(scan.as_str())
            .header(header::CONTENT_TYPE, kind)
            .header(header::COOKIE, desk.as_str())
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        s.send(req)
    };
    // A category she did not open: the vault refuses, nothing is stored.
    let refused = send(
        vec![
            ("csrf", token.clone()),
            ("categorie", "health".into()),
            ("titre", "Ordonnance".into()),
        ],
        vec![("fichier", "p1.jpg", "image/jpeg", phone_jpeg(64, 48, 1))],
    )
    .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    // Two scanned pages: one PDF in her vault.
    let done = send(
        vec![
            ("csrf", token.clone()),
            ("categorie", "social_benefits".into()),
            ("titre", "Attestation CAF".into()),
            ("valable", "2031-01-31".into()),
        ],
        vec![
            ("fichier", "page1.jpg", "image/jpeg", phone_jpeg(64, 48, 1)),
            ("fichier", "page2.jpg", "image/jpeg", phone_jpeg(64, 48, 1)),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().ends_with("?ajoute=1"));
    let file = s.get(done.location(), Some(&desk)).await;
    assert!(
        file.body.contains("Attestation CAF") && file.body.contains("a été ajouté"),
        "{}",
        file.body
    );
    // Marie finds it in her papers, as one PDF of two pages.
    let person = s.login(0, "telephone").await;
    let docs = s
        .state
        .vault
        .list_documents(&s.session_of(&person), s.session_of(&person).principal.id())
        .await
        .unwrap();
    let caf = docs.iter().find(|d| d.title == "Attestation CAF").unwrap();
    assert_eq!(caf.content_type, "application/pdf");
    // Karim opened nothing to the structure: no form, and a post is refused.
    let karim = link_to(&home.body, "Karim Démo");
    let k = s.get(&format!("{karim}/numeriser"), Some(&desk)).await;
    assert_eq!(k.status, StatusCode::BAD_REQUEST);
    assert!(k.body.contains("ne permet pas"), "{}", k.body);
}

#[tokio::test]
async fn the_desk_prints_a_duplicate_and_sends_a_marked_link_both_in_the_persons_journal() {
    let s = site().await;
    let desk = s.desk(6).await;
    let home = s.get("/pro", Some(&desk)).await;
    let file = s.get(&link_to(&home.body, "Marie Démo"), Some(&desk)).await;
    check_page("/pro/personnes (papers)", &file.body);
    let dup = link_to(&file.body, "Imprimer un duplicata");
    let copy = s.get(&dup, Some(&desk)).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert_eq!(copy.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(copy.body.contains(&mark_hex("Duplicata imprimé le ")));
    let send = link_to(&file.body, "Envoyer");
    let form = s.get(&send, Some(&desk)).await;
    assert_eq!(form.status, StatusCode::OK);
    check_page(&send, &form.body);
    let made = s
        .post(
            &send,
            Some(&desk),
            &[
                ("csrf", &csrf(&form.body)),
                ("pour", "CAF de Lyon"),
                ("duree", "7"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    check_page("link made (desk)", &made.body);
    let url: String = Html::parse_document(&made.body)
        .select(&sel(".secret-link"))
        .next()
        .unwrap()
        .text()
        .collect();
    let path = url
        .trim()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    let copy = s.post(&path, None, &[]).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert!(
        copy.body
            .contains(&mark_hex("Copie transmise à CAF de Lyon le "))
    );
    // Once: the organisation saved its copy.
    assert_ne!(s.post(&path, None, &[]).await.status, StatusCode::OK);
    // Marie reads both in her journal, under the structure's name.
    let me = s.login(0, "telephone").await;
    let journal = s.get("/journal", Some(&me)).await;
    assert!(
        journal
            .body
            .contains("CCAS de Démo-sur-Loire a imprimé un duplicata"),
        "{}",
        journal.body
    );
    assert!(
        journal
            .body
            .contains("CCAS de Démo-sur-Loire a fait un lien vers « Attestation CAF »"),
        "{}",
        journal.body
    );
    // Another structure cannot print hers, even knowing the address.
    let theirs = s.other_structure().await;
    assert_eq!(
        s.get(&dup, Some(&theirs)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_activity_report_counts_without_naming_and_hides_small_counts() {
    let s = site().await;
    let admin = s.desk(7).await;
    let report = s.get("/pro/rapport", Some(&admin)).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    check_page("/pro/rapport", &report.body);
    // The demonstration enrolled two people this month: "< 5", not drawn.
    let csv = s.get("/pro/rapport.csv", Some(&admin)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 13, "{}", csv.body);
    assert_eq!(
        lines[0],
        "mois,personnes_inscrites,papiers_ajoutes,duplicatas_imprimes,liens_ouverts,accords_donnes,accords_retires"
    );
    let this_month = lines[12];
    assert!(
        this_month.starts_with("2026-") || this_month.starts_with("20"),
        "{this_month}"
    );
    let cols: Vec<&str> = this_month.split(',').collect();
    assert_eq!(cols[1], "< 5", "{this_month}");
    // Five more people: the count shows.
    let session = s
        .state
        .vault
        .session(admin.trim_start_matches("coffre_pro="))
        .unwrap();
    for i in 0..5 {
        s.state
            .vault
            .enroll_beneficiary(
                &session,
                coffre_vault::NewBeneficiary {
                    identifier: format!("personne{i}"),
                    display_name: format!("Personne {i}"),
                    secret: coffre_crypto::UserSecret::from("tulipe marche violon rouge"),
                    recovery_trustee: false,
                    grant: Some(coffre_vault::NewGrant {
                        categories: vec![coffre_vault::Category::Identity],
                        permissions: vec![coffre_vault::Permission::View],
                        days: 31,
                    }),
                },
            )
            .await
            .unwrap();
    }
    let csv = s.get("/pro/rapport.csv", Some(&admin)).await;
    let cols: Vec<String> = csv
        .body
        .lines()
        .last()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(cols[1], "7", "{}", csv.body);
    // Marie's consent at the demonstration, and theirs (Karim gave none).
    assert_eq!(cols[5], "6", "{}", csv.body);
    // No name, no identifier, no title anywhere.
    let report = s.get("/pro/rapport", Some(&admin)).await;
    for text in [&report.body, &csv.body] {
        assert!(!text.contains("Marie") && !text.contains("Personne 1") && !text.contains("Carte"));
    }
    assert!(report.body.contains("<svg class=\"chart\""));
    // Not an admin: the report does not exist.
    let (_, code) = s
        .state
        .vault
        .invite_caseworker(
            &session,
            session.principal.structure().unwrap(),
            "agent.x",
            false,
        )
        .await
        .unwrap();
    let a = s
        .state
        .vault
        .enroll_caseworker(
            &code,
            coffre_crypto::UserSecret::from("mot-de-passe-agent-x"),
        )
        .await
        .unwrap();
    let agent = s
        .pro_login(
            "agent.x",
            "mot-de-passe-agent-x",
            &a.second_factor.recovery_codes[0],
        )
        .await
        .unwrap_or_else(|a| panic!("{}", a.body));
    assert_eq!(
        s.get("/pro/rapport", Some(&agent)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/pro/rapport.csv", Some(&agent)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn more_access_is_asked_at_the_desk_and_given_only_by_the_person() {
    let s = site().await;
    let desk = s.desk(8).await;
    let home = s.get("/pro", Some(&desk)).await;
    let karim = link_to(&home.body, "Karim Démo");
    let file = s.get(&karim, Some(&desk)).await;
    let ask = link_to(&file.body, "Demander plus d");
    let form = s.get(&ask, Some(&desk)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    check_page(&ask, &form.body);
    let fields = with(
        form_fields(&form.body, &ask),
        &[("categorie", "health"), ("jours", "31"), ("droits", "voir")],
    );
    let hand = s.post_pairs(&ask, &desk, &fields).await;
    assert_eq!(hand.status, StatusCode::OK, "{}", hand.body);
    check_page("more access (hand-over)", &hand.body);
    assert!(
        hand.body.contains("Karim, c&#39;est à vous."),
        "{}",
        hand.body
    );
    assert!(
        hand.body
            .contains("ces catégories : Santé, pendant 31 jours"),
        "{}",
        hand.body
    );
    let main = format!("{ask}/main");
    let handed = form_fields(&hand.body, &main);
    // Refused: nothing changes.
    let no = s
        .post_pairs(&main, &desk, &with(handed.clone(), &[("accord", "non")]))
        .await;
    assert!(no.location().ends_with("?refuse=1"));
    assert_eq!(
        s.get(&karim, Some(&desk))
            .await
            .body
            .matches("Pas d&#39;accès")
            .count(),
        9
    );
    // Someone else's identifier and secret (Marie's): nothing given.
    let (_, marie_id, marie_secret) = &s.logins.people[0];
    let other = s
        .post_pairs(
            &main,
            &desk,
            &with(
                handed.clone(),
                &[
                    ("accord", "oui"),
                    ("identifiant", marie_id),
                    ("secret", marie_secret),
                ],
            ),
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert!(other.body.contains("pas celui de cette personne"));
    assert!(!other.body.contains(marie_secret.as_str()));
    // A wrong secret: said, nothing given.
    let (_, karim_id, karim_secret) = &s.logins.people[1];
    let wrong = s
        .post_pairs(
            &main,
            &desk,
            &with(
                handed.clone(),
                &[
                    ("accord", "oui"),
                    ("identifiant", karim_id),
                    ("secret", "pas le bon"),
                ],
            ),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    // What the person typed is not carried back into the page (a retry
    // must not reuse it), and a field sent twice is refused.
    assert!(!wrong.body.contains(karim_id.as_str()), "{}", wrong.body);
    let mut twice = with(
        handed_again(&wrong.body, &main),
        &[("accord", "oui"), ("secret", karim_secret)],
    );
    twice.push(("identifiant".into(), karim_id.clone()));
    twice.push(("identifiant".into(), marie_id.clone()));
    assert_eq!(
        s.post_pairs(&main, &desk, &twice).await.status,
        StatusCode::BAD_REQUEST
    );
    // Karim accepts with his own.
    let yes = s
        .post_pairs(
            &main,
            &desk,
            &with(
                handed,
                &[
                    ("accord", "oui"),
                    ("identifiant", karim_id),
                    ("secret", karim_secret),
                ],
            ),
        )
        .await;
    // The wrong secret typed before counted: the person is told now.
    assert!(
        yes.location().ends_with("?accord=1&echecs=1"),
        "{} {}",
        yes.status,
        yes.location()
    );
    let file = s.get(yes.location(), Some(&desk)).await;
    assert!(file.body.contains("La personne a accepté"));
    assert!(
        file.body
            .contains("1 tentative de connexion au coffre de la personne a échoué")
    );
    assert_eq!(file.body.matches("Pas d&#39;accès").count(), 8);
    // His journal: his consent, the structure present.
    let me = s
        .post(
            "/connexion",
            None,
            &[
                ("identifier", karim_id),
                ("secret", karim_secret),
                ("appareil", "telephone"),
            ],
        )
        .await;
    let cookie = me.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let journal = s.get("/journal", Some(&cookie)).await;
    assert!(
        journal
            .body
            .contains("Vous avez donné un accès à CCAS de Démo-sur-Loire."),
        "{}",
        journal.body
    );
}

/// A download is journaled before its paper is opened: a duplicate whose
/// paper turns out damaged is followed, in the person's journal, by a line
/// naming who could not print it after all, and why (not a "try again"
/// meant for her).
#[tokio::test]
async fn a_duplicate_that_does_not_open_is_told_as_such_in_the_persons_journal() {
    let s = site().await;
    let desk = s.desk(6).await;
    let home = s.get("/pro", Some(&desk)).await;
    let file = s.get(&link_to(&home.body, "Marie Démo"), Some(&desk)).await;
    let dup = link_to(&file.body, "Imprimer un duplicata");
    // Every stored object damaged in its last byte (the last chunk's tag).
    let mut dirs = vec![s._dir.path().join("objects")];
    let mut damaged = 0;
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let mut bytes = std::fs::read(&path).unwrap();
                *bytes.last_mut().unwrap() ^= 1;
                std::fs::write(&path, bytes).unwrap();
                damaged += 1;
            }
        }
    }
    assert!(damaged > 0);
    let copy = s.get(&dup, Some(&desk)).await;
    assert_ne!(copy.status, StatusCode::OK);
    assert!(!copy.body.contains("%PDF"));
    let me = s.login(0, "telephone").await;
    let journal = s.get("/journal", Some(&me)).await;
    assert!(
        journal.body.contains("En fait, CCAS de Démo-sur-Loire")
            && journal
                .body
                .contains("pas pu imprimer un duplicata de « Attestation CAF »")
            && journal
                .body
                .contains("la copie gardée par Coffre est abîmée."),
        "{}",
        journal.body
    );
    assert!(
        !journal.body.contains("Refusé :</strong> En fait"),
        "{}",
        journal.body
    );
    assert!(
        !journal.body.contains("réessayez plus tard"),
        "{}",
        journal.body
    );
}
