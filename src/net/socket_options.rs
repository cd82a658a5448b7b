//! Socket buffer sizes (`send_buffer_bytes`, `receive_buffer_bytes`), which mio does not
//! expose.

use std::io;

use mio::net::TcpStream;

/// Sets SO_SNDBUF and SO_RCVBUF where configured; `None` keeps the OS default.
pub(crate) fn apply(
    stream: &TcpStream,
    send: Option<usize>,
    recv: Option<usize>,
) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        if let Some(n) = send {
            set_int(fd, SO_SNDBUF, n)?;
        }
        if let Some(n) = recv {
            set_int(fd, SO_RCVBUF, n)?;
        }
    }
    #[cfg(not(unix))]
    let _ = (stream, send, recv);
    Ok(())
}

#[cfg(target_os = "linux")]
const SOL_SOCKET: i32 = 1;
#[cfg(target_os = "linux")]
const SO_SNDBUF: i32 = 7;
#[cfg(target_os = "linux")]
const SO_RCVBUF: i32 = 8;
#[cfg(all(unix, not(target_os = "linux")))]
const SOL_SOCKET: i32 = 0xffff;
#[cfg(all(unix, not(target_os = "linux")))]
const SO_SNDBUF: i32 = 0x1001;
#[cfg(all(unix, not(target_os = "linux")))]
const SO_RCVBUF: i32 = 0x1002;

#[cfg(unix)]
extern "C" {
    fn setsockopt(
        socket: i32,
        level: i32,
        name: i32,
        value: *const std::ffi::c_void,
        len: u32,
    ) -> i32;
}

#[cfg(unix)]
fn set_int(fd: i32, option: i32, value: usize) -> io::Result<()> {
    let v = i32::try_from(value).unwrap_or(i32::MAX);
    // SAFETY: fd is an open socket owned by `stream`; the value points to a live i32 of
    // the length passed.
    let rc = unsafe {
        setsockopt(
            fd,
            SOL_SOCKET,
            option,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
