//! sled alone, to tell what in the soak's slope is sled's: resident memory
//! after rounds of (a) appends of new keys that stay (a journal), and (b)
//! inserts of new keys deleted at once (records that come and go: links,
//! uploads then deletions). Same cache bound as the vault (16 MiB).
//!
//! `MALLOC_ARENA_MAX=2 cargo run --release -p coffre-vault --example sled_memory`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "common/rss.rs"]
mod rss;

fn main() {
    let base = std::env::current_dir().unwrap().join("target");
    for kind in ["append (keys stay)", "churn (keys deleted)"] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .cache_capacity(16 << 20)
            .open()
            .unwrap();
        let tree = db.open_tree("t").unwrap();
        println!("{kind}: round  keys written  RSS MiB");
        println!("{kind}: {:>5}  {:>12}  {:7.1}", 0, 0, rss::rss_mib());
        let value = vec![7u8; 300];
        let mut n = 0u64;
        for round in 1..=10 {
            for _ in 0..50_000 {
                n += 1;
                let key = n.to_be_bytes();
                tree.insert(key, value.as_slice()).unwrap();
                if kind.starts_with("churn") {
                    tree.remove(key).unwrap();
                }
            }
            db.flush().unwrap();
            println!("{kind}: {round:>5}  {n:>12}  {:7.1}", rss::rss_mib());
        }
    }
}
