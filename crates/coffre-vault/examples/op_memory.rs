//! Resident memory against operations of each kind, in rounds: uploads then
//! deletions (vaults stay the same size), listings, downloads, share links
//! made, used and revoked, and person logins and logouts — what the soak
//! mixes. Prints the RSS after each round, so the kind whose rounds keep
//! raising it stands out. Run with `MALLOC_ARENA_MAX=2`, as the server is.
//!
//! `MALLOC_ARENA_MAX=2 cargo run --release -p coffre-vault --example op_memory [ROUNDS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "common/rss.rs"]
mod rss;
#[path = "common/scratch.rs"]
mod scratch;

use bytes::Bytes;
use coffre_crypto::UserSecret;
use coffre_vault::{Category, NewBeneficiary, NewDocument, NewGrant, Permission};
use futures_util::StreamExt;

fn doc(i: u64) -> NewDocument {
    NewDocument {
        category: Some(Category::Identity),
        title: Some(format!("Papier {i}")),
        filename: format!("p{i}.pdf"),
        content_type: Some("application/pdf".into()),
        private: Some(false),
        ..NewDocument::default()
    }
}

fn body(n: usize) -> coffre_vault::PlaintextStream {
    futures_util::stream::iter([Ok(Bytes::from(vec![7u8; n]))]).boxed()
}

/// One line of the table: the round, what it did, how many operations, and
/// the RSS after them.
fn report(round: usize, kind: &str, ops: u32) {
    println!("{round:>5}  {kind:<24} {ops:>5}   {:7.1}", rss::rss_mib());
}

async fn drain(mut s: coffre_vault::PlaintextStream) {
    while s.next().await.is_some() {}
}

fn main() {
    let rounds: usize = scratch::arg(6);
    scratch::runtime().block_on(async {
        let (_dir, v) = scratch::vault().await;
        let s = v.create_structure("CCAS", "admin").await.unwrap();
        let a = v
            .enroll_caseworker(
                &s.enrollment_code,
                UserSecret::new("mot-de-passe-agent".into()),
            )
            .await
            .unwrap();
        let cw = v
            .login_caseworker(
                "admin",
                UserSecret::new("mot-de-passe-agent".into()),
                &a.second_factor.recovery_codes[0],
            )
            .await
            .unwrap();
        let cw = v.session(&cw.token).unwrap();
        let mut people = Vec::new();
        for p in 0..8 {
            let e = v
                .enroll_beneficiary(
                    &cw,
                    NewBeneficiary {
                        identifier: format!("personne{p}"),
                        display_name: format!("Personne {p}"),
                        secret: UserSecret::new("cheval bleu jardin soleil".into()),
                        recovery_trustee: false,
                        grant: Some(NewGrant {
                            categories: vec![Category::Identity],
                            permissions: vec![Permission::View, Permission::Upload],
                            days: 31,
                        }),
                    },
                )
                .await
                .unwrap();
            let mut docs = Vec::new();
            for d in 0..20u64 {
                docs.push(
                    v.upload(&cw, e.beneficiary_id, doc(d), body(30_000))
                        .await
                        .unwrap()
                        .document_id,
                );
            }
            people.push((e.beneficiary_id, e.identifier, docs));
        }
        // Each person's own session: they upload and delete their papers.
        let mut own = Vec::new();
        for (_, id, _) in &people {
            let out = v
                .login_beneficiary(id, UserSecret::new("cheval bleu jardin soleil".into()))
                .await
                .unwrap();
            own.push(v.session(&out.token).unwrap());
        }
        println!("round  kind                      ops   RSS MiB");
        report(0, "(start)", 0);
        let mut n = 1_000u64;
        for round in 1..=rounds {
            // Uploads, then their deletion.
            let mut made = Vec::new();
            for i in 0..2_000u64 {
                let k = (i % 8) as usize;
                n += 1;
                let d = v
                    .upload(&own[k], people[k].0, doc(n), body(30_000))
                    .await
                    .unwrap();
                made.push((k, d.document_id));
            }
            for (k, d) in made {
                v.delete_document(&own[k], d).await.unwrap();
            }
            report(round, "upload + delete", 4_000);
            for i in 0..4_000u64 {
                let (b, _, _) = &people[(i % 8) as usize];
                v.list_documents(&cw, *b).await.unwrap();
            }
            report(round, "listing", 4_000);
            for i in 0..4_000u64 {
                let (_, _, docs) = &people[(i % 8) as usize];
                let (_, s) = v.download(&cw, docs[(i % 20) as usize]).await.unwrap();
                drain(s).await;
            }
            report(round, "download", 4_000);
            for i in 0..1_000u64 {
                let (_, _, docs) = &people[(i % 8) as usize];
                let l = v
                    .create_share(&cw, docs[(i % 20) as usize], Some(1), 2)
                    .await
                    .unwrap();
                let (_, s) = v.redeem_share(&l.token).await.unwrap();
                drain(s).await;
                v.revoke_share(&cw, l.share_id).await.unwrap();
            }
            report(round, "share make/use/revoke", 3_000);
            for i in 0..40u64 {
                let (_, id, _) = &people[(i % 8) as usize];
                let out = v
                    .login_beneficiary(id, UserSecret::new("cheval bleu jardin soleil".into()))
                    .await
                    .unwrap();
                let me = v.session(&out.token).unwrap();
                v.logout(&me);
                let _ = v
                    .login_beneficiary(id, UserSecret::new("pas le bon code du tout".into()))
                    .await;
            }
            report(round, "logins (right + wrong)", 80);
        }
    });
}
