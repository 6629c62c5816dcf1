//! The conformance suite: the same checks for every backend. Each backend's
//! test file instantiates it with `conformance!(async { (store, guard) })`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffre_crypto::DocumentId;
use coffre_store::{BodyStream, KeyPrefix, ObjectKey, ObjectStore, StoreError};
use futures_util::StreamExt;
use ring::digest::{Context, SHA256};

pub type Guard = Box<dyn std::any::Any + Send>;

pub fn key() -> ObjectKey {
    ObjectKey::document(DocumentId::random().unwrap(), 1)
}

/// Deterministic pseudo-random bytes: byte `i` of stream `seed`.
pub fn byte_at(seed: u64, i: u64) -> u8 {
    let mut x = i.wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x as u8
}

pub fn bytes(seed: u64, range: std::ops::Range<u64>) -> Vec<u8> {
    range.map(|i| byte_at(seed, i)).collect()
}

/// A body of `len` bytes in pieces of `piece` bytes, generated on the fly
/// (never whole in memory); optionally failing after `fail_after` bytes.
pub fn body(seed: u64, len: u64, piece: u64, fail_after: Option<u64>) -> BodyStream {
    futures_util::stream::unfold(0u64, move |pos| async move {
        if let Some(f) = fail_after
            && pos >= f
        {
            return Some((Err(std::io::Error::other("client went away")), u64::MAX));
        }
        if pos >= len {
            return None;
        }
        let end = (pos + piece).min(len);
        Some((Ok(Bytes::from(bytes(seed, pos..end))), end))
    })
    .boxed()
}

pub fn sha256_of(seed: u64, len: u64) -> Vec<u8> {
    let mut ctx = Context::new(&SHA256);
    let mut pos = 0;
    while pos < len {
        let end = (pos + (1 << 20)).min(len);
        ctx.update(&bytes(seed, pos..end));
        pos = end;
    }
    ctx.finish().as_ref().to_vec()
}

pub async fn sha256_get(store: &dyn ObjectStore, k: &ObjectKey) -> (u64, Vec<u8>) {
    let b = store.get(k).await.unwrap();
    let announced = b.len;
    let mut ctx = Context::new(&SHA256);
    let mut n = 0u64;
    let mut s = b.stream;
    while let Some(chunk) = s.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len() as u64;
        ctx.update(&chunk);
    }
    assert_eq!(
        n, announced,
        "stream length differs from the announced length"
    );
    (n, ctx.finish().as_ref().to_vec())
}

pub async fn small_round_trip(store: &dyn ObjectStore) {
    let k = key();
    let r = store.put(&k, body(1, 1000, 333, None)).await.unwrap();
    assert_eq!(r.size, 1000);
    assert_eq!(store.head(&k).await.unwrap(), 1000);
    assert_eq!(
        store.get(&k).await.unwrap().collect().await.unwrap(),
        bytes(1, 0..1000)
    );
    let part = store.get_range(&k, 10..20).await.unwrap();
    assert_eq!(part.len, 10);
    assert_eq!(part.collect().await.unwrap(), bytes(1, 10..20));
}

pub async fn empty_object(store: &dyn ObjectStore) {
    let k = key();
    assert_eq!(store.put(&k, body(2, 0, 10, None)).await.unwrap().size, 0);
    assert_eq!(store.head(&k).await.unwrap(), 0);
    assert!(
        store
            .get(&k)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_range(&k, 0..0).await.unwrap().len, 0);
}

