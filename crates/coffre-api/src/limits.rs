//! Per-client and per-account request limits (fixed one-minute windows,
//! bounded in memory, reset by a restart: the persistent defence against
//! guessing is the per-account attempt counter in the vault).
//!
//! - Per address: session creations, enrollments and share links, each
//!   costing a journal write or a key derivation. An IPv6 client counts per
//!   /64 (one host usually holds a whole /64) and, with four times the
//!   budget, per /48 (one site, or one customer of a hosting provider).
//! - Per account: every authenticated request, so a session (a rogue
//!   caseworker's script) cannot flood the server or a person's journal.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv6Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffre_crypto::PrincipalId;

/// Most windows kept; past it, the expired ones are dropped.
const MAX_WINDOWS: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(60);

/// The blocks addresses are counted by: an IPv4 address or an IPv6 /64,
/// and an IPv4 address or an IPv6 /48 (the vault's login counters use the
/// first too).
pub use coffre_vault::{address_block as client_block, site_block};

/// A fixed-window counter per key.
#[derive(Debug)]
pub struct Windows<K> {
    per_minute: u32,
    windows: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq> Windows<K> {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; false past the budget.
    pub fn allow(&self, key: K) -> bool {
        let mut w = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if w.len() > MAX_WINDOWS {
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let e = w.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= self.per_minute
    }
}

/// Every limit the API applies.
#[derive(Debug)]
pub struct Limiters {
    block: Windows<IpAddr>,
    site: Windows<IpAddr>,
    account: Windows<PrincipalId>,
}

impl Limiters {
    pub fn new(per_address: u32, per_account: u32) -> Self {
        Self {
            block: Windows::new(per_address),
            site: Windows::new(per_address.saturating_mul(4)),
            account: Windows::new(per_account),
        }
    }

    /// One anonymous request from `ip` (both tiers count it).
    pub fn address(&self, ip: IpAddr) -> bool {
        let block = self.block.allow(client_block(ip));
        let site = self.site.allow(site_block(ip));
        block && site
    }

    /// One authenticated request of `account`.
    pub fn account(&self, account: PrincipalId) -> bool {
        self.account.allow(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_then_per_48() {
        let l = Limiters::new(2, 10);
        let a: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::99".parse().unwrap();
        assert!(l.address(a) && l.address(b));
        assert!(!l.address(a), "a third request from the same /64");
        // Other /64s of the same /48: four times the budget in all, then no
        // more, however many /64s are used.
        let mut allowed = 0;
        for i in 3..40u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, i, 0, 0, 0, 1));
            if l.address(ip) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 8 - 3, "the /48 had 8; 3 were used");
        // Another /48 is another site.
        assert!(l.address("2001:db8:2::1".parse().unwrap()));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_block(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(site_block(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn accounts_have_their_own_budget() {
        let l = Limiters::new(1, 3);
        let one = PrincipalId::from_bytes([1; 16]);
        let two = PrincipalId::from_bytes([2; 16]);
        assert!((0..3).all(|_| l.account(one)));
        assert!(!l.account(one));
        assert!(l.account(two));
    }
}
