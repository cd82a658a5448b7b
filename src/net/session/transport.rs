//! The byte layer under a session: plain TCP, or TLS through a rustls client connection.
//! Plaintext requests are written from the session's buffer as they are; TLS encrypts them
//! from the same buffer in rustls-sized pieces, so memory stays bounded either way.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::ClientConnection;

use crate::error::Error;
use crate::protocol::frame::FrameDecoder;

pub(super) enum Transport {
    Plain,
    Tls(Box<ClientConnection>),
}

/// Why a read stopped.
pub(super) enum ReadError {
    WouldBlock,
    Closed,
    Io(io::Error),
    Tls(rustls::Error),
}

impl Transport {
    pub fn tls(config: Arc<rustls::ClientConfig>, host: &str) -> Result<Self, Error> {
        let name = super::super::tls::server_name(host)?;
        let conn = ClientConnection::new(config, name).map_err(|e| Error::TlsHandshake {
            broker: host.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Transport::Tls(Box::new(conn)))
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(t) => t.is_handshaking(),
        }
    }

    /// TLS records (handshake messages, alerts, encrypted data) wait to be written.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(t) => t.wants_write(),
        }
    }

    /// Reads once from `r` into `decoder` (through rustls for TLS). `Ok(n)`: `n` bytes
    /// arrived from the network.
    pub fn read(
        &mut self,
        r: &mut dyn Read,
        decoder: &mut FrameDecoder,
    ) -> Result<usize, ReadError> {
        match self {
            Transport::Plain => loop {
                match decoder.read_from(&mut &mut *r) {
                    Ok(0) => return Err(ReadError::Closed),
                    Ok(n) => return Ok(n),
                    Err(e) => match classify(e) {
                        Some(err) => return Err(err),
                        None => continue,
                    },
                }
            },
            Transport::Tls(tls) => {
                let n = loop {
                    match tls.read_tls(&mut *r) {
                        Ok(n) => break n,
                        Err(e) => match classify(e) {
                            Some(err) => return Err(err),
                            None => continue,
                        },
                    }
                };
                tls.process_new_packets().map_err(ReadError::Tls)?;
                loop {
                    match decoder.read_from(&mut tls.reader()) {
                        Ok(0) => return Err(ReadError::Closed), // close_notify
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            return Err(ReadError::Closed)
                        }
                        Err(e) => return Err(ReadError::Io(e)),
                    }
                }
                if n == 0 {
                    return Err(ReadError::Closed);
                }
                Ok(n)
            }
        }
    }

    /// Writes `buf[*pos..]` (and, for TLS, pending records) to `w` until done or `w`
    /// would block, advancing `pos`.
    pub fn write(&mut self, buf: &[u8], pos: &mut usize, w: &mut dyn Write) -> io::Result<()> {
        match self {
            Transport::Plain => {
                while *pos < buf.len() {
                    match w.write(&buf[*pos..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => *pos += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Transport::Tls(tls) => loop {
                if !tls.is_handshaking() {
                    // rustls takes as much as its buffer limit allows and encrypts it.
                    while *pos < buf.len() {
                        let n = tls.writer().write(&buf[*pos..])?;
                        if n == 0 {
                            break;
                        }
                        *pos += n;
                    }
                }
                if !tls.wants_write() {
                    return Ok(());
                }
                match tls.write_tls(&mut *w) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }
}

/// `None` to retry (interrupted), else why the read stopped.
fn classify(e: io::Error) -> Option<ReadError> {
    match e.kind() {
        io::ErrorKind::Interrupted => None,
        io::ErrorKind::WouldBlock => Some(ReadError::WouldBlock),
        _ => Some(ReadError::Io(e)),
    }
}

/// A non-blocking reader over a slice: `WouldBlock` when it runs dry, as a socket with
/// nothing more to read (an empty slice read is not end of stream).
#[cfg(test)]
pub(super) struct EndlessSlice<'a, 'b>(pub &'a mut &'b [u8]);

#[cfg(test)]
impl Read for EndlessSlice<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.0.read(buf)
    }
}
