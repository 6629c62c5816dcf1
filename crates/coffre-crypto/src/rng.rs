//! The one source of randomness: the operating system's, through ring.

use ring::rand::{SecureRandom, SystemRandom};

use crate::{Error, Result};

pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Rng)
}

pub(crate) fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
