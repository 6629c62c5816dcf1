//! Store throughput against raw `aws-sdk-s3` calls on the same server, in
//! one run, and the peak memory of a 1 GiB streamed put.
//!
//! `cargo bench -p coffre-store --bench store_throughput`
//!
//! The S3 server is Garage when `COFFRE_TEST_S3_ENDPOINT` (and the rest of
//! `deploy/garage/*.sh`'s env.sh) is set, otherwise the in-process s3s test
//! server, started in a child process so that its memory is not counted as
//! the client's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::io::BufRead;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use coffre_crypto::DocumentId;
use coffre_store::testing::S3TestServer;
use coffre_store::{BodyStream, ObjectKey, ObjectStore, S3Config, S3Store};
use futures_util::StreamExt;

const MIB: usize = 1 << 20;
const SIZE: usize = 256 * MIB;
const RUNS: usize = 3;

fn key() -> ObjectKey {
    ObjectKey::document(DocumentId::random().unwrap(), 1)
}

/// The body as 1 MiB slices of one buffer (no copy, no generation cost).
fn body_of(data: &Bytes) -> BodyStream {
    let data = data.clone();
    futures_util::stream::iter(
        (0..data.len())
            .step_by(MIB)
            .map(move |i| Ok(data.slice(i..(i + MIB).min(data.len())))),
    )
    .boxed()
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn best(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn gbps(d: Duration) -> f64 {
    SIZE as f64 / d.as_secs_f64() / 1e9
}

async fn drain(
    mut s: futures_util::stream::BoxStream<'static, coffre_store::Result<Bytes>>,
) -> usize {
    let mut n = 0;
    while let Some(c) = s.next().await {
        n += c.unwrap().len();
    }
    n
}

fn config() -> (S3Config, Option<std::process::Child>) {
    if let Ok(endpoint) = std::env::var("COFFRE_TEST_S3_ENDPOINT") {
        let c = S3Config::new(
            Some(endpoint),
            std::env::var("COFFRE_TEST_S3_REGION").unwrap(),
            std::env::var("COFFRE_TEST_S3_BUCKET").unwrap(),
        );
        return (c, None);
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve-s3")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line.trim().to_owned();
    let mut c = S3Config::new(
        Some(endpoint),
        coffre_store::testing::REGION,
        coffre_store::testing::BUCKET,
    );
    c.credentials = Some(coffre_store::S3Credentials {
        access_key_id: coffre_store::testing::ACCESS_KEY.into(),
        secret_access_key: coffre_store::testing::SECRET_KEY.into(),
    });
    (c, Some(child))
}

async fn raw_multipart(store: &S3Store, k: &ObjectKey, data: &Bytes, part: usize) {
    let c = store.client();
    let id = c
        .create_multipart_upload()
        .bucket(store.bucket())
        .key(k.as_str())
        .send()
        .await
        .unwrap();
    let id = id.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (n, start) in (0..data.len()).step_by(part).enumerate() {
        let chunk = data.slice(start..(start + part).min(data.len()));
        let out = c
            .upload_part()
            .bucket(store.bucket())
            .key(k.as_str())
            .upload_id(&id)
            .part_number(n as i32 + 1)
            .body(ByteStream::from(chunk))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(store.bucket())
        .key(k.as_str())
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--serve-s3") {
        let server = S3TestServer::start().unwrap();
        println!("{}", server.endpoint());
        loop {
            std::thread::park();
        }
    }
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` and criterion-style probes: nothing to list.
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (config, mut child) = config();
    let part = config.part_size;
    rt.block_on(async {
        let store = S3Store::connect(config.clone()).await.unwrap();
        store.check().await.unwrap();
        println!("server: {}", store.describe());

        // Peak memory of a 1 GiB streamed put (measured first, before the
        // 256 MiB buffers below inflate the heap): one 1 MiB buffer, sliced.
        let piece = Bytes::from(vec![0x5au8; MIB]);
        let stream: BodyStream =
            futures_util::stream::iter((0..1024).map(move |_| Ok(piece.clone()))).boxed();
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let k = key();
        store.put(&k, stream).await.unwrap();
        let peak = status_kib("VmHWM:");
        println!(
            "1 GiB streamed put: peak RSS growth {:.1} MiB (target < 64 MiB)",
            peak.saturating_sub(before) as f64 / 1024.0
        );
        store.delete(&k).await.unwrap();

        let data = Bytes::from(
            (0..SIZE)
                .map(|i| (i as u8).wrapping_mul(151))
                .collect::<Vec<u8>>(),
        );

        let (mut ours_put, mut raw_put, mut raw_mp_put, mut ours_get, mut raw_get) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let k = key();
            let t = Instant::now();
            store.put(&k, body_of(&data)).await.unwrap();
            ours_put.push(t.elapsed());

            let t = Instant::now();
            let b = store.get(&k).await.unwrap();
            assert_eq!(drain(b.stream).await, SIZE);
            ours_get.push(t.elapsed());

            let t = Instant::now();
            let mut out = store
                .client()
                .get_object()
                .bucket(store.bucket())
                .key(k.as_str())
                .send()
                .await
                .unwrap();
            let mut got = 0;
            while let Some(chunk) = out.body.try_next().await.unwrap() {
                got += chunk.len();
            }
            assert_eq!(got, SIZE);
            raw_get.push(t.elapsed());
            store.delete(&k).await.unwrap();

            let k = key();
            let t = Instant::now();
            store
                .client()
                .put_object()
                .bucket(store.bucket())
                .key(k.as_str())
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap();
            raw_put.push(t.elapsed());
            store.delete(&k).await.unwrap();

            let k = key();
            let t = Instant::now();
            raw_multipart(&store, &k, &data, part).await;
            raw_mp_put.push(t.elapsed());
            store.delete(&k).await.unwrap();
        }
        let (op, rp, rmp, og, rg) = (
            best(ours_put),
            best(raw_put),
            best(raw_mp_put),
            best(ours_get),
            best(raw_get),
        );
        println!("\n== coffre-store S3 throughput, 256 MiB objects, median of {RUNS} ==");
        println!(
            "store put (streamed, {} MiB parts x{}): {:.3} GB/s",
            part / MIB,
            config.upload_concurrency,
            gbps(op)
        );
        println!(
            "raw PutObject (whole body in memory):    {:.3} GB/s",
            gbps(rp)
        );
        println!(
            "raw multipart (sequential, same parts):  {:.3} GB/s",
            gbps(rmp)
        );
        println!(
            "store get (streamed):                    {:.3} GB/s",
            gbps(og)
        );
        println!(
            "raw GetObject (streamed):                {:.3} GB/s",
            gbps(rg)
        );
        let best_raw_put = rp.min(rmp);
        println!(
            "put ratio store/raw = {:.2}x vs the faster raw put (target >= 0.90x)",
            best_raw_put.as_secs_f64() / op.as_secs_f64()
        );
        println!(
            "get ratio store/raw = {:.2}x (target >= 0.90x)",
            rg.as_secs_f64() / og.as_secs_f64()
        );
    });
    if let Some(c) = child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}
