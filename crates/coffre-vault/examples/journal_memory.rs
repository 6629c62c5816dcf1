//! Resident memory against the journal's size: appends journal entries
//! (what every request adds) and prints the process's RSS every 50,000.
//! The soak showed memory creeping up with the journal; this isolates it.
//!
//! `cargo run --release -p coffre-vault --example journal_memory [ENTRIES]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "common/rss.rs"]
mod rss;
#[path = "common/scratch.rs"]
mod scratch;

use coffre_vault::journal::{Event, NewEntry, Who};

fn main() {
    let total: u64 = scratch::arg(400_000);
    scratch::runtime().block_on(async {
        let (_dir, v) = scratch::vault().await;
        println!("entries  RSS MiB");
        println!("{:>7}  {:7.1}", 0, rss::rss_mib());
        let mut done = 0u64;
        while done < total {
            let mut tasks = tokio::task::JoinSet::new();
            for w in 0..8u64 {
                let v = v.clone();
                tasks.spawn(async move {
                    for i in 0..6_250u64 {
                        v.record(
                            NewEntry::ok(Who::System, Event::DocumentRead)
                                .detail(format!("{w}:{i}")),
                        )
                        .await
                        .unwrap();
                    }
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
            done += 50_000;
            println!("{done:>7}  {:7.1}", rss::rss_mib());
        }
    });
}
