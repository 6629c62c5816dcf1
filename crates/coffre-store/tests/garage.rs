//! The conformance suite against a running Garage, started by `.ci/run`
//! with `deploy/garage/`. Built only with `--features garage-tests`, and it
//! fails (never skips) when the Garage environment is missing:
//! COFFRE_TEST_S3_ENDPOINT, COFFRE_TEST_S3_BUCKET, COFFRE_TEST_S3_REGION,
//! AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; and, for the cluster run,
//! COFFRE_TEST_GARAGE_KILL_PID (a node to SIGKILL midway).
//! Run it with `--test-threads=1`: the tests share one bucket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use coffre_store::{KeyPrefix, ObjectStore, S3Config, S3Store};

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: start Garage with deploy/garage/ first"))
}

fn config() -> S3Config {
    let mut c = S3Config::new(
        Some(env("COFFRE_TEST_S3_ENDPOINT")),
        env("COFFRE_TEST_S3_REGION"),
        env("COFFRE_TEST_S3_BUCKET"),
    );
    c.part_size = 5 << 20;
    // Credentials come from the standard AWS environment variables.
    c
}

async fn make() -> (Arc<dyn ObjectStore>, common::Guard) {
    let store = S3Store::connect(config()).await.unwrap();
    store.check().await.unwrap();
    (Arc::new(store), Box::new(()))
}

common::conformance!(make());

/// Three nodes, replication factor 3: write, SIGKILL one node, then every
/// object still reads back byte-exact and new writes still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_a_killed_node() {
    // The single-node run leaves this test out by name (`--skip cluster_`).
    let pid = env("COFFRE_TEST_GARAGE_KILL_PID");
    let (store, _g) = make().await;
    let mut before = Vec::new();
    for i in 0..6u64 {
        let k = common::key();
        let len = 1000 + i * 3_000_000;
        store
            .put(&k, common::body(300 + i, len, 1 << 20, None))
            .await
            .unwrap();
        before.push((k, i, len));
    }
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(status.success(), "could not kill Garage node {pid}");
    for (k, i, len) in &before {
        assert_eq!(
            common::sha256_get(&*store, k).await,
            (*len, common::sha256_of(300 + i, *len))
        );
    }
    for i in 0..4u64 {
        let k = common::key();
        let len = 500 + i * 4_000_000;
        store
            .put(&k, common::body(400 + i, len, 1 << 20, None))
            .await
            .unwrap();
        assert_eq!(
            common::sha256_get(&*store, &k).await,
            (len, common::sha256_of(400 + i, len))
        );
    }
    let listed = common::all_keys(&*store, &KeyPrefix::documents(), 100).await;
    assert!(before.iter().all(|(k, _, _)| listed.contains(k)));
}