/// A ≥ 64 MiB object, streamed in odd pieces, read back byte-exact
/// (SHA-256), then ranges across part boundaries (parts are 5 MiB in the
/// S3 test configurations).
pub async fn large_object_and_ranges(store: &dyn ObjectStore) {
    const MIB: u64 = 1 << 20;
    let len = 64 * MIB + 12_345;
    let k = key();
    let r = store.put(&k, body(3, len, MIB + 7, None)).await.unwrap();
    assert_eq!(r.size, len);
    assert_eq!(store.head(&k).await.unwrap(), len);
    assert_eq!(sha256_get(store, &k).await, (len, sha256_of(3, len)));

    let part = 5 * MIB;
    for range in [
        0..1,
        part - 10..part + 10,
        2 * part - 1..2 * part + 1,
        part..3 * part + 17,
        len - 100..len,
        len - 1..len,
        12 * part + 3..12 * part + 3 + 70_000,
    ] {
        let got = store.get_range(&k, range.clone()).await.unwrap();
        assert_eq!(got.len, range.end - range.start);
        assert!(
            got.collect().await.unwrap() == bytes(3, range.clone()),
            "range {range:?}"
        );
    }
    assert!(matches!(
        store.get_range(&k, len - 5..len + 1).await,
        Err(StoreError::InvalidRange { .. })
    ));
    assert!(matches!(
        store.get_range(&k, len + 1..len + 2).await,
        Err(StoreError::InvalidRange { .. })
    ));
    store.delete(&k).await.unwrap();
    assert!(matches!(
        store.head(&k).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn missing_keys(store: &dyn ObjectStore) {
    let k = key();
    assert!(matches!(
        store.get(&k).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&k).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_range(&k, 0..1).await,
        Err(StoreError::NotFound { .. })
    ));
    // Deleting what is not there is not an error.
    store.delete(&k).await.unwrap();
    store.delete(&k).await.unwrap();
}

pub async fn overwrite_replaces_whole(store: &dyn ObjectStore) {
    let k = key();
    store.put(&k, body(4, 5000, 999, None)).await.unwrap();
    store.put(&k, body(5, 300, 100, None)).await.unwrap();
    assert_eq!(
        store.get(&k).await.unwrap().collect().await.unwrap(),
        bytes(5, 0..300)
    );
}

pub async fn concurrent_distinct_puts(store: Arc<dyn ObjectStore>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16u64 {
        let store = store.clone();
        tasks.spawn(async move {
            let k = key();
            let len = 10_000 + i * 77_777;
            store
                .put(&k, body(100 + i, len, 4096 + i, None))
                .await
                .unwrap();
            (k, i, len)
        });
    }
    let mut written = Vec::new();
    while let Some(r) = tasks.join_next().await {
        written.push(r.unwrap());
    }
    assert_eq!(written.len(), 16);
    for (k, i, len) in written {
        assert_eq!(
            sha256_get(&*store, &k).await,
            (len, sha256_of(100 + i, len)),
            "object {i}"
        );
    }
}

/// A body that fails midway leaves no object, small (single request) or
/// large (multipart), and no incomplete upload behind.
pub async fn failed_body_leaves_nothing(store: &dyn ObjectStore) {
    for (len, fail_after) in [(100_000u64, 50_000u64), (30 << 20, 12 << 20)] {
        let k = key();
        let res = store.put(&k, body(6, len, 1 << 20, Some(fail_after))).await;
        assert!(matches!(res, Err(StoreError::Body(_))), "{res:?}");
        assert!(matches!(
            store.head(&k).await,
            Err(StoreError::NotFound { .. })
        ));
        let listed = all_keys(store, &KeyPrefix::documents(), 1000).await;
        assert!(!listed.contains(&k));
    }
    // Nothing left for the cleanup to find: the upload was aborted at once.
    assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 0);
}

/// A put abandoned mid-way (the client went away, the future was dropped)
/// leaves nothing readable, and what it left behind (a temporary file, a
/// multipart upload) is found and removed by the cleanup.
pub async fn cancelled_put_is_cleaned_up(store: &dyn ObjectStore) {
    let k = key();
    let stalled = body(7, 12 << 20, 1 << 20, None)
        .chain(futures_util::stream::pending())
        .boxed();
    let res = tokio::time::timeout(Duration::from_secs(3), store.put(&k, stalled)).await;
    assert!(res.is_err(), "the stalled put should still be running");
    // Let anything the dropped future started settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        store.head(&k).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        !all_keys(store, &KeyPrefix::documents(), 1000)
            .await
            .contains(&k)
    );
    assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 0);
}

pub async fn all_keys(store: &dyn ObjectStore, prefix: &KeyPrefix, page: usize) -> Vec<ObjectKey> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = store.list(prefix, after.as_deref(), page).await.unwrap();
        assert!(p.entries.len() <= page);
        out.extend(p.entries.into_iter().map(|e| e.key));
        match p.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

pub async fn list_pagination(store: &dyn ObjectStore) {
    let mut mine = Vec::new();
    for i in 0..23u64 {
        let k = key();
        store
            .put(&k, body(200 + i, 10 + i, 64, None))
            .await
            .unwrap();
        mine.push(k);
    }
    mine.sort();
    let listed = all_keys(store, &KeyPrefix::documents(), 7).await;
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "listing is not in key order");
    let seen: Vec<_> = listed
        .iter()
        .filter(|k| mine.contains(k))
        .cloned()
        .collect();
    assert_eq!(seen, mine, "paginated listing lost or duplicated keys");
    // Sizes come with the listing.
    let first = store
        .list(&KeyPrefix::documents(), None, 1000)
        .await
        .unwrap();
    for e in first.entries.iter().filter(|e| mine.contains(&e.key)) {
        assert_eq!(e.size, store.head(&e.key).await.unwrap());
    }
    // A shard prefix lists only that shard.
    let shard = mine[0].document_version().0.as_bytes()[0];
    let in_shard = all_keys(store, &KeyPrefix::shard(shard), 3).await;
    assert!(in_shard.contains(&mine[0]));
    assert!(
        in_shard
            .iter()
            .all(|k| k.document_version().0.as_bytes()[0] == shard)
    );
    for k in &mine {
        store.delete(k).await.unwrap();
    }
}

macro_rules! conformance {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn small_round_trip() {
            let (store, _guard) = $make.await;
            common::small_round_trip(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn empty_object() {
            let (store, _guard) = $make.await;
            common::empty_object(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn large_object_and_ranges() {
            let (store, _guard) = $make.await;
            common::large_object_and_ranges(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn missing_keys() {
            let (store, _guard) = $make.await;
            common::missing_keys(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn overwrite_replaces_whole() {
            let (store, _guard) = $make.await;
            common::overwrite_replaces_whole(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_distinct_puts() {
            let (store, _guard) = $make.await;
            common::concurrent_distinct_puts(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn failed_body_leaves_nothing() {
            let (store, _guard) = $make.await;
            common::failed_body_leaves_nothing(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cancelled_put_is_cleaned_up() {
            let (store, _guard) = $make.await;
            common::cancelled_put_is_cleaned_up(&*store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn list_pagination() {
            let (store, _guard) = $make.await;
            common::list_pagination(&*store).await;
        }
    };
}
pub(crate) use conformance;
