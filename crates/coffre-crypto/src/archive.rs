//! age-encrypted archives for people outside the server: audit exports for
//! an auditor, metadata backups for the operator. Standard age v1 files
//! (X25519 recipients), so the reference `age` tool opens them.

use std::io::{Read, Write};

use crate::keys::{Identity, Recipient};
use crate::{Error, Result};

/// Encrypts to one or more recipients. Must be [`finish`](Self::finish)ed:
/// an unfinished archive is truncated and will not decrypt.
pub struct ArchiveWriter<W: Write> {
    inner: age::stream::StreamWriter<W>,
}

impl<W: Write> std::fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArchiveWriter")
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive to `recipients`, written to `out`.
    pub fn new(recipients: &[Recipient], out: W) -> Result<Self> {
        if recipients.is_empty() {
            return Err(Error::InvalidParameter(
                "an archive needs at least one recipient",
            ));
        }
        let encryptor = age::Encryptor::with_recipients(
            recipients.iter().map(|r| r.as_age() as &dyn age::Recipient),
        )
        .map_err(|_| Error::InvalidParameter("age recipient"))?;
        Ok(Self {
            inner: encryptor.wrap_output(out)?,
        })
    }

    /// Writes the last chunk and returns the underlying writer.
    pub fn finish(self) -> Result<W> {
        Ok(self.inner.finish()?)
    }
}

impl<W: Write> Write for ArchiveWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Opens an archive with an identity. Reading fails (with an I/O error) at
/// the first chunk that does not authenticate, and at a truncated end.
pub fn open<R: Read>(identity: &Identity, input: R) -> Result<impl Read + use<R>> {
    let decryptor = age::Decryptor::new(input).map_err(|_| Error::Decryption)?;
    decryptor
        .decrypt(std::iter::once(identity.as_age() as &dyn age::Identity))
        .map_err(|_| Error::Decryption)
}

/// True when `prefix` starts like an age file (so a caller can accept either
/// an archive or its already-decrypted content).
pub fn looks_encrypted(prefix: &[u8]) -> bool {
    prefix.starts_with(b"age-encryption.org/v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_to_two_recipients_and_refusals() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let mut w = ArchiveWriter::new(&[a.recipient(), b.recipient()], Vec::new()).unwrap();
        w.write_all(b"line 1\nline 2\n").unwrap();
        let file = w.finish().unwrap();
        assert!(looks_encrypted(&file));
        for id in [&a, &b] {
            let mut out = String::new();
            open(id, &file[..])
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, "line 1\nline 2\n");
        }
        assert!(open(&Identity::generate(), &file[..]).is_err());
        // Truncated: the reader fails instead of returning a short file.
        let cut = &file[..file.len() - 5];
        let mut out = Vec::new();
        let r = open(&a, cut).map(|mut r| r.read_to_end(&mut out));
        assert!(!matches!(r, Ok(Ok(_))));
        assert!(ArchiveWriter::new(&[], Vec::new()).is_err());
    }
}
