//! The conformance suite against the filesystem backend and against a real
//! S3-protocol server (s3s, in process, SigV4 checked), plus what only one
//! backend can show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use coffre_store::testing::S3TestServer;
use coffre_store::{FsStore, ObjectStore, S3Store, StoreError};

mod fs {
    use super::*;

    async fn make() -> (Arc<dyn ObjectStore>, common::Guard) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        (Arc::new(store), Box::new(dir))
    }

    common::conformance!(make());

    #[tokio::test]
    async fn objects_land_under_the_root_and_tmp_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        let k = common::key();
        store.put(&k, common::body(1, 100, 10, None)).await.unwrap();
        assert!(dir.path().join("objects").join(k.as_str()).is_file());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        let _ = store
            .put(&common::key(), common::body(1, 100, 10, Some(50)))
            .await;
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn cleanup_removes_stale_temporary_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        // What a crash in the middle of a put leaves.
        std::fs::write(dir.path().join("tmp").join("1-2-3.part"), b"partial").unwrap();
        assert_eq!(
            store
                .cleanup_incomplete(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    /// While one task overwrites an object again and again, readers only
    /// ever see one whole version or the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_never_see_partial_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
        let k = common::key();
        let a = common::bytes(1, 0..300_000);
        let b = common::bytes(2, 0..200_000);
        store
            .put(&k, common::body(1, 300_000, 7000, None))
            .await
            .unwrap();
        let writer = {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move {
                for i in 0..30u64 {
                    let seed = 1 + i % 2;
                    let len = if seed == 1 { 300_000 } else { 200_000 };
                    store
                        .put(&k, common::body(seed, len, 7000, None))
                        .await
                        .unwrap();
                }
            })
        };
        let mut reads = 0;
        while !writer.is_finished() {
            let got = store.get(&k).await.unwrap().collect().await.unwrap();
            assert!(
                got == a || got == b,
                "read a partial object of {} bytes",
                got.len()
            );
            reads += 1;
        }
        writer.await.unwrap();
        assert!(reads > 0);
    }
}

mod s3 {
    use super::*;

    async fn make() -> (Arc<dyn ObjectStore>, common::Guard) {
        let server = S3TestServer::start().unwrap();
        let store = S3Store::connect(server.config()).await.unwrap();
        store.check().await.unwrap();
        (Arc::new(store), Box::new(server))
    }

    common::conformance!(make());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_multipart_uploads_are_aborted() {
        let server = S3TestServer::start().unwrap();
        let store = S3Store::connect(server.config()).await.unwrap();
        // What a crash between CreateMultipartUpload and Complete leaves.
        let k = common::key();
        let created = store
            .client()
            .create_multipart_upload()
            .bucket(store.bucket())
            .key(k.as_str())
            .send()
            .await
            .unwrap();
        assert!(created.upload_id().is_some());
        assert_eq!(
            store
                .cleanup_incomplete(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.unwrap(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_say_what_to_fix() {
        let server = S3TestServer::start().unwrap();
        // Wrong secret: a permission problem, not "unavailable".
        let mut c = server.config();
        c.credentials.as_mut().unwrap().secret_access_key = "wrong".into();
        let store = S3Store::connect(c).await.unwrap();
        let err = store.check().await.unwrap_err();
        assert!(matches!(err, StoreError::Permission(_)), "{err:?}");
        assert!(
            !err.to_string().contains("wrong"),
            "a credential leaked into an error"
        );
        // Missing bucket: configuration.
        let mut c = server.config();
        c.bucket = "no-such-bucket".into();
        let store = S3Store::connect(c).await.unwrap();
        let err = store.check().await.unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{err:?}");
        assert!(err.to_string().contains("no-such-bucket"));
        // Nobody listening: unavailable, retryable.
        let mut c = server.config();
        c.endpoint = Some("http://127.0.0.1:9".into());
        c.max_attempts = 1;
        c.connect_timeout = Duration::from_millis(500);
        let store = S3Store::connect(c).await.unwrap();
        let err = store.check().await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        // Bad settings are refused before any request.
        let mut c = server.config();
        c.part_size = 1024;
        assert!(matches!(
            S3Store::connect(c).await,
            Err(StoreError::Config(_))
        ));
    }
}
