//! Socket buffer sizes (`send_buffer_bytes`, `receive_buffer_bytes`), which mio does not
//! expose. `socket2` knows each target's option constants, so none are written out here.

use std::io;

use mio::net::TcpStream;

/// Sets SO_SNDBUF and SO_RCVBUF where configured; `None` keeps the OS default.
pub(crate) fn apply(
    stream: &TcpStream,
    send: Option<usize>,
    recv: Option<usize>,
) -> io::Result<()> {
    if send.is_none() && recv.is_none() {
        return Ok(());
    }
    let socket = socket2::SockRef::from(stream);
    if let Some(n) = send {
        socket.set_send_buffer_size(n)?;
    }
    if let Some(n) = recv {
        socket.set_recv_buffer_size(n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_both_buffer_sizes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        apply(&stream, Some(64 * 1024), Some(128 * 1024)).unwrap();
        let socket = socket2::SockRef::from(&stream);
        // Linux doubles the value asked for; others keep it. Either way it is at least it.
        assert!(socket.send_buffer_size().unwrap() >= 64 * 1024);
        assert!(socket.recv_buffer_size().unwrap() >= 128 * 1024);
        apply(&stream, None, None).unwrap();
    }
}
