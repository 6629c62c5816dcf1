//! Throughput of the object format against its building blocks, in one run:
//! - `coffre_seal` / `coffre_open`: streaming seal and open of 64 MiB through
//!   `ObjectWriter` / `ObjectReader` (64 KiB writes and reads, as a network
//!   body would arrive);
//! - `coffre_seal_in_place`: the same through `Sealer::seal_chunk_in_place`
//!   on a buffer the caller owns (the upload path);
//! - `ring_raw_seal`: ring AES-256-GCM sealing the same bytes in 16 KiB
//!   pieces, in place (no copy, no framing: the ceiling);
//! - `age_encrypt`: the `age` crate encrypting the same bytes to one X25519
//!   recipient.
//!
//! After criterion's report, prints the ratios the targets are about
//! (seal ≥ 0.9× raw ring, seal ≥ 3× age), from the same samples.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffre_crypto::object::{CHUNK_LEN, ObjectHeader, ObjectReader, ObjectWriter, Sealer};
use coffre_crypto::{Dek, DocumentId, Identity};
use criterion::{Criterion, Throughput};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZE: usize = 64 << 20;
const IO_BLOCK: usize = 64 << 10;

static SAMPLES: Mutex<Option<HashMap<&'static str, Vec<f64>>>> = Mutex::new(None);

/// Runs `f` `iters` times, records seconds per iteration, returns the total.
fn timed(name: &'static str, iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let total = start.elapsed();
    let mut s = SAMPLES.lock().unwrap();
    s.get_or_insert_with(HashMap::new)
        .entry(name)
        .or_default()
        .push(total.as_secs_f64() / iters as f64);
    total
}

fn seal(dek: &Dek, header: &ObjectHeader, data: &[u8], sink: impl Write) -> impl Write {
    let mut w = ObjectWriter::new(dek, header, sink).unwrap();
    for block in data.chunks(IO_BLOCK) {
        w.write_all(block).unwrap();
    }
    w.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..SIZE).map(|i| (i as u8).wrapping_mul(31)).collect();
    let dek = Dek::generate().unwrap();
    let header = ObjectHeader::new(DocumentId::random().unwrap(), 1);
    let sealed: Vec<u8> = {
        let mut v = Vec::with_capacity(SIZE + SIZE / 1000 + 256);
        seal(&dek, &header, &data, &mut v);
        v
    };

    let mut g = c.benchmark_group("object_64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(15);
    g.measurement_time(Duration::from_secs(6));

    g.bench_function("coffre_seal", |b| {
        b.iter_custom(|iters| {
            timed("coffre_seal", iters, || {
                seal(&dek, &header, &data, io::sink());
            })
        })
    });

    g.bench_function("coffre_open", |b| {
        let mut buf = vec![0u8; IO_BLOCK];
        b.iter_custom(|iters| {
            timed("coffre_open", iters, || {
                let mut r = ObjectReader::new(&dek, &header, &sealed[..]).unwrap();
                let mut n = 0;
                loop {
                    let k = r.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    n += k;
                }
                assert_eq!(n, SIZE);
            })
        })
    });

    g.bench_function("ring_raw_seal", |b| {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).unwrap());
        let mut buf = data.clone();
        b.iter_custom(|iters| {
            timed("ring_raw_seal", iters, || {
                for (i, piece) in buf.chunks_mut(16 * 1024).enumerate() {
                    let mut n = [0u8; 12];
                    n[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let tag = key
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(n),
                            Aad::empty(),
                            piece,
                        )
                        .unwrap();
                    let _ = std::hint::black_box(tag);
                }
            })
        })
    });

    // The upload path: plaintext in buffers the caller owns, sealed in
    // place chunk by chunk (`Sealer::seal_chunk_in_place`), each tag kept
    // for the caller to write after its chunk.
    g.bench_function("coffre_seal_in_place", |b| {
        let mut buf = data.clone();
        let mut tags = Vec::with_capacity(SIZE / CHUNK_LEN + 1);
        b.iter_custom(|iters| {
            timed("coffre_seal_in_place", iters, || {
                tags.clear();
                let (mut s, prefix) = Sealer::new(&dek, &header).unwrap();
                let _ = std::hint::black_box(prefix);
                let mut chunks = buf.chunks_mut(CHUNK_LEN);
                for chunk in chunks.by_ref() {
                    if chunk.len() < CHUNK_LEN {
                        tags.push(s.finish_in_place(chunk).unwrap());
                        return;
                    }
                    tags.push(s.seal_chunk_in_place(chunk).unwrap());
                }
                tags.push(s.finish_in_place(&mut []).unwrap());
                let _ = std::hint::black_box(&tags);
            })
        })
    });

    g.bench_function("ring_raw_seal_copy", |b| {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).unwrap());
        let mut scratch = vec![0u8; 16 * 1024];
        b.iter_custom(|iters| {
            timed("ring_raw_seal_copy", iters, || {
                for (i, piece) in data.chunks(16 * 1024).enumerate() {
                    let mut n = [0u8; 12];
                    n[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let buf = &mut scratch[..piece.len()];
                    buf.copy_from_slice(piece);
                    let tag = key
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(n),
                            Aad::empty(),
                            buf,
                        )
                        .unwrap();
                    let _ = std::hint::black_box(tag);
                }
            })
        })
    });

    g.bench_function("age_encrypt", |b| {
        let recipient = Identity::generate().recipient();
        let r: age::x25519::Recipient = recipient.to_string().parse().unwrap();
        b.iter_custom(|iters| {
            timed("age_encrypt", iters, || {
                let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                    .unwrap();
                let mut w = e.wrap_output(io::sink()).unwrap();
                for block in data.chunks(IO_BLOCK) {
                    w.write_all(block).unwrap();
                }
                w.finish().unwrap();
            })
        })
    });
    g.finish();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report() {
    let mut s = SAMPLES.lock().unwrap();
    let Some(s) = s.as_mut() else { return };
    let mut gbps = HashMap::new();
    for (name, v) in s.iter_mut() {
        let t = median(v);
        gbps.insert(*name, SIZE as f64 / t / 1e9);
    }
    println!("\n== coffre-crypto throughput, 64 MiB, median of criterion samples ==");
    let mut names: Vec<_> = gbps.keys().copied().collect();
    names.sort();
    for n in &names {
        println!("{n:>14}: {:6.2} GB/s", gbps[n]);
    }
    let ratio = |a: &str, b: &str| match (gbps.get(a), gbps.get(b)) {
        (Some(x), Some(y)) => format!("{:.2}x", x / y),
        _ => "n/a (filtered out)".to_string(),
    };
    println!(
        "coffre_seal / ring_raw_seal = {}  (target >= 0.90x)",
        ratio("coffre_seal", "ring_raw_seal")
    );
    println!(
        "coffre_seal_in_place / ring_raw_seal = {}  (target >= 0.90x)",
        ratio("coffre_seal_in_place", "ring_raw_seal")
    );
    println!(
        "coffre_seal / age_encrypt   = {}  (target >= 3.00x)",
        ratio("coffre_seal", "age_encrypt")
    );
    println!(
        "coffre_open / ring_raw_seal = {}",
        ratio("coffre_open", "ring_raw_seal")
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    report();
}
