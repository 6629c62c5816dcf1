//! The security review's attacks on trust, replayed against the real binary
//! over HTTP: each one worked before and must now fail. (Erasure against a
//! stolen disk and a swapped public key are replayed in coffre-vault's
//! `attack_tests`, where the raw database can be reached.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use common::{Api, MARKER, scan, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn invite(api: &Api, sid: &str, admin: &str, login: &str, password: &str) -> String {
    invite_as(api, sid, admin, login, password, false).await
}

async fn invite_as(
    api: &Api,
    sid: &str,
    admin: &str,
    login: &str,
    password: &str,
    is_admin: bool,
) -> String {
    let (s, v) = api
        .post(
            &format!("/api/v1/structures/{sid}/caseworkers"),
            Some(admin),
            json!({"login": login, "admin": is_admin}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = api
        .post(
            "/api/v1/enrollments",
            None,
            json!({"code": v["enrollment_code"], "password": password}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    api.login_caseworker(login, password).await
}

async fn person(api: &Api, identifier: &str, secret: &str) -> String {
    let (s, v) = api.login_beneficiary(identifier, secret).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

async fn delete(api: &Api, path: &str, token: &str) -> StatusCode {
    api.call(Method::DELETE, path, Some(token), None).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_single_caseworker_takes_over_an_account() {
    let server = start("", &[]);
    let api = server.api();
    let (sid, admin) = api
        .structure(&server.data_dir, "CCAS de Lyon", "admin.lyon")
        .await;
    let julie = invite(&api, &sid, &admin, "julie", "mot-de-passe-julie").await;
    // A second admin: a recovery needs two people who did not make each
    // other's accounts.
    let claire = invite_as(&api, &sid, &admin, "claire", "mot-de-passe-claire", true).await;
    // A trivial secret is refused at enrollment, in so many words.
    let enroll = |secret: &'static str| {
        json!({"identifier":"marie.d","display_name":"Marie D.","secret":secret,"recovery_trustee":true,
               "grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}})
    };
    for weak in ["123456", "111111", "012345"] {
        let (s, v) = api
            .post("/api/v1/beneficiaries", Some(&julie), enroll(weak))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{weak}: {v}");
        assert_eq!(v["error"]["code"], "weak_secret");
        assert!(!v.to_string().contains(weak), "the secret is echoed: {v}");
    }
    let (s, v) = api
        .post("/api/v1/beneficiaries", Some(&julie), enroll("482913"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b = v["beneficiary_id"].as_str().unwrap().to_owned();
    let id = v["identifier"].as_str().unwrap().to_owned();
    let marie = person(&api, &id, "482913").await;
    // A private paper: no structure may see it.
    let (s, up) = api.upload(&marie, &b, "health", scan()).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let private = up["document_id"].as_str().unwrap().to_owned();
    // An account claire makes after marie chose the structure.
    let paul = invite(&api, &sid, &claire, "paul", "mot-de-passe-paul").await;

    // The review's attack: one caseworker of the trustee sets a secret of
    // their choosing. The old route is gone; the new one refuses a member.
    let (s, _) = api
        .post(
            &format!("/api/v1/beneficiaries/{b}/recovery"),
            Some(&julie),
            json!({"new_secret":"secret du voleur 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let recoveries = format!("/api/v1/beneficiaries/{b}/recoveries");
    let (s, _) = api.post(&recoveries, Some(&julie), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An admin alone starts one, but can neither confirm nor complete it,
    // nor confirm it with an account of their own making.
    let (s, r) = api.post(&recoveries, Some(&claire), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let rid = r["recovery_id"].as_str().unwrap().to_owned();
    let confirm = format!("/api/v1/recoveries/{rid}/confirmation");
    let complete = format!("/api/v1/recoveries/{rid}/completion");
    for who in [&claire, &paul] {
        let (s, _) = api.post(&confirm, Some(who), json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = api
        .post(
            &complete,
            Some(&claire),
            json!({"new_secret":"secret du voleur 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // One at a time: it cannot be started over and over.
    let (s, _) = api.post(&recoveries, Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Nothing changed for the person.
    person(&api, &id, "482913").await;

    // The second member confirms, then completes it with the person, who
    // types a new secret (the starter cannot complete it for them).
    let (s, _) = api.post(&confirm, Some(&julie), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .post(
            &complete,
            Some(&claire),
            json!({"new_secret":"secret du voleur 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = api
        .post(&complete, Some(&julie), json!({"new_secret":"777777"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = api
        .post(
            &complete,
            Some(&julie),
            json!({"new_secret":"tulipe marche violon sable"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The old session ended, the old secret opens nothing.
    let (s, _) = api
        .get(&format!("/api/v1/beneficiaries/{b}/documents"), &marie)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api.login_beneficiary(&id, "482913").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The structure still cannot read the private paper.
    let (s, _) = api
        .bytes(
            &format!("/api/v1/documents/{private}/content"),
            Some(&admin),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The person is told at every login until they acknowledge it, and the
    // recovery stays at the top of their journal.
    let mut notice = Value::Null;
    for _ in 0..2 {
        let (s, v) = api
            .login_beneficiary(&id, "tulipe marche violon sable")
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["open_notices"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["open_notices"][0]["kind"], "recovery");
        notice = v["open_notices"][0]["notice_id"].clone();
    }
    let marie = person(&api, &id, "tulipe marche violon sable").await;
    let (s, j) = api
        .get(&format!("/api/v1/beneficiaries/{b}/journal"), &marie)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(j["kept_in_view"][0]["action"], "vault.recover", "{j}");
    let (s, _) = api
        .post(
            &format!("/api/v1/beneficiaries/{b}/notices/{notice}/acknowledgement"),
            Some(&marie),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = api
        .login_beneficiary(&id, "tulipe marche violon sable")
        .await;
    assert_eq!(v["open_notices"], json!([]), "{v}");
    let (s, got) = api
        .bytes(
            &format!("/api/v1/documents/{private}/content"),
            Some(&marie),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(got.ends_with(MARKER.as_bytes()));

    // Trustees are the person's to see and remove; then no recovery starts.
    let trustees = format!("/api/v1/beneficiaries/{b}/trustees");
    let (s, t) = api.get(&trustees, &marie).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["trustees"][0]["name"], "CCAS de Lyon", "{t}");
    // In plain words: a trustee could open everything.
    let means = t["what_it_means"].as_str().unwrap();
    assert!(means.contains("ouvrir tout votre coffre"), "{means}");
    let (s, _) = api.get(&trustees, &admin).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(&api, &format!("{trustees}/{sid}"), &marie).await,
        StatusCode::NO_CONTENT
    );
    let (s, _) = api.post(&recoveries, Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caseworkers_leave_and_people_remove_structures() {
    let server = start("", &[]);
    let api = server.api();
    let (sid, admin) = api
        .structure(&server.data_dir, "CCAS de Lyon", "admin.lyon")
        .await;
    let julie = invite(&api, &sid, &admin, "julie", "mot-de-passe-julie").await;
    let (s, v) = api
        .post(
            "/api/v1/beneficiaries",
            Some(&julie),
            json!({"identifier":"marie.d","display_name":"Marie D.","secret":"482913",
                   "grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let b = v["beneficiary_id"].as_str().unwrap().to_owned();
    let id = v["identifier"].as_str().unwrap().to_owned();
    let (s, up) = api.upload(&julie, &b, "identity", scan()).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let doc = up["document_id"].as_str().unwrap().to_owned();

    // The admin sees who is who, and removes julie: her session ends at once.
    let (s, list) = api
        .get(&format!("/api/v1/structures/{sid}/caseworkers"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    let julie_id = list["caseworkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["login"] == "julie")
        .unwrap()["caseworker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // julie cannot remove anyone (not an admin), nor can another structure.
    let deactivation = format!("/api/v1/structures/{sid}/caseworkers/{julie_id}/deactivation");
    let (s, _) = api.post(&deactivation, Some(&julie), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.post(&deactivation, Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .get(&format!("/api/v1/beneficiaries/{b}/documents"), &julie)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .post(
            "/api/v1/sessions",
            None,
            json!({"kind":"caseworker","login":"julie","password":"mot-de-passe-julie",
                   "code": api.otp("julie").await}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The admin, on the rotated key, still opens the consented paper.
    let (s, got) = api
        .bytes(&format!("/api/v1/documents/{doc}/content"), Some(&admin))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(got.ends_with(MARKER.as_bytes()));

    // A password changes with the current one; the old one stops working.
    let (s, _) = api
        .call(
            Method::PUT,
            "/api/v1/sessions/current/secret",
            Some(&admin),
            Some(json!({"current":"mauvais","new":"nouveau mot de passe admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(
            Method::PUT,
            "/api/v1/sessions/current/secret",
            Some(&admin),
            Some(json!({"current":"mot-de-passe-admin","new":"nouveau mot de passe admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .post(
            "/api/v1/sessions",
            None,
            json!({"kind":"caseworker","login":"admin.lyon","password":"mot-de-passe-admin",
                   "code": api.otp("admin.lyon").await}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let admin = api
        .login_caseworker("admin.lyon", "nouveau mot de passe admin")
        .await;

    // The person removes the structure: it no longer finds them, their
    // name or their grants.
    let marie = person(&api, &id, "482913").await;
    assert_eq!(
        delete(
            &api,
            &format!("/api/v1/beneficiaries/{b}/structures/{sid}"),
            &marie
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let (s, list) = api.get("/api/v1/beneficiaries", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list.to_string().contains("Marie D."), "{list}");
    assert!(!list.to_string().contains(&b), "{list}");
    for path in [
        format!("/api/v1/beneficiaries/{b}/documents"),
        format!("/api/v1/beneficiaries/{b}/grants"),
    ] {
        let (s, v) = api.get(&path, &admin).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(!v.to_string().contains("Marie"), "{v}");
    }
    let (s, _) = api
        .bytes(&format!("/api/v1/documents/{doc}/content"), Some(&admin))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The person still has their paper.
    let (s, got) = api
        .bytes(&format!("/api/v1/documents/{doc}/content"), Some(&marie))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(got.ends_with(MARKER.as_bytes()));
}
