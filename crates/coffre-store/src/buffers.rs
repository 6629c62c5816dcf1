//! Large buffers used again instead of allocated afresh.
//!
//! A download reads its object into one buffer (a paper of up to 2 MiB,
//! or a run of 64 stored chunks of a larger one, 1 MiB and a little more),
//! the vault opens it there in place, and the HTTP server sends slices of
//! it; an upload seals into batches of the same size. A fresh
//! buffer of that size is fresh pages from the kernel: one fault per 4 KiB
//! page, each page zeroed, and an unmap when it is freed. Under 64
//! concurrent downloads of 1 MiB that was about a tenth of the server's
//! CPU, so buffers of 256 KiB and more come from here and go back here.
//! Reads that do not come back (a scrub, a backup) take from the pool and
//! free what they took: the pool only ever saves allocations.
//!
//! Bounded: at most [`KEPT`] buffers of at most [`LARGEST`] bytes are kept
//! (64 MiB of address space, as much resident as the papers they last
//! held: about 32 MiB when they were 1 MiB); beyond that they are freed as
//! usual. A buffer that held plaintext is wiped before it is kept
//! ([`plaintext_bytes`]): a paper does not outlive its download in the
//! pool. Every buffer handed out is empty
//! (length 0); its capacity is only ever written before it is read.

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers smaller than this are not worth keeping: the allocator serves
/// them from memory it already has.
pub const SMALLEST: usize = 256 * 1024;

/// The largest buffer kept (a whole-object read of the filesystem store is
/// at most 2 MiB).
pub const LARGEST: usize = 2 * 1024 * 1024;

/// How many buffers are kept at most.
pub const KEPT: usize = 32;

static FREE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn free() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    FREE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Capacities are rounded up to a multiple of this, so that buffers of
/// nearby sizes serve each other.
const GRAIN: usize = 64 * 1024;

/// An empty buffer that holds at least `len` bytes without growing: the
/// smallest kept one that is large enough, else a new one.
pub fn take(len: usize) -> Vec<u8> {
    if !(SMALLEST..=LARGEST).contains(&len) {
        return Vec::with_capacity(len);
    }
    {
        let mut free = free();
        let fits = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(at, _)| at);
        if let Some(at) = fits {
            let mut buf = free.swap_remove(at);
            buf.clear();
            return buf;
        }
    }
    Vec::with_capacity(len.next_multiple_of(GRAIN).min(LARGEST))
}

/// Keeps `buf` for a later [`take`] (which empties it) if there is room
/// and it is of a size worth keeping; frees it otherwise. Its contents are
/// not wiped: for buffers that only ever held ciphertext.
fn keep(buf: Vec<u8>) {
    if !(SMALLEST..=LARGEST).contains(&buf.capacity()) {
        return;
    }
    let mut free = free();
    if free.len() < KEPT {
        free.push(buf);
    }
}

/// Wipes what `buf` holds (its length: every byte ever written is within
/// some length it had when it came back), then keeps it. A plain fill, not
/// `zeroize`'s volatile writes, one byte at a time (about a cycle each: as
/// long as opening the paper took): the buffer is stored in the pool right
/// after, where it stays reachable, so the writes cannot be left out; the
/// fence keeps them before the store.
fn wipe_and_keep(mut buf: Vec<u8>) {
    buf.fill(0);
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    keep(buf);
}

/// A buffer that goes back to the pool when the last `Bytes` of it is
/// dropped. `WIPE` says whether it is wiped first.
struct Returning<const WIPE: bool>(Vec<u8>);

impl<const WIPE: bool> AsRef<[u8]> for Returning<WIPE> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const WIPE: bool> Drop for Returning<WIPE> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if WIPE {
            wipe_and_keep(buf);
        } else {
            keep(buf);
        }
    }
}

/// `buf` as shared bytes that come back to the pool, wiped, once every
/// slice of them is dropped: for plaintext (an opened paper).
pub fn plaintext_bytes(buf: Vec<u8>) -> Bytes {
    Bytes::from_owner(Returning::<true>(buf))
}

/// `buf` as shared bytes that come back to the pool, as they are, once
/// every slice of them is dropped: for ciphertext only (stored bytes).
pub fn ciphertext_bytes(buf: Vec<u8>) -> Bytes {
    Bytes::from_owner(Returning::<false>(buf))
}

/// Wipes and keeps a buffer that held plaintext and is not handed out.
pub fn give_back_plaintext(buf: Vec<u8>) {
    wipe_and_keep(buf);
}

/// For other crates' tests: whether a kept buffer holds any of `needles`
/// anywhere (pieces of a paper's plaintext must never be found there).
#[cfg(any(test, feature = "test-server"))]
pub fn kept_holds_any(needles: &std::collections::HashSet<[u8; 16]>) -> bool {
    free().iter().any(|b| {
        b.windows(16)
            .any(|w| <[u8; 16]>::try_from(w).is_ok_and(|w| needles.contains(&w)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the pool is one per process, and tests run in parallel.
    #[test]
    fn buffers_come_back_wiped_bounded_and_empty() {
        // Small and huge sizes are not pooled.
        assert!(take(1024).capacity() >= 1024);
        assert!(take(LARGEST + 1).capacity() > LARGEST);

        // A plaintext buffer comes back wiped once its last slice is gone.
        let mut b = take(300 * 1024);
        assert!(b.is_empty());
        assert!(b.capacity() >= 300 * 1024);
        b.resize(300 * 1024, 0xAB);
        let ptr = b.as_ptr();
        let bytes = plaintext_bytes(b);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(&slice[..], &[0xAB; 10]);
        drop(slice);
        {
            let free = free();
            let kept = free
                .iter()
                .find(|b| b.as_ptr() == ptr)
                .expect("the buffer was kept");
            assert_eq!(kept.len(), 300 * 1024);
            assert!(kept.iter().all(|&x| x == 0), "kept with the paper in it");
        }
        // Ciphertext buffers are kept as they are; either kind is handed
        // out empty.
        let mut c = take(400 * 1024);
        c.resize(400 * 1024, 0xCD);
        let cptr = c.as_ptr();
        drop(ciphertext_bytes(c));
        let mut out = Vec::new();
        for _ in 0..KEPT {
            let b = take(400 * 1024);
            assert!(b.is_empty());
            let found = b.as_ptr() == cptr;
            out.push(b);
            if found {
                break;
            }
        }
        assert!(
            out.iter().any(|b| b.as_ptr() == cptr),
            "ciphertext buffer kept"
        );

        // Bounded: no more than KEPT buffers are kept.
        let many: Vec<Vec<u8>> = (0..3 * KEPT).map(|_| take(512 * 1024)).collect();
        for b in many.into_iter().chain(out) {
            keep(b);
        }
        assert!(free().len() <= KEPT);
    }
}
