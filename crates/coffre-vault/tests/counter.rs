//! Counter links ("Montrer au guichet") and links for a named recipient,
//! through the vault's public API: single use, stopped at once, the
//! person's own act only, gone with the paper, a global budget on short
//! codes, and never on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use coffre_vault::{Category, NewDocument, VaultError};
use common::*;

fn paper(title: &str) -> NewDocument {
    NewDocument {
        category: Some(Category::Identity),
        title: Some(title.into()),
        filename: "carte.pdf".into(),
        content_type: Some("application/pdf".into()),
        // Shared with the structures that may see identity papers.
        private: Some(false),
        ..NewDocument::default()
    }
}

/// One identity paper ("Carte") of `b`, uploaded by `who`.
async fn upload_card(
    w: &World,
    who: &coffre_vault::Session,
    b: coffre_crypto::PrincipalId,
) -> coffre_crypto::DocumentId {
    w.vault
        .upload(who, b, paper("Carte"), body(&scan(100, 1), 50))
        .await
        .unwrap()
        .document_id
}

/// Marie, enrolled by a structure with consent on identity papers, logged
/// in, with one paper of hers.
async fn marie_and_her_card(
    w: &World,
) -> (
    std::sync::Arc<coffre_vault::Session>,
    coffre_crypto::DocumentId,
) {
    let (_, admin) = structure(w, "CCAS", "admin").await;
    let (b, me) = beneficiary(w, &admin, "marie", "482913", &[Category::Identity], false).await;
    let d = upload_card(w, &me, b).await;
    (me, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_link_serves_once_by_token_or_code_and_stops_at_once() {
    let w = world_on_manual_clock().await;
    let (_, admin) = structure(&w, "CCAS", "admin").await;
    let (b, me) = beneficiary(&w, &admin, "marie", "482913", &[Category::Identity], false).await;
    let content = scan(30_000, 7);
    let d = w
        .vault
        .upload(&me, b, paper("Carte d'identité"), body(&content, 4000))
        .await
        .unwrap()
        .document_id;

    // By the QR code's token: once.
    let made = w
        .vault
        .create_counter_link(&me, d, "Préfecture", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    assert_eq!(view.code.len(), coffre_vault::CODE_LEN);
    assert!(w.vault.counter_status(&view.token).is_ok());
    let copy = w.vault.redeem_counter_token(&view.token).await.unwrap();
    assert_eq!(copy.recipient, "Préfecture");
    assert_eq!(collect(copy.stream).await.unwrap(), content);
    assert!(matches!(
        w.vault.redeem_counter_token(&view.token).await,
        Err(VaultError::Gone)
    ));
    assert!(matches!(
        w.vault.redeem_counter_code(&view.code).await,
        Err(VaultError::Gone)
    ));
    assert!(w.vault.counter_link(&me, made.id).is_err());

    // By the short code, typed loosely: once.
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    let typed = format!(
        " {}-{} {} ",
        &view.code[..3].to_lowercase(),
        &view.code[3..6],
        &view.code[6..]
    );
    let copy = w.vault.redeem_counter_code(&typed).await.unwrap();
    assert_eq!(collect(copy.stream).await.unwrap(), content);
    assert!(matches!(
        w.vault.redeem_counter_code(&view.code).await,
        Err(VaultError::Gone)
    ));

    // "Arrêter de montrer": dead at once, by token and by code.
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    w.vault.stop_counter_link(&me, made.id).await.unwrap();
    assert!(matches!(
        w.vault.redeem_counter_code(&view.code).await,
        Err(VaultError::Gone)
    ));
    assert!(matches!(
        w.vault.redeem_counter_token(&view.token).await,
        Err(VaultError::Gone)
    ));

    // Its minutes over: gone.
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    w.vault.clock().advance(Duration::from_secs(15 * 60 + 1));
    assert!(matches!(
        w.vault.redeem_counter_token(&view.token).await,
        Err(VaultError::Gone)
    ));

    // The paper deleted meanwhile: gone.
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    w.vault.delete_document(&me, d).await.unwrap();
    assert!(matches!(
        w.vault.redeem_counter_token(&view.token).await,
        Err(VaultError::Gone)
    ));

    // The journal tells the person what happened, in order.
    let j = w.vault.vault_journal(&me, b, 1000).await.unwrap();
    let counters: Vec<(String, String)> = j
        .entries
        .iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("counter:"))
        })
        .map(|e| (e.action.clone(), e.outcome.clone()))
        .collect();
    assert_eq!(
        counters.iter().filter(|(a, _)| a == "share.create").count(),
        5
    );
    assert_eq!(
        counters
            .iter()
            .filter(|(a, o)| a == "share.download" && o == "ok")
            .count(),
        2
    );
    assert_eq!(
        counters.iter().filter(|(a, _)| a == "share.revoke").count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_person_shows_their_papers_and_nobody_else_sees_the_codes() {
    let w = world().await;
    let (s, admin) = structure(&w, "CCAS", "admin").await;
    let cw = caseworker(&w, &admin, s, "julie").await;
    let (b, me) = beneficiary(&w, &cw, "marie", "482913", &[Category::Identity], false).await;
    let (_, other) = beneficiary(&w, &cw, "karim", "739164", &[], false).await;
    let d = upload_card(&w, &me, b).await;
    // A caseworker with view consent (who may read the paper) cannot open
    // a counter link on it; another person cannot either.
    assert!(w.vault.document_info(&cw, d).await.is_ok());
    assert!(matches!(
        w.vault.create_counter_link(&cw, d, "CAF", 15).await,
        Err(VaultError::Forbidden(_))
    ));
    assert!(
        w.vault
            .create_counter_link(&other, d, "CAF", 15)
            .await
            .is_err()
    );
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    // Nobody but the person sees or stops it.
    assert!(w.vault.counter_link(&other, made.id).is_err());
    assert!(w.vault.counter_link(&cw, made.id).is_err());
    assert!(w.vault.counter_links(&cw).unwrap().is_empty());
    assert!(matches!(
        w.vault.stop_counter_link(&other, made.id).await,
        Err(VaultError::NotFound)
    ));
    assert!(w.vault.counter_link(&me, made.id).is_ok());
    // Bad requests are refused before anything is made.
    assert!(matches!(
        w.vault.create_counter_link(&me, d, "", 15).await,
        Err(VaultError::Invalid(_))
    ));
    assert!(matches!(
        w.vault.create_counter_link(&me, d, "CAF", 61).await,
        Err(VaultError::Invalid(_))
    ));
    assert!(matches!(
        w.vault
            .create_counter_link(&me, d, "CAF\nde Lyon", 15)
            .await,
        Err(VaultError::Invalid(_))
    ));
    // At most five at once per person.
    for _ in 0..4 {
        w.vault
            .create_counter_link(&me, d, "CAF", 15)
            .await
            .unwrap();
    }
    assert!(matches!(
        w.vault.create_counter_link(&me, d, "CAF", 15).await,
        Err(VaultError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_code_guessing_has_a_global_budget() {
    let w = world_on_manual_clock().await;
    let (me, d) = marie_and_her_card(&w).await;
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    // A guesser spends the minute's budget…
    // What cannot be a code costs nothing.
    for junk in ["", "0000", "OOOOOOOOO", "ABCDEFGHJK"] {
        assert!(matches!(
            w.vault.redeem_counter_code(junk).await,
            Err(VaultError::Gone)
        ));
    }
    for i in 0..coffre_vault::CODE_TRIES_PER_MINUTE {
        let guess = format!("{:2>9}", i).replace(['0', '1'], "Z");
        assert!(matches!(
            w.vault.redeem_counter_code(&guess).await,
            Err(VaultError::Gone)
        ));
    }
    // …then even the right code waits for the next minute.
    assert!(matches!(
        w.vault.redeem_counter_code(&view.code).await,
        Err(VaultError::Busy { .. })
    ));
    // The QR code's token (256 bits) is not on that budget.
    let made2 = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view2 = w.vault.counter_link(&me, made2.id).unwrap();
    assert!(w.vault.redeem_counter_token(&view2.token).await.is_ok());
    w.vault.clock().advance(Duration::from_secs(61));
    assert!(w.vault.redeem_counter_code(&view.code).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_links_never_reach_the_disk_and_end_with_the_process() {
    let w = world().await;
    let (me, d) = marie_and_her_card(&w).await;
    let made = w
        .vault
        .create_counter_link(&me, d, "CAF", 15)
        .await
        .unwrap();
    let view = w.vault.counter_link(&me, made.id).unwrap();
    w.vault.checkpoint().await.unwrap();
    // Neither the token nor the short code is anywhere in the data
    // directory (database, journal, objects).
    nowhere_on_disk(w.dir.path(), view.token.as_bytes());
    nowhere_on_disk(w.dir.path(), view.code.as_bytes());
}

/// Fails if any file under `dir` holds `needle`.
fn nowhere_on_disk(dir: &std::path::Path, needle: &[u8]) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes.windows(needle.len()).any(|win| win == needle),
                    "{} holds {:?}",
                    path.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_for_a_named_recipient_gives_the_name_with_the_copy() {
    let w = world().await;
    let (me, d) = marie_and_her_card(&w).await;
    let named = w
        .vault
        .create_share_to(&me, d, Some(1), 1, "  CAF de Lyon ")
        .await
        .unwrap();
    let copy = w.vault.redeem_share_copy(&named.token).await.unwrap();
    assert_eq!(copy.recipient.as_deref(), Some("CAF de Lyon"));
    let unnamed = w.vault.create_share(&me, d, Some(1), 1).await.unwrap();
    let copy = w.vault.redeem_share_copy(&unnamed.token).await.unwrap();
    assert_eq!(copy.recipient, None);
    // The name is sealed: not in the database in clear.
    w.vault.checkpoint().await.unwrap();
    nowhere_on_disk(w.dir.path(), b"CAF de Lyon");
    assert!(matches!(
        w.vault.create_share_to(&me, d, Some(1), 1, "").await,
        Err(VaultError::Invalid(_))
    ));
}
